"""Data-driven attribution over channel paths: Markov removal effects and Shapley values.

Both models learn from converting *and* non-converting paths, aggregated as
``PathCounts``: a path (channels in time order) → (conversions, non-conversions). Both
return, for every channel set seen on a converting path, each channel's share of one
conversion (shares sum to 1 per set), so that SQL can hand each conversion's credit to the
touches of its path: ``channel_set_shares(...)[frozenset(path)][channel]``.

* Markov (first order): a chain over start → channels → {conversion, null}, with transition
  probabilities counted from the paths. The conversion probability from start is solved
  exactly as an absorbing chain (a linear system, no simulation). A channel's removal effect
  is the relative drop in that probability when the channel is removed (its visits go to
  null). A path's credit is split across its channels in proportion to their effects.
* Shapley: the players of a converting path are its channels; the value of a coalition S is
  the conversion rate of paths whose channel set is exactly S (0 if never seen). Shapley
  values are computed exactly over all coalitions (2^n; refused above 12 channels), negative
  values clipped, and normalised per path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations, pairwise

import numpy as np

MAX_SHAPLEY_CHANNELS = 12
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"

Path = tuple[str, ...]
PathCounts = Mapping[Path, tuple[float, float]]  # path -> (conversions, non-conversions)
Shares = dict[frozenset[str], dict[str, float]]


def markov_removal_effects(paths: PathCounts) -> dict[str, float]:
    """Each channel's removal effect: 1 - P(convert | channel removed) / P(convert)."""
    channels = sorted({channel for path in paths for channel in path})
    chain = _TransitionMatrix(paths, channels)
    base = chain.conversion_probability(removed=None)
    if base <= 0:
        return dict.fromkeys(channels, 0.0)
    return {c: 1 - chain.conversion_probability(removed=c) / base for c in channels}


class _TransitionMatrix:
    """First-order transition probabilities among start and the channels (the transient
    states), and from each into conversion; the rest of each row goes to null. Counted once;
    every removal is a cheap edit of a copy."""

    def __init__(self, paths: PathCounts, channels: list[str]) -> None:
        transient = [START, *channels]
        self.index = {state: i for i, state in enumerate(transient)}
        size = len(transient)
        counts = np.zeros((size, size))
        to_conversion = np.zeros(size)
        leaving = np.zeros(size)
        for path, (converted, not_converted) in paths.items():
            total = converted + not_converted
            if not path or total <= 0:
                continue
            states = [self.index[START], *(self.index[c] for c in path)]
            for here, there in pairwise(states):
                counts[here, there] += total
                leaving[here] += total
            to_conversion[states[-1]] += converted
            leaving[states[-1]] += total  # to conversion or to null
        with np.errstate(invalid="ignore", divide="ignore"):
            self.q = np.where(leaving[:, None] > 0, counts / leaving[:, None], 0.0)
            self.r = np.where(leaving > 0, to_conversion / leaving, 0.0)

    def conversion_probability(self, removed: str | None) -> float:
        q, r = self.q, self.r
        if removed is not None:
            # Removing a channel sends everyone who reaches it to null.
            q, r = q.copy(), r.copy()
            q[self.index[removed], :] = 0.0
            r[self.index[removed]] = 0.0
        absorbed = np.linalg.solve(np.eye(len(r)) - q, r)
        return float(absorbed[self.index[START]])


def markov_shares(paths: PathCounts) -> Shares:
    effects = markov_removal_effects(paths)
    return _shares_per_set(paths, lambda channels: {c: effects.get(c, 0.0) for c in channels})


def shapley_values(
    channels: Iterable[str], value: Mapping[frozenset[str], float]
) -> dict[str, float]:
    """Exact Shapley values of `channels` for the coalition function `value` (missing
    coalitions are worth 0)."""
    players = sorted(set(channels))
    n = len(players)
    if n > MAX_SHAPLEY_CHANNELS:
        raise ValueError(
            f"exact Shapley values need 2^n coalitions; {n} channels is more than "
            f"{MAX_SHAPLEY_CHANNELS} (group rare channels first)"
        )
    weight = [math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n) for k in range(n)]
    result = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            for coalition in combinations(others, size):
                without = frozenset(coalition)
                total += weight[size] * (
                    value.get(without | {player}, 0.0) - value.get(without, 0.0)
                )
        result[player] = total
    return result


def shapley_shares(paths: PathCounts) -> Shares:
    converted: dict[frozenset[str], float] = defaultdict(float)
    seen: dict[frozenset[str], float] = defaultdict(float)
    for path, (conversions, non_conversions) in paths.items():
        converted[frozenset(path)] += conversions
        seen[frozenset(path)] += conversions + non_conversions
    rate = {channels: converted[channels] / n for channels, n in seen.items() if n > 0}
    return _shares_per_set(paths, lambda channels: shapley_values(channels, rate))


def _shares_per_set(paths: PathCounts, scores_of) -> Shares:
    """Normalise each converting channel set's (clipped) scores to shares summing to 1;
    a set whose scores are all zero splits evenly, so no conversion is ever lost."""
    shares: Shares = {}
    for path, (conversions, _) in paths.items():
        channels = frozenset(path)
        if conversions <= 0 or not channels or channels in shares:
            continue
        scores = {c: max(score, 0.0) for c, score in scores_of(channels).items()}
        total = sum(scores.values())
        shares[channels] = (
            {c: s / total for c, s in scores.items()}
            if total > 0
            else dict.fromkeys(channels, 1 / len(channels))
        )
    return shares


DATA_DRIVEN_MODELS = {"markov": markov_shares, "shapley": shapley_shares}
