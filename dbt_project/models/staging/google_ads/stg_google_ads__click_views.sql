-- Google click IDs and the ad each click was on, in the platform-neutral vocabulary. A gclid
-- names one click on one day, and raw holds each day once, so no dedup is needed (the
-- uniqueness test holds us to it).
select
    tenant_id,
    'google_ads'::text  as platform,
    customer_id         as account_id,
    date,
    gclid,
    campaign_id::text   as campaign_id,
    ad_group_id::text   as ad_group_id,
    ad_id::text         as ad_id
from {{ source('google_ads', 'google_ads_click_views') }}
