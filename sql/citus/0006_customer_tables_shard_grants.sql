-- Column grants on the shards of the customer-keyed tables distributed by 0005 (as
-- for queue.jobs in 0003). Citus copies a distributed table's table-level grants to
-- its shards, not column-level ones, so the worker role's column rights — deciding
-- a campaign's recipients, writing points expiries — are granted on every shard.
-- A file of its own: run_command_on_shards works over connections of its own, which
-- do not see shards created in a transaction not yet committed (0005's). Re-run
-- after a shard split.

DO $$
BEGIN
    IF EXISTS (
        SELECT FROM run_command_on_shards('platform.campaign_recipients',
            $cmd$GRANT UPDATE (status, suppression, coupon_id, decided_at) ON %s TO cleaning_worker$cmd$)
        WHERE NOT success
        UNION ALL
        SELECT FROM run_command_on_shards('platform.points_ledger',
            $cmd$GRANT INSERT (customer_id, delta, reason, expiry_of, created_at) ON %s TO cleaning_worker$cmd$)
        WHERE NOT success
    ) THEN
        RAISE EXCEPTION 'granting the worker role its columns on a shard failed';
    END IF;
END $$;
