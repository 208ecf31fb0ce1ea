"""Named jobs: what a schedule, a sensor or `bizo demo` asks Dagster to run."""

import dagster as dg

from assets.dbt import bizo_dbt_models
from assets.google_ads import google_ads_ad_daily

google_ads_job = dg.define_asset_job(
    "google_ads_daily",
    selection=dg.AssetSelection.assets(google_ads_ad_daily),
    description="Pull Google Ads ad × day for the selected tenant-day partitions.",
)

dbt_build_job = dg.define_asset_job(
    "dbt_build",
    selection=dg.AssetSelection.assets(bizo_dbt_models),
    description="Build and test every dbt model (staging, marts).",
)

# For runs executed in-process by `bizo demo` and the tests: the runs are recorded in Dagster
# (see the UI), so the terminal gets only warnings.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
