"""The Dagster code location: everything the UI, daemon and run workers load."""

import dagster as dg

from assets.agents import agent_assets
from assets.attribution import channel_set_shares
from assets.crm import crm_companies, crm_contacts, crm_deal_stages, crm_deals
from assets.dbt import bizo_dbt_models, dbt_resource
from assets.fx import fx_rates
from assets.google_ads import google_ads_ad_daily, google_ads_click_views
from assets.landing import crm_contact_exports, web_sessions
from assets.linkedin import linkedin_creative_daily, linkedin_creatives
from assets.meta import meta_ad_insights_daily, meta_ads
from assets.resources import (
    CrmResource,
    FxResource,
    GoogleAdsResource,
    LinkedInResource,
    MetaResource,
    WarehouseResource,
)
from assets.webhooks import crm_webhook_leads
from pipelines.agent_jobs import (
    agent_schedules,
    apply_approved_sensor,
    apply_budget_changes,
    curves_job,
    daily_agents_job,
    reports_job,
)
from pipelines.execution import run_executor
from pipelines.jobs import dbt_build_job, fx_job, ingestion_jobs, landing_job, webhook_job
from pipelines.ml_jobs import ml_assets, ml_schedules, ml_scoring_job, ml_training_job
from pipelines.schedules import fx_morning, morning_schedules
from pipelines.sensors import (
    landing_files_sensor,
    lead_webhooks_sensor,
    tenant_partitions_from_connections,
)

defs = dg.Definitions(
    assets=[
        google_ads_ad_daily,
        google_ads_click_views,
        linkedin_creative_daily,
        linkedin_creatives,
        meta_ad_insights_daily,
        meta_ads,
        crm_contacts,
        crm_companies,
        crm_deals,
        crm_deal_stages,
        web_sessions,
        crm_contact_exports,
        crm_webhook_leads,
        fx_rates,
        bizo_dbt_models,
        channel_set_shares,
        *agent_assets,
        dg.AssetSpec(
            ["app", "tenants"],
            group_name="control",
            kinds={"postgres"},
            description="Tenants registered with `bizo` (warehouse migrations own the table).",
        ),
        *ml_assets,
    ],
    jobs=[
        *ingestion_jobs.values(),
        fx_job,
        landing_job,
        webhook_job,
        dbt_build_job,
        curves_job,
        daily_agents_job,
        reports_job,
        apply_budget_changes,
        ml_training_job,
        ml_scoring_job,
    ],
    schedules=[*morning_schedules, fx_morning, *agent_schedules, *ml_schedules],
    sensors=[
        tenant_partitions_from_connections,
        landing_files_sensor,
        lead_webhooks_sensor,
        apply_approved_sensor,
        # Runs the models' AutomationConditions (eager: rebuild after new raw data) from the
        # moment the daemon starts, rather than after someone switches it on in the UI.
        dg.AutomationConditionSensorDefinition(
            "automation",
            target=dg.AssetSelection.all(),
            default_status=dg.DefaultSensorStatus.RUNNING,
        ),
    ],
    resources={
        "warehouse": WarehouseResource(),
        "google_ads": GoogleAdsResource(),
        "linkedin": LinkedInResource(),
        "meta": MetaResource(),
        "crm": CrmResource(),
        "fx": FxResource(),
        "dbt": dbt_resource(),
    },
    executor=run_executor(),
)
