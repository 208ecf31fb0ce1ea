{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'period_start'],
    indexes=[{'columns': ['tenant_id', 'period_start']}],
) }}
-- Channel × month × attribution model: what was spent and what each model credits it with.
-- Spend is by the day it was spent; outcomes by the day they converted. Unpaid channels
-- (organic search, direct, referral) have outcomes and no spend.
-- A daily run rebuilds the whole months its window touches.
with spend as (
    select
        tenant_id,
        date_trunc('month', date)::date                       as period_start,
        platform                                              as channel,
        sum(spend)                                            as spend,
        sum(impressions)                                      as impressions,
        sum(clicks)                                           as clicks
    from {{ ref('ad_performance_daily') }}
    where {{ in_partition_window('date', grain='month') }}
    group by 1, 2, 3
),

models as (
    select unnest(array['{{ attribution_models() | join("', '") }}']) as model
),

outcomes as (
    select
        tenant_id,
        date_trunc('month', conversion_date)::date            as period_start,
        model,
        channel,
        {{ credited_outcomes() }}
    from {{ ref('attribution_credits') }}
    where {{ in_partition_window('conversion_date', grain='month') }}
    group by 1, 2, 3, 4
),

combined as (
    select
        tenant_id,
        period_start,
        model,
        channel,
        coalesce(spend.spend, 0)                              as spend,
        coalesce(spend.impressions, 0)                        as impressions,
        coalesce(spend.clicks, 0)                             as clicks,
        coalesce(outcomes.leads, 0)                           as leads,
        coalesce(outcomes.opportunities, 0)                   as opportunities,
        coalesce(outcomes.pipeline_value, 0)                  as pipeline_value,
        coalesce(outcomes.won_deals, 0)                       as won_deals,
        coalesce(outcomes.attributed_revenue, 0)              as attributed_revenue
    from (select spend.*, models.model from spend cross join models) as spend
    full join outcomes using (tenant_id, period_start, model, channel)
)

select
    combined.*,
    tenants.reporting_currency                                as currency,
    {{ roi_metrics() }}
from combined
join {{ ref('stg_app__tenants') }} as tenants using (tenant_id)
