"""Grading our attribution against the world's truth: each model's lead credit per channel
next to the number of leads each channel truly caused.

Only the sandbox, tests, benchmarks and the demo call this (the pipeline must never see the
truth). Paid channels are their own cause; a lead the world caused through no paid channel
belongs to the baseline, which the unpaid channels (organic search, direct, referral) share.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import psycopg

PAID_CHANNELS = ("google_ads", "meta", "linkedin")

# Leads with an observed path only: a lead whose every touch is 'unknown' tells a model
# nothing, and all models credit it alike.
_CREDIT_AGAINST_TRUTH = """
WITH observed AS (
    SELECT DISTINCT tenant_id, lead_id FROM marts.journey_touches WHERE channel <> 'unknown'
),
credited AS (
    SELECT c.model,
           CASE WHEN c.channel = ANY(%(paid)s) THEN c.channel ELSE 'baseline' END AS cause,
           sum(c.credit) AS credit
    FROM marts.attribution_credits AS c JOIN observed USING (tenant_id, lead_id)
    WHERE c.stage = 'lead'
    GROUP BY 1, 2
),
truth AS (
    SELECT CASE WHEN l.cause_channel = ANY(%(paid)s) THEN l.cause_channel ELSE 'baseline' END
               AS cause,
           count(*) AS leads
    FROM sandbox.leads AS l JOIN observed USING (tenant_id, lead_id)
    GROUP BY 1
),
models AS (SELECT DISTINCT model FROM credited),
causes AS (SELECT cause FROM truth UNION SELECT cause FROM credited)
SELECT models.model, causes.cause, coalesce(truth.leads, 0), coalesce(credited.credit, 0)
FROM models CROSS JOIN causes
LEFT JOIN truth USING (cause)
LEFT JOIN credited ON credited.model = models.model AND credited.cause = causes.cause
ORDER BY 1, 2
"""


@dataclass(frozen=True)
class ModelGrade:
    """One model's lead credit per cause against the true leads per cause."""

    model: str
    true_leads: dict[str, int]
    credit: dict[str, Decimal]

    @property
    def error(self) -> float:
        """Total absolute credit error over true leads: 0 is perfect, 2 the worst."""
        total = sum(self.true_leads.values())
        missed = sum(abs(self.credit[c] - self.true_leads[c]) for c in self.true_leads)
        return float(missed / total) if total else 0.0


def grade_attribution(conn: psycopg.Connection) -> list[ModelGrade]:
    """Every model in `marts.attribution_credits`, best (smallest error) first."""
    rows = conn.execute(_CREDIT_AGAINST_TRUTH, {"paid": list(PAID_CHANNELS)}).fetchall()
    by_model: dict[str, ModelGrade] = {}
    for model, cause, leads, credit in rows:
        grade = by_model.setdefault(model, ModelGrade(model, {}, {}))
        grade.true_leads[cause] = int(leads)
        grade.credit[cause] = Decimal(credit)
    return sorted(by_model.values(), key=lambda grade: grade.error)


def grades_as_markdown(grades: list[ModelGrade]) -> str:
    """The error table an analyst reads: one row per model, lead credit per cause, the true
    leads on top."""
    if not grades:
        return "No attribution credits to grade."
    causes = sorted(grades[0].true_leads)
    header = "| model | error | " + " | ".join(causes) + " |"
    rule = "|---|---:|" + "---:|" * len(causes)
    truth = "| **truth** | 0 | " + " | ".join(str(grades[0].true_leads[c]) for c in causes) + " |"
    lines = [header, rule, truth]
    for grade in grades:
        credits = " | ".join(f"{grade.credit[c]:.1f}" for c in causes)
        lines.append(f"| {grade.model} | {grade.error:.3f} | {credits} |")
    return "\n".join(lines)
