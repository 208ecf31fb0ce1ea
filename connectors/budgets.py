"""Campaign budgets on the ad platforms, read and set through each connector's real calls:
Google Ads' ``CampaignBudgetService.MutateCampaignBudgets``, a POST of ``daily_budget`` on
Meta ad sets, and a Rest.li PARTIAL_UPDATE of a LinkedIn campaign's ``dailyBudget``. Budgets
are in each account's own currency.

`ConnectorBudgets` is what the agents are handed (their `BudgetPort`): the agents decide,
the connectors talk to the platforms, and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connectors.factory import open_connector
from connectors.meta.client import budget_from_minor_units
from warehouse.budgets import CampaignBudgetLine
from warehouse.control import Connection

ConnectorFactory = Callable[[Connection], Any]


class ConnectorBudgets:
    """Every campaign budget of a connected ad account, and setting one, via the connectors."""

    def __init__(self, open_with: ConnectorFactory = open_connector) -> None:
        self._open = open_with

    def read(self, connection: Connection) -> list[CampaignBudgetLine]:
        with self._open(connection) as connector:
            return _read(connector, connection)

    def set(self, connection: Connection, line: CampaignBudgetLine, amount: Decimal) -> None:
        with self._open(connection) as connector:
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
