"""The dashboard page at `/`: server-drawn SVG, no CDN, behind a token login.

The login form takes a JWT or a dashboard API key and keeps it in an HttpOnly, SameSite=Strict
cookie; every page view authenticates it again, exactly as the API does, and reads through
the same RLS-bound transaction as the API routes.

Viewers get a page without any script. For analysts and admins, who may decide on budget
recommendations, the page carries one small inline script (allowed by a per-response nonce,
nothing from elsewhere) whose Approve / Reject buttons call the API with the page's
credential, so a decision goes through the same route, role check and audit as any client's.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import date, timedelta
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from psycopg.rows import class_row

from serving_api.auth import (
    API_KEY_PREFIX,
    Principal,
    principal_from_api_key,
    principal_from_token,
)
from serving_api.dashboard.charts import PALETTE, Series, bar_chart, compact_number, line_chart
from serving_api.db import tenant_transaction
from serving_api.params import DateRange
from serving_api.routers.attribution import AttributionComparison, load_comparison
from serving_api.routers.funnel import FunnelResponse, load_funnel
from serving_api.routers.leads import LeadPage, load_leads
from serving_api.routers.performance import PerformanceResponse, load_performance
from serving_api.settings import ApiSettings, get_api_settings
from warehouse.agent_store import Recommendation, recommendations_query

router = APIRouter(include_in_schema=False)

COOKIE = "bizo_dashboard"
DASHBOARD_DAYS = 28
TOP_LEADS = 10
PENDING_SHOWN = 20
# No script (or, for deciders, only the page's own nonce'd one, calling this origin); styles
# inline; forms post only here; never framed.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Approve / Reject: POST to the API with the page's credential; the row shows the outcome.
_DECIDE_SCRIPT = """
const panel = document.getElementById('pending-recommendations');
const credential = panel.dataset.credential;
const headers = credential.startsWith('bizo_')
  ? {'X-API-Key': credential} : {'Authorization': 'Bearer ' + credential};
panel.querySelectorAll('button[data-action]').forEach(button => {
  button.addEventListener('click', async () => {
    const row = button.closest('tr[data-recommendation]');
    const buttons = row.querySelectorAll('button[data-action]');
    buttons.forEach(b => { b.disabled = true; });
    const response = await fetch(
      `/v1/recommendations/${row.dataset.recommendation}/${button.dataset.action}`,
      {method: 'POST', headers});
    const body = await response.json();
    const status = row.querySelector('[data-status]');
    if (response.ok) {
      row.dataset.status = body.status;
      status.textContent = body.status;
      buttons.forEach(b => b.remove());
    } else {
      status.textContent = body.detail || body.title;
      buttons.forEach(b => { b.disabled = false; });
    }
  });
});
"""
_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#222}
header{background:#1b2a41;color:#fff;padding:12px 24px;display:flex;justify-content:space-between}
main{padding:16px 24px;display:grid;gap:16px;
grid-template-columns:repeat(auto-fit,minmax(660px,1fr))}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px #0002}
.kpis{display:flex;gap:12px;grid-column:1/-1}.kpi{flex:1;background:#fff;border-radius:8px;
padding:12px 16px;box-shadow:0 1px 2px #0002}.kpi b{display:block;font-size:24px}
.up{color:#2ca02c}.down{color:#d62728}form.login{max-width:520px;margin:80px auto;background:#fff;
padding:24px;border-radius:8px}textarea{width:100%;height:120px}.error{color:#d62728}
button{background:#1b2a41;color:#fff;border:0;padding:8px 16px;border-radius:4px}
table.models{border-collapse:collapse;font-size:12px}table.models td,table.models th{
padding:4px 6px;text-align:right;border:1px solid #fff}
table.list{border-collapse:collapse;font-size:13px;width:100%}table.list td,table.list th{
padding:4px 6px;text-align:left;border-bottom:1px solid #eee}
button.approve{background:#2ca02c}button.reject{background:#d62728;margin-left:4px}
"""


def _page(title: str, body: str, status_code: int = 200, script: str | None = None) -> HTMLResponse:
    csp = _CSP
    if script is not None:
        nonce = secrets.token_urlsafe(16)
        body += f'<script nonce="{nonce}">{script}</script>'
        csp += f"; script-src 'nonce-{nonce}'; connect-src 'self'"
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _login_form(error: str | None = None, status_code: int = 200) -> HTMLResponse:
    message = f'<p class="error" id="login-error">{escape(error)}</p>' if error else ""
    return _page(
        "Bizo — sign in",
        '<form class="login" method="post" action="/login"><h1>Bizo dashboard</h1>'
        "<p>Paste an API token (<code>bizo token --tenant …</code>) or a dashboard key.</p>"
        f'{message}<textarea name="token" id="token" required maxlength="8192"></textarea>'
        '<p><button type="submit" id="sign-in">Sign in</button></p></form>',
        status_code,
    )


async def _principal(request: Request, credential: str, settings: ApiSettings) -> Principal:
    if credential.startswith(API_KEY_PREFIX):
        return await principal_from_api_key(
            credential, request.app.state.pool, request.app.state.rate_limiter
        )
    return principal_from_token(credential, settings)


@router.get("/login")
async def login_page() -> HTMLResponse:
    return _login_form()


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form(max_length=8192)]) -> Response:
    settings = get_api_settings()
    credential = token.strip()
    try:
        await _principal(request, credential, settings)
    except HTTPException as error:
        return _login_form(f"Sign-in failed: {error.detail}", status_code=error.status_code)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        credential,
        max_age=settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
async def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
async def dashboard(request: Request) -> Response:
    credential = request.cookies.get(COOKIE)
    if not credential:
        return RedirectResponse("/login", status_code=303)
    try:
        principal = await _principal(request, credential, get_api_settings())
    except HTTPException as error:
        if error.status_code == 429:
            raise
        response = _login_form(f"Please sign in again: {error.detail}", status_code=401)
        response.delete_cookie(COOKIE)
        return response
    async with tenant_transaction(request.app.state.pool, principal.tenant_id) as conn:
        tenant = await (await conn.execute("SELECT name FROM app.tenants")).fetchone()
        last = await (
            await conn.execute("SELECT max(date) AS last FROM marts.ad_performance_daily")
        ).fetchone()
        last_day: date = last["last"] or date.today()
        dates = DateRange(last_day - timedelta(days=DASHBOARD_DAYS - 1), last_day)
        performance = await load_performance(conn, dates)
        funnel = await load_funnel(conn, dates)
        comparison = await load_comparison(conn, dates, "lead")
        top_leads = await load_leads(conn, limit=TOP_LEADS)
        query, params = recommendations_query(principal.tenant_id, "proposed", PENDING_SHOWN)
        cursor = conn.cursor(row_factory=class_row(Recommendation))
        pending = await (await cursor.execute(query, params)).fetchall()
    name = tenant["name"] if tenant else principal.tenant_id
    decides = principal.may("analyst")
    body = _dashboard_body(name, principal, dates, performance, funnel, comparison)
    panels = _top_leads_panel(top_leads) + _pending_panel(pending, credential if decides else None)
    body = body.removesuffix("</main>") + panels + "</main>"
    return _page(f"Bizo — {name}", body, script=_DECIDE_SCRIPT if decides and pending else None)


def _top_leads_panel(page: LeadPage) -> str:
    rows = "".join(
        f'<tr data-lead="{lead.lead_id}" data-score="{lead.score:.6f}" data-tier="{lead.tier}">'
        f"<td>{lead.lead_id}</td><td>{lead.score:.1%}</td><td>{lead.tier}</td>"
        f"<td>{escape(lead.source or 'unknown')}</td><td>{lead.created_at:%b %d}</td></tr>"
        for lead in page.items
    )
    table = (
        '<table class="list" data-panel="top-leads"><tr><th>lead</th><th>score</th>'
        f"<th>tier</th><th>source</th><th>created</th></tr>{rows}</table>"
        if rows
        else '<p data-panel="top-leads">No scored leads yet.</p>'
    )
    return f"<section><h2>Top leads</h2>{table}</section>"


def _pending_panel(pending: list[Recommendation], credential: str | None) -> str:
    """Proposals waiting for a decision; with Approve / Reject buttons for deciders (the
    credential is on the panel only then, for the page's script)."""
    rows = []
    for rec in pending:
        buttons = (
            '<td><button class="approve" data-action="approve">Approve</button>'
            '<button class="reject" data-action="reject">Reject</button></td>'
            if credential
            else ""
        )
        rows.append(
            f'<tr data-recommendation="{rec.recommendation_id}" data-status="{rec.status}">'
            f"<td>{escape(rec.platform)}</td><td>{escape(rec.campaign_id)}</td>"
            f"<td>{rec.current_budget:,.2f} → {rec.proposed_budget:,.2f} "
            f"{escape(rec.currency.strip())}</td>"
            f"<td>{rec.expected_revenue_change:+,.2f}/day</td>"
            f"<td data-status>{escape(rec.status)}</td>{buttons}</tr>"
        )
    credential_attribute = (
        f' data-credential="{escape(credential, quote=True)}"' if credential else ""
    )
    table = (
        '<table class="list"><tr><th>platform</th><th>campaign</th><th>daily budget</th>'
        f"<th>expected</th><th>status</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p>Nothing waits for a decision.</p>"
    )
    return (
        f'<section id="pending-recommendations" data-panel="pending-recommendations"'
        f"{credential_attribute}><h2>Pending recommendations</h2>{table}</section>"
    )


def _change(value: float | None) -> str:
    if value is None:
        return ""
    css = "up" if value >= 0 else "down"
    return f'<span class="{css}">{value:+.1%} vs previous {DASHBOARD_DAYS} days</span>'


def _models_table(comparison: AttributionComparison) -> str:
    """Channels × models, each cell the channel's share of the model's credited leads; the
    shading makes the models' disagreements visible at a glance."""
    head = "".join(f"<th>{escape(model.replace('_', ' '))}</th>" for model in comparison.models)
    rows = []
    for channel in comparison.channels:
        cells = []
        for model in comparison.models:
            credit = channel.models.get(model)
            share = credit.share if credit else 0.0
            cells.append(
                f'<td data-model="{escape(model)}" data-share="{share:.4f}" '
                f'style="background:rgba(31,119,180,{0.08 + 0.9 * share:.2f})">{share:.0%}</td>'
            )
        rows.append(f"<tr><th>{escape(channel.channel or 'unknown')}</th>{''.join(cells)}</tr>")
    return (
        '<table data-chart="attribution-models" class="models">'
        f"<tr><th>channel</th>{head}</tr>{''.join(rows)}</table>"
    )


def _dashboard_body(
    name: str,
    principal: Principal,
    dates: DateRange,
    performance: PerformanceResponse,
    funnel: FunnelResponse,
    comparison: AttributionComparison,
) -> str:
    currency = performance.currency or ""
    totals = performance.totals
    previous = performance.previous_totals
    roas_change = float(totals.roas / previous.roas - 1) if totals.roas and previous.roas else None
    stages = funnel.stages[0] if funnel.stages else None
    kpis = [
        (
            "spend",
            f"Spend ({currency})",
            compact_number(float(totals.spend)),
            performance.change["spend"],
        ),
        (
            "revenue",
            f"Conversion value ({currency})",
            compact_number(float(totals.conversion_value)),
            performance.change["conversion_value"],
        ),
        ("roas", "ROAS", f"{totals.roas:.2f}" if totals.roas else "–", roas_change),
        ("leads", "Leads", str(stages.leads if stages else 0), None),
        ("won", "Won deals", str(stages.won if stages else 0), None),
    ]
    tiles = "".join(
        f'<div class="kpi" data-kpi="{key}">{escape(title)}<b>{escape(value)}</b>'
        f"{_change(change)}</div>"
        for key, title, value, change in kpis
    )
    daily: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for point in performance.series:
        daily[point.period_start][0] += float(point.spend)
        daily[point.period_start][1] += float(point.conversion_value)
    days = sorted(daily)
    spend_revenue = line_chart(
        "spend-revenue",
        "Spend and conversion value per day",
        [
            Series("Spend", PALETTE[0], [(d, daily[d][0]) for d in days]),
            Series("Conversion value", PALETTE[1], [(d, daily[d][1]) for d in days]),
        ],
    )
    roas = line_chart(
        "roas",
        "ROAS per day",
        [Series("ROAS", PALETTE[2], [(d, daily[d][1] / daily[d][0]) for d in days if daily[d][0]])],
        label=lambda v: f"{v:.1f}",
    )
    platforms = bar_chart(
        "platform-spend",
        "Spend by platform",
        [(row.platform, float(row.current.spend)) for row in performance.breakdown],
    )
    funnel_chart = bar_chart(
        "funnel",
        "Funnel: leads created in the period",
        [
            ("Leads", stages.leads if stages else 0),
            ("Opportunities", stages.opportunities if stages else 0),
            ("Won", stages.won if stages else 0),
        ],
        label=lambda v: f"{v:.0f}",
    )
    return (
        f"<header><div><b>Bizo</b> · {escape(name)} · {dates.start:%b %d} – "
        f"{dates.end:%b %d, %Y}</div><div>{escape(principal.role)} "
        '<form method="post" action="/logout" style="display:inline">'
        '<button type="submit">Sign out</button></form></div></header>'
        f'<main><div class="kpis">{tiles}</div>'
        f"<section><h2>Spend and revenue</h2>{spend_revenue}</section>"
        f"<section><h2>ROAS</h2>{roas}</section>"
        f"<section><h2>Platforms</h2>{platforms}</section>"
        f"<section><h2>Funnel</h2>{funnel_chart}</section>"
        "<section><h2>Attribution models compared (share of leads credited)</h2>"
        f"{_models_table(comparison)}</section></main>"
    )
