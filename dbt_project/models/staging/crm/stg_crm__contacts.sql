-- The latest version of each contact (lead): raw keeps one version per last-modified day.
select distinct on (tenant_id, contact_id)
    tenant_id,
    contact_id::text        as contact_id,
    email,
    job_title,
    company,
    company_size,
    industry,
    country,
    notes,
    anonymous_id,
    lifecycle_stage,
    original_source,
    created_at,
    last_modified_at
from {{ source('crm', 'crm_contacts') }}
order by tenant_id, contact_id, last_modified_at desc, _loaded_at desc
