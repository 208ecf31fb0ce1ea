"""Named jobs: what a schedule, a sensor or `bizo demo` asks Dagster to run."""

import dagster as dg

from assets.dbt import bizo_dbt_models

# One ingestion job per platform: its runs carry a `platform` tag, so the run queue's tag
# concurrency limits (deploy/dagster.yaml) keep backfills inside each platform's API quota.
AD_PLATFORMS = ("google_ads", "meta", "linkedin")
INGESTED_PLATFORMS = (*AD_PLATFORMS, "crm")


def ingestion_job(platform: str):
    """The platform's raw assets (its asset group) as one job, tagged with the platform."""
    return dg.define_asset_job(
        f"{platform}_daily",
        selection=dg.AssetSelection.groups(platform),
        tags={"platform": platform},
        description=f"Pull {platform} raw tables for the selected tenant-day partitions.",
    )


ingestion_jobs = {platform: ingestion_job(platform) for platform in INGESTED_PLATFORMS}

landing_job = dg.define_asset_job(
    "landing_files",
    selection=dg.AssetSelection.groups("landing"),
    tags={"platform": "landing"},
    description="Load landed files (web sessions, CRM exports) for the selected partitions.",
)

fx_job = dg.define_asset_job(
    "fx_daily",
    selection=dg.AssetSelection.assets(["raw", "fx_rates"]),
    tags={"platform": "fx"},
    description="Load daily FX rates for the selected days (shared by every tenant).",
)

webhook_job = dg.define_asset_job(
    "lead_webhooks",
    selection=dg.AssetSelection.assets(["raw", "crm_webhook_leads"]),
    description="Process lead webhook events waiting in app.lead_webhook_events.",
)

dbt_build_job = dg.define_asset_job(
    "dbt_build",
    # The data-driven attribution asset sits between dbt models (journeys in, credits out).
    selection=dg.AssetSelection.assets(bizo_dbt_models)
    | dg.AssetSelection.assets(["attribution", "channel_set_shares"]),
    description="Build and test every dbt model (staging, marts) and the data-driven "
    "attribution shares between them.",
)

# For runs executed in-process by `bizo demo` and the tests: the runs are recorded in Dagster
# (see the UI), so the terminal gets only warnings.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
