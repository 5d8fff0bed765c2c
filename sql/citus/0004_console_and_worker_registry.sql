-- The console and the worker registry on a Citus cluster. Run once on the coordinator
-- after the other files of sql/citus (`scripts/citus.sh distribute`); a single server
-- never runs it. docs/scaling.md, "Citus", "The worker registry and the console".

-- queue.workers (migration 0023) stays an ordinary table on the coordinator, outside
-- Citus' metadata, like queue.rate_limit_permits. Each worker process upserts its row
-- once per heartbeat interval and deletes it when it stops; only the coordinator reads
-- it (the overview joins it with the lease holders counted over the shards, which
-- Citus computes first and joins on the coordinator). As a reference table every
-- heartbeat would be a write to every node in a two-phase commit, for a table no
-- worker node reads; distributed, it has nothing to co-locate with (its key is the
-- process, not the queue). Nothing to do here but say so.

-- The console's roles log in where Citus needs them to. The console's login role is
-- NOINHERIT and sets one of these roles at connection start (0016), so its statements
-- run as that role, and Citus opens its connections to the worker nodes as the current
-- user: every read of queue.jobs from the console (the overview, the jobs and queues
-- pages) failed with "role cleaning_console_viewer is not permitted to log in". As
-- for cleaning_api_definer (0001): LOGIN without a password, so no password
-- authentication admits them; restrict their logins to the nodes' addresses in
-- pg_hba.conf, as for Citus' own node-to-node connections.
ALTER ROLE cleaning_console_viewer LOGIN;
ALTER ROLE cleaning_console_operator LOGIN;
ALTER ROLE cleaning_console_finance LOGIN;
