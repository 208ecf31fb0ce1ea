"""The Dagster code location: everything the UI, daemon and run workers load."""

import dagster as dg

from assets.dbt import bizo_dbt_models, dbt_resource
from assets.google_ads import google_ads_ad_daily
from assets.resources import GoogleAdsResource, WarehouseResource
from pipelines.jobs import dbt_build_job, google_ads_job
from pipelines.schedules import google_ads_morning

defs = dg.Definitions(
    assets=[
        google_ads_ad_daily,
        bizo_dbt_models,
        dg.AssetSpec(
            ["app", "tenants"],
            group_name="control",
            kinds={"postgres"},
            description="Tenants registered with `bizo` (warehouse migrations own the table).",
        ),
    ],
    jobs=[google_ads_job, dbt_build_job],
    schedules=[google_ads_morning],
    resources={
        "warehouse": WarehouseResource(),
        "google_ads": GoogleAdsResource(),
        "dbt": dbt_resource(),
    },
)
