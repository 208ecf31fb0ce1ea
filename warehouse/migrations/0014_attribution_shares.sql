-- Data-driven attribution (Markov removal effects, Shapley values) is fitted in Python over
-- every path, converting or not; it writes, per tenant, stage and model, each channel's share
-- of a conversion whose path holds exactly `channel_set` (channels sorted, comma-joined).
-- dbt's marts.attribution_credits hands those shares to the touches of each conversion.
CREATE SCHEMA IF NOT EXISTS attribution;

CREATE TABLE attribution.channel_set_shares (
    tenant_id   text NOT NULL,
    stage       text NOT NULL CHECK (stage IN ('lead', 'opportunity', 'closed_won')),
    model       text NOT NULL CHECK (model IN ('markov', 'shapley')),
    channel_set text NOT NULL,
    channel     text NOT NULL,
    share       double precision NOT NULL CHECK (share >= 0 AND share <= 1),
    fitted_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, stage, model, channel_set, channel)
);
