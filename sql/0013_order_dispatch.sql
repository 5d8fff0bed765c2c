-- Order dispatch: which cleaners may take an order, how they are ranked, offers
-- with expiry, re-offers and escalation, and no double booking enforced here.
--
-- The life cycle. The database decides every step and queues the next round's
-- job itself (queue.enqueue_job); the worker's jobs (DispatchOrder and
-- ExpireDispatchOffer in Swift) send what a round asks for:
--   platform.book_order → dispatch_start → [round (order.dispatch): rank, offer the
--   best N, notify them, expire after offer_seconds (order.dispatch_offer_expiry)]
--   → decline_offer or the expiry of the round's last open offer → next round …
--   → a round past `rounds` (or one with nobody to offer): escalated, operations
--   and the customer told, another round after retry_backoff_seconds, until the
--   appointment is within cancel_before_minutes: the order is cancelled.
--   accept_offer ends it through platform.assign_order (its reminders and
--   messages); assign_order, reschedule_order and cancel_order withdraw open
--   offers (their cleaners are told), and a reschedule of a waiting order starts
--   a new dispatch generation (older rounds and expiries then do nothing).

-- btree_gist lets one GiST index combine "same cleaner" (=) with "overlapping
-- time" (&&). It is a trusted extension: the database owner may create it without
-- superuser. It lives in a schema of its own and nobody may call its functions
-- directly: an index's support functions run without an EXECUTE check.
CREATE SCHEMA IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA btree_gist;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA btree_gist FROM PUBLIC;

-- The time an appointment occupies. Immutable although timestamptz + interval is
-- only stable in general: an interval of minutes alone (no days or months) moves
-- an instant by the same amount in every time zone.
CREATE FUNCTION platform.appointment_range(starts timestamptz, minutes integer) RETURNS tstzrange
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN tstzrange(starts, starts + minutes * interval '1 minute');

-- Great-circle distance in kilometres (haversine, mean Earth radius 6371 km).
CREATE FUNCTION platform.great_circle_km(
    latitude1 double precision, longitude1 double precision, latitude2 double precision, longitude2 double precision
) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 2 * 6371.0 * asin(least(1.0, sqrt(
    power(sin(radians(latitude2 - latitude1) / 2), 2)
    + cos(radians(latitude1)) * cos(radians(latitude2)) * power(sin(radians(longitude2 - longitude1) / 2), 2))));

-- No double booking, ever: a cleaner's accepted and running orders never overlap,
-- whichever code path writes them. Adding it fails on a database whose orders
-- already overlap; they are found (and must be resolved first) with:
--   SELECT a.id, b.id, a.cleaner_id FROM platform.orders AS a JOIN platform.orders AS b
--     ON b.cleaner_id = a.cleaner_id AND b.id > a.id
--    AND platform.appointment_range(a.appointment_start, a.duration_minutes)
--        && platform.appointment_range(b.appointment_start, b.duration_minutes)
--   WHERE a.status IN ('已接单', '服务中') AND b.status IN ('已接单', '服务中');
ALTER TABLE platform.orders ADD CONSTRAINT orders_no_double_booking
    EXCLUDE USING gist (cleaner_id WITH =, platform.appointment_range(appointment_start, duration_minutes) WITH &&)
    WHERE (status IN ('已接单', '服务中'));

-- Availability. A cleaner's home area is cleaners (latitude, longitude, radius_km);
-- these are further areas.
CREATE TABLE platform.cleaner_service_areas (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cleaner_id  bigint NOT NULL REFERENCES platform.cleaners (id),
    latitude    double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude   double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    radius_km   double precision NOT NULL CHECK (radius_km > 0)
);
CREATE INDEX cleaner_service_areas_cleaner_idx ON platform.cleaner_service_areas (cleaner_id);

-- Weekly hours, as wall-clock times in the cleaner's own time zone (cleaners.time_zone).
CREATE TABLE platform.cleaner_working_hours (
    cleaner_id   bigint   NOT NULL REFERENCES platform.cleaners (id),
    iso_weekday  smallint NOT NULL CHECK (iso_weekday BETWEEN 1 AND 7),
    starts_at    time     NOT NULL,
    ends_at      time     NOT NULL,
    PRIMARY KEY (cleaner_id, iso_weekday, starts_at),
    CHECK (ends_at > starts_at)
);

CREATE TABLE platform.cleaner_time_off (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cleaner_id  bigint    NOT NULL REFERENCES platform.cleaners (id),
    period      tstzrange NOT NULL CHECK (NOT isempty(period)),
    reason      text      NOT NULL DEFAULT ''
);
CREATE INDEX cleaner_time_off_idx ON platform.cleaner_time_off USING gist (cleaner_id, period);

-- Dispatch settings: one row.
CREATE TABLE platform.dispatch_settings (
    singleton               boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    travel_buffer_minutes   integer NOT NULL CHECK (travel_buffer_minutes >= 0),
    offer_seconds           integer NOT NULL CHECK (offer_seconds > 0),
    rounds                  integer NOT NULL CHECK (rounds > 0),
    retry_backoff_seconds   integer NOT NULL CHECK (retry_backoff_seconds > 0),
    -- Dispatch gives up (the order is cancelled) when the appointment is this close.
    cancel_before_minutes   integer NOT NULL CHECK (cancel_before_minutes >= 0),
    -- Reviews of this many recent days make a cleaner's rating; without any, default_rating.
    rating_window_days      integer NOT NULL CHECK (rating_window_days > 0),
    default_rating          double precision NOT NULL CHECK (default_rating BETWEEN 1 AND 5),
    -- Completed orders at which the experience score is full.
    experience_orders       integer NOT NULL CHECK (experience_orders > 0),
    -- Orders on one day at which the load score is zero.
    full_day_orders         integer NOT NULL CHECK (full_day_orders > 0),
    -- Where escalations go (an outbox recipient).
    operations_recipient    text    NOT NULL CHECK (NOT queue.is_blank(operations_recipient))
);
INSERT INTO platform.dispatch_settings (travel_buffer_minutes, offer_seconds, rounds, retry_backoff_seconds,
    cancel_before_minutes, rating_window_days, default_rating, experience_orders, full_day_orders, operations_recipient)
VALUES (30, 60, 3, 900, 120, 180, 4.0, 50, 4, '4008200820');

-- Ranking: score = Σ weight × component, every component in [0, 1].
CREATE TABLE platform.dispatch_weights (
    component    text PRIMARY KEY CHECK (component IN ('distance', 'rating', 'experience', 'history', 'load')),
    weight       double precision NOT NULL CHECK (weight >= 0),
    description  text NOT NULL CHECK (NOT queue.is_blank(description))
);
INSERT INTO platform.dispatch_weights (component, weight, description) VALUES
    ('distance', 0.35, '1 at the service area''s centre, 0 at its edge (great-circle distance)'),
    ('rating', 0.25, 'average review of the rating window / 5'),
    ('experience', 0.10, 'completed orders / experience_orders, at most 1'),
    ('history', 0.20, '1 when this customer rated the cleaner 4 or 5 before'),
    ('load', 0.10, '1 − orders that day / full_day_orders, at least 0');

-- Per service type: offer to one cleaner at a time, or to several at once (grab).
CREATE TABLE platform.service_type_dispatch (
    service_type_id   smallint PRIMARY KEY REFERENCES platform.service_types (id),
    mode              text    NOT NULL CHECK (mode IN ('single', 'grab')),
    offers_per_round  integer NOT NULL CHECK (offers_per_round > 0),
    CHECK ((mode = 'single') = (offers_per_round = 1))
);
INSERT INTO platform.service_type_dispatch (service_type_id, mode, offers_per_round) VALUES
    (1, 'single', 1), (2, 'single', 1), (3, 'single', 1), (4, 'grab', 3), (5, 'grab', 3);

-- One dispatch per order; a reschedule starts a new generation (older offers
-- and jobs then do nothing).
CREATE TABLE platform.order_dispatches (
    order_id        bigint  PRIMARY KEY REFERENCES platform.orders (id),
    generation      integer NOT NULL DEFAULT 1,
    round           integer NOT NULL DEFAULT 0,
    status          text    NOT NULL DEFAULT 'offering' CHECK (status IN ('offering', 'escalated', 'assigned', 'stopped')),
    started_at      timestamptz NOT NULL,
    first_offer_at  timestamptz,
    escalated_at    timestamptz,
    ended_at        timestamptz,
    end_reason      text,
    CHECK ((status IN ('assigned', 'stopped')) = (ended_at IS NOT NULL))
);

-- Each round's ranking as it was when offered: why someone got the offer.
CREATE TABLE platform.dispatch_rounds (
    order_id    bigint  NOT NULL REFERENCES platform.orders (id),
    generation  integer NOT NULL,
    round       integer NOT NULL,
    ranked_at   timestamptz NOT NULL,
    -- [{cleaner_id, score, components}] best first (the first 20).
    ranking     jsonb   NOT NULL,
    PRIMARY KEY (order_id, generation, round)
);

CREATE TABLE platform.dispatch_offers (
    id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint  NOT NULL REFERENCES platform.orders (id),
    cleaner_id      bigint  NOT NULL REFERENCES platform.cleaners (id),
    generation      integer NOT NULL,
    round           integer NOT NULL,
    rank            integer NOT NULL CHECK (rank > 0),
    score           double precision NOT NULL,
    components      jsonb   NOT NULL,
    status          text    NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'accepted', 'declined', 'expired', 'withdrawn')),
    offered_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    answered_at     timestamptz,
    withdraw_reason text,
    CHECK ((status = 'open') = (answered_at IS NULL)),
    CHECK ((status = 'withdrawn') = (withdraw_reason IS NOT NULL)),
    -- A cleaner is offered an order once per dispatch generation.
    UNIQUE (order_id, generation, cleaner_id)
);
-- Never two live offers to the same cleaner for one order.
CREATE UNIQUE INDEX dispatch_offers_open_idx ON platform.dispatch_offers (order_id, cleaner_id) WHERE status = 'open';
CREATE INDEX dispatch_offers_cleaner_idx ON platform.dispatch_offers (cleaner_id, offered_at);

INSERT INTO platform.notification_templates (code, channel, category, body, validity_minutes) VALUES
    ('dispatch_offer_sms', 'sms', 'notice', '【洁家】新订单邀请：{service}，{time}，{address}，请在{seconds}秒内接单。', 5),
    ('dispatch_offer_push', 'push', 'notice', '新订单邀请{order}：{service}，{time}，{address}。{seconds}秒内有效。', 5),
    ('dispatch_offer_withdrawn', 'push', 'notice', '订单{order}的邀请已撤回：{reason}。', 60),
    ('dispatch_escalated', 'sms', 'notice', '【洁家运营】订单{order}（{service}，{time}）暂无保洁师接单，请人工处理。', 1440),
    ('dispatch_no_cleaner_yet', 'sms', 'notice', '【洁家】您的订单{order}暂未匹配到保洁师，我们正在继续为您安排。', 1440),
    ('dispatch_cancelled', 'sms', 'notice', '【洁家】很抱歉，订单{order}在预约时间前未能匹配到保洁师，已取消。', 1440);

-- What a round asked the worker to send (the `platform.dispatch_step` of DispatchStep in Swift):
--   none       nothing (a stale job, an order no longer waiting)
--   offered    the offers `offer_ids` were made: notify their cleaners, expire each at its time
--   escalated  nobody took it: tell operations and the customer (once per generation);
--              the retry round is already queued
--   too_close  the appointment is too close: cancel the order and tell the customer why
CREATE TYPE platform.dispatch_step AS (step text, generation integer, offer_ids bigint[]);

-- The cleaners who may take an order now, best first, with their score components.
-- Set-based: one statement over all cleaners; nobody already offered this order in
-- the current generation.
CREATE FUNCTION platform.dispatch_candidates(p_order bigint, p_now timestamptz)
RETURNS TABLE (cleaner_id bigint, score double precision, components jsonb)
LANGUAGE sql STABLE AS $$
    WITH o AS (
        SELECT o.id, o.customer_id, o.latitude, o.longitude, s.skill,
               o.appointment_start AS starts, o.appointment_start + o.duration_minutes * interval '1 minute' AS ends,
               tstzrange(o.appointment_start - cfg.travel_buffer_minutes * interval '1 minute',
                         o.appointment_start + (o.duration_minutes + cfg.travel_buffer_minutes) * interval '1 minute') AS occupied,
               COALESCE(d.generation, 1) AS generation
        FROM platform.orders AS o
        JOIN platform.service_types AS s ON s.id = o.service_type_id
        CROSS JOIN platform.dispatch_settings AS cfg
        LEFT JOIN platform.order_dispatches AS d ON d.order_id = o.id
        WHERE o.id = p_order
    ),
    weights AS (
        SELECT COALESCE(max(weight) FILTER (WHERE component = 'distance'), 0) AS distance,
               COALESCE(max(weight) FILTER (WHERE component = 'rating'), 0) AS rating,
               COALESCE(max(weight) FILTER (WHERE component = 'experience'), 0) AS experience,
               COALESCE(max(weight) FILTER (WHERE component = 'history'), 0) AS history,
               COALESCE(max(weight) FILTER (WHERE component = 'load'), 0) AS load
        FROM platform.dispatch_weights
    ),
    eligible AS (
        SELECT cl.id, cl.radius_km, cl.time_zone, o.customer_id, o.starts,
               platform.great_circle_km(cl.latitude, cl.longitude, o.latitude, o.longitude) AS km,
               lower(o.occupied) AT TIME ZONE cl.time_zone AS local_from,
               upper(o.occupied) AT TIME ZONE cl.time_zone AS local_to
        FROM o JOIN platform.cleaners AS cl ON cl.status = 'active'
        WHERE EXISTS (
                SELECT 1 FROM platform.certifications AS c
                WHERE c.cleaner_id = cl.id AND c.skill = o.skill AND c.granted_at <= o.starts AND c.expires_at >= o.ends)
          AND (platform.great_circle_km(cl.latitude, cl.longitude, o.latitude, o.longitude) <= cl.radius_km
               OR EXISTS (
                SELECT 1 FROM platform.cleaner_service_areas AS a
                WHERE a.cleaner_id = cl.id
                  AND platform.great_circle_km(a.latitude, a.longitude, o.latitude, o.longitude) <= a.radius_km))
          AND NOT EXISTS (
                SELECT 1 FROM platform.cleaner_time_off AS t WHERE t.cleaner_id = cl.id AND t.period && o.occupied)
          AND NOT EXISTS (
                SELECT 1 FROM platform.orders AS b
                WHERE b.cleaner_id = cl.id AND b.status IN ('已接单', '服务中')
                  AND platform.appointment_range(b.appointment_start, b.duration_minutes) && o.occupied)
          -- A cleaner this customer rated 2 or less is never offered to them again.
          AND NOT EXISTS (
                SELECT 1 FROM platform.orders AS p JOIN platform.reviews AS r ON r.order_id = p.id
                WHERE p.customer_id = o.customer_id AND p.cleaner_id = cl.id AND r.rating <= 2)
          AND NOT EXISTS (
                SELECT 1 FROM platform.dispatch_offers AS f
                WHERE f.order_id = o.id AND f.generation = o.generation AND f.cleaner_id = cl.id)
    ),
    -- The whole occupied time (appointment plus travel on both sides) inside one
    -- stretch of working hours, read as wall-clock time in the cleaner's zone.
    available AS (
        SELECT e.* FROM eligible AS e
        WHERE EXISTS (
            SELECT 1 FROM platform.cleaner_working_hours AS h
            WHERE h.cleaner_id = e.id AND h.iso_weekday = extract(isodow FROM e.local_from)
              AND e.local_from >= e.local_from::date + h.starts_at
              AND e.local_to <= e.local_from::date + h.ends_at)
    ),
    measured AS (
        SELECT a.id, a.km, greatest(0.0, 1 - a.km / a.radius_km) AS distance,
               recent.rating, recent.reviews, done.completed, mine.best_rating, day.booked
        FROM available AS a
        CROSS JOIN LATERAL (
            SELECT avg(r.rating)::double precision AS rating, count(r.id) AS reviews
            FROM platform.orders AS p JOIN platform.reviews AS r ON r.order_id = p.id
            CROSS JOIN platform.dispatch_settings AS cfg
            WHERE p.cleaner_id = a.id AND p.status = '已完成'
              AND p.completed_at >= p_now - cfg.rating_window_days * interval '1 day') AS recent
        CROSS JOIN LATERAL (
            SELECT count(*) AS completed FROM platform.orders AS p WHERE p.cleaner_id = a.id AND p.status = '已完成') AS done
        CROSS JOIN LATERAL (
            SELECT max(r.rating) AS best_rating
            FROM platform.orders AS p JOIN platform.reviews AS r ON r.order_id = p.id
            WHERE p.customer_id = a.customer_id AND p.cleaner_id = a.id) AS mine
        -- Orders already accepted on the appointment's day, in the cleaner's zone.
        CROSS JOIN LATERAL (
            SELECT count(*) AS booked FROM platform.orders AS b
            WHERE b.cleaner_id = a.id AND b.status IN ('已接单', '服务中')
              AND platform.appointment_range(b.appointment_start, b.duration_minutes) && tstzrange(
                  (a.starts AT TIME ZONE a.time_zone)::date::timestamp AT TIME ZONE a.time_zone,
                  ((a.starts AT TIME ZONE a.time_zone)::date + 1)::timestamp AT TIME ZONE a.time_zone)) AS day
    ),
    scored AS (
        SELECT m.id, m.km, m.distance, m.reviews, m.completed, m.best_rating, m.booked,
               COALESCE(m.rating, cfg.default_rating) / 5 AS rating,
               least(1.0, m.completed::double precision / cfg.experience_orders) AS experience,
               CASE WHEN m.best_rating >= 4 THEN 1.0 ELSE 0.0 END AS history,
               greatest(0.0, 1 - m.booked::double precision / cfg.full_day_orders) AS load
        FROM measured AS m CROSS JOIN platform.dispatch_settings AS cfg
    )
    SELECT s.id,
           w.distance * s.distance + w.rating * s.rating + w.experience * s.experience + w.history * s.history
               + w.load * s.load,
           jsonb_build_object(
               'distance_km', round(s.km::numeric, 3), 'distance', round(s.distance::numeric, 4),
               'rating', round(s.rating::numeric, 4), 'reviews', s.reviews,
               'experience', round(s.experience::numeric, 4), 'completed_orders', s.completed,
               'history', s.history, 'customer_best_rating', s.best_rating,
               'load', round(s.load::numeric, 4), 'orders_that_day', s.booked,
               'weights', jsonb_build_object('distance', w.distance, 'rating', w.rating, 'experience', w.experience,
                                             'history', w.history, 'load', w.load))
    FROM scored AS s CROSS JOIN weights AS w
    ORDER BY 2 DESC, s.id
$$;

-- Queues an offering round (DispatchOrder in Swift: kind "order.dispatch", queue
-- "dispatch") to run at `run_at`, or at once when NULL; its unique key makes a
-- round queued twice one job.
CREATE FUNCTION platform.schedule_dispatch_round(
    order_id bigint, generation integer, round integer, run_at timestamptz
) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT queue.enqueue_job('order.dispatch',
        jsonb_build_object('orderID', order_id, 'generation', generation, 'round', round),
        queue => 'dispatch', run_at => run_at, max_attempts => 10,
        unique_key => 'dispatch:' || order_id || ':' || generation || ':' || round, unique_scope => 'always');
END;

-- Starts (or, after a reschedule, restarts) an order's dispatch and queues its
-- first round. Returns the dispatch generation.
CREATE FUNCTION platform.dispatch_start(order_id bigint, as_of timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    gen integer;
BEGIN
    INSERT INTO platform.order_dispatches AS d (order_id, started_at) VALUES (dispatch_start.order_id, as_of)
    ON CONFLICT (order_id) DO UPDATE
        SET generation = d.generation + 1, round = 0, status = 'offering', started_at = excluded.started_at,
            first_offer_at = NULL, escalated_at = NULL, ended_at = NULL, end_reason = NULL
    RETURNING generation INTO gen;
    PERFORM platform.schedule_dispatch_round(dispatch_start.order_id, gen, 1, NULL);
    RETURN gen;
END $$;

-- Stops an order's dispatch (the order was assigned, cancelled or moved) and
-- withdraws its open offers, telling their cleaners why. Returns how many.
CREATE FUNCTION platform.dispatch_withdraw(order_id bigint, reason text, as_of timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    withdrawn integer;
BEGIN
    UPDATE platform.order_dispatches AS d
    SET status = CASE WHEN o.status IN ('已接单', '服务中', '已完成') THEN 'assigned' ELSE 'stopped' END,
        ended_at = as_of, end_reason = reason
    FROM platform.orders AS o
    WHERE d.order_id = dispatch_withdraw.order_id AND o.id = d.order_id AND d.status IN ('offering', 'escalated');
    WITH closed AS (
        UPDATE platform.dispatch_offers AS f SET status = 'withdrawn', answered_at = as_of, withdraw_reason = reason
        WHERE f.order_id = dispatch_withdraw.order_id AND f.status = 'open'
        RETURNING f.id, f.cleaner_id
    )
    SELECT count(platform.queue_notification('dispatch_offer_withdrawn',
               jsonb_build_object('order', dispatch_withdraw.order_id::text, 'reason', reason),
               c.phone, c.time_zone, 'offer-withdrawn:' || closed.id, as_of))
    INTO withdrawn
    FROM closed JOIN platform.cleaners AS c ON c.id = closed.cleaner_id;
    RETURN withdrawn;
END $$;

-- One offering round: rank, record the ranking, offer the best N. A round that is
-- not the dispatch's next one (a job run twice, an older generation) does nothing.
-- A round past the configured number while still offering, or one that finds
-- nobody, escalates and queues the retry.
CREATE FUNCTION platform.dispatch_round(p_order bigint, p_generation integer, p_round integer, p_now timestamptz)
RETURNS platform.dispatch_step
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d platform.order_dispatches;
    cfg platform.dispatch_settings;
    o record;
    per_round integer;
    offered bigint[];
BEGIN
    SELECT * INTO d FROM platform.order_dispatches WHERE order_id = p_order FOR UPDATE;
    IF NOT FOUND OR d.generation <> p_generation OR d.status NOT IN ('offering', 'escalated') OR d.round >= p_round THEN
        RETURN ROW('none', p_generation, NULL)::platform.dispatch_step;
    END IF;
    SELECT * INTO cfg FROM platform.dispatch_settings;
    SELECT ord.status, ord.appointment_start, COALESCE(t.offers_per_round, 1) AS per_round INTO o
    FROM platform.orders AS ord LEFT JOIN platform.service_type_dispatch AS t ON t.service_type_id = ord.service_type_id
    WHERE ord.id = p_order;
    IF o.status <> '待接单' THEN
        UPDATE platform.order_dispatches SET status = 'stopped', ended_at = p_now, end_reason = 'order is ' || o.status
        WHERE order_id = p_order;
        RETURN ROW('none', p_generation, NULL)::platform.dispatch_step;
    END IF;
    IF o.appointment_start - cfg.cancel_before_minutes * interval '1 minute' <= p_now THEN
        UPDATE platform.order_dispatches
        SET status = 'stopped', ended_at = p_now, end_reason = 'no cleaner accepted before the appointment'
        WHERE order_id = p_order;
        RETURN ROW('too_close', p_generation, NULL)::platform.dispatch_step;
    END IF;
    per_round := o.per_round;

    IF NOT (d.status = 'offering' AND p_round > cfg.rounds) THEN
        WITH ranked AS (
            SELECT row_number() OVER (ORDER BY c.score DESC, c.cleaner_id) AS position, c.cleaner_id, c.score, c.components
            FROM (SELECT * FROM platform.dispatch_candidates(p_order, p_now) LIMIT 20) AS c
        ),
        recorded AS (
            INSERT INTO platform.dispatch_rounds (order_id, generation, round, ranked_at, ranking)
            SELECT p_order, p_generation, p_round, p_now,
                   COALESCE(jsonb_agg(jsonb_build_object('cleaner_id', r.cleaner_id, 'score', round(r.score::numeric, 4),
                                                         'components', r.components) ORDER BY r.position), '[]')
            FROM ranked AS r
        ),
        made AS (
            INSERT INTO platform.dispatch_offers (order_id, cleaner_id, generation, round, rank, score, components, offered_at, expires_at)
            SELECT p_order, r.cleaner_id, p_generation, p_round, r.position, r.score, r.components, p_now,
                   p_now + cfg.offer_seconds * interval '1 second'
            FROM ranked AS r WHERE r.position <= per_round
            RETURNING id
        )
        SELECT array_agg(id ORDER BY id) INTO offered FROM made;
    END IF;

    IF offered IS NULL THEN
        UPDATE platform.order_dispatches SET round = p_round, status = 'escalated', escalated_at = COALESCE(escalated_at, p_now)
        WHERE order_id = p_order;
        PERFORM platform.schedule_dispatch_round(p_order, p_generation, p_round + 1,
            p_now + cfg.retry_backoff_seconds * interval '1 second');
        RETURN ROW('escalated', p_generation, NULL)::platform.dispatch_step;
    END IF;
    UPDATE platform.order_dispatches SET round = p_round, status = 'offering', first_offer_at = COALESCE(first_offer_at, p_now)
    WHERE order_id = p_order;
    RETURN ROW('offered', p_generation, offered)::platform.dispatch_step;
END $$;

-- After an offer was declined or expired: when the round has no open offer left,
-- the next round is queued.
CREATE FUNCTION platform.dispatch_after_answer(p_order bigint, p_now timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d platform.order_dispatches;
BEGIN
    SELECT * INTO d FROM platform.order_dispatches WHERE order_id = p_order FOR UPDATE;
    IF FOUND AND d.status = 'offering'
       AND NOT EXISTS (SELECT 1 FROM platform.dispatch_offers
                       WHERE order_id = p_order AND generation = d.generation AND status = 'open') THEN
        PERFORM platform.schedule_dispatch_round(p_order, d.generation, d.round + 1, NULL);
    END IF;
END $$;

-- The offer's time is up (its expiry job). An offer already answered, or not yet
-- due, is left alone; returns whether it expired now.
CREATE FUNCTION platform.expire_offer(p_offer bigint, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    expired_order bigint;
BEGIN
    UPDATE platform.dispatch_offers SET status = 'expired', answered_at = p_now
    WHERE id = p_offer AND status = 'open' AND expires_at <= p_now
    RETURNING order_id INTO expired_order;
    IF expired_order IS NULL THEN
        RETURN false;
    END IF;
    PERFORM platform.dispatch_after_answer(expired_order, p_now);
    RETURN true;
END $$;

-- Errors an answering cleaner can act on, by SQLSTATE (OfferRefusal in Swift):
--   PD001 the order was already taken (or is no longer waiting)
--   PD002 the offer expired
--   PD003 no open offer of that id for that cleaner
CREATE FUNCTION platform.locked_open_offer(p_offer bigint, p_cleaner bigint, p_now timestamptz)
RETURNS platform.dispatch_offers
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    offer platform.dispatch_offers;
    order_status text;
BEGIN
    -- The order first, then the offer: every path that changes offers of an order
    -- takes the locks in this order, so two answers to one order never deadlock.
    SELECT o.status INTO order_status FROM platform.orders AS o
    WHERE o.id = (SELECT f.order_id FROM platform.dispatch_offers AS f WHERE f.id = p_offer) FOR UPDATE;
    SELECT * INTO offer FROM platform.dispatch_offers WHERE id = p_offer FOR UPDATE;
    IF NOT FOUND OR offer.cleaner_id <> p_cleaner THEN
        RAISE EXCEPTION 'offer % is not an offer to cleaner %', p_offer, p_cleaner USING ERRCODE = 'PD003';
    END IF;
    IF order_status <> '待接单' THEN
        RAISE EXCEPTION 'order % is already taken (%)', offer.order_id, order_status USING ERRCODE = 'PD001';
    END IF;
    IF offer.status = 'expired' OR (offer.status = 'open' AND offer.expires_at <= p_now) THEN
        RAISE EXCEPTION 'offer % expired at %', p_offer, offer.expires_at USING ERRCODE = 'PD002';
    END IF;
    IF offer.status <> 'open' THEN
        RAISE EXCEPTION 'offer % is no longer open (%)', p_offer, offer.status USING ERRCODE = 'PD003';
    END IF;
    RETURN offer;
END $$;

-- A cleaner accepts an offer (SQL API, like platform.assign_order): the order is
-- assigned through platform.assign_order — its reminders and the customer's
-- message — which withdraws the order's other open offers; the no-double-booking
-- constraint refuses it (SQLSTATE 23P01) when the cleaner has an overlapping
-- accepted order. Returns the order's id.
CREATE FUNCTION platform.accept_offer(offer_id bigint, cleaner_id bigint, as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    offer platform.dispatch_offers := platform.locked_open_offer(offer_id, cleaner_id, as_of);
BEGIN
    UPDATE platform.dispatch_offers AS f SET status = 'accepted', answered_at = as_of WHERE f.id = offer.id;
    PERFORM platform.assign_order(offer.order_id, offer.cleaner_id, as_of);
    RETURN offer.order_id;
END $$;

-- A cleaner declines an offer (SQL API): the next round follows when nobody else
-- in the round still holds an open offer.
CREATE FUNCTION platform.decline_offer(offer_id bigint, cleaner_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    offer platform.dispatch_offers := platform.locked_open_offer(offer_id, cleaner_id, as_of);
BEGIN
    UPDATE platform.dispatch_offers AS f SET status = 'declined', answered_at = as_of WHERE f.id = offer.id;
    PERFORM platform.dispatch_after_answer(offer.order_id, as_of);
END $$;

-- The order life cycle of 0012 with dispatch hooked in: booking starts it,
-- assigning ends it, moving a waiting order restarts it, cancelling withdraws it.
-- Each body is 0012's with the hook call added.
CREATE OR REPLACE FUNCTION platform.book_order(
    customer_id bigint, service_type_id integer, address text, latitude double precision, longitude double precision,
    appointment_start timestamptz, duration_minutes integer, amount_fen bigint, discount_fen bigint DEFAULT 0,
    coupon_id bigint DEFAULT NULL, special_needs text DEFAULT NULL, as_of timestamptz DEFAULT now()
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    order_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF appointment_start IS NULL THEN
        RAISE EXCEPTION 'platform.book_order: appointment_start must be given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF address IS NULL OR queue.is_blank(address) THEN
        RAISE EXCEPTION 'platform.book_order: address must not be blank' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start,
        duration_minutes, amount_fen, discount_fen, paid_fen, coupon_id, special_needs, created_at)
    VALUES (book_order.customer_id, book_order.service_type_id, book_order.address, book_order.latitude,
        book_order.longitude, book_order.appointment_start, book_order.duration_minutes, book_order.amount_fen,
        book_order.discount_fen, book_order.amount_fen - book_order.discount_fen, book_order.coupon_id,
        book_order.special_needs, book_order.as_of)
    RETURNING id INTO order_id;
    PERFORM platform.schedule_order_reminder(order_id, 'customer_24h', appointment_start, NULL, as_of);
    PERFORM platform.schedule_order_reminder(order_id, 'customer_2h', appointment_start, NULL, as_of);
    PERFORM platform.dispatch_start(order_id, as_of);
    RETURN order_id;
END $$;

CREATE OR REPLACE FUNCTION platform.assign_order(order_id bigint, cleaner_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders := platform.lock_order(order_id, 'assigned', ARRAY['waiting', 'accepted']);
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF cleaner_id IS NULL OR NOT EXISTS (SELECT 1 FROM platform.cleaners AS c WHERE c.id = assign_order.cleaner_id) THEN
        RAISE EXCEPTION 'platform.assign_order: cleaner % does not exist', COALESCE(cleaner_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE platform.orders AS o
    SET cleaner_id = assign_order.cleaner_id, status = platform.order_status('accepted'), accepted_at = as_of
    WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id || ':cleaner', 'reassigned');
    PERFORM platform.schedule_order_reminder(order_id, 'cleaner_assigned', found_order.appointment_start, cleaner_id, as_of);
    PERFORM platform.schedule_order_reminder(order_id, 'cleaner_1h', found_order.appointment_start, cleaner_id, as_of);
    PERFORM platform.notify_order_status(order_id, platform.order_status('accepted'), as_of);
    PERFORM platform.dispatch_withdraw(order_id, '订单已由其他保洁师接单', as_of);
END $$;

CREATE OR REPLACE FUNCTION platform.reschedule_order(
    order_id bigint, appointment_start timestamptz, as_of timestamptz DEFAULT now()
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders := platform.lock_order(order_id, 'rescheduled', ARRAY['waiting', 'accepted']);
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF appointment_start IS NULL THEN
        RAISE EXCEPTION 'platform.reschedule_order: appointment_start must be given'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE platform.orders AS o SET appointment_start = reschedule_order.appointment_start WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id || ':timed', 'order rescheduled');
    PERFORM platform.schedule_order_reminder(order_id, 'customer_24h', appointment_start, NULL, as_of);
    PERFORM platform.schedule_order_reminder(order_id, 'customer_2h', appointment_start, NULL, as_of);
    IF found_order.cleaner_id IS NOT NULL THEN
        PERFORM platform.schedule_order_reminder(order_id, 'cleaner_1h', appointment_start, found_order.cleaner_id, as_of);
    END IF;
    IF found_order.status = platform.order_status('waiting') THEN
        PERFORM platform.dispatch_withdraw(order_id, '订单时间已变更', as_of);
        PERFORM platform.dispatch_start(order_id, as_of);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION platform.cancel_order(order_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM platform.check_action_time(as_of);
    PERFORM platform.lock_order(order_id, 'cancelled', ARRAY['waiting', 'accepted']);
    UPDATE platform.orders AS o SET status = platform.order_status('cancelled'), cancelled_at = as_of WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id, 'order cancelled');
    PERFORM platform.notify_order_status(order_id, platform.order_status('cancelled'), as_of);
    PERFORM platform.dispatch_withdraw(order_id, '订单已取消', as_of);
END $$;

-- Rights. New functions are callable by nobody but as granted here.
REVOKE EXECUTE ON FUNCTION platform.dispatch_candidates(bigint, timestamptz),
    platform.schedule_dispatch_round(bigint, integer, integer, timestamptz),
    platform.dispatch_start(bigint, timestamptz), platform.dispatch_withdraw(bigint, text, timestamptz),
    platform.dispatch_round(bigint, integer, integer, timestamptz), platform.dispatch_after_answer(bigint, timestamptz),
    platform.expire_offer(bigint, timestamptz), platform.locked_open_offer(bigint, bigint, timestamptz),
    platform.accept_offer(bigint, bigint, timestamptz), platform.decline_offer(bigint, bigint, timestamptz)
    FROM PUBLIC;

-- The API's definer runs the life-cycle hooks and the answers to offers.
ALTER FUNCTION platform.accept_offer(bigint, bigint, timestamptz) OWNER TO cleaning_api_definer;
ALTER FUNCTION platform.decline_offer(bigint, bigint, timestamptz) OWNER TO cleaning_api_definer;
GRANT EXECUTE ON FUNCTION platform.schedule_dispatch_round(bigint, integer, integer, timestamptz),
    platform.dispatch_start(bigint, timestamptz), platform.dispatch_withdraw(bigint, text, timestamptz),
    platform.dispatch_after_answer(bigint, timestamptz), platform.locked_open_offer(bigint, bigint, timestamptz)
    TO cleaning_api_definer;
GRANT SELECT, INSERT (order_id, started_at),
      UPDATE (generation, round, status, started_at, first_offer_at, escalated_at, ended_at, end_reason)
    ON platform.order_dispatches TO cleaning_api_definer;
GRANT SELECT, UPDATE (status, answered_at, withdraw_reason) ON platform.dispatch_offers TO cleaning_api_definer;

-- The front end: cleaners answer offers and see theirs.
GRANT EXECUTE ON FUNCTION platform.accept_offer(bigint, bigint, timestamptz),
    platform.decline_offer(bigint, bigint, timestamptz) TO cleaning_app;
GRANT SELECT ON platform.dispatch_offers, platform.order_dispatches TO cleaning_app;

-- The worker runs rounds and expiries, and cancels an order dispatch gave up on.
GRANT SELECT ON platform.cleaner_service_areas, platform.cleaner_working_hours, platform.cleaner_time_off,
    platform.dispatch_settings, platform.dispatch_weights, platform.service_type_dispatch
    TO cleaning_worker;
GRANT SELECT, INSERT (order_id, generation, round, ranked_at, ranking) ON platform.dispatch_rounds TO cleaning_worker;
GRANT SELECT, UPDATE (round, status, first_offer_at, escalated_at, ended_at, end_reason) ON platform.order_dispatches
    TO cleaning_worker;
GRANT SELECT, INSERT (order_id, cleaner_id, generation, round, rank, score, components, offered_at, expires_at),
    UPDATE (status, answered_at, withdraw_reason) ON platform.dispatch_offers TO cleaning_worker;
GRANT EXECUTE ON FUNCTION platform.dispatch_candidates(bigint, timestamptz),
    platform.schedule_dispatch_round(bigint, integer, integer, timestamptz),
    platform.dispatch_round(bigint, integer, integer, timestamptz), platform.dispatch_after_answer(bigint, timestamptz),
    platform.expire_offer(bigint, timestamptz), platform.cancel_order(bigint, timestamptz)
    TO cleaning_worker;

GRANT SELECT ON platform.cleaner_service_areas, platform.cleaner_working_hours, platform.cleaner_time_off,
    platform.dispatch_settings, platform.dispatch_weights, platform.service_type_dispatch, platform.order_dispatches,
    platform.dispatch_rounds, platform.dispatch_offers
    TO cleaning_reporting;
