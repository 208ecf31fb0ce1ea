"""Agent operations, one function each: the CLI, the API and the Dagster assets call these.

| function | what it does |
| --- | --- |
| `fit_curves` | fit and store each paid channel's response curve for a tenant |
| `current_curves` / `load_curves` | the latest stored curves (as records / as curves) |
| `recommend` | the OptimizationAgent's cycle: budgets read from the platforms, plan, store |
| `auto_approve` | with `BIZO_AUTO_APPLY`, approve the proposals the policy lets pass unattended |
| `apply_approved` | push approved changes to the platforms (dry run unless told to apply) |
| `rollback` | put an applied change's previous budget back on the platform |
| `rollback_requested` | do the rollbacks asked for without credentials at hand (the API) |
| `monitor` | the MonitoringAgent's checks, stored in `app.anomalies` |
| `weekly_report` / `latest_report` | the ReportingAgent's Markdown summary |
| `list_recommendations`, `approve`, `reject`, `audit_trail` | from warehouse.agent_store |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from agents.crew import (
    OptimizationToolbox,
    run_monitoring_agent,
    run_optimization_agent,
    run_reporting_agent,
)
from agents.curves import (
    CurveFitError,
    ResponseCurve,
    chart_points,
    curve_from_record,
    fit_curve,
)
from agents.data import channel_series, recent_spend
from agents.monitoring import detect_anomalies, open_anomalies, record_anomalies
from agents.planning import ChannelCurve
from agents.platforms import BudgetPort, push_budget, read_campaign_budgets
from agents.reporting import render_report, week_facts
from agents.settings import AgentSettings
from warehouse.agent_store import (
    LATEST_CURVES_SQL,
    Recommendation,
    RecommendationError,
    UnknownRecommendation,
    approve,
    audit,
    audit_trail,
    get_recommendation,
    latest_report,
    list_recommendations,
    mark_applied,
    mark_rolled_back,
    pending_rollbacks,
    reject,
    save_recommendations,
    save_report,
)
from warehouse.budgets import CampaignBudgetLine
from warehouse.crypto import CredentialBox

__all__ = [
    "apply_approved",
    "approve",
    "audit_trail",
    "auto_approve",
    "current_curves",
    "fit_curves",
    "latest_report",
    "list_recommendations",
    "load_curves",
    "monitor",
    "recommend",
    "reject",
    "rollback",
    "rollback_requested",
    "weekly_report",
]


# -- curves ------------------------------------------------------------------------------------
def fit_curves(
    conn: psycopg.Connection, tenant_id: str, end: date, settings: AgentSettings
) -> list[dict[str, Any]]:
    """Fit each paid channel's curve on the `settings.curve_window_days` days to `end` (or
    to the marts' last day with spend, when that is earlier) and store it (a re-fit of the
    same window replaces it). Channels whose data cannot support a curve are reported with
    the reason, not stored."""
    # Days after the marts' last day of spend are missing data, not days without spend.
    last = conn.execute(
        "SELECT max(date) FROM marts.ad_performance_daily WHERE tenant_id = %s AND spend > 0",
        (tenant_id,),
    ).fetchone()[0]
    end = min(end, last) if last else end
    start = end - timedelta(days=settings.curve_window_days - 1)
    series = channel_series(conn, tenant_id, start, end, settings.attribution_model)
    results = []
    for channel, s in series.items():
        first = int(next((i for i, v in enumerate(s.spend) if v > 0), len(s.spend)))
        spend, leads = s.spend[first:], s.leads[first:]
        if s.days_with_spend < settings.min_days_of_data:
            results.append(
                {
                    "channel": channel,
                    "fitted": False,
                    "reason": f"{s.days_with_spend} days of data with spend; a curve needs "
                    f"{settings.min_days_of_data}",
                }
            )
            continue
        try:
            curve = fit_curve(spend, leads, draws=30)
        except CurveFitError as error:
            results.append({"channel": channel, "fitted": False, "reason": str(error)})
            continue
        store_curve(conn, tenant_id, channel, s.days[first], end, curve, s.value_per_lead, settings)
        results.append(
            {
                "channel": channel,
                "fitted": True,
                "r2": curve.r2,
                "mape_holdout": curve.mape_holdout,
                "days": curve.n_days,
                "value_per_lead": s.value_per_lead,
            }
        )
    audit(
        conn,
        tenant_id,
        "curve-fitting",
        "curves_fitted",
        None,
        {"end": end.isoformat(), "results": results},
    )
    return results


def store_curve(
    conn: psycopg.Connection,
    tenant_id: str,
    channel: str,
    start: date,
    end: date,
    curve: ResponseCurve,
    value_per_lead: float,
    settings: AgentSettings,
) -> None:
    record = curve.as_record()
    conn.execute(
        """INSERT INTO app.response_curves
               (tenant_id, channel, window_start, window_end, response, attribution_model,
                theta, beta, half_saturation, shape, baseline, value_per_response, draws, r2,
                mape_holdout, n_days, spend_min, spend_max, chart)
           VALUES (%s, %s, %s, %s, 'leads', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                   %s)
           ON CONFLICT (tenant_id, channel, campaign_id, window_end) DO UPDATE
           SET window_start = EXCLUDED.window_start, theta = EXCLUDED.theta,
               beta = EXCLUDED.beta, half_saturation = EXCLUDED.half_saturation,
               shape = EXCLUDED.shape, baseline = EXCLUDED.baseline,
               value_per_response = EXCLUDED.value_per_response, draws = EXCLUDED.draws,
               r2 = EXCLUDED.r2, mape_holdout = EXCLUDED.mape_holdout,
               n_days = EXCLUDED.n_days, spend_min = EXCLUDED.spend_min,
               spend_max = EXCLUDED.spend_max, attribution_model = EXCLUDED.attribution_model,
               chart = EXCLUDED.chart, fitted_at = now()""",
        (
            tenant_id,
            channel,
            start,
            end,
            settings.attribution_model,
            record["theta"],
            record["beta"],
            record["half_saturation"],
            record["shape"],
            record["baseline"],
            value_per_lead,
            Jsonb(record["draws"]),
            record["r2"],
            record["mape_holdout"],
            record["n_days"],
            record["spend_min"],
            record["spend_max"],
            Jsonb(chart_points(curve, value_per_lead)),
        ),
    )


def _latest_curve_records(conn: psycopg.Connection, tenant_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(LATEST_CURVES_SQL, {"tenant": tenant_id})
    names = [c.name for c in rows.description]
    return [dict(zip(names, r, strict=True)) for r in rows.fetchall()]


def current_curves(conn: psycopg.Connection, tenant_id: str) -> list[dict[str, Any]]:
    """The latest channel curve per channel, as plain records (draws left out)."""
    return [
        {k: v for k, v in record.items() if k != "draws"}
        for record in _latest_curve_records(conn, tenant_id)
    ]


def load_curves(conn: psycopg.Connection, tenant_id: str) -> dict[str, ChannelCurve]:
    return {
        record["channel"]: ChannelCurve(
            record["channel"],
            curve_from_record(record),
            record["value_per_response"],
            record["n_days"],
        )
        for record in _latest_curve_records(conn, tenant_id)
    }


# -- the optimization cycle -------------------------------------------------------------------
@dataclass
class CycleResult:
    tenant_id: str
    cycle_date: date
    created_by: str
    saved: list[Recommendation]
    held: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    expected_revenue_change: float = 0.0
    confidence: float = 0.0


def recommend(
    conn: psycopg.Connection,
    box: CredentialBox,
    tenant_id: str,
    cycle_date: date,
    settings: AgentSettings,
    llm: Any | None = None,
    *,
    platforms: BudgetPort,
) -> CycleResult:
    """Run the OptimizationAgent for one tenant and store its recommendations. The data
    window ends the day before `cycle_date`; budgets are read live from the platforms."""
    end = cycle_date - timedelta(days=1)
    series = channel_series(
        conn, tenant_id, end - timedelta(days=13), end, settings.attribution_model
    )
    lines: list[CampaignBudgetLine] = read_campaign_budgets(conn, box, tenant_id, platforms)
    toolbox = OptimizationToolbox(
        tenant_id=tenant_id,
        cycle_date=cycle_date,
        curves=load_curves(conn, tenant_id),
        lines=lines,
        channel_spend={c: recent_spend(s) for c, s in series.items()},
        anomalies=open_anomalies(conn, tenant_id),
        settings=settings,
    )
    toolbox.to_tenant_currency = rates_to_tenant_currency(conn, tenant_id, end)
    recommendations, created_by = run_optimization_agent(toolbox, llm)
    saved = save_recommendations(conn, recommendations)
    plan = toolbox.plan
    return CycleResult(
        tenant_id,
        cycle_date,
        created_by,
        saved,
        held={d.channel: d.held_because for d in plan.channels if d.held_because} if plan else {},
        refused=plan.rejected if plan else [],
        tool_calls=list(toolbox.calls),
        expected_revenue_change=float(sum(r.expected_revenue_change for r in saved)),
        confidence=plan.confidence if plan else 0.0,
    )


def rates_to_tenant_currency(
    conn: psycopg.Connection, tenant_id: str, day: date
) -> dict[str, float]:
    """Units of the tenant's reporting currency per unit of each currency, at the latest
    rate on or before `day` (staging.stg_fx__rates quotes units per US dollar)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (currency) currency, units_per_usd FROM staging.stg_fx__rates
           WHERE date <= %s ORDER BY currency, date DESC""",
        (day,),
    ).fetchall()
    per_usd = {c.strip(): float(r) for c, r in rows}
    home = conn.execute(
        "SELECT reporting_currency FROM app.tenants WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()[0]
    if home not in per_usd:
        return {home: 1.0}
    return {c: per_usd[home] / r for c, r in per_usd.items()}


def auto_approve(
    conn: psycopg.Connection, tenant_id: str, cycle_date: date, settings: AgentSettings
) -> list[int]:
    """With `BIZO_AUTO_APPLY`, approve this cycle's proposals that need no human (within the
    approval threshold), at most `auto_apply_max_changes`; without it, approve nothing."""
    if not settings.auto_apply:
        return []
    ids = [
        row[0]
        for row in conn.execute(
            """SELECT recommendation_id FROM app.recommendations
               WHERE tenant_id = %s AND cycle_date = %s AND status = 'proposed'
                 AND NOT requires_approval
               ORDER BY abs(expected_revenue_change) DESC LIMIT %s""",
            (tenant_id, cycle_date, settings.auto_apply_max_changes),
        ).fetchall()
    ]
    for recommendation_id in ids:
        approve(conn, recommendation_id, "auto-apply", "within the auto-apply limits")
    return ids


@dataclass(frozen=True)
class ApplyResult:
    recommendation_id: int
    tenant_id: str
    platform: str
    campaign_id: str
    budget: Decimal
    applied: bool  # False: a dry run, or the push failed (see error)
    error: str | None = None


def _line(rec: Recommendation) -> CampaignBudgetLine:
    return CampaignBudgetLine(
        rec.tenant_id,
        rec.platform,
        rec.account_id,
        rec.campaign_id,
        rec.currency.strip(),
        rec.current_budget,
        rec.budget_id,
    )


def apply_approved(
    conn: psycopg.Connection,
    box: CredentialBox,
    *,
    dry_run: bool = True,
    tenant_id: str | None = None,
    actor: str = "apply",
    platforms: BudgetPort,
) -> list[ApplyResult]:
    """Push every approved recommendation to its platform (a dry run by default: says what
    would be pushed and pushes nothing). A failed push leaves the recommendation approved
    and is audited, so the next run tries again."""
    results = []
    for rec in list_recommendations(conn, tenant_id=tenant_id, status="approved", limit=1000):
        if dry_run:
            results.append(
                ApplyResult(
                    rec.recommendation_id,
                    rec.tenant_id,
                    rec.platform,
                    rec.campaign_id,
                    rec.proposed_budget,
                    False,
                )
            )
            continue
        try:
            amount = push_budget(conn, box, _line(rec), rec.proposed_budget, platforms)
        except Exception as error:  # noqa: BLE001 - any platform failure is recorded, not fatal
            audit(
                conn,
                rec.tenant_id,
                actor,
                "apply_failed",
                rec.recommendation_id,
                {"error": str(error)},
            )
            conn.commit()
            results.append(
                ApplyResult(
                    rec.recommendation_id,
                    rec.tenant_id,
                    rec.platform,
                    rec.campaign_id,
                    rec.proposed_budget,
                    False,
                    str(error),
                )
            )
            continue
        mark_applied(conn, rec.recommendation_id, actor, amount)
        conn.commit()
        results.append(
            ApplyResult(
                rec.recommendation_id, rec.tenant_id, rec.platform, rec.campaign_id, amount, True
            )
        )
    return results


def rollback(
    conn: psycopg.Connection,
    box: CredentialBox,
    recommendation_id: int,
    actor: str,
    note: str | None = None,
    tenant_id: str | None = None,
    *,
    platforms: BudgetPort,
) -> Recommendation:
    """Put an applied change's previous budget back on the platform, then mark it rolled
    back (if the platform refuses, nothing is marked and the error is raised)."""
    rec = get_recommendation(conn, recommendation_id)
    if tenant_id is not None and rec.tenant_id != tenant_id:
        raise UnknownRecommendation(f"no recommendation {recommendation_id}")
    if rec.status != "applied":
        raise RecommendationError(
            f"recommendation {recommendation_id} is {rec.status}; only an applied change can be "
            "rolled back"
        )
    push_budget(conn, box, _line(rec), rec.current_budget, platforms)
    return mark_rolled_back(conn, recommendation_id, actor, note)


def rollback_requested(
    conn: psycopg.Connection,
    box: CredentialBox,
    *,
    platforms: BudgetPort,
) -> list[ApplyResult]:
    """Roll back every applied change someone asked to roll back (`store.request_rollback`,
    e.g. through the API, which holds no platform credentials), each as its requester. A
    refused push leaves it applied with the request standing, audited, for the next run."""
    results = []
    for recommendation_id, requester, note in pending_rollbacks(conn):
        rec = get_recommendation(conn, recommendation_id)
        error = None
        try:
            rollback(conn, box, recommendation_id, requester, note, platforms=platforms)
        except Exception as failure:  # noqa: BLE001 - any platform failure is recorded, not fatal
            conn.rollback()
            error = str(failure)
            audit(
                conn, rec.tenant_id, requester, "rollback_failed", recommendation_id,
                {"error": error},
            )  # fmt: skip
        conn.commit()
        results.append(
            ApplyResult(
                recommendation_id,
                rec.tenant_id,
                rec.platform,
                rec.campaign_id,
                rec.current_budget,
                error is None,
                error,
            )
        )
    return results


# -- monitoring and reports --------------------------------------------------------------------
def monitor(
    conn: psycopg.Connection,
    tenant_id: str,
    day: date,
    settings: AgentSettings,
    llm: Any | None = None,
) -> dict[str, Any]:
    """The MonitoringAgent over the 35 days to `day`; anomalies stored, summary returned."""
    start = day - timedelta(days=34)

    def detect() -> list:
        return detect_anomalies(
            channel_series(conn, tenant_id, start, day, settings.attribution_model)
        )

    anomalies, summary = run_monitoring_agent(tenant_id, detect, llm)
    counts = record_anomalies(conn, tenant_id, day, anomalies)
    return {**counts, "summary": summary, "anomalies": [a.__dict__ for a in anomalies]}


def weekly_report(
    conn: psycopg.Connection, tenant_id: str, week_start: date, llm: Any | None = None
) -> str:
    facts = week_facts(conn, tenant_id, week_start)
    markdown, created_by = run_reporting_agent(
        lambda: facts.__dict__, lambda: render_report(facts), llm
    )
    save_report(conn, tenant_id, week_start, markdown, created_by)
    return markdown
