-- The SQL enqueue functions (0012) without naming the unique index they skip on:
-- `ON CONFLICT DO NOTHING` instead of `ON CONFLICT (unique_key) WHERE …`. On one
-- server nothing changes (ids come from the sequence, so the only key that can
-- conflict is jobs_unique_key_idx). On a Citus cluster that index becomes
-- (queue, unique_key) (sql/citus/0001_distribute.sql: every unique index must
-- include the distribution column), which the old arbiter clause no longer names;
-- without one, the same functions run on both. Bodies otherwise as in 0012.

CREATE OR REPLACE FUNCTION queue.enqueue_job(
    kind text, args jsonb DEFAULT '{}', queue text DEFAULT 'default', priority integer DEFAULT 0,
    run_at timestamptz DEFAULT NULL, max_attempts integer DEFAULT 20, tags text[] DEFAULT '{}',
    unique_key text DEFAULT NULL, unique_scope text DEFAULT 'active', deadline timestamptz DEFAULT NULL,
    depends_on bigint[] DEFAULT '{}', batch_id text DEFAULT NULL, callback_for_batch text DEFAULT NULL,
    OUT id bigint, OUT inserted boolean
)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    problem text := queue.enqueue_problem(
        enqueue_job.kind, enqueue_job.args, enqueue_job.queue, enqueue_job.priority, enqueue_job.max_attempts,
        COALESCE(enqueue_job.tags, '{}'), enqueue_job.unique_key, enqueue_job.unique_scope,
        COALESCE(enqueue_job.depends_on, '{}'), enqueue_job.callback_for_batch);
    starts_at timestamptz := COALESCE(enqueue_job.run_at, now());
    new_state text;
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'queue.enqueue: %', problem USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO queue.jobs AS j (kind, queue, args, priority, run_at, max_attempts, tags, unique_key, unique_scope,
                                 deadline_at, depends_on, batch_id, callback_for_batch, state)
    VALUES (enqueue_job.kind, enqueue_job.queue, enqueue_job.args, enqueue_job.priority, starts_at,
            enqueue_job.max_attempts, COALESCE(enqueue_job.tags, '{}'), enqueue_job.unique_key, enqueue_job.unique_scope,
            enqueue_job.deadline, COALESCE(enqueue_job.depends_on, '{}'), enqueue_job.batch_id,
            enqueue_job.callback_for_batch,
            queue.initial_state(COALESCE(enqueue_job.depends_on, '{}'), enqueue_job.callback_for_batch, starts_at))
    -- A taken unique key (jobs_unique_key_idx) skips the row; the id comes from the
    -- sequence, so no other key can conflict.
    ON CONFLICT DO NOTHING
    RETURNING j.id, j.state INTO enqueue_job.id, new_state;
    IF enqueue_job.id IS NOT NULL THEN
        inserted := true;
        IF new_state = 'available' THEN
            PERFORM pg_notify('queue_jobs', enqueue_job.queue);
        END IF;
        RETURN;
    END IF;
    inserted := false;
    SELECT j.id INTO enqueue_job.id FROM queue.jobs AS j
    WHERE j.unique_key = enqueue_job.unique_key AND (
        j.unique_scope = 'always' OR j.state IN ('pending', 'scheduled', 'available', 'running', 'retryable'));
    IF enqueue_job.id IS NULL THEN
        RAISE EXCEPTION 'queue.enqueue: the job was not inserted and no job holds its unique key %', enqueue_job.unique_key
            USING ERRCODE = 'serialization_failure', HINT = 'the holder finished meanwhile; retry the transaction';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION queue.enqueue_many(jobs jsonb) RETURNS TABLE (ordinal bigint, id bigint, inserted boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    refused record;
    ordinals bigint[];
    ids bigint[];
    keys text[];
BEGIN
    IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN
        RAISE EXCEPTION 'queue.enqueue_many: jobs must be a JSON array of job objects, got %',
            COALESCE(jsonb_typeof(jobs), 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT e.ordinal, queue.job_object_problem(e.job) AS problem INTO refused
    FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(job, ordinal)
    WHERE queue.job_object_problem(e.job) IS NOT NULL ORDER BY e.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'queue.enqueue_many: job %: %', refused.ordinal, refused.problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT e.ordinal, queue.enqueue_problem(
               x.kind, COALESCE(x.args, '{}'), COALESCE(x.queue, 'default'), COALESCE(x.priority, 0),
               COALESCE(x.max_attempts, 20), COALESCE(x.tags, '{}'), x.unique_key, COALESCE(x.unique_scope, 'active'),
               COALESCE(x.depends_on, '{}'), x.callback_for_batch) AS problem
    INTO refused
    FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(job, ordinal)
    CROSS JOIN LATERAL jsonb_to_record(e.job) AS x(
        kind text, args jsonb, queue text, priority integer, max_attempts integer, tags text[], unique_key text,
        unique_scope text, depends_on bigint[], callback_for_batch text)
    WHERE queue.enqueue_problem(
              x.kind, COALESCE(x.args, '{}'), COALESCE(x.queue, 'default'), COALESCE(x.priority, 0),
              COALESCE(x.max_attempts, 20), COALESCE(x.tags, '{}'), x.unique_key, COALESCE(x.unique_scope, 'active'),
              COALESCE(x.depends_on, '{}'), x.callback_for_batch) IS NOT NULL
    ORDER BY e.ordinal LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'queue.enqueue_many: job %: %', refused.ordinal, refused.problem
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Ids are drawn up front so each result maps back to its element.
    WITH input AS (
        SELECT e.ordinal, x.kind, COALESCE(x.args, '{}') AS args, COALESCE(x.queue, 'default') AS queue,
               COALESCE(x.priority, 0) AS priority, COALESCE(x.run_at, now()) AS run_at,
               COALESCE(x.max_attempts, 20) AS max_attempts, COALESCE(x.tags, '{}') AS tags, x.unique_key,
               COALESCE(x.unique_scope, 'active') AS unique_scope, x.deadline, COALESCE(x.depends_on, '{}') AS depends_on,
               x.batch_id, x.callback_for_batch, nextval('queue.jobs_id_seq') AS id
        FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(job, ordinal)
        CROSS JOIN LATERAL jsonb_to_record(e.job) AS x(
            kind text, args jsonb, queue text, priority integer, run_at timestamptz, max_attempts integer, tags text[],
            unique_key text, unique_scope text, deadline timestamptz, depends_on bigint[], batch_id text,
            callback_for_batch text)
    ), inserted AS (
        INSERT INTO queue.jobs (id, kind, queue, args, priority, run_at, max_attempts, tags, unique_key, unique_scope,
                                deadline_at, depends_on, batch_id, callback_for_batch, state)
        OVERRIDING SYSTEM VALUE
        SELECT id, kind, queue, args, priority, run_at, max_attempts, tags, unique_key, unique_scope, deadline,
               depends_on, batch_id, callback_for_batch, queue.initial_state(depends_on, callback_for_batch, run_at)
        FROM input
        ORDER BY ordinal
        ON CONFLICT DO NOTHING
        RETURNING id, queue, state
    ), woken AS (
        SELECT count(pg_notify('queue_jobs', q.queue)) AS n
        FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'available') AS q
    )
    SELECT array_agg(input.ordinal ORDER BY input.ordinal), array_agg(inserted.id ORDER BY input.ordinal),
           array_agg(input.unique_key ORDER BY input.ordinal)
    INTO ordinals, ids, keys
    FROM input LEFT JOIN inserted ON inserted.id = input.id CROSS JOIN woken;
    -- A statement of its own: it sees the rows the insert wrote (a key repeated
    -- within the array is held by its first element).
    RETURN QUERY
    SELECT r.ordinal, COALESCE(r.id, holder.id), r.id IS NOT NULL
    FROM unnest(ordinals, ids, keys) AS r(ordinal, id, unique_key)
    LEFT JOIN LATERAL (
        SELECT j.id FROM queue.jobs AS j
        WHERE r.id IS NULL AND j.unique_key = r.unique_key AND (
            j.unique_scope = 'always' OR j.state IN ('pending', 'scheduled', 'available', 'running', 'retryable'))
    ) AS holder ON true
    ORDER BY r.ordinal;
END $$;
