-- Which payout line settled an order, in a narrow table of its own instead of a
-- column of platform.orders.
--
-- A payout run settles a whole week at once (1 000 000 orders at production size).
-- Setting orders.payout_item_id was an UPDATE of every one of them: non-HOT (the
-- column was in the predicate of orders_unsettled_idx, and freshly filled pages have
-- no room for a second version anyway), so each wrote a new row version plus an
-- entry in each of the table's six other indexes, left a dead version behind in the
-- busiest table, and at that size thrashed the buffer cache: 70 s for one set-based
-- statement on the benchmark machine. Inserting one (order, line) row here takes
-- a sixth of that and leaves orders untouched.
--
-- The primary key makes "settled at most once" a database rule (the column only
-- had the `payout_item_id IS NULL` filter of the statement that set it), and the
-- line is a foreign key as the column was. order_id has no foreign key: checking
-- it is an index probe plus a row lock on orders per settled order (7.5 s of a
-- 1 000 000-order run, measured), and the row cannot name a missing order anyway:
-- the only writer inserts it from the orders row it just read, in the same
-- statement, and nothing deletes orders (the worker role may not).
-- Settlements are history: the worker role may insert and read them, never change
-- or delete them.
CREATE TABLE platform.order_settlements (
    order_id        bigint PRIMARY KEY,
    payout_item_id  bigint NOT NULL REFERENCES platform.payout_items (id)
);
-- The orders a line settled (reports, audits, the checks of the chaos run).
CREATE INDEX order_settlements_item_idx ON platform.order_settlements (payout_item_id);

INSERT INTO platform.order_settlements (order_id, payout_item_id)
SELECT id, payout_item_id FROM platform.orders WHERE payout_item_id IS NOT NULL;

-- Also drops orders_unsettled_idx (its predicate names the column): one index fewer
-- for every write to orders.
ALTER TABLE platform.orders DROP COLUMN payout_item_id;

GRANT SELECT, INSERT ON platform.order_settlements TO cleaning_worker;
GRANT SELECT ON platform.order_settlements TO cleaning_reporting;
