"""The serving API against the mart the pipeline built, through real HTTP handling."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jwt
import pytest
from fastapi.testclient import TestClient

from serving_api.app import create_app
from serving_api.auth import issue_token
from serving_api.settings import get_api_settings
from tests.pipeline_window import END, WINDOW_START

RANGE = {"start": WINDOW_START.isoformat(), "end": END.isoformat()}


@pytest.fixture(scope="module")
def client(built, warehouse_uri: str) -> Iterator[TestClient]:
    with TestClient(create_app(warehouse_uri)) as test_client:
        yield test_client


def _auth(tenant: str, **overrides) -> dict[str, str]:
    settings = get_api_settings()
    if not overrides:
        return {"Authorization": f"Bearer {issue_token(settings, tenant)}"}
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": "test",
        "tenant": tenant,
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    key = overrides.pop("key", settings.signing_key())
    algorithm = overrides.pop("algorithm", "HS256")
    claims.update(overrides)
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=algorithm)}"}


def _mart_totals(conn, tenant: str) -> dict:
    row = conn.execute(
        """SELECT sum(spend), sum(clicks), count(DISTINCT date)
           FROM marts.ad_performance_daily
           WHERE tenant_id = %s AND date BETWEEN %s AND %s""",
        (tenant, WINDOW_START, END),
    ).fetchone()
    return {"spend": row[0], "clicks": row[1], "days": row[2]}


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}


def test_no_token_is_401(client):
    response = client.get("/v1/performance/daily", params=RANGE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "overrides",
    [
        {"key": "an-attacker-key-that-is-long-enough-for-hs256!!"},
        {"exp": datetime.now(UTC) - timedelta(minutes=1)},
        {"aud": "someone-else"},
        {"iss": "someone-else"},
        {"role": "superuser"},
    ],
    ids=["wrong-key", "expired", "audience", "issuer", "role"],
)
def test_bad_tokens_are_401(client, tenants, overrides):
    response = client.get(
        "/v1/performance/daily", params=RANGE, headers=_auth(tenants[0], **overrides)
    )
    assert response.status_code == 401


def test_unsigned_token_is_refused(client, tenants):
    unsigned = jwt.encode(
        {"tenant": tenants[0], "sub": "x", "iss": "bizo", "aud": "bizo-api", "exp": 9999999999},
        key=None,
        algorithm="none",
    )
    response = client.get(
        "/v1/performance/daily", params=RANGE, headers={"Authorization": f"Bearer {unsigned}"}
    )
    assert response.status_code == 401


def test_each_tenant_sees_its_own_numbers(client, tenants, conn):
    seen = {}
    for tenant in tenants:
        body = client.get("/v1/performance/daily", params=RANGE, headers=_auth(tenant)).json()
        expected = _mart_totals(conn, tenant)
        assert body["tenant_id"] == tenant
        assert Decimal(body["total_spend"]) == expected["spend"]
        assert sum(row["clicks"] for row in body["rows"]) == expected["clicks"]
        assert len({row["date"] for row in body["rows"]}) == expected["days"] == 14
        seen[tenant] = body["total_spend"]
    assert len(set(seen.values())) == len(tenants)  # nobody got another tenant's rows


def test_a_token_for_an_unknown_tenant_sees_nothing(client):
    body = client.get("/v1/performance/daily", params=RANGE, headers=_auth("nobody-here")).json()
    assert body["rows"] == [] and Decimal(body["total_spend"]) == 0


def test_filters(client, tenants, conn):
    headers = _auth(tenants[0])
    meta = client.get(
        "/v1/performance/daily", params={**RANGE, "platform": "meta"}, headers=headers
    )
    meta_spend = conn.execute(
        """SELECT sum(spend) FROM marts.ad_performance_daily
           WHERE tenant_id = %s AND platform = 'meta' AND date BETWEEN %s AND %s""",
        (tenants[0], WINDOW_START, END),
    ).fetchone()[0]
    assert {row["platform"] for row in meta.json()["rows"]} == {"meta"}
    assert Decimal(meta.json()["total_spend"]) == meta_spend
    campaign_id, campaign_spend = conn.execute(
        """SELECT campaign_id, sum(spend) FROM marts.ad_performance_daily
           WHERE tenant_id = %s AND date BETWEEN %s AND %s
           GROUP BY 1 ORDER BY 1 LIMIT 1""",
        (tenants[0], WINDOW_START, END),
    ).fetchone()
    body = client.get(
        "/v1/performance/daily", params={**RANGE, "campaign_id": campaign_id}, headers=headers
    ).json()
    assert Decimal(body["total_spend"]) == campaign_spend


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2026-06-30", "end": "2026-06-01"},
        {"start": "2020-01-01", "end": "2026-06-01"},
        {"start": "yesterday", "end": "2026-06-01"},
        {**RANGE, "platform": "tiktok"},
        {**RANGE, "campaign_id": "1; DROP TABLE app.tenants"},
    ],
    ids=["reversed", "too-long", "not-a-date", "platform", "campaign-id"],
)
def test_bad_parameters_are_422(client, tenants, params):
    response = client.get("/v1/performance/daily", params=params, headers=_auth(tenants[0]))
    assert response.status_code == 422
