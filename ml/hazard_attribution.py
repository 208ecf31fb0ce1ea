"""Additive-hazard multi-touch attribution: a time-to-event model of conversion.

After Zhang, Wei & Ren (2014), "A Survival Model for Multi-Touch Attribution", in discrete
time. Every visitor, converting or not, is at risk of converting on each day from their
first touch until they convert or stop being observed (`FOLLOW_DAYS` after their last
touch). The hazard of converting on day t is additive:

    h(t) = λ0 + Σ_c β_c · a_c(t),   a_c(t) = Σ_{touches j of channel c, day_j ≤ t} δ^(t - day_j)

a baseline plus each channel's adstock of past touches, with a decay δ shared by the
channels (chosen by likelihood from `HALF_LIVES`) and β ≥ 0. P(convert on t) =
1 - exp(-h(t)); the parameters maximise the likelihood of the observed conversion days over
all visitors (non-converters sampled and weighted, as case-control designs do).

The session in which a conversion happens is the conversion itself, not a touch that
caused it: it is left out of the adstock, since a visit made to fill a form would
otherwise look like the strongest cause of every conversion (unless an ad click brought
it: see `additive_hazard_shares`). For the same reason a visitor
whose first session is the converting one is not in the fit: they entered the data by
converting, and were never observed at risk.

Credit: on the conversion day, channel c's share of the hazard is β_c · a_c / h, and the
baseline's share λ0 / h goes to the converting session (what brought the person that day).
Because the hazard is additive, these shares are also each channel's Shapley value of the
conversion probability's log-survival. Shares are averaged per converting channel set, as
`ml.attribution`'s models return them, so SQL hands them to the touches of each path.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import minimize

FOLLOW_DAYS = 14  # a visitor stays at risk this long after their last touch
HALF_LIVES = (1.0, 4.0, 16.0)  # days: each channel's decay is a mix of these
LOOKBACK_DAYS = 30  # touches older than this before a conversion are not on its path

Shares = dict[frozenset[str], dict[str, float]]


@dataclass(frozen=True)
class HazardFit:
    channels: list[str]
    baseline: float  # λ0, per day
    effects: dict[str, dict[float, float]]  # channel -> half-life -> β
    log_likelihood: float


def _design(
    touches: pl.DataFrame, channels: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Visitor-day rows: each channel's saturated adstock at each half-life (columns half-life
    major), converted that day, weight, and the rows and visitors of the conversions."""
    visitors = touches.group_by("visitor").agg(
        first=pl.col("day").filter(~pl.col("outcome_session")).min(),
        last=pl.col("day").filter(~pl.col("outcome_session")).max(),
        converted_day=pl.col("converted_day").first(),
        weight=pl.col("weight").first(),
        data_end=pl.col("data_end").first(),
    )
    # A visitor enters the risk set at their first touch. One whose first session is the
    # converting one was never seen at risk (the visit was made to convert): nothing to fit.
    visitors = (
        visitors.filter(pl.col("first").is_not_null())
        .with_columns(
            start=pl.coalesce(
                pl.max_horizontal(pl.col("first"), pl.col("converted_day") - LOOKBACK_DAYS + 1),
                pl.col("first"),
            ),
            stop=pl.coalesce(
                pl.col("converted_day"),
                pl.min_horizontal(pl.col("last") + FOLLOW_DAYS, pl.col("data_end")),
            ),
        )
        .filter(pl.col("stop") >= pl.col("start"))
    )
    visitors = visitors.sort("visitor").with_columns(
        length=(pl.col("stop") - pl.col("start") + 1).cast(pl.Int64)
    )
    offsets = np.concatenate([[0], np.cumsum(visitors["length"].to_numpy())])
    rows = int(offsets[-1])
    position = {v: i for i, v in enumerate(visitors["visitor"].to_list())}
    start = visitors["start"].to_numpy()
    causes = touches.filter(~pl.col("outcome_session"))
    index = np.array([position.get(v, -1) for v in causes["visitor"].to_list()], dtype=np.int64)
    keep = index >= 0
    index = index[keep]
    relative = causes["day"].to_numpy()[keep] - start[index]
    inside = (relative >= 0) & (relative < visitors["length"].to_numpy()[index])
    index, relative = index[inside], relative[inside]
    channel_of = {c: i for i, c in enumerate(channels)}
    channel = np.array([channel_of[c] for c in causes["channel"].to_numpy()[keep][inside]])
    counts = np.zeros((rows, len(channels)))
    np.add.at(counts, (offsets[index] + relative, channel), 1.0)
    lengths = visitors["length"].to_numpy()
    r = np.arange(rows) - np.repeat(offsets[:-1], lengths)
    features = []
    for half_life in HALF_LIVES:
        decay = 0.5 ** (1 / half_life)
        # a(t) = δ^r · cumsum(n · δ^-r) within each visitor, r = days since its start.
        scaled = np.cumsum(counts * decay ** (-r)[:, None], axis=0)
        first_rows = np.vstack([np.zeros(len(channels)), scaled[offsets[1:-1] - 1]])
        adstock = (scaled - np.repeat(first_rows, lengths, axis=0)) * decay ** r[:, None]
        features.append(-np.expm1(-adstock))  # each further touch adds less
    design = np.hstack(features)
    converted = visitors["converted_day"].is_not_null().to_numpy()
    y = np.zeros(rows)
    conversion_rows = offsets[1:][converted] - 1
    y[conversion_rows] = 1.0
    w = np.repeat(visitors["weight"].to_numpy(), visitors["length"].to_numpy())
    order = np.flatnonzero(converted)
    return design, y, w, (conversion_rows, visitors["visitor"].to_numpy()[order])


def _negative_log_likelihood(params, x, y, w):
    hazard = params[0] + x @ params[1:]
    hazard = np.maximum(hazard, 1e-12)
    event = y > 0
    p = -np.expm1(-hazard[event])
    value = np.sum(w[~event] * hazard[~event]) - np.sum(w[event] * np.log(p))
    d_hazard = np.where(event, -np.exp(-hazard) / np.maximum(-np.expm1(-hazard), 1e-300), 1.0) * w
    gradient = np.concatenate([[d_hazard.sum()], x.T @ d_hazard])
    return value, gradient


def hazard_fit(touches: pl.DataFrame) -> tuple[HazardFit, np.ndarray, np.ndarray, np.ndarray]:
    """Fit λ0 and β ≥ 0 on `touches` (visitor, channel, day, converting, converted_day,
    weight, data_end); also returns each conversion's per-channel hazard components, the
    converting visitors and the fitted parameters."""
    channels = sorted(touches["channel"].unique().to_list())
    x, y, w, (conversion_rows, converters) = _design(touches, channels)
    rate = float((y * w).sum() / w.sum())
    # A channel with no touch in the fit (one only ever seen converting) has no effect.
    start = np.where(x.any(axis=0), rate, 0.0)
    result = minimize(
        _negative_log_likelihood,
        np.concatenate([[rate], start]),
        args=(x, y, w),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-9, None)] + [(0.0, None)] * x.shape[1],
    )
    params = result.x
    bases = len(HALF_LIVES)
    # A channel's component is the sum over its half-life bases.
    per_basis = x[conversion_rows] * params[1:]
    components = per_basis.reshape(len(conversion_rows), bases, len(channels)).sum(axis=1)
    effects = params[1:].reshape(bases, len(channels))
    fit = HazardFit(
        channels,
        float(params[0]),
        {
            c: dict(zip(HALF_LIVES, map(float, effects[:, i]), strict=True))
            for i, c in enumerate(channels)
        },
        -float(result.fun),
    )
    return fit, components, converters, params


def additive_hazard_shares(
    touches: pl.DataFrame,
    ad_channels: Collection[str],
    stages: Mapping[str, Collection[str]],
) -> tuple[HazardFit, dict[str, Shares]]:
    """Fit the model on `touches` (visitor, channel, day, converting: the conversion's own
    session, converted_day, weight, data_end) and return, per stage, each converting channel
    set's mean split of its conversions' hazard; `stages` names the converting visitors who
    reached each stage. A converting session an ad click brought (`ad_channels`) stays a
    touch: a click on an ad is exposure the advertiser bought, a visit typed in or searched
    for to fill the form is not."""
    touches = touches.with_columns(
        outcome_session=pl.col("converting") & ~pl.col("channel").is_in(list(ad_channels))
    )
    fit, components, converters, params = hazard_fit(touches)
    total = params[0] + components.sum(axis=1)
    shares = components / total[:, None]
    base = params[0] / total
    paths = (
        touches.filter(pl.col("converted_day").is_not_null())
        .group_by("visitor")
        .agg(
            channel_set=pl.col("channel").unique().sort(),
            converting_channel=pl.col("channel").filter(pl.col("converting")).first(),
        )
    )
    by_visitor = {
        v: (frozenset(s), c)
        for v, s, c in paths.select("visitor", "channel_set", "converting_channel").iter_rows()
    }
    # Visitors not in the fit (their first session converted) are all baseline.
    in_fit = dict(zip(converters.tolist(), range(len(converters)), strict=True))
    result: dict[str, Shares] = {}
    for stage, visitors in stages.items():
        sums: dict[frozenset[str], dict[str, float]] = {}
        for visitor in visitors:
            if visitor not in by_visitor:
                continue
            channel_set, converting = by_visitor[visitor]
            split = sums.setdefault(channel_set, dict.fromkeys(channel_set, 0.0))
            owner = converting if converting in split else min(split)
            row = in_fit.get(visitor)
            if row is None:
                split[owner] += 1.0
                continue
            for index, channel in enumerate(fit.channels):
                if shares[row, index] > 0 and channel in split:
                    split[channel] += shares[row, index]
            split[owner] += base[row]
        result[stage] = {
            channel_set: {c: v / sum(split.values()) for c, v in split.items()}
            for channel_set, split in sums.items()
        }
    return fit, result
