-- Every attribution model side by side, per tenant, stage and channel, over all time: the
-- conversions and value each credits to the channel, its share of the stage, and how far
-- it moves the channel from last touch (the default most teams start from). Summed from
-- channel_roi's months, which hold the same credits, rather than from the million-row
-- credits table, so a daily run does not scan all history.
with by_stage as (
    select roi.tenant_id, stages.stage, roi.channel, roi.model, stages.conversions, stages.revenue
    from {{ ref('channel_roi') }} as roi
    cross join lateral (
        values
            ('lead', roi.leads, 0::numeric),
            ('opportunity', roi.opportunities, roi.pipeline_value),
            ('closed_won', roi.won_deals, roi.attributed_revenue)
    ) as stages (stage, conversions, revenue)
),

summed as (
    select
        tenant_id,
        stage,
        channel,
        model,
        sum(conversions)                                      as conversions,
        sum(revenue)                                          as revenue
    from by_stage
    group by 1, 2, 3, 4
),

credited as (
    -- channel_roi also lists channels with spend and no touch at a stage; linear credits
    -- every touch, so a channel was touched at a stage exactly when linear credits it.
    select *
    from summed
    where exists (
        select from summed as linear
        where linear.tenant_id = summed.tenant_id
          and linear.stage = summed.stage
          and linear.channel = summed.channel
          and linear.model = 'linear'
          and linear.conversions > 0
    )
)

select
    credited.*,
    credited.conversions / nullif(
        sum(credited.conversions) over (
        partition by credited.tenant_id, credited.stage, credited.model
    ), 0
    )                                                         as credit_share,
    credited.conversions - coalesce(last_touch.conversions, 0) as conversions_vs_last_touch
from credited
left join credited as last_touch
    on last_touch.tenant_id = credited.tenant_id
   and last_touch.stage = credited.stage
   and last_touch.channel = credited.channel
   and last_touch.model = 'last_touch'
