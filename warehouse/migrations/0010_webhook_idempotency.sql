-- Senders retry webhooks; the event key they send makes a retry a no-op, not a second lead.
ALTER TABLE app.lead_webhook_events ADD COLUMN event_key text;
CREATE UNIQUE INDEX lead_webhook_events_key_idx ON app.lead_webhook_events (tenant_id, event_key);
