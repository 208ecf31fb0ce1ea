{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'period_start'],
    indexes=[{'columns': ['tenant_id', 'period_start']}],
) }}
-- Campaign × month × attribution model for the paid platforms: spend and credited outcomes
-- of touches bridged to the campaign's ads (click IDs or UTMs).
-- A daily run rebuilds the whole months its window touches.
with spend as (
    select
        tenant_id,
        date_trunc('month', date)::date                       as period_start,
        platform,
        campaign_id,
        max(campaign_name)                                    as campaign_name,
        sum(spend)                                            as spend,
        sum(impressions)                                      as impressions,
        sum(clicks)                                           as clicks
    from {{ ref('ad_performance_daily') }}
    where {{ in_partition_window('date', grain='month') }}
    group by 1, 2, 3, 4
),

models as (
    select unnest(array['{{ attribution_models() | join("', '") }}']) as model
),

outcomes as (
    select
        tenant_id,
        date_trunc('month', conversion_date)::date            as period_start,
        model,
        platform,
        campaign_id,
        {{ credited_outcomes() }}
    from {{ ref('attribution_credits') }}
    where campaign_id is not null
      and {{ in_partition_window('conversion_date', grain='month') }}
    group by 1, 2, 3, 4, 5
),

combined as (
    select
        tenant_id,
        period_start,
        model,
        platform,
        campaign_id,
        spend.campaign_name,
        coalesce(spend.spend, 0)                              as spend,
        coalesce(spend.impressions, 0)                        as impressions,
        coalesce(spend.clicks, 0)                             as clicks,
        coalesce(outcomes.leads, 0)                           as leads,
        coalesce(outcomes.opportunities, 0)                   as opportunities,
        coalesce(outcomes.pipeline_value, 0)                  as pipeline_value,
        coalesce(outcomes.won_deals, 0)                       as won_deals,
        coalesce(outcomes.attributed_revenue, 0)              as attributed_revenue
    from (select spend.*, models.model from spend cross join models) as spend
    full join outcomes using (tenant_id, period_start, model, platform, campaign_id)
)

select
    combined.tenant_id,
    combined.period_start,
    combined.model,
    combined.platform,
    combined.campaign_id,
    coalesce(combined.campaign_name, ads.campaign_name)       as campaign_name,
    combined.spend,
    combined.impressions,
    combined.clicks,
    combined.leads,
    combined.opportunities,
    combined.pipeline_value,
    combined.won_deals,
    combined.attributed_revenue,
    tenants.reporting_currency                                as currency,
    {{ roi_metrics() }}
from combined
join {{ ref('stg_app__tenants') }} as tenants using (tenant_id)
left join (
    select distinct tenant_id, platform, campaign_id, campaign_name from {{ ref('int_ads') }}
) as ads using (tenant_id, platform, campaign_id)
