-- Every state change of a job is a non-HOT update (state is in index predicates), so
-- it writes an entry into every index whose predicate the new row version matches.
-- Fewer indexes covering the hot states (available, running, completed) make each
-- enqueue, claim and completion cheaper.

-- (kind, state) took an entry on every insert and every transition; its one reader
-- is "retry the discarded jobs of a kind".
DROP INDEX queue.jobs_kind_state_idx;
CREATE INDEX jobs_discarded_kind_idx ON queue.jobs (kind) WHERE state = 'discarded';

-- The running count of a queue with a concurrency limit reads jobs_lease_idx (every
-- running row; a handful per worker) and filters by queue.
DROP INDEX queue.jobs_running_queue_idx;

-- Untagged jobs (most of them) need no entry in the GIN index; cancelling by tag
-- repeats the predicate so the planner can use it.
DROP INDEX queue.jobs_waiting_tags_idx;
CREATE INDEX jobs_waiting_tags_idx ON queue.jobs USING gin (tags)
    WHERE tags <> '{}' AND state IN ('pending', 'scheduled', 'available', 'retryable');
