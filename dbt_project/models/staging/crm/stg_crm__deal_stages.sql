-- When each deal entered each stage (a deal enters a stage once).
select
    tenant_id,
    deal_id::text           as deal_id,
    case stage
        when 'closedwon' then 'closed_won'
        when 'closedlost' then 'closed_lost'
        else stage
    end                     as stage,
    min(entered_at)         as entered_at
from {{ source('crm', 'crm_deal_stages') }}
group by 1, 2, 3
