-- Least privilege. Three group roles (NOLOGIN); give login roles membership:
--   cleaning_worker    — what queue-worker needs: DML on the queue and on the
--                        platform tables its handlers use; no DDL, no migrations table.
--   cleaning_reporting — read-only on everything, for reports and dashboards.
-- The role that runs the migrations owns the schemas and tables (it is the one
-- allowed to change them); jobsctl's admin commands run as that role or as a
-- member of cleaning_worker for the queue operations.
--
--   CREATE ROLE app_worker LOGIN PASSWORD '…' IN ROLE cleaning_worker;
--   CREATE ROLE analyst LOGIN PASSWORD '…' IN ROLE cleaning_reporting;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_worker') THEN
        CREATE ROLE cleaning_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_reporting') THEN
        CREATE ROLE cleaning_reporting NOLOGIN;
    END IF;
END $$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT USAGE ON SCHEMA queue, platform TO cleaning_worker, cleaning_reporting;

-- The queue: everything a worker does to jobs and its coordination tables.
GRANT SELECT, INSERT, UPDATE, DELETE ON
    queue.jobs, queue.leaders, queue.cron_schedules, queue.rate_limit_permits
    TO cleaning_worker;
GRANT SELECT ON queue.queues TO cleaning_worker;
GRANT USAGE ON SEQUENCE queue.jobs_id_seq, queue.lease_seq TO cleaning_worker;

-- The platform tables the handlers read and write.
GRANT SELECT ON
    platform.member_tiers, platform.service_types, platform.coupon_templates, platform.notification_templates,
    platform.commission_rates, platform.payout_rules, platform.exams, platform.exam_questions, platform.reviews,
    platform.complaints
    TO cleaning_worker;
GRANT SELECT, INSERT, UPDATE ON
    platform.customers, platform.cleaners, platform.orders, platform.coupons, platform.notifications,
    platform.points_ledger, platform.tier_changes, platform.exam_submissions, platform.certifications,
    platform.exam_regrade_changes, platform.payout_runs, platform.payout_items, platform.withdrawals,
    platform.ledger_accounts
    TO cleaning_worker;
-- The ledger is append-only: insert and read, never update or delete.
GRANT SELECT, INSERT ON platform.ledger_transactions, platform.ledger_entries TO cleaning_worker;
GRANT DELETE ON platform.certifications TO cleaning_worker;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA platform TO cleaning_worker;

-- Reporting reads everything in both schemas.
GRANT SELECT ON ALL TABLES IN SCHEMA queue, platform TO cleaning_reporting;
