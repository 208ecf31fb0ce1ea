"""Where the Google Ads sandbox gets its accounts and ad delivery from.

The server only needs ad-level rows keyed by GAQL field names; everything above the ad
(ad group, campaign, customer) is repeated on each row, so the GAQL engine can aggregate
to any FROM level without a second lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Protocol

import psycopg

from sandbox.budgets import record_budget_change

PLATFORM = "google_ads"

# Customer-level fields; `account()` returns exactly these keys.
CUSTOMER_FIELDS = (
    "customer.id",
    "customer.descriptive_name",
    "customer.currency_code",
    "customer.time_zone",
)


class GoogleAdsData(Protocol):
    """The sandbox server's view of one platform's accounts."""

    def account(self, customer_id: str) -> dict[str, Any] | None:
        """The customer.* fields of an account, or None when no such account exists.

        Separate from `ad_rows` because an account with no ads is still a known account
        (the API answers it with zero rows, not a permission error).
        """
        ...

    def ad_rows(
        self, customer_id: str, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        """Ad x day rows between start and end (inclusive), or one attribute row per ad
        (no ``segments.date`` or ``metrics.*`` keys) when both are None."""
        ...

    def click_rows(self, customer_id: str, day: date) -> list[dict[str, Any]]:
        """One row per click with a Google click ID on `day` (the account's day): the
        ``click_view`` report, which ties each gclid to the ad that was clicked."""
        ...

    def has_campaign_budget(self, customer_id: str, budget_id: int) -> bool: ...

    def set_campaign_budget(self, customer_id: str, budget_id: int, amount_micros: int) -> None:
        """Record a budget change (MutateCampaignBudgets); reads show it at once."""
        ...


class InMemoryGoogleAdsData:
    """Rows held in memory, for tests: pass ad x day rows keyed by GAQL field names.

    Accounts are the distinct ``customer.id`` values of the rows plus any in ``accounts``
    (for an account without ads).
    """

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]],
        accounts: Iterable[Mapping[str, Any]] = (),
        clicks: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._rows = [dict(r) for r in rows]
        self._clicks = [dict(c) for c in clicks]
        self._accounts: dict[str, dict[str, Any]] = {}
        for source in (*self._rows, *accounts):
            key = str(source["customer.id"])
            self._accounts.setdefault(key, {f: source.get(f) for f in CUSTOMER_FIELDS})

    def account(self, customer_id: str) -> dict[str, Any] | None:
        found = self._accounts.get(customer_id)
        return dict(found) if found is not None else None

    def click_rows(self, customer_id: str, day: date) -> list[dict[str, Any]]:
        return [
            dict(c)
            for c in self._clicks
            if str(c["customer.id"]) == customer_id and c["segments.date"] == day
        ]

    def has_campaign_budget(self, customer_id: str, budget_id: int) -> bool:
        name = f"customers/{customer_id}/campaignBudgets/{budget_id}"
        return any(r.get("campaign.campaign_budget") == name for r in self._rows)

    def set_campaign_budget(self, customer_id: str, budget_id: int, amount_micros: int) -> None:
        name = f"customers/{customer_id}/campaignBudgets/{budget_id}"
        for row in self._rows:
            if row.get("campaign.campaign_budget") == name:
                row["campaign_budget.amount_micros"] = amount_micros

    def ad_rows(
        self, customer_id: str, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        mine = [r for r in self._rows if str(r["customer.id"]) == customer_id]
        if start is None and end is None:
            seen: dict[Any, dict[str, Any]] = {}
            for row in mine:
                attributes = {
                    k: v for k, v in row.items() if not k.startswith(("metrics.", "segments."))
                }
                seen.setdefault(row["ad_group_ad.ad.id"], attributes)
            return list(seen.values())
        return [
            dict(r)
            for r in mine
            if (start is None or r["segments.date"] >= start)
            and (end is None or r["segments.date"] <= end)
        ]


def _campaign_status(status: str) -> str:
    """Our world's free-text campaign statuses as Google's CampaignStatus names."""
    normalized = status.strip().upper()
    aliases = {"ACTIVE": "ENABLED", "RUNNING": "ENABLED", "DELETED": "REMOVED"}
    normalized = aliases.get(normalized, normalized)
    return normalized if normalized in ("ENABLED", "PAUSED", "REMOVED") else "UNKNOWN"


_ATTRIBUTES_SQL = """
SELECT acc.account_id, acc.name, acc.currency, acc.time_zone,
       c.campaign_id, c.name, c.status, c.budget_id,
       COALESCE((SELECT bc.budget_micros FROM sandbox.budget_changes bc
                 WHERE bc.platform = c.platform AND bc.object_type = 'campaign_budget'
                   AND bc.object_id = c.budget_id
                 ORDER BY bc.change_id DESC LIMIT 1), c.daily_budget_micros),
       g.ad_group_id, g.name, a.ad_id, a.headline, a.body, a.final_url
FROM sandbox.ads a
JOIN sandbox.ad_groups g ON g.platform = a.platform AND g.ad_group_id = a.ad_group_id
JOIN sandbox.campaigns c ON c.platform = a.platform AND c.campaign_id = a.campaign_id
JOIN sandbox.ad_accounts acc ON acc.platform = a.platform AND acc.account_id = a.account_id
"""

_ADS_SQL = _ATTRIBUTES_SQL + "WHERE a.platform = %s AND a.account_id = %s ORDER BY a.ad_id"

_DELIVERY_SQL = (
    _ATTRIBUTES_SQL.replace(
        "SELECT acc.account_id",
        "SELECT d.date, d.cost_micros, d.impressions, d.clicks, d.conversions, "
        "d.conversions_value, acc.account_id",
    )
    + """JOIN sandbox.ad_delivery_daily d ON d.platform = a.platform AND d.ad_id = a.ad_id
WHERE a.platform = %s AND a.account_id = %s AND d.account_id = %s
  AND d.date BETWEEN %s AND %s
ORDER BY d.date, a.ad_id"""
)


# The clicks of one account's day: the sessions the world's paid Google clicks started that
# still carry their gclid (a click whose ID was stripped is invisible to us either way).
_CLICKS_SQL = """
SELECT s.gclid, c.campaign_id, c.name, g.ad_group_id, a.ad_id, acc.currency, acc.time_zone
FROM sandbox.ad_accounts acc
JOIN sandbox.sessions s
  ON s.tenant_id = acc.tenant_id
 AND s.started_at >= (%(day)s::date)::timestamp AT TIME ZONE acc.time_zone
 AND s.started_at < (%(day)s::date + 1)::timestamp AT TIME ZONE acc.time_zone
JOIN sandbox.ads a
  ON a.platform = acc.platform AND a.account_id = acc.account_id AND a.ad_id = s.platform_ad_id
JOIN sandbox.ad_groups g ON g.platform = a.platform AND g.ad_group_id = a.ad_group_id
JOIN sandbox.campaigns c ON c.platform = a.platform AND c.campaign_id = a.campaign_id
WHERE acc.platform = %(platform)s AND acc.account_id = %(customer)s
  AND s.channel = %(platform)s AND s.gclid IS NOT NULL
ORDER BY s.started_at, s.gclid
"""


class PostgresGoogleAdsData:
    """Reads the simulated world (``sandbox.*`` tables) for the Google Ads platform.

    Opens a connection per call: the gRPC server calls from several threads and calls are
    few (one per query), so pooling would buy nothing.
    """

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    def account(self, customer_id: str) -> dict[str, Any] | None:
        with psycopg.connect(self._conninfo) as conn:
            found = conn.execute(
                "SELECT account_id, name, currency, time_zone FROM sandbox.ad_accounts "
                "WHERE platform = %s AND account_id = %s",
                (PLATFORM, customer_id),
            ).fetchone()
        if found is None:
            return None
        return dict(
            zip(CUSTOMER_FIELDS, (int(found[0]), found[1], found[2], found[3]), strict=True)
        )

    def has_campaign_budget(self, customer_id: str, budget_id: int) -> bool:
        with psycopg.connect(self._conninfo) as conn:
            found = conn.execute(
                "SELECT 1 FROM sandbox.campaigns "
                "WHERE platform = %s AND account_id = %s AND budget_id = %s",
                (PLATFORM, customer_id, budget_id),
            ).fetchone()
        return found is not None

    def set_campaign_budget(self, customer_id: str, budget_id: int, amount_micros: int) -> None:
        record_budget_change(
            self._conninfo,
            platform=PLATFORM,
            account_id=customer_id,
            object_type="campaign_budget",
            object_id=budget_id,
            budget_micros=amount_micros,
        )

    def click_rows(self, customer_id: str, day: date) -> list[dict[str, Any]]:
        with psycopg.connect(self._conninfo) as conn:
            records = conn.execute(
                _CLICKS_SQL, {"day": day, "platform": PLATFORM, "customer": customer_id}
            ).fetchall()
        return [
            {
                "customer.id": int(customer_id),
                "customer.currency_code": currency,
                "customer.time_zone": zone,
                "campaign.id": campaign_id,
                "campaign.name": name,
                "ad_group.id": group_id,
                "click_view.gclid": gclid,
                "click_view.ad_group_ad": f"customers/{customer_id}/adGroupAds/{group_id}~{ad_id}",
                "segments.date": day,
                "metrics.clicks": 1,
            }
            for gclid, campaign_id, name, group_id, ad_id, currency, zone in records
        ]

    def ad_rows(
        self, customer_id: str, start: date | None, end: date | None
    ) -> list[dict[str, Any]]:
        with psycopg.connect(self._conninfo) as conn:
            if start is None and end is None:
                records = conn.execute(_ADS_SQL, (PLATFORM, customer_id)).fetchall()
                return [_attributes(customer_id, r) for r in records]
            records = conn.execute(
                _DELIVERY_SQL,
                (PLATFORM, customer_id, customer_id, start or date.min, end or date.max),
            ).fetchall()
        rows = []
        for r in records:
            row = _attributes(customer_id, r[6:])
            row.update(
                {
                    "segments.date": r[0],
                    "metrics.cost_micros": int(r[1]),
                    "metrics.impressions": int(r[2]),
                    "metrics.clicks": int(r[3]),
                    "metrics.conversions": r[4],
                    "metrics.conversions_value": r[5],
                }
            )
            rows.append(row)
        return rows


def _attributes(customer_id: str, r: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    (
        account_id,
        account_name,
        currency,
        time_zone,
        campaign_id,
        campaign_name,
        status,
        budget_id,
        budget_micros,
        ad_group_id,
        ad_group_name,
        ad_id,
        headline,
        body,
        final_url,
    ) = r
    campaign_rn = f"customers/{customer_id}/campaigns/{campaign_id}"
    return {
        "customer.id": int(account_id),
        "customer.descriptive_name": account_name,
        "customer.currency_code": currency,
        "customer.time_zone": time_zone,
        "campaign.id": campaign_id,
        "campaign.name": campaign_name,
        "campaign.status": _campaign_status(status),
        "campaign.resource_name": campaign_rn,
        "campaign.campaign_budget": f"customers/{customer_id}/campaignBudgets/{budget_id}",
        "campaign_budget.amount_micros": budget_micros,
        "ad_group.id": ad_group_id,
        "ad_group.name": ad_group_name,
        "ad_group.campaign": campaign_rn,
        "ad_group_ad.ad.id": ad_id,
        "ad_group_ad.ad.final_urls": [final_url],
        "ad_group_ad.ad.expanded_text_ad.headline_part1": headline,
        "ad_group_ad.ad.expanded_text_ad.description": body,
        "ad_group_ad.status": "ENABLED",
    }
