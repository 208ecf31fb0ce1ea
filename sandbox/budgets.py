"""Budget changes the platform sandboxes accept, and the budgets they add up to.

Each platform changes budgets on its own object: Google Ads on the campaign budget
(``CampaignBudgetService.MutateCampaignBudgets``), Meta on the ad set (``daily_budget``), LinkedIn
on the campaign (``dailyBudget``). The sandboxes record every accepted change in
``sandbox.budget_changes``, effective the day after the world's last simulated day. The data
layers show the latest change at once (as the real APIs do); ``sandbox.advance`` delivers the
following days with them.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
from psycopg import sql

MICROS = 1_000_000


class UnknownBudgetObject(LookupError):
    """The call named a budget, ad set or campaign the account does not have."""


def record_budget_change(
    conninfo: str,
    *,
    platform: str,
    account_id: str,
    object_type: str,
    object_id: int,
    budget_micros: int,
) -> tuple[int, date]:
    """Store one accepted change; returns (campaign id, effective date). The object must
    belong to the account."""
    if budget_micros <= 0:
        raise ValueError(f"a daily budget must be positive, got {budget_micros} micros")
    column = {"campaign_budget": "budget_id", "campaign": "campaign_id", "adset": None}[object_type]
    with psycopg.connect(conninfo) as conn:
        if column is None:
            found = conn.execute(
                "SELECT campaign_id FROM sandbox.ad_groups "
                "WHERE platform = %s AND account_id = %s AND ad_group_id = %s",
                (platform, account_id, object_id),
            ).fetchone()
        else:
            query = sql.SQL(
                "SELECT campaign_id FROM sandbox.campaigns "
                "WHERE platform = %s AND account_id = %s AND {} = %s"
            ).format(sql.Identifier(column))
            found = conn.execute(query, (platform, account_id, object_id)).fetchone()
        if found is None:
            raise UnknownBudgetObject(f"{platform} {object_type} {object_id} in {account_id}")
        world_end = conn.execute("SELECT end_date FROM sandbox.world_meta").fetchone()
        effective = (world_end[0] if world_end else date.today()) + timedelta(days=1)
        conn.execute(
            """INSERT INTO sandbox.budget_changes
                   (platform, account_id, campaign_id, object_type, object_id, budget_micros,
                    effective_date)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (platform, account_id, found[0], object_type, object_id, budget_micros, effective),
        )
    return int(found[0]), effective


def latest_changes(
    conn: psycopg.Connection, platform: str, on: date | None = None
) -> dict[int, int]:
    """The latest changed budget per object id (micros), counting changes effective on or
    before `on` (all of them when None: what the API shows now)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (object_id) object_id, budget_micros
           FROM sandbox.budget_changes
           WHERE platform = %s AND (%s::date IS NULL OR effective_date <= %s::date)
           ORDER BY object_id, change_id DESC""",
        (platform, on, on),
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}
