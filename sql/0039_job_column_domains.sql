-- The job table's single-column CHECK constraints become constraints of domains over the
-- same base types: same names, same rows refused (SQLSTATE 23514, the constraint named
-- in the error), cheaper for every statement that writes jobs.
--
-- PostgreSQL (15) reads a table's CHECK constraints back from their stored node text and
-- plans them again for every INSERT or UPDATE statement (ExecRelCheck), before the first
-- row: a third of a one-row insert's backend CPU was `stringToNode` alone (perf). A
-- domain's constraints are read and planned once per backend (the type cache) and are
-- checked only on the columns a statement writes. Backend CPU per statement (the DO-loop
-- method, docs/performance-queue.md "Start latency"): the least possible insert
-- 38–40 → 30 µs, an insert + the claim's update + a delete 85–87 → 67–69 µs.
--
-- Stays a table CHECK: `queue`'s length (the distribution column on Citus, whose type
-- stays text), `final_has_time` and `running_has_lease` (they tie two columns together).
--
-- How it runs on a big table: changing a column's type to a domain without constraints
-- over the same type does not rewrite the table (its file stays), but PostgreSQL rebuilds
-- every index whose key or predicate names a changed column (8 of the 15, each with
-- `state` in its predicate), under the ACCESS EXCLUSIVE lock of this ALTER: 2.0 s for a
-- million rows on the 2-core machine. Plan it for a quiet moment on a big table, or
-- prune finished jobs first. The constraints are then added NOT VALID (no scan) and
-- validated, which reads the table once per domain (0.1 s per million rows each; the
-- table CHECKs dropped in the same transaction had already held every row to them).
CREATE DOMAIN queue.job_kind AS text;
CREATE DOMAIN queue.job_state AS text;
CREATE DOMAIN queue.job_priority AS smallint;
CREATE DOMAIN queue.job_attempt AS integer;
CREATE DOMAIN queue.job_max_attempts AS integer;
CREATE DOMAIN queue.job_unique_scope AS text;

ALTER TABLE queue.jobs
    DROP CONSTRAINT jobs_kind_check,
    DROP CONSTRAINT jobs_state_check,
    DROP CONSTRAINT jobs_priority_check,
    DROP CONSTRAINT jobs_attempt_check,
    DROP CONSTRAINT jobs_max_attempts_check,
    DROP CONSTRAINT jobs_unique_scope_check,
    ALTER COLUMN kind TYPE queue.job_kind,
    ALTER COLUMN state TYPE queue.job_state,
    ALTER COLUMN priority TYPE queue.job_priority,
    ALTER COLUMN attempt TYPE queue.job_attempt,
    ALTER COLUMN max_attempts TYPE queue.job_max_attempts,
    ALTER COLUMN unique_scope TYPE queue.job_unique_scope;

ALTER DOMAIN queue.job_kind
    ADD CONSTRAINT jobs_kind_check CHECK (length(VALUE) BETWEEN 1 AND 200) NOT VALID;
ALTER DOMAIN queue.job_state
    ADD CONSTRAINT jobs_state_check
        CHECK (VALUE = ANY ('{pending,scheduled,available,running,retryable,completed,cancelled,discarded}'::text[]))
        NOT VALID;
ALTER DOMAIN queue.job_priority
    ADD CONSTRAINT jobs_priority_check CHECK (VALUE BETWEEN 0 AND 32767) NOT VALID;
ALTER DOMAIN queue.job_attempt ADD CONSTRAINT jobs_attempt_check CHECK (VALUE >= 0) NOT VALID;
ALTER DOMAIN queue.job_max_attempts ADD CONSTRAINT jobs_max_attempts_check CHECK (VALUE >= 1) NOT VALID;
ALTER DOMAIN queue.job_unique_scope
    ADD CONSTRAINT jobs_unique_scope_check CHECK (VALUE = ANY ('{active,always}'::text[])) NOT VALID;

ALTER DOMAIN queue.job_kind VALIDATE CONSTRAINT jobs_kind_check;
ALTER DOMAIN queue.job_state VALIDATE CONSTRAINT jobs_state_check;
ALTER DOMAIN queue.job_priority VALIDATE CONSTRAINT jobs_priority_check;
ALTER DOMAIN queue.job_attempt VALIDATE CONSTRAINT jobs_attempt_check;
ALTER DOMAIN queue.job_max_attempts VALIDATE CONSTRAINT jobs_max_attempts_check;
ALTER DOMAIN queue.job_unique_scope VALIDATE CONSTRAINT jobs_unique_scope_check;
