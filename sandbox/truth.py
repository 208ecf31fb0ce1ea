"""The counterfactual truth of one tenant's world: what each paid channel caused.

Credit is defined the way the field defines incrementality. The tenant's world is simulated
again, with the same random numbers (`sandbox.journeys` draws them all up front), for every
subset of its paid channels switched off. A channel's true credit for a stage (leads,
opportunities with their pipeline, closed-won revenue) on a day is its Shapley value over
those worlds; the world with every paid channel off is the baseline, so the credits plus
the baseline add up to what the factual world produced. The plain "switch this channel off"
loss is kept beside it.

The noise floor of that truth: credit is a sum over prospects of each prospect's own
Shapley value, so its Monte-Carlo standard error is the spread of those values times
√prospects. A model closer to the truth than that is not measurably better.

True response curves come the same way: from `CURVE_WINDOW_DAYS` before the end, one
channel's clicks are scaled by each of `CURVE_MULTIPLIERS` while the others stay as they
were; expected incremental leads and revenue per day against the zero-spend run, with the
carry-over after the window counted. A Hill curve over adstock is fitted to those points
for the closed loop (`sandbox.advance`) and the optimizer's oracle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy.optimize import curve_fit

from sandbox.journeys import CURVE_MULTIPLIERS, PAID, Audience, Outcome, Stages, stages_of

STAGES = ("lead", "opportunity", "closed_won")
BASELINE = "baseline"
CURVE_WINDOW_DAYS = 56


@dataclass(frozen=True)
class ChannelCredit:
    """Per stage and channel (paid channels and the baseline): conversions and value per day
    (Shapley), the switch-off loss per day (paid channels only), and the standard error of
    the whole world's credit."""

    credit: dict[tuple[str, str], np.ndarray]  # (stage, channel) -> (days, 2): count, value
    removal: dict[tuple[str, str], np.ndarray]
    standard_error: dict[tuple[str, str], tuple[float, float]]


@dataclass(frozen=True)
class ResponsePoint:
    channel: str
    multiplier: float
    daily_spend: float  # tenant currency
    incremental_leads: float  # per day
    incremental_revenue: float  # expected closed-won revenue per day, tenant currency


@dataclass(frozen=True)
class HillCurve:
    theta: float
    beta: float
    half_saturation: float
    shape: float


def _stage_events(stages: Stages) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per stage: (prospect, day, value) of every conversion inside the world."""
    opportunity = stages.opportunity
    won = stages.closed & stages.won
    return {
        "lead": (stages.prospect, stages.lead_day, np.zeros(len(stages.prospect))),
        "opportunity": (
            stages.prospect[opportunity],
            stages.opportunity_day[opportunity],
            stages.amount[opportunity],
        ),
        "closed_won": (stages.prospect[won], stages.close_day[won], stages.amount[won]),
    }


def _shapley_weight(size: int, players: int) -> float:
    return math.factorial(size) * math.factorial(players - size - 1) / math.factorial(players)


def channel_credit(audience: Audience, factual: Outcome) -> ChannelCredit:
    """Shapley credit and switch-off loss of every paid channel, per stage and day."""
    days, prospects = audience.days, len(audience.prospects)
    by_day: dict[frozenset[str], dict[str, np.ndarray]] = {}
    per_prospect: dict[frozenset[str], dict[str, np.ndarray]] = {}
    for size in range(len(PAID) + 1):
        for on in combinations(PAID, size):
            subset = frozenset(on)
            if subset == frozenset(PAID):
                outcome = factual
            else:
                outcome, _ = audience.simulate({c: 0.0 for c in PAID if c not in subset})
            by_day[subset], per_prospect[subset] = {}, {}
            for stage, (who, day, value) in _stage_events(stages_of(audience, outcome)).items():
                by_day[subset][stage] = np.column_stack(
                    [
                        np.bincount(day, minlength=days),
                        np.bincount(day, weights=value, minlength=days),
                    ]
                )
                mine = np.zeros((prospects, 2))
                mine[who, 0] = 1.0
                mine[who, 1] = value
                per_prospect[subset][stage] = mine
    everything, nothing = frozenset(PAID), frozenset()
    credit, removal, error = {}, {}, {}
    for stage in STAGES:
        credit[(stage, BASELINE)] = by_day[nothing][stage]
        error[(stage, BASELINE)] = _standard_error(per_prospect[nothing][stage])
        for channel in PAID:
            total = np.zeros((days, 2))
            own = np.zeros((prospects, 2))
            for subset in by_day:
                if channel in subset:
                    continue
                weight = _shapley_weight(len(subset), len(PAID))
                total += weight * (by_day[subset | {channel}][stage] - by_day[subset][stage])
                own += weight * (
                    per_prospect[subset | {channel}][stage] - per_prospect[subset][stage]
                )
            credit[(stage, channel)] = total
            removal[(stage, channel)] = (
                by_day[everything][stage] - by_day[everything - {channel}][stage]
            )
            error[(stage, channel)] = _standard_error(own)
    return ChannelCredit(credit, removal, error)


def _standard_error(values: np.ndarray) -> tuple[float, float]:
    """The standard error of a sum over prospects, per column."""
    spread = values.std(axis=0, ddof=1) * math.sqrt(len(values))
    return float(spread[0]), float(spread[1])


def response_curves(
    audience: Audience, factual: Outcome, spend: dict[str, np.ndarray]
) -> list[ResponsePoint]:
    """Each paid channel's incremental leads and expected revenue per day against its daily
    spend, over the last `CURVE_WINDOW_DAYS` (tenant currency). Expected, not drawn: from
    the window's start, touches accumulate hazard without converting anyone, and a prospect
    open at the start converts with probability 1 - exp(-hazard accumulated), so a curve
    carries none of the thresholds' Monte-Carlo noise. A lead is worth the window's mean
    expected won revenue per lead (propensity × deal value) in the factual world."""
    window = min(CURVE_WINDOW_DAYS, audience.days // 2)
    start = audience.days - window
    _, snapshot = audience.simulate(stop=start, snapshot_at=start)
    open_at_start = ~snapshot.converted
    stages = stages_of(audience, factual, until=audience.horizon)
    late = stages.lead_day >= start
    value_per_lead = float((stages.propensity * stages.amount)[late].mean()) if late.any() else 0.0

    def expected_leads(scale: dict[str, float]) -> float:
        outcome, _ = audience.simulate(
            scale, state=snapshot, start=start, scale_from=start, touch_conversions=False
        )
        gained = outcome.touch_hazard[open_at_start] - snapshot.touch_hazard[open_at_start]
        return float(-np.expm1(-gained).sum())

    as_is = expected_leads({})
    points = []
    for channel in PAID:
        mean_spend = float(np.mean(spend[channel][start:]))
        runs = {1.0: as_is} | {m: expected_leads({channel: m}) for m in CURVE_MULTIPLIERS}
        for multiplier in sorted(runs):
            leads = (runs[multiplier] - runs[0.0]) / window
            points.append(
                ResponsePoint(
                    channel, multiplier, multiplier * mean_spend, leads, leads * value_per_lead
                )
            )
    return points


def fit_hill(points: list[ResponsePoint], theta: float) -> HillCurve:
    """β·A^n / (K^n + A^n) over steady-state adstock A = spend / (1 - θ), least squares on
    the measured incremental leads."""
    adstock = np.array([p.daily_spend for p in points]) / (1 - theta)
    leads = np.array([p.incremental_leads for p in points])
    top = max(float(leads.max()), 1e-3)
    middle = max(float(np.median(adstock[adstock > 0])) if (adstock > 0).any() else 1.0, 1e-3)

    def hill(a, beta, k, n):
        return beta * a**n / (k**n + a**n)

    try:
        (beta, k, n), _ = curve_fit(
            hill,
            adstock,
            leads,
            p0=(top * 1.5, middle, 1.2),
            bounds=([1e-6, 1e-6, 0.5], [top * 50, middle * 100, 4.0]),
            maxfev=5000,
        )
    except RuntimeError:  # no fit converged: a straight line through the measured top
        beta, k, n = top * 2, middle * 2, 1.0
    return HillCurve(theta, float(beta), float(k), float(n))
