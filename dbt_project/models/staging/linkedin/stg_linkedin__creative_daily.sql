-- One row per LinkedIn creative and day, in the platform-neutral vocabulary. LinkedIn has no
-- ad-group level: the campaign is the budget holder, the creative is the ad.
with latest_creatives as (
    select distinct on (tenant_id, account_id, creative_id)
        tenant_id, account_id, creative_id, headline, landing_url
    from {{ source('linkedin', 'linkedin_creatives') }}
    order by tenant_id, account_id, creative_id, date desc
)

select
    daily.tenant_id,
    'linkedin'::text                    as platform,
    daily.account_id,
    daily.date,
    daily.currency_code                 as account_currency,
    daily.campaign_id::text             as campaign_id,
    daily.campaign_name,
    null::text                          as ad_group_id,
    null::text                          as ad_group_name,
    daily.creative_id::text             as ad_id,
    creatives.headline                  as ad_name,
    creatives.landing_url               as final_url,
    daily.cost::numeric(20, 6)          as spend,
    daily.impressions,
    daily.clicks,
    daily.external_website_conversions  as conversions,
    daily.conversion_value
from {{ source('linkedin', 'linkedin_creative_daily') }} as daily
left join latest_creatives as creatives using (tenant_id, account_id, creative_id)
