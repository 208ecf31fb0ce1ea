{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'lead_id'],
    indexes=[{'columns': ['tenant_id', 'lead_id']}],
) }}
-- Each lead's path: the web sessions of its anonymous id in the lookback before it became a
-- lead (identity stitching: the form fill ties the anonymous visitor to the contact), in time
-- order, each bridged to the exact ad where the click or the URL says which one. A lead with
-- no session in reach keeps one 'unknown' touch, so every conversion is still counted.
with leads as (
    select
        contacts.tenant_id,
        contacts.contact_id::bigint                              as lead_id,
        contacts.anonymous_id,
        contacts.created_at                                      as converted_at,
        (contacts.created_at at time zone tenants.time_zone)::date as conversion_date
    from {{ ref('stg_crm__contacts') }} as contacts
    join {{ ref('stg_app__tenants') }} as tenants using (tenant_id)
    where contacts.created_at is not null
),

windowed as (
    select * from leads where {{ in_partition_window('conversion_date') }}
),

sessions as (
    select * from {{ ref('stg_web__sessions') }}
    {% if is_incremental() -%}
    -- Only the days the window's leads can reach (a day's margin for time zones), so a
    -- daily run reads a month of sessions through the (tenant_id, date) key, not all history.
    {%- set window = partition_window() %}
    where date >= '{{ window.min_date }}'::date - {{ var('attribution_lookback_days') + 1 }}
      and date <= '{{ window.max_date }}'::date + 1
    {%- endif %}
),

paths as (
    -- A left join: a lead with no session in reach keeps one row, its 'unknown' touch.
    select
        leads.tenant_id,
        leads.lead_id,
        leads.converted_at,
        leads.conversion_date,
        sessions.session_id,
        coalesce(sessions.started_at, leads.converted_at)       as touched_at,
        coalesce(sessions.channel, 'unknown')                   as channel,
        sessions.platform,
        coalesce(sessions.match_method, 'none')                 as match_method,
        coalesce(ads.campaign_id, clicks.campaign_id)           as campaign_id,
        coalesce(ads.ad_id, clicks.ad_id)                       as ad_id,
        case
            when clicks.ad_id is not null then 'gclid'
            when ads.ad_id is not null then 'utm_content'
        end                                                     as ad_matched_by
    from windowed as leads
    left join sessions
        on sessions.tenant_id = leads.tenant_id
       and sessions.anonymous_id = leads.anonymous_id
       and sessions.started_at <= leads.converted_at
       and sessions.started_at > leads.converted_at
           - make_interval(days => {{ var('attribution_lookback_days') }})
    -- The click ID names the exact ad where the platform resolves it (Google's click_view);
    -- the URL's utm_content (an ad id macro) is the fallback.
    left join {{ ref('stg_google_ads__click_views') }} as clicks
        on clicks.tenant_id = sessions.tenant_id
       and clicks.gclid = sessions.gclid
    left join {{ ref('int_ads') }} as ads
        on ads.tenant_id = sessions.tenant_id
       and ads.platform = sessions.platform
       and ads.ad_id = coalesce(clicks.ad_id, sessions.utm_content)
)

select
    *,
    row_number() over (
        partition by tenant_id, lead_id order by touched_at, session_id
    )                                                            as touch_index,
    count(*) over (partition by tenant_id, lead_id)              as touches_in_path
from paths
