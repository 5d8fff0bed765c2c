-- The platform's customer-keyed, high-volume tables on a Citus cluster: distributed
-- on customer_id and co-located with each other. Run once on the coordinator after
-- 0001–0004 (`scripts/citus.sh distribute`); a single server never runs it.
-- docs/scaling.md, "Citus", "The platform's tables".
--
-- Each of these tables is written in bulk by one job (the nightly recommendations,
-- a campaign's launch and batches, the points expiry) or read per customer, and
-- grows with the customer base times nights, campaigns or earnings: they are what
-- outgrows one server first. Their keys already contain customer_id (or get it
-- here), nothing references them, and they carry no trigger.
--
-- Citus refuses a foreign key from a distributed table to an ordinary table on the
-- coordinator, and the tables they reference (customers, cleaners, orders, coupons,
-- campaigns, campaign_batches) stay there (the statistics triggers with transition
-- tables fail on any table Citus manages). The foreign keys are dropped; what still
-- guarantees each reference: every row is written by one of the platform's own
-- statements that takes the referenced id from the referenced table (or its own
-- insert) in the same statement, and no role may delete a customer, cleaner, order,
-- coupon, campaign or campaign batch (RolePrivilegesTests: nobody holds DELETE on
-- them). docs/scaling.md lists them table by table.

SET LOCAL client_min_messages = warning;

-- Nightly recommendations: written by cleaner.recommend (RecommendCleaners) from
-- the customers' orders and the cleaners table in one INSERT … SELECT.
ALTER TABLE platform.cleaner_recommendations
    DROP CONSTRAINT cleaner_recommendations_customer_id_fkey,
    DROP CONSTRAINT cleaner_recommendations_cleaner_id_fkey;
SELECT create_distributed_table('platform.cleaner_recommendations', 'customer_id');

-- A campaign's recipients: inserted by the launch (CampaignDesk.launch) from the
-- customers it selects, with the batches it inserts in the same statement for the
-- campaign it has locked; decided by campaign.send_batch, whose coupon ids come
-- from the coupons it inserts in the same statement.
ALTER TABLE platform.campaign_recipients
    DROP CONSTRAINT campaign_recipients_campaign_id_fkey,
    DROP CONSTRAINT campaign_recipients_customer_id_fkey,
    DROP CONSTRAINT campaign_recipients_batch_id_fkey,
    DROP CONSTRAINT campaign_recipients_coupon_id_fkey;
SELECT create_distributed_table('platform.campaign_recipients', 'customer_id',
                                colocate_with => 'platform.cleaner_recommendations');

-- The points ledger: its primary key becomes (customer_id, id). Ids still come from
-- the table's identity sequence, drawn on the coordinator where every insert is
-- planned, so an id alone stays unique; the once-per-validity-end expiry index
-- already leads with customer_id.
-- Written by points.expire (ExpirePoints) from the ledger's own rows, and by the
-- demo seed for earned points.
ALTER TABLE platform.points_ledger
    DROP CONSTRAINT points_ledger_customer_id_fkey,
    DROP CONSTRAINT points_ledger_order_id_fkey,
    DROP CONSTRAINT points_ledger_pkey,
    ADD PRIMARY KEY (customer_id, id);
SELECT create_distributed_table('platform.points_ledger', 'customer_id',
                                colocate_with => 'platform.cleaner_recommendations');
