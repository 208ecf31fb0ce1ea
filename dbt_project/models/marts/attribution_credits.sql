{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'conversion_id'],
    indexes=[{'columns': ['tenant_id', 'model', 'stage', 'conversion_date']}],
) }}
-- One row per conversion × touch × model: how much of the conversion (credit, summing to 1
-- per conversion and model) and of its value (revenue) each touch earned. Conversions are
-- counted at three stages of the same lead: lead created, opportunity opened (its pipeline
-- value) and closed-won (its revenue), all credited to the touches that made the lead.
with tenants as (
    select tenant_id, reporting_currency, time_zone
    from {{ ref('stg_app__tenants') }}
),

conversions as (
    select distinct
        tenant_id, 'lead:' || contact_id as conversion_id, 'lead' as stage,
        contact_id::bigint as lead_id, lead_created_at as converted_at,
        0::numeric as amount, null::text as currency
    from {{ ref('funnel') }}
    union all
    select
        tenant_id, 'opportunity:' || deal_id, 'opportunity',
        contact_id::bigint, opportunity_at, amount, currency_code
    from {{ ref('funnel') }}
    where opportunity_at is not null
    union all
    select
        tenant_id, 'closed_won:' || deal_id, 'closed_won',
        contact_id::bigint, won_at, amount, currency_code
    from {{ ref('funnel') }}
    where won_at is not null
),

valued as (
    select
        conversions.tenant_id,
        conversions.conversion_id,
        conversions.stage,
        conversions.lead_id,
        conversions.converted_at,
        (conversions.converted_at at time zone tenants.time_zone)::date as conversion_date,
        {{ convert_currency(
            'conversions.amount',
            "coalesce(conversions.currency, tenants.reporting_currency)",
            'tenants.reporting_currency',
            'deal_rate.units_per_usd',
            'reporting_rate.units_per_usd',
        ) }} as conversion_value
    from conversions
    join tenants using (tenant_id)
    left join {{ ref('stg_fx__rates') }} as deal_rate
        on deal_rate.date = (conversions.converted_at at time zone tenants.time_zone)::date
       and deal_rate.currency = conversions.currency
    left join {{ ref('stg_fx__rates') }} as reporting_rate
        on reporting_rate.date = (conversions.converted_at at time zone tenants.time_zone)::date
       and reporting_rate.currency = tenants.reporting_currency
),

channel_sets as (
    select tenant_id, lead_id, string_agg(distinct channel, ',' order by channel) as channel_set
    from {{ ref('journey_touches') }}
    group by 1, 2
),

touches as (
    select
        valued.*,
        journey.session_id,
        journey.touched_at,
        journey.touch_index,
        journey.touches_in_path,
        journey.channel,
        journey.platform,
        journey.campaign_id,
        journey.ad_id,
        channel_sets.channel_set,
        count(*) over (partition by valued.tenant_id, valued.conversion_id, journey.channel)
                                                             as touches_of_channel,
        coalesce(
            max(journey.touch_index) filter (where journey.channel <> 'direct')
                over (partition by valued.tenant_id, valued.conversion_id),
            journey.touches_in_path
        )                                                    as last_non_direct_index,
        power(
            0.5,
            extract(epoch from valued.converted_at - journey.touched_at) / 86400.0
                / {{ var('time_decay_half_life_days') }}
        )                                                    as decay_weight
    from valued
    join {{ ref('journey_touches') }} as journey using (tenant_id, lead_id)
    join channel_sets using (tenant_id, lead_id)
    where {{ in_partition_window('valued.conversion_date') }}
),

heuristic as (
    select *, 'first_touch' as model,
        case when touch_index = 1 then 1.0 else 0.0 end      as credit
    from touches
    union all
    select *, 'last_touch',
        case when touch_index = touches_in_path then 1.0 else 0.0 end
    from touches
    union all
    select *, 'last_non_direct',
        case when touch_index = last_non_direct_index then 1.0 else 0.0 end
    from touches
    union all
    select *, 'linear', 1.0 / touches_in_path
    from touches
    union all
    select *, 'time_decay',
        decay_weight / sum(decay_weight) over (partition by tenant_id, conversion_id)
    from touches
    union all
    -- 40/20/40: first and last 40% each, the middle touches share 20%; one touch takes all,
    -- two touches split evenly.
    select *, 'position_based',
        case
            when touches_in_path = 1 then 1.0
            when touches_in_path = 2 then 0.5
            when touch_index in (1, touches_in_path) then 0.4
            else 0.2 / (touches_in_path - 2)
        end
    from touches
),

data_driven as (
    -- A channel's share of this path's channel set, split across its touches; a set the
    -- fitted models have not seen yet falls back to linear, so no conversion is lost.
    select touches.*, models.model,
        coalesce(shares.share / touches.touches_of_channel, 1.0 / touches.touches_in_path)
    from touches
    cross join (values ('markov'), ('shapley'), ('additive_hazard')) as models (model)
    left join {{ source('attribution', 'channel_set_shares') }} as shares
        on shares.tenant_id = touches.tenant_id
       and shares.stage = touches.stage
       and shares.model = models.model
       and shares.channel_set = touches.channel_set
       and shares.channel = touches.channel
),

credited as (
    select * from heuristic
    union all
    select * from data_driven
)

select
    tenant_id,
    conversion_id,
    stage,
    lead_id,
    converted_at,
    conversion_date,
    model,
    session_id,
    touched_at,
    touch_index,
    channel,
    platform,
    campaign_id,
    ad_id,
    credit::numeric(20, 12)                                  as credit,
    (credit::numeric(20, 12) * conversion_value)::numeric(20, 6) as revenue
from credited
