-- Dispatch takes its locks in the order the life cycle takes them: the order row
-- first, then its dispatch, then its offers. platform.assign_order (and cancel,
-- reschedule) lock the order and then withdraw the dispatch; a dispatch round used
-- to lock the dispatch first and then needed the order (the offers' foreign key)
-- and an expiring offer locked the offer before the dispatch, so an accept racing a
-- round or an expiry could deadlock (seen as an intermittent 40P01 in
-- SQLAPIFromOtherLanguagesTests). The three functions below are 0013's, each with
-- the one added lock.

-- Locks the order row as the life-cycle functions do (platform.lock_order); a
-- missing order locks nothing, and the caller's own checks handle it. It runs as
-- the API's definer, which may lock orders; the worker itself may not update them.
CREATE FUNCTION platform.lock_dispatched_order(p_order bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM 1 FROM platform.orders AS o WHERE o.id = p_order FOR UPDATE;
END $$;
ALTER FUNCTION platform.lock_dispatched_order(bigint) OWNER TO cleaning_api_definer;
REVOKE ALL ON FUNCTION platform.lock_dispatched_order(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform.lock_dispatched_order(bigint) TO cleaning_worker;

CREATE OR REPLACE FUNCTION platform.dispatch_round(p_order bigint, p_generation integer, p_round integer, p_now timestamptz)
RETURNS platform.dispatch_step
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d platform.order_dispatches;
    cfg platform.dispatch_settings;
    o record;
    per_round integer;
    offered bigint[];
BEGIN
    PERFORM platform.lock_dispatched_order(p_order);
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

CREATE OR REPLACE FUNCTION platform.dispatch_after_answer(p_order bigint, p_now timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d platform.order_dispatches;
BEGIN
    PERFORM platform.lock_dispatched_order(p_order);
    SELECT * INTO d FROM platform.order_dispatches WHERE order_id = p_order FOR UPDATE;
    IF FOUND AND d.status = 'offering'
       AND NOT EXISTS (SELECT 1 FROM platform.dispatch_offers
                       WHERE order_id = p_order AND generation = d.generation AND status = 'open') THEN
        PERFORM platform.schedule_dispatch_round(p_order, d.generation, d.round + 1, NULL);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION platform.expire_offer(p_offer bigint, p_now timestamptz) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    expired_order bigint;
BEGIN
    PERFORM platform.lock_dispatched_order((SELECT f.order_id FROM platform.dispatch_offers AS f WHERE f.id = p_offer));
    UPDATE platform.dispatch_offers SET status = 'expired', answered_at = p_now
    WHERE id = p_offer AND status = 'open' AND expires_at <= p_now
    RETURNING order_id INTO expired_order;
    IF expired_order IS NULL THEN
        RETURN false;
    END IF;
    PERFORM platform.dispatch_after_answer(expired_order, p_now);
    RETURN true;
END $$;
