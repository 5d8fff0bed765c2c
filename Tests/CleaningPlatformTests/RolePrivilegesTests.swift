import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Every privilege each group role holds, read from the catalog (effective
/// rights, so grants to PUBLIC and through membership count too) and compared
/// with the list below. A grant that appears anywhere — a new table readable by
/// the worker, a column it may now update, a function it may call — fails this
/// test until it is written here on purpose.
final class RolePrivilegesTests: XCTestCase {
    /// One line per privilege: "database: …", "schema S: …", "table S.T: …",
    /// "columns S.T (a, b): …" (held on those columns only, not the table),
    /// "sequence S.Q: …", "function S.F(args): EXECUTE".
    static let heldPrivileges = """
        WITH roles AS (SELECT rolname AS role FROM pg_roles WHERE rolname = ANY($1::text[])),
        schemas AS (SELECT oid, nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'),
        relations AS (
            SELECT c.oid, s.nspname || '.' || c.relname AS name, c.relkind FROM pg_class AS c JOIN schemas AS s ON s.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        )
        SELECT role, privilege FROM (
            SELECT r.role, 'database: ' || p AS privilege FROM roles AS r, unnest(ARRAY['CREATE', 'CONNECT', 'TEMPORARY']) AS p
            WHERE has_database_privilege(r.role, current_database(), p)
            UNION ALL
            SELECT r.role, 'schema ' || s.nspname || ': ' || p FROM roles AS r, schemas AS s, unnest(ARRAY['USAGE', 'CREATE']) AS p
            WHERE has_schema_privilege(r.role, s.oid, p)
            UNION ALL
            SELECT r.role, 'table ' || t.name || ': ' || p FROM roles AS r, relations AS t,
                unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p
            WHERE t.relkind <> 'S' AND has_table_privilege(r.role, t.oid, p)
            UNION ALL
            SELECT r.role, 'columns ' || t.name || ' (' || string_agg(a.attname, ', ' ORDER BY a.attnum) || '): ' || p
            FROM roles AS r, relations AS t
            JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped,
                unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) AS p
            WHERE t.relkind <> 'S' AND has_column_privilege(r.role, t.oid, a.attnum, p) AND NOT has_table_privilege(r.role, t.oid, p)
            GROUP BY r.role, t.name, p
            UNION ALL
            SELECT r.role, 'sequence ' || t.name || ': ' || p FROM roles AS r, relations AS t, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS p
            WHERE t.relkind = 'S' AND has_sequence_privilege(r.role, t.oid, p)
            UNION ALL
            SELECT r.role, 'function ' || f.oid::regprocedure::text || ': EXECUTE' FROM roles AS r, pg_proc AS f
            JOIN schemas AS s ON s.oid = f.pronamespace
            WHERE has_function_privilege(r.role, f.oid, 'EXECUTE')
        ) AS held
        ORDER BY role, privilege COLLATE "C"
        """

    static let expected: [String: [String]] = [
        "cleaning_api_definer": [
            "columns platform.complaints (order_id, reason, created_at): INSERT",
            "columns platform.dispatch_offers (status, answered_at, withdraw_reason): UPDATE",
            "columns platform.exam_submissions (exam_id, cleaner_id, answers, submitted_at): INSERT",
            "columns platform.ledger_accounts (code, type): INSERT",
            "columns platform.ledger_entries (transaction_id, account_id, amount_fen): INSERT",
            "columns platform.ledger_transactions (kind, reference, description): INSERT",
            "columns platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at): INSERT",
            "columns platform.order_dispatches (generation, round, status, started_at, first_offer_at, escalated_at, ended_at, end_reason): UPDATE",
            "columns platform.order_dispatches (order_id, started_at): INSERT",
            "columns platform.orders (cleaner_id, appointment_start, status, accepted_at, started_at, completed_at, cancelled_at): UPDATE",
            "columns platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start, duration_minutes, amount_fen, discount_fen, paid_fen, coupon_id, special_needs, created_at): INSERT",
            "columns platform.reviews (order_id, rating, comment, created_at): INSERT",
            "columns platform.withdrawals (cleaner_id, amount_fen, created_at): INSERT",
            "columns queue.jobs (state, errors, finalized_at): UPDATE",
            "database: CONNECT",
            "database: TEMPORARY",
            "function platform.accept_offer(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.appointment_range(timestamp with time zone,integer): EXECUTE",
            "function platform.assign_order(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.book_order(bigint,integer,text,double precision,double precision,timestamp with time zone,integer,bigint,bigint,bigint,text,timestamp with time zone): EXECUTE",
            "function platform.cancel_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.check_action_time(timestamp with time zone): EXECUTE",
            "function platform.complete_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.decline_offer(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.dispatch_after_answer(bigint,timestamp with time zone): EXECUTE",
            "function platform.dispatch_start(bigint,timestamp with time zone): EXECUTE",
            "function platform.dispatch_withdraw(bigint,text,timestamp with time zone): EXECUTE",
            "function platform.file_complaint(bigint,text,timestamp with time zone): EXECUTE",
            "function platform.great_circle_km(double precision,double precision,double precision,double precision): EXECUTE",
            "function platform.ledger_account(text,text): EXECUTE",
            "function platform.lock_order(bigint,text,text[]): EXECUTE",
            "function platform.locked_open_offer(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.notify_order_status(bigint,text,timestamp with time zone): EXECUTE",
            "function platform.order_status(text): EXECUTE",
            "function platform.queue_notification(text,jsonb,text,text,text,timestamp with time zone): EXECUTE",
            "function platform.request_verification_code(text,text,timestamp with time zone): EXECUTE",
            "function platform.request_withdrawal(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.reschedule_order(bigint,timestamp with time zone,timestamp with time zone): EXECUTE",
            "function platform.review_order(bigint,integer,text,timestamp with time zone): EXECUTE",
            "function platform.schedule_dispatch_round(bigint,integer,integer,timestamp with time zone): EXECUTE",
            "function platform.schedule_order_reminder(bigint,text,timestamp with time zone,bigint,timestamp with time zone): EXECUTE",
            "function platform.start_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.submit_exam(bigint,bigint,jsonb,timestamp with time zone): EXECUTE",
            "function queue.cancel_waiting_jobs(text,text): EXECUTE",
            "function queue.enqueue(text,jsonb,text,integer,timestamp with time zone,integer,text[],text,text,timestamp with time zone,bigint[],text,text): EXECUTE",
            "function queue.enqueue_job(text,jsonb,text,integer,timestamp with time zone,integer,text[],text,text,timestamp with time zone,bigint[],text,text): EXECUTE",
            "function queue.enqueue_many(jsonb): EXECUTE",
            "function queue.enqueue_problem(text,jsonb,text,integer,integer,text[],text,text,bigint[],text): EXECUTE",
            "function queue.initial_state(bigint[],text,timestamp with time zone): EXECUTE",
            "function queue.is_blank(text): EXECUTE",
            "function queue.job_object_problem(jsonb): EXECUTE",
            "schema platform: USAGE",
            "schema public: USAGE",
            "schema queue: USAGE",
            "sequence queue.jobs_id_seq: USAGE",
            "table platform.cleaners: SELECT",
            "table platform.complaints: SELECT",
            "table platform.customers: SELECT",
            "table platform.dispatch_offers: SELECT",
            "table platform.exam_submissions: SELECT",
            "table platform.exams: SELECT",
            "table platform.ledger_accounts: SELECT",
            "table platform.ledger_entries: SELECT",
            "table platform.ledger_transactions: SELECT",
            "table platform.notification_templates: SELECT",
            "table platform.notifications: SELECT",
            "table platform.order_dispatches: SELECT",
            "table platform.orders: SELECT",
            "table platform.reviews: SELECT",
            "table platform.withdrawals: SELECT",
            "table queue.jobs: INSERT",
            "table queue.jobs: SELECT",
        ],
        "cleaning_app": [
            "database: CONNECT",
            "database: TEMPORARY",
            "function platform.accept_offer(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.appointment_range(timestamp with time zone,integer): EXECUTE",
            "function platform.assign_order(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.book_order(bigint,integer,text,double precision,double precision,timestamp with time zone,integer,bigint,bigint,bigint,text,timestamp with time zone): EXECUTE",
            "function platform.cancel_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.complete_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.decline_offer(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.file_complaint(bigint,text,timestamp with time zone): EXECUTE",
            "function platform.great_circle_km(double precision,double precision,double precision,double precision): EXECUTE",
            "function platform.order_status(text): EXECUTE",
            "function platform.request_verification_code(text,text,timestamp with time zone): EXECUTE",
            "function platform.request_withdrawal(bigint,bigint,timestamp with time zone): EXECUTE",
            "function platform.reschedule_order(bigint,timestamp with time zone,timestamp with time zone): EXECUTE",
            "function platform.review_order(bigint,integer,text,timestamp with time zone): EXECUTE",
            "function platform.start_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.submit_exam(bigint,bigint,jsonb,timestamp with time zone): EXECUTE",
            "function queue.enqueue(text,jsonb,text,integer,timestamp with time zone,integer,text[],text,text,timestamp with time zone,bigint[],text,text): EXECUTE",
            "function queue.enqueue_many(jsonb): EXECUTE",
            "function queue.is_blank(text): EXECUTE",
            "schema platform: USAGE",
            "schema public: USAGE",
            "schema queue: USAGE",
            "table platform.certifications: SELECT",
            "table platform.cleaners: SELECT",
            "table platform.complaints: SELECT",
            "table platform.coupon_templates: SELECT",
            "table platform.coupons: SELECT",
            "table platform.customers: SELECT",
            "table platform.dispatch_offers: SELECT",
            "table platform.exam_submissions: SELECT",
            "table platform.exams: SELECT",
            "table platform.member_tiers: SELECT",
            "table platform.order_dispatches: SELECT",
            "table platform.orders: SELECT",
            "table platform.points_ledger: SELECT",
            "table platform.reviews: SELECT",
            "table platform.service_types: SELECT",
            "table platform.tier_changes: SELECT",
        ],
        "cleaning_worker": [
            "columns platform.certifications (cleaner_id, skill, submission_id, granted_at, expires_at): INSERT",
            "columns platform.certifications (submission_id, granted_at, expires_at): UPDATE",
            "columns platform.cleaners (skills): UPDATE",
            "columns platform.coupons (status, expired_at, reminded_at): UPDATE",
            "columns platform.customers (tier_id, growth_value, points_balance): UPDATE",
            "columns platform.dispatch_offers (order_id, cleaner_id, generation, round, rank, score, components, offered_at, expires_at): INSERT",
            "columns platform.dispatch_offers (status, answered_at, withdraw_reason): UPDATE",
            "columns platform.dispatch_rounds (order_id, generation, round, ranked_at, ranking): INSERT",
            "columns platform.exam_regrade_changes (exam_id, submission_id, old_score, new_score, old_passed, new_passed, regraded_at): INSERT",
            "columns platform.exam_submissions (status, score, passed, rejection_reason, graded_at): UPDATE",
            "columns platform.ledger_accounts (code, type, cleaner_id): INSERT",
            "columns platform.ledger_entries (transaction_id, account_id, amount_fen): INSERT",
            "columns platform.ledger_transactions (kind, reference, description): INSERT",
            "columns platform.notifications (status, rendered_body, failure_reason, provider_message_id, sent_at): UPDATE",
            "columns platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at): INSERT",
            "columns platform.order_dispatches (round, status, first_offer_at, escalated_at, ended_at, end_reason): UPDATE",
            "columns platform.order_settlements (order_id, payout_item_id): INSERT",
            "columns platform.payout_items (run_id, cleaner_id, orders, gross_fen, commission_fen, bonus_fen, penalty_fen, carried_in_fen, net_fen, payable_fen, carry_out_fen): INSERT",
            "columns platform.payout_items (status, provider_reference, paid_at): UPDATE",
            "columns platform.payout_runs (status, completed_at): UPDATE",
            "columns platform.points_ledger (customer_id, delta, reason, expiry_of, created_at): INSERT",
            "columns platform.tier_changes (customer_id, old_tier_id, new_tier_id, growth_value, reason, created_at): INSERT",
            "columns platform.withdrawals (status, reason, processed_at): UPDATE",
            "columns queue.cron_schedules (expression, time_zone, kind, queue, last_fire_at, next_fire_at, updated_at): UPDATE",
            "columns queue.jobs (args, state, priority, run_at, attempt, errors, lease_id, leased_by, lease_expires_at, attempted_at, finalized_at, cancel_requested_at): UPDATE",
            "columns queue.leaders (holder, expires_at): UPDATE",
            "database: CONNECT",
            "database: TEMPORARY",
            "function platform.appointment_range(timestamp with time zone,integer): EXECUTE",
            "function platform.cancel_order(bigint,timestamp with time zone): EXECUTE",
            "function platform.dispatch_after_answer(bigint,timestamp with time zone): EXECUTE",
            "function platform.dispatch_candidates(bigint,timestamp with time zone): EXECUTE",
            "function platform.dispatch_round(bigint,integer,integer,timestamp with time zone): EXECUTE",
            "function platform.expire_offer(bigint,timestamp with time zone): EXECUTE",
            "function platform.great_circle_km(double precision,double precision,double precision,double precision): EXECUTE",
            "function platform.queue_notification(text,jsonb,text,text,text,timestamp with time zone): EXECUTE",
            "function platform.schedule_dispatch_round(bigint,integer,integer,timestamp with time zone): EXECUTE",
            "function queue.cancel_waiting_jobs(text,text): EXECUTE",
            "function queue.enqueue(text,jsonb,text,integer,timestamp with time zone,integer,text[],text,text,timestamp with time zone,bigint[],text,text): EXECUTE",
            "function queue.enqueue_job(text,jsonb,text,integer,timestamp with time zone,integer,text[],text,text,timestamp with time zone,bigint[],text,text): EXECUTE",
            "function queue.enqueue_many(jsonb): EXECUTE",
            "function queue.initial_state(bigint[],text,timestamp with time zone): EXECUTE",
            "function queue.is_blank(text): EXECUTE",
            "schema platform: USAGE",
            "schema public: USAGE",
            "schema queue: USAGE",
            "sequence queue.jobs_id_seq: USAGE",
            "sequence queue.lease_seq: USAGE",
            "table platform.certifications: DELETE",
            "table platform.certifications: SELECT",
            "table platform.cleaner_service_areas: SELECT",
            "table platform.cleaner_time_off: SELECT",
            "table platform.cleaner_working_hours: SELECT",
            "table platform.cleaners: SELECT",
            "table platform.commission_rates: SELECT",
            "table platform.complaints: SELECT",
            "table platform.coupon_templates: SELECT",
            "table platform.coupons: SELECT",
            "table platform.customers: SELECT",
            "table platform.dispatch_offers: SELECT",
            "table platform.dispatch_rounds: SELECT",
            "table platform.dispatch_settings: SELECT",
            "table platform.dispatch_weights: SELECT",
            "table platform.exam_questions: SELECT",
            "table platform.exam_regrade_changes: SELECT",
            "table platform.exam_submissions: SELECT",
            "table platform.exams: SELECT",
            "table platform.ledger_accounts: SELECT",
            "table platform.ledger_entries: SELECT",
            "table platform.ledger_transactions: SELECT",
            "table platform.member_tiers: SELECT",
            "table platform.notification_templates: SELECT",
            "table platform.notifications: SELECT",
            "table platform.order_dispatches: SELECT",
            "table platform.order_settlements: SELECT",
            "table platform.orders: SELECT",
            "table platform.payout_items: SELECT",
            "table platform.payout_rules: SELECT",
            "table platform.payout_runs: SELECT",
            "table platform.points_ledger: SELECT",
            "table platform.reviews: SELECT",
            "table platform.service_type_dispatch: SELECT",
            "table platform.service_types: SELECT",
            "table platform.tier_changes: SELECT",
            "table platform.withdrawals: SELECT",
            "table queue.cron_schedules: INSERT",
            "table queue.cron_schedules: SELECT",
            "table queue.jobs: DELETE",
            "table queue.jobs: INSERT",
            "table queue.jobs: SELECT",
            "table queue.leaders: DELETE",
            "table queue.leaders: INSERT",
            "table queue.leaders: SELECT",
            "table queue.queues: SELECT",
            "table queue.rate_limit_permits: DELETE",
            "table queue.rate_limit_permits: INSERT",
            "table queue.rate_limit_permits: SELECT",
        ],
        "cleaning_reporting": [
            "database: CONNECT",
            "database: TEMPORARY",
            "function platform.appointment_range(timestamp with time zone,integer): EXECUTE",
            "function platform.great_circle_km(double precision,double precision,double precision,double precision): EXECUTE",
            "function queue.is_blank(text): EXECUTE",
            "schema platform: USAGE",
            "schema public: USAGE",
            "schema queue: USAGE",
            "table platform.certifications: SELECT",
            "table platform.cleaner_service_areas: SELECT",
            "table platform.cleaner_time_off: SELECT",
            "table platform.cleaner_working_hours: SELECT",
            "table platform.cleaners: SELECT",
            "table platform.commission_rates: SELECT",
            "table platform.complaints: SELECT",
            "table platform.coupon_templates: SELECT",
            "table platform.coupons: SELECT",
            "table platform.customers: SELECT",
            "table platform.dispatch_offers: SELECT",
            "table platform.dispatch_rounds: SELECT",
            "table platform.dispatch_settings: SELECT",
            "table platform.dispatch_weights: SELECT",
            "table platform.exam_questions: SELECT",
            "table platform.exam_regrade_changes: SELECT",
            "table platform.exam_submissions: SELECT",
            "table platform.exams: SELECT",
            "table platform.ledger_accounts: SELECT",
            "table platform.ledger_entries: SELECT",
            "table platform.ledger_transactions: SELECT",
            "table platform.member_tiers: SELECT",
            "table platform.notification_templates: SELECT",
            "table platform.notifications: SELECT",
            "table platform.order_dispatches: SELECT",
            "table platform.order_settlements: SELECT",
            "table platform.orders: SELECT",
            "table platform.payout_items: SELECT",
            "table platform.payout_rules: SELECT",
            "table platform.payout_runs: SELECT",
            "table platform.points_ledger: SELECT",
            "table platform.reviews: SELECT",
            "table platform.service_type_dispatch: SELECT",
            "table platform.service_types: SELECT",
            "table platform.tier_changes: SELECT",
            "table platform.withdrawals: SELECT",
            "table queue.cron_schedules: SELECT",
            "table queue.jobs: SELECT",
            "table queue.leaders: SELECT",
            "table queue.queues: SELECT",
            "table queue.rate_limit_permits: SELECT",
        ],
    ]

    func testEachRoleHoldsExactlyTheListedPrivileges() throws {
        try TestDatabase.migrate()
        let connection = try TestDatabase.connect()
        let roles = try connection.query(#"SELECT rolname FROM pg_roles WHERE rolname LIKE 'cleaning\_%' ORDER BY 1"#).rows
            .map { try $0.decode(0, as: String.self) }
        XCTAssertEqual(roles, Self.expected.keys.sorted(), "the migrations' group roles, each with its list here")
        var held: [String: [String]] = [:]
        for row in try connection.query(Self.heldPrivileges, [roles]).rows {
            let (role, privilege) = try row.decode((String, String).self)
            held[role, default: []].append(privilege)
        }
        for role in roles {
            let actual = Set(held[role] ?? []), expected = Set(Self.expected[role] ?? [])
            for privilege in actual.subtracting(expected).sorted() {
                XCTFail("\(role) holds a privilege not in the list: \(privilege)")
            }
            for privilege in expected.subtracting(actual).sorted() {
                XCTFail("\(role) lacks a listed privilege: \(privilege)")
            }
        }
    }
}
