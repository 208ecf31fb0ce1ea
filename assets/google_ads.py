"""Google Ads raw assets: GAQL over gRPC into raw.google_ads_ad_daily (ad × day) and
raw.google_ads_click_views (gclid → ad), per tenant and day."""

from datetime import timedelta

import dagster as dg

from assets.ingestion import Fetched, RawTable, SourceTotals, ingest, raw_asset
from assets.partitions import TenantWindow
from assets.resources import GoogleAdsResource, WarehouseResource
from connectors.google_ads.client import AdDailyRow, ClickViewDateTooOld, ClickViewRow
from connectors.google_ads.validation import ad_daily_problems, click_view_problems
from connectors.retry import CallStats
from warehouse.control import Connection

AD_DAILY = RawTable(
    "google_ads_ad_daily",
    AdDailyRow,
    ad_daily_problems,
    spend=lambda row: row.cost,
    clicks=lambda row: row.clicks,
)
CLICK_VIEWS = RawTable("google_ads_click_views", ClickViewRow, click_view_problems)


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


@raw_asset(
    CLICK_VIEWS,
    platform="google_ads",
    description=(
        "Every click with a gclid and the ad it was on, from Google's click_view report (one "
        "query per account and day, as the API requires): the bridge from a session's gclid "
        "to the exact ad. Google keeps 90 days; older days keep what raw already holds."
    ),
)
def google_ads_click_views(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, google_ads: GoogleAdsResource
) -> dg.MaterializeResult:
    def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> Fetched:
        rows: list[ClickViewRow] = []
        served_from = None
        with google_ads.connector(account, stats) as connector:
            # Newest first: past the first day Google no longer serves, none older is served
            # either, so a long backfill asks once, not once per expired day.
            day = window.end
            while day >= window.start:
                try:
                    rows += connector.fetch_click_views(account.account_id, day)
                except ClickViewDateTooOld:
                    served_from = day + timedelta(days=1)
                    break
                day -= timedelta(days=1)
        return Fetched(rows, served_from=served_from)

    return ingest(context, warehouse, platform="google_ads", table=CLICK_VIEWS, fetch=fetch)
