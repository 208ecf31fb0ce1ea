-- The API reads one tenant's leads by creation date (/v1/funnel) or by contact (/v1/leads);
-- without these indexes each request scanned every tenant's rows.
{{ config(indexes=[
    {'columns': ['tenant_id', 'lead_created_at']},
    {'columns': ['tenant_id', 'contact_id']},
]) }}
-- The CRM funnel, one row per lead and its deal (leads without a deal have no deal columns):
-- when each stage was entered and how long each step took. Stage counts are sums over it.
with stages as (
    select
        tenant_id,
        deal_id,
        min(entered_at) filter (where stage = 'opportunity') as opportunity_at,
        min(entered_at) filter (where stage = 'closed_won')  as won_at,
        min(entered_at) filter (where stage = 'closed_lost') as lost_at
    from {{ ref('stg_crm__deal_stages') }}
    group by 1, 2
)

select
    contacts.tenant_id,
    contacts.contact_id,
    contacts.created_at                     as lead_created_at,
    contacts.original_source,
    deals.deal_id,
    deals.amount,
    deals.currency_code,
    stages.opportunity_at,
    stages.won_at,
    stages.lost_at,
    case
        when stages.won_at is not null then 'closed_won'
        when stages.lost_at is not null then 'closed_lost'
        when stages.opportunity_at is not null then 'opportunity'
        else 'lead'
    end                                     as stage,
    extract(epoch from stages.opportunity_at - contacts.created_at) / 86400.0
                                            as days_lead_to_opportunity,
    extract(epoch from coalesce(stages.won_at, stages.lost_at) - stages.opportunity_at) / 86400.0
                                            as days_opportunity_to_close
from {{ ref('stg_crm__contacts') }} as contacts
left join {{ ref('stg_crm__deals') }} as deals
    on deals.tenant_id = contacts.tenant_id and deals.contact_id = contacts.contact_id
left join stages
    on stages.tenant_id = deals.tenant_id and stages.deal_id = deals.deal_id
