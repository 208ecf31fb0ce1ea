-- Ad × day performance across platforms, spend in each tenant's reporting currency.
-- Until the FX rates table lands (issue 4), an account whose currency differs from the
-- tenant's reports NULL spend, which the not_null test turns into a failure, never a guess.
with ads as (
    {{ union_ad_platforms([
        'stg_google_ads__ad_daily', 'stg_meta__ad_daily', 'stg_linkedin__creative_daily'
    ]) }}
)

select
    ads.date,
    ads.tenant_id,
    ads.platform,
    ads.account_id,
    ads.campaign_id,
    ads.campaign_name,
    ads.ad_group_id,
    ads.ad_group_name,
    ads.ad_id,
    ads.ad_name,
    tenants.reporting_currency                as currency,
    case when ads.account_currency = tenants.reporting_currency then ads.spend end as spend,
    ads.impressions,
    ads.clicks,
    ads.conversions,
    case when ads.account_currency = tenants.reporting_currency
         then ads.conversion_value end        as conversion_value
from ads
join {{ source('app', 'tenants') }} as tenants using (tenant_id)
