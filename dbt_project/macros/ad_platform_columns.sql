{# The columns every ad-platform staging model hands to marts.ad_performance_daily, in order.
   One list, so a platform cannot drift from the others. #}
{% macro ad_platform_columns() -%}
    {{ return(['tenant_id', 'platform', 'account_id', 'date', 'account_currency',
               'campaign_id', 'campaign_name', 'ad_group_id', 'ad_group_name', 'ad_id',
               'ad_name', 'final_url', 'spend', 'impressions', 'clicks', 'conversions',
               'conversion_value']) }}
{%- endmacro %}

{% macro union_ad_platforms(models) -%}
    {%- for model in models %}
    select {{ ad_platform_columns() | join(', ') }} from {{ ref(model) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
