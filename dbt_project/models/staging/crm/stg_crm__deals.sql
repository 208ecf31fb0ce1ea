-- The latest version of each deal; HubSpot's stage ids mapped to our vocabulary.
select distinct on (tenant_id, deal_id)
    tenant_id,
    deal_id::text           as deal_id,
    contact_id::text        as contact_id,
    case deal_stage
        when 'closedwon' then 'closed_won'
        when 'closedlost' then 'closed_lost'
        else deal_stage
    end                     as deal_stage,
    amount,
    currency_code,
    created_at,
    close_date,
    last_modified_at
from {{ source('crm', 'crm_deals') }}
order by tenant_id, deal_id, last_modified_at desc, _loaded_at desc
