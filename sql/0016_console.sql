-- The operator and finance web console (`jobsctl console`): its users, their
-- sessions, the audit of every action, the database roles it acts through, and the
-- index that serves the jobs page's argument filter.
--
-- Passwords are hashed by pgcrypto's bcrypt (`crypt(password, gen_salt('bf', 10))`),
-- inside the database: the console passes the password as a statement parameter
-- and never sees a hash. pgcrypto lives in its own schema, and its functions are
-- taken away from PUBLIC so no other role gains them.
CREATE SCHEMA console_crypto;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA console_crypto;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA console_crypto FROM PUBLIC;

CREATE SCHEMA console;

CREATE TABLE console.users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash text        NOT NULL,
    -- viewer sees (sensitive arguments masked); operator acts on jobs, queues and
    -- cron; finance also runs payouts. Each includes the one before.
    role          text        NOT NULL CHECK (role IN ('viewer', 'operator', 'finance')),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- The browser holds the token; only its SHA-256 is stored, so a read of this table
-- cannot be replayed as a cookie.
CREATE TABLE console.sessions (
    token_hash  bytea       PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES console.users (id) ON DELETE CASCADE,
    csrf_token  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_expires_idx ON console.sessions (expires_at);

-- Who did what, to which jobs (the filter or the ids), how many, when.
CREATE TABLE console.audit (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    user_name  text        NOT NULL,
    action     text        NOT NULL,
    target     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    count      bigint      NOT NULL CHECK (count >= 0)
);
CREATE INDEX audit_at_idx ON console.audit (at DESC);

-- The jobs page filters by arguments with jsonb containment (args @> '{"order_id": 7}').
CREATE INDEX jobs_args_idx ON queue.jobs USING gin (args jsonb_path_ops);

-- Creates or replaces a user (run by an administrator: `jobsctl console user`).
CREATE FUNCTION console.set_user(user_name text, password text, user_role text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO console.users (name, password_hash, role)
    VALUES (user_name, console_crypto.crypt(password, console_crypto.gen_salt('bf', 10)), user_role)
    ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role;
    DELETE FROM console.sessions AS s USING console.users AS u WHERE s.user_id = u.id AND u.name = user_name;
$$;

-- Opens a session when the password matches: returns the cookie token, the CSRF
-- token and the role; no row when the name or the password is wrong (the same
-- answer for both, and bcrypt is paid for unknown names too).
CREATE FUNCTION console.log_in(user_name text, password text, lifetime interval)
RETURNS TABLE (token text, csrf_token text, role text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found console.users;
    new_token text := encode(console_crypto.gen_random_bytes(32), 'hex');
    new_csrf text := encode(console_crypto.gen_random_bytes(32), 'hex');
BEGIN
    SELECT * INTO found FROM console.users AS u WHERE u.name = user_name;
    IF found.id IS NULL THEN
        PERFORM console_crypto.crypt(password, console_crypto.gen_salt('bf', 10));
        RETURN;
    END IF;
    IF console_crypto.crypt(password, found.password_hash) <> found.password_hash THEN
        RETURN;
    END IF;
    DELETE FROM console.sessions WHERE expires_at < now();
    INSERT INTO console.sessions (token_hash, user_id, csrf_token, expires_at)
    VALUES (console_crypto.digest(new_token, 'sha256'), found.id, new_csrf, now() + lifetime);
    RETURN QUERY SELECT new_token, new_csrf, found.role;
END;
$$;

-- The user behind a cookie token, while its session lasts.
CREATE FUNCTION console.session_of(session_token text)
RETURNS TABLE (user_name text, role text, csrf_token text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.name, u.role, s.csrf_token
    FROM console.sessions AS s JOIN console.users AS u ON u.id = s.user_id
    WHERE s.token_hash = console_crypto.digest(session_token, 'sha256') AND s.expires_at > now();
$$;

CREATE FUNCTION console.log_out(session_token text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    DELETE FROM console.sessions WHERE token_hash = console_crypto.digest(session_token, 'sha256');
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA console FROM PUBLIC;

-- The console's roles. Its login role (NOINHERIT, so it holds nothing by itself)
-- is a member of all four and opens one connection pool per role, each with the
-- role set at connection start: a viewer's request runs on a connection that
-- cannot write, whatever the HTTP layer does.
--
--   CREATE ROLE console LOGIN NOINHERIT PASSWORD '…'
--       IN ROLE cleaning_console, cleaning_console_viewer, cleaning_console_operator, cleaning_console_finance;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_console') THEN
        CREATE ROLE cleaning_console NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_console_viewer') THEN
        CREATE ROLE cleaning_console_viewer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_console_operator') THEN
        CREATE ROLE cleaning_console_operator NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cleaning_console_finance') THEN
        CREATE ROLE cleaning_console_finance NOLOGIN;
    END IF;
END $$;

-- Logging in and out: the session functions only.
GRANT USAGE ON SCHEMA console TO cleaning_console;
GRANT EXECUTE ON FUNCTION console.log_in(text, text, interval), console.session_of(text), console.log_out(text)
    TO cleaning_console;

-- Viewer: reads the queue, the platform (payout previews) and the audit.
GRANT cleaning_reporting TO cleaning_console_viewer;
GRANT USAGE ON SCHEMA console TO cleaning_console_viewer;
GRANT SELECT ON console.audit TO cleaning_console_viewer;

-- Operator: acts on jobs, queues and cron schedules, and records each action.
GRANT cleaning_console_viewer TO cleaning_console_operator;
GRANT INSERT, UPDATE, DELETE ON queue.jobs TO cleaning_console_operator;
GRANT USAGE ON SEQUENCE queue.jobs_id_seq TO cleaning_console_operator;
GRANT INSERT, UPDATE ON queue.queues TO cleaning_console_operator;
GRANT UPDATE ON queue.cron_schedules TO cleaning_console_operator;
GRANT INSERT ON console.audit TO cleaning_console_operator;

-- Finance: also starts payout runs (settlement rows, ledger, one job per cleaner).
GRANT cleaning_console_operator, cleaning_worker TO cleaning_console_finance;
