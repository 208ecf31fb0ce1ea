"""CRM raw assets: contacts, companies, deals and deal stages synced by last-modified time.

A partition day holds the object versions last modified that day (UTC); dbt staging keeps
the latest version of each object. The morning lookback re-syncs recent days, so late
changes land too.
"""

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import dagster as dg

from assets.ingestion import Fetched, RawTable, ingest, raw_asset, within_window
from assets.partitions import TenantWindow
from assets.resources import CrmResource, WarehouseResource
from connectors.crm.client import (
    CrmCompanyRow,
    CrmConnector,
    CrmContactRow,
    CrmDealRow,
    CrmDealStageRow,
)
from connectors.crm.validation import (
    company_problems,
    contact_problems,
    deal_problems,
    deal_stage_problems,
)
from connectors.retry import CallStats
from warehouse.control import Connection

CONTACTS = RawTable("crm_contacts", CrmContactRow, within_window(contact_problems))
COMPANIES = RawTable("crm_companies", CrmCompanyRow, within_window(company_problems))
DEALS = RawTable("crm_deals", CrmDealRow, within_window(deal_problems))
DEAL_STAGES = RawTable("crm_deal_stages", CrmDealStageRow, within_window(deal_stage_problems))


def modified_between(window: TenantWindow) -> tuple[datetime, datetime]:
    """The last-modified range [start, end) that a window of UTC days covers."""
    start = datetime.combine(window.start, time.min, tzinfo=UTC)
    return start, datetime.combine(window.end + timedelta(days=1), time.min, tzinfo=UTC)


def crm_asset(
    table: RawTable,
    fetch_rows: Callable[[CrmConnector, datetime, datetime], list],
    description: str,
) -> dg.AssetsDefinition:
    """One CRM object type as an asset: the same partitions, checks and ingestion for each."""

    @raw_asset(table, platform="crm", description=description)
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, crm: CrmResource
    ) -> dg.MaterializeResult:
        def fetch(account: Connection, window: TenantWindow, stats: CallStats) -> Fetched:
            with crm.connector(account, stats) as connector:
                rows = fetch_rows(connector, *modified_between(window))
                # New properties the CRM started sending are tolerated, and reported.
                unknown = {
                    f"{object_type}.{name}"
                    for object_type, names in connector.unknown_properties.items()
                    for name in names
                }
            return Fetched(rows, unknown_fields=frozenset(unknown))

        return ingest(context, warehouse, platform="crm", table=table, fetch=fetch)

    return _asset


crm_contacts = crm_asset(
    CONTACTS,
    lambda connector, since, before: connector.fetch_contacts(since, before),
    "Contacts (leads) modified in the window: firmographics, notes, the browser's anonymous "
    "id from the form fill, original source and first/last touch.",
)
crm_companies = crm_asset(
    COMPANIES,
    lambda connector, since, before: connector.fetch_companies(since, before),
    "Companies modified in the window: size, industry, description.",
)
crm_deals = crm_asset(
    DEALS,
    lambda connector, since, before: connector.fetch_deals(since, before),
    "Deals modified in the window: stage, amount, close date, contact and company.",
)
crm_deal_stages = crm_asset(
    DEAL_STAGES,
    lambda connector, since, before: connector.fetch_deals_with_stages(since, before)[1],
    "When each deal modified in the window entered each stage (stage history).",
)
