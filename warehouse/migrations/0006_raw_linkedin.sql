-- What LinkedIn's adAnalytics returned for pivot CREATIVE × DAILY, one row per creative and
-- day with activity (LinkedIn sends no row for a day without any). The connector joins each
-- creative to its campaign and campaign group. Money is in the account currency, exactly as
-- LinkedIn's decimal strings say (whole cents in practice); ids are the numeric part of the URNs.
CREATE TABLE raw.linkedin_creative_daily (
    tenant_id                    text NOT NULL,
    account_id                   text NOT NULL,
    date                         date NOT NULL,
    currency_code                char(3) NOT NULL,
    campaign_group_id            bigint NOT NULL,
    campaign_id                  bigint NOT NULL,
    campaign_name                text NOT NULL,
    creative_id                  bigint NOT NULL,
    cost                         numeric NOT NULL CHECK (cost >= 0),
    impressions                  bigint NOT NULL CHECK (impressions >= 0),
    clicks                       bigint NOT NULL CHECK (clicks >= 0),
    external_website_conversions numeric NOT NULL CHECK (external_website_conversions >= 0),
    conversion_value             numeric NOT NULL,
    _loaded_at                   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, account_id, creative_id)
);

-- The account's creatives as they stood on `date` (the partition day the snapshot was taken):
-- text, landing URL (with its UTMs), campaign and campaign group names and statuses, and the
-- campaign's daily budget, which moves over time; one snapshot per day keeps that history.
CREATE TABLE raw.linkedin_creatives (
    tenant_id             text NOT NULL,
    date                  date NOT NULL,
    account_id            text NOT NULL,
    currency_code         char(3) NOT NULL,
    campaign_group_id     bigint NOT NULL,
    campaign_group_name   text NOT NULL,
    campaign_group_status text,
    campaign_id           bigint NOT NULL,
    campaign_name         text NOT NULL,
    campaign_status       text,
    daily_budget          numeric CHECK (daily_budget >= 0),  -- null: lifetime budget only
    creative_id           bigint NOT NULL,
    creative_name         text,
    creative_status       text,
    headline              text,
    description           text,
    landing_url           text,
    _loaded_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, account_id, creative_id)
);
