"""Data-driven attribution over channel paths: Markov removal effects and Shapley values.

Both models learn from converting *and* non-converting paths, aggregated as
``PathCounts``: a path (channels in time order) → (conversions, non-conversions). Both
return, for every channel set seen on a converting path, each channel's share of one
conversion (shares sum to 1 per set), so that SQL can hand each conversion's credit to the
touches of its path: ``channel_set_shares(...)[frozenset(path)][channel]``.

* Markov (first order, the standard of Anderl et al. 2016 and the ChannelAttribution
  package): a chain over start → channels → {conversion, null}, with transition
  probabilities counted from the paths (vectorised with polars). The conversion
  probability from start is solved exactly as an absorbing chain (a linear system, no
  simulation). A channel's removal effect RE_c is the relative drop in that probability
  when the channel is removed (its visits go to null), and its total credit is
  ``conversions × RE_c / Σ RE``. To hand that credit to touches, each converting channel
  set splits its conversions in proportion to channel weights w_c (a channel's share of a
  set is w_c / Σ_{c' in set} w_c'), and the weights are raked (iterative proportional
  fitting) until every channel's credit over all sets equals its total. So credits still
  sum to exactly 1 per conversion and go only to channels on the path. When no such
  weights exist (a channel's total is below what its single-channel paths alone must give
  it), raking converges to the nearest split and `markov_fit` reports the gap.
* Shapley: the players of a converting path are its channels; the value of a coalition S is
  the conversion rate of paths whose channel set is exactly S (0 if never seen). Shapley
  values are computed exactly over all coalitions (2^n; refused above 12 channels), negative
  values clipped, and normalised per path.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import polars as pl

MAX_SHAPLEY_CHANNELS = 12
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"

Path = tuple[str, ...]
PathCounts = Mapping[Path, tuple[float, float]]  # path -> (conversions, non-conversions)
Shares = dict[frozenset[str], dict[str, float]]


def path_frame(paths: PathCounts) -> pl.DataFrame:
    """Paths as a frame: path (list of channels), conversions, non_conversions."""
    return pl.DataFrame(
        {
            "path": [list(path) for path in paths],
            "conversions": [float(counts[0]) for counts in paths.values()],
            "non_conversions": [float(counts[1]) for counts in paths.values()],
        },
        schema={
            "path": pl.List(pl.String),
            "conversions": pl.Float64,
            "non_conversions": pl.Float64,
        },
    )


def markov_removal_effects(paths: PathCounts | pl.DataFrame) -> dict[str, float]:
    """Each channel's removal effect: 1 - P(convert | channel removed) / P(convert)."""
    frame = paths if isinstance(paths, pl.DataFrame) else path_frame(paths)
    chain = _TransitionMatrix(frame)
    base = chain.conversion_probability(removed=None)
    if base <= 0:
        return dict.fromkeys(chain.channels, 0.0)
    return {c: 1 - chain.conversion_probability(removed=c) / base for c in chain.channels}


class _TransitionMatrix:
    """First-order transition probabilities among start and the channels (the transient
    states), and from each into conversion; the rest of each row goes to null. Counted once,
    vectorised; every removal is a cheap edit of a copy."""

    def __init__(self, paths: pl.DataFrame) -> None:
        paths = paths.filter(
            (pl.col("path").list.len() > 0)
            & (pl.col("conversions") + pl.col("non_conversions") > 0)
        )
        self.channels = sorted(paths["path"].explode().unique().drop_nulls().to_list())
        self.index = {START: 0, **{c: i + 1 for i, c in enumerate(self.channels)}}
        size = len(self.index)
        # States as the physical codes of an Enum whose first member is start; the exploded
        # rows of one path are contiguous, so the next state is the next row of the same path.
        states = pl.Enum([START, *self.channels])
        steps = (
            paths.with_row_index("path_id")
            .select(
                "path_id",
                "conversions",
                total=pl.col("conversions") + pl.col("non_conversions"),
                state=pl.concat_list(pl.lit([START]), pl.col("path")).cast(pl.List(states)),
            )
            .explode("state")
            .with_columns(pl.col("state").to_physical().cast(pl.Int64))
            .with_columns(
                following=pl.when(pl.col("path_id").shift(-1) == pl.col("path_id")).then(
                    pl.col("state").shift(-1)
                )
            )
        )
        moves = steps.filter(pl.col("following").is_not_null())
        ends = steps.filter(pl.col("following").is_null())
        pair = moves["state"].to_numpy() * size + moves["following"].to_numpy()
        counts = np.bincount(pair, weights=moves["total"].to_numpy(), minlength=size * size)
        counts = counts.reshape(size, size)
        to_conversion = np.bincount(
            ends["state"].to_numpy(), weights=ends["conversions"].to_numpy(), minlength=size
        )
        # Every visit leaves its state once: to the next state, to conversion or to null.
        leaving = np.bincount(
            steps["state"].to_numpy(), weights=steps["total"].to_numpy(), minlength=size
        )
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


@dataclass(frozen=True)
class MarkovFit:
    """The standard Markov attribution of one set of paths."""

    removal_effects: dict[str, float]
    totals: dict[str, float]  # conversions × RE_c / Σ RE
    shares: Shares  # per converting channel set, raked to the totals
    gap: float  # Σ |credited - total| / conversions after raking (0 when consistent)


def markov_fit(paths: PathCounts | pl.DataFrame) -> MarkovFit:
    frame = paths if isinstance(paths, pl.DataFrame) else path_frame(paths)
    effects = markov_removal_effects(frame)
    positive = {c: max(e, 0.0) for c, e in effects.items()}
    conversions = float(frame["conversions"].sum())
    total_effect = sum(positive.values())
    totals = {
        c: conversions * e / total_effect if total_effect > 0 else 0.0 for c, e in positive.items()
    }
    sets = _converting_sets(frame)
    shares, gap = _rake(sets, totals)
    return MarkovFit(effects, totals, shares, gap / conversions if conversions else 0.0)


def markov_shares(paths: PathCounts | pl.DataFrame) -> Shares:
    return markov_fit(paths).shares


def _converting_sets(frame: pl.DataFrame) -> dict[frozenset[str], float]:
    """Conversions per channel set, the set as a bit mask of its channels (grouping by the
    mask is much faster than by a list of names)."""
    converting = frame.filter((pl.col("conversions") > 0) & (pl.col("path").list.len() > 0))
    channels = sorted(converting["path"].explode().unique().drop_nulls().to_list())
    if not channels:
        return {}
    grouped = (
        converting.with_row_index("row")
        .explode("path")
        .with_columns(
            bit=pl.lit(2, pl.Int64).pow(
                pl.col("path").cast(pl.Enum(channels)).to_physical().cast(pl.Int64)
            )
        )
        .group_by("row")
        .agg(mask=pl.col("bit").unique().sum(), conversions=pl.col("conversions").first())
        .group_by("mask")
        .agg(pl.col("conversions").sum())
    )
    return {
        frozenset(c for i, c in enumerate(channels) if mask >> i & 1): conversions
        for mask, conversions in grouped.iter_rows()
    }


def _rake(
    sets: dict[frozenset[str], float],
    totals: dict[str, float],
    iterations: int = 2000,
    tolerance: float = 1e-10,
) -> tuple[Shares, float]:
    """Channel weights whose per-set split gives every channel its total (iterative
    proportional fitting); returns the shares and the remaining absolute gap."""
    if not sets:
        return {}, 0.0
    channels = sorted({c for channel_set in sets for c in channel_set} | set(totals))
    column = {c: i for i, c in enumerate(channels)}
    member = np.zeros((len(sets), len(channels)))
    for row, channel_set in enumerate(sets):
        member[row, [column[c] for c in channel_set]] = 1.0
    conversions = np.array(list(sets.values()))
    target = np.array([totals.get(c, 0.0) for c in channels])
    weight = np.where(target > 0, 1.0, 1e-12)
    for _ in range(iterations):
        split = member * weight
        split /= split.sum(axis=1, keepdims=True)
        credited = conversions @ split
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(credited > 0, target / credited, 1.0)
        weight = np.maximum(weight * ratio, 1e-300)
        weight /= weight.max()
        if np.abs(credited - target).max() <= tolerance * max(conversions.sum(), 1.0):
            break
    split = member * weight
    split /= split.sum(axis=1, keepdims=True)
    gap = float(np.abs(conversions @ split - target).sum())
    shares = {
        channel_set: {c: float(split[row, column[c]]) for c in channel_set}
        for row, channel_set in enumerate(sets)
    }
    return shares, gap


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
