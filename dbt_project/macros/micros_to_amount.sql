{# Platform money arrives as integer micros: six decimals hold it exactly, no float on the way. #}
{% macro micros_to_amount(column) -%}
    ({{ column }}::numeric(20, 0) / 1000000)::numeric(20, 6)
{%- endmacro %}
