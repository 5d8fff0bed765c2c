-- The queue engine's job table. Domain-free: the engine knows kinds and queues,
-- never what a job does.
--
-- States (explicit, like a state machine):
--   scheduled  waiting for run_at (enqueued for later)
--   available  may be claimed now
--   running    claimed by a worker; lease_id fences its acknowledgements
--   retryable  failed, waiting for run_at to be tried again
--   completed / cancelled / discarded   final
CREATE SCHEMA IF NOT EXISTS queue;

CREATE SEQUENCE queue.lease_seq AS bigint;

CREATE TABLE queue.jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text        NOT NULL CHECK (length(kind) BETWEEN 1 AND 200),
    queue            text        NOT NULL DEFAULT 'default' CHECK (length(queue) BETWEEN 1 AND 100),
    args             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    state            text        NOT NULL DEFAULT 'available'
        CHECK (state IN ('scheduled', 'available', 'running', 'retryable', 'completed', 'cancelled', 'discarded')),
    -- Smaller runs first (0 is the most urgent).
    priority         smallint    NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 32767),
    run_at           timestamptz NOT NULL DEFAULT now(),
    -- Attempts started; a snooze gives its attempt back.
    attempt          integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts     integer     NOT NULL DEFAULT 20 CHECK (max_attempts >= 1),
    tags             text[]      NOT NULL DEFAULT '{}',
    unique_key       text,
    -- Which states hold the unique key: 'active' (every state but completed,
    -- cancelled and discarded) or 'always' (every state, until the row is pruned —
    -- e.g. "this cron tick was enqueued"). No scope leaves out 'running': a running
    -- job that fails goes back to waiting and must still own its key.
    unique_scope     text        NOT NULL DEFAULT 'active' CHECK (unique_scope IN ('active', 'always')),
    -- One entry per failed attempt: {attempt, at, error, worker}.
    errors           jsonb       NOT NULL DEFAULT '[]'::jsonb,
    -- The current claim: a fresh lease_id per claim fences complete/fail/snooze/
    -- heartbeat, so a stalled worker cannot overwrite a newer attempt.
    lease_id         bigint,
    leased_by        text,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempted_at     timestamptz,
    finalized_at     timestamptz,
    CONSTRAINT running_has_lease CHECK (
        (state = 'running') = (lease_id IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT final_has_time CHECK (
        (state IN ('completed', 'cancelled', 'discarded')) = (finalized_at IS NOT NULL))
);

-- Claims read only this index: it holds runnable rows alone, so its size (and a
-- claim's cost) does not grow with scheduled work or with history.
CREATE INDEX jobs_claim_idx ON queue.jobs (queue, priority, run_at, id)
    WHERE state = 'available';

-- The stager moves due scheduled/retryable jobs to available.
CREATE INDEX jobs_due_idx ON queue.jobs (run_at)
    WHERE state IN ('scheduled', 'retryable');

-- The rescuer finds running jobs whose lease lapsed.
CREATE INDEX jobs_lease_idx ON queue.jobs (lease_expires_at)
    WHERE state = 'running';

-- Retention prunes finished jobs by age; operators list by kind/state.
CREATE INDEX jobs_finalized_idx ON queue.jobs (finalized_at)
    WHERE finalized_at IS NOT NULL;
CREATE INDEX jobs_kind_state_idx ON queue.jobs (kind, state);

-- A unique key is taken while its job is in a state its scope covers.
CREATE UNIQUE INDEX jobs_unique_key_idx ON queue.jobs (unique_key)
    WHERE unique_key IS NOT NULL AND (
        unique_scope = 'always' OR state IN ('scheduled', 'available', 'running', 'retryable'));

-- Hot table: small fill factor headroom for HOT updates of state/lease columns.
ALTER TABLE queue.jobs SET (fillfactor = 80);
