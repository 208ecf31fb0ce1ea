"""Prospects and their journeys: who visits, through which channel, and who converts.

One tenant's audience is a population of prospects (anonymous visitors) who arrive over
time and stay reachable for `LIFE_DAYS`. Each has a latent fit (from the firmographics a
lead later shows), an intent, and for about half of them an in-market window.

* **Paid clicks** are what delivery bought (clicks per channel and day); they land on
  prospects. Prospecting picks from the channel's finite audience, weighted by fit (and
  seniority on LinkedIn); a retargeting share picks among the recent site visitors, so a
  retargeting channel mostly reaches people who were already coming.
* **Unpaid visits** (organic search, direct, referral) happen far more often while a
  prospect is in market: the confounding that makes brand search and direct look causal.
  A paid click also brings some later brand searches and direct visits with it.
* **Conversion** (the form fill that creates the lead) is a daily hazard: a baseline from
  fit, intent and the in-market state, plus `Σ lift_c · (1 - exp(-κ · stock_c))`, where each
  channel's stock of touches decays by day and its effect diminishes with repeats. The
  two parts are competing risks: the baseline's conversion day is drawn once per prospect,
  the touches' hazard accumulates against a drawn threshold. So conversion depends causally
  on the path, and converting and non-converting journeys come from the same process. The
  form is filled in the prospect's last visit of that day, or, with no visit that day, in
  one they make to convert (a brand search or a typed URL).

Every random number is drawn once, up front, from the tenant's own stream (common random
numbers): `simulate` is a pure function of which channels are on and how many clicks each
buys, so the world re-simulated with a channel switched off, or with more spend, differs
from the factual one only by what the change caused. That is how `sandbox.truth` measures
counterfactual credit and true response curves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

import numpy as np

PAID = ("google_ads", "meta", "linkedin")
UNPAID = ("organic_search", "direct", "referral")
CHANNEL_NAMES = (*PAID, *UNPAID)
SITE = len(PAID)  # stock index of unpaid visits (the site's own pull)
BASELINE_CAUSE = len(PAID)  # cause index of conversions no paid lift explains

LIFE_DAYS = 90  # how long a prospect stays reachable after arriving
ARRIVALS_PER_DAY = 400
RETARGETING_LOOKBACK_DAYS = 30
# Days simulated past the world's end, so the carry-over of the last days' touches (and of
# spend changes on a response curve) is counted before outcomes are compared.
EXTRA_DAYS = 21
# Spend multipliers a response curve is measured at; clicks are drawn up front for the
# largest one.
CURVE_MULTIPLIERS = (0.0, 0.25, 0.5, 0.75, 1.5, 2.0, 3.0)
MAX_MULTIPLIER = max(CURVE_MULTIPLIERS)


@dataclass(frozen=True)
class ChannelBehaviour:
    """How one paid channel's clicks land and what they do (drawn around per tenant)."""

    lift: float  # added conversion hazard per visit at a saturated stock
    decay: float  # share of the touch stock kept from one day to the next
    fit_targeting: float  # how strongly prospecting favours high-fit prospects
    seniority_targeting: float  # ... and senior ones
    # Clicks a reachable prospect gets per day at the tenant's usual spend: the channel's
    # audience is finite, sized to the budget, so more spend mostly means more frequency.
    frequency: float
    retargeting: float  # share of clicks spent on recent site visitors
    follow_ups: float  # later brand searches and direct visits a click brings, on average


BEHAVIOUR: dict[str, ChannelBehaviour] = {
    "google_ads": ChannelBehaviour(
        lift=0.0022, decay=0.80, fit_targeting=0.4, seniority_targeting=0.0,
        frequency=0.15, retargeting=0.15, follow_ups=0.25,
    ),
    "meta": ChannelBehaviour(
        lift=0.0004, decay=0.70, fit_targeting=0.0, seniority_targeting=-0.3,
        frequency=0.10, retargeting=0.85, follow_ups=0.05,
    ),
    "linkedin": ChannelBehaviour(
        lift=0.0060, decay=0.90, fit_targeting=0.6, seniority_targeting=0.6,
        frequency=0.04, retargeting=0.10, follow_ups=0.20,
    ),
}  # fmt: skip
SITE_LIFT, SITE_DECAY = 0.001, 0.85  # what visits to the site add by themselves
SATURATION = 3.0  # κ: the second touch of a channel adds less than the first
BASE_HAZARD = 8e-5  # per day, for an average prospect out of market
IN_MARKET_RATE, OUT_OF_MARKET_RATE = 0.10, 0.0015  # unpaid visits per prospect-day
IN_MARKET_UNPAID_MIX = (0.45, 0.40, 0.15)  # organic search, direct, referral
OUT_OF_MARKET_UNPAID_MIX = (0.50, 0.20, 0.30)


# How good the leads each cause brings are (a term of the hidden propensity to close):
# google_ads, meta, linkedin, baseline.
CAUSE_QUALITY = np.array([0.2, -0.3, 0.4, 0.0])


@dataclass(frozen=True)
class Prospects:
    """The audience of one tenant, in order of arrival."""

    arrival: np.ndarray  # day index (may be negative: arrived before the world starts)
    fit: np.ndarray  # standardised
    intent: np.ndarray
    seniority: np.ndarray  # index into world._SENIORITY_LEVELS
    industry: np.ndarray  # index into world._INDUSTRIES
    company_size: np.ndarray
    market_start: np.ndarray  # in-market window [start, end); end == start when never
    market_end: np.ndarray
    switch_day: np.ndarray  # the day the prospect changes device (a new anonymous id)

    def __len__(self) -> int:
        return len(self.arrival)


@dataclass
class _DayDraws:
    """One channel-day's clicks, drawn for the largest multiplier; a run uses a prefix."""

    second: np.ndarray
    prospecting_pick: np.ndarray
    retarget: np.ndarray  # bool: this click goes to a recent visitor if any
    u_pool: np.ndarray
    follow_up_count: np.ndarray
    follow_up_delay: np.ndarray  # flattened, in slot order
    follow_up_channel: np.ndarray
    follow_up_second: np.ndarray


@dataclass
class Events:
    """Every session of a run, in time order within each day."""

    prospect: np.ndarray
    day: np.ndarray
    second: np.ndarray
    channel: np.ndarray  # index into CHANNEL_NAMES
    slot: np.ndarray  # paid: the click's index within its channel-day; -1 otherwise


@dataclass
class Outcome:
    """What one run produced, per prospect."""

    converted_day: np.ndarray  # -1: never (within the simulated days)
    converted_second: np.ndarray
    touches: np.ndarray  # sessions up to and including the converting one
    cause: np.ndarray  # the hazard component that fired: a PAID index or BASELINE_CAUSE
    touch_hazard: np.ndarray  # the touches' hazard each prospect accumulated
    events: Events | None = None


@dataclass
class _State:
    converted: np.ndarray
    converted_day: np.ndarray
    converted_second: np.ndarray
    touches: np.ndarray
    cause: np.ndarray
    stock: np.ndarray  # (paid channels + site, prospects), decayed to the current day
    last_visit: np.ndarray
    touch_hazard: np.ndarray  # accumulated touch hazard, against Audience.touch_threshold
    active: np.ndarray  # bool: the prospect's touch stock still matters
    pending: dict[int, list[tuple[np.ndarray, ...]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def copy(self) -> _State:
        return _State(
            self.converted.copy(),
            self.converted_day.copy(),
            self.converted_second.copy(),
            self.touches.copy(),
            self.cause.copy(),
            self.stock.copy(),
            self.last_visit.copy(),
            self.touch_hazard.copy(),
            self.active.copy(),
            defaultdict(list, {day: list(chunks) for day, chunks in self.pending.items()}),
        )


class Audience:
    """One tenant's prospects and every random number their journeys will use."""

    def __init__(
        self,
        rng: np.random.Generator,
        days: int,
        clicks: dict[str, np.ndarray],
        seniority_weights: np.ndarray,
        industry_weights: np.ndarray,
    ) -> None:
        self.days = days
        self.horizon = days + EXTRA_DAYS
        self.seniority_weights = seniority_weights
        self.industry_weights = industry_weights
        self.clicks = {c: np.concatenate([clicks[c], np.zeros(EXTRA_DAYS, np.int64)]) for c in PAID}
        self.behaviour = {
            c: replace(b, lift=b.lift * float(rng.uniform(0.5, 1.6))) for c, b in BEHAVIOUR.items()
        }
        self.prospects = self._draw_prospects(rng)
        n = len(self.prospects)
        p = self.prospects
        in_market_factor = float(rng.uniform(10.0, 16.0))
        self.base_day = self._baseline_conversion_day(
            rng.exponential(1.0, n),
            BASE_HAZARD * np.exp(0.5 * p.fit + 0.4 * p.intent),
            in_market_factor,
        )
        self.touch_threshold = rng.exponential(1.0, n)
        self.lifts = np.array([*(self.behaviour[c].lift for c in PAID), SITE_LIFT])
        self.decays = np.array([*(self.behaviour[c].decay for c in PAID), SITE_DECAY])
        self.touch_response = np.exp(0.3 * p.fit)  # better-fit prospects respond more
        self.u_cause = rng.random(n)
        self.navigation_second = rng.integers(0, 86_400, n)
        self.navigation_channel = SITE + rng.choice([0, 1], n, p=[0.45, 0.55])
        # What happens after the form fill, drawn per prospect so every run agrees on it.
        self.lead_seconds = rng.integers(60, 1200, n)
        self.propensity_noise = rng.normal(0, 0.4, n)
        self.u_won, self.u_opportunity = rng.random(n), rng.random(n)
        self.opportunity_hours = rng.gamma(2.0, 96.0, n)
        self.close_hours = rng.gamma(3.0, 160.0, n)
        self.amount_factor = rng.lognormal(0, 0.4, n)
        self._draw_unpaid(rng)
        self._draw_paid(rng)

    # -- draws -------------------------------------------------------------------------
    def _draw_prospects(self, rng: np.random.Generator) -> Prospects:
        n = ARRIVALS_PER_DAY * (LIFE_DAYS + self.horizon)
        arrival = np.sort(rng.integers(-LIFE_DAYS, self.horizon, n))
        seniority = rng.choice(5, n, p=[0.08, 0.14, 0.22, 0.3, 0.26])
        industry = rng.integers(0, len(self.industry_weights), n)
        size = np.clip(rng.lognormal(4.0, 1.4, n), 1, 50_000).astype(np.int64)
        raw_fit = (
            self.seniority_weights[seniority]
            + self.industry_weights[industry]
            + 0.25 * np.log10(size)
        )
        fit = (raw_fit - raw_fit.mean()) / raw_fit.std()
        intent = rng.normal(0, 1, n)
        in_market = rng.random(n) < 0.2 + 0.15 * (intent > 0)
        start = arrival + rng.integers(0, LIFE_DAYS, n)
        length = 3 + rng.geometric(1 / 12, n)
        end = np.where(in_market, np.minimum(start + length, arrival + LIFE_DAYS), start)
        switches = rng.random(n) < 0.08
        switch_day = np.where(switches, arrival + rng.integers(0, LIFE_DAYS, n), 10**9)
        return Prospects(arrival, fit, intent, seniority, industry, size, start, end, switch_day)

    def _baseline_conversion_day(
        self, threshold: np.ndarray, rate: np.ndarray, in_market_factor: float
    ) -> np.ndarray:
        """The day the baseline hazard alone converts each prospect (piecewise constant: out
        of market, in market, out again); beyond the horizon when it never does."""
        p = self.prospects
        before = rate * (p.market_start - p.arrival)
        during = before + rate * in_market_factor * (p.market_end - p.market_start)
        day = np.where(
            threshold <= before,
            p.arrival + np.floor(threshold / rate),
            np.where(
                threshold <= during,
                p.market_start + np.floor((threshold - before) / (rate * in_market_factor)),
                p.market_end + np.floor((threshold - during) / rate),
            ),
        ).astype(np.int64)
        return np.where(day < p.arrival + LIFE_DAYS, day, 10**9)

    def _draw_unpaid(self, rng: np.random.Generator) -> None:
        """Visits that come whatever paid media does: in and out of market."""
        p = self.prospects
        pull = np.exp(0.3 * p.fit)
        in_days = np.maximum(p.market_end - p.market_start, 0)
        in_count = rng.poisson(IN_MARKET_RATE * in_days * pull)
        out_count = rng.poisson(OUT_OF_MARKET_RATE * LIFE_DAYS * pull)
        who_in = np.repeat(np.arange(len(p)), in_count)
        who_out = np.repeat(np.arange(len(p)), out_count)
        day_in = p.market_start[who_in] + np.floor(
            rng.random(len(who_in)) * in_days[who_in]
        ).astype(np.int64)
        day_out = p.arrival[who_out] + rng.integers(0, LIFE_DAYS, len(who_out))
        channel_in = SITE + rng.choice(3, len(who_in), p=IN_MARKET_UNPAID_MIX)
        channel_out = SITE + rng.choice(3, len(who_out), p=OUT_OF_MARKET_UNPAID_MIX)
        who = np.concatenate([who_in, who_out])
        day = np.concatenate([day_in, day_out])
        channel = np.concatenate([channel_in, channel_out])
        keep = (day >= 0) & (day < self.horizon)
        who, day, channel = who[keep], day[keep], channel[keep]
        order = np.argsort(day, kind="stable")
        self.unpaid_prospect = who[order]
        self.unpaid_day = day[order]
        self.unpaid_channel = channel[order]
        self.unpaid_second = rng.integers(0, 86_400, len(order))
        self.unpaid_bounds = np.searchsorted(self.unpaid_day, np.arange(self.horizon + 1))

    def _draw_paid(self, rng: np.random.Generator) -> None:
        p = self.prospects
        n = len(p)
        senior = self.seniority_weights[p.seniority]
        self.alive_lo = np.searchsorted(p.arrival, np.arange(self.horizon) - LIFE_DAYS + 1)
        self.alive_hi = np.searchsorted(p.arrival, np.arange(self.horizon), side="right")
        alive = float(np.mean(self.alive_hi - self.alive_lo))
        self.draws: dict[str, list[_DayDraws]] = {}
        for c in PAID:
            b = self.behaviour[c]
            share = min(1.0, float(np.mean(self.clicks[c][: self.days])) / (b.frequency * alive))
            reachable = rng.random(n) < share
            weight = reachable * np.exp(b.fit_targeting * p.fit + b.seniority_targeting * senior)
            cumulative = np.concatenate([[0.0], np.cumsum(weight)])
            per_day = []
            for day in range(self.horizon):
                slots = int(np.ceil(self.clicks[c][day] * MAX_MULTIPLIER))
                lo, hi = self.alive_lo[day], self.alive_hi[day]
                u = rng.random(slots)
                target = cumulative[lo] + u * (cumulative[hi] - cumulative[lo])
                pick = np.clip(np.searchsorted(cumulative, target, side="right") - 1, lo, hi - 1)
                follow = rng.poisson(b.follow_ups, slots)
                total = int(follow.sum())
                per_day.append(
                    _DayDraws(
                        second=rng.integers(0, 86_400, slots),
                        prospecting_pick=pick,
                        retarget=rng.random(slots) < b.retargeting,
                        u_pool=rng.random(slots),
                        follow_up_count=follow,
                        follow_up_delay=rng.geometric(0.35, total),
                        follow_up_channel=SITE + rng.choice([0, 1], total, p=[0.45, 0.55]),
                        follow_up_second=rng.integers(0, 86_400, total),
                    )
                )
            self.draws[c] = per_day

    # -- runs --------------------------------------------------------------------------
    def new_state(self) -> _State:
        n = len(self.prospects)
        return _State(
            converted=np.zeros(n, bool),
            converted_day=np.full(n, -1, np.int64),
            converted_second=np.zeros(n, np.int64),
            touches=np.zeros(n, np.int64),
            cause=np.full(n, -1, np.int64),
            stock=np.zeros((len(PAID) + 1, n)),
            last_visit=np.full(n, -(10**6), np.int64),
            touch_hazard=np.zeros(n),
            active=np.zeros(n, bool),
        )

    def simulate(
        self,
        scale: dict[str, float] | None = None,
        *,
        state: _State | None = None,
        start: int = 0,
        stop: int | None = None,
        scale_from: int = 0,
        keep_events: bool = False,
        snapshot_at: int | None = None,
        touch_conversions: bool = True,
    ) -> tuple[Outcome, _State | None]:
        """Run days `start`..`stop` (default: to the horizon). `scale` multiplies each paid
        channel's clicks from day `scale_from` on (0 switches it off; missing means 1).
        Returns the outcome and, with `snapshot_at`, the state at the start of that day.
        Without `touch_conversions`, touches accumulate hazard but convert nobody: the
        accumulated hazard then gives each prospect's chance of converting (an expectation
        instead of one draw of the thresholds)."""
        scale = scale or {}
        state = state.copy() if state is not None else self.new_state()
        stop = self.horizon if stop is None else stop
        logged: list[tuple[np.ndarray, ...]] = []
        snapshot = None
        for day in range(start, stop):
            if day == snapshot_at:
                snapshot = state.copy()
            self._run_day(
                state,
                day,
                scale if day >= scale_from else {},
                logged,
                keep_events,
                touch_conversions,
            )
        if snapshot_at == stop:
            snapshot = state.copy()
        events = None
        if keep_events:
            columns = list(zip(*logged, strict=True)) if logged else [[]] * 5
            events = Events(*(np.concatenate(c) if len(c) else np.array([]) for c in columns))
        outcome = Outcome(
            state.converted_day.copy(),
            state.converted_second.copy(),
            state.touches.copy(),
            state.cause.copy(),
            state.touch_hazard.copy(),
            events,
        )
        return outcome, snapshot

    def _run_day(self, state, day, scale, logged, keep_events, touch_conversions) -> None:
        parts_prospect, parts_second, parts_channel, parts_slot = [], [], [], []
        lo, hi = self.unpaid_bounds[day], self.unpaid_bounds[day + 1]
        parts_prospect.append(self.unpaid_prospect[lo:hi])
        parts_second.append(self.unpaid_second[lo:hi])
        parts_channel.append(self.unpaid_channel[lo:hi])
        parts_slot.append(np.full(hi - lo, -1))
        for prospect, second, channel in state.pending.pop(day, []):
            parts_prospect.append(prospect)
            parts_second.append(second)
            parts_channel.append(channel)
            parts_slot.append(np.full(len(prospect), -1))
        pool = None
        for index, c in enumerate(PAID):
            count = round(float(self.clicks[c][day]) * scale.get(c, 1.0))
            if count <= 0:
                continue
            draws = self.draws[c][day]
            count = min(count, len(draws.second))
            pick = draws.prospecting_pick[:count]
            retarget = draws.retarget[:count]
            if retarget.any():
                if pool is None:
                    a, b = self.alive_lo[day], self.alive_hi[day]
                    recent = state.last_visit[a:b] >= day - RETARGETING_LOOKBACK_DAYS
                    pool = np.flatnonzero(recent & ~state.converted[a:b]) + a
                if len(pool):
                    chosen = pool[(draws.u_pool[:count] * len(pool)).astype(np.int64)]
                    pick = np.where(retarget, chosen, pick)
            parts_prospect.append(pick)
            parts_second.append(draws.second[:count])
            parts_channel.append(np.full(count, index))
            parts_slot.append(np.arange(count))
            follow_total = int(draws.follow_up_count[:count].sum())
            if follow_total:
                who = np.repeat(pick, draws.follow_up_count[:count])
                target_day = day + 1 + draws.follow_up_delay[:follow_total]
                for target in np.unique(target_day):
                    if target >= self.horizon:
                        continue
                    mask = target_day == target
                    state.pending[int(target)].append(
                        (
                            who[mask],
                            draws.follow_up_second[:follow_total][mask],
                            draws.follow_up_channel[:follow_total][mask],
                        )
                    )
        prospect = np.concatenate(parts_prospect)
        second = np.concatenate(parts_second)
        channel = np.concatenate(parts_channel)
        slot = np.concatenate(parts_slot)
        order = np.argsort(second, kind="stable")
        prospect, second, channel, slot = (
            prospect[order],
            second[order],
            channel[order],
            slot[order],
        )
        open_ = ~state.converted[prospect]
        np.add.at(state.touches, prospect[open_], 1)
        a, b = self.alive_lo[day], self.alive_hi[day]
        state.stock[:, a:b] *= self.decays[:, None]
        np.add.at(state.stock, (np.minimum(channel, SITE), prospect), 1.0)
        state.last_visit[prospect] = day
        state.active[prospect[open_]] = True
        converting = self._convert(state, day, touch_conversions)
        if len(converting):
            # The form is filled in the day's last visit; without one, in a visit made for it.
            visited = np.zeros(len(self.prospects), bool)
            visited[prospect] = True
            navigating = converting[~visited[converting]]
            state.touches[navigating] += 1
            last_second = np.zeros(len(self.prospects), np.int64)
            last_second[prospect] = second  # time-ordered: the last write is the last visit
            state.converted_second[converting] = last_second[converting]
            state.converted_second[navigating] = self.navigation_second[navigating]
            if keep_events and len(navigating):
                prospect = np.concatenate([prospect, navigating])
                second = np.concatenate([second, self.navigation_second[navigating]])
                channel = np.concatenate([channel, self.navigation_channel[navigating]])
                slot = np.concatenate([slot, np.full(len(navigating), -1)])
        if keep_events:
            logged.append((prospect, np.full(len(prospect), day), second, channel, slot))

    def _convert(self, state, day, touch_conversions: bool = True) -> np.ndarray:
        """Who converts today: the baseline's drawn day, or the touches' accumulated hazard
        passing its threshold. Returns them, sorted."""
        a, b = self.alive_lo[day], self.alive_hi[day]
        active = np.flatnonzero(state.active[a:b]) + a
        components = (
            self.lifts[:, None]
            * self.touch_response[active]
            * -np.expm1(-SATURATION * state.stock[:, active])
        )
        hazard = components.sum(axis=0)
        state.touch_hazard[active] += hazard
        by_touch = (state.touch_hazard[active] >= self.touch_threshold[active]) & touch_conversions
        # Forget prospects whose stocks have faded (their hazard is negligible from now on).
        state.active[active[hazard < 1e-6]] = False
        touch_converts = active[by_touch]
        shares = np.cumsum(components[:, by_touch], axis=0) / hazard[by_touch]
        drawn = (self.u_cause[touch_converts] > shares).sum(axis=0)
        base_converts = np.flatnonzero(self.base_day[a:b] == day) + a
        base_converts = base_converts[~state.converted[base_converts]]
        converting = np.union1d(touch_converts, base_converts)
        state.converted[converting] = True
        state.active[converting] = False
        state.converted_day[converting] = day
        state.cause[touch_converts] = np.where(drawn < len(PAID), drawn, BASELINE_CAUSE)
        state.cause[base_converts] = BASELINE_CAUSE
        return converting


@dataclass(frozen=True)
class Stages:
    """The leads a run made inside the world, and how far each got by its end (day indexes
    and seconds into the tenant's local day)."""

    prospect: np.ndarray
    lead_day: np.ndarray
    lead_second: np.ndarray
    propensity: np.ndarray
    amount: np.ndarray  # the deal's value, tenant currency, whether or not one opens
    has_deal: np.ndarray  # a deal opens (inside the world or after it)
    won: np.ndarray  # the deal will be won (inside the world or after it)
    opportunity_day: np.ndarray
    opportunity_second: np.ndarray
    close_day: np.ndarray
    close_second: np.ndarray
    days: int  # the world's: a stage on a later day falls after its end

    @property
    def opportunity(self) -> np.ndarray:
        """Deals opened inside the world."""
        return self.has_deal & (self.opportunity_day < self.days)

    @property
    def closed(self) -> np.ndarray:
        return self.opportunity & (self.close_day < self.days)


def stages_of(audience: Audience, outcome: Outcome, until: int | None = None) -> Stages:
    """Each lead's hidden propensity, its deal and the deal's stages, from the prospect's
    own draws: the same prospect converting in two runs gets the same deal, unless its path
    (length, cause) changed its propensity. Leads are those made before the world's end, or
    before day `until`."""
    days = audience.days
    until = days if until is None else until
    who = np.flatnonzero((outcome.converted_day >= 0) & (outcome.converted_day < until))
    p = audience.prospects
    day = outcome.converted_day[who]
    second = np.minimum(outcome.converted_second[who] + audience.lead_seconds[who], 86_399)
    logit = (
        -3.1
        + audience.seniority_weights[p.seniority[who]]
        + audience.industry_weights[p.industry[who]]
        + 0.25 * np.log10(p.company_size[who])
        + CAUSE_QUALITY[outcome.cause[who]]
        + 0.12 * (outcome.touches[who] - 1)
        + 0.9 * p.intent[who]
        + audience.propensity_noise[who]
    )
    propensity = 1 / (1 + np.exp(-logit))
    won = audience.u_won[who] < propensity
    p_opportunity = np.minimum(0.95, 2.2 * propensity)
    has_deal = won | (audience.u_opportunity[who] < (p_opportunity - propensity) / (1 - propensity))
    opened = second + audience.opportunity_hours[who] * 3600
    closes = opened + audience.close_hours[who] * 3600
    amount = np.round(4000 * (p.company_size[who] / 50) ** 0.35 * audience.amount_factor[who], 2)
    return Stages(
        who, day, second, propensity, amount, has_deal, won,
        day + (opened // 86_400).astype(np.int64), (opened % 86_400).astype(np.int64),
        day + (closes // 86_400).astype(np.int64), (closes % 86_400).astype(np.int64),
        days,
    )  # fmt: skip
