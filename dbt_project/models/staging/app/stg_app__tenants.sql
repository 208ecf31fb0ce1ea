-- The tenants `bizo` serves, with the currency and time zone their marts report in.
select
    tenant_id,
    name                                                      as tenant_name,
    reporting_currency::text                                  as reporting_currency,
    time_zone,
    created_at
from {{ source('app', 'tenants') }}
