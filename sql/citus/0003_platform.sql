-- The platform's tables on a Citus cluster. Run once on the coordinator after the
-- migrations and the queue's distribution (`scripts/citus.sh distribute`); a single
-- server never runs it. What is distributed, what stays on the coordinator and why:
-- docs/scaling.md, "Citus", "The platform's tables".
--
-- In short: apart from the customer-keyed tables 0005 distributes (recommendations,
-- campaign recipients, the points ledger), the platform's tables stay ordinary
-- PostgreSQL tables on the coordinator, with every key, foreign key, exclusion
-- constraint and trigger they have on one server. Citus refuses or breaks what they
-- rely on (statement triggers with transition tables, row locks and exclusion
-- constraints across the distribution key, validity triggers that name their
-- constraint), and a table cannot even be a reference table without pulling every
-- table with a foreign key to it into Citus' metadata. Only the small settings tables that nothing references and that carry no
-- trigger become reference tables.

SET LOCAL client_min_messages = warning;

-- A copy on every node; a change (an operator's, now and then) is written to every
-- copy in one distributed transaction.
SELECT create_reference_table('platform.dispatch_settings');
SELECT create_reference_table('platform.dispatch_weights');
SELECT create_reference_table('platform.business_hours');
SELECT create_reference_table('platform.complaint_escalation_contacts');

-- One role per queue shard and transaction. Citus does a statement's work on a
-- worker node over a connection of the current user, and refuses (SQLSTATE 25001,
-- "cannot perform query on placements that were modified in this transaction by a
-- different user") a statement that reaches a shard another role changed earlier in
-- the same transaction. On one server the SQL API's enqueue runs as its definer
-- (cleaning_api_definer) whoever calls it, so a worker's handler that enqueues through
-- it — the next dispatch round, a payout run's finishing job beside its bulk-enqueued
-- payments — and then writes the same queue's rows as itself (its own completion, the
-- bulk insert) would be refused. queue.enqueue_job and queue.cancel_waiting_jobs are
-- what the worker role and the API's own functions call (cleaning_app calls neither),
-- so on Citus they run as their caller: in a worker's transaction as the worker, inside
-- the platform's SECURITY DEFINER actions as the definer. The front end's entry points,
-- queue.enqueue and queue.enqueue_many, keep running as the definer: the app still
-- holds no right on queue.jobs. The worker role, which holds its own rights on
-- queue.jobs, needs the validation function enqueue_job calls.
ALTER FUNCTION queue.enqueue_job(text, jsonb, text, integer, timestamptz, integer, text[], text, text, timestamptz,
                                 bigint[], text, text) SECURITY INVOKER;
ALTER FUNCTION queue.cancel_waiting_jobs(text, text) SECURITY INVOKER;
GRANT EXECUTE ON FUNCTION queue.enqueue_problem(text, jsonb, text, integer, integer, text[], text, text, bigint[], text)
    TO cleaning_worker;

-- Column grants on the shards. Citus copies a distributed table's table-level grants
-- to its shards but not column-level ones (and refuses new ones: "grant/revoke on
-- column list is currently unsupported"), so a role holding only some columns of
-- queue.jobs — the definer cancelling waiting jobs (0012), the worker role writing
-- outcomes (0011) — was refused on the shards ("permission denied for table
-- jobs_102009"). They are granted on each shard, as on the coordinator. A shard made
-- later (a split) does not get them: re-run these two statements after one.
SELECT run_command_on_shards('queue.jobs', $$GRANT UPDATE (state, finalized_at, errors) ON %s TO cleaning_api_definer$$);
SELECT run_command_on_shards('queue.jobs', $$GRANT UPDATE (state, priority, run_at, attempt, args, errors, lease_id,
    leased_by, lease_expires_at, attempted_at, finalized_at, cancel_requested_at) ON %s TO cleaning_worker$$);
