-- Web sessions with their channel. A click ID is proof of a paid click on its platform; UTMs
-- are the fallback when the ID was stripped; otherwise the referrer tells organic search
-- from referral, and no referrer is direct. utm_content carries the platform's ad id (the
-- ads' URL templates fill it with each platform's ad id macro).
with sessions as (
    select
        tenant_id,
        session_id,
        anonymous_id,
        started_at,
        date,
        landing_url,
        nullif(referrer, '')        as referrer,
        lower(utm_source)           as utm_source,
        lower(utm_medium)           as utm_medium,
        utm_campaign,
        utm_content,
        gclid,
        fbclid,
        li_fat_id
    from {{ source('web', 'web_sessions') }}
),

classified as (
    select
        *,
        case
            when gclid is not null
                or (utm_source = 'google' and utm_medium in ('cpc', 'ppc', 'paid_search'))
                then 'google_ads'
            when fbclid is not null
                or (utm_source in ('facebook', 'fb', 'instagram', 'meta')
                    and utm_medium in ('paid_social', 'cpc', 'paid'))
                then 'meta'
            when li_fat_id is not null
                or (utm_source = 'linkedin' and utm_medium in ('paid_social', 'cpc', 'paid'))
                then 'linkedin'
            when referrer ~* '^https?://([a-z0-9-]+\.)*(google|bing|duckduckgo|yahoo|ecosia)\.'
                then 'organic_search'
            when referrer is null then 'direct'
            else 'referral'
        end as channel
    from sessions
)

select
    *,
    case when channel in ('google_ads', 'meta', 'linkedin') then channel end as platform,
    case
        when coalesce(gclid, fbclid, li_fat_id) is not null then 'click_id'
        when channel in ('google_ads', 'meta', 'linkedin') then 'utm'
        else 'referrer'
    end as match_method
from classified
