-- The booking platform's data. Money is integer fen (bigint), never floating point.
-- Business rules that change (tiers, commission, bonuses, templates) are rows.
CREATE SCHEMA IF NOT EXISTS platform;

CREATE TABLE platform.member_tiers (
    id        smallint PRIMARY KEY,
    name      text   NOT NULL UNIQUE,
    -- Growth value needed for the tier.
    threshold bigint NOT NULL UNIQUE CHECK (threshold >= 0)
);
INSERT INTO platform.member_tiers (id, name, threshold) VALUES
    (1, '普通', 0), (2, '白银', 1000), (3, '黄金', 5000), (4, '铂金', 20000), (5, '钻石', 50000);

CREATE TABLE platform.customers (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone           text     NOT NULL UNIQUE CHECK (phone ~ '^\+?[0-9]{6,15}$'),
    name            text     NOT NULL,
    time_zone       text     NOT NULL DEFAULT 'Asia/Shanghai',
    tier_id         smallint NOT NULL DEFAULT 1 REFERENCES platform.member_tiers (id),
    activity_points bigint   NOT NULL DEFAULT 0 CHECK (activity_points >= 0),
    growth_value    bigint   NOT NULL DEFAULT 0 CHECK (growth_value >= 0),
    points_balance  bigint   NOT NULL DEFAULT 0 CHECK (points_balance >= 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE platform.cleaners (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone       text    NOT NULL UNIQUE CHECK (phone ~ '^\+?[0-9]{6,15}$'),
    name        text    NOT NULL,
    skills      text[]  NOT NULL DEFAULT '{}',
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    radius_km   double precision NOT NULL DEFAULT 10 CHECK (radius_km > 0),
    status      text    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'resting', 'suspended')),
    level       text    NOT NULL DEFAULT '新手' CHECK (level IN ('新手', '熟练', '金牌')),
    time_zone   text    NOT NULL DEFAULT 'Asia/Shanghai',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cleaners_skills_idx ON platform.cleaners USING gin (skills);

CREATE TABLE platform.service_types (
    id               smallint PRIMARY KEY,
    code             text    NOT NULL UNIQUE,
    name             text    NOT NULL,
    -- The certification a cleaner needs for it.
    skill            text    NOT NULL,
    package          text    NOT NULL DEFAULT '标准',
    price_fen        bigint  NOT NULL CHECK (price_fen >= 0),
    duration_minutes integer NOT NULL CHECK (duration_minutes > 0)
);
INSERT INTO platform.service_types (id, code, name, skill, package, price_fen, duration_minutes) VALUES
    (1, 'daily', '日常保洁', 'daily_cleaning', '标准', 15000, 180),
    (2, 'deep', '深度保洁', 'deep_cleaning', '标准', 39900, 300),
    (3, 'move_in', '开荒保洁', 'deep_cleaning', '大户型', 69900, 480),
    (4, 'appliance', '家电清洗', 'appliance', '空调挂机', 12900, 90),
    (5, 'windows', '擦玻璃', 'windows', '标准', 9900, 120);

CREATE TABLE platform.coupon_templates (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text   NOT NULL,
    discount_fen   bigint NOT NULL CHECK (discount_fen > 0),
    min_spend_fen  bigint NOT NULL DEFAULT 0 CHECK (min_spend_fen >= 0),
    valid_days     integer NOT NULL CHECK (valid_days > 0)
);

CREATE TABLE platform.coupons (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template_id   bigint NOT NULL REFERENCES platform.coupon_templates (id),
    customer_id   bigint NOT NULL REFERENCES platform.customers (id),
    status        text   NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'used', 'expired')),
    valid_from    timestamptz NOT NULL,
    valid_until   timestamptz NOT NULL,
    used_at       timestamptz,
    expired_at    timestamptz,
    -- When its holder was reminded that it ends soon (once per coupon).
    reminded_at   timestamptz,
    CHECK (valid_until > valid_from),
    CHECK ((status = 'expired') = (expired_at IS NOT NULL))
);
CREATE INDEX coupons_active_until_idx ON platform.coupons (valid_until) WHERE status = 'active';
CREATE INDEX coupons_customer_idx ON platform.coupons (customer_id);
CREATE INDEX coupons_remind_idx ON platform.coupons (valid_until) WHERE status = 'active' AND reminded_at IS NULL;

CREATE TABLE platform.orders (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id        bigint  NOT NULL REFERENCES platform.customers (id),
    cleaner_id         bigint  REFERENCES platform.cleaners (id),
    service_type_id    smallint NOT NULL REFERENCES platform.service_types (id),
    address            text    NOT NULL,
    latitude           double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude          double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    appointment_start  timestamptz NOT NULL,
    duration_minutes   integer NOT NULL CHECK (duration_minutes > 0),
    status             text    NOT NULL DEFAULT '待接单'
        CHECK (status IN ('待接单', '已接单', '服务中', '已完成', '已取消')),
    amount_fen         bigint  NOT NULL CHECK (amount_fen >= 0),
    discount_fen       bigint  NOT NULL DEFAULT 0 CHECK (discount_fen >= 0),
    paid_fen           bigint  NOT NULL CHECK (paid_fen >= 0),
    refunded_fen       bigint  NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0),
    coupon_id          bigint  REFERENCES platform.coupons (id),
    special_needs      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    accepted_at        timestamptz,
    started_at         timestamptz,
    completed_at       timestamptz,
    cancelled_at       timestamptz,
    CHECK (paid_fen = amount_fen - discount_fen),
    CHECK (refunded_fen <= paid_fen),
    CHECK (status = '待接单' OR status = '已取消' OR cleaner_id IS NOT NULL),
    CHECK ((status = '已完成') = (completed_at IS NOT NULL)),
    CHECK ((status = '已取消') = (cancelled_at IS NOT NULL))
);
CREATE INDEX orders_customer_idx ON platform.orders (customer_id);
CREATE INDEX orders_cleaner_completed_idx ON platform.orders (cleaner_id, completed_at) WHERE status = '已完成';
CREATE INDEX orders_completed_idx ON platform.orders (completed_at) WHERE status = '已完成';
CREATE INDEX orders_appointment_idx ON platform.orders (appointment_start);

-- Allowed status changes; anything else is refused by the database too.
CREATE FUNCTION platform.check_order_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = OLD.status THEN
        RETURN NEW;
    END IF;
    IF (OLD.status, NEW.status) IN (
        ('待接单', '已接单'), ('待接单', '已取消'),
        ('已接单', '服务中'), ('已接单', '已取消'), ('已接单', '待接单'),
        ('服务中', '已完成')) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'order % cannot go from % to %', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'check_violation', CONSTRAINT = 'orders_status_transition';
END $$;
CREATE TRIGGER orders_status_transition BEFORE UPDATE OF status ON platform.orders
    FOR EACH ROW EXECUTE FUNCTION platform.check_order_transition();

CREATE TABLE platform.reviews (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    bigint  NOT NULL UNIQUE REFERENCES platform.orders (id),
    rating      smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment     text    NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE platform.complaints (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL REFERENCES platform.orders (id),
    reason       text   NOT NULL,
    status       text   NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'upheld', 'rejected')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    CHECK ((status = 'open') = (resolved_at IS NULL))
);
CREATE INDEX complaints_order_idx ON platform.complaints (order_id);

-- Points earned, spent and expired; the customer's balance is their sum.
CREATE TABLE platform.points_ledger (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES platform.customers (id),
    delta        bigint NOT NULL CHECK (delta <> 0),
    reason       text   NOT NULL CHECK (reason IN ('earned', 'spent', 'expired')),
    order_id     bigint REFERENCES platform.orders (id),
    -- For earned points: the end of the calendar year after the year they were earned.
    expires_at   timestamptz,
    -- For expiry rows: the validity end they expire, so an expiry is recorded once.
    expiry_of    timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((reason = 'earned') = (delta > 0)),
    CHECK ((reason = 'earned') = (expires_at IS NOT NULL)),
    CHECK ((reason = 'expired') = (expiry_of IS NOT NULL))
);
CREATE INDEX points_ledger_customer_idx ON platform.points_ledger (customer_id);
CREATE UNIQUE INDEX points_ledger_expiry_once_idx ON platform.points_ledger (customer_id, expiry_of)
    WHERE reason = 'expired';
CREATE INDEX points_ledger_expiring_idx ON platform.points_ledger (expires_at) WHERE reason = 'earned';

CREATE TABLE platform.notification_templates (
    code       text PRIMARY KEY,
    channel    text NOT NULL CHECK (channel IN ('sms', 'push', 'in_app')),
    category   text NOT NULL CHECK (category IN ('verification', 'notice', 'marketing')),
    -- Text with {name} placeholders.
    body       text NOT NULL,
    -- A message not sent within this many minutes of being queued is suppressed.
    validity_minutes integer NOT NULL DEFAULT 1440 CHECK (validity_minutes > 0)
);
INSERT INTO platform.notification_templates (code, channel, category, body, validity_minutes) VALUES
    ('order_reminder_24h', 'sms', 'notice', '【洁家】您预约的{service}将于明天{time}开始，地址：{address}。', 720),
    ('order_reminder_2h', 'sms', 'notice', '【洁家】您预约的{service}将于{time}开始，保洁师{cleaner}即将出发。', 120),
    ('cleaner_assigned', 'sms', 'notice', '【洁家】新订单：{service}，{time}，{address}。', 240),
    ('cleaner_reminder_1h', 'push', 'notice', '订单{order}将于{time}开始，请准时到达。', 60),
    ('order_status', 'push', 'notice', '您的订单{order}状态：{status}。', 1440),
    ('coupon_expiring', 'sms', 'marketing', '【洁家】您有{count}张优惠券将于{date}到期：{coupons}。', 1440),
    ('verification_code', 'sms', 'verification', '【洁家】验证码{code}，5分钟内有效。', 5),
    ('tier_changed', 'sms', 'notice', '【洁家】您的会员等级已变更为{tier}。', 1440);

-- The outbox: one row per message to send. dedupe_key makes "the same message
-- for the same reason" a single row however often it is queued.
CREATE TABLE platform.notifications (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    template_code       text   NOT NULL REFERENCES platform.notification_templates (code),
    params              jsonb  NOT NULL DEFAULT '{}'::jsonb,
    channel             text   NOT NULL CHECK (channel IN ('sms', 'push', 'in_app')),
    recipient           text   NOT NULL,
    time_zone           text   NOT NULL DEFAULT 'Asia/Shanghai',
    dedupe_key          text   NOT NULL UNIQUE,
    status              text   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    rendered_body       text,
    failure_reason      text,
    provider_message_id text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    sent_at             timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CHECK (status NOT IN ('failed', 'suppressed') OR failure_reason IS NOT NULL)
);
CREATE INDEX notifications_pending_idx ON platform.notifications (created_at) WHERE status = 'pending';
CREATE INDEX notifications_recipient_idx ON platform.notifications (recipient, created_at);
