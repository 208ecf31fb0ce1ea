-- Leads pushed by tenants' CRMs through POST /v1/webhooks/leads, once validated.
-- Keyed by the event, so processing an event twice never makes two leads.
CREATE TABLE raw.crm_webhook_leads (
    tenant_id    text NOT NULL,
    event_id     bigint PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    email        text NOT NULL,
    first_name   text,
    last_name    text,
    company      text,
    job_title    text,
    anonymous_id text,
    payload      jsonb NOT NULL,
    _loaded_at   timestamptz NOT NULL DEFAULT now()
);
