-- Two SQL API functions (0012, newest copies in 0012 and 0018) in a form a Citus
-- cluster runs; on one server they write and return the same as before.
-- docs/scaling.md, "Citus".
--
-- queue.cancel_waiting_jobs: the error entry no longer hands a column (attempt) to a
-- STABLE JSON builder, which Citus refuses in an UPDATE on a distributed table
-- ("STABLE functions used in UPDATE queries cannot be called with column references").
-- The entry is built without the column (no column: Citus evaluates it once on the
-- coordinator), and the attempt is set into it with IMMUTABLE operations; appending an
-- object to the errors array adds it as one element. On a cluster the statement runs
-- on every shard (it is not routed: a tag is not the queue).
CREATE OR REPLACE FUNCTION queue.cancel_waiting_jobs(tag text, reason text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cancelled integer;
BEGIN
    UPDATE queue.jobs SET state = 'cancelled', finalized_at = now(),
        errors = errors || jsonb_set(
            jsonb_build_object('at', now(), 'error', 'cancelled: ' || cancel_waiting_jobs.reason),
            '{attempt}', attempt::text::jsonb)
    WHERE tags @> ARRAY[cancel_waiting_jobs.tag]::text[] AND tags <> '{}'
      AND state IN ('pending', 'scheduled', 'available', 'retryable');
    GET DIAGNOSTICS cancelled = ROW_COUNT;
    RETURN cancelled;
END $$;

-- queue.enqueue_many: the holders of taken unique keys are looked up in one join with
-- the keys, not in a LATERAL sub-query per element, which Citus does not run against a
-- distributed table ("cannot perform a lateral outer join when a distributed subquery
-- references a table function"). Body otherwise as in 0018.
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
    LEFT JOIN (
        SELECT DISTINCT ON (j.unique_key) j.unique_key, j.id FROM queue.jobs AS j
        WHERE j.unique_key = ANY(keys) AND (
            j.unique_scope = 'always' OR j.state IN ('pending', 'scheduled', 'available', 'running', 'retryable'))
        ORDER BY j.unique_key, j.id
    ) AS holder ON r.id IS NULL AND holder.unique_key = r.unique_key
    ORDER BY r.ordinal;
END $$;
