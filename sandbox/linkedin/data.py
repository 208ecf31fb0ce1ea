"""Where the LinkedIn sandbox gets its ad accounts, campaigns, creatives and delivery from.

How the simulated world maps onto LinkedIn's hierarchy (account → campaign group → campaign
→ creative):

* world ``campaigns`` → LinkedIn **campaigns**, same ids. LinkedIn puts ``dailyBudget`` on the
  campaign and the world puts its budget on the campaign, so the budget an optimizer moves and
  the spend it caps stay one object, and campaign ids mean the same thing on every platform.
* LinkedIn **campaign groups** have no world counterpart (the world has no level above the
  campaign). Each world campaign gets its own group, whose id is the campaign's world
  ``budget_id``: unique, stable, and otherwise unused on LinkedIn. Named after the campaign.
* world ``ads`` → LinkedIn **creatives** (text ads: headline, description, landing page with
  the world's UTMs). World ``ad_groups`` have no LinkedIn level (creatives hang directly off
  campaigns); the ad group's name becomes the creative's name so the trail is kept.
* ``ad_delivery_daily`` → analytics per creative and day; spend is whole cents on LinkedIn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

import psycopg

from sandbox.budgets import record_budget_change

PLATFORM = "linkedin"


@dataclass(frozen=True)
class Account:
    account_id: str
    name: str
    currency: str
    time_zone: str


@dataclass(frozen=True)
class CampaignGroup:
    group_id: int
    account_id: str
    name: str
    status: str  # LinkedIn's: ACTIVE, PAUSED, ARCHIVED, ...


@dataclass(frozen=True)
class Campaign:
    campaign_id: int
    account_id: str
    group_id: int
    name: str
    status: str
    objective: str
    daily_budget_micros: int


@dataclass(frozen=True)
class Creative:
    creative_id: int
    campaign_id: int
    account_id: str
    name: str
    headline: str
    description: str
    landing_url: str


@dataclass(frozen=True)
class Delivery:
    """What one creative really spent and got on one day (the world's truth)."""

    creative_id: int
    campaign_id: int
    group_id: int
    account_id: str
    date: date
    cost_micros: int
    impressions: int
    clicks: int
    conversions: Decimal
    conversions_value: Decimal


class LinkedInData(Protocol):
    """The sandbox server's view of the LinkedIn accounts in the world."""

    def account(self, account_id: str) -> Account | None:
        """The account, or None when no such LinkedIn account exists."""
        ...

    def campaign_groups(self, account_id: str) -> list[CampaignGroup]: ...

    def campaigns(self, account_id: str) -> list[Campaign]: ...

    def set_campaign_budget(self, account_id: str, campaign_id: int, micros: int) -> None:
        """Record a new campaign daily budget (a PARTIAL_UPDATE); reads show it at once."""
        ...

    def creatives(self, account_id: str) -> list[Creative]: ...

    def delivery(self, account_ids: Sequence[str] | None, start: date, end: date) -> list[Delivery]:
        """Creative × day rows between start and end inclusive; all accounts when None."""
        ...


def linkedin_status(world_status: str) -> str:
    """The world's free-text campaign statuses as LinkedIn's campaign status names."""
    normalized = world_status.strip().upper()
    aliases = {"ENABLED": "ACTIVE", "RUNNING": "ACTIVE", "DELETED": "REMOVED"}
    normalized = aliases.get(normalized, normalized)
    known = {"ACTIVE", "PAUSED", "ARCHIVED", "COMPLETED", "CANCELED", "DRAFT", "REMOVED"}
    return normalized if normalized in known else "DRAFT"


_CAMPAIGNS_SQL = """
SELECT c.campaign_id, c.account_id, c.budget_id, c.name, c.status, c.objective,
       COALESCE((SELECT bc.budget_micros FROM sandbox.budget_changes bc
                 WHERE bc.platform = c.platform AND bc.object_type = 'campaign'
                   AND bc.object_id = c.campaign_id
                 ORDER BY bc.change_id DESC LIMIT 1), c.daily_budget_micros)
FROM sandbox.campaigns c
WHERE c.platform = %s AND c.account_id = %s
ORDER BY c.campaign_id
"""

_CREATIVES_SQL = """
SELECT a.ad_id, a.campaign_id, a.account_id, g.name, a.headline, a.body, a.final_url
FROM sandbox.ads a
JOIN sandbox.ad_groups g ON g.platform = a.platform AND g.ad_group_id = a.ad_group_id
WHERE a.platform = %s AND a.account_id = %s
ORDER BY a.ad_id
"""

_DELIVERY_SQL = """
SELECT d.ad_id, a.campaign_id, c.budget_id, d.account_id, d.date, d.cost_micros,
       d.impressions, d.clicks, d.conversions, d.conversions_value
FROM sandbox.ad_delivery_daily d
JOIN sandbox.ads a ON a.platform = d.platform AND a.ad_id = d.ad_id
JOIN sandbox.campaigns c ON c.platform = a.platform AND c.campaign_id = a.campaign_id
WHERE d.platform = %s AND d.date BETWEEN %s AND %s
  AND (%s::text[] IS NULL OR d.account_id = ANY(%s::text[]))
ORDER BY d.date, d.ad_id
"""


class PostgresLinkedInData:
    """Reads the simulated world (``sandbox.*`` tables) for the LinkedIn platform.

    Opens a connection per call: the HTTP server serves each request on its own thread and
    a request makes one or two queries, so a pool would buy little and add shared state.
    """

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def account(self, account_id: str) -> Account | None:
        with psycopg.connect(self._conninfo) as conn:
            found = conn.execute(
                "SELECT account_id, name, currency, time_zone FROM sandbox.ad_accounts "
                "WHERE platform = %s AND account_id = %s",
                (PLATFORM, account_id),
            ).fetchone()
        return Account(found[0], found[1], found[2].strip(), found[3]) if found else None

    def campaigns(self, account_id: str) -> list[Campaign]:
        with psycopg.connect(self._conninfo) as conn:
            records = conn.execute(_CAMPAIGNS_SQL, (PLATFORM, account_id)).fetchall()
        return [
            Campaign(
                campaign_id=int(r[0]),
                account_id=r[1],
                group_id=int(r[2]),
                name=r[3],
                status=linkedin_status(r[4]),
                objective=r[5],
                daily_budget_micros=int(r[6]),
            )
            for r in records
        ]

    def set_campaign_budget(self, account_id: str, campaign_id: int, micros: int) -> None:
        record_budget_change(
            self._conninfo,
            platform=PLATFORM,
            account_id=account_id,
            object_type="campaign",
            object_id=campaign_id,
            budget_micros=micros,
        )

    def campaign_groups(self, account_id: str) -> list[CampaignGroup]:
        groups = [
            CampaignGroup(c.group_id, c.account_id, f"{c.name} (group)", c.status)
            for c in self.campaigns(account_id)
        ]
        return sorted(groups, key=lambda g: g.group_id)

    def creatives(self, account_id: str) -> list[Creative]:
        with psycopg.connect(self._conninfo) as conn:
            records = conn.execute(_CREATIVES_SQL, (PLATFORM, account_id)).fetchall()
        return [Creative(int(r[0]), int(r[1]), *r[2:]) for r in records]

    def delivery(self, account_ids: Sequence[str] | None, start: date, end: date) -> list[Delivery]:
        accounts = list(account_ids) if account_ids is not None else None
        with psycopg.connect(self._conninfo) as conn:
            records = conn.execute(
                _DELIVERY_SQL, (PLATFORM, start, end, accounts, accounts)
            ).fetchall()
        return [
            Delivery(
                creative_id=int(r[0]),
                campaign_id=int(r[1]),
                group_id=int(r[2]),
                account_id=r[3],
                date=r[4],
                cost_micros=int(r[5]),
                impressions=int(r[6]),
                clicks=int(r[7]),
                conversions=Decimal(r[8]),
                conversions_value=Decimal(r[9]),
            )
            for r in records
        ]
