-- Each backend takes the job table's ids 1 000 at a time (the sequence's cache), so
-- concurrent producers stop writing into the same b-tree leaves.
--
-- With one id at a time, concurrent bulk enqueues draw interleaved ids and every one of
-- them inserts into the primary key's last leaf (and, with the same run-at, the claim
-- index's): at 16 producers the insert waited on LWLock:BufferContent in as many
-- pg_stat_activity samples as it ran on the CPU. With a cache, a batch's ids are
-- contiguous and batches of different backends go to different leaves. Measured with
-- `bench queue adapter` (N = 40 000, a fresh database each run, cache 1 and 1 000
-- alternating, 4 pairs each): 4 producers 128–157 → 157–195 thousand jobs/s, 16 producers
-- 105–141 → 138–177 thousand (docs/performance-queue.md, "Bulk enqueue").
--
-- What it changes: ids still grow within a session (so a batch's ids still come back in
-- request order), but across sessions they no longer follow the order of the inserts —
-- they never followed commit order either. The claim order is (priority, run_at, id):
-- id only breaks a tie of equal run-at timestamps (microseconds), which now is not
-- cross-session enqueue order. A backend that exits leaves its unused ids as a gap (up
-- to 999 per backend; bigint). Nothing reads ids as a high-water mark.
--
-- On a Citus cluster the sequence is left as it is: Citus gives the distributed table's
-- sequence its own per-node ranges, and the cluster spreads inserts over shards anyway.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        ALTER SEQUENCE queue.jobs_id_seq CACHE 1000;
    END IF;
END
$$;
