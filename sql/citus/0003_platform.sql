-- The platform's tables on a Citus cluster. Run once on the coordinator after the
-- migrations and the queue's distribution (`scripts/citus.sh distribute`); a single
-- server never runs it. What is distributed, what stays on the coordinator and why:
-- docs/scaling.md, "Citus", "The platform's tables".
--
-- In short: the platform's tables stay ordinary PostgreSQL tables on the coordinator,
-- with every key, foreign key, exclusion constraint and trigger they have on one
-- server. Citus refuses or breaks what they rely on (statement triggers with
-- transition tables, row locks and exclusion constraints across the distribution key,
-- validity triggers that name their constraint), and a table cannot even be a
-- reference table without pulling every table with a foreign key to it into Citus'
-- metadata. Only the small settings tables that nothing references and that carry no
-- trigger become reference tables.

SET LOCAL client_min_messages = warning;

-- A copy on every node; a change (an operator's, now and then) is written to every
-- copy in one distributed transaction.
SELECT create_reference_table('platform.dispatch_settings');
SELECT create_reference_table('platform.dispatch_weights');
SELECT create_reference_table('platform.business_hours');
SELECT create_reference_table('platform.complaint_escalation_contacts');
