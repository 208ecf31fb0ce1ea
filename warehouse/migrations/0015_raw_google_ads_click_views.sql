-- What Google Ads' click_view report returned: one row per click with a gclid, and the ad it
-- was on. The bridge from a landing page's gclid to the exact ad when the URL's own
-- parameters do not name it. Google serves the report for the last 90 days only.
CREATE TABLE raw.google_ads_click_views (
    tenant_id    text NOT NULL,
    customer_id  text NOT NULL,
    date         date NOT NULL,
    gclid        text NOT NULL,
    campaign_id  bigint NOT NULL,
    ad_group_id  bigint NOT NULL,
    ad_id        bigint NOT NULL,
    _loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, customer_id, gclid)
);
CREATE INDEX google_ads_click_views_gclid_idx ON raw.google_ads_click_views (tenant_id, gclid);
