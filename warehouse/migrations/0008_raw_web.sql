-- Web sessions landed by the site's tracking (JSONL files, one per tenant-day). The slice is
-- (tenant_id, date) with `date` the session's day in the tenant's time zone: the file's day.
-- No channel or ad id arrives: attribution must infer them from UTMs and click ids.
CREATE TABLE raw.web_sessions (
    tenant_id    text NOT NULL,
    date         date NOT NULL,
    session_id   text NOT NULL,
    anonymous_id text NOT NULL,
    started_at   timestamptz NOT NULL,
    landing_url  text NOT NULL,
    referrer     text,
    utm_source   text,
    utm_medium   text,
    utm_campaign text,
    utm_content  text,
    gclid        text,
    fbclid       text,
    li_fat_id    text,
    source_file  text NOT NULL,
    _loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, session_id)
);
CREATE INDEX web_sessions_anonymous_idx ON raw.web_sessions (tenant_id, anonymous_id);

-- Lead webhooks as received by the API (POST /v1/webhooks/leads), processed later by the
-- CRM sensor. Kept even when the signature is wrong, for audit; only valid ones are processed.
CREATE TABLE app.lead_webhook_events (
    event_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES app.tenants (tenant_id) ON DELETE CASCADE,
    received_at     timestamptz NOT NULL DEFAULT now(),
    payload         jsonb NOT NULL,
    signature_valid boolean NOT NULL,
    processed_at    timestamptz
);
CREATE INDEX lead_webhook_events_pending_idx
    ON app.lead_webhook_events (tenant_id, received_at)
    WHERE processed_at IS NULL AND signature_valid;
