-- What the CRM (HubSpot-style) API returned, one row per object *version*.
--
-- CRM objects are mutable and synced incrementally by last-modified time, so a slice is
-- (tenant_id, date) where `date` is the UTC day of the version's `last_modified_at`: the
-- sync of one day's window replaces exactly that day's versions, and re-running it is
-- idempotent. An object modified on several days has one row per such day; dbt staging
-- keeps the latest version per object (highest last_modified_at, then latest date).
-- Stage rows belong to the deal version they came with (same date); staging takes them
-- from the latest version too.
-- A caveat of versions-by-day: re-syncing an old day after the object changed again
-- drops that old version; the newer one lives in its own (later) day's slice.
CREATE TABLE raw.crm_contacts (
    tenant_id              text NOT NULL,
    date                   date NOT NULL,  -- UTC day of last_modified_at
    contact_id             bigint NOT NULL,
    email                  text,
    first_name             text,
    last_name              text,
    job_title              text,
    company                text,
    company_size           integer,        -- numemployees
    industry               text,
    country                text,
    notes                  text,           -- hs_content
    anonymous_id           text,           -- bizo_anonymous_id, set by the form submission
    lifecycle_stage        text,           -- lifecyclestage
    original_source        text,           -- hs_analytics_source (PAID_SEARCH, DIRECT_TRAFFIC, ...)
    original_source_data_1 text,
    original_source_data_2 text,
    latest_source          text,           -- hs_latest_source
    first_touch_campaign   text,           -- hs_analytics_first_touch_converting_campaign
    last_touch_campaign    text,           -- hs_analytics_last_touch_converting_campaign
    first_url              text,
    first_referrer         text,
    first_visit_at         timestamptz,
    last_visit_at          timestamptz,
    num_visits             integer CHECK (num_visits >= 0),
    company_id             bigint,         -- associatedcompanyid
    created_at             timestamptz NOT NULL,  -- createdate
    last_modified_at       timestamptz NOT NULL,  -- lastmodifieddate
    _loaded_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, contact_id)
);
CREATE INDEX crm_contacts_object_idx ON raw.crm_contacts (tenant_id, contact_id, last_modified_at);

CREATE TABLE raw.crm_companies (
    tenant_id           text NOT NULL,
    date                date NOT NULL,  -- UTC day of last_modified_at
    company_id          bigint NOT NULL,
    name                text,
    domain              text,
    industry            text,
    number_of_employees integer CHECK (number_of_employees >= 0),
    country             text,
    description         text,
    created_at          timestamptz NOT NULL,
    last_modified_at    timestamptz NOT NULL,  -- hs_lastmodifieddate
    _loaded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, company_id)
);

CREATE TABLE raw.crm_deals (
    tenant_id              text NOT NULL,
    date                   date NOT NULL,  -- UTC day of last_modified_at
    deal_id                bigint NOT NULL,
    deal_name              text,
    pipeline               text,
    deal_stage             text NOT NULL,   -- the pipeline's stage id (opportunity, closedwon...)
    deal_stage_probability numeric CHECK (deal_stage_probability BETWEEN 0 AND 1),
    amount                 numeric CHECK (amount >= 0),  -- in currency_code
    currency_code          text,
    close_date             timestamptz,
    is_closed              boolean,
    is_closed_won          boolean,
    contact_id             bigint,          -- primary (lowest-id) associated contact
    company_id             bigint,
    created_at             timestamptz NOT NULL,
    last_modified_at       timestamptz NOT NULL,  -- hs_lastmodifieddate
    _loaded_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, deal_id)
);
CREATE INDEX crm_deals_object_idx ON raw.crm_deals (tenant_id, deal_id, last_modified_at);

-- When each deal entered each stage (hs_date_entered_<stage>), per deal version.
CREATE TABLE raw.crm_deal_stages (
    tenant_id  text NOT NULL,
    date       date NOT NULL,  -- the deal version's date
    deal_id    bigint NOT NULL,
    stage      text NOT NULL,
    entered_at timestamptz NOT NULL,
    _loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, deal_id, stage)
);

-- Contact export files landed by the CRM (CSV or JSON). One slice is a tenant's export day:
-- every file of that day loads in one replacement. row_number is the record's line (CSV)
-- or position (JSON) in its file.
CREATE TABLE raw.crm_contact_exports (
    tenant_id       text NOT NULL,
    date            date NOT NULL,  -- the export's day (contacts created that day, tenant time)
    source_file     text NOT NULL,
    row_number      integer NOT NULL,
    contact_id      bigint NOT NULL,
    email           text NOT NULL,
    first_name      text,
    last_name       text,
    job_title       text,
    company         text,
    company_size    integer,
    industry        text,
    country         text,
    notes           text,
    anonymous_id    text,
    original_source text,
    lifecycle_stage text,
    created_at      timestamptz NOT NULL,
    _loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, date, source_file, row_number)
);
