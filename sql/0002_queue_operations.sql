-- Operating the queue: queue-wide settings, leader leases for the singleton
-- maintenance services, periodic schedules, rate-limit permits, deadlines,
-- workflows (dependencies and batch callbacks) and cooperative cancellation.

-- Settings every worker process obeys. A queue without a row has the defaults.
CREATE TABLE queue.queues (
    name                   text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    paused                 boolean     NOT NULL DEFAULT false,
    -- Most jobs of this queue running at once across all processes; NULL = no limit.
    concurrency_limit      integer     CHECK (concurrency_limit >= 1),
    -- Raise a waiting job's priority one step per this many seconds; NULL = off.
    priority_aging_seconds integer     CHECK (priority_aging_seconds >= 1),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- One row per singleton service; the holder renews expires_at while alive.
CREATE TABLE queue.leaders (
    name       text PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Periodic schedules as the scheduler last registered them, for `jobsctl cron list`.
CREATE TABLE queue.cron_schedules (
    name         text PRIMARY KEY,
    expression   text        NOT NULL,
    time_zone    text        NOT NULL,
    kind         text        NOT NULL,
    queue        text        NOT NULL,
    last_fire_at timestamptz,
    next_fire_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per permit taken under a rate limit; old rows are pruned by retention.
CREATE TABLE queue.rate_limit_permits (
    key      text        NOT NULL,
    taken_at timestamptz NOT NULL DEFAULT now(),
    job_id   bigint
);
CREATE INDEX rate_limit_permits_key_idx ON queue.rate_limit_permits (key, taken_at);
CREATE INDEX rate_limit_permits_taken_idx ON queue.rate_limit_permits (taken_at);

ALTER TABLE queue.jobs
    -- Must start by then, or it is discarded as expired.
    ADD COLUMN deadline_at         timestamptz,
    -- Runs only after all of these jobs completed (state 'pending' until then).
    ADD COLUMN depends_on          bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN batch_id            text,
    -- A callback job that runs once every job of this batch has finished.
    ADD COLUMN callback_for_batch  text,
    -- Set by `jobsctl jobs cancel` on a running job; its worker stops the handler.
    ADD COLUMN cancel_requested_at timestamptz;

ALTER TABLE queue.jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE queue.jobs ADD CONSTRAINT jobs_state_check CHECK (state IN (
    'pending', 'scheduled', 'available', 'running', 'retryable', 'completed', 'cancelled', 'discarded'));

-- Pending (waiting on dependencies or a batch) holds a unique key like scheduled.
DROP INDEX queue.jobs_unique_key_idx;
CREATE UNIQUE INDEX jobs_unique_key_idx ON queue.jobs (unique_key)
    WHERE unique_key IS NOT NULL AND (
        unique_scope = 'always' OR state IN ('pending', 'scheduled', 'available', 'running', 'retryable'));

CREATE INDEX jobs_pending_idx ON queue.jobs (id) WHERE state = 'pending';
CREATE INDEX jobs_running_queue_idx ON queue.jobs (queue) WHERE state = 'running';
CREATE INDEX jobs_batch_idx ON queue.jobs (batch_id) WHERE batch_id IS NOT NULL;
-- Cancelling a group of waiting jobs by tag (e.g. an order's reminders).
CREATE INDEX jobs_waiting_tags_idx ON queue.jobs USING gin (tags)
    WHERE state IN ('pending', 'scheduled', 'available', 'retryable');
CREATE INDEX jobs_deadline_idx ON queue.jobs (deadline_at)
    WHERE deadline_at IS NOT NULL AND state IN ('pending', 'scheduled', 'available', 'retryable');

-- The jobs table churns (every job is inserted, updated a few times, deleted by
-- retention): vacuum it after 2 % of its rows changed instead of the default 20 %,
-- without cost-based throttling, so dead tuples are reclaimed before they bloat
-- the claim index. fillfactor 80 (0001) leaves room for HOT updates.
ALTER TABLE queue.jobs SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0);
