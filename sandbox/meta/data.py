"""Where the Meta sandbox gets its ad accounts, objects and delivery: the simulated world.

This module translates the world (platform-neutral ``sandbox.*`` tables) into what Meta
keeps, so the server only formats JSON:

* ids become strings (Graph ids are strings on the wire);
* statuses become Meta's (ACTIVE, PAUSED, DELETED, ARCHIVED);
* budgets: the world budgets campaigns, Meta's API budgets ad sets (``daily_budget`` in
  the currency's minor units). We model ad-set budgets (no campaign budget optimisation):
  each campaign's daily budget is split across its ad sets in id order, whole minor units,
  the remainder one unit at a time to the first ad sets, so ad-set budgets add up to the
  campaign's exactly and a POST on an ad set (how Meta changes budgets) has an obvious
  meaning;
* a creative's ``link_url`` is the landing page and its ``url_tags`` the UTM query string,
  which Meta appends at click time (the world stores the two joined as ``final_url``);
* the world's ``clicks`` are link clicks. Meta's ``clicks`` counts every click (likes,
  profile, "see more"), so the server reports more of those; see ``all_clicks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

import psycopg

from sandbox.budgets import latest_changes, record_budget_change

PLATFORM = "meta"
MICROS = 1_000_000
# Meta's "currency offset": how many minor units make one unit. 100 for most currencies;
# these are counted in whole units (Meta's currency reference).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"}
)


def currency_offset(currency: str) -> int:
    """Minor units per unit of ``currency`` as Meta counts budgets."""
    return 1 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 100


def meta_status(world_status: str) -> str:
    """The world's free-text statuses as Meta's configured-status names."""
    normalized = world_status.strip().upper()
    aliases = {"ENABLED": "ACTIVE", "RUNNING": "ACTIVE", "REMOVED": "DELETED"}
    normalized = aliases.get(normalized, normalized)
    return normalized if normalized in ("ACTIVE", "PAUSED", "DELETED", "ARCHIVED") else "PAUSED"


def meta_objective(world_objective: str) -> str:
    """The world's objectives as Meta's outcome-based ones (the only kind v17+ accepts)."""
    outcomes = {"LEAD_GENERATION": "OUTCOME_LEADS", "LINK_CLICKS": "OUTCOME_TRAFFIC"}
    normalized = world_objective.strip().upper()
    return outcomes.get(normalized, normalized)


def all_clicks(link_clicks: int) -> int:
    """Meta's ``clicks`` (all clicks) for a day with ``link_clicks``: link clicks plus 30%
    (rounded half up) of other clicks. Deterministic, so tests can predict it exactly."""
    return link_clicks + (3 * link_clicks + 5) // 10


def split_budget(total_minor: int, count: int) -> list[int]:
    """``total_minor`` in ``count`` whole-unit parts that add up exactly; the remainder goes
    one unit each to the first parts."""
    if count <= 0:
        return []
    base, remainder = divmod(total_minor, count)
    return [base + (1 if i < remainder else 0) for i in range(count)]


@dataclass(frozen=True)
class MetaAccount:
    account_id: str  # without the act_ prefix
    name: str
    currency: str
    timezone_name: str


@dataclass(frozen=True)
class MetaCampaign:
    campaign_id: str
    account_id: str
    name: str
    objective: str
    status: str
    daily_budget_minor: int  # the campaign's whole budget; Meta shows it on the ad sets


@dataclass(frozen=True)
class MetaAdSet:
    adset_id: str
    campaign_id: str
    account_id: str
    name: str
    status: str
    daily_budget_minor: int


@dataclass(frozen=True)
class MetaAd:
    ad_id: str
    adset_id: str
    campaign_id: str
    account_id: str
    name: str
    status: str
    creative_id: str
    title: str
    body: str
    link_url: str
    url_tags: str


@dataclass(frozen=True)
class MetaDelivery:
    """One ad on one day, as the world says it really delivered."""

    ad_id: str
    date: date
    spend_micros: int  # whole cents for Meta
    impressions: int
    link_clicks: int
    leads: Decimal
    lead_value: Decimal


class MetaData(Protocol):
    """The sandbox server's view of Meta's ad accounts."""

    def account(self, account_id: str) -> MetaAccount | None:
        """The account, or None when it does not exist (the API answers an error)."""
        ...

    def campaigns(self, account_id: str) -> list[MetaCampaign]: ...

    def adsets(self, account_id: str) -> list[MetaAdSet]: ...

    def ads(self, account_id: str) -> list[MetaAd]: ...

    def delivery(self, account_id: str, since: date, until: date) -> list[MetaDelivery]:
        """Ad x day delivery between since and until inclusive (account time zone)."""
        ...

    def adset_account(self, adset_id: str) -> str | None:
        """The ad account an ad set belongs to, or None when there is no such ad set."""
        ...

    def set_adset_budget(self, account_id: str, adset_id: str, daily_budget_minor: int) -> None:
        """Record a new ad-set daily budget (a POST on the ad set); reads show it at once."""
        ...


def split_landing_url(final_url: str) -> tuple[str, str]:
    """``https://x/y?utm_source=...`` as (link_url, url_tags)."""
    link, _, tags = final_url.partition("?")
    return link, tags


def creative_id(ad_id: int | str) -> str:
    """A stable creative id per ad (the world has one creative per ad and no ids for them)."""
    return f"9{ad_id}"


class PostgresMetaData:
    """Reads the simulated world (``sandbox.*`` tables) for Meta.

    Budgets are as of ``as_of`` (the latest budget on or before it, from
    ``sandbox.campaign_budget_daily``), or the campaign's current budget when None: the
    real API only knows "now", and a sandbox on a simulated clock can say what now is.
    Opens a connection per call: the HTTP server calls from several threads.
    """

    def __init__(self, conninfo: str, *, as_of: date | None = None) -> None:
        self._conninfo = conninfo
        self._as_of = as_of

    def _query(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with psycopg.connect(self._conninfo) as conn:
            return conn.execute(query, params).fetchall()

    def account(self, account_id: str) -> MetaAccount | None:
        rows = self._query(
            "SELECT account_id, name, currency, time_zone FROM sandbox.ad_accounts "
            "WHERE platform = %s AND account_id = %s",
            (PLATFORM, account_id),
        )
        return MetaAccount(*rows[0]) if rows else None

    def campaigns(self, account_id: str) -> list[MetaCampaign]:
        rows = self._query(
            """
            SELECT c.campaign_id, c.account_id, c.name, c.objective, c.status, acc.currency,
                   COALESCE(
                       (SELECT b.budget_micros FROM sandbox.campaign_budget_daily b
                        WHERE b.platform = c.platform AND b.campaign_id = c.campaign_id
                          AND b.date <= %s
                        ORDER BY b.date DESC LIMIT 1),
                       c.daily_budget_micros)
            FROM sandbox.campaigns c
            JOIN sandbox.ad_accounts acc
              ON acc.platform = c.platform AND acc.account_id = c.account_id
            WHERE c.platform = %s AND c.account_id = %s
            ORDER BY c.campaign_id
            """,
            (self._as_of or date.max, PLATFORM, account_id),
        )
        return [
            MetaCampaign(
                campaign_id=str(campaign_id),
                account_id=account,
                name=name,
                objective=meta_objective(objective),
                status=meta_status(status),
                # Exact for the world (Meta budgets are whole cents); floor otherwise.
                daily_budget_minor=int(budget_micros) * currency_offset(currency) // MICROS,
            )
            for campaign_id, account, name, objective, status, currency, budget_micros in rows
        ]

    def adsets(self, account_id: str) -> list[MetaAdSet]:
        campaigns = {c.campaign_id: c for c in self.campaigns(account_id)}
        rows = self._query(
            "SELECT ad_group_id, campaign_id, name FROM sandbox.ad_groups "
            "WHERE platform = %s AND account_id = %s ORDER BY campaign_id, ad_group_id",
            (PLATFORM, account_id),
        )
        changed = self._changed_adset_budgets()
        account = self.account(account_id)
        offset = currency_offset(account.currency) if account else 100
        by_campaign: dict[str, list[tuple[str, str]]] = {}
        for adset_id, campaign_id, name in rows:
            by_campaign.setdefault(str(campaign_id), []).append((str(adset_id), name))
        adsets = []
        for campaign_id, members in by_campaign.items():
            campaign = campaigns[campaign_id]
            budgets = split_budget(campaign.daily_budget_minor, len(members))
            for (adset_id, name), budget in zip(members, budgets, strict=True):
                adsets.append(
                    MetaAdSet(
                        adset_id=adset_id,
                        campaign_id=campaign_id,
                        account_id=account_id,
                        name=name,
                        status=campaign.status,
                        daily_budget_minor=changed[int(adset_id)] * offset // MICROS
                        if int(adset_id) in changed
                        else budget,
                    )
                )
        return sorted(adsets, key=lambda a: int(a.adset_id))

    def _changed_adset_budgets(self) -> dict[int, int]:
        with psycopg.connect(self._conninfo) as conn:
            return latest_changes(conn, PLATFORM, self._as_of)

    def adset_account(self, adset_id: str) -> str | None:
        if not adset_id.isdigit():
            return None
        rows = self._query(
            "SELECT account_id FROM sandbox.ad_groups WHERE platform = %s AND ad_group_id = %s",
            (PLATFORM, int(adset_id)),
        )
        return rows[0][0] if rows else None

    def set_adset_budget(self, account_id: str, adset_id: str, daily_budget_minor: int) -> None:
        account = self.account(account_id)
        if account is None:
            raise LookupError(f"no Meta account {account_id}")
        record_budget_change(
            self._conninfo,
            platform=PLATFORM,
            account_id=account_id,
            object_type="adset",
            object_id=int(adset_id),
            budget_micros=daily_budget_minor * MICROS // currency_offset(account.currency),
        )

    def ads(self, account_id: str) -> list[MetaAd]:
        rows = self._query(
            """
            SELECT a.ad_id, a.ad_group_id, a.campaign_id, c.status, a.headline, a.body,
                   a.final_url
            FROM sandbox.ads a
            JOIN sandbox.campaigns c ON c.platform = a.platform AND c.campaign_id = a.campaign_id
            WHERE a.platform = %s AND a.account_id = %s
            ORDER BY a.ad_id
            """,
            (PLATFORM, account_id),
        )
        ads = []
        for ad_id, adset_id, campaign_id, status, headline, body, final_url in rows:
            link_url, url_tags = split_landing_url(final_url)
            ads.append(
                MetaAd(
                    ad_id=str(ad_id),
                    adset_id=str(adset_id),
                    campaign_id=str(campaign_id),
                    account_id=account_id,
                    name=f"{headline} #{ad_id}",
                    status=meta_status(status),
                    creative_id=creative_id(ad_id),
                    title=headline,
                    body=body,
                    link_url=link_url,
                    url_tags=url_tags,
                )
            )
        return ads

    def delivery(self, account_id: str, since: date, until: date) -> list[MetaDelivery]:
        rows = self._query(
            """
            SELECT ad_id, date, cost_micros, impressions, clicks, conversions, conversions_value
            FROM sandbox.ad_delivery_daily
            WHERE platform = %s AND account_id = %s AND date BETWEEN %s AND %s
            ORDER BY date, ad_id
            """,
            (PLATFORM, account_id, since, until),
        )
        return [
            MetaDelivery(
                ad_id=str(ad_id),
                date=day,
                spend_micros=int(cost),
                impressions=int(impressions),
                link_clicks=int(clicks),
                leads=Decimal(conversions),
                lead_value=Decimal(value),
            )
            for ad_id, day, cost, impressions, clicks, conversions, value in rows
        ]
