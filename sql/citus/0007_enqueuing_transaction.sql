-- Every job inserted through the coordinator records the coordinator's transaction
-- (migration 0035 says why). Citus evaluates the default on the coordinator, before
-- it routes the insert to the job's shard, for single inserts, bulk inserts and COPY.
ALTER TABLE queue.jobs ALTER COLUMN enqueuing_xid SET DEFAULT pg_current_xact_id();
