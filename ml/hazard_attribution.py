"""Additive-hazard multi-touch attribution: a time-to-event model of conversion.

After Zhang, Wei & Ren (2014), "A Survival Model for Multi-Touch Attribution", in discrete
time. Every visitor, converting or not, is at risk of converting on each day from their
first touch until they convert or stop being observed (`FOLLOW_DAYS` after their last
touch). The hazard of converting on day t is additive:

    h(t) = λ0 + Σ_c Σ_k β_ck · (1 - exp(-a_ck(t))),
    a_ck(t) = Σ_{touches j of channel c, day_j ≤ t} δ_k^(t - day_j)

a baseline plus each channel's adstock of its touches at a few half-lives (`HALF_LIVES`:
the channel's decay is whatever mix of them fits best), saturating (each further touch adds
less), with β ≥ 0. P(convert on t) = 1 - exp(-h(t)); the parameters maximise the
likelihood of the observed conversion days over all visitors (non-converters sampled and
weighted, as case-control designs do).

The session in which a conversion happens is the conversion itself, not a touch that caused
it: it is left out of the adstock, since a visit made to fill a form would otherwise look
like the strongest cause of every conversion, unless an ad click brought it (a click on an
ad is exposure the advertiser bought; a visit typed in or searched for to fill the form is
not). For the same reason a visitor whose first session is the converting one is not in the
fit: they entered the data by converting, and were never observed at risk.

Ads also bring unpaid visits (a brand search or a direct visit days after a click), and
those visits carry hazard of their own. A second model, additive Poisson, fits each
visitor's daily unpaid visits as `μ0 + Σ γ · (saturated adstock of the paid touches before
that day)`; the share of a visitor's recent unpaid visits it attributes to each ad channel
moves that share of the unpaid channels' hazard to the ad channel (mediation: the ad's
effect through the visits it caused).

Credit: on the conversion day, each channel's share of the hazard, after mediation; the
baseline's share λ0 / h goes to the converting session (what brought the person that day).
Because the hazard is additive, these shares are also each channel's Shapley value of the
day's log-survival. Shares are averaged per converting channel set, as `ml.attribution`'s
models return them, so SQL hands them to the touches of each path.
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
MEDIATION_HALF_LIFE = 4.0  # days: how recent unpaid visits weigh in their mediated share

Shares = dict[frozenset[str], dict[str, float]]


@dataclass(frozen=True)
class HazardFit:
    channels: list[str]
    baseline: float  # λ0, per day
    effects: dict[str, dict[float, float]]  # channel -> half-life -> β
    # ad channel -> unpaid visits per day at a saturated adstock, summed over half-lives
    visit_effects: dict[str, float]


@dataclass(frozen=True)
class _Rows:
    """Visitor-day rows, visitor by visitor, each visitor's days contiguous."""

    counts: np.ndarray  # (rows, channels): touches that day (outcome sessions left out)
    offsets: np.ndarray  # first row of each visitor, and the end
    lengths: np.ndarray
    converted: np.ndarray  # (rows,) 1 on a conversion day
    weight: np.ndarray  # (rows,)
    conversion_rows: np.ndarray
    converters: np.ndarray  # visitor ids, in the order of conversion_rows

    def adstock(self, counts: np.ndarray, half_life: float) -> np.ndarray:
        """Σ_{days d ≤ t of the visitor} counts(d) · δ^(t - d), row by row."""
        decay = 0.5 ** (1 / half_life)
        r = np.arange(len(counts)) - np.repeat(self.offsets[:-1], self.lengths)
        scaled = np.cumsum(counts * decay ** (-r)[:, None], axis=0)
        before = np.vstack([np.zeros(counts.shape[1]), scaled[self.offsets[1:-1] - 1]])
        return (scaled - np.repeat(before, self.lengths, axis=0)) * decay ** r[:, None]

    def saturated(self, counts: np.ndarray) -> np.ndarray:
        """(rows, half-lives × channels), half-life major: each further touch adds less."""
        return np.hstack([-np.expm1(-self.adstock(counts, h)) for h in HALF_LIVES])

    def previous_day(self, counts: np.ndarray) -> np.ndarray:
        """Each row's counts of the day before (zero on a visitor's first day)."""
        shifted = np.vstack([np.zeros(counts.shape[1]), counts[:-1]])
        shifted[self.offsets[:-1]] = 0.0
        return shifted

    @property
    def first_days(self) -> np.ndarray:
        mask = np.zeros(len(self.counts), bool)
        mask[self.offsets[:-1]] = True
        return mask


def _rows(touches: pl.DataFrame, channels: list[str]) -> _Rows:
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
        .sort("visitor")
        .with_columns(length=(pl.col("stop") - pl.col("start") + 1).cast(pl.Int64))
    )
    lengths = visitors["length"].to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    position = dict(zip(visitors["visitor"].to_list(), range(len(visitors)), strict=True))
    causes = touches.filter(~pl.col("outcome_session"))
    index = np.array([position.get(v, -1) for v in causes["visitor"].to_list()], dtype=np.int64)
    relative = causes["day"].to_numpy() - np.where(
        index >= 0, visitors["start"].to_numpy()[np.maximum(index, 0)], 0
    )
    inside = (index >= 0) & (relative >= 0) & (relative < lengths[np.maximum(index, 0)])
    channel_of = {c: i for i, c in enumerate(channels)}
    channel = np.array([channel_of[c] for c in causes["channel"].to_list()], dtype=np.int64)
    counts = np.zeros((int(offsets[-1]), len(channels)))
    np.add.at(counts, (offsets[index[inside]] + relative[inside], channel[inside]), 1.0)
    converted_visitor = visitors["converted_day"].is_not_null().to_numpy()
    conversion_rows = offsets[1:][converted_visitor] - 1
    converted = np.zeros(len(counts))
    converted[conversion_rows] = 1.0
    return _Rows(
        counts,
        offsets,
        lengths,
        converted,
        np.repeat(visitors["weight"].to_numpy(), lengths),
        conversion_rows,
        visitors["visitor"].to_numpy()[converted_visitor],
    )


def _hazard_loss(params, x, y, w):
    """Negative log-likelihood of daily conversion, P = 1 - exp(-h), and its gradient."""
    hazard = np.maximum(params[0] + x @ params[1:], 1e-12)
    event = y > 0
    value = np.sum(w[~event] * hazard[~event]) - np.sum(
        w[event] * np.log(-np.expm1(-hazard[event]))
    )
    d_hazard = np.where(event, -np.exp(-hazard) / np.maximum(-np.expm1(-hazard), 1e-300), 1.0)
    d_hazard *= w
    return value, np.concatenate([[d_hazard.sum()], x.T @ d_hazard])


def _visit_loss(params, x, y, w):
    """Negative Poisson log-likelihood of daily visits, rate = μ0 + x·γ, and its gradient."""
    rate = np.maximum(params[0] + x @ params[1:], 1e-12)
    value = np.sum(w * (rate - y * np.log(rate)))
    d_rate = w * (1.0 - y / rate)
    return value, np.concatenate([[d_rate.sum()], x.T @ d_rate])


def _fit_additive(loss, x, y, w) -> np.ndarray:
    """Intercept > 0 and non-negative effects by L-BFGS-B; a column that is all zero (a
    channel never seen as a cause) keeps an effect of zero."""
    rate = float((y * w).sum() / w.sum()) or 1e-6
    start = np.concatenate([[rate], np.where(x.any(axis=0), rate, 0.0)])
    result = minimize(
        loss,
        start,
        args=(x, y, w),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-9, None)] + [(0.0, None)] * x.shape[1],
    )
    return result.x


def _mediated_shares(
    rows: _Rows, channels: list[str], ad_channels: Collection[str]
) -> tuple[np.ndarray, dict[str, float]]:
    """Per conversion row: the share of the visitor's recent unpaid visits each channel's
    ads brought (zero columns for unpaid channels), from the fitted visit model."""
    paid = np.array([c in ad_channels for c in channels])
    shares = np.zeros((len(rows.conversion_rows), len(channels)))
    if not paid.any() or paid.all():
        return shares, {}
    x = rows.saturated(rows.previous_day(rows.counts[:, paid]))
    visits = rows.counts[:, ~paid].sum(axis=1)
    weight = np.where(rows.first_days, 0.0, rows.weight)  # the first visit chose the day
    params = _fit_additive(_visit_loss, x, visits, weight)
    induced = (x * params[1:]).reshape(len(x), len(HALF_LIVES), int(paid.sum())).sum(axis=1)
    share_of_day = induced / (params[0] + induced.sum(axis=1))[:, None]
    recent = rows.adstock(visits[:, None], MEDIATION_HALF_LIFE)[:, 0]
    brought = rows.adstock(visits[:, None] * share_of_day, MEDIATION_HALF_LIFE)
    at_conversion = (
        brought[rows.conversion_rows] / np.maximum(recent[rows.conversion_rows], 1e-12)[:, None]
    )
    shares[:, paid] = np.where(recent[rows.conversion_rows, None] > 0, at_conversion, 0.0)
    effects = params[1:].reshape(len(HALF_LIVES), int(paid.sum())).sum(axis=0)
    paid_names = [c for c, p in zip(channels, paid, strict=True) if p]
    return shares, dict(zip(paid_names, map(float, effects), strict=True))


def hazard_fit(
    touches: pl.DataFrame, ad_channels: Collection[str] = ()
) -> tuple[HazardFit, np.ndarray, np.ndarray]:
    """Fit the hazard (and the visit model for mediation) on `touches` (visitor, channel,
    day, outcome_session, converted_day, weight, data_end). Returns the fit, each
    conversion's hazard per component (baseline first, then `fit.channels`, after
    mediation) and the converting visitors in that order."""
    channels = sorted(touches["channel"].unique().to_list())
    rows = _rows(touches, channels)
    x = rows.saturated(rows.counts)
    params = _fit_additive(_hazard_loss, x, rows.converted, rows.weight)
    bases = len(HALF_LIVES)
    per_basis = x[rows.conversion_rows] * params[1:]
    components = per_basis.reshape(len(rows.conversion_rows), bases, len(channels)).sum(axis=1)
    mediated, visit_effects = _mediated_shares(rows, channels, ad_channels)
    unpaid = np.array([c not in ad_channels for c in channels])
    moved = components[:, unpaid].sum(axis=1, keepdims=True) * mediated  # to the ad channels
    kept = 1.0 - mediated.sum(axis=1, keepdims=True)
    components = np.where(unpaid, components * kept, components) + moved
    effects = params[1:].reshape(bases, len(channels))
    fit = HazardFit(
        channels,
        float(params[0]),
        {
            c: dict(zip(HALF_LIVES, map(float, effects[:, i]), strict=True))
            for i, c in enumerate(channels)
        },
        visit_effects,
    )
    baseline = np.full((len(components), 1), params[0])
    return fit, np.hstack([baseline, components]), rows.converters


def additive_hazard_shares(
    touches: pl.DataFrame,
    ad_channels: Collection[str],
    stages: Mapping[str, Collection[str]],
) -> tuple[HazardFit, dict[str, Shares]]:
    """Fit the model on `touches` (visitor, channel, day, converting: the conversion's own
    session, converted_day, weight, data_end) and return, per stage, each converting channel
    set's mean split of its conversions' hazard; `stages` names the converting visitors who
    reached each stage. `ad_channels` are the paid channels: their converting clicks stay
    touches, and the unpaid visits they bring are credited to them."""
    touches = touches.with_columns(
        outcome_session=pl.col("converting") & ~pl.col("channel").is_in(list(ad_channels))
    )
    fit, components, converters = hazard_fit(touches, ad_channels)
    shares = components / components.sum(axis=1, keepdims=True)
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
            split[owner] += shares[row, 0]
            for index, channel in enumerate(fit.channels):
                if channel in split:
                    split[channel] += shares[row, index + 1]
        result[stage] = {
            channel_set: {c: v / sum(split.values()) for c, v in split.items()}
            for channel_set, split in sums.items()
        }
    return fit, result
