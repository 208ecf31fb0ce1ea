{#
  Row-level security on a mart, run as a post-hook for every model in marts (dbt_project.yml),
  because dbt drops and recreates tables and a policy dies with its table. Rows are visible to
  the API's role (bizo_api, no BYPASSRLS) only where tenant_id equals the transaction's
  app.tenant_id; a mart without a tenant_id column gets RLS and no policy: the API sees none
  of it. The admin role that dbt and the pipelines use owns the tables and is not filtered.
  Same policy as warehouse/rls.py applies to the app and ml schemas.
#}
{% macro tenant_rls() %}
  {%- if model.config.materialized in ('table', 'incremental') -%}
    {%- set has_tenant = adapter.get_columns_in_relation(this)
          | selectattr('name', 'equalto', 'tenant_id') | list | length > 0 -%}
    alter table {{ this }} enable row level security;
    {%- if has_tenant %}
    drop policy if exists tenant_isolation on {{ this }};
    create policy tenant_isolation on {{ this }}
      using (tenant_id = current_setting('app.tenant_id', true));
    {%- endif %}
  {%- elif model.config.materialized == 'view' -%}
    {#- A view reads with its owner's rights unless it runs as the invoker. -#}
    alter view {{ this }} set (security_invoker = true);
  {%- endif -%}
{% endmacro %}
