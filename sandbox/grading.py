"""Grading our attribution against the world's counterfactual truth.

Each model's credit per cause, per tenant, against `sandbox.true_channel_credit`: a paid
channel's Shapley value over worlds re-simulated with channels switched off, and the
baseline (what the world with every paid channel off still converts), which the unpaid
channels (organic search, direct, referral) share. Only the sandbox, tests, benchmarks and
the demo call this (the pipeline must never see the truth).

A tenant's error is the total absolute difference between the model's credit shares and
the truth's, over the days the model credited: 0 is perfect, 2 the worst. Shares, because
the truth counts every conversion the world made on those days and the marts count those
the pipeline has loaded. Models are ranked by the mean of their tenants' errors: pooling
first would let one tenant's over-credit cancel another's under-credit (the pooled error is
reported too). The noise floor is the error the truth's own Monte-Carlo spread would cause
(its per-channel standard error, scaled to the days graded, times √(2/π) for the expected
absolute deviation): differences below it are not measurable.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg

PAID_CHANNELS = ("google_ads", "meta", "linkedin")
BASELINE = "baseline"

_CREDITED = """
SELECT tenant_id, model,
       CASE WHEN channel = ANY(%(paid)s) THEN channel ELSE 'baseline' END AS cause,
       sum(credit)::float8
FROM marts.attribution_credits
WHERE stage = %(stage)s
GROUP BY 1, 2, 3
"""

_TRUTH = """
WITH graded AS (
    SELECT tenant_id, min(conversion_date) AS first_day, max(conversion_date) AS last_day
    FROM marts.attribution_credits
    WHERE stage = %(stage)s
    GROUP BY 1
)
SELECT t.tenant_id, t.channel, sum(t.conversions),
       max(g.last_day - g.first_day + 1) AS days_graded,
       max(m.end_date - m.start_date + 1) AS world_days,
       max(n.conversions_se)
FROM sandbox.true_channel_credit AS t
JOIN graded AS g ON g.tenant_id = t.tenant_id AND t.date BETWEEN g.first_day AND g.last_day
JOIN sandbox.true_credit_noise AS n
  ON n.tenant_id = t.tenant_id AND n.stage = t.stage AND n.channel = t.channel
CROSS JOIN sandbox.world_meta AS m
WHERE t.stage = %(stage)s
GROUP BY 1, 2
"""


@dataclass(frozen=True)
class TenantTruth:
    conversions: dict[str, float]  # cause -> true credit on the graded days
    noise_floor: float


@dataclass(frozen=True)
class ModelGrade:
    """One model's credit per tenant and cause against the truth."""

    model: str
    truth: dict[str, TenantTruth]
    credit: dict[str, dict[str, float]] = field(default_factory=dict)  # tenant -> cause -> credit

    def tenant_error(self, tenant: str) -> float:
        return share_error(self.credit.get(tenant, {}), self.truth[tenant].conversions)

    @property
    def tenant_errors(self) -> dict[str, float]:
        return {tenant: self.tenant_error(tenant) for tenant in sorted(self.truth)}

    @property
    def error(self) -> float:
        """The mean of the tenants' errors: what models are ranked by."""
        errors = list(self.tenant_errors.values())
        return sum(errors) / len(errors) if errors else 0.0

    @property
    def pooled_error(self) -> float:
        """The error of the credit summed over tenants (opposite errors cancel here)."""
        return share_error(_pool(self.credit.values()), self.pooled_truth)

    @property
    def pooled_truth(self) -> dict[str, float]:
        return _pool(t.conversions for t in self.truth.values())

    @property
    def pooled_credit(self) -> dict[str, float]:
        return _pool(self.credit.values())


def _pool(per_tenant) -> dict[str, float]:
    pooled: dict[str, float] = defaultdict(float)
    for causes in per_tenant:
        for cause, value in causes.items():
            pooled[cause] += value
    return dict(pooled)


def share_error(credit: dict[str, float], truth: dict[str, float]) -> float:
    credited, true = sum(credit.values()), sum(truth.values())
    if credited <= 0 or true <= 0:
        return 0.0
    causes = set(credit) | set(truth)
    return sum(abs(credit.get(c, 0.0) / credited - truth.get(c, 0.0) / true) for c in causes)


def read_truth(conn: psycopg.Connection, stage: str = "lead") -> dict[str, TenantTruth]:
    """The true credit per tenant and cause on the days the marts credit, and its noise."""
    conversions: dict[str, dict[str, float]] = defaultdict(dict)
    noise: dict[str, float] = defaultdict(float)
    for tenant, cause, value, days_graded, world_days, se in conn.execute(
        _TRUTH, {"stage": stage}
    ).fetchall():
        conversions[tenant][cause] = float(value)
        noise[tenant] += float(se) * math.sqrt(min(1.0, days_graded / world_days))
    return {
        tenant: TenantTruth(
            causes,
            math.sqrt(2 / math.pi) * noise[tenant] / sum(causes.values())
            if sum(causes.values())
            else 0.0,
        )
        for tenant, causes in conversions.items()
    }


def grade_attribution(conn: psycopg.Connection, stage: str = "lead") -> list[ModelGrade]:
    """Every model in `marts.attribution_credits`, best (smallest mean tenant error) first."""
    truth = read_truth(conn, stage)
    grades: dict[str, ModelGrade] = {}
    for tenant, model, cause, credit in conn.execute(
        _CREDITED, {"paid": list(PAID_CHANNELS), "stage": stage}
    ).fetchall():
        if tenant not in truth:
            continue
        grade = grades.setdefault(model, ModelGrade(model, truth))
        grade.credit.setdefault(tenant, {})[cause] = float(credit)
    return sorted(grades.values(), key=lambda grade: grade.error)


def noise_floor(grades: list[ModelGrade]) -> float:
    """The mean of the tenants' noise floors."""
    if not grades:
        return 0.0
    floors = [t.noise_floor for t in grades[0].truth.values()]
    return sum(floors) / len(floors)


def grades_as_markdown(grades: list[ModelGrade]) -> str:
    """The tables an analyst reads: each model's error per tenant (the noise floor first),
    then its pooled credit per cause under the truth's."""
    if not grades:
        return "No attribution credits to grade."
    tenants = sorted(grades[0].truth)
    causes = [*PAID_CHANNELS, BASELINE]
    lines = [
        "| model | mean error | pooled error | " + " | ".join(tenants) + " |",
        "|---|---:|---:|" + "---:|" * len(tenants),
        f"| *noise floor* | {noise_floor(grades):.3f} | | "
        + " | ".join(f"{grades[0].truth[t].noise_floor:.3f}" for t in tenants)
        + " |",
    ]
    for grade in grades:
        per_tenant = " | ".join(f"{grade.tenant_error(t):.3f}" for t in tenants)
        lines.append(
            f"| {grade.model} | {grade.error:.3f} | {grade.pooled_error:.3f} | {per_tenant} |"
        )
    pooled_truth = grades[0].pooled_truth
    lines += [
        "",
        "| model | " + " | ".join(causes) + " |",
        "|---|" + "---:|" * len(causes),
        "| **truth** | " + " | ".join(f"{pooled_truth.get(c, 0):.1f}" for c in causes) + " |",
    ]
    for grade in grades:
        credit = grade.pooled_credit
        lines.append(
            f"| {grade.model} | " + " | ".join(f"{credit.get(c, 0):.1f}" for c in causes) + " |"
        )
    return "\n".join(lines)
