"""Campaign budgets as the ad platforms know them, and pushing new ones back, through a
`BudgetPort` the caller hands in (`connectors.budgets.ConnectorBudgets` in the pipeline and
the CLI): the agents decide what to set; talking to the platforms is the connectors' job."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import psycopg

from warehouse.budgets import AD_PLATFORMS, CampaignBudgetLine
from warehouse.control import Connection, active_connections
from warehouse.crypto import CredentialBox


class BudgetPort(Protocol):
    """Reads and sets campaign budgets on one connected ad account's platform."""

    def read(self, connection: Connection) -> list[CampaignBudgetLine]: ...

    def set(self, connection: Connection, line: CampaignBudgetLine, amount: Decimal) -> None: ...


def read_campaign_budgets(
    conn: psycopg.Connection, box: CredentialBox, tenant_id: str, platforms: BudgetPort
) -> list[CampaignBudgetLine]:
    """Every campaign budget of the tenant's connected ad accounts, read from the platforms."""
    lines: list[CampaignBudgetLine] = []
    for platform in AD_PLATFORMS:
        for connection in active_connections(conn, tenant_id, platform, box):
            lines.extend(platforms.read(connection))
    return lines


def push_budget(
    conn: psycopg.Connection,
    box: CredentialBox,
    line: CampaignBudgetLine,
    amount: Decimal,
    platforms: BudgetPort,
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
    platforms.set(connection, line, amount)
    return amount
