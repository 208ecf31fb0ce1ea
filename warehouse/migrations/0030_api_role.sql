-- The serving API's database role. It reads marts, ml and a few app tables, and it can never
-- bypass row-level security: every tenant filter the API needs is a policy, not a WHERE.
-- Pipelines keep the admin connection (superuser or owner), which sees every tenant.
-- warehouse/roles.py gives the role LOGIN and a password; roles are server-wide, so another
-- database on the same server may have made it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bizo_api') THEN
        CREATE ROLE bizo_api NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    -- A concurrent migration of another database created it between the check and here.
    RAISE NOTICE 'role bizo_api created concurrently';
END $$;
-- Whatever it was before, it is an ordinary role now.
ALTER ROLE bizo_api NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;

GRANT USAGE ON SCHEMA app, marts, ml TO bizo_api;
GRANT SELECT ON app.tenants TO bizo_api;
GRANT SELECT, INSERT ON app.lead_webhook_events TO bizo_api;
-- dbt rebuilds marts tables, and other migrations add ml tables: default privileges grant
-- SELECT on every table the admin role creates there; RLS (dbt post-hook for marts,
-- warehouse/rls.py for app and ml) decides which rows.
GRANT SELECT ON ALL TABLES IN SCHEMA marts, ml TO bizo_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO bizo_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA ml GRANT SELECT ON TABLES TO bizo_api;
