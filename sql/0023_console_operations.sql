-- What the console's cron, overview and workflow pages need from the engine:
-- periodic jobs an operator can switch off or run now, a registry of the worker
-- processes alive (idle ones included), and the indexes that find a workflow's
-- jobs.

-- Periodic jobs. A disabled schedule keeps its row and its next fire time moving
-- on, but the leader enqueues nothing for it (ticks passed while disabled are
-- dropped, not caught up when it is enabled again). An operator's "run now" sets
-- run_requested_at; the leader enqueues one extra tick for that request (its
-- unique key names the request's time, so it is enqueued once) and clears it.
ALTER TABLE queue.cron_schedules
    ADD COLUMN enabled          boolean NOT NULL DEFAULT true,
    ADD COLUMN run_requested_at timestamptz;

GRANT UPDATE (run_requested_at) ON queue.cron_schedules TO cleaning_worker;

-- Worker processes: each upserts its row when it starts and on every heartbeat
-- (one statement per heartbeat interval, not per job) and deletes it on a clean
-- shutdown. A row whose expires_at passed belongs to a process that died; the
-- leader prunes such rows.
CREATE TABLE queue.workers (
    id         text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    host       text        NOT NULL,
    pid        integer     NOT NULL,
    -- Queue names this process works, and how many of each it runs at once.
    queues     text[]      NOT NULL,
    slots      integer[]   NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON queue.workers TO cleaning_worker;
GRANT SELECT ON queue.workers TO cleaning_reporting;

-- Workflows and batches: the jobs that wait on others, newest first (the workflows
-- page), the jobs depending on a given job (a workflow's jobs downstream), and a
-- batch's completion callback. Partial: jobs without dependencies or callbacks,
-- nearly all of them, cost these indexes nothing.
CREATE INDEX jobs_dependent_idx ON queue.jobs (id) WHERE cardinality(depends_on) > 0;
CREATE INDEX jobs_depends_on_idx ON queue.jobs USING gin (depends_on) WHERE cardinality(depends_on) > 0;
CREATE INDEX jobs_callback_idx ON queue.jobs (callback_for_batch) WHERE callback_for_batch IS NOT NULL;
