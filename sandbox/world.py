"""A simulated marketing world whose truth is causal, so our numbers can be graded.

Each tenant is a business with ad accounts on Google Ads, Meta and LinkedIn. Budgets drive
spend; spend drives impressions and clicks; each channel's adstock drives its *incremental*
leads through a Hill curve; a baseline of organic/direct leads arrives regardless. Every lead
has exactly one cause, and its journey mixes the causing touch with touches that did not
cause it (other paid clicks, a direct visit last), which is what fools naive attribution.
Leads carry a hidden propensity that decides whether they become won deals.

Everything is drawn from `numpy.random.default_rng([seed, tenant_index])`, so a world is a
pure function of (profile, seed, end date). See ../shared/SANDBOX_MODEL.md.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import numpy as np

# Bump when a change alters what a (profile, seed, end) generates: stored worlds of another
# version are regenerated instead of reused.
GENERATOR_VERSION = 5

PAID_CHANNELS = ("google_ads", "meta", "linkedin")
UNPAID_CHANNELS = ("organic_search", "direct", "referral")
BASELINE = "baseline"
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
    """How a platform's inventory behaves; the true curve parameters are drawn around these."""

    budget_share: float
    cpm: tuple[float, float]  # currency per 1000 impressions
    ctr: tuple[float, float]
    theta: tuple[float, float]  # adstock carry-over
    beta: tuple[float, float]  # max incremental leads per day
    shape: tuple[float, float]  # Hill n
    utm_source: str
    utm_medium: str
    click_id: str
    attribution_window_days: int  # the platform's own click-through window for its claims
    seniority_lift: float  # how much more senior this channel's audience is
    billing_unit_micros: int  # spend granularity: 1 (micros) or 10_000 (cents)
    # Whether the ad's URL names the ad (utm_content filled by the platform's ad id macro).
    # Google advertisers lean on auto-tagging: the gclid, resolved by click_view, names it.
    ad_id_in_url: bool


CHANNELS: dict[str, ChannelTraits] = {
    "google_ads": ChannelTraits(
        budget_share=0.45, cpm=(35.0, 60.0), ctr=(0.03, 0.06), theta=(0.05, 0.25),
        beta=(8.0, 16.0), shape=(1.2, 2.0), utm_source="google", utm_medium="cpc",
        click_id="gclid", attribution_window_days=30, seniority_lift=0.0,
        billing_unit_micros=1, ad_id_in_url=False,
    ),
    "meta": ChannelTraits(
        budget_share=0.30, cpm=(8.0, 14.0), ctr=(0.008, 0.015), theta=(0.30, 0.50),
        beta=(4.0, 10.0), shape=(1.5, 2.5), utm_source="facebook", utm_medium="paid_social",
        click_id="fbclid", attribution_window_days=7, seniority_lift=-0.3,
        billing_unit_micros=10_000, ad_id_in_url=True,
    ),
    "linkedin": ChannelTraits(
        budget_share=0.25, cpm=(30.0, 55.0), ctr=(0.004, 0.008), theta=(0.40, 0.60),
        beta=(3.0, 7.0), shape=(1.3, 2.2), utm_source="linkedin", utm_medium="paid_social",
        click_id="li_fat_id", attribution_window_days=30, seniority_lift=0.6,
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
    if isinstance(profile, str):
        profile = PROFILES[profile]
    end = end or default_end_date()
    start = end - timedelta(days=profile.days - 1)
    world = World(profile=profile, seed=seed, start=start, end=end)
    _simulate_fx(world)
    for index in range(profile.tenants):
        _TenantSimulation(world, index).run()
    return world


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


@dataclass
class _Session:
    session_id: str
    day: int
    at: datetime
    channel: str
    ad_id: int | None
    anonymous_id: str
    landing_url: str
    referrer: str | None
    utm: dict[str, str]
    click_ids: dict[str, str]


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

    # -- the simulation ------------------------------------------------------------------
    def run(self) -> None:
        self._build_accounts()
        spend = self._deliver()
        self.sessions: list[_Session] = []
        self.paid_pool: dict[tuple[str, int], list[int]] = defaultdict(list)
        self._click_sessions()
        self._background_sessions()
        self._leads(spend)
        self._emit_sessions()

    def _build_accounts(self) -> None:
        tables = self.world.tables
        profile = self.world.profile
        total_budget = float(self.rng.uniform(300, 900))
        self.campaigns: list[dict] = []
        self.ads: list[_Ad] = []
        self.curves: dict[str, dict[str, float]] = {}
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
            theta = float(self.rng.uniform(*traits.theta))
            steady_adstock = channel_budget * 0.92 / (1 - theta)
            # Today's spend sits around the curve's midpoint, so moving budget really matters.
            self.curves[platform] = {
                "theta": theta,
                "beta": float(self.rng.uniform(*traits.beta)),
                "half_saturation": steady_adstock * float(self.rng.uniform(0.7, 1.6)),
                "shape": float(self.rng.uniform(*traits.shape)),
            }
            c = self.curves[platform]
            tables["true_curves"].append(
                (self.tenant_id, platform, c["theta"], c["beta"], c["half_saturation"], c["shape"])
            )

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
        self.ad_clicks: dict[tuple[int, int], int] = {}
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
                    self.ad_clicks[(ad.ad_id, day)] = int(clk)
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

    def _click_sessions(self) -> None:
        """Every paid click becomes a web session carrying UTMs and (mostly) a click ID."""
        ads = {ad.ad_id: ad for ad in self.ads}
        urls = {row[1]: row[8] for row in self.world.tables["ads"] if row[5] == self.tenant_id}
        for (ad_id, day), clicks in self.ad_clicks.items():
            if clicks == 0:
                continue
            ad = ads[ad_id]
            traits = CHANNELS[ad.platform]
            day_start = self._day_start_utc(day)
            seconds = np.sort(self.rng.integers(0, 86_400, clicks))
            lost = self.rng.random(clicks) < 0.08  # blocked or stripped click IDs
            base_url = urls[ad_id]
            utm = dict(pair.split("=", 1) for pair in base_url.split("?", 1)[1].split("&"))
            session_ids, anonymous_ids = self._tokens(clicks, 20), self._tokens(clicks, 16)
            click_tokens = self._tokens(clicks, 24)
            pool = self.paid_pool[(ad.platform, day)]
            for second, lost_id, session_id, anonymous_id, token in zip(
                seconds.tolist(),
                lost.tolist(),
                session_ids,
                anonymous_ids,
                click_tokens,
                strict=True,
            ):
                click_ids = {} if lost_id else {traits.click_id: token}
                landing = f"{base_url}&{traits.click_id}={token}" if click_ids else base_url
                pool.append(len(self.sessions))
                self.sessions.append(
                    _Session(
                        session_id,
                        day,
                        day_start + timedelta(seconds=second),
                        ad.platform,
                        ad_id,
                        anonymous_id,
                        landing,
                        None,
                        utm,
                        click_ids,
                    )
                )
        for pool in self.paid_pool.values():
            self.rng.shuffle(pool)

    def _unpaid_session(
        self, day: int, at: datetime, anonymous_id: str, channel: str | None = None
    ) -> int:
        channel = channel or str(self.rng.choice(UNPAID_CHANNELS, p=[0.45, 0.4, 0.15]))
        site = f"https://www.{self.tenant_id}.example"
        referrer = {
            "organic_search": "https://www.google.com/",
            "direct": None,
            "referral": "https://news.example.com/best-tools",
        }[channel]
        self.sessions.append(
            _Session(
                self._token(20),
                day,
                at,
                channel,
                None,
                anonymous_id,
                site + str(self.rng.choice(["/", "/pricing", "/blog/attribution-guide", "/demo"])),
                referrer,
                {},
                {},
            )
        )
        return len(self.sessions) - 1

    def _background_sessions(self) -> None:
        """Organic and direct visitors who never convert."""
        for day in range(self.days):
            day_start = self._day_start_utc(day)
            for _ in range(int(self.rng.poisson(25))):
                at = day_start + timedelta(seconds=int(self.rng.integers(0, 86_400)))
                self._unpaid_session(day, at, self._token(16))

    def _take_paid_session(self, platform: str, day: int) -> int | None:
        """An unclaimed paid click of `platform` on `day`: one person per anonymous id."""
        pool = self.paid_pool.get((platform, day))
        return pool.pop() if pool else None

    def _leads(self, spend: dict[str, np.ndarray]) -> None:
        causes: list[tuple[int, str]] = []  # (day, cause)
        for platform, curve in self.curves.items():
            adstock = np.zeros(self.days)
            carried = spend[platform][0] / (1 - curve["theta"])  # steady state before day 0
            for day in range(self.days):
                carried = spend[platform][day] + curve["theta"] * carried
                adstock[day] = carried
            n, k = curve["shape"], curve["half_saturation"]
            expected = curve["beta"] * adstock**n / (k**n + adstock**n)
            for day, count in enumerate(self.rng.poisson(expected)):
                causes.extend((day, platform) for _ in range(int(count)))
        baseline_rate = float(self.rng.uniform(2.0, 5.0))
        for day, count in enumerate(self.rng.poisson(baseline_rate, self.days)):
            causes.extend((day, BASELINE) for _ in range(int(count)))
        causes.sort(key=lambda item: (item[0], item[1]))
        end_utc = self._day_start_utc(self.days)
        for day, cause in causes:
            journey = self._journey(day, cause)
            if journey is None:
                continue
            converted_at = self.sessions[journey[-1]].at + timedelta(
                minutes=int(self.rng.integers(1, 20))
            )
            if converted_at >= end_utc:
                continue  # the form fill falls after the world's last day: not a lead yet
            self._lead(cause, journey, converted_at)

    def _journey(self, day: int, cause: str) -> list[int] | None:
        """Session indices of one person's path, in time order; the last one converts."""
        anonymous_id = self._token(16)
        touches: list[int] = []
        if cause == BASELINE:
            anchor_day = day
        else:
            causal = self._take_paid_session(cause, day)
            if causal is None:
                return None
            touches.append(causal)
            anchor_day = (
                day + int(min(self.rng.geometric(0.3) - 1, 21)) if self.rng.random() > 0.4 else day
            )
            if anchor_day >= self.days:
                return None  # converts after the world's last day
        # Paid clicks that did not cause this lead: the person also saw other campaigns.
        for platform in PAID_CHANNELS:
            p_other = 0.3 if cause == BASELINE else (0.25 if platform != cause else 0.0)
            if self.rng.random() < p_other:
                other_day = int(np.clip(anchor_day - self.rng.integers(0, 6), 0, self.days - 1))
                other = self._take_paid_session(platform, other_day)
                if other is not None:
                    touches.append(other)
        for index in touches:
            self.sessions[index].anonymous_id = anonymous_id
        conversion_day = min(anchor_day, self.days - 1)
        last_paid = max(
            (self.sessions[i].at for i in touches), default=self._day_start_utc(conversion_day)
        )
        ends_unpaid = cause == BASELINE or self.rng.random() < 0.5 or conversion_day > day
        if ends_unpaid:
            # Brand search or a typed-in URL just before the form: what last touch over-credits.
            earliest = max(last_paid, self._day_start_utc(conversion_day))
            at = earliest + timedelta(seconds=int(self.rng.integers(60, 12 * 3600)))
            channel = str(self.rng.choice(["direct", "organic_search"], p=[0.55, 0.45]))
            touches.append(self._unpaid_session(conversion_day, at, anonymous_id, channel))
        return sorted(touches, key=lambda i: self.sessions[i].at)

    def _lead(self, cause: str, journey: list[int], created_at: datetime) -> None:
        rng, tables = self.rng, self.world.tables
        lead_id = self._id(12)
        seniority_p = np.array([0.08, 0.14, 0.22, 0.3, 0.26])
        lift = CHANNELS[cause].seniority_lift if cause in CHANNELS else 0.0
        seniority_p = seniority_p * np.exp(lift * np.array([1.0, 0.6, 0.3, 0.0, -0.5]))
        seniority = str(rng.choice(_SENIORITY_LEVELS, p=seniority_p / seniority_p.sum()))
        titles, seniority_weight = _SENIORITY[seniority]
        industry = str(rng.choice(list(_INDUSTRIES)))
        company_size = int(np.clip(rng.lognormal(4.0, 1.4), 1, 50_000))
        intent = float(rng.normal())
        phrases = [str(rng.choice(_NEUTRAL))]
        if intent > 0.6 or (intent > 0 and rng.random() < 0.3):
            phrases.append(str(rng.choice(_HIGH_INTENT)))
        elif intent < -0.6 or (intent < 0 and rng.random() < 0.3):
            phrases.append(str(rng.choice(_LOW_INTENT)))
        rng.shuffle(phrases)
        channel_quality = {"google_ads": 0.2, "meta": -0.3, "linkedin": 0.4, BASELINE: 0.0}[cause]
        logit = (
            -2.6
            + seniority_weight
            + _INDUSTRIES[industry]
            + 0.25 * math.log10(company_size)
            + channel_quality
            + 0.12 * (len(journey) - 1)
            + 0.9 * intent
            + float(rng.normal(0, 0.4))
        )
        propensity = 1 / (1 + math.exp(-logit))
        first, last = str(rng.choice(_FIRST)), str(rng.choice(_LAST))
        company = f"{rng.choice(_COMPANY_STEMS)} {rng.choice(_COMPANY_SUFFIX)}"
        country = str(rng.choice(_COUNTRIES))
        description = (
            f"{company} is a {company_size:,}-person {industry.replace('_', ' ')} company "
            f"based in {country}."
        )
        anonymous_id = self.sessions[journey[-1]].anonymous_id
        tables["leads"].append(
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
        self._platform_claims(journey, created_at)
        self._deal(lead_id, cause, propensity, company_size, created_at)

    def _platform_claims(self, journey: list[int], converted_at: datetime) -> None:
        """Each platform claims the lead for its last click inside its own window."""
        last_click: dict[str, _Session] = {}
        for index in journey:
            session = self.sessions[index]
            if session.ad_id is not None:
                last_click[session.channel] = session
        for platform, session in last_click.items():
            if converted_at - session.at > timedelta(
                days=CHANNELS[platform].attribution_window_days
            ):
                continue
            row = self.world.tables["ad_delivery_daily"][
                self.delivery_index[(platform, session.ad_id, session.day)]
            ]
            row[8] += 1
            account_currency = _ACCOUNT_CURRENCY_OVERRIDES.get(platform, self.currency)
            rate = self.world.cross_rate(session.day, self.currency, account_currency)
            row[9] += (self.lead_value * rate).quantize(Decimal("0.01"))

    def _deal(
        self, lead_id: int, cause: str, propensity: float, size: int, created_at: datetime
    ) -> None:
        rng, tables = self.rng, self.world.tables
        end_utc = self._day_start_utc(self.days)
        won = rng.random() < propensity
        p_opportunity = min(0.95, 2.2 * propensity)
        if not won and rng.random() >= (p_opportunity - propensity) / (1 - propensity):
            return
        opened = created_at + timedelta(hours=float(rng.gamma(2.0, 96.0)))
        if opened >= end_utc:
            return
        deal_id = self._id(12)
        closes = opened + timedelta(hours=float(rng.gamma(3.0, 160.0)))
        amount = Decimal(str(round(4000 * (size / 50) ** 0.35 * float(rng.lognormal(0, 0.4)), 2)))
        tables["deal_stage_history"].append((deal_id, "opportunity", opened))
        stage, closed_at = "opportunity", None
        if closes < end_utc:
            stage, closed_at = ("closed_won" if won else "closed_lost"), closes
            tables["deal_stage_history"].append((deal_id, stage, closes))
        tables["deals"].append(
            (deal_id, lead_id, self.tenant_id, amount, stage, opened, closed_at, cause)
        )

    def _emit_sessions(self) -> None:
        rows = self.world.tables["sessions"]
        for s in self.sessions:
            rows.append(
                (
                    s.session_id,
                    self.tenant_id,
                    s.anonymous_id,
                    s.at,
                    s.channel,
                    s.ad_id,
                    s.landing_url,
                    s.referrer,
                    s.utm.get("utm_source"),
                    s.utm.get("utm_medium"),
                    s.utm.get("utm_campaign"),
                    s.utm.get("utm_content"),
                    s.click_ids.get("gclid"),
                    s.click_ids.get("fbclid"),
                    s.click_ids.get("li_fat_id"),
                )
            )
