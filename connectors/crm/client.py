"""HubSpot-style CRM sync (CRM v3 objects and search, v4 associations) over plain HTTPS.

Two ways to read a portal, because the API offers two and each fits one job:

* a **full sync** (`modified_since=None`) pages ``GET /crm/v3/objects/{type}`` by id
  (``paging.next.after``), which is cheap and complete but cannot filter by time;
* an **incremental sync** searches ``lastmodifieddate`` (``hs_lastmodifieddate`` for companies
  and deals) in ``[modified_since, modified_before)``, sorted by it. Search answers at most
  10,000 results per query, so when paging would pass that cap the search restarts from the
  last modification time seen (duplicates are dropped by id).

Either way only objects last modified before ``modified_before`` are returned, so
consecutive windows never return the same version twice. Rows are typed, frozen dataclasses
whose fields are the columns of the ``raw.crm_*`` tables (without ``tenant_id`` and
``_loaded_at``); ``date`` is the UTC day of the object's last modification, the day slice it
loads into. Values that fail to convert become None and are left for
`connectors.crm.validation` to reject with a reason, so one bad object never sinks a sync.

Properties the portal sends that we did not ask for (HubSpot adds defaults over time) are
tolerated and counted in ``unknown_properties`` for the asset to report.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any

import httpx

from connectors.retry import (
    CallStats,
    CircuitBreaker,
    Retryable,
    RetryPolicy,
    breaker_for,
    call_with_retry,
)

DEFAULT_BASE_URL = "https://api.hubapi.com"
MAX_PAGE_SIZE = 100
SEARCH_RESULT_CAP = 10_000
ASSOCIATION_BATCH = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Always in an answer, asked for or not.
_ALWAYS_SENT = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})


# -- rows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrmContactRow:
    """One version of a contact; fields are ``raw.crm_contacts`` columns."""

    date: date | None
    contact_id: int | None
    email: str | None
    first_name: str | None
    last_name: str | None
    job_title: str | None
    company: str | None
    company_size: int | None
    industry: str | None
    country: str | None
    notes: str | None
    anonymous_id: str | None
    lifecycle_stage: str | None
    original_source: str | None
    original_source_data_1: str | None
    original_source_data_2: str | None
    latest_source: str | None
    first_touch_campaign: str | None
    last_touch_campaign: str | None
    first_url: str | None
    first_referrer: str | None
    first_visit_at: datetime | None
    last_visit_at: datetime | None
    num_visits: int | None
    company_id: int | None
    created_at: datetime | None
    last_modified_at: datetime | None


@dataclass(frozen=True)
class CrmCompanyRow:
    """One version of a company; fields are ``raw.crm_companies`` columns."""

    date: date | None
    company_id: int | None
    name: str | None
    domain: str | None
    industry: str | None
    number_of_employees: int | None
    country: str | None
    description: str | None
    created_at: datetime | None
    last_modified_at: datetime | None


@dataclass(frozen=True)
class CrmDealRow:
    """One version of a deal; fields are ``raw.crm_deals`` columns."""

    date: date | None
    deal_id: int | None
    deal_name: str | None
    pipeline: str | None
    deal_stage: str | None
    deal_stage_probability: Decimal | None
    amount: Decimal | None
    currency_code: str | None
    close_date: datetime | None
    is_closed: bool | None
    is_closed_won: bool | None
    contact_id: int | None
    company_id: int | None
    created_at: datetime | None
    last_modified_at: datetime | None


@dataclass(frozen=True)
class CrmDealStageRow:
    """When a deal entered a stage, as known to the deal version dated ``date``; fields
    are ``raw.crm_deal_stages`` columns."""

    date: date | None
    deal_id: int | None
    stage: str
    entered_at: datetime | None


@dataclass(frozen=True)
class CrmAccount:
    """The portal a token reaches: check it is the tenant's before loading anything."""

    portal_id: int
    time_zone: str
    currency: str


def row_columns(row_type: type) -> tuple[str, ...]:
    """The raw-table columns a row dataclass fills, in order (for ``replace_slice``)."""
    return tuple(f.name for f in dataclasses.fields(row_type))


def row_values(row: Any) -> tuple[Any, ...]:
    """A row's values in ``row_columns`` order (shallow, unlike ``dataclasses.astuple``)."""
    return tuple(getattr(row, f.name) for f in dataclasses.fields(row))


# field -> HubSpot property, per object type (the search for ``date`` comes from last-modified)
_CONTACT_PROPERTIES = {
    "email": "email",
    "first_name": "firstname",
    "last_name": "lastname",
    "job_title": "jobtitle",
    "company": "company",
    "company_size": "numemployees",
    "industry": "industry",
    "country": "country",
    "notes": "hs_content",
    "anonymous_id": "bizo_anonymous_id",
    "lifecycle_stage": "lifecyclestage",
    "original_source": "hs_analytics_source",
    "original_source_data_1": "hs_analytics_source_data_1",
    "original_source_data_2": "hs_analytics_source_data_2",
    "latest_source": "hs_latest_source",
    "first_touch_campaign": "hs_analytics_first_touch_converting_campaign",
    "last_touch_campaign": "hs_analytics_last_touch_converting_campaign",
    "first_url": "hs_analytics_first_url",
    "first_referrer": "hs_analytics_first_referrer",
    "first_visit_at": "hs_analytics_first_timestamp",
    "last_visit_at": "hs_analytics_last_timestamp",
    "num_visits": "hs_analytics_num_visits",
    "company_id": "associatedcompanyid",
    "created_at": "createdate",
    "last_modified_at": "lastmodifieddate",
}
_COMPANY_PROPERTIES = {
    "name": "name",
    "domain": "domain",
    "industry": "industry",
    "number_of_employees": "numberofemployees",
    "country": "country",
    "description": "description",
    "created_at": "createdate",
    "last_modified_at": "hs_lastmodifieddate",
}
_DEAL_PROPERTIES = {
    "deal_name": "dealname",
    "pipeline": "pipeline",
    "deal_stage": "dealstage",
    "deal_stage_probability": "hs_deal_stage_probability",
    "amount": "amount",
    "currency_code": "deal_currency_code",
    "close_date": "closedate",
    "is_closed": "hs_is_closed",
    "is_closed_won": "hs_is_closed_won",
    "created_at": "createdate",
    "last_modified_at": "hs_lastmodifieddate",
}
_LAST_MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}


# -- errors ------------------------------------------------------------------------------------


class CrmApiError(Exception):
    """A CRM answer that was not a success, with HubSpot's error category."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after_seconds: float | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(f"CRM API {status} {category}: {message}")
        self.status = status
        self.category = category
        self.message = message
        self.retryable = retryable
        self.retry_after_seconds = retry_after_seconds
        self.correlation_id = correlation_id


class CrmAuthError(CrmApiError):
    """The token was refused (401) or lacks a scope (403): retrying cannot help."""


def _classify(error: Exception) -> Retryable | None:
    if isinstance(error, CrmApiError):
        return Retryable(error.retry_after_seconds) if error.retryable else None
    # Timeouts, refused or reset connections, a server that hung up without answering.
    if isinstance(error, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return Retryable()
    return None


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


# -- the connector -----------------------------------------------------------------------------


class CrmConnector:
    """Reads one CRM portal (the one ``access_token`` belongs to), retrying what is transient.

    429s wait at least their ``Retry-After``; 5xx answers, dropped connections and timeouts
    back off and retry; 401/403 raise ``CrmAuthError`` at once. All calls go through the
    process-wide ``breaker_for("crm")`` unless another breaker is given.
    """

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str = DEFAULT_BASE_URL,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        stats: CallStats | None = None,
        breaker: CircuitBreaker | None = None,
        page_size: int = MAX_PAGE_SIZE,
        search_result_cap: int = SEARCH_RESULT_CAP,
        timeout_seconds: float = 30.0,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout_seconds,
        )
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self.stats = stats if stats is not None else CallStats()
        self._breaker = breaker if breaker is not None else breaker_for("crm")
        self._page_size = page_size
        self._search_cap = search_result_cap
        self._stages: list[str] | None = None
        self.unknown_properties: dict[str, Counter[str]] = {}

    def __enter__(self) -> CrmConnector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- public reads ---------------------------------------------------------------------
    def fetch_account(self) -> CrmAccount:
        """Which portal the token opens, with its time zone and currency."""
        body = self._call("GET", "/account-info/v3/details")
        return CrmAccount(
            int(body["portalId"]), str(body.get("timeZone") or "UTC"), str(body["companyCurrency"])
        )

    def fetch_contacts(
        self, modified_since: datetime | None, modified_before: datetime
    ) -> list[CrmContactRow]:
        """Contacts last modified in ``[modified_since, modified_before)`` (all before it when
        ``modified_since`` is None)."""
        objects = self._objects("contacts", _CONTACT_PROPERTIES, modified_since, modified_before)
        return [_contact_row(o) for o in objects]

    def fetch_companies(
        self, modified_since: datetime | None, modified_before: datetime
    ) -> list[CrmCompanyRow]:
        """Companies last modified in the window (see ``fetch_contacts``)."""
        objects = self._objects("companies", _COMPANY_PROPERTIES, modified_since, modified_before)
        return [_company_row(o) for o in objects]

    def fetch_deals(
        self, modified_since: datetime | None, modified_before: datetime
    ) -> list[CrmDealRow]:
        """Deals last modified in the window, with their primary contact and company."""
        return self.fetch_deals_with_stages(modified_since, modified_before)[0]

    def fetch_deals_with_stages(
        self, modified_since: datetime | None, modified_before: datetime
    ) -> tuple[list[CrmDealRow], list[CrmDealStageRow]]:
        """Deals and, from the same answers, when each entered each pipeline stage
        (HubSpot's ``hs_date_entered_<stage>`` properties, whose stage ids come from the
        deal pipelines)."""
        stages = self.deal_stages()
        entered = {f"stage:{s}": f"hs_date_entered_{s}" for s in stages}
        objects = self._objects(
            "deals", {**_DEAL_PROPERTIES, **entered}, modified_since, modified_before
        )
        ids = [int(o["id"]) for o in objects if str(o.get("id", "")).isdigit()]
        contacts = self._associated("deals", "contacts", ids)
        companies = self._associated("deals", "companies", ids)
        deals, stage_rows = [], []
        for o in objects:
            row = _deal_row(o, contacts, companies)
            deals.append(row)
            props = o.get("properties") or {}
            for stage in stages:
                at = _timestamp(props.get(f"hs_date_entered_{stage}"))
                if at is not None:
                    stage_rows.append(CrmDealStageRow(row.date, row.deal_id, stage, at))
        return deals, stage_rows

    def deal_stages(self) -> list[str]:
        """Stage ids of every deal pipeline, in pipeline then display order (cached)."""
        if self._stages is None:
            body = self._call("GET", "/crm/v3/pipelines/deals")
            found: list[str] = []
            for pipeline in sorted(body.get("results", []), key=lambda p: p.get("displayOrder", 0)):
                for stage in sorted(
                    pipeline.get("stages", []), key=lambda s: s.get("displayOrder", 0)
                ):
                    if stage["id"] not in found:
                        found.append(str(stage["id"]))
            self._stages = found
        return list(self._stages)

    # -- paging -----------------------------------------------------------------------------
    def _objects(
        self,
        object_type: str,
        fields: Mapping[str, str],
        since: datetime | None,
        before: datetime,
    ) -> list[dict[str, Any]]:
        if before.tzinfo is None or (since is not None and since.tzinfo is None):
            raise ValueError("modified_since and modified_before must be time-zone aware")
        if since is not None and since >= before:
            raise ValueError(f"modified_since {since} is not before modified_before {before}")
        properties = sorted(set(fields.values()))
        found = (
            self._list_all(object_type, properties)
            if since is None
            else self._search(object_type, properties, since, before)
        )
        latest: dict[str, dict[str, Any]] = {}
        known = _ALWAYS_SENT | set(properties)
        unknown = self.unknown_properties.setdefault(object_type, Counter())
        last_modified = _LAST_MODIFIED[object_type]
        for item in found:
            props = item.get("properties") or {}
            unknown.update(name for name in props if name not in known)
            modified = _timestamp(props.get(last_modified))
            if modified is not None and (modified >= before or (since and modified < since)):
                continue  # changed again after the window: the next window gets that version
            key = str(item.get("id"))
            kept = latest.get(key)
            if kept is None or _modified_key(item, last_modified) >= _modified_key(
                kept, last_modified
            ):
                latest[key] = item
        return list(latest.values())

    def _list_all(self, object_type: str, properties: Sequence[str]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        after: str | None = None
        seen: set[str] = set()
        while True:
            params = {"limit": str(self._page_size), "properties": ",".join(properties)}
            if after is not None:
                params["after"] = after
            body = self._call("GET", f"/crm/v3/objects/{object_type}", params=params)
            results.extend(body.get("results", []))
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if after is None:
                return results
            if after in seen:
                raise CrmApiError(200, "PAGING_LOOP", f"cursor {after!r} came back twice")
            seen.add(after)

    def _search(
        self, object_type: str, properties: Sequence[str], since: datetime, before: datetime
    ) -> list[dict[str, Any]]:
        last_modified = _LAST_MODIFIED[object_type]
        results: list[dict[str, Any]] = []
        start = since
        while True:
            offset = 0
            newest: datetime | None = None
            while True:
                body = self._call(
                    "POST",
                    f"/crm/v3/objects/{object_type}/search",
                    json={
                        "filterGroups": [
                            {
                                "filters": [
                                    _filter(last_modified, "GTE", start),
                                    _filter(last_modified, "LT", before),
                                ]
                            }
                        ],
                        "sorts": [{"propertyName": last_modified, "direction": "ASCENDING"}],
                        "properties": list(properties),
                        "limit": self._page_size,
                        "after": str(offset),
                    },
                )
                page = body.get("results", [])
                results.extend(page)
                for item in page:
                    moment = _timestamp((item.get("properties") or {}).get(last_modified))
                    if moment is not None:
                        newest = moment
                after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if after is None:
                    return results
                offset = int(after)
                if offset >= self._search_cap:
                    break  # the next page is past the search cap: restart from `newest`
            if newest is None or newest <= start:
                raise CrmApiError(
                    200,
                    "SEARCH_CAP",
                    f"more than {self._search_cap} {object_type} share one lastmodifieddate "
                    f"({start.isoformat()}); the window cannot be split further",
                )
            start = newest

    def _associated(self, from_type: str, to_type: str, ids: Sequence[int]) -> dict[int, int]:
        """The lowest associated ``to_type`` id per object (its primary, deterministically)."""
        found: dict[int, int] = {}
        for offset in range(0, len(ids), ASSOCIATION_BATCH):
            chunk = ids[offset : offset + ASSOCIATION_BATCH]
            body = self._call(
                "POST",
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                json={"inputs": [{"id": str(i)} for i in chunk]},
            )
            for result in body.get("results", []):
                targets = [
                    int(t["toObjectId"])
                    for t in result.get("to", [])
                    if str(t.get("toObjectId", "")).isdigit()
                ]
                source = str((result.get("from") or {}).get("id", ""))
                if targets and source.isdigit():
                    found[int(source)] = min(targets)
        return found

    # -- one call -------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            response = self._http.request(method, path, params=params, json=json)
            return _answer(response)

        return call_with_retry(
            attempt,
            classify=_classify,
            policy=self._policy,
            sleep=self._sleep,
            rand=self._rand,
            breaker=self._breaker,
            stats=self.stats,
        )


def _answer(response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a success (207 included: partial batch results), else the error."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if 200 <= status < 300:
        if not isinstance(body, dict):
            # A truncated or garbled success: the next attempt will likely be whole.
            raise CrmApiError(
                status, "INVALID_RESPONSE", "body is not a JSON object", retryable=True
            )
        return body
    details = body if isinstance(body, dict) else {}
    category = str(details.get("category") or details.get("errorType") or "UNKNOWN")
    message = str(details.get("message") or (details.get("error") or {}).get("message") or "")
    correlation = details.get("correlationId")
    if status in (401, 403):
        raise CrmAuthError(status, category, message, correlation_id=correlation)
    retryable = status == 429 or status >= 500
    raise CrmApiError(
        status,
        category,
        message or response.reason_phrase,
        retryable=retryable,
        retry_after_seconds=_retry_after(response.headers.get("Retry-After"))
        if retryable
        else None,
        correlation_id=correlation,
    )


def _filter(name: str, operator: str, moment: datetime) -> dict[str, str]:
    # Epoch milliseconds, rounded up: for whole-ms stored times, t >= x  <=>  t >= ceil(x)
    # and t < x  <=>  t < ceil(x). Integer arithmetic: floats blur the last millisecond.
    whole, rest = divmod(moment - _EPOCH, timedelta(milliseconds=1))
    millis = whole + (1 if rest else 0)
    return {"propertyName": name, "operator": operator, "value": str(millis)}


def _modified_key(item: Mapping[str, Any], name: str) -> datetime:
    moment = _timestamp((item.get("properties") or {}).get(name))
    return moment or datetime.min.replace(tzinfo=UTC)


# -- conversions (None when absent or unreadable; validation says why it matters) -------------


def _timestamp(value: Any) -> datetime | None:
    """HubSpot datetimes: ISO 8601 (``Z`` or offset) or epoch milliseconds."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return int(number) if number.is_finite() and number == number.to_integral_value() else None


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _bool(value: Any) -> bool | None:
    text = str(value).strip().lower() if value is not None else ""
    return {"true": True, "false": False}.get(text)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _utc_day(moment: datetime | None) -> date | None:
    return moment.astimezone(UTC).date() if moment is not None else None


def _values(item: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, Any]:
    props = item.get("properties") or {}
    return {field: props.get(name) for field, name in fields.items()}


def _contact_row(item: Mapping[str, Any]) -> CrmContactRow:
    v = _values(item, _CONTACT_PROPERTIES)
    modified = _timestamp(v["last_modified_at"])
    times = {"first_visit_at", "last_visit_at", "created_at", "last_modified_at"}
    ints = {"company_size", "num_visits", "company_id"}
    converted = {
        k: _timestamp(x) if k in times else _int(x) if k in ints else _text(x) for k, x in v.items()
    }
    return CrmContactRow(date=_utc_day(modified), contact_id=_int(item.get("id")), **converted)


def _company_row(item: Mapping[str, Any]) -> CrmCompanyRow:
    v = _values(item, _COMPANY_PROPERTIES)
    modified = _timestamp(v["last_modified_at"])
    return CrmCompanyRow(
        date=_utc_day(modified),
        company_id=_int(item.get("id")),
        name=_text(v["name"]),
        domain=_text(v["domain"]),
        industry=_text(v["industry"]),
        number_of_employees=_int(v["number_of_employees"]),
        country=_text(v["country"]),
        description=_text(v["description"]),
        created_at=_timestamp(v["created_at"]),
        last_modified_at=modified,
    )


def _deal_row(
    item: Mapping[str, Any], contacts: Mapping[int, int], companies: Mapping[int, int]
) -> CrmDealRow:
    v = _values(item, _DEAL_PROPERTIES)
    modified = _timestamp(v["last_modified_at"])
    deal_id = _int(item.get("id"))
    return CrmDealRow(
        date=_utc_day(modified),
        deal_id=deal_id,
        deal_name=_text(v["deal_name"]),
        pipeline=_text(v["pipeline"]),
        deal_stage=_text(v["deal_stage"]),
        deal_stage_probability=_decimal(v["deal_stage_probability"]),
        amount=_decimal(v["amount"]),
        currency_code=_text(v["currency_code"]),
        close_date=_timestamp(v["close_date"]),
        is_closed=_bool(v["is_closed"]),
        is_closed_won=_bool(v["is_closed_won"]),
        contact_id=contacts.get(deal_id) if deal_id is not None else None,
        company_id=companies.get(deal_id) if deal_id is not None else None,
        created_at=_timestamp(v["created_at"]),
        last_modified_at=modified,
    )


def unknown_property_report(connector: CrmConnector) -> dict[str, dict[str, int]]:
    """``unknown_properties`` as plain dicts (for asset metadata)."""
    return {t: dict(sorted(c.items())) for t, c in connector.unknown_properties.items() if c}
