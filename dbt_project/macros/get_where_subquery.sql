{# dbt's hook for filtering what a data test reads (its `where` config), extended: a test on
   an incremental mart that declares `meta: {partition: {date_column, grain}}` reads only the
   run's window on an incremental run, because the run rewrote only those rows and a full
   scan of history would cost more than the rebuild. A full refresh tests every row, and so
   does a manual `dbt build`, whose default window is everything. #}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set partition = tested_model_partition() -%}
    {%- if partition -%}
        {%- do conditions.append(partition_window_condition(partition.date_column, partition.get('grain', 'day'))) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{# The partition meta of the incremental model this test is attached to; none on a full
   refresh, while parsing, or for a test of anything else. #}
{% macro tested_model_partition() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- if tested is none or tested.config.materialized != 'incremental' -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(tested.config.meta.get('partition')) -%}
{%- endmacro %}
