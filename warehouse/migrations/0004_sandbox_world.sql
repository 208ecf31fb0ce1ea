-- The simulated world and its ground truth. Only sandbox/, tests and benchmarks read this
-- schema; pipeline code never does (tests/test_boundaries.py enforces it).
CREATE TABLE sandbox.world_meta (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    seed         bigint NOT NULL,
    profile      text NOT NULL,
    start_date   date NOT NULL,
    end_date     date NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sandbox.tenants (
    tenant_id  text PRIMARY KEY,
    name       text NOT NULL,
    currency   char(3) NOT NULL,
    time_zone  text NOT NULL,
    industry   text NOT NULL,
    lead_value numeric NOT NULL  -- what the platforms' conversion tracking values a lead at
);

CREATE TABLE sandbox.ad_accounts (
    platform   text NOT NULL,
    account_id text NOT NULL,
    tenant_id  text NOT NULL REFERENCES sandbox.tenants ON DELETE CASCADE,
    name       text NOT NULL,
    currency   char(3) NOT NULL,
    time_zone  text NOT NULL,
    PRIMARY KEY (platform, account_id)
);

CREATE TABLE sandbox.campaigns (
    platform            text NOT NULL,
    campaign_id         bigint NOT NULL,
    account_id          text NOT NULL,
    tenant_id           text NOT NULL,
    name                text NOT NULL,
    objective           text NOT NULL,
    status              text NOT NULL,
    budget_id           bigint NOT NULL,
    daily_budget_micros bigint NOT NULL CHECK (daily_budget_micros > 0),
    PRIMARY KEY (platform, campaign_id)
);

CREATE TABLE sandbox.ad_groups (
    platform    text NOT NULL,
    ad_group_id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    account_id  text NOT NULL,
    tenant_id   text NOT NULL,
    name        text NOT NULL,
    PRIMARY KEY (platform, ad_group_id)
);

CREATE TABLE sandbox.ads (
    platform    text NOT NULL,
    ad_id       bigint NOT NULL,
    ad_group_id bigint NOT NULL,
    campaign_id bigint NOT NULL,
    account_id  text NOT NULL,
    tenant_id   text NOT NULL,
    headline    text NOT NULL,
    body        text NOT NULL,
    final_url   text NOT NULL,  -- carries the UTM parameters
    PRIMARY KEY (platform, ad_id)
);

-- True delivery: what each ad really spent and got, per day, in the account currency.
CREATE TABLE sandbox.ad_delivery_daily (
    platform          text NOT NULL,
    ad_id             bigint NOT NULL,
    date              date NOT NULL,
    account_id        text NOT NULL,
    tenant_id         text NOT NULL,
    cost_micros       bigint NOT NULL,
    impressions       bigint NOT NULL,
    clicks            bigint NOT NULL,
    conversions       numeric NOT NULL,  -- the platform's own (click-through) claim
    conversions_value numeric NOT NULL,
    PRIMARY KEY (platform, ad_id, date)
);
-- Budgets as they were each day (they move: the history is what curve fitting learns from).
CREATE TABLE sandbox.campaign_budget_daily (
    platform      text NOT NULL,
    campaign_id   bigint NOT NULL,
    date          date NOT NULL,
    budget_micros bigint NOT NULL,
    PRIMARY KEY (platform, campaign_id, date)
);

CREATE INDEX ad_delivery_account_date_idx ON sandbox.ad_delivery_daily (platform, account_id, date);

-- The true response curve of each paid channel: adstock θ, Hill β·A^n/(K^n+A^n).
CREATE TABLE sandbox.true_curves (
    tenant_id       text NOT NULL,
    channel         text NOT NULL,
    theta           double precision NOT NULL,
    beta            double precision NOT NULL,  -- max incremental leads per day
    half_saturation double precision NOT NULL,  -- K, in the tenant currency per day
    shape           double precision NOT NULL,  -- n
    PRIMARY KEY (tenant_id, channel)
);

CREATE TABLE sandbox.sessions (
    session_id   text PRIMARY KEY,
    tenant_id    text NOT NULL,
    anonymous_id text NOT NULL,
    started_at   timestamptz NOT NULL,
    channel      text NOT NULL,  -- google_ads, meta, linkedin, organic_search, direct, referral
    platform_ad_id bigint,       -- truth: the ad clicked (paid channels)
    landing_url  text NOT NULL,
    referrer     text,
    utm_source   text,
    utm_medium   text,
    utm_campaign text,
    utm_content  text,
    gclid        text,
    fbclid       text,
    li_fat_id    text
);
CREATE INDEX sessions_tenant_time_idx ON sandbox.sessions (tenant_id, started_at);

CREATE TABLE sandbox.leads (
    lead_id             bigint PRIMARY KEY,
    tenant_id           text NOT NULL,
    anonymous_id        text NOT NULL,
    created_at          timestamptz NOT NULL,
    email               text NOT NULL,
    first_name          text NOT NULL,
    last_name           text NOT NULL,
    job_title           text NOT NULL,
    seniority           text NOT NULL,
    company             text NOT NULL,
    company_size        integer NOT NULL,
    industry            text NOT NULL,
    country             text NOT NULL,
    notes               text NOT NULL,
    company_description text NOT NULL,
    -- truth, never exposed by the CRM sandbox:
    cause_channel       text NOT NULL,   -- a paid channel, or 'baseline'
    true_propensity     double precision NOT NULL
);
CREATE INDEX leads_tenant_time_idx ON sandbox.leads (tenant_id, created_at);

CREATE TABLE sandbox.deals (
    deal_id       bigint PRIMARY KEY,
    lead_id       bigint NOT NULL,
    tenant_id     text NOT NULL,
    amount        numeric NOT NULL,  -- tenant currency
    stage         text NOT NULL CHECK (stage IN ('opportunity', 'closed_won', 'closed_lost')),
    created_at    timestamptz NOT NULL,
    closed_at     timestamptz,
    cause_channel text NOT NULL
);

CREATE TABLE sandbox.deal_stage_history (
    deal_id    bigint NOT NULL,
    stage      text NOT NULL,
    entered_at timestamptz NOT NULL,
    PRIMARY KEY (deal_id, stage)
);

-- True incremental revenue: the sum over won deals that a channel caused. Effects are
-- additive, so it is also the "turn the channel off" counterfactual.
CREATE VIEW sandbox.true_incremental_revenue AS
SELECT tenant_id, cause_channel AS channel, date_trunc('month', closed_at)::date AS month,
       sum(amount) AS revenue, count(*) AS won_deals
FROM sandbox.deals
WHERE stage = 'closed_won'
GROUP BY 1, 2, 3;
