"""Recommendations, their decisions and the audit log (``app.recommendations``,
``app.audit_log``): the functions the CLI, the API and the Dagster assets share.

Every state change is one transaction that updates the recommendation and writes its audit
entry, and checks the state it starts from, so two people approving and rejecting at once
cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

STATUSES = ("proposed", "approved", "rejected", "applied", "rolled_back", "superseded")


class RecommendationError(ValueError):
    """An action the recommendation's state does not allow, or an unknown recommendation."""


class UnknownRecommendation(RecommendationError):
    """No such recommendation (for this tenant)."""


@dataclass(frozen=True)
class NewRecommendation:
    tenant_id: str
    cycle_date: date
    platform: str
    channel: str
    account_id: str
    campaign_id: str
    currency: str
    current_budget: Decimal
    proposed_budget: Decimal
    expected_revenue_change: Decimal
    confidence: float
    rationale: str
    requires_approval: bool
    created_by: str
    budget_id: str | None = None


@dataclass(frozen=True)
class Recommendation:
    recommendation_id: int
    tenant_id: str
    cycle_date: date
    platform: str
    channel: str
    account_id: str
    campaign_id: str
    budget_id: str | None
    currency: str
    current_budget: Decimal
    proposed_budget: Decimal
    expected_revenue_change: Decimal
    confidence: float
    rationale: str
    status: str
    requires_approval: bool
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    applied_at: datetime | None
    applied_budget: Decimal | None
    rolled_back_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


_SELECT = sql.SQL("SELECT {} FROM app.recommendations ").format(
    sql.SQL(", ").join(sql.Identifier(f.name) for f in fields(Recommendation))
)


def audit(
    conn: psycopg.Connection,
    tenant_id: str,
    actor: str,
    action: str,
    recommendation_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        """INSERT INTO app.audit_log (tenant_id, actor, action, recommendation_id, details)
           VALUES (%s, %s, %s, %s, %s)""",
        (tenant_id, actor, action, recommendation_id, Jsonb(details or {})),
    )


def save_recommendations(
    conn: psycopg.Connection, recommendations: list[NewRecommendation]
) -> list[Recommendation]:
    """Store a cycle's recommendations. Re-running a cycle updates its still-proposed rows
    (never duplicates; decided ones are left alone); older proposals of the same campaigns
    that nobody decided on are superseded."""
    saved = []
    with conn.transaction():
        for rec in recommendations:
            row = conn.execute(
                """INSERT INTO app.recommendations
                       (tenant_id, cycle_date, platform, channel, account_id, campaign_id,
                        budget_id, currency, current_budget, proposed_budget,
                        expected_revenue_change, confidence, rationale, requires_approval,
                        created_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (tenant_id, platform, campaign_id, cycle_date) DO UPDATE
                   SET current_budget = EXCLUDED.current_budget,
                       proposed_budget = EXCLUDED.proposed_budget,
                       expected_revenue_change = EXCLUDED.expected_revenue_change,
                       confidence = EXCLUDED.confidence, rationale = EXCLUDED.rationale,
                       requires_approval = EXCLUDED.requires_approval,
                       created_by = EXCLUDED.created_by, created_at = now()
                   WHERE app.recommendations.status = 'proposed'
                   RETURNING recommendation_id, (xmax = 0) AS inserted""",
                (
                    rec.tenant_id,
                    rec.cycle_date,
                    rec.platform,
                    rec.channel,
                    rec.account_id,
                    rec.campaign_id,
                    rec.budget_id,
                    rec.currency,
                    rec.current_budget,
                    rec.proposed_budget,
                    rec.expected_revenue_change,
                    rec.confidence,
                    rec.rationale,
                    rec.requires_approval,
                    rec.created_by,
                ),
            ).fetchone()
            if row is None:
                continue  # already decided in an earlier run of this cycle
            recommendation_id, inserted = row
            conn.execute(
                """UPDATE app.recommendations SET status = 'superseded'
                   WHERE tenant_id = %s AND platform = %s AND campaign_id = %s
                     AND cycle_date < %s AND status = 'proposed'""",
                (rec.tenant_id, rec.platform, rec.campaign_id, rec.cycle_date),
            )
            audit(
                conn,
                rec.tenant_id,
                rec.created_by,
                "proposed" if inserted else "re-proposed",
                recommendation_id,
                {
                    "current_budget": str(rec.current_budget),
                    "proposed_budget": str(rec.proposed_budget),
                    "cycle_date": rec.cycle_date.isoformat(),
                },
            )
            saved.append(get_recommendation(conn, recommendation_id))
    return saved


def get_recommendation(conn: psycopg.Connection, recommendation_id: int) -> Recommendation:
    with conn.cursor(row_factory=class_row(Recommendation)) as cur:
        found = cur.execute(
            _SELECT + sql.SQL("WHERE recommendation_id = %s"), (recommendation_id,)
        ).fetchone()
    if found is None:
        raise UnknownRecommendation(f"no recommendation {recommendation_id}")
    return found


def recommendations_query(
    tenant_id: str | None = None, status: str | None = None, limit: int = 200
) -> tuple[sql.Composed, tuple[Any, ...]]:
    """The listing's SQL and parameters (also run by the API on its async connection)."""
    if status is not None and status not in STATUSES:
        raise RecommendationError(f"unknown status {status!r}; one of {STATUSES}")
    query = _SELECT + sql.SQL(
        """WHERE (%s::text IS NULL OR tenant_id = %s)
             AND (%s::text IS NULL OR status = %s)
           ORDER BY created_at DESC, recommendation_id DESC LIMIT %s"""
    )
    return query, (tenant_id, tenant_id, status, status, limit)


def list_recommendations(
    conn: psycopg.Connection,
    tenant_id: str | None = None,
    status: str | None = None,
    limit: int = 200,
) -> list[Recommendation]:
    """Newest first; filtered by tenant and status when given."""
    query, params = recommendations_query(tenant_id, status, limit)
    with conn.cursor(row_factory=class_row(Recommendation)) as cur:
        return cur.execute(query, params).fetchall()


_NOTHING = sql.SQL("")
_DECIDED = sql.SQL(", decided_by = %s, decided_at = now(), decision_note = %s")


def _lock(
    conn: psycopg.Connection,
    recommendation_id: int,
    tenant_id: str | None,
    allowed_from: tuple[str, ...],
    wanted: str,
) -> tuple[str, str]:
    """Lock the recommendation for this transaction; its (tenant, status) if that status
    allows what is `wanted`, else UnknownRecommendation / RecommendationError."""
    row = conn.execute(
        "SELECT tenant_id, status FROM app.recommendations WHERE recommendation_id = %s FOR UPDATE",
        (recommendation_id,),
    ).fetchone()
    if row is None or (tenant_id is not None and row[0] != tenant_id):
        raise UnknownRecommendation(f"no recommendation {recommendation_id}")
    if row[1] not in allowed_from:
        raise RecommendationError(
            f"recommendation {recommendation_id} is {row[1]}; it can be {wanted} only when "
            f"{' or '.join(allowed_from)}"
        )
    return row[0], row[1]


def _transition(
    conn: psycopg.Connection,
    recommendation_id: int,
    allowed_from: tuple[str, ...],
    to: str,
    actor: str,
    note: str | None,
    extra_sql: sql.Composable = _NOTHING,
    extra_params: tuple[Any, ...] = (),
    tenant_id: str | None = None,
) -> Recommendation:
    with conn.transaction():
        row = _lock(conn, recommendation_id, tenant_id, allowed_from, to)
        conn.execute(
            sql.SQL(
                "UPDATE app.recommendations SET status = %s{} WHERE recommendation_id = %s"
            ).format(extra_sql),
            (to, *extra_params, recommendation_id),
        )
        audit(conn, row[0], actor, to, recommendation_id, {"from": row[1], "note": note})
    return get_recommendation(conn, recommendation_id)


def approve(
    conn: psycopg.Connection,
    recommendation_id: int,
    actor: str,
    note: str | None = None,
    tenant_id: str | None = None,
) -> Recommendation:
    """A person (or the auto-apply policy) approves a proposal; the apply sensor pushes it."""
    return _transition(
        conn,
        recommendation_id,
        ("proposed",),
        "approved",
        actor,
        note,
        _DECIDED,
        (actor, note),
        tenant_id,
    )


def reject(
    conn: psycopg.Connection,
    recommendation_id: int,
    actor: str,
    note: str | None = None,
    tenant_id: str | None = None,
) -> Recommendation:
    return _transition(
        conn,
        recommendation_id,
        ("proposed", "approved"),
        "rejected",
        actor,
        note,
        _DECIDED,
        (actor, note),
        tenant_id,
    )


def mark_applied(
    conn: psycopg.Connection, recommendation_id: int, actor: str, applied_budget: Decimal
) -> Recommendation:
    return _transition(
        conn,
        recommendation_id,
        ("approved",),
        "applied",
        actor,
        None,
        sql.SQL(", applied_at = now(), applied_budget = %s"),
        (applied_budget,),
    )


def mark_rolled_back(
    conn: psycopg.Connection, recommendation_id: int, actor: str, note: str | None = None
) -> Recommendation:
    return _transition(
        conn,
        recommendation_id,
        ("applied",),
        "rolled_back",
        actor,
        note,
        sql.SQL(", rolled_back_at = now()"),
    )


ROLLBACK_REQUESTED = "rollback_requested"


def request_rollback(
    conn: psycopg.Connection,
    recommendation_id: int,
    actor: str,
    note: str | None = None,
    tenant_id: str | None = None,
) -> Recommendation:
    """Ask for an applied change to be rolled back by whoever holds the platform credentials
    (the apply sensor, see `pending_rollbacks`): the request is an audit entry, the status
    stays applied until the platform has the old budget back."""
    with conn.transaction():
        tenant, _ = _lock(conn, recommendation_id, tenant_id, ("applied",), "rolled back")
        if recommendation_id in {r for r, _, _ in pending_rollbacks(conn, [recommendation_id])}:
            raise RecommendationError(
                f"a rollback of recommendation {recommendation_id} is already requested"
            )
        audit(conn, tenant, actor, ROLLBACK_REQUESTED, recommendation_id, {"note": note})
    return get_recommendation(conn, recommendation_id)


def pending_rollbacks(
    conn: psycopg.Connection, recommendation_ids: list[int] | None = None
) -> list[tuple[int, str, str | None]]:
    """Applied recommendations with a rollback requested: (id, who asked, their note)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (r.recommendation_id) r.recommendation_id, a.actor,
                  a.details ->> 'note'
           FROM app.recommendations AS r
           JOIN app.audit_log AS a
             ON a.recommendation_id = r.recommendation_id AND a.action = %s
           WHERE r.status = 'applied'
             AND (%s::bigint[] IS NULL OR r.recommendation_id = ANY(%s))
           ORDER BY r.recommendation_id, a.audit_id DESC""",
        (ROLLBACK_REQUESTED, recommendation_ids, recommendation_ids),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def audit_trail(conn: psycopg.Connection, recommendation_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        """SELECT at, actor, action, details FROM app.audit_log
           WHERE recommendation_id = %s ORDER BY audit_id""",
        (recommendation_id,),
    ).fetchall()
    return [{"at": r[0], "actor": r[1], "action": r[2], "details": r[3]} for r in rows]


# -- weekly reports (app.agent_reports) ----------------------------------------------------


def save_report(
    conn: psycopg.Connection, tenant_id: str, week_start: date, markdown: str, created_by: str
) -> None:
    if not markdown.strip().startswith("#"):
        raise ValueError("a report must be Markdown starting with a heading")
    conn.execute(
        """INSERT INTO app.agent_reports (tenant_id, week_start, markdown, created_by)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (tenant_id, week_start) DO UPDATE
           SET markdown = EXCLUDED.markdown, created_by = EXCLUDED.created_by,
               created_at = now()""",
        (tenant_id, week_start, markdown, created_by),
    )


# The newest weekly report (also read by the API on its async connection).
LATEST_REPORT_SQL = """
SELECT week_start, markdown, created_by, created_at FROM app.agent_reports
WHERE tenant_id = %(tenant)s ORDER BY week_start DESC LIMIT 1
"""


def latest_report(conn: psycopg.Connection, tenant_id: str) -> dict[str, Any] | None:
    row = conn.execute(LATEST_REPORT_SQL, {"tenant": tenant_id}).fetchone()
    if row is None:
        return None
    return dict(zip(("week_start", "markdown", "created_by", "created_at"), row, strict=True))


# -- stored response curves (app.response_curves) -------------------------------------------
# The latest channel-level curve per channel, with the chart the agents drew from it (also
# read by the API on its async connection, which needs no curve math).
LATEST_CURVES_SQL = """
SELECT DISTINCT ON (channel) channel, window_start, window_end, attribution_model, theta, beta,
       half_saturation, shape, baseline, value_per_response, draws, r2, mape_holdout, n_days,
       spend_min, spend_max, chart, fitted_at
FROM app.response_curves WHERE tenant_id = %(tenant)s AND campaign_id = ''
ORDER BY channel, window_end DESC
"""
