"""Meta raw assets: ad × day insights and ad attributes (budgets, creatives), per tenant-day."""

import dagster as dg

from assets.ingestion import RawTable, SourceTotals, ingest, raw_asset
from assets.partitions import TenantWindow
from assets.resources import MetaResource, WarehouseResource
from connectors.meta.client import MetaAdDailyRow, MetaAdRow
from connectors.meta.validation import ad_daily_problems, ad_problems
from connectors.retry import CallStats
from warehouse.control import Connection

INSIGHTS_DAILY = RawTable(
    "meta_ad_insights_daily",
    MetaAdDailyRow,
    ad_daily_problems,
    spend=lambda row: row.spend,
    # Link clicks: the clicks that land on the site (and become sessions).
    clicks=lambda row: row.inline_link_clicks,
)
# A snapshot of attributes (names, ad set budgets, creatives) taken for the window's last day.
ADS = RawTable("meta_ads", MetaAdRow, ad_problems)


@raw_asset(
    INSIGHTS_DAILY,
    platform="meta",
    reconciles=True,
    description="Ad × day insights (level=ad, time_increment=1; async report runs for long "
    "windows) for every connected ad account; spend exact, leads = pixel leads.",
)
def meta_ad_insights_daily(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, meta: MetaResource
) -> dg.MaterializeResult:
    def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> list:
        with meta.connector(account, stats) as connector:
            return connector.fetch_ad_insights_daily(account.account_id, window.start, window.end)

    def totals(account: Connection, window: TenantWindow, stats: CallStats) -> SourceTotals:
        with meta.connector(account, stats) as connector:
            found = connector.fetch_account_totals(account.account_id, window.start, window.end)
        return SourceTotals(found.spend, found.inline_link_clicks)

    return ingest(
        context, warehouse, platform="meta", table=INSIGHTS_DAILY, fetch=fetch, fetch_totals=totals
    )


@raw_asset(
    ADS,
    platform="meta",
    description="Ads with ad set (daily budget), campaign and creative (title, body, link, "
    "url_tags), as of the window's last day.",
)
def meta_ads(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, meta: MetaResource
) -> dg.MaterializeResult:
    def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> list:
        with meta.connector(account, stats) as connector:
            return connector.fetch_ads(account.account_id, snapshot_date=window.end)

    return ingest(context, warehouse, platform="meta", table=ADS, fetch=fetch)
