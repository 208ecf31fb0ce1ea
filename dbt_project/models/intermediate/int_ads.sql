-- Every ad we have delivery for, with its campaign: what a touch's ad id is bridged to.
-- An ad's latest name wins (ads get renamed).
with ads as (
    {{ union_ad_platforms([
        'stg_google_ads__ad_daily', 'stg_meta__ad_daily', 'stg_linkedin__creative_daily'
    ]) }}
)

select distinct on (tenant_id, platform, ad_id)
    tenant_id,
    platform,
    ad_id,
    ad_name,
    campaign_id,
    campaign_name
from ads
order by tenant_id, platform, ad_id, date desc
