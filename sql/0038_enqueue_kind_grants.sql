-- Which job kinds a caller of the SQL API's enqueue functions may enqueue.
--
-- queue.enqueue and queue.enqueue_many run as their definer, so that the front end's
-- role (cleaning_app, 0012) holds no right on queue.jobs. Until now that made them a
-- way around it: an app could enqueue any kind with arguments of its choosing — a
-- cleaner's payment, a campaign's batch, a payout run's finish. Now a caller that may
-- insert into queue.jobs itself (the workers, finance, operators, an owner, a
-- superuser) is not limited (the functions give it nothing it lacks), and any other
-- caller may enqueue a kind only when a role it belongs to holds that kind in
-- queue.enqueue_grants. The engine keeps the table; the platform's rows are below.
--
-- The caller is the role in force outside these functions (inside a SECURITY DEFINER
-- function current_user is its owner): the session's SET ROLE when one is set, else
-- the login role (a PgBouncer pool's login, a member of cleaning_app).

CREATE TABLE queue.enqueue_grants (
    grantee name NOT NULL,
    kind    text NOT NULL CHECK (NOT queue.is_blank(kind)),
    PRIMARY KEY (grantee, kind)
);

-- Why the caller may not enqueue a job of `kind`, or NULL when it may.
CREATE FUNCTION queue.enqueue_refusal(kind text) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
RETURN (
    SELECT CASE
        -- A missing or blank kind is refused by the validation that follows.
        WHEN enqueue_refusal.kind IS NULL OR queue.is_blank(enqueue_refusal.kind) THEN NULL
        WHEN has_table_privilege(c.name, 'queue.jobs', 'INSERT') THEN NULL
        WHEN EXISTS (
            SELECT 1 FROM queue.enqueue_grants AS g JOIN pg_roles AS r ON r.rolname = g.grantee
            WHERE g.kind = enqueue_refusal.kind AND pg_has_role(c.name, r.oid, 'MEMBER'))
        THEN NULL
        ELSE format('role %s may not enqueue jobs of kind %s (a role it belongs to needs a row in queue.enqueue_grants)',
                    c.name, enqueue_refusal.kind)
    END
    FROM (SELECT COALESCE(NULLIF(current_setting('role'), 'none'), session_user::text) AS name) AS c);

-- One job (0012), now only of a kind the caller may enqueue; otherwise as before.
CREATE OR REPLACE FUNCTION queue.enqueue(
    kind text, args jsonb DEFAULT '{}', queue text DEFAULT 'default', priority integer DEFAULT 0,
    run_at timestamptz DEFAULT NULL, max_attempts integer DEFAULT 20, tags text[] DEFAULT '{}',
    unique_key text DEFAULT NULL, unique_scope text DEFAULT 'active', deadline timestamptz DEFAULT NULL,
    depends_on bigint[] DEFAULT '{}', batch_id text DEFAULT NULL, callback_for_batch text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    refusal text := queue.enqueue_refusal(enqueue.kind);
    job bigint;
BEGIN
    IF refusal IS NOT NULL THEN
        RAISE EXCEPTION 'queue.enqueue: %', refusal USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT e.id INTO job FROM queue.enqueue_job(
        enqueue.kind, enqueue.args, enqueue.queue, enqueue.priority, enqueue.run_at, enqueue.max_attempts, enqueue.tags,
        enqueue.unique_key, enqueue.unique_scope, enqueue.deadline, enqueue.depends_on, enqueue.batch_id,
        enqueue.callback_for_batch) AS e;
    RETURN job;
END $$;

-- Many jobs (newest copy: 0024), now only of kinds the caller may enqueue; otherwise
-- as before.
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
    -- Only kinds the caller may enqueue (queue.enqueue_refusal), each kind asked once.
    SELECT min(e.ordinal) AS ordinal, queue.enqueue_refusal(e.job->>'kind') AS problem INTO refused
    FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(job, ordinal)
    GROUP BY e.job->>'kind'
    HAVING queue.enqueue_refusal(e.job->>'kind') IS NOT NULL
    ORDER BY 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'queue.enqueue_many: job %: %', refused.ordinal, refused.problem
            USING ERRCODE = 'insufficient_privilege';
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

-- A filed complaint's deadlines and escalation jobs (0014): the escalations through
-- queue.enqueue_job, the platform's own way in, instead of the front end's
-- queue.enqueue, which would now ask whether the app filing the complaint may enqueue
-- escalations itself. Otherwise as before.
CREATE OR REPLACE FUNCTION platform.complaint_filed(complaint_id bigint)
RETURNS TABLE (deadline text, level text, escalate_at timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k record;
    zone text := (SELECT h.time_zone FROM platform.business_hours AS h);
BEGIN
    SELECT c.created_at, r.acknowledge_minutes, r.resolve_minutes, r.supervisor_after_minutes INTO k
    FROM platform.complaints AS c JOIN platform.complaint_sla_rules AS r ON r.severity = c.severity
    WHERE c.id = complaint_filed.complaint_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'complaint % does not exist', complaint_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE platform.complaints AS c
    SET acknowledge_due_at = platform.add_business_minutes(k.created_at, k.acknowledge_minutes, zone),
        resolve_due_at = platform.add_business_minutes(k.created_at, k.resolve_minutes, zone)
    WHERE c.id = complaint_filed.complaint_id;
    FOR deadline, level, escalate_at IN
        SELECT d.deadline, l.level,
               CASE l.level WHEN 'operator' THEN d.due
                            ELSE platform.add_business_minutes(d.due, k.supervisor_after_minutes, zone) END
        FROM platform.complaints AS c
        CROSS JOIN LATERAL (VALUES ('acknowledge', c.acknowledge_due_at), ('resolve', c.resolve_due_at)) AS d(deadline, due)
        CROSS JOIN (VALUES ('operator'), ('supervisor')) AS l(level)
        WHERE c.id = complaint_filed.complaint_id
        ORDER BY 3, 2
    LOOP
        PERFORM queue.enqueue_job(
            kind => 'complaint.escalate',
            args => jsonb_build_object('complaintID', complaint_id, 'deadline', deadline, 'level', level),
            queue => 'complaints', run_at => escalate_at,
            unique_key => 'complaint-escalate:' || complaint_id || ':' || deadline || ':' || level,
            unique_scope => 'always');
        RETURN NEXT;
    END LOOP;
END $$;

-- The definer owns the API's functions (0012) and reads the grants for them.
ALTER FUNCTION queue.enqueue_refusal(text) OWNER TO cleaning_api_definer;
REVOKE EXECUTE ON FUNCTION queue.enqueue_refusal(text) FROM PUBLIC;
GRANT SELECT ON queue.enqueue_grants TO cleaning_api_definer;

-- What a front end may enqueue itself: a customer's tier upgrade check after an
-- event of its own (README, "From any language"). Everything else it causes through
-- the platform.* functions.
INSERT INTO queue.enqueue_grants (grantee, kind) VALUES ('cleaning_app', 'tier.upgrade');
