-- Statistics rollups: per business day, the figures a dashboard reads, recomputed
-- for the days whose data changed (see RollUpStatistics).

-- Where an order came from and where it is served, as the rollups break it down.
-- Orders written before this migration (and writers that do not say) count as
-- booked in the app; city and district stay NULL ("unknown") until written.
ALTER TABLE platform.orders
    ADD COLUMN channel text NOT NULL DEFAULT 'app' CHECK (channel IN ('app', 'mini_program', 'web', 'phone')),
    ADD COLUMN city text CHECK (NOT queue.is_blank(city)),
    ADD COLUMN district text CHECK (NOT queue.is_blank(district));
-- A day's orders and new customers are found by when they were placed / joined;
-- a customer's first order (are they returning?) is the first entry of their
-- orders by time, which also serves every lookup by customer the old index did.
CREATE INDEX orders_created_idx ON platform.orders (created_at);
CREATE INDEX orders_customer_created_idx ON platform.orders (customer_id, created_at);
DROP INDEX platform.orders_customer_idx;
CREATE INDEX customers_created_idx ON platform.customers (created_at);

-- Moments whose business day needs recomputing: written by the triggers below in
-- the writer's transaction, consumed (deleted) by the rollup in its own. A row a
-- writer has not committed yet is invisible to the rollup and stays for the next
-- run, so no change is lost however transactions interleave. Minutes, not days:
-- which day a moment falls on depends on the business time zone, which only the
-- rollup knows.
CREATE TABLE platform.statistics_changes (
    moment timestamptz NOT NULL
);

-- Every change to orders, reviews and customers marks the minutes it touches:
-- the order's placing and completion (before and after an update, so a moved
-- completion corrects both days), a review's order completion, a customer's
-- creation. Statement-level, so a bulk load writes one row per distinct minute.
-- SECURITY DEFINER: any role allowed to write orders marks the change without a
-- grant on this table.
CREATE FUNCTION platform.mark_order_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO platform.statistics_changes (moment)
        SELECT DISTINCT date_trunc('minute', m) FROM (
            SELECT created_at, completed_at FROM new_orders UNION ALL SELECT created_at, completed_at FROM old_orders
        ) AS o CROSS JOIN LATERAL (VALUES (o.created_at), (o.completed_at)) AS v(m) WHERE m IS NOT NULL;
    ELSE
        INSERT INTO platform.statistics_changes (moment)
        SELECT DISTINCT date_trunc('minute', m) FROM new_orders AS o
        CROSS JOIN LATERAL (VALUES (o.created_at), (o.completed_at)) AS v(m) WHERE m IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER orders_statistics_insert AFTER INSERT ON platform.orders
    REFERENCING NEW TABLE AS new_orders FOR EACH STATEMENT EXECUTE FUNCTION platform.mark_order_changes();
CREATE TRIGGER orders_statistics_update AFTER UPDATE ON platform.orders
    REFERENCING NEW TABLE AS new_orders OLD TABLE AS old_orders FOR EACH STATEMENT EXECUTE FUNCTION platform.mark_order_changes();

CREATE FUNCTION platform.mark_review_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO platform.statistics_changes (moment)
    SELECT DISTINCT date_trunc('minute', o.completed_at)
    FROM new_reviews AS r JOIN platform.orders AS o ON o.id = r.order_id WHERE o.completed_at IS NOT NULL;
    RETURN NULL;
END $$;
CREATE TRIGGER reviews_statistics_insert AFTER INSERT ON platform.reviews
    REFERENCING NEW TABLE AS new_reviews FOR EACH STATEMENT EXECUTE FUNCTION platform.mark_review_changes();
CREATE TRIGGER reviews_statistics_update AFTER UPDATE ON platform.reviews
    REFERENCING NEW TABLE AS new_reviews FOR EACH STATEMENT EXECUTE FUNCTION platform.mark_review_changes();

CREATE FUNCTION platform.mark_customer_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO platform.statistics_changes (moment)
    SELECT DISTINCT date_trunc('minute', created_at) FROM new_customers;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_statistics_insert AFTER INSERT ON platform.customers
    REFERENCING NEW TABLE AS new_customers FOR EACH STATEMENT EXECUTE FUNCTION platform.mark_customer_changes();

-- Orders by the business day they were placed: every figure is of the orders
-- placed that day as they stand now, so a refund days later corrects the day the
-- order was placed. GMV is the list amount, paid what the customer paid after
-- discounts, refunded what went back. NULL city/district/... : not recorded.
CREATE TABLE platform.order_statistics_daily (
    day              date     NOT NULL,
    city             text,
    district         text,
    service_type_id  smallint NOT NULL REFERENCES platform.service_types (id),
    channel          text     NOT NULL,
    orders_placed    integer  NOT NULL,
    orders_completed integer  NOT NULL,
    orders_cancelled integer  NOT NULL,
    gmv_fen          bigint   NOT NULL,
    paid_fen         bigint   NOT NULL,
    refunded_fen     bigint   NOT NULL,
    UNIQUE NULLS NOT DISTINCT (day, city, district, service_type_id, channel)
);

-- The same figures by hour of the business day the orders were placed.
CREATE TABLE platform.order_statistics_hourly (
    day              date     NOT NULL,
    hour             smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    orders_placed    integer  NOT NULL,
    gmv_fen          bigint   NOT NULL,
    paid_fen         bigint   NOT NULL,
    refunded_fen     bigint   NOT NULL,
    PRIMARY KEY (day, hour)
);

-- Customers per business day by their current tier: new (joined that day),
-- active (placed an order that day), returning (active and had placed an order
-- before that day).
CREATE TABLE platform.customer_statistics_daily (
    day                 date     NOT NULL,
    tier_id             smallint NOT NULL REFERENCES platform.member_tiers (id),
    new_customers       integer  NOT NULL,
    active_customers    integer  NOT NULL,
    returning_customers integer  NOT NULL,
    PRIMARY KEY (day, tier_id)
);

-- Cleaners per business day by level, over the orders completed that day:
-- active cleaners (completed at least one), service minutes, utilisation (service
-- minutes over an eight-hour day per active cleaner, in basis points), the
-- reviews of those orders and the cleaners' income (paid minus refunds minus
-- commission, rounded half up per order as payouts do).
CREATE TABLE platform.cleaner_statistics_daily (
    day              date    NOT NULL,
    level            text    NOT NULL,
    active_cleaners  integer NOT NULL,
    completed_orders integer NOT NULL,
    service_minutes  bigint  NOT NULL,
    utilisation_bp   integer NOT NULL,
    reviews          integer NOT NULL,
    rating_sum       bigint  NOT NULL,
    income_fen       bigint  NOT NULL,
    PRIMARY KEY (day, level)
);

-- Trigger functions only: no role calls them.
REVOKE EXECUTE ON FUNCTION platform.mark_order_changes(), platform.mark_review_changes(),
    platform.mark_customer_changes() FROM PUBLIC;

-- The rollup (a worker job) takes the change marks and rewrites the tables;
-- reporting reads the tables.
GRANT SELECT, INSERT, DELETE ON
    platform.order_statistics_daily, platform.order_statistics_hourly, platform.customer_statistics_daily,
    platform.cleaner_statistics_daily
    TO cleaning_worker;
GRANT SELECT, DELETE ON platform.statistics_changes TO cleaning_worker;
GRANT SELECT ON
    platform.order_statistics_daily, platform.order_statistics_hourly, platform.customer_statistics_daily,
    platform.cleaner_statistics_daily
    TO cleaning_reporting;
