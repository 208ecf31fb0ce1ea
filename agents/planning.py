"""From curves and today's budgets to proposed campaign budgets: the optimizer's decision,
made concrete per campaign and passed through the guardrails.

The optimizer allocates *spend* per channel in the tenant's reporting currency (what the
curves were fitted on). Each channel's proposal is a multiplier on its spend, and every
campaign of the channel moves by that multiplier in its own account currency, so no exchange
rate is needed and the mix inside a channel stays as the advertiser set it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from agents.curves import ResponseCurve
from agents.guardrails import (
    PLATFORM_MINIMUMS,
    ChangeContext,
    GuardrailViolation,
    check_change,
    relative_change,
)
from agents.optimizer import Allocation, AllocationError, ChannelInput, OptimizerSettings, optimize
from agents.settings import AgentSettings
from warehouse.agent_store import NewRecommendation
from warehouse.budgets import CampaignBudgetLine

CENT = Decimal("0.01")
MIN_RELATIVE_CHANGE = 0.01  # smaller moves are noise, not recommendations


@dataclass(frozen=True)
class ChannelCurve:
    """A channel's fitted curve with what the guardrails need to know about it."""

    channel: str
    curve: ResponseCurve
    value_per_response: float  # revenue per unit of response (1 for revenue curves)
    days_of_data: int


@dataclass(frozen=True)
class ChannelDecision:
    channel: str
    current_spend: float
    proposed_spend: float
    marginal_roas_current: float
    marginal_roas_proposed: float
    expected_change: float
    held_because: str | None = None


@dataclass
class Plan:
    tenant_id: str
    cycle_date: date
    channels: list[ChannelDecision]
    recommendations: list[NewRecommendation]
    rejected: list[str]  # guardrail messages for lines that may not change
    allocation: Allocation | None
    confidence: float


def money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def plan_budgets(
    tenant_id: str,
    cycle_date: date,
    curves: Mapping[str, ChannelCurve],
    lines: Sequence[CampaignBudgetLine],
    channel_spend: Mapping[str, float],
    open_anomalies: Mapping[str, Sequence[str]],
    settings: AgentSettings,
    created_by: str = "optimizer",
    to_tenant_currency: Mapping[str, float] | None = None,
) -> Plan:
    """Decide this cycle's budgets for one tenant at its current total budget.

    The optimizer works on recent spend (where the curves are measured); its answer becomes
    each channel's target share of the tenant's total daily budget (in the tenant's currency,
    `to_tenant_currency` giving each account currency's rate), moved at most the per-cycle
    limit. Shares of the *current* budget, not multipliers on spend, because spend lags a
    budget that just changed: a multiplier on lagging spend would compound cycle after cycle
    and the total would drift."""
    held: dict[str, str] = {}
    inputs: list[ChannelInput] = []
    for channel in sorted({line.platform for line in lines}):
        spend = float(channel_spend.get(channel, 0.0))
        stored = curves.get(channel)
        if stored is None:
            held[channel] = "no fitted curve"
        elif stored.days_of_data < settings.min_days_of_data:
            held[channel] = (
                f"{stored.days_of_data} days of data (needs {settings.min_days_of_data})"
            )
        elif open_anomalies.get(channel):
            held[channel] = "open anomalies: " + ", ".join(open_anomalies[channel])
        elif spend <= 0:
            held[channel] = "no recent spend"
        else:
            inputs.append(
                ChannelInput(
                    key=channel,
                    curve=stored.curve,
                    current=spend,
                    min_budget=settings.min_daily_budget,
                    value_per_response=stored.value_per_response,
                )
            )
    allocation = None
    decisions: list[ChannelDecision] = []
    multipliers: dict[str, float] = {}
    confidence = 0.0
    if len(inputs) >= 2:
        try:
            allocation = optimize(
                inputs,
                settings=OptimizerSettings(
                    max_change=settings.max_change_per_cycle,
                    risk_aversion=settings.risk_aversion,
                ),
            )
        except AllocationError as error:
            held.update({i.key: f"optimizer: {error}" for i in inputs})
        else:
            confidence = _confidence(inputs, allocation)
            multipliers = _budget_multipliers(
                allocation, lines, to_tenant_currency or {}, settings.max_change_per_cycle
            )
            for line in allocation.lines:
                decisions.append(
                    ChannelDecision(
                        line.key,
                        line.current,
                        line.proposed,
                        line.marginal_roas_current,
                        line.marginal_roas,
                        line.expected_proposed - line.expected_current,
                    )
                )
    elif inputs:
        held.update(
            {i.key: "the only channel that may move: nothing to move budget to" for i in inputs}
        )
    for channel, reason in held.items():
        spend = float(channel_spend.get(channel, 0.0))
        decisions.append(ChannelDecision(channel, spend, spend, 0.0, 0.0, 0.0, reason))

    recommendations, rejected = [], []
    decision_by_channel = {d.channel: d for d in decisions}
    for line in lines:
        multiplier = multipliers.get(line.platform)
        if multiplier is None or abs(multiplier - 1.0) < MIN_RELATIVE_CHANGE:
            continue
        decision = decision_by_channel[line.platform]
        proposed = money(float(line.daily_budget) * multiplier)
        proposed = max(proposed, PLATFORM_MINIMUMS.get(line.platform, CENT))
        stored = curves[line.platform]
        context = ChangeContext(
            channel=line.platform,
            current_budget=line.daily_budget,
            days_of_data=stored.days_of_data,
            open_anomalies=tuple(open_anomalies.get(line.platform, ())),
            platform_minimum=PLATFORM_MINIMUMS.get(line.platform, CENT),
        )
        try:
            verdict = check_change(proposed, context, settings)
        except GuardrailViolation as violation:
            rejected.append(f"campaign {line.campaign_id}: {violation}")
            continue
        share = float(line.daily_budget) / max(
            sum(float(x.daily_budget) for x in lines if x.platform == line.platform), 1e-9
        )
        recommendations.append(
            recommendation_for(
                line,
                cycle_date,
                proposed,
                expected=money(decision.expected_change * share),
                confidence=confidence,
                rationale=campaign_rationale(line, proposed, decision, stored, verdict.reasons),
                requires_approval=verdict.requires_approval,
                created_by=created_by,
            )
        )
    return Plan(tenant_id, cycle_date, decisions, recommendations, rejected, allocation, confidence)


def _budget_multipliers(
    allocation: Allocation,
    lines: Sequence[CampaignBudgetLine],
    to_tenant: Mapping[str, float],
    max_change: float,
) -> dict[str, float]:
    """Per channel, the factor on its campaigns' budgets that gives it the optimizer's share
    of the current total budget, each factor within 1 ± `max_change` and the total kept."""
    budgets = {
        key: sum(
            float(x.daily_budget) * to_tenant.get(x.currency, 1.0)
            for x in lines
            if x.platform == key
        )
        for key in allocation.by_key()
    }
    total_budget = sum(budgets.values())
    total_spend = sum(line.proposed for line in allocation.lines)
    if total_budget <= 0 or total_spend <= 0:
        return {}
    target = {line.key: line.proposed / total_spend * total_budget for line in allocation.lines}
    low = {k: b * (1 - max_change) for k, b in budgets.items()}
    high = {k: b * (1 + max_change) for k, b in budgets.items()}
    # Clamp, then spread what clamping freed or took over the channels still free.
    free = set(target)
    for _ in range(len(target)):
        clamped = {k: min(max(v, low[k]), high[k]) for k, v in target.items()}
        gap = total_budget - sum(clamped.values())
        movable = [k for k in free if low[k] < clamped[k] < high[k]]
        if abs(gap) < 1e-9 or not movable:
            target = clamped
            break
        weight = sum(clamped[k] for k in movable)
        target = {k: v + (gap * v / weight if k in movable else 0.0) for k, v in clamped.items()}
        free = set(movable)
    return {k: target[k] / budgets[k] for k in target if budgets[k] > 0}


def recommendation_for(
    line: CampaignBudgetLine,
    cycle_date: date,
    proposed: Decimal,
    *,
    expected: Decimal,
    confidence: float,
    rationale: str,
    requires_approval: bool,
    created_by: str,
) -> NewRecommendation:
    """A recommendation to move one campaign's budget to `proposed`."""
    return NewRecommendation(
        tenant_id=line.tenant_id,
        cycle_date=cycle_date,
        platform=line.platform,
        channel=line.platform,
        account_id=line.account_id,
        campaign_id=line.campaign_id,
        budget_id=line.budget_id,
        currency=line.currency,
        current_budget=money(line.daily_budget),
        proposed_budget=proposed,
        expected_revenue_change=expected,
        confidence=confidence,
        rationale=rationale,
        requires_approval=requires_approval,
        created_by=created_by,
    )


def _confidence(inputs: Sequence[ChannelInput], allocation: Allocation) -> float:
    """Share of the curves' bootstrap draws under which the proposed split earns more than
    today's: draws of each channel are paired by index."""
    proposed = allocation.by_key()
    total_now, total_new = 0.0, 0.0
    for item in inputs:
        spends = np.array([item.current, proposed[item.key].proposed])
        draws = item.curve.steady_response_draws(spends) * item.value_per_response
        total_now = total_now + draws[:, 0]
        total_new = total_new + draws[:, 1]
    wins = np.asarray(total_new) > np.asarray(total_now)
    return float(np.mean(wins)) if np.size(wins) else 0.0


def campaign_rationale(
    line: CampaignBudgetLine,
    proposed: Decimal,
    decision: ChannelDecision,
    stored: ChannelCurve,
    approval_reasons: Sequence[str] = (),
) -> str:
    """The template text behind a recommendation (what a model, when configured, rewords)."""
    direction = "Raise" if proposed > line.daily_budget else "Lower"
    change = relative_change(line.daily_budget, proposed)
    quality = f"R² {stored.curve.r2:.2f}"
    if stored.curve.mape_holdout is not None:
        quality += f", held-out MAPE {stored.curve.mape_holdout:.0%}"
    text = (
        f"{direction} {line.platform} campaign {line.campaign_id} from "
        f"{line.daily_budget:,.2f} to {proposed:,.2f} {line.currency}/day ({change:.0%}). "
        f"The {line.platform} curve gives a marginal ROAS of "
        f"{decision.marginal_roas_current:.2f} at today's spend, "
        f"{decision.marginal_roas_proposed:.2f} after the move; the channel's expected revenue "
        f"changes by {decision.expected_change:+,.2f} a day. Curve fit: {quality}, "
        f"{stored.days_of_data} days."
    )
    if approval_reasons:
        text += " Needs approval: " + "; ".join(approval_reasons) + "."
    return text
