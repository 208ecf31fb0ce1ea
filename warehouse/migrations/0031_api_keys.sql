-- API keys for dashboards: only a SHA-256 of each key is stored (keys are 256-bit random, so
-- a fast hash is enough; a leaked table reveals no usable key). Each key has a role and its
-- own rate limit.
CREATE TABLE app.api_keys (
    key_id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id             text NOT NULL REFERENCES app.tenants (tenant_id) ON DELETE CASCADE,
    name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role                  text NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
    key_prefix            text NOT NULL,
    key_hash              text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    rate_limit_per_minute integer NOT NULL CHECK (rate_limit_per_minute BETWEEN 1 AND 100000),
    created_at            timestamptz NOT NULL DEFAULT now(),
    revoked_at            timestamptz
);
CREATE INDEX api_keys_tenant_idx ON app.api_keys (tenant_id, key_id);

GRANT SELECT, INSERT ON app.api_keys TO bizo_api;
GRANT UPDATE (revoked_at) ON app.api_keys TO bizo_api;

-- A key names its tenant, so it is looked up before any tenant is set: this function, owned
-- by the admin role, answers for exactly one live key by its hash and reveals nothing else.
CREATE FUNCTION app.api_key_principal(presented_hash text)
RETURNS TABLE (key_id bigint, tenant_id text, role text, rate_limit_per_minute integer)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.key_id, k.tenant_id, k.role, k.rate_limit_per_minute
    FROM app.api_keys AS k
    WHERE k.key_hash = presented_hash AND k.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION app.api_key_principal(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.api_key_principal(text) TO bizo_api;
