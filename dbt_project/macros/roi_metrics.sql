{# The attribution model names, in the order dashboards show them. #}
{% macro attribution_models() -%}
    {{ return(['first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay',
               'position_based', 'markov', 'shapley', 'additive_hazard']) }}
{%- endmacro %}

{# Ratios every ROI mart reports, from its summed columns; NULL where the base is zero. #}
{% macro roi_metrics() -%}
    clicks::numeric / nullif(impressions, 0)                  as ctr,
    spend / nullif(clicks, 0)                                 as cpc,
    spend / nullif(leads, 0)                                  as cpl,
    spend / nullif(won_deals, 0)                              as cac,
    attributed_revenue / nullif(spend, 0)                     as roas,
    (attributed_revenue - spend) / nullif(spend, 0)           as roi
{%- endmacro %}

{# Credited conversions and value by stage, summed over attribution_credits rows. #}
{% macro credited_outcomes() -%}
    sum(credit) filter (where stage = 'lead')                 as leads,
    sum(credit) filter (where stage = 'opportunity')          as opportunities,
    sum(revenue) filter (where stage = 'opportunity')         as pipeline_value,
    sum(credit) filter (where stage = 'closed_won')           as won_deals,
    sum(revenue) filter (where stage = 'closed_won')          as attributed_revenue
{%- endmacro %}
