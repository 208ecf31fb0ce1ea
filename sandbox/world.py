"""A simulated marketing world whose truth is causal, so our numbers can be graded (v6).

Each tenant is a business with ad accounts on Google Ads, Meta and LinkedIn. Budgets drive
spend; spend buys impressions and clicks. The clicks land on a population of prospects
(`sandbox.journeys`), who also visit through organic search, direct and referral, more
often while they are in market; conversion is a daily hazard that touches raise, channel by
channel, with decay and diminishing returns. The sessions, leads and deals below are what
that process produced; `sandbox.truth` re-simulates it with the same random numbers to say
what each channel caused (Shapley credit over channel switch-offs) and how each responds to
spend. Leads carry a hidden propensity that decides whether they become won deals.

Everything is drawn from `numpy.random.default_rng([seed, tenant_index, ...])`, so a world
is a pure function of (profile, seed, end date). See ../shared/SANDBOX_MODEL.md.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import numpy as np

from sandbox.journeys import (
    CHANNEL_NAMES,
    PAID,
    Audience,
    Events,
    Outcome,
    Stages,
    stages_of,
)
from sandbox.truth import BASELINE, channel_credit, fit_hill, response_curves

# Bump when a change alters what a (profile, seed, end) generates: stored worlds of another
# version are regenerated instead of reused.
GENERATOR_VERSION = 6

PAID_CHANNELS = PAID
UNPAID_CHANNELS = ("organic_search", "direct", "referral")
_REFERRERS = {
    "organic_search": "https://www.google.com/",
    "direct": None,
    "referral": "https://news.example.com/best-tools",
}
MICROS = 1_000_000


@dataclass(frozen=True)
class Profile:
    name: str
    tenants: int
    days: int
    campaigns_per_platform: int
    ad_groups_per_campaign: int = 2
    ads_per_ad_group: int = 2


PROFILES: dict[str, Profile] = {
    "small": Profile("small", tenants=2, days=120, campaigns_per_platform=2),
    "medium": Profile("medium", tenants=8, days=365, campaigns_per_platform=3),
    "large": Profile("large", tenants=40, days=730, campaigns_per_platform=4),
}


@dataclass(frozen=True)
class ChannelTraits:
    """How a platform's inventory behaves and what its ads look like (what its clicks do
    is in sandbox.journeys.BEHAVIOUR)."""

    budget_share: float
    cpm: tuple[float, float]  # currency per 1000 impressions
    ctr: tuple[float, float]
    utm_source: str
    utm_medium: str
    click_id: str
    attribution_window_days: int  # the platform's own click-through window for its claims
    billing_unit_micros: int  # spend granularity: 1 (micros) or 10_000 (cents)
    # Whether the ad's URL names the ad (utm_content filled by the platform's ad id macro).
    # Google advertisers lean on auto-tagging: the gclid, resolved by click_view, names it.
    ad_id_in_url: bool


CHANNELS: dict[str, ChannelTraits] = {
    "google_ads": ChannelTraits(
        budget_share=0.45, cpm=(35.0, 60.0), ctr=(0.03, 0.06),
        utm_source="google", utm_medium="cpc",
        click_id="gclid", attribution_window_days=30,
        billing_unit_micros=1, ad_id_in_url=False,
    ),
    "meta": ChannelTraits(
        budget_share=0.30, cpm=(8.0, 14.0), ctr=(0.008, 0.015),
        utm_source="facebook", utm_medium="paid_social",
        click_id="fbclid", attribution_window_days=7,
        billing_unit_micros=10_000, ad_id_in_url=True,
    ),
    "linkedin": ChannelTraits(
        budget_share=0.25, cpm=(30.0, 55.0), ctr=(0.004, 0.008),
        utm_source="linkedin", utm_medium="paid_social",
        click_id="li_fat_id", attribution_window_days=30,
        billing_unit_micros=10_000, ad_id_in_url=True,
    ),
}  # fmt: skip

_BUSINESSES = [
    ("northwind-analytics", "Northwind Analytics", "software"),
    ("acme-logistics", "Acme Logistics", "logistics"),
    ("bluebird-health", "Bluebird Health", "healthcare"),
    ("copper-fintech", "Copper Fintech", "financial_services"),
    ("delta-robotics", "Delta Robotics", "manufacturing"),
    ("evergreen-edu", "Evergreen Education", "education"),
    ("falcon-security", "Falcon Security", "software"),
    ("granite-legal", "Granite Legal", "professional_services"),
]
_MARKETS = [
    ("USD", "America/New_York"),
    ("EUR", "Europe/Berlin"),
    ("GBP", "Europe/London"),
    ("USD", "America/Los_Angeles"),
    ("CAD", "America/Toronto"),
    ("AUD", "Australia/Sydney"),
]
# Where each currency starts against the US dollar (units per USD); the path is a random walk.
_FX_START = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.36, "AUD": 1.52}
# Meta ad accounts are often opened in US dollars whatever the business's own currency (the
# currency cannot be changed later): the reason reporting needs FX at all.
_ACCOUNT_CURRENCY_OVERRIDES = {"meta": "USD"}
_INDUSTRIES = {
    "software": 0.4,
    "financial_services": 0.3,
    "healthcare": 0.1,
    "manufacturing": 0.0,
    "logistics": -0.1,
    "education": -0.4,
    "retail": -0.2,
    "professional_services": 0.1,
}
_SENIORITY = {  # level: (titles, propensity weight)
    "c_level": (("CEO", "CFO", "CMO", "CTO", "COO"), 1.1),
    "vp": (("VP Marketing", "VP Sales", "VP Engineering", "VP Operations"), 0.7),
    "director": (("Director of Marketing", "Director of IT", "Head of Growth"), 0.4),
    "manager": (("Marketing Manager", "IT Manager", "Operations Manager"), 0.0),
    "individual": (("Analyst", "Engineer", "Coordinator", "Specialist", "Student"), -0.7),
}
_SENIORITY_LEVELS = list(_SENIORITY)
_COUNTRIES = ("US", "GB", "DE", "CA", "AU", "FR", "NL", "IN")
_FIRST = (
    "Ana",
    "Ben",
    "Chen",
    "Dana",
    "Eli",
    "Fatima",
    "Gus",
    "Hana",
    "Ivan",
    "Jo",
    "Kai",
    "Lena",
    "Mo",
    "Nia",
    "Omar",
    "Pia",
    "Raj",
    "Sara",
    "Tom",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
)
_LAST = (
    "Smith",
    "Garcia",
    "Chen",
    "Müller",
    "Okafor",
    "Rossi",
    "Kim",
    "Novak",
    "Silva",
    "Haddad",
    "Larsen",
    "Tanaka",
    "Brown",
    "Dubois",
    "Singh",
    "Walsh",
)
_COMPANY_STEMS = (
    "Apex",
    "Birch",
    "Cobalt",
    "Dune",
    "Ember",
    "Fjord",
    "Glacier",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Maple",
    "Nimbus",
    "Orbit",
    "Pine",
    "Quartz",
    "Ridge",
    "Summit",
    "Tidal",
    "Umber",
    "Vertex",
    "Willow",
    "Zephyr",
)
_COMPANY_SUFFIX = ("Labs", "Systems", "Group", "Partners", "Works", "Health", "Logistics", "AI")
# Phrases in CRM notes that carry real signal about intent (and so about propensity).
_HIGH_INTENT = (
    "budget approved for next quarter",
    "evaluating vendors this quarter",
    "asked for a pricing proposal",
    "wants a demo with the team",
)
_LOW_INTENT = (
    "just browsing",
    "student research project",
    "not a priority this year",
    "downloaded the ebook only",
)
_NEUTRAL = (
    "came in through the website",
    "interested in reporting features",
    "mentioned current tooling is spreadsheets",
    "asked about integrations",
    "follow up next week",
    "filled the contact form",
)
_HEADLINES = {
    "google_ads": (
        "{brand} — Marketing Analytics",
        "Attribution Software | {brand}",
        "Know Which Ads Drive Revenue",
        "Try {brand} Free for 14 Days",
    ),
    "meta": (
        "Stop guessing your ROAS",
        "See every channel in one place",
        "Your dashboards, finally right",
        "Join 2,000 growth teams",
    ),
    "linkedin": (
        "For CMOs who need pipeline proof",
        "Board-ready marketing ROI",
        "B2B attribution that finance trusts",
        "Pipeline analytics for revenue teams",
    ),
}
_BODIES = (
    "Connect your ad accounts and CRM in minutes and see revenue by campaign.",
    "Multi-touch attribution, budget recommendations and lead scores in one tool.",
    "Cut wasted spend: move budget to the channels that actually close deals.",
    "Unified reporting across Google, Meta and LinkedIn with CRM revenue.",
)


@dataclass
class World:
    """The generated world: rows per sandbox table, in the column order of TABLE_COLUMNS."""

    profile: Profile
    seed: int
    start: date
    end: date
    tables: dict[str, list[tuple]] = field(default_factory=lambda: defaultdict(list))
    # units per USD by (currency, day index): what the FX service quotes for that day.
    fx: dict[tuple[str, int], Decimal] = field(default_factory=dict)

    def cross_rate(self, day: int, from_currency: str, to_currency: str) -> Decimal:
        """How many `to_currency` units one `from_currency` unit buys on `day` (via USD)."""
        return self.fx[(to_currency, day)] / self.fx[(from_currency, day)]

    def row_counts(self) -> dict[str, int]:
        return {name: len(self.tables.get(name, [])) for name in TABLE_COLUMNS}


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": ("tenant_id", "name", "currency", "time_zone", "industry", "lead_value"),
    "ad_accounts": ("platform", "account_id", "tenant_id", "name", "currency", "time_zone"),
    "campaigns": (
        "platform",
        "campaign_id",
        "account_id",
        "tenant_id",
        "name",
        "objective",
        "status",
        "budget_id",
        "daily_budget_micros",
    ),
    "ad_groups": ("platform", "ad_group_id", "campaign_id", "account_id", "tenant_id", "name"),
    "ads": (
        "platform",
        "ad_id",
        "ad_group_id",
        "campaign_id",
        "account_id",
        "tenant_id",
        "headline",
        "body",
        "final_url",
    ),
    "campaign_budget_daily": ("platform", "campaign_id", "date", "budget_micros"),
    "ad_delivery_daily": (
        "platform",
        "ad_id",
        "date",
        "account_id",
        "tenant_id",
        "cost_micros",
        "impressions",
        "clicks",
        "conversions",
        "conversions_value",
    ),
    "fx_rates": ("date", "currency", "units_per_usd"),
    "true_curves": ("tenant_id", "channel", "theta", "beta", "half_saturation", "shape"),
    "true_response_curves": (
        "tenant_id",
        "channel",
        "spend_multiplier",
        "daily_spend",
        "incremental_leads",
        "incremental_revenue",
    ),
    "true_channel_credit": (
        "tenant_id",
        "date",
        "stage",
        "channel",
        "conversions",
        "value",
        "removal_conversions",
        "removal_value",
    ),
    "true_credit_noise": ("tenant_id", "stage", "channel", "conversions_se", "value_se"),
    "sessions": (
        "session_id",
        "tenant_id",
        "anonymous_id",
        "started_at",
        "channel",
        "platform_ad_id",
        "landing_url",
        "referrer",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "gclid",
        "fbclid",
        "li_fat_id",
    ),
    "leads": (
        "lead_id",
        "tenant_id",
        "anonymous_id",
        "created_at",
        "email",
        "first_name",
        "last_name",
        "job_title",
        "seniority",
        "company",
        "company_size",
        "industry",
        "country",
        "notes",
        "company_description",
        "cause_channel",
        "true_propensity",
    ),
    "deals": (
        "deal_id",
        "lead_id",
        "tenant_id",
        "amount",
        "stage",
        "created_at",
        "closed_at",
        "cause_channel",
    ),
    "deal_stage_history": ("deal_id", "stage", "entered_at"),
}


def default_end_date() -> date:
    """Worlds end yesterday (UTC) unless told otherwise: today's numbers are never final."""
    return datetime.now(UTC).date() - timedelta(days=1)


def generate_world(profile: Profile | str, seed: int = 7, end: date | None = None) -> World:
    """Simulate `profile.days` days ending on `end`, for every tenant of the profile."""
    chunks = generate_tenant_worlds(profile, seed, end)
    world = next(chunks)
    for chunk in chunks:
        for table, rows in chunk.tables.items():
            world.tables[table].extend(rows)
    return world


def generate_tenant_worlds(
    profile: Profile | str, seed: int = 7, end: date | None = None
) -> Iterator[World]:
    """The same world one tenant at a time, so that storing a large profile never holds
    every tenant's rows at once: each World holds one tenant's rows (the first also the FX
    rates every tenant shares)."""
    if isinstance(profile, str):
        profile = PROFILES[profile]
    end = end or default_end_date()
    start = end - timedelta(days=profile.days - 1)
    shared = World(profile=profile, seed=seed, start=start, end=end)
    _simulate_fx(shared)
    for index in range(profile.tenants):
        chunk = World(profile=profile, seed=seed, start=start, end=end, fx=shared.fx)
        if index == 0:
            chunk.tables["fx_rates"] = shared.tables["fx_rates"]
        _TenantSimulation(chunk, index).run()
        yield chunk


def _simulate_fx(world: World) -> None:
    """Daily rates per currency: a gentle random walk in log space, quoted to 6 decimals."""
    rng = np.random.default_rng([world.seed, 999_983])
    days = world.profile.days
    for currency, start_rate in _FX_START.items():
        path = (
            np.ones(days)
            if currency == "USD"
            else start_rate * np.exp(np.cumsum(rng.normal(0, 0.004, days)))
        )
        for day, rate in enumerate(path.tolist()):
            quoted = Decimal(f"{rate:.6f}")
            world.fx[(currency, day)] = quoted
            world.tables["fx_rates"].append((world.start + timedelta(days=day), currency, quoted))


@dataclass
class _Ad:
    platform: str
    ad_id: int
    campaign: int  # index into campaigns
    weight: float


class _TenantSimulation:
    def __init__(self, world: World, index: int) -> None:
        self.world = world
        self.index = index
        self.rng = np.random.default_rng([world.seed, index])
        self.days = world.profile.days
        slug, name, industry = _BUSINESSES[index % len(_BUSINESSES)]
        suffix = "" if index < len(_BUSINESSES) else f"-{index // len(_BUSINESSES) + 1}"
        self.tenant_id = slug + suffix
        self.name = name + (f" {index // len(_BUSINESSES) + 1}" if suffix else "")
        self.currency, tz_name = _MARKETS[index % len(_MARKETS)]
        self.tz = ZoneInfo(tz_name)
        self.industry = industry
        self.lead_value = Decimal(int(self.rng.integers(4, 16)) * 10)
        self.counter = 0
        self._day_cache: dict[int, tuple[datetime, bool]] = {}
        world.tables["tenants"].append(
            (self.tenant_id, self.name, self.currency, tz_name, industry, self.lead_value)
        )

    # -- identifiers ---------------------------------------------------------------------
    def _id(self, digits: int) -> int:
        """A platform-style numeric id, unique across tenants: leading digit, tenant, counter."""
        self.counter += 1
        return 10 ** (digits - 1) + (self.index + 1) * 10 ** (digits - 4) + self.counter

    def _token(self, length: int) -> str:
        """An opaque URL-safe token (click IDs, session and anonymous ids)."""
        return self._tokens(1, length)[0]

    def _tokens(self, count: int, length: int) -> list[str]:
        # One draw for the batch: per-token draws dominate the run time otherwise.
        text = base64.urlsafe_b64encode(self.rng.bytes(count * length)).decode()
        return [text[i * length : (i + 1) * length] for i in range(count)]

    def _day_start_utc(self, day: int) -> datetime:
        local = datetime.combine(self.world.start + timedelta(days=day), datetime.min.time())
        return local.replace(tzinfo=self.tz).astimezone(UTC)

    def _at(self, day: int, second: int) -> datetime:
        """The instant `second` seconds of local clock time into local day `day` (so it
        falls on that local date, DST days included)."""
        start, steady = self._day_cache.get(day) or self._cache_day(day)
        if steady:
            return start + timedelta(seconds=second)
        local = datetime.combine(self.world.start + timedelta(days=day), datetime.min.time())
        return (local + timedelta(seconds=second)).replace(tzinfo=self.tz).astimezone(UTC)

    def _cache_day(self, day: int) -> tuple[datetime, bool]:
        start, end = self._day_start_utc(day), self._day_start_utc(day + 1)
        self._day_cache[day] = (start, end - start == timedelta(days=1))
        return self._day_cache[day]

    # -- the simulation ------------------------------------------------------------------
    def run(self) -> None:
        self._build_accounts()
        spend = self._deliver()
        audience = Audience(
            np.random.default_rng([self.world.seed, self.index, 1]),
            self.days,
            {c: self.clicks[c].sum(axis=0) for c in PAID_CHANNELS},
            np.array([_SENIORITY[level][1] for level in _SENIORITY_LEVELS]),
            np.array(list(_INDUSTRIES.values())),
        )
        factual, _ = audience.simulate(keep_events=True)
        self._emit_sessions(audience, factual.events)
        self._leads(audience, factual)
        self._truth(audience, factual, spend)

    def _build_accounts(self) -> None:
        tables = self.world.tables
        profile = self.world.profile
        total_budget = float(self.rng.uniform(300, 900))
        self.campaigns: list[dict] = []
        self.ads: list[_Ad] = []
        for platform, traits in CHANNELS.items():
            account_id = (
                str(self._id(10))
                if platform == "google_ads"
                else str(self._id(15 if platform == "meta" else 9))
            )
            account_currency = _ACCOUNT_CURRENCY_OVERRIDES.get(platform, self.currency)
            tables["ad_accounts"].append(
                (
                    platform,
                    account_id,
                    self.tenant_id,
                    f"{self.name} — {platform}",
                    account_currency,
                    str(self.tz),
                )
            )
            channel_budget = total_budget * traits.budget_share  # in the tenant's currency
            to_account = float(self.world.cross_rate(0, self.currency, account_currency))
            shares = self.rng.dirichlet(np.full(profile.campaigns_per_platform, 3.0))
            for c in range(profile.campaigns_per_platform):
                campaign_id = self._id(11)
                purpose = ("prospecting", "retargeting", "brand", "competitor")[c % 4]
                slug = f"{platform}-{purpose}-{c + 1}"
                budget_micros = int(round(channel_budget * shares[c] * to_account, 2) * MICROS)
                campaign = {
                    "platform": platform,
                    "campaign_id": campaign_id,
                    "account_id": account_id,
                    "currency": account_currency,
                    "slug": slug,
                    "base_budget": budget_micros,
                    "budget_id": self._id(11),
                    "objective": "SEARCH" if platform == "google_ads" else "LEAD_GENERATION",
                    "cpm": float(self.rng.uniform(*traits.cpm)) * to_account,
                    "ctr": float(self.rng.uniform(*traits.ctr)),
                }
                self.campaigns.append(campaign)
                ad_weights = self.rng.dirichlet(
                    np.full(profile.ad_groups_per_campaign * profile.ads_per_ad_group, 2.0)
                )
                position = 0
                for g in range(profile.ad_groups_per_campaign):
                    ad_group_id = self._id(11)
                    tables["ad_groups"].append(
                        (
                            platform,
                            ad_group_id,
                            campaign_id,
                            account_id,
                            self.tenant_id,
                            f"{slug} / group {g + 1}",
                        )
                    )
                    for _ in range(profile.ads_per_ad_group):
                        ad_id = self._id(12)
                        headline = str(self.rng.choice(_HEADLINES[platform])).format(
                            brand=self.name
                        )
                        params = {
                            "utm_source": traits.utm_source,
                            "utm_medium": traits.utm_medium,
                            "utm_campaign": slug,
                        }
                        if traits.ad_id_in_url:
                            params["utm_content"] = str(ad_id)
                        query = urlencode(params)
                        tables["ads"].append(
                            (
                                platform,
                                ad_id,
                                ad_group_id,
                                campaign_id,
                                account_id,
                                self.tenant_id,
                                headline,
                                str(self.rng.choice(_BODIES)),
                                f"https://www.{self.tenant_id}.example/demo?{query}",
                            )
                        )
                        self.ads.append(
                            _Ad(
                                platform,
                                ad_id,
                                len(self.campaigns) - 1,
                                float(ad_weights[position]),
                            )
                        )
                        position += 1

    def _deliver(self) -> dict[str, np.ndarray]:
        """Spend, impressions and clicks per ad and day; returns channel spend per day."""
        tables = self.world.tables
        n_campaigns = len(self.campaigns)
        budgets = np.array([c["base_budget"] for c in self.campaigns], dtype=np.int64)
        log_cpm = np.log([c["cpm"] for c in self.campaigns])
        log_ctr = np.log([c["ctr"] for c in self.campaigns])
        base_cpm, base_ctr = log_cpm.copy(), log_ctr.copy()
        channel_spend = {p: np.zeros(self.days) for p in CHANNELS}
        ads_by_campaign: dict[int, list[_Ad]] = defaultdict(list)
        for ad in self.ads:
            ads_by_campaign[ad.campaign].append(ad)
        # Clicks per ad and day, by platform (rows in the order of platform_ads).
        self.platform_ads = {p: [a for a in self.ads if a.platform == p] for p in CHANNELS}
        ad_row = {a.ad_id: row for ads in self.platform_ads.values() for row, a in enumerate(ads)}
        self.clicks = {
            p: np.zeros((len(ads), self.days), np.int64) for p, ads in self.platform_ads.items()
        }
        self.delivery_index: dict[tuple[str, int, int], int] = {}
        for day in range(self.days):
            current = self.world.start + timedelta(days=day)
            if day % 14 == 0 and day > 0:
                # Budgets move now and then: the variation that curve fitting learns from.
                moves = self.rng.random(n_campaigns) < 0.5
                factor = np.exp(self.rng.normal(0, 0.25, n_campaigns))
                base = np.array([c["base_budget"] for c in self.campaigns], dtype=float)
                proposed = np.clip(budgets * factor, 0.4 * base, 2.5 * base)
                budgets = np.where(moves, np.round(proposed / 10_000) * 10_000, budgets).astype(
                    np.int64
                )
            log_cpm += self.rng.normal(0, 0.02, n_campaigns) + 0.05 * (base_cpm - log_cpm)
            log_ctr += self.rng.normal(0, 0.02, n_campaigns) + 0.05 * (base_ctr - log_ctr)
            pacing = self.rng.uniform(0.85, 1.0, n_campaigns)
            spend_micros = np.floor(budgets * pacing).astype(np.int64)
            for ci, campaign in enumerate(self.campaigns):
                tables["campaign_budget_daily"].append(
                    (campaign["platform"], campaign["campaign_id"], current, int(budgets[ci]))
                )
                ads = ads_by_campaign[ci]
                weights = np.array([a.weight for a in ads]) * np.exp(
                    self.rng.normal(0, 0.1, len(ads))
                )
                weights /= weights.sum()
                # Floor per ad, so the campaign never spends more than its budget. Meta and
                # LinkedIn bill in minor units (cents); Google reports micros.
                unit = CHANNELS[campaign["platform"]].billing_unit_micros
                ad_micros = (np.floor(spend_micros[ci] * weights / unit) * unit).astype(np.int64)
                cpm, ctr = math.exp(log_cpm[ci]), math.exp(log_ctr[ci])
                impressions = np.round(ad_micros / MICROS / cpm * 1000).astype(np.int64)
                clicks = self.rng.binomial(impressions, ctr)
                for ad, micros, imps, clk in zip(ads, ad_micros, impressions, clicks, strict=True):
                    self.delivery_index[(ad.platform, ad.ad_id, day)] = len(
                        tables["ad_delivery_daily"]
                    )
                    tables["ad_delivery_daily"].append(
                        [
                            ad.platform,
                            ad.ad_id,
                            current,
                            campaign["account_id"],
                            self.tenant_id,
                            int(micros),
                            int(imps),
                            int(clk),
                            Decimal(0),
                            Decimal(0),
                        ]
                    )
                    self.clicks[ad.platform][ad_row[ad.ad_id], day] = int(clk)
                # The response to spend is felt in the business's own currency.
                to_tenant = float(self.world.cross_rate(day, campaign["currency"], self.currency))
                channel_spend[campaign["platform"]][day] += (
                    int(ad_micros.sum()) / MICROS * to_tenant
                )
        for ci, campaign in enumerate(self.campaigns):
            tables["campaigns"].append(
                (
                    campaign["platform"],
                    campaign["campaign_id"],
                    campaign["account_id"],
                    self.tenant_id,
                    campaign["slug"],
                    campaign["objective"],
                    "ENABLED",
                    campaign["budget_id"],
                    int(budgets[ci]),
                )
            )
        return channel_spend

    # -- journeys, leads and the truth --------------------------------------------------
    def _emit_sessions(self, audience: Audience, events: Events) -> None:
        """Every visit inside the world becomes a web session: a paid click carries the ad's
        UTMs and (mostly) its click ID; unpaid visits land on the site."""
        inside = events.day < self.days
        prospect, day = events.prospect[inside], events.day[inside]
        second, channel, slot = events.second[inside], events.channel[inside], events.slot[inside]
        count = len(prospect)
        # One anonymous id per device: a prospect who changes device starts a second one.
        visitors = np.unique(prospect)
        self.first_device = dict(
            zip(visitors.tolist(), self._tokens(len(visitors), 16), strict=True)
        )
        switchers = visitors[audience.prospects.switch_day[visitors] < self.days]
        self.second_device = dict(
            zip(switchers.tolist(), self._tokens(len(switchers), 16), strict=True)
        )
        session_ids = self._tokens(count, 20)
        click_tokens = self._tokens(count, 24)
        lost = self.rng.random(count) < 0.08  # blocked or stripped click IDs
        pages = self.rng.choice(["/", "/pricing", "/blog/attribution-guide", "/demo"], count)
        # The ad behind each paid click: slot k of a channel-day is that day's k-th click.
        ads_of_day = {
            (c, d): np.repeat([a.ad_id for a in self.platform_ads[c]], self.clicks[c][:, d])
            for c in PAID_CHANNELS
            for d in range(self.days)
        }
        urls = {row[1]: row[8] for row in self.world.tables["ads"] if row[5] == self.tenant_id}
        utms = {
            ad_id: dict(pair.split("=", 1) for pair in url.split("?", 1)[1].split("&"))
            for ad_id, url in urls.items()
        }
        site = f"https://www.{self.tenant_id}.example"
        rows = self.world.tables["sessions"]
        self.visits: dict[int, list[tuple[int, int, str, int | None]]] = defaultdict(list)
        for i, (who, d, sec, ch, k) in enumerate(
            zip(
                prospect.tolist(), day.tolist(), second.tolist(), channel.tolist(),
                slot.tolist(), strict=True,
            )
        ):  # fmt: skip
            anonymous_id = self._anonymous_id(audience, who, d)
            at = self._at(d, sec)
            name = CHANNEL_NAMES[ch]
            if k >= 0:
                ad_id = int(ads_of_day[(name, d)][k])
                click_id = CHANNELS[name].click_id
                utm = utms[ad_id]
                token = None if lost[i] else click_tokens[i]
                landing = urls[ad_id] + (f"&{click_id}={token}" if token else "")
                rows.append(
                    (
                        session_ids[i], self.tenant_id, anonymous_id, at, name, ad_id, landing,
                        None, utm.get("utm_source"), utm.get("utm_medium"),
                        utm.get("utm_campaign"), utm.get("utm_content"),
                        token if click_id == "gclid" else None,
                        token if click_id == "fbclid" else None,
                        token if click_id == "li_fat_id" else None,
                    )
                )  # fmt: skip
                self.visits[who].append((d, sec, name, ad_id))
            else:
                rows.append(
                    (
                        session_ids[i], self.tenant_id, anonymous_id, at, name, None,
                        site + str(pages[i]), _REFERRERS[name],
                        None, None, None, None, None, None, None,
                    )
                )  # fmt: skip
                self.visits[who].append((d, sec, name, None))

    def _leads(self, audience: Audience, factual: Outcome) -> None:
        """A lead (and perhaps a deal) for every prospect who converted inside the world."""
        stages = stages_of(audience, factual)
        order = np.lexsort((stages.lead_second, stages.lead_day))
        p = audience.prospects
        industries = list(_INDUSTRIES)
        opened = stages.opportunity
        causes = [*PAID_CHANNELS, BASELINE]
        for i in order.tolist():
            who = int(stages.prospect[i])
            day, second = int(stages.lead_day[i]), int(stages.lead_second[i])
            created_at = self._at(day, second)
            anonymous_id = self._anonymous_id(audience, who, day)
            cause = causes[int(factual.cause[who])]
            lead_id = self._lead_row(
                anonymous_id, created_at, cause, float(stages.propensity[i]),
                _SENIORITY_LEVELS[int(p.seniority[who])], industries[int(p.industry[who])],
                int(p.company_size[who]), float(p.intent[who]),
            )  # fmt: skip
            self._platform_claims(self.visits[who], day, second, created_at)
            if opened[i]:
                self._deal_rows(lead_id, cause, stages, i)

    def _anonymous_id(self, audience: Audience, prospect: int, day: int) -> str:
        """The id of the device the prospect uses on `day`."""
        if day >= audience.prospects.switch_day[prospect]:
            return self.second_device[prospect]
        return self.first_device[prospect]

    def _lead_row(
        self,
        anonymous_id: str,
        created_at: datetime,
        cause: str,
        propensity: float,
        seniority: str,
        industry: str,
        company_size: int,
        intent: float,
    ) -> int:
        rng = self.rng
        lead_id = self._id(12)
        titles, _ = _SENIORITY[seniority]
        phrases = [str(rng.choice(_NEUTRAL))]
        if intent > 0.6 or (intent > 0 and rng.random() < 0.3):
            phrases.append(str(rng.choice(_HIGH_INTENT)))
        elif intent < -0.6 or (intent < 0 and rng.random() < 0.3):
            phrases.append(str(rng.choice(_LOW_INTENT)))
        rng.shuffle(phrases)
        first, last = str(rng.choice(_FIRST)), str(rng.choice(_LAST))
        company = f"{rng.choice(_COMPANY_STEMS)} {rng.choice(_COMPANY_SUFFIX)}"
        country = str(rng.choice(_COUNTRIES))
        description = (
            f"{company} is a {company_size:,}-person {industry.replace('_', ' ')} company "
            f"based in {country}."
        )
        self.world.tables["leads"].append(
            (
                lead_id,
                self.tenant_id,
                anonymous_id,
                created_at,
                f"{first}.{last}.{lead_id % 100_000}@{company.split()[0].lower()}.example".lower(),
                first,
                last,
                str(rng.choice(titles)),
                seniority,
                company,
                company_size,
                industry,
                country,
                "; ".join(phrases).capitalize() + ".",
                description,
                cause,
                propensity,
            )
        )
        return lead_id

    def _platform_claims(
        self, visits: list[tuple[int, int, str, int | None]], day: int, second: int,
        converted_at: datetime,
    ) -> None:  # fmt: skip
        """Each platform claims the lead for its last click inside its own window (its pixel
        sees the person across devices)."""
        last_click: dict[str, tuple[int, int, int]] = {}
        for visit_day, visit_second, channel, ad_id in visits:
            if (visit_day, visit_second) > (day, second):
                break
            if ad_id is not None:
                last_click[channel] = (visit_day, visit_second, ad_id)
        for platform, (visit_day, visit_second, ad_id) in last_click.items():
            clicked_at = self._at(visit_day, visit_second)
            if converted_at - clicked_at > timedelta(
                days=CHANNELS[platform].attribution_window_days
            ):
                continue
            row = self.world.tables["ad_delivery_daily"][
                self.delivery_index[(platform, ad_id, visit_day)]
            ]
            row[8] += 1
            account_currency = _ACCOUNT_CURRENCY_OVERRIDES.get(platform, self.currency)
            rate = self.world.cross_rate(visit_day, self.currency, account_currency)
            row[9] += (self.lead_value * rate).quantize(Decimal("0.01"))

    def _deal_rows(self, lead_id: int, cause: str, stages: Stages, i: int) -> None:
        tables = self.world.tables
        deal_id = self._id(12)
        opened = self._at(int(stages.opportunity_day[i]), int(stages.opportunity_second[i]))
        tables["deal_stage_history"].append((deal_id, "opportunity", opened))
        stage, closed_at = "opportunity", None
        if stages.close_day[i] < self.days:
            closed_at = self._at(int(stages.close_day[i]), int(stages.close_second[i]))
            stage = "closed_won" if stages.won[i] else "closed_lost"
            tables["deal_stage_history"].append((deal_id, stage, closed_at))
        amount = Decimal(f"{stages.amount[i]:.2f}")
        tables["deals"].append(
            (deal_id, lead_id, self.tenant_id, amount, stage, opened, closed_at, cause)
        )

    def _truth(self, audience: Audience, factual: Outcome, spend: dict[str, np.ndarray]) -> None:
        """Counterfactual credit per day, stage and channel; its noise; the response curves."""
        tables = self.world.tables
        truth = channel_credit(audience, factual)
        for (stage, channel), per_day in truth.credit.items():
            removal = truth.removal.get((stage, channel))
            for day in np.flatnonzero(per_day.any(axis=1)).tolist():
                tables["true_channel_credit"].append(
                    (
                        self.tenant_id, self.world.start + timedelta(days=day), stage, channel,
                        float(per_day[day, 0]), float(per_day[day, 1]),
                        None if removal is None else float(removal[day, 0]),
                        None if removal is None else float(removal[day, 1]),
                    )
                )  # fmt: skip
        for (stage, channel), (count_se, value_se) in truth.standard_error.items():
            tables["true_credit_noise"].append((self.tenant_id, stage, channel, count_se, value_se))
        points = response_curves(audience, factual, spend)
        for point in points:
            tables["true_response_curves"].append(
                (
                    self.tenant_id, point.channel, point.multiplier, point.daily_spend,
                    point.incremental_leads, point.incremental_revenue,
                )
            )  # fmt: skip
        for channel in PAID_CHANNELS:
            curve = fit_hill(
                [p for p in points if p.channel == channel], audience.behaviour[channel].decay
            )
            tables["true_curves"].append(
                (
                    self.tenant_id, channel, curve.theta, curve.beta, curve.half_saturation,
                    curve.shape,
                )
            )  # fmt: skip
