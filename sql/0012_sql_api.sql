-- The SQL API: what any front end (PHP, Java, Go, Node, Python, psql) calls inside
-- its own transaction, and what the Swift API calls too — one implementation.
--
--   queue.enqueue(kind, args, ...)        one job; the id (the holder's on a unique-key duplicate)
--   queue.enqueue_many(jobs jsonb)        many jobs from a JSON array, one row per job
--   platform.book_order(...) … platform.request_withdrawal(...)
--                                         the actions with background consequences
--
-- Every function runs in the caller's transaction (its jobs and rows exist exactly
-- when the caller commits) and keeps no session state: no temporary tables, no
-- session settings, no prepared statements a caller must keep, so each works
-- through a transaction-pooling PgBouncer. Bad input is a clear error — SQLSTATE
-- 22023 (invalid_parameter_value) naming the parameter, 55000
-- (object_not_in_prerequisite_state) naming the order and its status for an
-- illegal transition, P0002 (no_data_found) for a missing order — and writes nothing.
--
-- Roles:
--   cleaning_api_definer  NOLOGIN; owns the SECURITY DEFINER functions and holds
--                         exactly the rights their statements need (nobody logs in as it).
--   cleaning_app          NOLOGIN; the front end's group role: EXECUTE on the API,
--                         SELECT on what an app shows; no access to queue.jobs, the
--                         ledger or payouts but through the functions.
--
--   CREATE ROLE shop_backend LOGIN PASSWORD '…' IN ROLE cleaning_app;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_api_definer') THEN
        CREATE ROLE cleaning_api_definer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_app') THEN
        CREATE ROLE cleaning_app NOLOGIN;
    END IF;
    -- Handing the functions to their owner below needs membership in it (a
    -- superuser has it implicitly).
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT cleaning_api_definer TO %I', current_user);
    END IF;
END $$;

-- ---------------------------------------------------------------------------
-- The queue
-- ---------------------------------------------------------------------------

-- The state a new job starts in: `pending` while it waits on dependencies or is a
-- batch callback, else `available` once its run-at has come (JobReadiness in
-- Swift), else `scheduled`. Every enqueue path uses this rule. (Pure functions of
-- their arguments like this one carry no search_path setting, so the planner can
-- inline them; every name in them is qualified.)
CREATE FUNCTION queue.initial_state(depends_on bigint[], callback_for_batch text, run_at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN CASE
    WHEN cardinality(depends_on) > 0 OR callback_for_batch IS NOT NULL THEN 'pending'
    WHEN run_at <= now() THEN 'available'
    ELSE 'scheduled' END;

-- Why a job cannot be enqueued as given, or NULL when it can: the rules
-- `JobRequest.validateForEnqueue` applies in Swift (a test runs the same bad
-- inputs through both and checks each is refused). Per-kind argument shapes are
-- not known here: a worker discards a job whose arguments its handler refuses
-- (JobArgumentsError is a permanent failure).
CREATE FUNCTION queue.enqueue_problem(
    kind text, args jsonb, queue text, priority integer, max_attempts integer, tags text[], unique_key text,
    unique_scope text, depends_on bigint[], callback_for_batch text
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN kind IS NULL OR queue.is_blank(kind) OR length(kind) > 200
        THEN 'kind must be 1 to 200 characters, not blank'
    WHEN queue IS NULL OR queue.is_blank(queue) OR length(queue) > 100
        THEN 'queue must be 1 to 100 characters, not blank'
    WHEN args IS NULL OR jsonb_typeof(args) <> 'object'
        THEN 'args must be a JSON object, got ' || COALESCE(jsonb_typeof(args), 'NULL')
    WHEN octet_length(args::text) > 262144
        THEN 'args are ' || octet_length(args::text) || ' bytes; the limit is 262144'
    WHEN priority IS NULL OR priority NOT BETWEEN 0 AND 32767
        THEN 'priority must be between 0 and 32767, got ' || COALESCE(priority::text, 'NULL')
    WHEN max_attempts IS NULL OR max_attempts < 1
        THEN 'max_attempts must be at least 1, got ' || COALESCE(max_attempts::text, 'NULL')
    WHEN unique_key IS NOT NULL AND queue.is_blank(unique_key)
        THEN 'unique_key must not be blank'
    WHEN octet_length(unique_key) > 1000
        THEN 'unique_key must be 1 to 1000 bytes, got ' || octet_length(unique_key)
    WHEN unique_scope IS NULL OR unique_scope NOT IN ('active', 'always')
        THEN 'unique_scope must be active or always, got ' || COALESCE(unique_scope, 'NULL')
    WHEN EXISTS (SELECT 1 FROM unnest(tags) AS t(tag) WHERE tag IS NULL OR queue.is_blank(tag))
        THEN 'a tag must not be blank'
    WHEN EXISTS (SELECT 1 FROM unnest(tags) AS t(tag) WHERE octet_length(tag) > 200)
        THEN 'a tag must be 1 to 200 bytes'
    WHEN array_position(depends_on, NULL) IS NOT NULL
        THEN 'depends_on must not contain NULL'
    WHEN cardinality(depends_on) > 0 AND callback_for_batch IS NOT NULL
        THEN 'a batch callback cannot also depend on jobs; put it in the batch''s workflow'
    END;

-- One job. Returns its id and whether it was inserted (false: a job holding the
-- same unique key already existed, and `id` is that job). An available job wakes
-- its queue's idle workers through NOTIFY on `queue_jobs` (JobChannel), delivered
-- at commit. The Swift client's `enqueue(_:)` calls this.
CREATE FUNCTION queue.enqueue_job(
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
    -- The predicate of jobs_unique_key_idx: the states in which a job holds its key.
    ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND (
        unique_scope = 'always' OR state IN ('pending', 'scheduled', 'available', 'running', 'retryable'))
    DO NOTHING
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

-- One job; returns its id, or the id of the job already holding its unique key.
-- Named parameters after the first two:
--   SELECT queue.enqueue('order.reminder', '{"orderID": 7, …}', queue => 'reminders',
--                        run_at => now() + interval '1 hour', unique_key => 'reminder:7');
CREATE FUNCTION queue.enqueue(
    kind text, args jsonb DEFAULT '{}', queue text DEFAULT 'default', priority integer DEFAULT 0,
    run_at timestamptz DEFAULT NULL, max_attempts integer DEFAULT 20, tags text[] DEFAULT '{}',
    unique_key text DEFAULT NULL, unique_scope text DEFAULT 'active', deadline timestamptz DEFAULT NULL,
    depends_on bigint[] DEFAULT '{}', batch_id text DEFAULT NULL, callback_for_batch text DEFAULT NULL
) RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
RETURN (SELECT e.id FROM queue.enqueue_job(
    kind, args, queue, priority, run_at, max_attempts, tags, unique_key, unique_scope, deadline, depends_on, batch_id,
    callback_for_batch) AS e);

-- Why one element of queue.enqueue_many's array is not a job object, or NULL.
CREATE FUNCTION queue.job_object_problem(job jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN jsonb_typeof(job) <> 'object' THEN 'not a JSON object'
    ELSE (
        SELECT string_agg(
            CASE WHEN f.key NOT IN ('kind', 'args', 'queue', 'priority', 'run_at', 'max_attempts', 'tags', 'unique_key',
                                    'unique_scope', 'deadline', 'depends_on', 'batch_id', 'callback_for_batch')
                 THEN 'unknown field "' || f.key || '"'
                 ELSE f.key || ' must be ' || CASE
                     WHEN f.key IN ('priority', 'max_attempts') THEN 'an integer'
                     WHEN f.key IN ('tags') THEN 'an array of texts'
                     WHEN f.key IN ('depends_on') THEN 'an array of job ids'
                     WHEN f.key = 'args' THEN 'a JSON object'
                     ELSE 'a text' END END,
            '; ' ORDER BY f.key)
        FROM jsonb_each(job) AS f(key, value)
        WHERE f.value <> 'null'::jsonb AND NOT CASE
            WHEN f.key IN ('kind', 'queue', 'run_at', 'unique_key', 'unique_scope', 'deadline', 'batch_id',
                           'callback_for_batch') THEN jsonb_typeof(f.value) = 'string'
            WHEN f.key = 'args' THEN jsonb_typeof(f.value) = 'object'
            WHEN f.key IN ('priority', 'max_attempts') THEN jsonb_typeof(f.value) = 'number' AND f.value::text ~ '^-?[0-9]+$'
            WHEN f.key = 'tags' THEN jsonb_typeof(f.value) = 'array'
                AND NOT jsonb_path_exists(f.value, '$[*] ? (@.type() != "string")')
            WHEN f.key = 'depends_on' THEN jsonb_typeof(f.value) = 'array'
                AND NOT jsonb_path_exists(f.value, '$[*] ? (@.type() != "number" || @ < 1 || @.floor() != @)')
            ELSE false END)
    END;

-- Many jobs in one statement from a JSON array of objects with the parameters of
-- queue.enqueue as fields ("kind" and "args" required, times as ISO 8601 texts):
--   SELECT * FROM queue.enqueue_many('[{"kind": "a", "args": {}}, {"kind": "b", "args": {}, "priority": 5}]');
-- One row per element, in order: its 1-based ordinal, the job id and whether it
-- was inserted (false: the job already holding its unique key). One NOTIFY per
-- queue that got available work, at commit. Any bad element refuses the whole call.
CREATE FUNCTION queue.enqueue_many(jobs jsonb) RETURNS TABLE (ordinal bigint, id bigint, inserted boolean)
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
        ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND (
            unique_scope = 'always' OR state IN ('pending', 'scheduled', 'available', 'running', 'retryable'))
        DO NOTHING
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

-- Cancels every waiting (not yet running) job carrying `tag` — e.g. the reminders
-- of an order that moved; returns how many. The Swift `cancelWaitingJobs` calls
-- this. (`tags <> '{}'` repeats the predicate of the partial GIN index on tags.)
CREATE FUNCTION queue.cancel_waiting_jobs(tag text, reason text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cancelled integer;
BEGIN
    UPDATE queue.jobs SET state = 'cancelled', finalized_at = now(),
        errors = errors || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at', now(),
            'error', 'cancelled: ' || cancel_waiting_jobs.reason))
    WHERE tags @> ARRAY[cancel_waiting_jobs.tag]::text[] AND tags <> '{}'
      AND state IN ('pending', 'scheduled', 'available', 'retryable');
    GET DIAGNOSTICS cancelled = ROW_COUNT;
    RETURN cancelled;
END $$;

-- ---------------------------------------------------------------------------
-- The platform: the order life cycle and the other actions of a front end
-- ---------------------------------------------------------------------------
-- Every action takes `as_of` last (default now()): the moment it happens, used for
-- the row's timestamps and for which reminders are still ahead. Imports and tests
-- pass it; a front end leaves it out (platform.check_action_time).

-- The order statuses as stored (`OrderStatus` in Swift; a test checks they agree):
-- waiting, accepted, in_service, completed, cancelled. NULL for any other name.
CREATE FUNCTION platform.order_status(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE name
    WHEN 'waiting' THEN '待接单'
    WHEN 'accepted' THEN '已接单'
    WHEN 'in_service' THEN '服务中'
    WHEN 'completed' THEN '已完成'
    WHEN 'cancelled' THEN '已取消' END;

-- Refuses an `as_of` more than five minutes from now when the caller logged in as
-- a front end (a member of cleaning_app): an app may not backdate an order's
-- completion into a week already paid out, say. Imports run as another role.
CREATE FUNCTION platform.check_action_time(as_of timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF as_of IS NULL THEN
        RAISE EXCEPTION 'as_of must not be NULL (leave it out for now)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF abs(extract(epoch FROM as_of - now())) > 300
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = session_user)
       AND pg_catalog.pg_has_role(session_user, 'cleaning_app', 'MEMBER') THEN
        RAISE EXCEPTION 'as_of % is more than 5 minutes from now; a front end acts at the present time', as_of
            USING ERRCODE = 'invalid_parameter_value', HINT = 'leave as_of out';
    END IF;
END $$;

-- The order, locked for the action `action`, which may happen only in the statuses
-- named in `allowed`; otherwise a clear error naming the order and its status.
CREATE FUNCTION platform.lock_order(order_id bigint, action text, allowed text[]) RETURNS platform.orders
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders;
    statuses text[] := ARRAY(SELECT platform.order_status(a) FROM unnest(allowed) AS a);
BEGIN
    SELECT * INTO found_order FROM platform.orders AS o WHERE o.id = lock_order.order_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order % does not exist, so it cannot be %', COALESCE(order_id::text, 'NULL'), action
            USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT found_order.status = ANY (statuses) THEN
        RAISE EXCEPTION 'order % is %, so it cannot be % (only when %)', order_id, found_order.status, action,
            array_to_string(statuses, ' or ')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN found_order;
END $$;

-- Queues one message: an outbox row and its dispatch job. The dedupe key makes
-- queueing the same message twice a no-op (returns NULL). The Swift
-- `NotificationOutbox.queue` calls this.
CREATE FUNCTION platform.queue_notification(
    template text, params jsonb, recipient text, time_zone text, dedupe_key text, as_of timestamptz DEFAULT now()
) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    notification_id bigint;
BEGIN
    INSERT INTO platform.notifications (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
    SELECT t.code, queue_notification.params, t.channel, queue_notification.recipient, queue_notification.time_zone,
           queue_notification.dedupe_key, queue_notification.as_of + t.validity_minutes * interval '1 minute'
    FROM platform.notification_templates AS t WHERE t.code = queue_notification.template
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id INTO notification_id;
    IF notification_id IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM platform.notification_templates AS t WHERE t.code = queue_notification.template) THEN
            RAISE EXCEPTION 'unknown notification template %', template USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN NULL;
    END IF;
    -- DispatchNotification: queue "notifications", 8 attempts, one job per message.
    PERFORM queue.enqueue_job('notification.dispatch', jsonb_build_object('notificationID', notification_id),
        queue => 'notifications', max_attempts => 8, unique_key => 'dispatch:' || notification_id);
    RETURN notification_id;
END $$;

-- Tells the customer about a status change of their order (once per order and status).
CREATE FUNCTION platform.notify_order_status(order_id bigint, status text, as_of timestamptz) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT platform.queue_notification('order_status',
        jsonb_build_object('order', o.id::text, 'status', notify_order_status.status), c.phone, c.time_zone,
        'status:' || o.id || ':' || notify_order_status.status, notify_order_status.as_of)
    FROM platform.orders AS o JOIN platform.customers AS c ON c.id = o.customer_id
    WHERE o.id = notify_order_status.order_id;
END;

-- One reminder of an order (OrderReminder in Swift: kind "order.reminder", queue
-- "reminders"), or nothing when its time has passed; true when a new reminder job
-- was enqueued. It carries the appointment it
-- was made for; when it runs it does nothing if the order moved, closed or changed
-- cleaner since. Tags: "order:N" (every reminder), "order:N:timed" (tied to the
-- appointment time), "order:N:cleaner" (for the assigned cleaner).
CREATE FUNCTION platform.schedule_order_reminder(
    order_id bigint, moment text, appointment timestamptz, cleaner_id bigint, as_of timestamptz
) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    lead_time interval := CASE moment
        WHEN 'customer_24h' THEN interval '24 hours'
        WHEN 'customer_2h' THEN interval '2 hours'
        WHEN 'cleaner_1h' THEN interval '1 hour' END;
    for_cleaner boolean := moment IN ('cleaner_assigned', 'cleaner_1h');
    starts_at timestamptz := COALESCE(appointment - lead_time, as_of);
    appointment_epoch bigint := trunc(extract(epoch FROM appointment))::bigint;
BEGIN
    IF moment NOT IN ('customer_24h', 'customer_2h', 'cleaner_assigned', 'cleaner_1h') THEN
        RAISE EXCEPTION 'unknown reminder moment %', moment USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lead_time IS NOT NULL AND starts_at <= as_of THEN
        RETURN false;
    END IF;
    RETURN (SELECT e.inserted FROM queue.enqueue_job('order.reminder',
        jsonb_strip_nulls(jsonb_build_object(
            'orderID', order_id, 'moment', moment, 'appointmentAt', appointment_epoch,
            'cleanerID', CASE WHEN for_cleaner THEN cleaner_id END)),
        queue => 'reminders', run_at => starts_at, max_attempts => 10,
        tags => ARRAY['order:' || order_id]
            || CASE WHEN lead_time IS NOT NULL THEN ARRAY['order:' || order_id || ':timed'] ELSE '{}' END
            || CASE WHEN for_cleaner THEN ARRAY['order:' || order_id || ':cleaner'] ELSE '{}' END,
        unique_key => 'reminder:' || order_id || ':' || moment || ':' || appointment_epoch
            || CASE WHEN for_cleaner THEN ':' || cleaner_id ELSE '' END,
        unique_scope => 'always') AS e);
END $$;

-- Books an order and schedules the customer's 24 h and 2 h reminders; returns its id.
CREATE FUNCTION platform.book_order(
    customer_id bigint, service_type_id integer, address text, latitude double precision, longitude double precision,
    appointment_start timestamptz, duration_minutes integer, amount_fen bigint, discount_fen bigint DEFAULT 0,
    coupon_id bigint DEFAULT NULL, special_needs text DEFAULT NULL, as_of timestamptz DEFAULT now()
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    order_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF appointment_start IS NULL THEN
        RAISE EXCEPTION 'platform.book_order: appointment_start must be given' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF address IS NULL OR queue.is_blank(address) THEN
        RAISE EXCEPTION 'platform.book_order: address must not be blank' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.orders (customer_id, service_type_id, address, latitude, longitude, appointment_start,
        duration_minutes, amount_fen, discount_fen, paid_fen, coupon_id, special_needs, created_at)
    VALUES (book_order.customer_id, book_order.service_type_id, book_order.address, book_order.latitude,
        book_order.longitude, book_order.appointment_start, book_order.duration_minutes, book_order.amount_fen,
        book_order.discount_fen, book_order.amount_fen - book_order.discount_fen, book_order.coupon_id,
        book_order.special_needs, book_order.as_of)
    RETURNING id INTO order_id;
    PERFORM platform.schedule_order_reminder(order_id, 'customer_24h', appointment_start, NULL, as_of);
    PERFORM platform.schedule_order_reminder(order_id, 'customer_2h', appointment_start, NULL, as_of);
    RETURN order_id;
END $$;

-- A cleaner accepts (or is given) the order, also from another cleaner: the
-- previous cleaner's reminders are cancelled, the new cleaner is told at once and
-- reminded 1 h before; the customer is notified of the status change.
CREATE FUNCTION platform.assign_order(order_id bigint, cleaner_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders := platform.lock_order(order_id, 'assigned', ARRAY['waiting', 'accepted']);
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF cleaner_id IS NULL OR NOT EXISTS (SELECT 1 FROM platform.cleaners AS c WHERE c.id = assign_order.cleaner_id) THEN
        RAISE EXCEPTION 'platform.assign_order: cleaner % does not exist', COALESCE(cleaner_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE platform.orders AS o
    SET cleaner_id = assign_order.cleaner_id, status = platform.order_status('accepted'), accepted_at = as_of
    WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id || ':cleaner', 'reassigned');
    PERFORM platform.schedule_order_reminder(order_id, 'cleaner_assigned', found_order.appointment_start, cleaner_id, as_of);
    PERFORM platform.schedule_order_reminder(order_id, 'cleaner_1h', found_order.appointment_start, cleaner_id, as_of);
    PERFORM platform.notify_order_status(order_id, platform.order_status('accepted'), as_of);
END $$;

-- Moves the appointment of an order not yet started: the reminders for the old
-- time are cancelled and new ones scheduled.
CREATE FUNCTION platform.reschedule_order(
    order_id bigint, appointment_start timestamptz, as_of timestamptz DEFAULT now()
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders := platform.lock_order(order_id, 'rescheduled', ARRAY['waiting', 'accepted']);
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF appointment_start IS NULL THEN
        RAISE EXCEPTION 'platform.reschedule_order: appointment_start must be given'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE platform.orders AS o SET appointment_start = reschedule_order.appointment_start WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id || ':timed', 'order rescheduled');
    PERFORM platform.schedule_order_reminder(order_id, 'customer_24h', appointment_start, NULL, as_of);
    PERFORM platform.schedule_order_reminder(order_id, 'customer_2h', appointment_start, NULL, as_of);
    IF found_order.cleaner_id IS NOT NULL THEN
        PERFORM platform.schedule_order_reminder(order_id, 'cleaner_1h', appointment_start, found_order.cleaner_id, as_of);
    END IF;
END $$;

-- Cancels an order not yet started: its reminders are cancelled, the customer notified.
CREATE FUNCTION platform.cancel_order(order_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM platform.check_action_time(as_of);
    PERFORM platform.lock_order(order_id, 'cancelled', ARRAY['waiting', 'accepted']);
    UPDATE platform.orders AS o SET status = platform.order_status('cancelled'), cancelled_at = as_of WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id, 'order cancelled');
    PERFORM platform.notify_order_status(order_id, platform.order_status('cancelled'), as_of);
END $$;

-- The cleaner starts the service: remaining reminders are cancelled, the customer notified.
CREATE FUNCTION platform.start_order(order_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM platform.check_action_time(as_of);
    PERFORM platform.lock_order(order_id, 'started', ARRAY['accepted']);
    UPDATE platform.orders AS o SET status = platform.order_status('in_service'), started_at = as_of WHERE o.id = order_id;
    PERFORM queue.cancel_waiting_jobs('order:' || order_id, 'order started');
    PERFORM platform.notify_order_status(order_id, platform.order_status('in_service'), as_of);
END $$;

-- The account with this code, created on first use (never updated: an account
-- another transaction created meanwhile is found by the second look).
CREATE FUNCTION platform.ledger_account(code text, type text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    account_id bigint;
BEGIN
    SELECT a.id INTO account_id FROM platform.ledger_accounts AS a WHERE a.code = ledger_account.code;
    IF account_id IS NULL THEN
        INSERT INTO platform.ledger_accounts (code, type) VALUES (ledger_account.code, ledger_account.type)
        ON CONFLICT (code) DO NOTHING;
        SELECT a.id INTO STRICT account_id FROM platform.ledger_accounts AS a WHERE a.code = ledger_account.code;
    END IF;
    RETURN account_id;
END $$;

-- Completes the order: the customer's payment enters the ledger (cash in, held in
-- order clearing until the cleaner's settlement; posted once per order), the
-- customer's tier is re-checked by a job, and the customer is notified.
CREATE FUNCTION platform.complete_order(order_id bigint, as_of timestamptz DEFAULT now()) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_order platform.orders := platform.lock_order(order_id, 'completed', ARRAY['in_service']);
    paid bigint := found_order.paid_fen - found_order.refunded_fen;
    collection bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    UPDATE platform.orders AS o SET status = platform.order_status('completed'), completed_at = as_of WHERE o.id = order_id;
    INSERT INTO platform.ledger_transactions (kind, reference, description)
    VALUES ('collection', 'collection:' || order_id, 'payment for order ' || order_id)
    ON CONFLICT (reference) DO NOTHING
    RETURNING id INTO collection;
    IF collection IS NOT NULL AND paid <> 0 THEN
        INSERT INTO platform.ledger_entries (transaction_id, account_id, amount_fen) VALUES
            (collection, platform.ledger_account('platform:cash', 'asset'), paid),
            (collection, platform.ledger_account('platform:order_clearing', 'liability'), -paid);
    END IF;
    -- UpgradeTier: one waiting upgrade per customer.
    PERFORM queue.enqueue_job('tier.upgrade', jsonb_build_object('customerID', found_order.customer_id),
        unique_key => 'tier-upgrade:' || found_order.customer_id);
    PERFORM platform.notify_order_status(order_id, platform.order_status('completed'), as_of);
END $$;

-- The customer reviews a completed order (once); returns the review's id. Reviews
-- count in the cleaner's next payout (the five-star bonus).
CREATE FUNCTION platform.review_order(
    order_id bigint, rating integer, comment text DEFAULT '', as_of timestamptz DEFAULT now()
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    review_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    PERFORM platform.lock_order(order_id, 'reviewed', ARRAY['completed']);
    IF rating IS NULL OR rating NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'platform.review_order: rating must be 1 to 5, got %', COALESCE(rating::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM platform.reviews AS r WHERE r.order_id = review_order.order_id) THEN
        RAISE EXCEPTION 'order % already has a review', order_id USING ERRCODE = 'unique_violation';
    END IF;
    INSERT INTO platform.reviews (order_id, rating, comment, created_at)
    VALUES (review_order.order_id, review_order.rating, COALESCE(review_order.comment, ''), as_of)
    RETURNING id INTO review_id;
    RETURN review_id;
END $$;

-- The customer complains about an order in service or completed; returns the
-- complaint's id. An upheld complaint counts in the cleaner's payout.
CREATE FUNCTION platform.file_complaint(order_id bigint, reason text, as_of timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    complaint_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    PERFORM platform.lock_order(order_id, 'complained about', ARRAY['in_service', 'completed']);
    IF reason IS NULL OR queue.is_blank(reason) THEN
        RAISE EXCEPTION 'platform.file_complaint: reason must not be blank' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.complaints (order_id, reason, created_at)
    VALUES (file_complaint.order_id, file_complaint.reason, as_of)
    RETURNING id INTO complaint_id;
    RETURN complaint_id;
END $$;

-- Sends a verification code by SMS; returns the message's id. Flow control (how
-- many codes a number may get per minute, hour and day) applies when it is sent,
-- as for every verification message; a refused one ends `failed` with the reason.
-- The app keeps the code to check what the user types.
CREATE FUNCTION platform.request_verification_code(phone text, code text, as_of timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF phone IS NULL OR phone !~ '^\+?[0-9]{6,15}$' THEN
        RAISE EXCEPTION 'platform.request_verification_code: phone must be 6 to 15 digits with an optional +'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF code IS NULL OR code !~ '^[0-9]{4,8}$' THEN
        RAISE EXCEPTION 'platform.request_verification_code: code must be 4 to 8 digits'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN platform.queue_notification('verification_code', jsonb_build_object('code', code), phone,
        COALESCE((SELECT c.time_zone FROM platform.customers AS c WHERE c.phone = request_verification_code.phone),
                 'Asia/Shanghai'),
        'verification:' || phone || ':' || (extract(epoch FROM as_of) * 1000000)::bigint, as_of);
END $$;

-- A cleaner submits an exam's answers ({"<question id>": answer}); the grading job
-- scores it, grants the certification on a pass and tells the cleaner. Returns the
-- submission's id.
CREATE FUNCTION platform.submit_exam(
    exam_id bigint, cleaner_id bigint, answers jsonb, as_of timestamptz DEFAULT now()
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    submission_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF answers IS NULL OR jsonb_typeof(answers) <> 'object' THEN
        RAISE EXCEPTION 'platform.submit_exam: answers must be a JSON object of question id to answer'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM platform.exams AS e WHERE e.id = submit_exam.exam_id) THEN
        RAISE EXCEPTION 'platform.submit_exam: exam % does not exist', COALESCE(exam_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM platform.cleaners AS c WHERE c.id = submit_exam.cleaner_id) THEN
        RAISE EXCEPTION 'platform.submit_exam: cleaner % does not exist', COALESCE(cleaner_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.exam_submissions (exam_id, cleaner_id, answers, submitted_at)
    VALUES (submit_exam.exam_id, submit_exam.cleaner_id, submit_exam.answers, as_of)
    RETURNING id INTO submission_id;
    -- GradeExamSubmission: graded once per submission.
    PERFORM queue.enqueue_job('exam.grade', jsonb_build_object('submissionID', submission_id),
        unique_key => 'grade:' || submission_id, unique_scope => 'always');
    RETURN submission_id;
END $$;

-- A cleaner asks to be paid `amount_fen` from their wallet; the withdrawal job pays
-- it if the balance allows, else rejects it with the reason. Returns its id.
CREATE FUNCTION platform.request_withdrawal(cleaner_id bigint, amount_fen bigint, as_of timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    withdrawal_id bigint;
BEGIN
    PERFORM platform.check_action_time(as_of);
    IF amount_fen IS NULL OR amount_fen < 1 THEN
        RAISE EXCEPTION 'platform.request_withdrawal: amount_fen must be at least 1, got %',
            COALESCE(amount_fen::text, 'NULL') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM platform.cleaners AS c WHERE c.id = request_withdrawal.cleaner_id) THEN
        RAISE EXCEPTION 'platform.request_withdrawal: cleaner % does not exist', COALESCE(cleaner_id::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO platform.withdrawals (cleaner_id, amount_fen, created_at)
    VALUES (request_withdrawal.cleaner_id, request_withdrawal.amount_fen, as_of)
    RETURNING id INTO withdrawal_id;
    -- ProcessWithdrawal: queue "payouts", one job per withdrawal.
    PERFORM queue.enqueue_job('payout.withdrawal', jsonb_build_object('withdrawalID', withdrawal_id),
        queue => 'payouts', unique_key => 'withdrawal:' || withdrawal_id, unique_scope => 'always');
    RETURN withdrawal_id;
END $$;

-- ---------------------------------------------------------------------------
-- Ownership and rights
-- ---------------------------------------------------------------------------

-- Nobody calls a new function unless granted below (new functions are PUBLIC).
REVOKE EXECUTE ON FUNCTION
    queue.initial_state(bigint[], text, timestamptz),
    queue.enqueue_problem(text, jsonb, text, integer, integer, text[], text, text, bigint[], text),
    queue.enqueue_job(text, jsonb, text, integer, timestamptz, integer, text[], text, text, timestamptz, bigint[], text, text),
    queue.enqueue(text, jsonb, text, integer, timestamptz, integer, text[], text, text, timestamptz, bigint[], text, text),
    queue.job_object_problem(jsonb),
    queue.enqueue_many(jsonb),
    queue.cancel_waiting_jobs(text, text),
    platform.order_status(text),
    platform.lock_order(bigint, text, text[]),
    platform.check_action_time(timestamptz),
    platform.queue_notification(text, jsonb, text, text, text, timestamptz),
    platform.notify_order_status(bigint, text, timestamptz),
    platform.schedule_order_reminder(bigint, text, timestamptz, bigint, timestamptz),
    platform.book_order(bigint, integer, text, double precision, double precision, timestamptz, integer, bigint, bigint,
                        bigint, text, timestamptz),
    platform.assign_order(bigint, bigint, timestamptz),
    platform.reschedule_order(bigint, timestamptz, timestamptz),
    platform.cancel_order(bigint, timestamptz),
    platform.start_order(bigint, timestamptz),
    platform.ledger_account(text, text),
    platform.complete_order(bigint, timestamptz),
    platform.review_order(bigint, integer, text, timestamptz),
    platform.file_complaint(bigint, text, timestamptz),
    platform.request_verification_code(text, text, timestamptz),
    platform.submit_exam(bigint, bigint, jsonb, timestamptz),
    platform.request_withdrawal(bigint, bigint, timestamptz)
FROM PUBLIC;

-- The definer owns every function of the API and its helpers (so it may call
-- them), and holds exactly what their statements read and write.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_proc AS p
        WHERE p.pronamespace IN ('queue'::regnamespace, 'platform'::regnamespace)
          AND p.proname IN ('initial_state', 'enqueue_problem', 'enqueue_job', 'enqueue', 'job_object_problem',
                            'enqueue_many', 'cancel_waiting_jobs', 'order_status', 'lock_order', 'check_action_time',
                            'queue_notification',
                            'notify_order_status', 'schedule_order_reminder', 'book_order', 'assign_order',
                            'reschedule_order', 'cancel_order', 'start_order', 'ledger_account', 'complete_order',
                            'review_order', 'file_complaint', 'request_verification_code', 'submit_exam',
                            'request_withdrawal')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO cleaning_api_definer', f);
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA queue, platform TO cleaning_api_definer;
GRANT EXECUTE ON FUNCTION queue.is_blank(text) TO cleaning_api_definer;
-- Enqueueing writes whole rows (ids drawn up front by enqueue_many) and finds the
-- holder of a unique key; cancelling waiting jobs finalizes them with a reason.
GRANT SELECT, INSERT ON queue.jobs TO cleaning_api_definer;
GRANT UPDATE (state, finalized_at, errors) ON queue.jobs TO cleaning_api_definer;
GRANT USAGE ON SEQUENCE queue.jobs_id_seq TO cleaning_api_definer;
GRANT SELECT ON platform.customers, platform.cleaners, platform.notification_templates, platform.exams
    TO cleaning_api_definer;
GRANT SELECT, INSERT (customer_id, service_type_id, address, latitude, longitude, appointment_start, duration_minutes,
                      amount_fen, discount_fen, paid_fen, coupon_id, special_needs, created_at),
      UPDATE (cleaner_id, status, appointment_start, accepted_at, started_at, completed_at, cancelled_at)
    ON platform.orders TO cleaning_api_definer;
GRANT SELECT, INSERT (template_code, params, channel, recipient, time_zone, dedupe_key, expires_at)
    ON platform.notifications TO cleaning_api_definer;
GRANT SELECT, INSERT (order_id, rating, comment, created_at) ON platform.reviews TO cleaning_api_definer;
GRANT SELECT, INSERT (order_id, reason, created_at) ON platform.complaints TO cleaning_api_definer;
GRANT SELECT, INSERT (exam_id, cleaner_id, answers, submitted_at) ON platform.exam_submissions TO cleaning_api_definer;
GRANT SELECT, INSERT (cleaner_id, amount_fen, created_at) ON platform.withdrawals TO cleaning_api_definer;
GRANT SELECT, INSERT (code, type) ON platform.ledger_accounts TO cleaning_api_definer;
GRANT SELECT, INSERT (kind, reference, description) ON platform.ledger_transactions TO cleaning_api_definer;
GRANT SELECT, INSERT (transaction_id, account_id, amount_fen) ON platform.ledger_entries TO cleaning_api_definer;

-- The ledger's balance check is deferred to commit, when complete_order's
-- definer rights are gone and the caller (the app) cannot read the entries: it
-- runs with its owner's rights instead (it only sums one transaction's entries).
ALTER FUNCTION platform.check_transaction_balanced() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The front end: the API, and reading what an app shows — its customers, cleaners,
-- orders, catalogue, coupons, points, reviews, complaints, exams (not their answer
-- keys) and results. No queue.jobs, no ledger, no payouts or withdrawals, no
-- notifications (they hold verification codes).
GRANT USAGE ON SCHEMA queue, platform TO cleaning_app;
GRANT EXECUTE ON FUNCTION
    queue.enqueue(text, jsonb, text, integer, timestamptz, integer, text[], text, text, timestamptz, bigint[], text, text),
    queue.enqueue_many(jsonb),
    platform.order_status(text),
    platform.book_order(bigint, integer, text, double precision, double precision, timestamptz, integer, bigint, bigint,
                        bigint, text, timestamptz),
    platform.assign_order(bigint, bigint, timestamptz),
    platform.reschedule_order(bigint, timestamptz, timestamptz),
    platform.cancel_order(bigint, timestamptz),
    platform.start_order(bigint, timestamptz),
    platform.complete_order(bigint, timestamptz),
    platform.review_order(bigint, integer, text, timestamptz),
    platform.file_complaint(bigint, text, timestamptz),
    platform.request_verification_code(text, text, timestamptz),
    platform.submit_exam(bigint, bigint, jsonb, timestamptz),
    platform.request_withdrawal(bigint, bigint, timestamptz)
TO cleaning_app;
GRANT SELECT ON
    platform.customers, platform.cleaners, platform.orders, platform.service_types, platform.member_tiers,
    platform.coupons, platform.coupon_templates, platform.points_ledger, platform.tier_changes, platform.reviews,
    platform.complaints, platform.exams, platform.exam_submissions, platform.certifications
    TO cleaning_app;

-- The worker's handlers queue messages and enqueue through the same functions
-- (NotificationOutbox.queue, JobQueue's enqueue and cancelWaitingJobs; the bulk
-- enqueue statement takes each job's first state from queue.initial_state).
GRANT EXECUTE ON FUNCTION
    queue.initial_state(bigint[], text, timestamptz),
    queue.enqueue_job(text, jsonb, text, integer, timestamptz, integer, text[], text, text, timestamptz, bigint[], text, text),
    queue.enqueue(text, jsonb, text, integer, timestamptz, integer, text[], text, text, timestamptz, bigint[], text, text),
    queue.enqueue_many(jsonb),
    queue.cancel_waiting_jobs(text, text),
    platform.queue_notification(text, jsonb, text, text, text, timestamptz)
TO cleaning_worker;
