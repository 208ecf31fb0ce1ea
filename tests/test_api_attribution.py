"""/v1/attribution, /v1/attribution/compare and /v1/roi against the attribution marts."""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from tests.api_support import RANGE, app_client, auth
from tests.pipeline_window import END, WINDOW_START


@pytest.fixture(scope="module")
def client(built) -> Iterator[TestClient]:
    yield from app_client()


def _credits(conn, tenant: str, model: str, stage: str, keys: str) -> dict:
    rows = conn.execute(
        f"""SELECT {keys}, sum(credit), sum(credit * coalesce(revenue, 0))
            FROM marts.attribution_credits
            WHERE tenant_id = %s AND model = %s AND stage = %s
              AND conversion_date BETWEEN %s AND %s
            GROUP BY {keys}""",
        (tenant, model, stage, WINDOW_START, END),
    ).fetchall()
    return {tuple(row[:-2]): (row[-2], row[-1]) for row in rows}


@pytest.mark.parametrize(
    ("model", "stage", "level", "keys"),
    [
        ("linear", "lead", "channel", ("channel",)),
        ("shapley", "closed_won", "channel", ("channel",)),
        ("last_touch", "opportunity", "campaign", ("platform", "campaign_id")),
        ("markov", "lead", "ad", ("platform", "campaign_id", "ad_id")),
    ],
)
def test_attribution_matches_the_mart(client, tenants, conn, model, stage, level, keys):
    tenant = tenants[0]
    body = client.get(
        "/v1/attribution",
        params={**RANGE, "model": model, "stage": stage, "level": level},
        headers=auth(tenant),
    ).json()
    expected = _credits(conn, tenant, model, stage, ", ".join(keys))
    got = {
        tuple(row[k] for k in keys): (Decimal(row["conversions"]), Decimal(row["revenue"]))
        for row in body["rows"]
    }
    assert got == expected
    if stage == "lead":
        assert expected, "the window has leads"
        # Each lead is credited exactly once per model: credits add up to the lead count.
        leads = conn.execute(
            """SELECT count(DISTINCT conversion_id) FROM marts.attribution_credits
               WHERE tenant_id = %s AND model = %s AND stage = 'lead'
                 AND conversion_date BETWEEN %s AND %s""",
            (tenant, model, WINDOW_START, END),
        ).fetchone()[0]
        assert Decimal(body["total_conversions"]) == pytest.approx(Decimal(leads))
        assert sum(row["share"] for row in body["rows"]) == pytest.approx(1.0)


def test_compare_puts_every_model_side_by_side(client, tenants, conn):
    tenant = tenants[0]
    body = client.get(
        "/v1/attribution/compare", params={**RANGE, "stage": "lead"}, headers=auth(tenant)
    ).json()
    assert set(body["models"]) == {
        "first_touch", "last_touch", "last_non_direct", "linear",
        "time_decay", "position_based", "markov", "shapley", "additive_hazard",
    }  # fmt: skip
    for model in body["models"]:
        shares = [c["models"][model]["share"] for c in body["channels"] if model in c["models"]]
        assert sum(shares) == pytest.approx(1.0)
        expected = _credits(conn, tenant, model, "lead", "channel")
        got = {
            (c["channel"],): Decimal(c["models"][model]["conversions"])
            for c in body["channels"]
            if model in c["models"]
        }
        assert got == {key: value[0] for key, value in expected.items()}


@pytest.mark.parametrize(
    ("level", "table"), [("channel", "channel_roi"), ("campaign", "campaign_roi")]
)
def test_roi_sums_the_months_and_recomputes_ratios(client, tenants, conn, level, table):
    tenant = tenants[0]
    body = client.get(
        "/v1/roi", params={**RANGE, "model": "linear", "level": level}, headers=auth(tenant)
    ).json()
    spend, revenue, won = conn.execute(
        f"""SELECT sum(spend), sum(attributed_revenue), sum(won_deals) FROM marts.{table}
            WHERE tenant_id = %s AND model = 'linear'
              AND period_start BETWEEN date_trunc('month', %s::date) AND %s""",
        (tenant, WINDOW_START, END),
    ).fetchone()
    assert sum(Decimal(r["spend"]) for r in body["rows"]) == spend > 0
    assert sum(Decimal(r["attributed_revenue"]) for r in body["rows"]) == revenue
    assert sum(Decimal(r["won_deals"]) for r in body["rows"]) == won
    for row in body["rows"]:
        spend_row = Decimal(row["spend"])
        if spend_row:
            expected_roas = Decimal(row["attributed_revenue"]) / spend_row
            assert Decimal(row["roas"]) == pytest.approx(expected_roas, abs=Decimal("0.0001"))
            assert Decimal(row["roi"]) == pytest.approx(expected_roas - 1, abs=Decimal("0.0001"))
        if level == "campaign":
            assert row["campaign_id"] is None or row["platform"] is not None


def test_attribution_is_tenant_scoped(client, tenants):
    answers = [
        client.get("/v1/attribution", params=RANGE, headers=auth(t)).json()["rows"] for t in tenants
    ]
    assert answers[0] != answers[1]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/attribution", {"model": "u_shaped"}),
        ("/v1/attribution", {"stage": "closed_lost"}),
        ("/v1/attribution", {"level": "keyword"}),
        ("/v1/attribution/compare", {"stage": "won"}),
        ("/v1/roi", {"level": "ad"}),
    ],
)
def test_bad_attribution_parameters_are_422(client, tenants, path, params):
    response = client.get(path, params={**RANGE, **params}, headers=auth(tenants[0]))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
