-- Least privilege per column for the worker role (0006 granted whole tables).
--
-- cleaning_worker keeps reading what it reads, but may now write only the columns
-- its statements write: it can mark a payout line paid but not change its amounts,
-- create a ledger account but not rename one, record a coupon as expired but not
-- change its value. Row locks (FOR UPDATE) need an UPDATE right on some column, so
-- tables the worker only reads are never locked by it (the handlers take advisory
-- locks instead). LeastPrivilegeTests lists every privilege each role holds and
-- runs every job kind under this role; a new grant has to be added there too.

-- Start from reading only, then add back each write right the handlers use. The
-- tables are named (not ALL TABLES IN SCHEMA) so that a table another migration
-- adds keeps the grants that migration gives it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON
    queue.jobs, queue.leaders, queue.cron_schedules, queue.rate_limit_permits,
    platform.customers, platform.cleaners, platform.orders, platform.coupons, platform.notifications,
    platform.points_ledger, platform.tier_changes, platform.exam_submissions, platform.certifications,
    platform.exam_regrade_changes, platform.payout_runs, platform.payout_items, platform.withdrawals,
    platform.ledger_accounts, platform.ledger_transactions, platform.ledger_entries, platform.order_settlements
    FROM cleaning_worker;
-- Identity columns take their values without a right on their sequence.
REVOKE ALL ON SEQUENCE
    platform.cleaners_id_seq, platform.complaints_id_seq, platform.coupon_templates_id_seq, platform.coupons_id_seq,
    platform.customers_id_seq, platform.exam_questions_id_seq, platform.exam_regrade_changes_id_seq,
    platform.exam_submissions_id_seq, platform.exams_id_seq, platform.ledger_accounts_id_seq,
    platform.ledger_entries_id_seq, platform.ledger_transactions_id_seq, platform.notifications_id_seq,
    platform.orders_id_seq, platform.payout_items_id_seq, platform.payout_runs_id_seq, platform.points_ledger_id_seq,
    platform.reviews_id_seq, platform.tier_changes_id_seq, platform.withdrawals_id_seq
    FROM cleaning_worker;

-- The queue engine. Enqueueing writes whole rows (the client decides every field);
-- working a job changes only its state, schedule, attempt, lease and errors (and a
-- batch callback's arguments get the batch summary); retention deletes.
GRANT INSERT, DELETE ON queue.jobs TO cleaning_worker;
GRANT UPDATE (state, priority, run_at, attempt, args, errors, lease_id, leased_by, lease_expires_at, attempted_at,
              finalized_at, cancel_requested_at)
    ON queue.jobs TO cleaning_worker;
GRANT INSERT, UPDATE (holder, expires_at), DELETE ON queue.leaders TO cleaning_worker;
GRANT INSERT, UPDATE (expression, time_zone, kind, queue, updated_at, last_fire_at, next_fire_at)
    ON queue.cron_schedules TO cleaning_worker;
GRANT INSERT, DELETE ON queue.rate_limit_permits TO cleaning_worker;

-- Notifications: queued by the handlers, then sent or failed.
GRANT INSERT (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
    ON platform.notifications TO cleaning_worker;
GRANT UPDATE (status, failure_reason, rendered_body, sent_at, provider_message_id)
    ON platform.notifications TO cleaning_worker;

-- Tiers and points.
GRANT UPDATE (growth_value, tier_id, points_balance) ON platform.customers TO cleaning_worker;
GRANT INSERT (customer_id, old_tier_id, new_tier_id, growth_value, reason, created_at)
    ON platform.tier_changes TO cleaning_worker;
GRANT INSERT (customer_id, delta, reason, expiry_of, created_at) ON platform.points_ledger TO cleaning_worker;

-- Coupons: expired and reminded, never re-valued.
GRANT UPDATE (status, expired_at, reminded_at) ON platform.coupons TO cleaning_worker;

-- Exams: grading, regrading, certifications and the skills they unlock.
GRANT UPDATE (status, rejection_reason, score, passed, graded_at) ON platform.exam_submissions TO cleaning_worker;
GRANT INSERT (exam_id, submission_id, old_score, new_score, old_passed, new_passed, regraded_at)
    ON platform.exam_regrade_changes TO cleaning_worker;
GRANT INSERT (cleaner_id, skill, submission_id, granted_at, expires_at), UPDATE (submission_id, granted_at, expires_at),
    DELETE ON platform.certifications TO cleaning_worker;
GRANT UPDATE (skills) ON platform.cleaners TO cleaning_worker;

-- Payouts. A payment job marks its line paid; lines are written with their amounts
-- once (by a job queued before settlement moved into `payouts run`) and never changed.
GRANT UPDATE (status, completed_at) ON platform.payout_runs TO cleaning_worker;
GRANT INSERT (run_id, cleaner_id, orders, gross_fen, commission_fen, bonus_fen, penalty_fen, carried_in_fen, net_fen,
              payable_fen, carry_out_fen)
    ON platform.payout_items TO cleaning_worker;
GRANT UPDATE (status, paid_at, provider_reference) ON platform.payout_items TO cleaning_worker;
GRANT INSERT (order_id, payout_item_id) ON platform.order_settlements TO cleaning_worker;
GRANT UPDATE (status, processed_at, reason) ON platform.withdrawals TO cleaning_worker;

-- The ledger: accounts are created on first use, transactions and entries appended.
GRANT INSERT (code, type, cleaner_id) ON platform.ledger_accounts TO cleaning_worker;
GRANT INSERT (kind, reference, description) ON platform.ledger_transactions TO cleaning_worker;
GRANT INSERT (transaction_id, account_id, amount_fen) ON platform.ledger_entries TO cleaning_worker;

-- Trigger functions fire whoever writes; nobody needs to call them.
REVOKE EXECUTE ON FUNCTION platform.check_order_transition(), platform.check_transaction_balanced(),
    platform.refuse_ledger_change() FROM PUBLIC;

-- A cleaner's payout lines (carried receivables, withdrawals' unpaid lines) are
-- found by cleaner.
CREATE INDEX payout_items_cleaner_idx ON platform.payout_items (cleaner_id);
