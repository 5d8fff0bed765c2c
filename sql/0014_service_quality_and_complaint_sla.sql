-- Service quality (weekly scores, rewards, warnings, fines, suspensions and
-- reinstatement) and the complaint SLA (a state machine with deadlines per
-- severity in business hours, escalations, outcomes feeding payouts and scores).
-- Rules are rows; every decision is a row with the inputs it was made from.

-- ── Complaints: a state machine ─────────────────────────────────────────────
--   filed → acknowledged → investigating → upheld | rejected → closed
-- `status` is where the complaint is; `outcome` keeps upheld/rejected once it is
-- closed (payouts and quality scores read the outcome, not the status).

-- Deadlines per severity, in business minutes (minutes inside business hours).
-- The supervisor hears of a missed deadline `supervisor_after_minutes` business
-- minutes after the on-duty operator did.
CREATE TABLE platform.complaint_sla_rules (
    severity                  text    PRIMARY KEY CHECK (severity IN ('urgent', 'normal', 'minor')),
    acknowledge_minutes       integer NOT NULL CHECK (acknowledge_minutes > 0),
    resolve_minutes           integer NOT NULL CHECK (resolve_minutes > 0),
    supervisor_after_minutes  integer NOT NULL CHECK (supervisor_after_minutes > 0),
    CHECK (resolve_minutes > acknowledge_minutes)
);
INSERT INTO platform.complaint_sla_rules (severity, acknowledge_minutes, resolve_minutes, supervisor_after_minutes) VALUES
    ('urgent', 30, 8 * 60, 60),
    ('normal', 2 * 60, 48 * 60, 4 * 60),
    ('minor', 4 * 60, 72 * 60, 8 * 60);

-- Business hours, every day, as local times of the business time zone: one row.
-- The zone is the database's business time zone setting, for what SQL decides
-- itself (deadlines set when the app files a complaint through
-- platform.file_complaint); keep it equal to the programs' BUSINESS_TIME_ZONE.
CREATE TABLE platform.business_hours (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- An unknown zone fails the check with PostgreSQL's "time zone … not recognized".
    time_zone  text NOT NULL CHECK (timezone(time_zone, timestamptz '2000-01-01 00:00+00') IS NOT NULL),
    opens      time NOT NULL,
    closes     time NOT NULL,
    CHECK (closes > opens)
);
INSERT INTO platform.business_hours (time_zone, opens, closes) VALUES ('Asia/Shanghai', '09:00', '21:00');

-- Who hears of a missed deadline: the on-duty operator first, then the supervisor.
CREATE TABLE platform.complaint_escalation_contacts (
    level  text PRIMARY KEY CHECK (level IN ('operator', 'supervisor')),
    phone  text NOT NULL CHECK (phone ~ '^\+?[0-9]{6,15}$')
);
INSERT INTO platform.complaint_escalation_contacts (level, phone) VALUES
    ('operator', '+8613800000001'), ('supervisor', '+8613800000002');

ALTER TABLE platform.complaints DROP CONSTRAINT complaints_status_check;
ALTER TABLE platform.complaints DROP CONSTRAINT complaints_check;
DROP INDEX platform.complaints_resolved_idx;
ALTER TABLE platform.complaints
    ADD COLUMN severity text NOT NULL DEFAULT 'normal' REFERENCES platform.complaint_sla_rules (severity),
    ADD COLUMN outcome text CHECK (outcome IN ('upheld', 'rejected')),
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN investigating_at timestamptz,
    ADD COLUMN closed_at timestamptz,
    -- Set at filing (platform.complaint_filed); null for complaints filed before the SLA.
    ADD COLUMN acknowledge_due_at timestamptz,
    ADD COLUMN resolve_due_at timestamptz;
UPDATE platform.complaints SET outcome = status WHERE status IN ('upheld', 'rejected');
UPDATE platform.complaints SET status = 'filed' WHERE status = 'open';
ALTER TABLE platform.complaints
    ALTER COLUMN status SET DEFAULT 'filed',
    ADD CONSTRAINT complaints_status_known
        CHECK (status IN ('filed', 'acknowledged', 'investigating', 'upheld', 'rejected', 'closed')),
    ADD CONSTRAINT complaints_outcome_when_resolved CHECK ((outcome IS NULL) = (resolved_at IS NULL)),
    ADD CONSTRAINT complaints_outcome_matches_status
        CHECK (status NOT IN ('upheld', 'rejected') OR outcome = status),
    ADD CONSTRAINT complaints_resolved_by_status
        CHECK ((status IN ('upheld', 'rejected', 'closed')) = (outcome IS NOT NULL)),
    ADD CONSTRAINT complaints_closed_when_closed CHECK ((status = 'closed') = (closed_at IS NOT NULL));
-- Payout penalties and quality scores: upheld complaints by resolution time.
CREATE INDEX complaints_upheld_idx ON platform.complaints (resolved_at) WHERE outcome = 'upheld';
-- The open complaints (lists, age report).
CREATE INDEX complaints_open_idx ON platform.complaints (created_at) WHERE outcome IS NULL;

CREATE FUNCTION platform.check_complaint_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF (OLD.status, NEW.status) IN (
        ('filed', 'acknowledged'), ('acknowledged', 'investigating'),
        ('investigating', 'upheld'), ('investigating', 'rejected'),
        ('upheld', 'closed'), ('rejected', 'closed')) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'complaint % cannot go from % to %', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'complaints_status_transition';
END $$;
CREATE TRIGGER complaints_status_transition BEFORE UPDATE OF status ON platform.complaints
    FOR EACH ROW EXECUTE FUNCTION platform.check_complaint_transition();

-- `start` plus `minutes` counted only inside business hours, the days and hours
-- read in `zone` (the business time zone, never the session's).
CREATE FUNCTION platform.add_business_minutes(start timestamptz, minutes integer, zone text) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    hours record;
    at_local timestamp := start AT TIME ZONE zone;
    remaining interval := minutes * interval '1 minute';
    opens_at timestamp;
    closes_at timestamp;
BEGIN
    SELECT h.opens, h.closes INTO STRICT hours FROM platform.business_hours AS h;
    LOOP
        opens_at := at_local::date + hours.opens;
        closes_at := at_local::date + hours.closes;
        IF at_local < opens_at THEN
            at_local := opens_at;
        ELSIF at_local >= closes_at THEN
            at_local := (at_local::date + 1) + hours.opens;
            CONTINUE;
        END IF;
        IF at_local + remaining <= closes_at THEN
            RETURN (at_local + remaining) AT TIME ZONE zone;
        END IF;
        remaining := remaining - (closes_at - at_local);
        at_local := (at_local::date + 1) + hours.opens;
    END LOOP;
END $$;

-- Sets a newly filed complaint's deadlines from its severity and filing time, in
-- the business hours of the business time zone (platform.business_hours), and
-- enqueues its escalation jobs (kind complaint.escalate on queue "complaints", the
-- Swift EscalateComplaint's): for each deadline, one telling the on-duty operator
-- when it passes and one telling the supervisor later. Their unique keys are held
-- for good, so calling it again adds nothing. Returns the schedule.
CREATE FUNCTION platform.complaint_filed(complaint_id bigint)
RETURNS TABLE (deadline text, level text, escalate_at timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    zone text := (SELECT h.time_zone FROM platform.business_hours AS h);
BEGIN
    SELECT c.created_at, r.acknowledge_minutes, r.resolve_minutes, r.supervisor_after_minutes INTO k
    FROM platform.complaints AS c JOIN platform.complaint_sla_rules AS r ON r.severity = c.severity
    WHERE c.id = complaint_filed.complaint_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'complaint % does not exist', complaint_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE platform.complaints AS c
    SET acknowledge_due_at = platform.add_business_minutes(k.created_at, k.acknowledge_minutes, zone),
        resolve_due_at = platform.add_business_minutes(k.created_at, k.resolve_minutes, zone)
    WHERE c.id = complaint_filed.complaint_id;
    FOR deadline, level, escalate_at IN
        SELECT d.deadline, l.level,
               CASE l.level WHEN 'operator' THEN d.due
                            ELSE platform.add_business_minutes(d.due, k.supervisor_after_minutes, zone) END
        FROM platform.complaints AS c
        CROSS JOIN LATERAL (VALUES ('acknowledge', c.acknowledge_due_at), ('resolve', c.resolve_due_at)) AS d(deadline, due)
        CROSS JOIN (VALUES ('operator'), ('supervisor')) AS l(level)
        WHERE c.id = complaint_filed.complaint_id
        ORDER BY 3, 2
    LOOP
        PERFORM queue.enqueue(
            kind => 'complaint.escalate',
            args => jsonb_build_object('complaintID', complaint_id, 'deadline', deadline, 'level', level),
            queue => 'complaints', run_at => escalate_at,
            unique_key => 'complaint-escalate:' || complaint_id || ':' || deadline || ':' || level,
            unique_scope => 'always');
        RETURN NEXT;
    END LOOP;
END $$;

-- The app's filing (migration 0012) now sets the deadlines and schedules the
-- escalations in the same transaction; otherwise as it was.
CREATE OR REPLACE FUNCTION platform.file_complaint(order_id bigint, reason text, as_of timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    complaint_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    PERFORM platform.lock_order(order_id, 'complained about', ARRAY['in_service', 'completed']);
    IF reason IS NULL OR queue.is_blank(reason) THEN
        RAISE EXCEPTION 'platform.file_complaint: reason must not be blank' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.complaints (order_id, reason, created_at)
    VALUES (file_complaint.order_id, file_complaint.reason, as_of)
    RETURNING id INTO complaint_id;
    PERFORM platform.complaint_filed(complaint_id);
    RETURN complaint_id;
END $$;

-- One row per deadline and level a complaint missed: written once by the
-- escalation job (a second run finds the row and tells nobody again).
CREATE TABLE platform.complaint_escalations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id  bigint NOT NULL REFERENCES platform.complaints (id),
    deadline      text   NOT NULL CHECK (deadline IN ('acknowledge', 'resolve')),
    level         text   NOT NULL CHECK (level IN ('operator', 'supervisor')),
    due_at        timestamptz NOT NULL,
    escalated_at  timestamptz NOT NULL,
    UNIQUE (complaint_id, deadline, level)
);
CREATE INDEX complaint_escalations_escalated_idx ON platform.complaint_escalations (escalated_at);

INSERT INTO platform.notification_templates (code, channel, category, body, validity_minutes) VALUES
    ('complaint_escalated', 'sms', 'notice', '【洁家】投诉{complaint}（{severity}）已超过{deadline}时限（{due}），请立即处理。', 240),
    ('quality_reward', 'push', 'notice', '本周服务质量评分{score}分，奖励{bonus}元将随下次结算发放。', 1440),
    ('quality_warning', 'push', 'notice', '本周服务质量评分{score}分，低于标准，请注意改进。', 1440),
    ('quality_fine', 'push', 'notice', '本周服务质量评分{score}分，罚款{fine}元将在下次结算中扣除。', 1440),
    ('quality_suspended', 'sms', 'notice', '【洁家】服务质量评分{score}分，账号暂停接单至{until}，通过复训考试可提前恢复。', 1440),
    ('quality_reinstated', 'sms', 'notice', '【洁家】您的账号已恢复接单。', 1440);

-- ── Service quality ─────────────────────────────────────────────────────────
-- The scoring rules. A score starts from the average rating × 20 over the
-- window (`default_rating_score` without reviews), loses points per upheld
-- complaint, per late start and per dispatch offer declined or left to expire,
-- and is kept between 0 and 100. Thresholds are
-- checked worst first: suspension, fine, warning; a reward needs a high score
-- and enough completed orders.
CREATE TABLE platform.quality_rules (
    code        text   PRIMARY KEY CHECK (code IN (
        'window_days', 'default_rating_score', 'upheld_complaint_points', 'late_start_points', 'late_start_grace_minutes',
        'unanswered_offer_points', 'reward_min_score', 'reward_min_orders', 'reward_bonus_fen', 'warning_below', 'fine_below', 'fine_fen',
        'suspend_below', 'suspension_days')),
    value       bigint NOT NULL CHECK (value >= 0),
    description text   NOT NULL CHECK (NOT queue.is_blank(description))
);
INSERT INTO platform.quality_rules (code, value, description) VALUES
    ('window_days', 28, 'days of ratings, complaints and starts before the period end that count'),
    ('default_rating_score', 80, 'rating part of the score of a cleaner without reviews in the window'),
    ('upheld_complaint_points', 15, 'points lost per complaint upheld in the window'),
    ('late_start_points', 5, 'points lost per late start in the window'),
    ('late_start_grace_minutes', 15, 'a start later than the appointment by more than this is late'),
    ('unanswered_offer_points', 2, 'points lost per dispatch offer declined or left to expire in the window'),
    ('reward_min_score', 95, 'lowest score rewarded'),
    ('reward_min_orders', 5, 'fewest completed orders in the window for a reward'),
    ('reward_bonus_fen', 5000, 'cash reward, paid with the next payout run'),
    ('warning_below', 75, 'a score below this is warned'),
    ('fine_below', 65, 'a score below this is fined'),
    ('fine_fen', 5000, 'fine, deducted by the next payout run (also for a suspension)'),
    ('suspend_below', 50, 'a score below this suspends the cleaner'),
    ('suspension_days', 14, 'days a suspension lasts unless a re-certification exam is passed first');

CREATE FUNCTION platform.check_quality_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(needed.code, ', ') INTO missing
    FROM unnest(ARRAY['window_days', 'default_rating_score', 'upheld_complaint_points', 'late_start_points',
                      'late_start_grace_minutes', 'unanswered_offer_points', 'reward_min_score', 'reward_min_orders', 'reward_bonus_fen',
                      'warning_below', 'fine_below', 'fine_fen', 'suspend_below', 'suspension_days']) AS needed(code)
    WHERE NOT EXISTS (SELECT 1 FROM platform.quality_rules AS r WHERE r.code = needed.code);
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'quality rules: % missing; scoring needs every rule', missing
            USING ERRCODE = 'check_violation', CONSTRAINT = 'quality_rules_complete';
    END IF;
    IF NOT (SELECT max(value) FILTER (WHERE code = 'suspend_below') <= max(value) FILTER (WHERE code = 'fine_below')
               AND max(value) FILTER (WHERE code = 'fine_below') <= max(value) FILTER (WHERE code = 'warning_below')
               AND max(value) FILTER (WHERE code = 'warning_below') <= max(value) FILTER (WHERE code = 'reward_min_score')
               AND max(value) FILTER (WHERE code = 'window_days') > 0
            FROM platform.quality_rules) THEN
        RAISE EXCEPTION 'quality rules: thresholds must rise: suspend_below ≤ fine_below ≤ warning_below ≤ reward_min_score, and window_days > 0'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'quality_rules_complete';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER quality_rules_complete AFTER INSERT OR UPDATE OR DELETE ON platform.quality_rules
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION platform.check_quality_rules();

-- One decision per cleaner and period (an ISO week), with the inputs and the
-- rules it was made from. The reward and the fine are paid or deducted by the
-- payout run of the week the decision was made in (PayoutCalculation).
CREATE TABLE platform.quality_decisions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cleaner_id   bigint  NOT NULL REFERENCES platform.cleaners (id),
    period       text    NOT NULL,
    score        integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    outcome      text    NOT NULL CHECK (outcome IN ('none', 'reward', 'warning', 'fine', 'suspension')),
    bonus_fen    bigint  NOT NULL CHECK (bonus_fen >= 0),
    fine_fen     bigint  NOT NULL CHECK (fine_fen >= 0),
    inputs       jsonb   NOT NULL,
    decided_at   timestamptz NOT NULL,
    UNIQUE (cleaner_id, period),
    CHECK (bonus_fen = 0 OR outcome = 'reward'),
    CHECK (fine_fen = 0 OR outcome IN ('fine', 'suspension'))
);
CREATE INDEX quality_decisions_decided_idx ON platform.quality_decisions (decided_at) WHERE bonus_fen > 0 OR fine_fen > 0;
CREATE INDEX quality_decisions_period_idx ON platform.quality_decisions (period, outcome);

-- A suspension and how it ended: after its period, or when the cleaner passed an
-- exam graded after it began.
CREATE TABLE platform.cleaner_suspensions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cleaner_id         bigint NOT NULL REFERENCES platform.cleaners (id),
    decision_id        bigint NOT NULL UNIQUE REFERENCES platform.quality_decisions (id),
    suspended_at       timestamptz NOT NULL,
    suspended_until    timestamptz NOT NULL,
    reinstated_at      timestamptz,
    reinstated_reason  text CHECK (reinstated_reason IN ('period_over', 'exam_passed')),
    CHECK (suspended_until > suspended_at),
    CHECK ((reinstated_at IS NULL) = (reinstated_reason IS NULL))
);
CREATE UNIQUE INDEX cleaner_suspensions_current_idx ON platform.cleaner_suspensions (cleaner_id) WHERE reinstated_at IS NULL;

-- ── Privileges ──────────────────────────────────────────────────────────────
GRANT SELECT ON platform.complaint_sla_rules, platform.business_hours, platform.complaint_escalation_contacts,
    platform.quality_rules, platform.quality_decisions, platform.cleaner_suspensions, platform.complaint_escalations
    TO cleaning_worker, cleaning_reporting;
GRANT INSERT (complaint_id, deadline, level, due_at, escalated_at) ON platform.complaint_escalations TO cleaning_worker;
GRANT INSERT (cleaner_id, period, score, outcome, bonus_fen, fine_fen, inputs, decided_at)
    ON platform.quality_decisions TO cleaning_worker;
GRANT INSERT (cleaner_id, decision_id, suspended_at, suspended_until), UPDATE (reinstated_at, reinstated_reason)
    ON platform.cleaner_suspensions TO cleaning_worker;
-- Suspension and reinstatement.
GRANT UPDATE (status) ON platform.cleaners TO cleaning_worker;

REVOKE EXECUTE ON FUNCTION platform.check_complaint_transition(), platform.check_quality_rules() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION platform.complaint_filed(bigint), platform.add_business_minutes(timestamptz, integer, text)
    FROM PUBLIC;
-- The app's platform.file_complaint runs as cleaning_api_definer: it sets the
-- deadlines and enqueues the escalations (queue.enqueue is its own).
GRANT EXECUTE ON FUNCTION platform.complaint_filed(bigint), platform.add_business_minutes(timestamptz, integer, text)
    TO cleaning_api_definer;
GRANT SELECT ON platform.complaint_sla_rules, platform.business_hours TO cleaning_api_definer;
GRANT UPDATE (acknowledge_due_at, resolve_due_at) ON platform.complaints TO cleaning_api_definer;
