-- What Google Ads' GAQL returned for ad_group_ad × day, one row per ad and day.
-- Money stays in integer micros of the account currency, exactly as the API sends it.
CREATE TABLE raw.google_ads_ad_daily (
    tenant_id          text NOT NULL,
    customer_id        text NOT NULL,
    date               date NOT NULL,
    currency_code      char(3) NOT NULL,
    campaign_id        bigint NOT NULL,
    campaign_name      text NOT NULL,
    campaign_status    text,
    ad_group_id        bigint NOT NULL,
    ad_group_name      text NOT NULL,
    ad_id              bigint NOT NULL,
    ad_headline        text,
    ad_description     text,
    final_url          text,
    cost_micros        bigint NOT NULL CHECK (cost_micros >= 0),
    cost               numeric NOT NULL,  -- cost_micros / 1e6, exact
    impressions        bigint NOT NULL CHECK (impressions >= 0),
    clicks             bigint NOT NULL CHECK (clicks >= 0),
    conversions        numeric NOT NULL,
    conversions_value  numeric NOT NULL,
    _loaded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, customer_id, ad_id)
);
