"""The stored world, advanced day by day with the budgets the platforms were told to use."""

import os
from collections.abc import Iterator
from datetime import date, timedelta

import psycopg
import pytest
from psycopg import sql

from sandbox.advance import adstock_before, advance_world, campaign_budgets_on
from sandbox.budgets import record_budget_change
from sandbox.store import write_world
from sandbox.world import generate_world
from warehouse.migrate import migrate
from warehouse.server import ensure_database, server_address
from warehouse.settings import get_settings

END = date(2026, 3, 31)


@pytest.fixture(scope="module")
def own_world() -> Iterator[str]:
    """A world in a database of its own: advancing it must not move the shared one."""
    address = server_address(get_settings())
    name = f"bizo_test_advance_{os.getpid()}"
    ensure_database(address, name)
    uri = address.uri(name)
    with psycopg.connect(uri) as conn:
        migrate(conn)
        write_world(conn, generate_world("small", seed=5, end=END))
    yield uri
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_the_adstock_carries_on_from_the_history():
    assert adstock_before([10.0, 10.0], 0.5) == pytest.approx(20.0)
    assert adstock_before([10.0, 0.0], 0.5) == pytest.approx(10.0)


def test_a_changed_budget_drives_the_next_days_spend(own_world):
    with psycopg.connect(own_world) as conn:
        tenant, platform, account, campaign_id, budget_id, budget = conn.execute(
            """SELECT tenant_id, platform, account_id, campaign_id, budget_id, daily_budget_micros
               FROM sandbox.campaigns WHERE platform = 'google_ads' ORDER BY campaign_id LIMIT 1"""
        ).fetchone()
        before = campaign_budgets_on(conn, tenant, END + timedelta(days=1))
    assert before[campaign_id] == budget
    raised = (budget * 3 // 2) // 10_000 * 10_000
    _, effective = record_budget_change(
        own_world,
        platform=platform,
        account_id=account,
        object_type="campaign_budget",
        object_id=budget_id,
        budget_micros=raised,
    )
    assert effective == END + timedelta(days=1)
    outcomes = advance_world(own_world, days=2)
    with psycopg.connect(own_world) as conn:
        assert conn.execute("SELECT end_date FROM sandbox.world_meta").fetchone()[
            0
        ] == END + timedelta(days=2)
        budgets = conn.execute(
            "SELECT date, budget_micros FROM sandbox.campaign_budget_daily "
            "WHERE platform = %s AND campaign_id = %s AND date > %s ORDER BY date",
            (platform, campaign_id, END),
        ).fetchall()
        assert [b for _, b in budgets] == [raised, raised]
        spend = conn.execute(
            "SELECT date, sum(cost_micros) FROM sandbox.ad_delivery_daily d "
            "JOIN sandbox.ads a USING (platform, ad_id) WHERE a.campaign_id = %s AND d.date > %s "
            "GROUP BY 1 ORDER BY 1",
            (campaign_id, END),
        ).fetchall()
        # Spend follows the new budget, never above it, above what the old one allowed.
        assert all(budget < micros <= raised for _, micros in spend)
        # Every tenant and channel has its truth for both days; nothing else changed them.
        truth = conn.execute(
            "SELECT count(*), count(DISTINCT date) FROM sandbox.true_daily_outcomes"
        ).fetchone()
        assert truth == (2 * 3 * 2, 2)
        claimed = conn.execute(
            "SELECT sum(conversions) FROM sandbox.ad_delivery_daily WHERE date > %s", (END,)
        ).fetchone()[0]
    assert claimed == sum(o.leads for o in outcomes)
    assert all(o.expected_leads > 0 and o.value_per_lead > 0 for o in outcomes)
