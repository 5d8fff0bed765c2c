-- Marketing campaigns, and cancellations by the cleaner for quality scoring.
--
-- Marketing campaigns: a segment of customers (typed criteria stored as data),
-- a marketing template, an optional coupon grant and a send window. Launching
-- writes the targeted customers in batches; one job per batch queues their
-- messages through the notification outbox under the marketing rules (opt-out,
-- per-recipient frequency cap; quiet hours and the window by the batch job), and
-- the report reads what became of each recipient.

-- A customer who opted out of marketing gets no campaign message (set by the app
-- through platform.set_marketing_opt_out, NULL = may receive marketing).
ALTER TABLE platform.customers ADD COLUMN marketing_opted_out_at timestamptz;

-- The frequency cap, as rows: at most `frequency_cap_messages` campaign messages
-- per customer within `frequency_cap_days` days.
CREATE TABLE platform.marketing_rules (
    code        text   PRIMARY KEY CHECK (code IN ('frequency_cap_messages', 'frequency_cap_days')),
    value       bigint NOT NULL CHECK (value > 0),
    description text   NOT NULL CHECK (NOT queue.is_blank(description))
);
INSERT INTO platform.marketing_rules (code, value, description) VALUES
    ('frequency_cap_messages', 2, 'campaign messages a customer receives at most within frequency_cap_days'),
    ('frequency_cap_days', 7, 'days over which the frequency cap counts a customer''s campaign messages');

-- Why a segment is not acceptable (NULL: it is): an object whose keys are the
-- closed set of criteria below, each of its type. CampaignSegment (Swift)
-- compiles it into a parameterized statement; this check keeps a row written by
-- any other client just as strict.
CREATE FUNCTION platform.campaign_segment_problem(segment jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    criterion text;
    value jsonb;
BEGIN
    IF segment IS NULL OR jsonb_typeof(segment) <> 'object' THEN
        RETURN 'a segment is a JSON object of criteria';
    END IF;
    FOR criterion, value IN SELECT * FROM jsonb_each(segment) LOOP
        CASE criterion
        WHEN 'tiers', 'cities' THEN
            IF jsonb_typeof(value) <> 'array' OR jsonb_array_length(value) = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(value) AS e
                          WHERE jsonb_typeof(e) <> 'string' OR queue.is_blank(e #>> '{}')) THEN
                RETURN format('%s is a non-empty list of names', criterion);
            END IF;
        WHEN 'last_order_older_than_days' THEN
            IF jsonb_typeof(value) <> 'number' OR value::numeric <> trunc(value::numeric)
               OR value::numeric NOT BETWEEN 1 AND 3650 THEN
                RETURN 'last_order_older_than_days is a whole number of days from 1 to 3650';
            END IF;
        WHEN 'has_unused_coupon' THEN
            IF jsonb_typeof(value) <> 'boolean' THEN
                RETURN 'has_unused_coupon is true or false';
            END IF;
        ELSE
            RETURN format('unknown segment field "%s"; known: tiers, cities, last_order_older_than_days, has_unused_coupon',
                          criterion);
        END CASE;
    END LOOP;
    RETURN NULL;
END $$;

CREATE TABLE platform.campaigns (
    id                  bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text    NOT NULL CHECK (NOT queue.is_blank(name)),
    segment             jsonb   NOT NULL CONSTRAINT campaigns_segment_valid
                                CHECK (platform.campaign_segment_problem(segment) IS NULL),
    template_code       text    NOT NULL REFERENCES platform.notification_templates (code),
    -- Template parameters shared by every recipient ({"offer": "满200减30"});
    -- `name` (the customer's) and `coupon` (the granted coupon's) are added per recipient.
    params              jsonb   NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(params) = 'object'),
    coupon_template_id  bigint  REFERENCES platform.coupon_templates (id),
    starts_at           timestamptz NOT NULL,
    ends_at             timestamptz NOT NULL,
    batch_size          integer NOT NULL DEFAULT 1000 CHECK (batch_size BETWEEN 1 AND 100000),
    -- The report counts orders placed within this many days of a recipient's message.
    attribution_days    integer NOT NULL DEFAULT 7 CHECK (attribution_days BETWEEN 1 AND 365),
    status              text    NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'paused', 'cancelled')),
    created_at          timestamptz NOT NULL,
    launched_at         timestamptz,
    cancelled_at        timestamptz,
    CHECK (ends_at > starts_at),
    CHECK ((status = 'draft') = (launched_at IS NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);

-- A launched campaign's recipients in batches of batch_size; one send job per
-- batch (argument: the batch's id). A batch is done once its recipients were
-- decided (queued or suppressed), cancelled when the campaign was cancelled first.
CREATE TABLE platform.campaign_batches (
    id           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id  bigint  NOT NULL REFERENCES platform.campaigns (id),
    batch_no     integer NOT NULL CHECK (batch_no >= 0),
    status       text    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'cancelled')),
    finished_at  timestamptz,
    UNIQUE (campaign_id, batch_no),
    CHECK ((status = 'pending') = (finished_at IS NULL))
);

-- One row per targeted customer: targeted at launch, then queued (its message is
-- in the outbox under the dedupe key campaign:<campaign>:<customer>, and its
-- coupon granted) or suppressed with the reason.
CREATE TABLE platform.campaign_recipients (
    campaign_id  bigint NOT NULL REFERENCES platform.campaigns (id),
    customer_id  bigint NOT NULL REFERENCES platform.customers (id),
    batch_id     bigint NOT NULL REFERENCES platform.campaign_batches (id),
    status       text   NOT NULL DEFAULT 'targeted' CHECK (status IN ('targeted', 'queued', 'suppressed')),
    suppression  text   CHECK (suppression IN ('opted_out', 'frequency_cap', 'quiet_hours', 'window_closed', 'cancelled')),
    coupon_id    bigint REFERENCES platform.coupons (id),
    decided_at   timestamptz,
    PRIMARY KEY (campaign_id, customer_id),
    CHECK ((status = 'suppressed') = (suppression IS NOT NULL)),
    CHECK ((status = 'targeted') = (decided_at IS NULL)),
    CHECK (coupon_id IS NULL OR status = 'queued')
);
CREATE INDEX campaign_recipients_batch_idx ON platform.campaign_recipients (batch_id) WHERE status = 'targeted';
-- The frequency cap: a customer's campaign messages by when they were queued.
CREATE INDEX campaign_recipients_frequency_idx ON platform.campaign_recipients (customer_id, decided_at)
    WHERE status = 'queued';

-- A campaign's report finds the orders that redeemed its coupons.
CREATE INDEX orders_coupon_idx ON platform.orders (coupon_id) WHERE coupon_id IS NOT NULL;

-- A template campaigns can use; the opt-out hint is part of the text.
INSERT INTO platform.notification_templates (code, channel, category, body, validity_minutes) VALUES
    ('campaign_offer', 'sms', 'marketing', '【洁家】{name}您好，{offer}。回复TD退订。', 1440),
    ('campaign_coupon', 'sms', 'marketing', '【洁家】{name}您好，送您一张{coupon}，{offer}。回复TD退订。', 1440);

-- The app's opt-out (and opt back in), in the caller's transaction.
CREATE FUNCTION platform.set_marketing_opt_out(customer_id bigint, opted_out boolean, as_of timestamptz DEFAULT now())
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE platform.customers AS c
    SET marketing_opted_out_at = CASE WHEN opted_out THEN COALESCE(c.marketing_opted_out_at, as_of) END
    WHERE c.id = set_marketing_opt_out.customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'platform.set_marketing_opt_out: customer % does not exist', customer_id
            USING ERRCODE = 'no_data_found';
    END IF;
END $$;
REVOKE EXECUTE ON FUNCTION platform.set_marketing_opt_out(bigint, boolean, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform.set_marketing_opt_out(bigint, boolean, timestamptz) TO cleaning_app;
GRANT UPDATE (marketing_opted_out_at) ON platform.customers TO cleaning_api_definer;
ALTER FUNCTION platform.set_marketing_opt_out(bigint, boolean, timestamptz) OWNER TO cleaning_api_definer;

-- Checked on write only (the campaigns' check constraint, evaluated for their owner's writes).
REVOKE EXECUTE ON FUNCTION platform.campaign_segment_problem(jsonb) FROM PUBLIC;

-- The send job (a worker) reads campaigns and rules, decides recipients, grants
-- coupons and finishes batches; reporting reads everything.
GRANT SELECT ON platform.campaigns, platform.marketing_rules TO cleaning_worker;
GRANT SELECT, UPDATE (status, finished_at) ON platform.campaign_batches TO cleaning_worker;
GRANT SELECT, UPDATE (status, suppression, coupon_id, decided_at) ON platform.campaign_recipients TO cleaning_worker;
GRANT INSERT (template_id, customer_id, valid_from, valid_until) ON platform.coupons TO cleaning_worker;
GRANT SELECT ON platform.campaigns, platform.marketing_rules, platform.campaign_batches, platform.campaign_recipients
    TO cleaning_reporting;

-- Cancellations by the cleaner: a cleaner who accepted an order backs out
-- (platform.cleaner_cancel_order). The order goes back to waiting and to dispatch;
-- the cancellation is recorded here and costs the cleaner quality points.
CREATE TABLE platform.cleaner_cancellations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES platform.orders (id),
    cleaner_id    bigint NOT NULL REFERENCES platform.cleaners (id),
    reason        text   NOT NULL CHECK (NOT queue.is_blank(reason)),
    cancelled_at  timestamptz NOT NULL
);
CREATE INDEX cleaner_cancellations_cancelled_idx ON platform.cleaner_cancellations (cancelled_at);

ALTER TABLE platform.quality_rules DROP CONSTRAINT quality_rules_code_check;
ALTER TABLE platform.quality_rules ADD CONSTRAINT quality_rules_code_check CHECK (code IN (
    'window_days', 'default_rating_score', 'upheld_complaint_points', 'late_start_points', 'late_start_grace_minutes',
    'unanswered_offer_points', 'cleaner_cancellation_points', 'reward_min_score', 'reward_min_orders', 'reward_bonus_fen',
    'warning_below', 'fine_below', 'fine_fen', 'suspend_below', 'suspension_days'));
INSERT INTO platform.quality_rules (code, value, description) VALUES
    ('cleaner_cancellation_points', 10, 'points lost per accepted order the cleaner cancelled in the window');

-- Scoring needs every rule, the new one too (from 0014's copy).
CREATE OR REPLACE FUNCTION platform.check_quality_rules() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(needed.code, ', ') INTO missing
    FROM unnest(ARRAY['window_days', 'default_rating_score', 'upheld_complaint_points', 'late_start_points',
                      'late_start_grace_minutes', 'unanswered_offer_points', 'cleaner_cancellation_points',
                      'reward_min_score', 'reward_min_orders', 'reward_bonus_fen',
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

-- The cleaner's app: back out of an accepted order, saying why. The cleaner's
-- reminders are cancelled, the customer is told the order waits again, dispatch
-- starts over; in the caller's transaction.
CREATE FUNCTION platform.cleaner_cancel_order(
    order_id bigint, cleaner_id bigint, reason text, as_of timestamptz DEFAULT now()
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders := platform.lock_order(order_id, 'cancelled by its cleaner', ARRAY['accepted']);
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF found_order.cleaner_id IS DISTINCT FROM cleaner_cancel_order.cleaner_id THEN
        RAISE EXCEPTION 'platform.cleaner_cancel_order: order % is not assigned to cleaner %', order_id,
            COALESCE(cleaner_id::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF reason IS NULL OR queue.is_blank(reason) THEN
        RAISE EXCEPTION 'platform.cleaner_cancel_order: the reason is blank; say why' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.cleaner_cancellations (order_id, cleaner_id, reason, cancelled_at)
    VALUES (cleaner_cancel_order.order_id, cleaner_cancel_order.cleaner_id, reason, as_of);
    UPDATE platform.orders AS o SET status = platform.order_status('waiting'), cleaner_id = NULL, accepted_at = NULL
    WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id || ':cleaner', 'cancelled by the cleaner');
    PERFORM platform.notify_order_status(order_id, platform.order_status('waiting'), as_of);
    PERFORM platform.dispatch_start(order_id, as_of);
END $$;
REVOKE EXECUTE ON FUNCTION platform.cleaner_cancel_order(bigint, bigint, text, timestamptz) FROM PUBLIC;
ALTER FUNCTION platform.cleaner_cancel_order(bigint, bigint, text, timestamptz) OWNER TO cleaning_api_definer;
GRANT EXECUTE ON FUNCTION platform.cleaner_cancel_order(bigint, bigint, text, timestamptz) TO cleaning_app;
GRANT SELECT, INSERT (order_id, cleaner_id, reason, cancelled_at) ON platform.cleaner_cancellations TO cleaning_api_definer;
GRANT SELECT ON platform.cleaner_cancellations TO cleaning_worker, cleaning_reporting, cleaning_app;
