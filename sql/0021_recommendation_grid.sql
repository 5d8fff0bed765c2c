-- Nightly cleaner recommendations at a million customers (issue 17 point 6): a
-- customer is paired only with the cleaners whose service area can reach their
-- address, found through a grid of cells, instead of with every cleaner.
--
-- The grid: cells of 0.05° × 0.05° (5.6 km north–south; east–west 5.6 km × the
-- cosine of the latitude). A cell is a bigint, row × 10000 + column, where row =
-- ⌊(latitude + 90) / 0.05⌋ (0 … 3599) and column = ⌊(longitude + 180) / 0.05⌋ mod
-- 7200. Cleaners' homes and service-area centres are indexed by their cell; the
-- customers of one cell look up, once for all of them, every cell within the
-- largest radius in use, and the great-circle distance then decides on the few
-- candidates found there.
-- Both functions are callable by everyone, like platform.great_circle_km.

CREATE FUNCTION platform.grid_cell(latitude double precision, longitude double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN least(3599, floor((latitude + 90) / 0.05))::bigint * 10000 + floor((longitude + 180) / 0.05)::bigint % 7200;

-- Every cell within `km` of some point of cell `cell`: the rows of the cell's
-- latitude band widened by km either side (one degree of latitude is 6371 km × π /
-- 180 on the sphere great_circle_km uses), and its columns widened by the largest
-- longitude span of a spherical cap of radius km centred in the cell, asin(sin(km /
-- 6371) / cos(latitude)) at the cell's edge nearer the pole (the cap's tangent
-- meridians); every column when a pole lies within reach. One metre is added to km
-- so a point at exactly km is never lost to rounding. Columns wrap at ±180°. Not
-- STRICT, so PostgreSQL inlines it into the calling statement.
CREATE FUNCTION platform.grid_cells_around(cell bigint, km double precision) RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT grid_row::bigint * 10000 + (grid_column % 7200 + 7200) % 7200
    FROM (SELECT cell / 10000 AS cell_row, cell % 10000 AS cell_column, (km + 0.001) / 6371.0 AS reach) AS c
    CROSS JOIN LATERAL (
        SELECT c.cell_row * 0.05 - 90 AS south, c.cell_row * 0.05 - 90 + 0.05 AS north,
               c.cell_column * 0.05 - 180 AS west, cos(radians(least(90.0, greatest(abs(c.cell_row * 0.05 - 90),
                   abs(c.cell_row * 0.05 - 90 + 0.05))))) AS polar_cosine) AS edge
    CROSS JOIN LATERAL (
        SELECT degrees(c.reach) AS dlat,
               CASE WHEN sin(least(c.reach, pi() / 2)) >= edge.polar_cosine THEN 180.0
                    ELSE degrees(asin(sin(c.reach) / edge.polar_cosine)) END AS dlon) AS span
    CROSS JOIN LATERAL generate_series(
        greatest(0.0, floor((edge.south - span.dlat + 90) / 0.05))::integer,
        least(3599.0, floor((edge.north + span.dlat + 90) / 0.05))::integer) AS grid_row
    CROSS JOIN LATERAL generate_series(
        CASE WHEN 2 * span.dlon + 0.05 >= 360 THEN 0 ELSE floor((edge.west - span.dlon + 180) / 0.05)::integer END,
        CASE WHEN 2 * span.dlon + 0.05 >= 360 THEN 7199
             ELSE floor((edge.west + 0.05 + span.dlon + 180) / 0.05)::integer END) AS grid_column
$$;

CREATE INDEX cleaners_grid_cell_idx ON platform.cleaners (platform.grid_cell(latitude, longitude));
CREATE INDEX cleaner_service_areas_grid_cell_idx ON platform.cleaner_service_areas (platform.grid_cell(latitude, longitude));
-- A batch reads its customers' bookings and reviews by customer id range, through
-- orders_customer_created_idx (0015).

-- Answers to offers (issue 17, found while measuring dispatch). A cleaner's decline
-- now refuses an `as_of` more than five minutes from now when it comes from a front
-- end, as accepting (through platform.assign_order) always did: 0013's body with
-- the check first.
CREATE OR REPLACE FUNCTION platform.decline_offer(offer_id bigint, cleaner_id bigint, as_of timestamptz DEFAULT now())
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    offer platform.dispatch_offers;
BEGIN
    PERFORM platform.check_action_time(as_of);
    offer := platform.locked_open_offer(offer_id, cleaner_id, as_of);
    UPDATE platform.dispatch_offers AS f SET status = 'declined', answered_at = as_of WHERE f.id = offer.id;
    PERFORM platform.dispatch_after_answer(offer.order_id, as_of);
END $$;

-- An offer's SMS and push are worth nothing once the offer expired: the worker
-- that queues them (OrderDispatch.sendOffer) ends their validity with the offer's.
GRANT UPDATE (expires_at) ON platform.notifications TO cleaning_worker;
