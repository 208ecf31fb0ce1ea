-- World v6: the truth is counterfactual (sandbox/truth.py). The world is re-simulated with
-- the same random numbers for every subset of a tenant's paid channels switched off.

-- A channel's Shapley credit per tenant, day and stage (the all-off world is 'baseline'),
-- with the plain "switch this channel off" loss beside it (NULL for the baseline).
CREATE TABLE sandbox.true_channel_credit (
    tenant_id           text NOT NULL,
    date                date NOT NULL,   -- the stage's day, in the tenant's time zone
    stage               text NOT NULL CHECK (stage IN ('lead', 'opportunity', 'closed_won')),
    channel             text NOT NULL,   -- a paid channel, or 'baseline'
    conversions         double precision NOT NULL,
    value               double precision NOT NULL,  -- pipeline or won revenue, tenant currency
    removal_conversions double precision,
    removal_value       double precision,
    PRIMARY KEY (tenant_id, date, stage, channel)
);

-- The Monte-Carlo standard error of each channel's credit over the whole world: the noise
-- floor below which two models' errors are not distinguishable.
CREATE TABLE sandbox.true_credit_noise (
    tenant_id      text NOT NULL,
    stage          text NOT NULL,
    channel        text NOT NULL,
    conversions_se double precision NOT NULL,
    value_se       double precision NOT NULL,
    PRIMARY KEY (tenant_id, stage, channel)
);

-- Measured true response: incremental leads and expected won revenue per day against daily
-- spend (tenant currency), one channel scaled while the others stay as they were.
-- sandbox.true_curves holds the Hill curve fitted to these points.
CREATE TABLE sandbox.true_response_curves (
    tenant_id           text NOT NULL,
    channel             text NOT NULL,
    spend_multiplier    double precision NOT NULL,
    daily_spend         double precision NOT NULL,
    incremental_leads   double precision NOT NULL,
    incremental_revenue double precision NOT NULL,
    PRIMARY KEY (tenant_id, channel, spend_multiplier)
);

-- The v5 view credited each won deal to its one cause; v6 credit is counterfactual, above.
DROP VIEW sandbox.true_incremental_revenue;
