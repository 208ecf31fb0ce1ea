"""The serving API's numbers against the marts the pipeline built, through real HTTP handling
and the RLS-bound role."""

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.api_support import RANGE, app_client, auth
from tests.pipeline_window import END, WINDOW_START


@pytest.fixture(scope="module")
def client(built) -> Iterator[TestClient]:
    yield from app_client()


# The second week, compared with the first: both weeks are loaded.
SECOND_WEEK = {"start": (END - timedelta(days=6)).isoformat(), "end": END.isoformat()}
FIRST_WEEK = (WINDOW_START, END - timedelta(days=7))


def _mart_totals(conn, tenant: str, start=WINDOW_START, end=END, **filters) -> dict:
    where = "".join(f" AND {column} = %({column})s" for column in filters)
    row = conn.execute(
        "SELECT coalesce(sum(spend), 0), coalesce(sum(clicks), 0), count(DISTINCT date) "
        "FROM marts.ad_performance_daily "
        "WHERE tenant_id = %(tenant)s AND date BETWEEN %(start)s AND %(end)s" + where,
        {"tenant": tenant, "start": start, "end": end, **filters},
    ).fetchone()
    return {"spend": row[0], "clicks": row[1], "days": row[2]}


def test_health_ready_and_metrics(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'bizo_api_requests_total{method="GET",route="/ready",status="200"} 1.0' in metrics.text
    assert "bizo_api_request_duration_seconds_bucket" in metrics.text


def test_each_tenant_sees_its_own_numbers(client, tenants, conn):
    seen = {}
    for tenant in tenants:
        body = client.get("/v1/performance", params=RANGE, headers=auth(tenant)).json()
        expected = _mart_totals(conn, tenant)
        assert Decimal(body["totals"]["spend"]) == expected["spend"] > 0
        assert body["totals"]["clicks"] == expected["clicks"]
        assert sum(point["clicks"] for point in body["series"]) == expected["clicks"]
        assert len({point["period_start"] for point in body["series"]}) == expected["days"] == 14
        seen[tenant] = body["totals"]["spend"]
    assert len(set(seen.values())) == len(tenants)  # nobody got another tenant's rows


def test_previous_period_and_weekly_grain(client, tenants, conn):
    tenant = tenants[0]
    body = client.get(
        "/v1/performance", params={**SECOND_WEEK, "grain": "week"}, headers=auth(tenant)
    ).json()
    current = _mart_totals(conn, tenant, END - timedelta(days=6), END)
    previous = _mart_totals(conn, tenant, *FIRST_WEEK)
    assert (body["previous_start"], body["previous_end"]) == tuple(
        d.isoformat() for d in FIRST_WEEK
    )
    assert Decimal(body["totals"]["spend"]) == current["spend"]
    assert Decimal(body["previous_totals"]["spend"]) == previous["spend"] > 0
    assert body["change"]["spend"] == pytest.approx(
        float((current["spend"] - previous["spend"]) / previous["spend"])
    )
    # 2026-06-24 (Wed) .. 06-30 (Tue): two ISO weeks, Mondays 06-22 and 06-29.
    assert {p["period_start"] for p in body["series"]} == {"2026-06-22", "2026-06-29"}
    assert sum(Decimal(p["spend"]) for p in body["series"]) == current["spend"]


def test_breakdown_by_campaign_and_ad(client, tenants, conn):
    tenant = tenants[0]
    by_campaign = client.get(
        "/v1/performance", params={**RANGE, "level": "campaign"}, headers=auth(tenant)
    ).json()
    expected = dict(
        conn.execute(
            """SELECT campaign_id, sum(spend) FROM marts.ad_performance_daily
               WHERE tenant_id = %s AND date BETWEEN %s AND %s GROUP BY 1""",
            (tenant, WINDOW_START, END),
        ).fetchall()
    )
    got = {row["campaign_id"]: Decimal(row["current"]["spend"]) for row in by_campaign["breakdown"]}
    assert got == expected
    spends = [Decimal(row["current"]["spend"]) for row in by_campaign["breakdown"]]
    assert spends == sorted(spends, reverse=True)
    assert all(row["campaign_name"] for row in by_campaign["breakdown"])

    by_ad = client.get(
        "/v1/performance", params={**RANGE, "level": "ad", "platform": "meta"}, headers=auth(tenant)
    ).json()
    ads = conn.execute(
        """SELECT count(DISTINCT ad_id) FROM marts.ad_performance_daily
           WHERE tenant_id = %s AND platform = 'meta' AND date BETWEEN %s AND %s""",
        (tenant, WINDOW_START, END),
    ).fetchone()[0]
    assert len(by_ad["breakdown"]) == ads > 0
    assert {row["platform"] for row in by_ad["breakdown"]} == {"meta"}


def test_filters(client, tenants, conn):
    tenant = tenants[0]
    meta = client.get(
        "/v1/performance", params={**RANGE, "platform": "meta"}, headers=auth(tenant)
    ).json()
    assert {point["platform"] for point in meta["series"]} == {"meta"}
    assert Decimal(meta["totals"]["spend"]) == _mart_totals(conn, tenant, platform="meta")["spend"]
    campaign_id = conn.execute(
        "SELECT min(campaign_id) FROM marts.ad_performance_daily WHERE tenant_id = %s", (tenant,)
    ).fetchone()[0]
    body = client.get(
        "/v1/performance", params={**RANGE, "campaign_id": campaign_id}, headers=auth(tenant)
    ).json()
    expected = _mart_totals(conn, tenant, campaign_id=campaign_id)["spend"]
    assert Decimal(body["totals"]["spend"]) == expected > 0


def test_funnel_counts_and_velocity(client, tenants, conn):
    tenant = tenants[0]
    body = client.get("/v1/funnel", params=RANGE, headers=auth(tenant)).json()
    (stages,) = body["stages"]
    leads, opportunities, won = conn.execute(
        """SELECT count(DISTINCT contact_id),
                  count(DISTINCT contact_id) FILTER (WHERE opportunity_at IS NOT NULL
                                                        OR won_at IS NOT NULL),
                  count(DISTINCT contact_id) FILTER (WHERE won_at IS NOT NULL)
           FROM marts.funnel
           WHERE tenant_id = %s AND lead_created_at >= %s AND lead_created_at < %s""",
        (tenant, WINDOW_START, END + timedelta(days=1)),
    ).fetchone()
    assert (stages["leads"], stages["opportunities"], stages["won"]) == (leads, opportunities, won)
    assert leads > 0
    assert stages["lead_to_opportunity_rate"] == pytest.approx(opportunities / leads)
    if opportunities:
        assert stages["median_days_lead_to_opportunity"] >= 0

    by_source = client.get(
        "/v1/funnel", params={**RANGE, "group_by": "source"}, headers=auth(tenant)
    ).json()
    assert sum(row["leads"] for row in by_source["stages"]) == leads
    assert all(row["source"] is not None for row in by_source["stages"])


def test_reads_carry_etag_and_revalidate(client, tenants):
    headers = auth(tenants[0])
    first = client.get("/v1/performance", params=RANGE, headers=headers)
    assert first.headers["cache-control"] == "private, max-age=60, must-revalidate"
    etag = first.headers["etag"]
    again = client.get("/v1/performance", params=RANGE, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get("/v1/performance", params=RANGE, headers=auth(tenants[1]))
    assert other.headers["etag"] != etag
    assert client.get("/health").headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-06-30", "end": "2026-06-01"},
        {"start": "2020-01-01", "end": "2026-06-01"},
        {"start": "yesterday", "end": "2026-06-01"},
        {**RANGE, "platform": "tiktok"},
        {**RANGE, "grain": "month"},
        {**RANGE, "level": "keyword"},
        {**RANGE, "campaign_id": "1; DROP TABLE app.tenants"},
    ],
    ids=["reversed", "too-long", "not-a-date", "platform", "grain", "level", "campaign-id"],
)
def test_bad_parameters_are_422_problems(client, tenants, params):
    response = client.get("/v1/performance", params=params, headers=auth(tenants[0]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["instance"] == "/v1/performance"
    assert problem["title"] and problem["detail"]
