-- The job table's CHECK constraints that list states or scopes, with the same meaning
-- in a form PostgreSQL reads back faster.
--
-- PostgreSQL (15) reads a table's CHECK constraints back from their stored node text
-- and plans them again for every INSERT or UPDATE statement (ExecRelCheck), before the
-- first row: for a one-row insert into queue.jobs that was half of its backend CPU
-- (perf: stringToNode and expression_planner under ExecConstraints). A list written
-- `state IN ('pending', …)` is stored as one constant node per element (each string
-- spelled out byte by byte) and folded into an array at every statement; the literal
-- `'{pending,…}'::text[]` is stored as one array constant. The three constraints' stored
-- text shrinks from 3 686 to 2 192 characters (of 8 465 for all nine), which takes about
-- 4–6 µs off every statement that writes jobs (a one-row insert: 40–42 → 36 µs of backend
-- CPU; docs/performance-queue.md, "Start latency"). Same names, same rows accepted.
-- Adding a CHECK scans the table once, under the lock this ALTER takes anyway.
ALTER TABLE queue.jobs
    DROP CONSTRAINT jobs_state_check,
    ADD CONSTRAINT jobs_state_check
        CHECK (state = ANY ('{pending,scheduled,available,running,retryable,completed,cancelled,discarded}'::text[])),
    DROP CONSTRAINT final_has_time,
    ADD CONSTRAINT final_has_time
        CHECK ((state = ANY ('{completed,cancelled,discarded}'::text[])) = (finalized_at IS NOT NULL)),
    DROP CONSTRAINT jobs_unique_scope_check,
    ADD CONSTRAINT jobs_unique_scope_check CHECK (unique_scope = ANY ('{active,always}'::text[]));
