-- One row per Meta ad and day, in the platform-neutral vocabulary. Clicks are link clicks
-- (inline_link_clicks), the ones that land on the site; conversions are pixel leads.
with latest_ads as (
    select distinct on (tenant_id, account_id, ad_id)
        tenant_id, account_id, ad_id, creative_title, link_url, url_tags
    from {{ source('meta', 'meta_ads') }}
    order by tenant_id, account_id, ad_id, date desc
)

select
    daily.tenant_id,
    'meta'::text                         as platform,
    daily.account_id,
    daily.date,
    daily.currency_code                  as account_currency,
    daily.campaign_id,
    daily.campaign_name,
    daily.adset_id                       as ad_group_id,
    daily.adset_name                     as ad_group_name,
    daily.ad_id,
    coalesce(ads.creative_title, daily.ad_name) as ad_name,
    case when ads.url_tags is not null and ads.url_tags <> ''
         then ads.link_url || '?' || ads.url_tags else ads.link_url end as final_url,
    daily.spend::numeric(20, 6)          as spend,
    daily.impressions,
    daily.inline_link_clicks             as clicks,
    daily.leads                          as conversions,
    daily.lead_value                     as conversion_value
from {{ source('meta', 'meta_ad_insights_daily') }} as daily
left join latest_ads as ads using (tenant_id, account_id, ad_id)
