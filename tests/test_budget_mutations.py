"""Budget changes through the connectors' real mutation calls, against the sandboxes."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from google.ads.googleads.errors import GoogleAdsException

from agents.platforms import push_budget, read_campaign_budgets
from connectors.budgets import ConnectorBudgets
from connectors.google_ads.client import to_api_error
from connectors.linkedin.client import LinkedInApiError
from connectors.meta.client import proportional_split
from warehouse.crypto import CredentialBox
from warehouse.settings import get_settings


@pytest.fixture
def box() -> CredentialBox:
    return CredentialBox.from_settings(get_settings())


@pytest.fixture
def undo_changes(world: str) -> Iterator[None]:
    """Budget changes made here are removed afterwards: other tests read the world's own."""
    yield
    with psycopg.connect(world) as conn:
        conn.execute("DELETE FROM sandbox.budget_changes")


def _lines(world, box, tenant):
    with psycopg.connect(world) as conn:
        return read_campaign_budgets(conn, box, tenant, ConnectorBudgets())


@pytest.mark.parametrize("platform", ["google_ads", "meta", "linkedin"])
def test_a_pushed_budget_reads_back_and_is_stored_for_the_world(
    world, sandbox, tenants, box, undo_changes, platform
):
    tenant = tenants[0]
    lines = [line for line in _lines(world, box, tenant) if line.platform == platform]
    assert lines, f"{tenant} has no {platform} campaigns"
    with psycopg.connect(world) as conn:
        truth = dict(
            conn.execute(
                "SELECT campaign_id::text, daily_budget_micros FROM sandbox.campaigns "
                "WHERE platform = %s AND tenant_id = %s",
                (platform, tenant),
            ).fetchall()
        )
        world_end = conn.execute("SELECT end_date FROM sandbox.world_meta").fetchone()[0]
    # What the platforms report is the world's current budget, in the account currency.
    assert {line.campaign_id: line.daily_budget for line in lines} == {
        cid: Decimal(micros).scaleb(-6) for cid, micros in truth.items()
    }
    target = lines[0]
    new_amount = (target.daily_budget * Decimal("1.2")).quantize(Decimal("0.01"))
    with psycopg.connect(world) as conn:
        assert push_budget(conn, box, target, new_amount, ConnectorBudgets()) == new_amount
    after = {line.campaign_id: line.daily_budget for line in _lines(world, box, tenant)}
    assert after[target.campaign_id] == new_amount
    assert all(after[line.campaign_id] == line.daily_budget for line in lines[1:])
    with psycopg.connect(world) as conn:
        changes = conn.execute(
            "SELECT campaign_id::text, sum(budget_micros), min(effective_date), count(*) "
            "FROM sandbox.budget_changes WHERE platform = %s GROUP BY 1",
            (platform,),
        ).fetchall()
    assert len(changes) == 1
    campaign_id, micros, effective, count = changes[0]
    assert campaign_id == target.campaign_id
    assert Decimal(micros).scaleb(-6) == new_amount  # Meta: the ad sets add up exactly
    assert effective == world_end + timedelta(days=1)
    # Google and LinkedIn change one object; Meta POSTs each ad set of the campaign.
    assert count == (2 if platform == "meta" else 1)


def test_invalid_budgets_are_refused_by_the_platforms(world, sandbox, tenants, box, undo_changes):
    lines = _lines(world, box, tenants[0])
    by_platform = {line.platform: line for line in lines}
    with psycopg.connect(world) as conn:
        # LinkedIn's minimum daily budget is 10 in the account currency.
        with pytest.raises(LinkedInApiError, match="at least 10"):
            push_budget(conn, box, by_platform["linkedin"], Decimal("5.00"), ConnectorBudgets())
        with pytest.raises(ValueError, match="positive"):
            push_budget(conn, box, by_platform["google_ads"], Decimal("0"), ConnectorBudgets())
        missing = replace(by_platform["google_ads"], campaign_id="1")
        with pytest.raises(LookupError, match="campaign 1"):
            push_budget(conn, box, missing, Decimal("10.00"), ConnectorBudgets())
        assert conn.execute("SELECT count(*) FROM sandbox.budget_changes").fetchone()[0] == 0


def test_the_google_ads_sandbox_refuses_a_budget_of_another_customer(
    world, sandbox, tenants, box, undo_changes
):
    from google.api_core import protobuf_helpers

    from connectors.budgets import open_connector
    from warehouse.control import active_connections

    with psycopg.connect(world) as conn:
        connection = active_connections(conn, tenants[0], "google_ads", box)[0]
    with open_connector(connection) as connector:
        client = connector._client
        operation = client.get_type("CampaignBudgetOperation")
        operation.update.resource_name = "customers/1234567890/campaignBudgets/42"
        operation.update.amount_micros = 10_000_000
        client.copy_from(
            operation.update_mask, protobuf_helpers.field_mask(None, operation.update._pb)
        )
        with pytest.raises(GoogleAdsException) as raised:
            connector._budget_service().mutate_campaign_budgets(
                customer_id=connection.account_id, operations=[operation]
            )
    assert to_api_error(raised.value).codes == ("request_error.RESOURCE_NAME_MALFORMED",)


def test_a_meta_split_keeps_the_total_and_the_shares():
    assert proportional_split(1001, {"2": 500, "1": 500}) == {"1": 501, "2": 500}
    assert sum(proportional_split(12345, {"1": 1, "2": 2, "3": 3}).values()) == 12345
    assert proportional_split(10, {"1": 0, "2": 0}) == {"1": 5, "2": 5}
