"""Campaign budgets as the ad platforms know them, and pushing new ones back.

Both directions go through the connectors and their real mutation calls: Google Ads'
``CampaignBudgetService.MutateCampaignBudgets``, a POST of ``daily_budget`` on Meta ad sets,
and a Rest.li PARTIAL_UPDATE of a LinkedIn campaign's ``dailyBudget``. Budgets are in each
account's own currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from connectors.google_ads.client import GoogleAdsConnector
from connectors.linkedin.client import LinkedInConnector
from connectors.meta.client import MetaConnector, budget_from_minor_units
from connectors.settings import GoogleAdsSettings, LinkedInSettings, MetaSettings
from warehouse.control import Connection, active_connections
from warehouse.crypto import CredentialBox

AD_PLATFORMS = ("google_ads", "meta", "linkedin")


@dataclass(frozen=True)
class CampaignBudgetLine:
    """One campaign's daily budget on its platform."""

    tenant_id: str
    platform: str
    account_id: str
    campaign_id: str
    currency: str
    daily_budget: Decimal
    budget_id: str | None = None  # Google's campaign budget resource name


def open_connector(connection: Connection) -> Any:
    """The platform's connector for a connection, configured from the process settings."""
    token = connection.credentials["access_token"]
    if connection.platform == "google_ads":
        settings = GoogleAdsSettings()
        return GoogleAdsConnector(
            developer_token=settings.developer_token,
            login_customer_id=connection.config.get("login_customer_id"),
            endpoint=settings.endpoint,
            ca_cert_path=settings.ca_cert_path,
            access_token=token,
        )
    if connection.platform == "meta":
        settings = MetaSettings()
        return MetaConnector(
            access_token=token, base_url=settings.base_url, api_version=settings.api_version
        )
    if connection.platform == "linkedin":
        settings = LinkedInSettings()
        return LinkedInConnector(
            access_token=token, base_url=settings.base_url, version=settings.version
        )
    raise ValueError(f"{connection.platform} has no budgets to change")


ConnectorFactory = Callable[[Connection], Any]


def read_campaign_budgets(
    conn: psycopg.Connection,
    box: CredentialBox,
    tenant_id: str,
    open_with: ConnectorFactory = open_connector,
) -> list[CampaignBudgetLine]:
    """Every campaign budget of the tenant's connected ad accounts, read from the platforms."""
    lines: list[CampaignBudgetLine] = []
    for platform in AD_PLATFORMS:
        for connection in active_connections(conn, tenant_id, platform, box):
            with open_with(connection) as connector:
                lines.extend(_read(connector, connection))
    return lines


def _read(connector: Any, connection: Connection) -> list[CampaignBudgetLine]:
    tenant, platform, account = connection.tenant_id, connection.platform, connection.account_id
    if platform == "google_ads":
        return [
            CampaignBudgetLine(
                tenant,
                platform,
                account,
                str(b.campaign_id),
                b.currency_code,
                b.amount,
                b.resource_name,
            )
            for b in connector.fetch_campaign_budgets(account).values()
        ]
    if platform == "meta":
        currency, campaigns = connector.fetch_adset_budgets(account)
        return [
            CampaignBudgetLine(
                tenant,
                platform,
                account,
                campaign_id,
                currency,
                budget_from_minor_units(sum(adsets.values()), currency),
            )
            for campaign_id, adsets in sorted(campaigns.items())
            if sum(adsets.values()) > 0
        ]
    currency = connector.fetch_ad_account(account)["currency"]
    return [
        CampaignBudgetLine(tenant, platform, account, str(cid), currency, amount)
        for cid, amount in connector.fetch_campaign_budgets(account).items()
        if amount is not None
    ]


def push_budget(
    conn: psycopg.Connection,
    box: CredentialBox,
    line: CampaignBudgetLine,
    amount: Decimal,
    open_with: ConnectorFactory = open_connector,
) -> Decimal:
    """Set one campaign's daily budget on its platform; returns the amount set."""
    connection = next(
        (
            c
            for c in active_connections(conn, line.tenant_id, line.platform, box)
            if c.account_id == line.account_id
        ),
        None,
    )
    if connection is None:
        raise LookupError(
            f"{line.tenant_id} has no active {line.platform} connection for {line.account_id}"
        )
    amount = Decimal(amount).quantize(Decimal("0.01"))
    with open_with(connection) as connector:
        if line.platform == "google_ads":
            connector.set_campaign_budget(line.account_id, int(line.campaign_id), amount)
        elif line.platform == "meta":
            connector.set_campaign_daily_budget(
                line.account_id, line.campaign_id, amount, line.currency
            )
        else:
            connector.set_campaign_daily_budget(
                line.account_id, int(line.campaign_id), amount, line.currency
            )
    return amount
