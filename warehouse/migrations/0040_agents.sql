-- Agent ops (issue 6): fitted response curves, budget recommendations with their decisions,
-- the anomalies monitoring found, weekly reports and an audit log of every action.
CREATE TABLE app.response_curves (
    curve_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES app.tenants ON DELETE CASCADE,
    channel            text NOT NULL,
    campaign_id        text NOT NULL DEFAULT '',  -- '' for a channel-level curve
    window_start       date NOT NULL,
    window_end         date NOT NULL,
    response           text NOT NULL CHECK (response IN ('revenue', 'leads')),
    attribution_model  text NOT NULL,
    theta              double precision NOT NULL CHECK (theta >= 0 AND theta < 1),
    beta               double precision NOT NULL CHECK (beta >= 0),
    half_saturation    double precision NOT NULL CHECK (half_saturation > 0),
    shape              double precision NOT NULL CHECK (shape > 0),
    baseline           double precision NOT NULL DEFAULT 0,
    value_per_response double precision NOT NULL DEFAULT 1,
    draws              jsonb NOT NULL,  -- bootstrap draws: [{theta, beta, half_saturation, shape}]
    r2                 double precision,
    mape_holdout       double precision,
    n_days             integer NOT NULL,
    spend_min          double precision NOT NULL,
    spend_max          double precision NOT NULL,
    fitted_at          timestamptz NOT NULL DEFAULT now(),
    -- A re-fit of the same window replaces the earlier one.
    UNIQUE (tenant_id, channel, campaign_id, window_end)
);

CREATE TABLE app.recommendations (
    recommendation_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id                text NOT NULL REFERENCES app.tenants ON DELETE CASCADE,
    cycle_date               date NOT NULL,
    platform                 text NOT NULL CHECK (platform IN ('google_ads', 'meta', 'linkedin')),
    channel                  text NOT NULL,
    account_id               text NOT NULL,
    campaign_id              text NOT NULL,
    budget_id                text,  -- the platform's budget object (Google's campaign budget)
    currency                 char(3) NOT NULL,
    current_budget           numeric(14, 2) NOT NULL CHECK (current_budget >= 0),
    proposed_budget          numeric(14, 2) NOT NULL CHECK (proposed_budget >= 0),
    expected_revenue_change  numeric(14, 2) NOT NULL,
    confidence               double precision NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    rationale                text NOT NULL,
    status                   text NOT NULL DEFAULT 'proposed' CHECK (
        status IN ('proposed', 'approved', 'rejected', 'applied', 'rolled_back', 'superseded')),
    requires_approval        boolean NOT NULL DEFAULT true,
    created_by               text NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    decided_by               text,
    decided_at               timestamptz,
    decision_note            text,
    applied_at               timestamptz,
    applied_budget           numeric(14, 2),
    rolled_back_at           timestamptz,
    -- One recommendation per campaign per cycle: re-running a cycle updates, never duplicates.
    UNIQUE (tenant_id, platform, campaign_id, cycle_date)
);
CREATE INDEX recommendations_status_idx ON app.recommendations (status, tenant_id);

CREATE TABLE app.audit_log (
    audit_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         text NOT NULL,
    at                timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor             text NOT NULL,
    action            text NOT NULL,
    recommendation_id bigint REFERENCES app.recommendations ON DELETE SET NULL,
    details           jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_tenant_idx ON app.audit_log (tenant_id, at);

CREATE TABLE app.anomalies (
    anomaly_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES app.tenants ON DELETE CASCADE,
    channel     text NOT NULL,
    day         date NOT NULL,
    kind        text NOT NULL CHECK (
        kind IN ('spend_spike', 'spend_drop', 'cpa_spike', 'conversions_drop', 'tracking_breakage')),
    severity    text NOT NULL CHECK (severity IN ('warning', 'critical')),
    observed    double precision,
    expected    double precision,
    message     text NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    detected_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (tenant_id, channel, day, kind)
);

CREATE TABLE app.agent_reports (
    tenant_id   text NOT NULL REFERENCES app.tenants ON DELETE CASCADE,
    week_start  date NOT NULL,
    markdown    text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, week_start)
);
