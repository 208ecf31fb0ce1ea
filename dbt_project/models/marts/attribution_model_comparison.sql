-- Every attribution model side by side, per tenant, stage and channel, over all time: the
-- conversions and value each credits to the channel, its share of the stage, and how far
-- it moves the channel from last touch (the default most teams start from).
with credited as (
    select
        tenant_id,
        stage,
        channel,
        model,
        sum(credit)                                           as conversions,
        sum(revenue)                                          as revenue
    from {{ ref('attribution_credits') }}
    group by 1, 2, 3, 4
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
