"""The weekly Markdown summary per tenant: what changed, why, and what the curves say.

The template is the default text; a configured model may write the summary instead, from the
same facts (see agents.crew), and its text is stored only if it is non-empty Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg


@dataclass(frozen=True)
class WeekFacts:
    tenant_id: str
    week_start: date
    recommendations: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]
    curves: list[dict[str, Any]]


def week_facts(conn: psycopg.Connection, tenant_id: str, week_start: date) -> WeekFacts:
    week_end = week_start + timedelta(days=7)
    recs = conn.execute(
        """SELECT recommendation_id, platform, campaign_id, currency, current_budget,
                  proposed_budget, expected_revenue_change, confidence, status, rationale,
                  created_by, decided_by
           FROM app.recommendations
           WHERE tenant_id = %s AND cycle_date >= %s AND cycle_date < %s
           ORDER BY cycle_date, platform, campaign_id""",
        (tenant_id, week_start, week_end),
    ).fetchall()
    keys = [
        "id",
        "platform",
        "campaign_id",
        "currency",
        "current",
        "proposed",
        "expected",
        "confidence",
        "status",
        "rationale",
        "created_by",
        "decided_by",
    ]
    anomalies = conn.execute(
        """SELECT channel, day, kind, severity, status, message FROM app.anomalies
           WHERE tenant_id = %s AND day >= %s AND day < %s ORDER BY day, channel""",
        (tenant_id, week_start, week_end),
    ).fetchall()
    curves = conn.execute(
        """SELECT DISTINCT ON (channel) channel, r2, mape_holdout, n_days, window_end
           FROM app.response_curves WHERE tenant_id = %s AND campaign_id = ''
           ORDER BY channel, window_end DESC""",
        (tenant_id,),
    ).fetchall()
    return WeekFacts(
        tenant_id,
        week_start,
        [dict(zip(keys, r, strict=True)) for r in recs],
        [
            dict(zip(["channel", "day", "kind", "severity", "status", "message"], r, strict=True))
            for r in anomalies
        ],
        [
            dict(zip(["channel", "r2", "mape", "n_days", "window_end"], r, strict=True))
            for r in curves
        ],
    )


def render_report(facts: WeekFacts) -> str:
    """The template summary."""
    lines = [f"# {facts.tenant_id}: week of {facts.week_start.isoformat()}", ""]
    applied = [r for r in facts.recommendations if r["status"] == "applied"]
    waiting = [r for r in facts.recommendations if r["status"] == "proposed"]
    declined = [r for r in facts.recommendations if r["status"] == "rejected"]
    rolled = [r for r in facts.recommendations if r["status"] == "rolled_back"]
    expected = sum(float(r["expected"]) for r in applied)
    lines.append("## What changed")
    if applied:
        lines.append(
            f"{len(applied)} budget change(s) applied, expected to add {expected:+,.2f} of "
            "revenue a day:"
        )
        lines.append("")
        lines.append("| platform | campaign | from | to | expected/day | approved by |")
        lines.append("| --- | --- | ---: | ---: | ---: | --- |")
        for r in applied:
            lines.append(
                f"| {r['platform']} | {r['campaign_id']} | {r['current']:,.2f} {r['currency']} "
                f"| {r['proposed']:,.2f} {r['currency']} | {float(r['expected']):+,.2f} "
                f"| {r['decided_by'] or '-'} |"
            )
    else:
        lines.append("No budget changes were applied this week.")
    lines.append("")
    lines.append("## Why")
    if applied:
        for r in applied[:10]:
            lines.append(f"- {r['rationale']}")
    else:
        lines.append("- Nothing moved: no proposal was approved, or none was worth making.")
    if waiting or declined or rolled:
        lines += ["", "## Waiting and declined"]
        lines.append(
            f"{len(waiting)} proposal(s) await approval, {len(declined)} were rejected, "
            f"{len(rolled)} rolled back."
        )
    lines += ["", "## Anomalies"]
    if facts.anomalies:
        for a in facts.anomalies:
            lines.append(f"- {a['day']} {a['severity']} ({a['status']}): {a['message']}")
    else:
        lines.append("None detected.")
    lines += ["", "## Curve quality"]
    if facts.curves:
        lines.append("| channel | R² | held-out MAPE | days |")
        lines.append("| --- | ---: | ---: | ---: |")
        for c in facts.curves:
            mape = "-" if c["mape"] is None else f"{c['mape']:.0%}"
            lines.append(f"| {c['channel']} | {c['r2']:.2f} | {mape} | {c['n_days']} |")
    else:
        lines.append("No curves fitted yet.")
    return "\n".join(lines) + "\n"
