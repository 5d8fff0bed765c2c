-- Settlement payouts with a double-entry ledger. Amounts are integer fen.
-- Sign convention: an entry's amount_fen is positive for a debit, negative for a
-- credit; every transaction's entries sum to zero (checked at commit).

-- Platform commission by cleaner level, in basis points of the paid amount.
CREATE TABLE platform.commission_rates (
    level       text PRIMARY KEY CHECK (level IN ('新手', '熟练', '金牌')),
    rate_bp     integer NOT NULL CHECK (rate_bp BETWEEN 0 AND 10000)
);
INSERT INTO platform.commission_rates (level, rate_bp) VALUES ('新手', 2500), ('熟练', 2000), ('金牌', 1500);

-- Bonus and penalty amounts (fen, signed as they apply to the cleaner).
CREATE TABLE platform.payout_rules (
    code        text PRIMARY KEY,
    amount_fen  bigint NOT NULL,
    description text   NOT NULL
);
INSERT INTO platform.payout_rules (code, amount_fen, description) VALUES
    ('five_star_review', 500, '+500 fen per 5-star review with a comment written in the period'),
    ('upheld_complaint', -2000, '−2000 fen per complaint upheld in the period');

CREATE TABLE platform.ledger_accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- 'platform:cash', 'platform:commission', 'cleaner:42:wallet' …
    code        text   NOT NULL UNIQUE,
    type        text   NOT NULL CHECK (type IN ('asset', 'liability', 'revenue', 'expense')),
    cleaner_id  bigint REFERENCES platform.cleaners (id)
);
INSERT INTO platform.ledger_accounts (code, type) VALUES
    ('platform:cash', 'asset'),
    ('platform:order_clearing', 'liability'),
    ('platform:commission', 'revenue'),
    ('platform:bonus_expense', 'expense'),
    ('platform:penalty_income', 'revenue');

CREATE TABLE platform.ledger_transactions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text   NOT NULL CHECK (kind IN ('collection', 'settlement', 'payout', 'withdrawal')),
    -- One transaction per reason: posting it twice is a unique violation.
    reference   text   NOT NULL UNIQUE,
    description text   NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE platform.ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  bigint NOT NULL REFERENCES platform.ledger_transactions (id),
    account_id      bigint NOT NULL REFERENCES platform.ledger_accounts (id),
    amount_fen      bigint NOT NULL CHECK (amount_fen <> 0)
);
CREATE INDEX ledger_entries_transaction_idx ON platform.ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account_idx ON platform.ledger_entries (account_id);

-- Every transaction balances: checked once per transaction at commit time.
CREATE FUNCTION platform.check_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
BEGIN
    SELECT COALESCE(sum(amount_fen), 0) INTO total FROM platform.ledger_entries WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: debits minus credits = % fen', NEW.transaction_id, total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT OR UPDATE ON platform.ledger_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION platform.check_transaction_balanced();

-- Entries are history: never changed or removed.
CREATE FUNCTION platform.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON platform.ledger_entries
    FOR EACH ROW EXECUTE FUNCTION platform.refuse_ledger_change();

-- One run per period (an ISO week such as 2026-W47).
CREATE TABLE platform.payout_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    period        text   NOT NULL UNIQUE,
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    status        text   NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CHECK (period_end > period_start)
);

-- One line per cleaner and run.
CREATE TABLE platform.payout_items (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES platform.payout_runs (id),
    cleaner_id      bigint NOT NULL REFERENCES platform.cleaners (id),
    status          text   NOT NULL DEFAULT 'settled' CHECK (status IN ('settled', 'paid')),
    orders          integer NOT NULL CHECK (orders >= 0),
    gross_fen       bigint NOT NULL CHECK (gross_fen >= 0),
    commission_fen  bigint NOT NULL CHECK (commission_fen >= 0),
    bonus_fen       bigint NOT NULL CHECK (bonus_fen >= 0),
    penalty_fen     bigint NOT NULL CHECK (penalty_fen >= 0),
    carried_in_fen  bigint NOT NULL CHECK (carried_in_fen >= 0),
    net_fen         bigint NOT NULL,
    payable_fen     bigint NOT NULL CHECK (payable_fen >= 0),
    carry_out_fen   bigint NOT NULL CHECK (carry_out_fen >= 0),
    provider_reference text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    paid_at         timestamptz,
    UNIQUE (run_id, cleaner_id),
    CHECK (net_fen = gross_fen - commission_fen + bonus_fen - penalty_fen - carried_in_fen),
    CHECK (payable_fen = GREATEST(net_fen, 0) AND carry_out_fen = GREATEST(-net_fen, 0)),
    CHECK ((status = 'paid') = (paid_at IS NOT NULL))
);

ALTER TABLE platform.orders ADD COLUMN payout_item_id bigint REFERENCES platform.payout_items (id);
CREATE INDEX orders_unsettled_idx ON platform.orders (cleaner_id, completed_at)
    WHERE status = '已完成' AND payout_item_id IS NULL;
CREATE INDEX reviews_created_idx ON platform.reviews (created_at);
CREATE INDEX complaints_resolved_idx ON platform.complaints (resolved_at) WHERE status = 'upheld';

CREATE TABLE platform.withdrawals (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cleaner_id    bigint NOT NULL REFERENCES platform.cleaners (id),
    amount_fen    bigint NOT NULL CHECK (amount_fen > 0),
    status        text   NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'paid', 'rejected')),
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    CHECK ((status = 'requested') = (processed_at IS NULL))
);
