{# On an incremental run, only rows of the partition window Dagster passed as min_date and
   max_date (pipelines/dbt_vars.py); a full build (or --full-refresh) takes everything. #}
{% macro in_partition_window(date_column) -%}
    {%- if is_incremental() -%}
        {{ date_column }} between '{{ var("min_date") }}'::date and '{{ var("max_date") }}'::date
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
