"""Guardrails every proposed budget change passes, whoever (or whatever) proposed it.

A language model may plan and explain, but its proposals go through `check_change` like the
optimizer's: caps, spend floors, the per-cycle change limit, minimum data, no change on a
channel with an open anomaly, and approval above a threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from agents.settings import AgentSettings


class GuardrailViolation(ValueError):
    """A proposed change that breaks a guardrail; the message says which and why."""


@dataclass(frozen=True)
class ChangeContext:
    """What the guardrails need to know about one budget line."""

    channel: str
    current_budget: Decimal
    days_of_data: int
    open_anomalies: tuple[str, ...] = ()
    platform_minimum: Decimal = Decimal("0.01")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    requires_approval: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


# Budgets are rounded to cents after the optimizer kept to a limit: that much over is not over.
ROUNDING_SLACK = 0.005
# Platforms' own minimum daily budgets (account currency units).
PLATFORM_MINIMUMS = {
    "google_ads": Decimal("1.00"),
    "meta": Decimal("1.00"),
    "linkedin": Decimal("10.00"),
}


def check_change(proposed: Decimal, context: ChangeContext, settings: AgentSettings) -> Verdict:
    """Raise GuardrailViolation when the change may not happen at all; otherwise say whether
    it needs a human's approval."""
    try:
        proposed = Decimal(proposed)
    except (ArithmeticError, TypeError, ValueError):
        raise GuardrailViolation(
            f"{context.channel}: budget {proposed!r} is not a number"
        ) from None
    if not proposed.is_finite() or proposed <= 0:
        raise GuardrailViolation(f"{context.channel}: budget {proposed} must be positive")
    if proposed != proposed.quantize(Decimal("0.01")):
        raise GuardrailViolation(f"{context.channel}: budget {proposed} has fractions of a cent")
    current = context.current_budget
    if context.days_of_data < settings.min_days_of_data:
        raise GuardrailViolation(
            f"{context.channel}: {context.days_of_data} days of data, at least "
            f"{settings.min_days_of_data} needed before changing its budget"
        )
    if context.open_anomalies and proposed != current:
        raise GuardrailViolation(
            f"{context.channel}: open anomalies ({', '.join(context.open_anomalies)}); "
            "no budget change until they are resolved"
        )
    floor = max(Decimal(str(settings.min_daily_budget)), context.platform_minimum)
    if proposed < floor:
        raise GuardrailViolation(f"{context.channel}: budget {proposed} is below the floor {floor}")
    if settings.max_daily_budget is not None and proposed > Decimal(str(settings.max_daily_budget)):
        raise GuardrailViolation(
            f"{context.channel}: budget {proposed} is above the cap {settings.max_daily_budget}"
        )
    change = relative_change(current, proposed)
    if change > settings.max_change_per_cycle + ROUNDING_SLACK:
        raise GuardrailViolation(
            f"{context.channel}: a {change:.0%} change is above the "
            f"{settings.max_change_per_cycle:.0%} allowed per cycle"
        )
    needs_approval = change > settings.approval_threshold + ROUNDING_SLACK
    reasons = (
        (f"{change:.0%} change is above the {settings.approval_threshold:.0%} approval threshold",)
        if needs_approval
        else ()
    )
    return Verdict(True, needs_approval, reasons)


def relative_change(current: Decimal, proposed: Decimal) -> float:
    if current == 0:
        return math.inf if proposed else 0.0
    return abs(float(proposed) - float(current)) / float(current)
