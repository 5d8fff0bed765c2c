-- Workflows (a job's dependencies, batches and their callbacks) refused on a Citus
-- cluster. The leader resolves them by joining a job with the jobs it waits for, by id,
-- in any queue; with queue.jobs distributed on the queue those jobs sit on other shards,
-- a join Citus does not run. Rather than leave such jobs pending forever, the
-- distributed install refuses them, whichever way they are enqueued (the Swift client,
-- the SQL API, plain SQL). The Swift client checks for this constraint first and
-- throws JobQueueError.workflowsNeedOneServer, which says what to do instead; the
-- leader does not look for workflows where it exists. docs/scaling.md, "Citus".
ALTER TABLE queue.jobs ADD CONSTRAINT jobs_workflows_need_one_server
    CHECK (depends_on = '{}' AND batch_id IS NULL AND callback_for_batch IS NULL);
