-- Control tables: who our tenants are and which ad accounts they connected.
CREATE TABLE app.tenants (
    tenant_id          text PRIMARY KEY CHECK (tenant_id ~ '^[a-z0-9][a-z0-9_-]{1,62}$'),
    name               text NOT NULL,
    reporting_currency char(3) NOT NULL CHECK (reporting_currency ~ '^[A-Z]{3}$'),
    time_zone          text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE app.connections (
    connection_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES app.tenants (tenant_id) ON DELETE CASCADE,
    platform      text NOT NULL CHECK (platform IN ('google_ads', 'meta', 'linkedin', 'crm')),
    account_id    text NOT NULL,
    -- Non-secret settings (login customer id, account currency). Secrets arrive encrypted
    -- with the connections work (issue 3); nothing secret is stored here in plain text.
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'revoked')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, platform, account_id)
);

-- Rows a source sent that failed validation: kept with the reason, never silently dropped.
CREATE TABLE app.quarantine (
    quarantine_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id      text NOT NULL,
    source         text NOT NULL,
    slice_start    date NOT NULL,
    slice_end      date NOT NULL,
    reason         text NOT NULL,
    payload        jsonb NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_slice_idx ON app.quarantine (source, tenant_id, slice_start);
