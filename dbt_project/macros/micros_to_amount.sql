{# Platform money arrives as integer micros; numeric division keeps every cent exact. #}
{% macro micros_to_amount(column) -%}
    ({{ column }}::numeric / 1000000)
{%- endmacro %}
