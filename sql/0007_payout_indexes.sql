-- A settlement job looks at one cleaner's orders (and their reviews and
-- complaints); this index keeps that cost independent of the period's size.
CREATE INDEX orders_cleaner_idx ON platform.orders (cleaner_id);
CREATE INDEX complaints_order_status_idx ON platform.complaints (order_id) WHERE status = 'upheld';
CREATE INDEX ledger_accounts_cleaner_idx ON platform.ledger_accounts (cleaner_id) WHERE cleaner_id IS NOT NULL;
