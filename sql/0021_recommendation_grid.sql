-- Nightly cleaner recommendations at a million customers (issue 17 point 6): a
-- customer is paired only with the cleaners whose service area can reach their
-- address, found through a grid of cells, instead of with every cleaner.
--
-- The grid: cells of 0.05° × 0.05° (5.6 km north–south; east–west 5.6 km × the
-- cosine of the latitude). A cell is a bigint, row × 10000 + column, where row =
-- ⌊(latitude + 90) / 0.05⌋ (0 … 3599) and column = ⌊(longitude + 180) / 0.05⌋ mod
-- 7200. Cleaners' homes and service-area centres are indexed by their cell; a
-- customer's address looks up every cell a circle of the largest radius in use can
-- touch, and the great-circle distance then decides on those few candidates.
-- Both functions are callable by everyone, like platform.great_circle_km.

CREATE FUNCTION platform.grid_cell(latitude double precision, longitude double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN least(3599, floor((latitude + 90) / 0.05))::bigint * 10000 + floor((longitude + 180) / 0.05)::bigint % 7200;

-- Every cell a circle of `km` around a point can touch: the rows of the latitude
-- band ±km (one degree of latitude is 6371 km × π / 180 on the sphere
-- great_circle_km uses), and the columns of the widest longitude span of the
-- spherical cap, asin(sin(km / 6371) / cos(latitude)) either side (its tangent
-- meridians); every column when a pole lies within km. One metre is added to km
-- so a point at exactly km is never lost to rounding. Columns wrap at ±180°.
CREATE FUNCTION platform.grid_cells_within(latitude double precision, longitude double precision, km double precision)
RETURNS SETOF bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT DISTINCT grid_row::bigint * 10000 + (grid_column % 7200 + 7200) % 7200
    FROM (SELECT (km + 0.001) / 6371.0 AS reach, radians(latitude) AS phi) AS r
    CROSS JOIN LATERAL (
        SELECT degrees(r.reach) AS dlat,
               CASE WHEN sin(least(r.reach, pi() / 2)) >= cos(r.phi) THEN 180.0
                    ELSE degrees(asin(sin(r.reach) / cos(r.phi))) END AS dlon) AS span
    CROSS JOIN LATERAL generate_series(
        floor((greatest(-90.0, latitude - span.dlat) + 90) / 0.05)::integer,
        least(3599, floor((least(90.0, latitude + span.dlat) + 90) / 0.05))::integer) AS grid_row
    CROSS JOIN LATERAL generate_series(
        CASE WHEN span.dlon >= 180 THEN 0 ELSE floor((longitude - span.dlon + 180) / 0.05)::integer END,
        CASE WHEN span.dlon >= 180 THEN 7199 ELSE floor((longitude + span.dlon + 180) / 0.05)::integer END) AS grid_column
$$;

CREATE INDEX cleaners_grid_cell_idx ON platform.cleaners (platform.grid_cell(latitude, longitude));
CREATE INDEX cleaner_service_areas_grid_cell_idx ON platform.cleaner_service_areas (platform.grid_cell(latitude, longitude));
-- A batch reads its customers' bookings and reviews by customer id range.
CREATE INDEX orders_customer_appointment_idx ON platform.orders (customer_id, appointment_start);
