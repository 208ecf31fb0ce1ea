{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'date'],
) }}
-- Ad × day performance across platforms, money in each tenant's reporting currency.
-- Accounts billing in another currency are converted at that day's FX rates; a day with no
-- rate gives NULL spend, which the not_null test turns into a failure, never a guess.
with ads as (
    {{ union_ad_platforms([
        'stg_google_ads__ad_daily', 'stg_meta__ad_daily', 'stg_linkedin__creative_daily'
    ]) }}
),

converted as (
    select
        ads.*,
        tenants.reporting_currency,
        account_rate.units_per_usd          as account_units_per_usd,
        reporting_rate.units_per_usd        as reporting_units_per_usd
    from ads
    join {{ ref('stg_app__tenants') }} as tenants using (tenant_id)
    left join {{ ref('stg_fx__rates') }} as account_rate
        on account_rate.date = ads.date and account_rate.currency = ads.account_currency
    left join {{ ref('stg_fx__rates') }} as reporting_rate
        on reporting_rate.date = ads.date
       and reporting_rate.currency = tenants.reporting_currency
    where {{ in_partition_window('ads.date') }}
)

select
    date,
    tenant_id,
    platform,
    account_id,
    campaign_id,
    campaign_name,
    ad_group_id,
    ad_group_name,
    ad_id,
    ad_name,
    reporting_currency                      as currency,
    account_currency,
    spend                                   as spend_in_account_currency,
    {{ convert_currency('spend', 'account_currency', 'reporting_currency',
                        'account_units_per_usd', 'reporting_units_per_usd') }} as spend,
    impressions,
    clicks,
    conversions,
    {{ convert_currency('conversion_value', 'account_currency', 'reporting_currency',
                        'account_units_per_usd', 'reporting_units_per_usd') }} as conversion_value
from converted
