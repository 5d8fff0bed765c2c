-- Nightly cleaner recommendations per active customer (issue 17 point 6), for apps to read.
-- One list per business night; recomputing a night replaces that night's lists.
CREATE TABLE platform.cleaner_recommendations (
    night        date    NOT NULL,
    customer_id  bigint  NOT NULL REFERENCES platform.customers (id),
    rank         smallint NOT NULL CHECK (rank >= 1),
    cleaner_id   bigint  NOT NULL REFERENCES platform.cleaners (id),
    score        double precision NOT NULL,
    -- Why: distance to the usual address, the customer's own average rating of the cleaner,
    -- how many of the customer's booked skills the cleaner is certified for.
    components   jsonb   NOT NULL,
    computed_at  timestamptz NOT NULL,
    PRIMARY KEY (night, customer_id, rank),
    UNIQUE (night, customer_id, cleaner_id)
);

GRANT SELECT, INSERT, DELETE ON platform.cleaner_recommendations TO cleaning_worker;
GRANT SELECT ON platform.cleaner_recommendations TO cleaning_app, cleaning_reporting;
