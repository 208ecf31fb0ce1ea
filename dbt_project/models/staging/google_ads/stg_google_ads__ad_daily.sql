-- One row per Google Ads ad and day, renamed to the platform-neutral vocabulary.
select
    tenant_id,
    'google_ads'::text                        as platform,
    customer_id                               as account_id,
    date,
    currency_code                             as account_currency,
    campaign_id::text                         as campaign_id,
    campaign_name,
    ad_group_id::text                         as ad_group_id,
    ad_group_name,
    ad_id::text                               as ad_id,
    ad_headline                               as ad_name,
    final_url,
    {{ micros_to_amount('cost_micros') }}     as spend,
    impressions,
    clicks,
    conversions,
    conversions_value                         as conversion_value
from {{ source('google_ads', 'google_ads_ad_daily') }}
