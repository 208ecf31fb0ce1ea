"""LinkedIn raw assets: creative × day analytics and the creatives' attributes, per tenant-day."""

import dagster as dg

from assets.ingestion import RawTable, SourceTotals, ingest, raw_asset
from assets.partitions import TenantWindow
from assets.resources import LinkedInResource, WarehouseResource
from connectors.linkedin.client import LinkedInCreativeDailyRow, LinkedInCreativeRow
from connectors.linkedin.validation import creative_daily_problems, creative_problems
from connectors.retry import CallStats
from warehouse.control import Connection

CREATIVE_DAILY = RawTable(
    "linkedin_creative_daily",
    LinkedInCreativeDailyRow,
    creative_daily_problems,
    spend=lambda row: row.cost,
    clicks=lambda row: row.clicks,
)
# A snapshot of attributes (names, budgets, creative text) taken for the window's last day.
CREATIVES = RawTable(
    "linkedin_creatives", LinkedInCreativeRow, lambda start, end: creative_problems(end)
)


@raw_asset(
    CREATIVE_DAILY,
    platform="linkedin",
    reconciles=True,
    description="Creative × day adAnalytics (pivot CREATIVE, DAILY) for every connected ad "
    "account; cost in the account currency, exact; reconciled with account-level analytics.",
)
def linkedin_creative_daily(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, linkedin: LinkedInResource
) -> dg.MaterializeResult:
    def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> list:
        with linkedin.connector(account, stats) as connector:
            return connector.fetch_creative_analytics_daily(
                account.account_id, window.start, window.end
            )

    def totals(account: Connection, window: TenantWindow, stats: CallStats) -> SourceTotals:
        with linkedin.connector(account, stats) as connector:
            cost, clicks = connector.fetch_account_totals(
                account.account_id, window.start, window.end
            )
        return SourceTotals(cost, clicks)

    return ingest(
        context,
        warehouse,
        platform="linkedin",
        table=CREATIVE_DAILY,
        fetch=fetch,
        fetch_totals=totals,
    )


@raw_asset(
    CREATIVES,
    platform="linkedin",
    description="Creatives with their campaign, campaign group and daily budget, as of the "
    "window's last day (text ads: headline, description, landing URL with UTMs).",
)
def linkedin_creatives(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, linkedin: LinkedInResource
) -> dg.MaterializeResult:
    def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> list:
        with linkedin.connector(account, stats) as connector:
            return connector.fetch_creatives(account.account_id, as_of=window.end)

    return ingest(context, warehouse, platform="linkedin", table=CREATIVES, fetch=fetch)
