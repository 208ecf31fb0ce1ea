-- What Meta's Marketing API returned. Graph ids are strings on the wire and stay text here.
-- Money is numeric in the account currency, converted exactly from Meta's decimal strings.

-- /act_{id}/insights at level=ad, time_increment=1: one row per ad and day.
CREATE TABLE raw.meta_ad_insights_daily (
    tenant_id          text NOT NULL,
    account_id         text NOT NULL,  -- without the act_ prefix
    date               date NOT NULL,  -- date_start = date_stop, account time zone
    currency_code      char(3) NOT NULL,
    campaign_id        text NOT NULL,
    campaign_name      text NOT NULL,
    adset_id           text NOT NULL,
    adset_name         text NOT NULL,
    ad_id              text NOT NULL,
    ad_name            text NOT NULL,
    spend              numeric NOT NULL CHECK (spend >= 0),
    impressions        bigint NOT NULL CHECK (impressions >= 0),
    clicks             bigint NOT NULL CHECK (clicks >= 0),  -- all clicks
    inline_link_clicks bigint NOT NULL CHECK (inline_link_clicks >= 0),  -- link clicks
    leads              numeric NOT NULL,  -- the offsite_conversion.fb_pixel_lead action
    lead_value         numeric NOT NULL,  -- its action_values entry
    actions            jsonb NOT NULL DEFAULT '[]',  -- every action, as Meta sent them
    action_values      jsonb NOT NULL DEFAULT '[]',
    _loaded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, account_id, ad_id)
);

-- /act_{id}/ads with their ad set and campaign: one snapshot per ad and partition day, so a
-- day's slice can be replaced like any other raw table.
CREATE TABLE raw.meta_ads (
    tenant_id        text NOT NULL,
    account_id       text NOT NULL,
    date             date NOT NULL,  -- the partition day the snapshot was taken for
    currency_code    char(3) NOT NULL,
    campaign_id      text NOT NULL,
    campaign_name    text NOT NULL,
    campaign_status  text,  -- configured statuses: ACTIVE, PAUSED, ARCHIVED, DELETED
    adset_id         text NOT NULL,
    adset_name       text NOT NULL,
    adset_status     text,
    ad_id            text NOT NULL,
    ad_name          text NOT NULL,
    status           text,  -- the ad's configured status
    effective_status text,  -- what delivers, given its ad set and campaign
    daily_budget     numeric CHECK (daily_budget >= 0),  -- the ad set's (or CBO campaign's)
    creative_title   text,
    creative_body    text,
    link_url         text,
    url_tags         text,  -- the UTM query string Meta appends to link_url
    _loaded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, account_id, ad_id)
);
