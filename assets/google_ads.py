"""Google Ads raw assets: GAQL over gRPC into raw.google_ads_ad_daily, per tenant and day."""

import dagster as dg

from assets.ingestion import RawTable, SourceTotals, ingest, raw_asset
from assets.partitions import TenantWindow
from assets.resources import GoogleAdsResource, WarehouseResource
from connectors.google_ads.client import AdDailyRow
from connectors.google_ads.validation import ad_daily_problems
from connectors.retry import CallStats
from warehouse.control import Connection

AD_DAILY = RawTable(
    "google_ads_ad_daily",
    AdDailyRow,
    ad_daily_problems,
    spend=lambda row: row.cost,
    clicks=lambda row: row.clicks,
)


@raw_asset(
    AD_DAILY,
    platform="google_ads",
    reconciles=True,
    description=(
        "Ad × day metrics and attributes from the Google Ads API (SearchStream, FROM "
        "ad_group_ad) for every connected customer of the tenant; replaces the partition's "
        "slice, so re-runs never duplicate. Bad rows go to app.quarantine."
    ),
)
def google_ads_ad_daily(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, google_ads: GoogleAdsResource
) -> dg.MaterializeResult:
    def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> list[AdDailyRow]:
        with google_ads.connector(account, stats) as connector:
            return connector.fetch_ad_daily(account.account_id, window.start, window.end)

    def totals(account: Connection, window: TenantWindow, stats: CallStats) -> SourceTotals:
        with google_ads.connector(account, stats) as connector:
            spend, clicks = connector.fetch_totals(account.account_id, window.start, window.end)
        return SourceTotals(spend, clicks)

    return ingest(
        context, warehouse, platform="google_ads", table=AD_DAILY, fetch=fetch, fetch_totals=totals
    )
