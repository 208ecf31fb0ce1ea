"""Recommendations, response curves and the weekly report through the API: decisions by
analysts and admins through warehouse.agent_store's rules, recorded with who acted; a rollback asked
through the API and carried out by the apply sensor against the platform sandboxes; and every
row inside its tenant."""

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from agents.curves import CHART_POINTS, CurveParams, fit_curve, predict
from agents.ops import store_curve, weekly_report
from agents.platforms import read_campaign_budgets
from agents.settings import AgentSettings
from connectors.budgets import ConnectorBudgets
from pipelines.definitions import defs
from serving_api.auth import issue_token
from serving_api.settings import get_api_settings
from tests.api_fixtures import CYCLE
from tests.api_support import app_client, auth
from warehouse.agent_store import audit_trail, get_recommendation, latest_report
from warehouse.rls import api_database_uri


@pytest.fixture(scope="module")
def client(built) -> Iterator[TestClient]:
    yield from app_client()


def _as(tenant: str, role: str, subject: str) -> dict[str, str]:
    token = issue_token(get_api_settings(), tenant, role, subject=subject)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def test_recommendations_are_listed_per_tenant_and_by_status(client, tenants, proposals):
    body = client.get("/v1/recommendations", headers=auth(tenants[0])).json()
    assert {r["recommendation_id"] for r in body} == {
        r.recommendation_id for r in proposals[tenants[0]]
    }
    assert {r["status"] for r in body} == {"proposed"}
    first = proposals[tenants[0]][0]
    listed = next(r for r in body if r["recommendation_id"] == first.recommendation_id)
    assert Decimal(listed["proposed_budget"]) == first.proposed_budget
    approved = client.get(
        "/v1/recommendations", params={"status": "approved"}, headers=auth(tenants[0])
    )
    assert approved.json() == [] and approved.headers["cache-control"] == "no-store"
    assert (
        client.get(
            "/v1/recommendations", params={"status": "maybe"}, headers=auth(tenants[0])
        ).status_code
        == 422
    )


def test_analysts_approve_and_reject_and_are_recorded(client, tenants, proposals, conn):
    first, second = proposals[tenants[0]][:2]
    analyst = _as(tenants[0], "analyst", "ana@example.com")
    approved = client.post(
        f"/v1/recommendations/{first.recommendation_id}/approve",
        json={"note": "looks right"},
        headers=analyst,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == "ana@example.com"
    rejected = client.post(
        f"/v1/recommendations/{second.recommendation_id}/reject",
        headers=_as(tenants[0], "admin", "boss@example.com"),
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"

    assert get_recommendation(conn, first.recommendation_id).status == "approved"
    trail = audit_trail(conn, first.recommendation_id)
    assert [(e["actor"], e["action"]) for e in trail] == [
        ("planner", "proposed"),
        ("ana@example.com", "approved"),
    ]
    assert trail[-1]["details"] == {"from": "proposed", "note": "looks right"}
    assert audit_trail(conn, second.recommendation_id)[-1]["actor"] == "boss@example.com"

    # The transition rules are warehouse.agent_store's: approving twice or a rejected one is a 409.
    for path in (
        f"/v1/recommendations/{first.recommendation_id}/approve",
        f"/v1/recommendations/{second.recommendation_id}/approve",
        f"/v1/recommendations/{first.recommendation_id}/rollback",
    ):
        conflict = client.post(path, headers=analyst)
        assert conflict.status_code == 409, path
        assert conflict.headers["content-type"] == "application/problem+json"
        assert re.search(r"can be (approved|rolled back) only when", conflict.json()["detail"])


def test_viewers_may_not_decide(client, tenants, proposals, conn):
    rec = proposals[tenants[0]][0]
    for action in ("approve", "reject", "rollback"):
        response = client.post(
            f"/v1/recommendations/{rec.recommendation_id}/{action}", headers=auth(tenants[0])
        )
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
    assert get_recommendation(conn, rec.recommendation_id).status == "proposed"


def test_another_tenants_recommendation_answers_404(client, tenants, proposals, conn):
    theirs = proposals[tenants[1]][0]
    mine = client.get("/v1/recommendations", headers=auth(tenants[0])).json()
    assert theirs.recommendation_id not in {r["recommendation_id"] for r in mine}
    for action in ("approve", "reject", "rollback"):
        response = client.post(
            f"/v1/recommendations/{theirs.recommendation_id}/{action}",
            headers=auth(tenants[0], role="admin"),
        )
        assert response.status_code == 404
    assert get_recommendation(conn, theirs.recommendation_id).status == "proposed"
    assert client.post("/v1/recommendations/999999999/approve", headers=auth(
        tenants[0], role="admin"
    )).status_code == 404  # fmt: skip


def test_a_rollback_asked_through_the_api_is_done_by_the_apply_sensor(
    client, tenants, proposals, instance, box, warehouse_uri
):
    tenant = tenants[0]
    rec = next(r for r in proposals[tenant] if r.platform == "meta")
    analyst = _as(tenant, "analyst", "ana@example.com")
    assert client.post(
        f"/v1/recommendations/{rec.recommendation_id}/approve", headers=analyst
    ).status_code == 200  # fmt: skip

    sensor = defs.resolve_sensor_def("apply_approved_budgets")
    job = defs.resolve_job_def("apply_budget_changes")

    def tick() -> list[dg.RunRequest]:
        with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
            return sensor(context).run_requests or []

    assert len(tick()) == 1
    assert job.execute_in_process(instance=instance).success
    with psycopg.connect(warehouse_uri) as conn:
        assert get_recommendation(conn, rec.recommendation_id).status == "applied"
        live = {(x.platform, x.campaign_id): x.daily_budget for x in read_campaign_budgets(
            conn, box, tenant, ConnectorBudgets())}  # fmt: skip
    assert live[("meta", rec.campaign_id)] == rec.proposed_budget

    asked = client.post(
        f"/v1/recommendations/{rec.recommendation_id}/rollback",
        json={"note": "CPA went up"},
        headers=analyst,
    )
    assert asked.status_code == 202 and asked.json()["status"] == "applied"
    again = client.post(f"/v1/recommendations/{rec.recommendation_id}/rollback", headers=analyst)
    assert again.status_code == 409 and "already requested" in again.json()["detail"]

    [request] = tick()
    assert "rollback" in request.run_key
    assert job.execute_in_process(instance=instance).success
    with psycopg.connect(warehouse_uri) as conn:
        done = get_recommendation(conn, rec.recommendation_id)
        trail = audit_trail(conn, rec.recommendation_id)
        live = {(x.platform, x.campaign_id): x.daily_budget for x in read_campaign_budgets(
            conn, box, tenant, ConnectorBudgets())}  # fmt: skip
    assert done.status == "rolled_back"
    assert live[("meta", rec.campaign_id)] == rec.current_budget
    assert [(e["actor"], e["action"]) for e in trail][-2:] == [
        ("ana@example.com", "rollback_requested"),
        ("ana@example.com", "rolled_back"),
    ]
    assert trail[-1]["details"]["note"] == "CPA went up"
    assert not tick()  # nothing left to do


# -- curves and reports ---------------------------------------------------------------------
TRUE_CURVE = CurveParams(theta=0.3, beta=6.0, half_saturation=400.0, shape=1.4)


@pytest.fixture
def stored_curves(built, tenants, warehouse_uri) -> Iterator[dict]:
    """A curve fitted (agents.curves) on 90 simulated days for the first tenant's paid search,
    stored by the curve-fitting asset's own function; removed afterwards."""
    rng = np.random.default_rng(3)
    spend = rng.uniform(100, 900, 90)
    response = predict(TRUE_CURVE, spend) + rng.normal(0, 0.2, 90)
    curve = fit_curve(spend, np.maximum(response, 0), draws=20)
    with psycopg.connect(warehouse_uri) as conn:
        store_curve(
            conn, tenants[0], "paid_search", CYCLE - timedelta(days=89), CYCLE, curve, 150.0,
            AgentSettings(),
        )  # fmt: skip
    yield {"curve": curve, "value": 150.0}
    with psycopg.connect(warehouse_uri) as conn:
        conn.execute("DELETE FROM app.response_curves")


def test_curves_are_sampled_with_bands_for_charts(client, tenants, stored_curves):
    body = client.get("/v1/curves", headers=auth(tenants[0])).json()
    [curve] = body["curves"]
    fitted = stored_curves["curve"]
    assert curve["channel"] == "paid_search" and curve["draws"] == len(fitted.draws) == 20
    assert curve["parameters"]["theta"] == pytest.approx(fitted.params.theta)
    points = curve["points"]
    spends = np.array([p["spend"] for p in points])
    assert len(points) == CHART_POINTS and spends[0] == 0  # drawn by the agents at fit time
    assert spends[-1] == pytest.approx(fitted.spend_range[1] * 1.5)
    expected = fitted.params.steady_response(spends) * stored_curves["value"]
    assert [p["expected_revenue"] for p in points] == pytest.approx(expected.tolist())
    # Revenue rises with spend, and the band holds the curve away from zero spend.
    revenue = [p["expected_revenue"] for p in points]
    assert revenue == sorted(revenue) and revenue[-1] > 0
    assert all(p["lower"] <= p["upper"] for p in points)
    assert all(p["lower"] <= p["expected_revenue"] * 1.05 + 1e-6 for p in points[1:])
    # The true curve the data came from sits near the fit at the observed median spend.
    middle = points[len(points) // 2]
    truth = float(TRUE_CURVE.steady_response(middle["spend"])) * stored_curves["value"]
    assert middle["expected_revenue"] == pytest.approx(truth, rel=0.25)
    # Another tenant sees no curve of this one.
    assert client.get("/v1/curves", headers=auth(tenants[1])).json()["curves"] == []


def test_the_latest_report_or_a_404(client, tenants, warehouse_uri):
    assert client.get("/v1/reports/latest", headers=auth(tenants[0])).status_code == 404
    try:
        with psycopg.connect(warehouse_uri) as conn:
            weekly_report(conn, tenants[0], date(2026, 6, 15))
            weekly_report(conn, tenants[0], date(2026, 6, 22))
            expected = latest_report(conn, tenants[0])
        response = client.get("/v1/reports/latest", headers=auth(tenants[0]))
        assert response.status_code == 200
        body = response.json()
        assert body["week_start"] == "2026-06-22" and body["markdown"] == expected["markdown"]
        assert body["markdown"].startswith(f"# {tenants[0]}: week of 2026-06-22")
        missing = client.get("/v1/reports/latest", headers=auth(tenants[1]))
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
    finally:
        with psycopg.connect(warehouse_uri) as conn:
            conn.execute("DELETE FROM app.agent_reports")
            conn.execute("DELETE FROM app.audit_log")


@pytest.mark.parametrize(
    "table",
    ["app.recommendations", "app.audit_log", "app.response_curves", "app.agent_reports"],
)
def test_agent_tables_are_tenant_scoped_for_the_api_role(
    table, tenants, proposals, stored_curves, warehouse_uri
):
    with psycopg.connect(warehouse_uri) as conn:
        weekly_report(conn, tenants[1], date(2026, 6, 22))
    relation = sql.Identifier(*table.split("."))
    query = sql.SQL("SELECT count(*), count(DISTINCT tenant_id), min(tenant_id) FROM {}").format(
        relation
    )
    seen = 0
    with psycopg.connect(api_database_uri(), autocommit=True) as api:
        assert api.execute(query).fetchone()[:2] == (0, 0)  # no tenant set: nothing
        for tenant in tenants:
            with api.transaction():
                api.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
                rows, distinct, only = api.execute(query).fetchone()
            assert distinct <= 1 and only in (None, tenant)
            seen += rows
    with psycopg.connect(warehouse_uri) as conn:
        everyone = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(relation)).fetchone()[0]
        conn.execute("DELETE FROM app.agent_reports")
    # Each tenant saw exactly its own rows: together, all of them.
    assert seen == everyone > 0
