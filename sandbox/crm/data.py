"""What the CRM sandbox knows: the world's leads and deals as HubSpot-style CRM records.

A record holds its properties as they were when it was created plus every later change with
its timestamp, so the server can show any object *as of* a moment: an object exists only
from its `createdate`, and its `lastmodifieddate` is the latest change at or before that
moment. That is what makes incremental sync by last-modified testable as time advances.

Only observable facts cross into the CRM: the truth columns of the world (`cause_channel`,
`true_propensity`, sessions' `channel` and `platform_ad_id`) are never selected. Original
source and first/last touch are derived from what a tracking script would see (UTMs, click
ids, referrer), exactly as a CRM derives them.

Timestamps are truncated to milliseconds on the way in: HubSpot stores epoch milliseconds,
and comparing a filter against a value the API cannot show would make windows disagree.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urlsplit

import psycopg

OBJECT_TYPES = ("contacts", "companies", "deals")

# HubSpot property types: how values compare in search filters and how they are printed.
STRING, NUMBER, DATETIME, ENUMERATION, BOOL = "string", "number", "datetime", "enumeration", "bool"

_COMMON = {
    "hs_object_id": NUMBER,
    "createdate": DATETIME,
    "lastmodifieddate": DATETIME,
    "hs_lastmodifieddate": DATETIME,
}
PROPERTIES: dict[str, dict[str, str]] = {
    "contacts": {
        **_COMMON,
        "email": STRING,
        "firstname": STRING,
        "lastname": STRING,
        "jobtitle": STRING,
        "company": STRING,
        "numemployees": NUMBER,  # our portal keeps the form's exact figure, not a range
        "industry": STRING,
        "country": STRING,
        "hs_content": STRING,  # the notes sales wrote on the contact
        "bizo_anonymous_id": STRING,  # set by the form submission from the browser's id
        "lifecyclestage": ENUMERATION,
        "hs_lifecyclestage_lead_date": DATETIME,
        "hs_lifecyclestage_opportunity_date": DATETIME,
        "hs_lifecyclestage_customer_date": DATETIME,
        "hs_analytics_source": ENUMERATION,
        "hs_analytics_source_data_1": STRING,
        "hs_analytics_source_data_2": STRING,
        "hs_latest_source": ENUMERATION,
        "hs_latest_source_data_1": STRING,
        "hs_latest_source_data_2": STRING,
        "hs_analytics_first_touch_converting_campaign": STRING,
        "hs_analytics_last_touch_converting_campaign": STRING,
        "hs_analytics_first_url": STRING,
        "hs_analytics_last_url": STRING,
        "hs_analytics_first_referrer": STRING,
        "hs_analytics_last_referrer": STRING,
        "hs_analytics_first_timestamp": DATETIME,
        "hs_analytics_last_timestamp": DATETIME,
        "hs_analytics_num_visits": NUMBER,
        "associatedcompanyid": NUMBER,
    },
    "companies": {
        **_COMMON,
        "name": STRING,
        "domain": STRING,
        "industry": ENUMERATION,
        "numberofemployees": NUMBER,
        "country": STRING,
        "description": STRING,
    },
    "deals": {
        **_COMMON,
        "dealname": STRING,
        "amount": NUMBER,
        "deal_currency_code": ENUMERATION,
        "pipeline": ENUMERATION,
        "dealstage": ENUMERATION,
        "hs_deal_stage_probability": NUMBER,
        "closedate": DATETIME,
        "hs_is_closed": BOOL,
        "hs_is_closed_won": BOOL,
    },
}

# What GET answers when no `properties` are asked for (HubSpot's defaults, roughly).
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}


@dataclass(frozen=True)
class DealStage:
    stage_id: str
    label: str
    probability: Decimal
    is_closed: bool
    is_won: bool


PIPELINE_ID = "default"
DEAL_STAGES: tuple[DealStage, ...] = (
    DealStage("opportunity", "Opportunity", Decimal("0.4"), is_closed=False, is_won=False),
    DealStage("closedwon", "Closed won", Decimal("1.0"), is_closed=True, is_won=True),
    DealStage("closedlost", "Closed lost", Decimal("0.0"), is_closed=True, is_won=False),
)
_STAGE_BY_WORLD = {
    "opportunity": "opportunity",
    "closed_won": "closedwon",
    "closed_lost": "closedlost",
}
_STAGES = {stage.stage_id: stage for stage in DEAL_STAGES}
# HubSpot keeps when a deal entered each stage as a property per stage.
PROPERTIES["deals"].update({f"hs_date_entered_{s.stage_id}": DATETIME for s in DEAL_STAGES})


@dataclass(frozen=True)
class PropertyChange:
    """A property set to `value` at `at`, after the object was created."""

    at: datetime
    name: str
    value: Any


@dataclass(frozen=True)
class CrmRecord:
    """One CRM object with its full history; `view(now)` is what the API shows at `now`.

    `properties` hold typed values (str, int, Decimal, bool, datetime) as of creation;
    `changes` are sorted by time. `associations` maps an object type to associated ids.
    """

    object_type: str
    object_id: int
    created_at: datetime
    properties: Mapping[str, Any]
    changes: tuple[PropertyChange, ...] = ()
    associations: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def exists_at(self, now: datetime) -> bool:
        """Whether the object was created by `now` (the API shows nothing before that)."""
        return self.created_at <= now

    def last_modified(self, now: datetime) -> datetime:
        """The latest create or change time at or before `now`."""
        index = bisect_right([c.at for c in self.changes], now)
        return max(self.created_at, self.changes[index - 1].at) if index else self.created_at

    def view(self, now: datetime) -> dict[str, Any]:
        """Every property's value as of `now` (the object must exist by then)."""
        values = dict(self.properties)
        for change in self.changes:
            if change.at > now:
                break
            values[change.name] = change.value
        modified = self.last_modified(now)
        values.update(
            hs_object_id=self.object_id,
            createdate=self.created_at,
            lastmodifieddate=modified,
            hs_lastmodifieddate=modified,
        )
        return values

    def history(self, name: str, now: datetime) -> list[tuple[datetime, Any]]:
        """(timestamp, value) of every setting of `name` up to `now`, newest first."""
        found = []
        if self.properties.get(name) is not None:
            found.append((self.created_at, self.properties[name]))
        found += [(c.at, c.value) for c in self.changes if c.name == name and c.at <= now]
        return found[::-1]


@dataclass(frozen=True)
class CrmPortal:
    """One tenant's CRM account (HubSpot calls it a portal, or hub)."""

    tenant_id: str
    portal_id: int
    time_zone: str
    currency: str


def portal_id_for(tenant_id: str) -> int:
    """A stable, HubSpot-looking portal id for a tenant (8 digits)."""
    return 20_000_000 + zlib.crc32(tenant_id.encode()) % 10_000_000


class CrmData(Protocol):
    """The CRM sandbox server's view of the world."""

    def portals(self) -> list[CrmPortal]:
        """Every tenant's portal."""
        ...

    def records(self, tenant_id: str, object_type: str) -> Sequence[CrmRecord]:
        """All records of a type in a tenant's portal, sorted by object id, whatever their
        creation time (the server applies its own "now")."""
        ...


class InMemoryCrmData:
    """Records held in memory, for tests that need a handful of hand-made objects."""

    def __init__(
        self, portals: Iterable[CrmPortal], records: Mapping[str, Iterable[CrmRecord]]
    ) -> None:
        self._portals = list(portals)
        self._records: dict[tuple[str, str], list[CrmRecord]] = defaultdict(list)
        for tenant_id, items in records.items():
            for record in items:
                self._records[(tenant_id, record.object_type)].append(record)
        for items in self._records.values():
            items.sort(key=lambda r: r.object_id)

    def portals(self) -> list[CrmPortal]:
        return list(self._portals)

    def records(self, tenant_id: str, object_type: str) -> Sequence[CrmRecord]:
        return self._records.get((tenant_id, object_type), [])


# -- building records from world rows ------------------------------------------------------


def ms(moment: datetime) -> datetime:
    """Truncate to milliseconds, as HubSpot stores time."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_SEARCH_ENGINES = ("google.", "bing.", "duckduckgo.", "yahoo.", "baidu.", "yandex.")


@dataclass(frozen=True)
class Visit:
    """The observable part of one web session: what a tracking script records."""

    started_at: datetime
    landing_url: str
    referrer: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    gclid: str | None
    fbclid: str | None
    li_fat_id: str | None


def classify_source(visit: Visit) -> tuple[str, str | None, str | None]:
    """HubSpot's source buckets (`hs_analytics_source` and its two drill-downs) from what a
    visit shows: click ids and UTMs first, then the referrer, else direct traffic."""
    medium = (visit.utm_medium or "").lower()
    if visit.gclid or medium in ("cpc", "ppc", "paid_search", "paidsearch"):
        return "PAID_SEARCH", visit.utm_source or "google", visit.utm_campaign
    if visit.fbclid or visit.li_fat_id or medium in ("paid_social", "paidsocial", "social_paid"):
        network = visit.utm_source or ("facebook" if visit.fbclid else "linkedin")
        return "PAID_SOCIAL", network, visit.utm_campaign
    if medium == "email":
        return "EMAIL_MARKETING", visit.utm_source, visit.utm_campaign
    if visit.utm_source or medium:
        return "OTHER_CAMPAIGNS", visit.utm_source, visit.utm_campaign
    if visit.referrer:
        host = urlsplit(visit.referrer).hostname or ""
        if any(engine in host for engine in _SEARCH_ENGINES):
            return "ORGANIC_SEARCH", host, None
        return "REFERRALS", visit.referrer, None
    return "DIRECT_TRAFFIC", None, None


@dataclass(frozen=True)
class WorldLead:
    """A lead's observable columns (no cause, no propensity)."""

    lead_id: int
    anonymous_id: str
    created_at: datetime
    email: str
    first_name: str
    last_name: str
    job_title: str
    company: str
    company_size: int
    industry: str
    country: str
    notes: str
    company_description: str


@dataclass(frozen=True)
class WorldDeal:
    deal_id: int
    lead_id: int
    amount: Decimal
    created_at: datetime
    stages: tuple[tuple[str, datetime], ...]  # (world stage, entered_at), in time order


def company_id_for(first_lead_id: int) -> int:
    """Companies get their id from the first contact that named them (13 digits, so it
    never collides with a contact or deal id)."""
    return 10**12 + first_lead_id


def build_portal_records(
    portal: CrmPortal,
    leads: Iterable[WorldLead],
    visits: Mapping[str, Sequence[Visit]],
    deals: Iterable[WorldDeal],
) -> dict[str, list[CrmRecord]]:
    """Contacts, companies and deals of one portal from world rows; `visits` maps an
    anonymous id to its sessions in time order."""
    leads = sorted(leads, key=lambda lead: lead.lead_id)
    deals_by_lead: dict[int, list[WorldDeal]] = defaultdict(list)
    for deal in deals:
        deals_by_lead[deal.lead_id].append(deal)

    # A company is what the lead described: same name, size, industry and country.
    companies: dict[tuple[str, int, str, str], list[WorldLead]] = {}
    for lead in leads:
        key = (lead.company, lead.company_size, lead.industry, lead.country)
        companies.setdefault(key, []).append(lead)
    company_of: dict[int, int] = {}
    company_records = []
    for members in companies.values():
        first = min(members, key=lambda lead: (lead.created_at, lead.lead_id))
        company_id = company_id_for(min(lead.lead_id for lead in members))
        for lead in members:
            company_of[lead.lead_id] = company_id
        company_records.append(
            CrmRecord(
                "companies",
                company_id,
                ms(first.created_at),
                {
                    "name": first.company,
                    "domain": first.email.rsplit("@", 1)[1],
                    "industry": first.industry.upper(),
                    "numberofemployees": first.company_size,
                    "country": first.country,
                    "description": first.company_description,
                },
                associations={"contacts": tuple(sorted(lead.lead_id for lead in members))},
            )
        )

    contact_records = []
    deal_records = []
    for lead in leads:
        lead_deals = deals_by_lead.get(lead.lead_id, [])
        contact_records.append(
            _contact(lead, visits.get(lead.anonymous_id, ()), lead_deals, company_of[lead.lead_id])
        )
        for deal in lead_deals:
            deal_records.append(_deal(portal, lead, deal, company_of[lead.lead_id]))
    return {
        "contacts": contact_records,
        "companies": sorted(company_records, key=lambda r: r.object_id),
        "deals": sorted(deal_records, key=lambda r: r.object_id),
    }


def _contact(
    lead: WorldLead, visits: Sequence[Visit], deals: Sequence[WorldDeal], company_id: int
) -> CrmRecord:
    created = ms(lead.created_at)
    journey = [v for v in visits if v.started_at <= lead.created_at]
    properties: dict[str, Any] = {
        "email": lead.email,
        "firstname": lead.first_name,
        "lastname": lead.last_name,
        "jobtitle": lead.job_title,
        "company": lead.company,
        "numemployees": lead.company_size,
        "industry": lead.industry,
        "country": lead.country,
        "hs_content": lead.notes,
        "bizo_anonymous_id": lead.anonymous_id,
        "lifecyclestage": "lead",
        "hs_lifecyclestage_lead_date": created,
        "hs_analytics_num_visits": len(journey),
        "associatedcompanyid": company_id,
    }
    if journey:
        first, last = journey[0], journey[-1]
        source = classify_source(first)
        latest = classify_source(last)
        properties.update(
            {
                "hs_analytics_source": source[0],
                "hs_analytics_source_data_1": source[1],
                "hs_analytics_source_data_2": source[2],
                "hs_latest_source": latest[0],
                "hs_latest_source_data_1": latest[1],
                "hs_latest_source_data_2": latest[2],
                "hs_analytics_first_touch_converting_campaign": first.utm_campaign,
                "hs_analytics_last_touch_converting_campaign": last.utm_campaign,
                "hs_analytics_first_url": first.landing_url,
                "hs_analytics_last_url": last.landing_url,
                "hs_analytics_first_referrer": first.referrer,
                "hs_analytics_last_referrer": last.referrer,
                "hs_analytics_first_timestamp": ms(first.started_at),
                "hs_analytics_last_timestamp": ms(last.started_at),
            }
        )
    else:
        properties["hs_analytics_source"] = "OFFLINE"
    # Lifecycle moves forward only: opportunity when a deal opens, customer when one is won.
    changes: list[PropertyChange] = []
    rank = {"lead": 0, "opportunity": 1, "customer": 2}
    stage = "lead"
    moves = []
    for deal in deals:
        for world_stage, entered in deal.stages:
            target = {"opportunity": "opportunity", "closed_won": "customer"}.get(world_stage)
            if target:
                moves.append((ms(entered), target))
    for at, target in sorted(moves):
        if rank[target] > rank[stage]:
            stage = target
            changes.append(PropertyChange(at, "lifecyclestage", target))
            changes.append(PropertyChange(at, f"hs_lifecyclestage_{target}_date", at))
    return CrmRecord(
        "contacts",
        lead.lead_id,
        created,
        properties,
        tuple(changes),
        associations={"companies": (company_id,)},
    )


def _deal(portal: CrmPortal, lead: WorldLead, deal: WorldDeal, company_id: int) -> CrmRecord:
    stages = [(_STAGE_BY_WORLD[world_stage], ms(at)) for world_stage, at in deal.stages]
    first_stage, created = stages[0]
    properties: dict[str, Any] = {
        "dealname": f"{lead.company} — new business",
        "amount": deal.amount,
        "deal_currency_code": portal.currency,
        "pipeline": PIPELINE_ID,
        **_stage_properties(first_stage, created),
    }
    changes = []
    for stage_id, at in stages[1:]:
        changes += [
            PropertyChange(at, name, v) for name, v in _stage_properties(stage_id, at).items()
        ]
        if _STAGES[stage_id].is_closed:
            changes.append(PropertyChange(at, "closedate", at))
    return CrmRecord(
        "deals",
        deal.deal_id,
        ms(deal.created_at),
        properties,
        tuple(sorted(changes, key=lambda c: c.at)),
        associations={"contacts": (lead.lead_id,), "companies": (company_id,)},
    )


def _stage_properties(stage_id: str, at: datetime) -> dict[str, Any]:
    stage = _STAGES[stage_id]
    return {
        "dealstage": stage_id,
        "hs_deal_stage_probability": stage.probability,
        "hs_is_closed": stage.is_closed,
        "hs_is_closed_won": stage.is_won,
        f"hs_date_entered_{stage_id}": at,
    }


# -- reading the world from Postgres -------------------------------------------------------

_LEADS_SQL = """
SELECT lead_id, anonymous_id, created_at, email, first_name, last_name, job_title, company,
       company_size, industry, country, notes, company_description
FROM sandbox.leads WHERE tenant_id = %s ORDER BY lead_id"""
# Only sessions of people who became leads, up to their form fill: a contact's journey.
_VISITS_SQL = """
SELECT s.anonymous_id, s.started_at, s.landing_url, s.referrer, s.utm_source, s.utm_medium,
       s.utm_campaign, s.gclid, s.fbclid, s.li_fat_id
FROM sandbox.sessions s
JOIN sandbox.leads l
  ON l.tenant_id = s.tenant_id AND l.anonymous_id = s.anonymous_id AND s.started_at <= l.created_at
WHERE s.tenant_id = %s
ORDER BY s.anonymous_id, s.started_at, s.session_id"""
_DEALS_SQL = """
SELECT deal_id, lead_id, amount, created_at FROM sandbox.deals WHERE tenant_id = %s"""
_STAGES_SQL = """
SELECT h.deal_id, h.stage, h.entered_at
FROM sandbox.deal_stage_history h JOIN sandbox.deals d USING (deal_id)
WHERE d.tenant_id = %s
ORDER BY h.deal_id, h.entered_at"""


class PostgresCrmData:
    """The CRM of every tenant in the world stored at `conninfo` (`sandbox.*` tables).

    A tenant's records are built once and cached until the world is rewritten (its
    `world_meta.generated_at` changes, checked at most every `recheck_seconds`): a full sync
    pages through thousands of objects, and rebuilding journeys per page would make every
    call cost a read of the whole world.
    """

    def __init__(self, conninfo: str, *, recheck_seconds: float = 1.0) -> None:
        self._conninfo = conninfo
        self._recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._version: object = None
        self._checked_at = -math.inf
        self._portals: list[CrmPortal] | None = None
        self._cache: dict[str, dict[str, list[CrmRecord]]] = {}

    def _current(self, conn: psycopg.Connection | None = None) -> None:
        """Drop the cache if the world changed since we last looked."""
        if time.monotonic() - self._checked_at < self._recheck_seconds:
            return
        if conn is None:
            with psycopg.connect(self._conninfo) as own:
                version = own.execute("SELECT generated_at FROM sandbox.world_meta").fetchone()
        else:
            version = conn.execute("SELECT generated_at FROM sandbox.world_meta").fetchone()
        with self._lock:
            if version != self._version:
                self._cache.clear()
                self._portals = None
                self._version = version
            self._checked_at = time.monotonic()

    def portals(self) -> list[CrmPortal]:
        self._current()
        with self._lock:
            if self._portals is not None:
                return list(self._portals)
        with psycopg.connect(self._conninfo) as conn:
            rows = conn.execute(
                "SELECT tenant_id, time_zone, currency FROM sandbox.tenants ORDER BY tenant_id"
            ).fetchall()
        found = [CrmPortal(t, portal_id_for(t), tz, currency) for t, tz, currency in rows]
        with self._lock:
            self._portals = found
        return list(found)

    def records(self, tenant_id: str, object_type: str) -> Sequence[CrmRecord]:
        if object_type not in OBJECT_TYPES:
            raise ValueError(f"unknown CRM object type {object_type!r}")
        self._current()
        with self._lock:
            cached = self._cache.get(tenant_id)
            version = self._version
        if cached is None:
            with psycopg.connect(self._conninfo) as conn:
                cached = self._load(conn, tenant_id)
            with self._lock:
                if version == self._version:
                    self._cache[tenant_id] = cached
        return cached[object_type]

    def _load(self, conn: psycopg.Connection, tenant_id: str) -> dict[str, list[CrmRecord]]:
        portal_row = conn.execute(
            "SELECT time_zone, currency FROM sandbox.tenants WHERE tenant_id = %s", (tenant_id,)
        ).fetchone()
        if portal_row is None:
            return {object_type: [] for object_type in OBJECT_TYPES}
        portal = CrmPortal(tenant_id, portal_id_for(tenant_id), portal_row[0], portal_row[1])
        leads = [WorldLead(*row) for row in conn.execute(_LEADS_SQL, (tenant_id,))]
        visits: dict[str, list[Visit]] = defaultdict(list)
        for anonymous_id, *rest in conn.execute(_VISITS_SQL, (tenant_id,)):
            visits[anonymous_id].append(Visit(*rest))
        stages: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
        for deal_id, stage, entered_at in conn.execute(_STAGES_SQL, (tenant_id,)):
            stages[deal_id].append((stage, entered_at))
        deals = [
            WorldDeal(deal_id, lead_id, amount, created_at, tuple(stages[deal_id]))
            for deal_id, lead_id, amount, created_at in conn.execute(_DEALS_SQL, (tenant_id,))
            if stages[deal_id]
        ]
        return build_portal_records(portal, leads, visits, deals)
