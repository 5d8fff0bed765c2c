-- The queue's tables distributed over a Citus cluster. Run once on the coordinator,
-- after the migrations (`scripts/citus.sh distribute`); a single server never runs it.
-- Why `queue` is the distribution column, and what does not hold across shards:
-- docs/scaling.md, "Citus".
--
-- Citus asks that every primary key and unique index include the distribution column,
-- so this step changes the two keys of queue.jobs that do not:
--   id          the primary key becomes (queue, id); ids stay unique, from one sequence
--               on the coordinator
--   unique_key  a unique key is unique within its queue (on one server: across queues)

-- Keys that include the distribution column.
ALTER TABLE queue.jobs DROP CONSTRAINT jobs_pkey;
ALTER TABLE queue.jobs ADD CONSTRAINT jobs_pkey PRIMARY KEY (queue, id);
DROP INDEX queue.jobs_unique_key_idx;
CREATE UNIQUE INDEX jobs_unique_key_idx ON queue.jobs (queue, unique_key)
    WHERE unique_key IS NOT NULL AND (
        unique_scope = 'always' OR state IN ('pending', 'scheduled', 'available', 'running', 'retryable'));

-- One shard per queue value: a claim, an acknowledgement and a heartbeat of one queue
-- touch one shard on one node.
SELECT create_distributed_table('queue.jobs', 'queue');

-- Settings, leader leases and schedules: a few rows read by every node's statements
-- (the claim reads queue.queues), copied to every node.
SELECT create_reference_table('queue.queues');
SELECT create_reference_table('queue.leaders');
SELECT create_reference_table('queue.cron_schedules');

-- queue.rate_limit_permits stays on the coordinator: it has no key to distribute on but
-- the limit's name, and its statements (take, give back, retention) address rows by ctid,
-- which a distributed table does not offer. The platform's tables stay on the
-- coordinator too (docs/scaling.md says why and what distributing them needs).

-- Citus does a statement's shard work over connections it opens as the current user.
-- Inside the SQL API's SECURITY DEFINER functions (0012) that is cleaning_api_definer,
-- which may not log in on a single server; on a cluster the coordinator must connect
-- to the worker nodes as it. Give it LOGIN (it has no password: restrict its logins to
-- the nodes' addresses in pg_hba.conf, as for Citus' own node-to-node connections).
ALTER ROLE cleaning_api_definer LOGIN;
