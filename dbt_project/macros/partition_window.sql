{# The days an incremental run rebuilds. Dagster passes them in the environment
   (BIZO_DBT_MIN_DATE / BIZO_DBT_MAX_DATE, set by assets/dbt.py from the run's tags), not as
   --vars: changed --vars make dbt re-parse the whole project, while these are only read at
   run time (is_incremental() is false while parsing), so every run parses partially. The
   min_date / max_date vars in dbt_project.yml are the defaults (everything) and still let a
   manual `dbt build --vars` choose a window. #}
{% macro partition_window() -%}
    {{ return({
        'min_date': env_var('BIZO_DBT_MIN_DATE', var('min_date')),
        'max_date': env_var('BIZO_DBT_MAX_DATE', var('max_date')),
    }) }}
{%- endmacro %}

{# A condition true for the window's rows: its days, or with grain='month' the whole months
   it touches (a monthly mart rebuilds the month, not the days of it that changed). #}
{% macro partition_window_condition(date_column, grain='day') -%}
    {%- set window = partition_window() -%}
    {{ date_column }} >= date_trunc('{{ grain }}', '{{ window.min_date }}'::date)::date
    and {{ date_column }} < (date_trunc('{{ grain }}', '{{ window.max_date }}'::date)
                             + interval '1 {{ grain }}')::date
{%- endmacro %}

{# In an incremental model: only the window's rows; a full build (or --full-refresh) takes
   everything. #}
{% macro in_partition_window(date_column, grain='day') -%}
    {%- if is_incremental() -%}
        {{ partition_window_condition(date_column, grain) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
