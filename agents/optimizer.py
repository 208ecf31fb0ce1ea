"""Budget allocation over response curves.

Hill curves with a shape above one are S-shaped, so greedy "next dollar to the best marginal
return" can stall below the knee of a channel that would pay off past it. We solve on a grid
by dynamic programming instead (exact on the grid for any curve shape) and polish the grid
answer with a bounded local search. The DP table also gives the best revenue at every total
budget, which is what a target ROAS / CPA needs: the largest total that still meets it.

Risk-averse mode scores a channel at mean - lambda * sd over its curve's bootstrap draws. The
sd of a sum is at most the sum of the sds, so the objective stays separable (and is a
conservative bound on the portfolio's own mean - lambda * sd).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from agents.curves import ResponseCurve

GRID_STEPS = 200


class AllocationError(ValueError):
    """The constraints cannot be met (bounds that do not add up to the total, bad values)."""


@dataclass(frozen=True)
class ChannelInput:
    """One budget line the optimizer may move: a channel (or campaign) with its curve."""

    key: str
    curve: ResponseCurve
    current: float  # today's daily budget
    min_budget: float = 0.0
    max_budget: float = float("inf")
    value_per_response: float = 1.0  # revenue per unit of response (1 when fitted on revenue)
    unit: float = 0.01  # budget granularity on the platform (cents for Meta and LinkedIn)


@dataclass(frozen=True)
class OptimizerSettings:
    max_change: float = 0.25  # relative change of one line per cycle
    risk_aversion: float = 0.0  # lambda in mean - lambda * sd
    target_roas: float | None = None  # spend only while revenue / spend stays above this
    target_cpa: float | None = None  # with curves fitted on conversions: spend / response
    grid_steps: int = GRID_STEPS


@dataclass(frozen=True)
class LineResult:
    key: str
    current: float
    proposed: float
    expected_current: float  # response value per day at the current budget
    expected_proposed: float
    sd_proposed: float
    marginal_roas: float  # value of the next unit of spend at the proposed budget
    marginal_roas_current: float


@dataclass
class Allocation:
    lines: list[LineResult]
    total_current: float
    total_proposed: float
    expected_current: float
    expected_proposed: float
    notes: list[str] = field(default_factory=list)

    @property
    def expected_change(self) -> float:
        return self.expected_proposed - self.expected_current

    def by_key(self) -> dict[str, LineResult]:
        return {line.key: line for line in self.lines}


def _bounds(line: ChannelInput, settings: OptimizerSettings) -> tuple[float, float]:
    low = max(line.min_budget, line.current * (1.0 - settings.max_change))
    high = min(line.max_budget, line.current * (1.0 + settings.max_change))
    if line.current == 0:
        high = min(line.max_budget, line.min_budget)
    if low > high:
        raise AllocationError(
            f"{line.key}: the minimum {line.min_budget:.2f} is above what one cycle may reach "
            f"from {line.current:.2f} (max change {settings.max_change:.0%})"
        )
    return low, high


def _scores(
    line: ChannelInput, spend: np.ndarray, risk_aversion: float
) -> tuple[np.ndarray, np.ndarray]:
    """Score (mean - lambda * sd) and sd of the line's value at each spend."""
    draws = line.curve.steady_response_draws(spend) * line.value_per_response
    point = line.curve.params.steady_response(spend) * line.value_per_response
    sd = draws.std(axis=0) if len(draws) > 1 else np.zeros_like(point)
    return point - risk_aversion * sd, sd


def optimize(
    lines: Sequence[ChannelInput],
    total_budget: float | None = None,
    settings: OptimizerSettings | None = None,
) -> Allocation:
    """Split `total_budget` (default: today's total) across `lines` to maximise expected
    value, within each line's bounds and the per-cycle change limit; with a target ROAS or
    CPA, the total may end lower, at the largest spend that still meets the target."""
    settings = settings or OptimizerSettings()
    if not lines:
        raise AllocationError("nothing to allocate: no budget lines")
    if len({line.key for line in lines}) != len(lines):
        raise AllocationError("budget lines must have distinct keys")
    for line in lines:
        if not np.isfinite(line.current) or line.current < 0:
            raise AllocationError(f"{line.key}: current budget {line.current!r} is not valid")
    total_current = float(sum(line.current for line in lines))
    total = total_current if total_budget is None else float(total_budget)
    if not np.isfinite(total) or total < 0:
        raise AllocationError(f"total budget {total_budget!r} is not valid")
    bounds = [_bounds(line, settings) for line in lines]
    low_sum = sum(b[0] for b in bounds)
    high_sum = sum(b[1] for b in bounds)
    targeting = settings.target_roas is not None or settings.target_cpa is not None
    if total < low_sum - 1e-9 or (total > high_sum + 1e-9 and not targeting):
        raise AllocationError(
            f"total {total:.2f} is outside what the bounds allow this cycle "
            f"[{low_sum:.2f}, {high_sum:.2f}]"
        )
    total = min(total, high_sum)

    # The grid: each line gets `steps` + 1 points between its bounds, all lines sharing the
    # step size, so a DP over "units of spend above the minimum" is exact on the grid.
    free = total - low_sum
    steps = settings.grid_steps
    step = free / steps if free > 0 else 0.0
    tables, sds, grids = [], [], []
    for line, (low, high) in zip(lines, bounds, strict=True):
        count = int(np.floor((high - low) / step + 1e-9)) if step > 0 else 0
        count = min(count, steps)
        grid = low + step * np.arange(count + 1)
        score, sd = _scores(line, grid, settings.risk_aversion)
        tables.append(score)
        sds.append(sd)
        grids.append(grid)
    best, choice = _dynamic_program(tables, steps)
    used = _pick_total(best, settings, low_sum, step, tables, steps)
    units = _backtrack(choice, used, len(lines))
    proposed = np.array([grids[i][u] for i, u in enumerate(units)])
    proposed = _polish(lines, proposed, bounds, settings)
    proposed = _round_to_units(lines, proposed, bounds)

    results, notes = [], []
    for line, budget in zip(lines, proposed, strict=True):
        value_now = float(line.curve.params.steady_response(line.current)) * line.value_per_response
        value_new = float(line.curve.params.steady_response(budget)) * line.value_per_response
        _, sd = _scores(line, np.array([budget]), 0.0)
        results.append(
            LineResult(
                key=line.key,
                current=line.current,
                proposed=float(budget),
                expected_current=value_now,
                expected_proposed=value_new,
                sd_proposed=float(sd[0]),
                marginal_roas=line.curve.params.marginal_response(float(budget))
                * line.value_per_response,
                marginal_roas_current=line.curve.params.marginal_response(line.current)
                * line.value_per_response,
            )
        )
    if targeting:
        value = sum(r.expected_proposed for r in results)
        ratio = value / proposed.sum() if proposed.sum() > 0 else 0.0
        wanted = (
            settings.target_roas if settings.target_roas is not None else 1 / settings.target_cpa
        )
        if ratio < wanted - 1e-9:
            notes.append(
                f"the target cannot be met within this cycle's bounds; the best ratio is "
                f"{ratio:.3f} at a total of {proposed.sum():.2f}"
            )
        elif proposed.sum() < total - 1e-6:
            notes.append(
                f"target met at a total of {proposed.sum():.2f} instead of {total:.2f}: more "
                "spend would fall below it"
            )
    return Allocation(
        lines=results,
        total_current=total_current,
        total_proposed=float(proposed.sum()),
        expected_current=sum(r.expected_current for r in results),
        expected_proposed=sum(r.expected_proposed for r in results),
        notes=notes,
    )


def _dynamic_program(tables: list[np.ndarray], steps: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """best[u] = the best total score using exactly u grid units above the minimums."""
    best = np.full(steps + 1, -np.inf)
    best[: len(tables[0])] = tables[0]
    choices = [np.arange(steps + 1)]
    for table in tables[1:]:
        # candidate[u, k] = best[u - k] + table[k]
        u = np.arange(steps + 1)[:, None]
        k = np.arange(len(table))[None, :]
        previous = np.where(u - k >= 0, best[np.clip(u - k, 0, steps)], -np.inf)
        candidate = previous + table[None, :]
        pick = np.argmax(candidate, axis=1)
        best = candidate[np.arange(steps + 1), pick]
        choices.append(pick)
    return best, choices


def _pick_total(
    best: np.ndarray,
    settings: OptimizerSettings,
    low_sum: float,
    step: float,
    tables: list[np.ndarray],
    steps: int,
) -> int:
    if settings.target_roas is None and settings.target_cpa is None:
        return steps
    spend = low_sum + step * np.arange(steps + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spend > 0, best / spend, np.inf)
    threshold = (
        settings.target_roas if settings.target_roas is not None else 1.0 / settings.target_cpa
    )
    meeting = np.flatnonzero(np.isfinite(best) & (ratio >= threshold))
    if len(meeting):
        return int(meeting.max())
    # Unreachable target: the total with the best ratio (the caller notes the miss).
    return int(np.nanargmax(np.where(np.isfinite(best) & (spend > 0), ratio, -np.inf)))


def _backtrack(choices: list[np.ndarray], used: int, count: int) -> list[int]:
    units = [0] * count
    remaining = used
    for i in range(count - 1, 0, -1):
        units[i] = int(choices[i][remaining])
        remaining -= units[i]
    units[0] = remaining
    return units


def _polish(
    lines: Sequence[ChannelInput],
    proposed: np.ndarray,
    bounds: list[tuple[float, float]],
    settings: OptimizerSettings,
) -> np.ndarray:
    """Pairwise moves of shrinking size that raise the score at the same total: recovers
    what the grid's step size left on the table."""
    proposed = proposed.copy()
    lows = np.array([b[0] for b in bounds])
    highs = np.array([b[1] for b in bounds])

    def score(i: int, x: float) -> float:
        return float(_scores(lines[i], np.array([x]), settings.risk_aversion)[0][0])

    total = proposed.sum()
    delta = total / (4 * settings.grid_steps) if total > 0 else 0.0
    for _ in range(8):
        improved = True
        while improved and delta > 0:
            improved = False
            for i in range(len(lines)):
                for j in range(len(lines)):
                    if i == j:
                        continue
                    move = min(delta, proposed[j] - lows[j], highs[i] - proposed[i])
                    if move <= 1e-12:
                        continue
                    gain = (
                        score(i, proposed[i] + move)
                        - score(i, proposed[i])
                        + score(j, proposed[j] - move)
                        - score(j, proposed[j])
                    )
                    if gain > 1e-12:
                        proposed[i] += move
                        proposed[j] -= move
                        improved = True
        delta /= 4
    return proposed


def _round_to_units(
    lines: Sequence[ChannelInput], proposed: np.ndarray, bounds: list[tuple[float, float]]
) -> np.ndarray:
    """Budgets in each platform's unit, the total kept: floor each, then hand the remainder
    out a unit at a time to the lines with the largest rounding loss (inside their bounds)."""
    units = np.array([line.unit for line in lines])
    floored = np.floor(proposed / units + 1e-9) * units
    floored = np.maximum(floored, np.ceil(np.array([b[0] for b in bounds]) / units - 1e-9) * units)
    remainder = proposed.sum() - floored.sum()
    order = np.argsort(-(proposed - floored))
    for i in order:
        if remainder + 1e-9 < units[i]:
            continue
        if floored[i] + units[i] <= bounds[i][1] + 1e-9:
            floored[i] += units[i]
            remainder -= units[i]
    return np.round(floored, 6)


def evaluate(curves: Mapping[str, ResponseCurve], budgets: Mapping[str, float]) -> float:
    """Expected steady-state response of a budget split under the curves' point estimates."""
    return float(sum(curves[k].params.steady_response(v) for k, v in budgets.items()))
