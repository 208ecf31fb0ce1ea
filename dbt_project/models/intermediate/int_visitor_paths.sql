{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'anonymous_id'],
    indexes=[{'columns': ['tenant_id', 'anonymous_id']}],
) }}
-- Every visitor's path: the channels of their sessions in time order, joined by '>'. The
-- data-driven models (warehouse/attribution.py) count the paths of visitors who never became
-- a lead as non-conversions. A daily run rebuilds the visitors with a session in its window,
-- instead of grouping every session of history again.
with sessions as (
    select * from {{ ref('stg_web__sessions') }}
    {% if is_incremental() -%}
    where (tenant_id, anonymous_id) in (
        select tenant_id, anonymous_id from {{ ref('stg_web__sessions') }}
        where {{ in_partition_window('date') }}
    )
    {%- endif %}
)

select
    tenant_id,
    anonymous_id,
    string_agg(channel, '>' order by started_at, session_id)     as path
from sessions
group by 1, 2
