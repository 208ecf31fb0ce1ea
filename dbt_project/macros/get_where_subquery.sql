{# dbt's hook for filtering what a data test reads (its `where` config), extended: a test of a
   model that declares `meta: {partition: {date_column, grain}}` (the incremental marts, and
   staging views over raw tables the ingestion jobs replace by day) reads only the run's
   window, because the run rewrote only those days and a scan of all history would cost more
   than the rebuild. A full refresh tests every row, and so does a manual `dbt build`, whose
   default window is everything. Tests whose rule spans days (a click ID unique across days)
   belong to models that declare no partition. #}
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

{# The partition meta of the model this test is attached to; none on a full refresh, while
   parsing, or for a test of a model without one. #}
{% macro tested_model_partition() -%}
    {%- if not execute or flags.FULL_REFRESH or not model.attached_node -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set tested = graph.nodes.get(model.attached_node) -%}
    {%- do return(tested.config.meta.get('partition') if tested else none) -%}
{%- endmacro %}
