"""The dashboard page, served by uvicorn on loopback and driven in headless Chromium: the
login, what the DOM holds, and what the screenshot shows."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
import uvicorn
from fastapi.testclient import TestClient

from serving_api.app import create_app
from serving_api.auth import issue_token
from serving_api.dashboard.charts import PALETTE
from serving_api.settings import get_api_settings
from tests.api_support import app_client
from tests.browser import Browser
from warehouse.attribution import ATTRIBUTION_MODELS


@pytest.fixture(scope="module")
def live_url(built) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser()
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def client(built) -> Iterator[TestClient]:
    yield from app_client()


def _last_28_days(conn, tenant: str) -> dict:
    last = conn.execute(
        "SELECT max(date) FROM marts.ad_performance_daily WHERE tenant_id = %s", (tenant,)
    ).fetchone()[0]
    spend, value, days = conn.execute(
        """SELECT sum(spend), sum(conversion_value), count(DISTINCT date)
           FROM marts.ad_performance_daily
           WHERE tenant_id = %s AND date BETWEEN %s AND %s""",
        (tenant, last - timedelta(days=27), last),
    ).fetchone()
    platforms = conn.execute(
        "SELECT count(DISTINCT platform) FROM marts.ad_performance_daily WHERE tenant_id = %s",
        (tenant,),
    ).fetchone()[0]
    return {"spend": spend, "value": value, "days": days, "platforms": platforms}


def test_the_dashboard_needs_a_login(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    bad = client.post("/login", data={"token": "not-a-token"}, follow_redirects=False)
    assert bad.status_code == 401 and "Sign-in failed" in bad.text
    client.cookies.set("bizo_dashboard", "garbage")
    stale = client.get("/", follow_redirects=False)
    client.cookies.clear()
    assert stale.status_code == 401 and "sign in again" in stale.text


def test_the_page_is_script_free_and_tenant_scoped(client, tenants, conn):
    pages = {}
    for tenant in tenants:
        token = issue_token(get_api_settings(), tenant)
        login = client.post("/login", data={"token": token}, follow_redirects=False)
        assert login.status_code == 303
        assert "httponly" in login.headers["set-cookie"].lower()
        assert "samesite=strict" in login.headers["set-cookie"].lower()
        page = client.get("/")  # with the cookie the login set
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "<script" not in page.text
        pages[tenant] = page.text
        client.cookies.clear()
    assert pages[tenants[0]] != pages[tenants[1]]


def test_headless_chromium_draws_the_dashboard(live_url, browser, tenants, conn):
    tenant = tenants[0]
    browser.open(f"{live_url}/")
    assert browser.evaluate("location.pathname") == "/login"  # redirected to the login

    browser.evaluate("document.getElementById('token').value = 'wrong'; 0")
    browser.evaluate("document.querySelector('form.login').submit(); 0")
    browser.wait_for("document.getElementById('login-error') !== null")

    token = issue_token(get_api_settings(), tenant)
    browser.evaluate(f"document.getElementById('token').value = {json.dumps(token)}; 0")
    browser.evaluate("document.querySelector('form.login').submit(); 0")
    browser.wait_for("location.pathname === '/' && document.querySelector('[data-chart]') !== null")

    drawn = browser.evaluate(
        """(() => {
            const points = name => document.querySelector(`polyline[data-series="${name}"]`)
                .getAttribute('points').trim().split(/\\s+/).length;
            return {
                charts: [...document.querySelectorAll('svg[data-chart]')].map(s => s.dataset.chart),
                spendPoints: points('Spend'), valuePoints: points('Conversion value'),
                platformSpend: [...document.querySelectorAll('[data-chart="platform-spend"] rect')]
                    .map(r => r.dataset.value),
                kpis: Object.fromEntries([...document.querySelectorAll('[data-kpi]')]
                    .map(k => [k.dataset.kpi, k.querySelector('b').textContent])),
                modelShares: [...document.querySelectorAll('[data-chart="attribution-models"] td')]
                    .map(td => [td.dataset.model, Number(td.dataset.share)]),
                chartBox: document.querySelector('[data-chart="spend-revenue"]')
                    .getBoundingClientRect().toJSON(),
            };
        })()"""
    )
    expected = _last_28_days(conn, tenant)
    assert drawn["charts"] == ["spend-revenue", "roas", "platform-spend", "funnel"]
    # Every model's channel shares add up to the whole of its credited leads.
    by_model: dict[str, float] = {}
    for model, share in drawn["modelShares"]:
        by_model[model] = by_model.get(model, 0.0) + share
    assert set(by_model) == set(ATTRIBUTION_MODELS)
    assert all(total == pytest.approx(1.0, abs=0.01) for total in by_model.values())
    assert drawn["spendPoints"] == drawn["valuePoints"] == expected["days"]
    assert len(drawn["platformSpend"]) == expected["platforms"]
    assert sum(Decimal(v) for v in drawn["platformSpend"]) == pytest.approx(expected["spend"])
    assert set(drawn["kpis"]) == {"spend", "revenue", "roas", "leads", "won"}
    roas = (expected["value"] / expected["spend"]).quantize(Decimal("0.01"))
    assert drawn["kpis"]["roas"] == str(roas)

    # The screenshot shows both lines where the chart is: enough pixels of each line's color.
    image = browser.screenshot()
    box = drawn["chartBox"]
    chart = image.crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
    colors = chart.getcolors(maxcolors=1 << 20)
    for hex_color in PALETTE[:2]:
        rgb = tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
        near = sum(
            count
            for count, pixel in colors
            if sum(abs(a - b) for a, b in zip(pixel, rgb, strict=True)) < 40
        )
        assert near > 200, (hex_color, near)


def test_the_top_leads_and_pending_recommendations_panels(
    live_url, browser, client, tenants, conn, scored, proposals
):
    tenant = tenants[0]
    # A viewer sees both panels, but no buttons, no credential in the page and no script.
    client.post("/login", data={"token": issue_token(get_api_settings(), tenant)})
    viewer_page = client.get("/").text
    client.cookies.clear()
    assert 'data-panel="top-leads"' in viewer_page
    assert 'data-panel="pending-recommendations"' in viewer_page
    assert "data-action" not in viewer_page and "data-credential" not in viewer_page
    assert "<script" not in viewer_page

    token = issue_token(get_api_settings(), tenant, "analyst", subject="dash-analyst")
    browser.open(f"{live_url}/login")
    browser.evaluate(f"document.getElementById('token').value = {json.dumps(token)}; 0")
    browser.evaluate("document.querySelector('form.login').submit(); 0")
    browser.wait_for("document.querySelector('[data-panel=\"top-leads\"]') !== null")
    panels = browser.evaluate(
        """(() => ({
            leads: [...document.querySelectorAll('[data-panel="top-leads"] tr[data-lead]')]
                .map(r => [Number(r.dataset.lead), Number(r.dataset.score),
                           Number(r.dataset.tier), r.cells[3].textContent]),
            pending: [...document.querySelectorAll('tr[data-recommendation]')]
                .map(r => [Number(r.dataset.recommendation), r.dataset.status,
                           r.querySelectorAll('button[data-action]').length]),
        }))()"""
    )
    top = conn.execute(
        """SELECT s.lead_id, s.score, s.tier, f.original_source FROM ml.lead_scores s
           JOIN LATERAL (SELECT original_source FROM marts.funnel f
                         WHERE f.tenant_id = s.tenant_id AND f.contact_id = s.lead_id::text
                         LIMIT 1) f ON true
           WHERE s.tenant_id = %s ORDER BY s.score DESC, s.lead_id LIMIT 10""",
        (tenant,),
    ).fetchall()
    assert [lead[0] for lead in panels["leads"]] == [row[0] for row in top]
    assert [lead[1] for lead in panels["leads"]] == pytest.approx([row[1] for row in top])
    assert [(lead[2], lead[3]) for lead in panels["leads"]] == [(r[2], r[3]) for r in top]
    mine = {r.recommendation_id for r in proposals[tenant]}
    assert {p[0] for p in panels["pending"]} == mine  # this tenant's, and only those
    assert all(status == "proposed" and buttons == 2 for _, status, buttons in panels["pending"])

    chosen = panels["pending"][0][0]
    browser.evaluate(
        f'document.querySelector(\'tr[data-recommendation="{chosen}"] '
        'button[data-action="approve"]\').click(); 0'
    )
    browser.wait_for(
        f"document.querySelector('tr[data-recommendation=\"{chosen}\"]').dataset.status "
        "=== 'approved'"
    )
    status, decided_by = conn.execute(
        "SELECT status, decided_by FROM app.recommendations WHERE recommendation_id = %s",
        (chosen,),
    ).fetchone()
    assert (status, decided_by) == ("approved", "dash-analyst")
    # Reject, on another row, the same way.
    other = panels["pending"][1][0]
    browser.evaluate(
        f'document.querySelector(\'tr[data-recommendation="{other}"] '
        'button[data-action="reject"]\').click(); 0'
    )
    browser.wait_for(
        f"document.querySelector('tr[data-recommendation=\"{other}\"]').dataset.status "
        "=== 'rejected'"
    )
    assert (
        conn.execute(
            "SELECT status FROM app.recommendations WHERE recommendation_id = %s", (other,)
        ).fetchone()[0]
        == "rejected"
    )
