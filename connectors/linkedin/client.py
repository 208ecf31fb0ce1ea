"""LinkedIn Marketing API reporting over httpx: the versioned REST API, Rest.li 2.0.

There is no official Python client for the versioned API, so this speaks it directly:

* every call carries ``LinkedIn-Version`` (versions are sunset after about a year, with a 426
  ``NONEXISTENT_VERSION``: keep ``version`` configurable) and ``X-Restli-Protocol-Version``;
* parameters use Rest.li 2.0 syntax: ``List(...)`` and ``(key:value)`` structure stays literal
  while the values inside (URNs) are percent-encoded, which generic URL encoders get wrong in
  one direction or the other, so query strings are built here by hand;
* a query string over 4 KB is refused by LinkedIn (414), so such calls are tunnelled: ``POST``
  with ``X-HTTP-Method-Override: GET`` and the query as a form body;
* object finders (campaign groups, campaigns, creatives) page by cursor (``pageSize`` /
  ``pageToken``), which replaced index paging in version 202401;
* ``adAnalytics`` has no paging and silently stops at 15,000 elements, so a full answer is
  split into halves of the date window until each half fits.

Analytics name creatives only (``pivotValues``); the daily rows are joined here to the
creative's campaign and campaign group so that each row describes itself.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from connectors.retry import (
    CallStats,
    CircuitBreaker,
    Retryable,
    RetryPolicy,
    breaker_for,
    call_with_retry,
)

log = logging.getLogger(__name__)

API_BASE_URL = "https://api.linkedin.com"
API_VERSION = "202611"
PLATFORM = "linkedin"
MAX_QUERY_STRING_BYTES = 4096
ANALYTICS_ELEMENT_LIMIT = 15_000
DEFAULT_PAGE_SIZE = 100
ANALYTICS_FIELDS = (
    "costInLocalCurrency",
    "impressions",
    "clicks",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
    "dateRange",
    "pivotValues",
)

_URN = re.compile(r"^urn:li:(?P<type>[A-Za-z]+):(?P<id>\d+)$")


@dataclass(frozen=True)
class LinkedInCreativeDailyRow:
    """One creative on one day; field names match ``raw.linkedin_creative_daily`` columns.

    The campaign fields are None only when analytics name a creative that the creatives
    finder did not return; validation rejects such rows rather than guessing.
    """

    account_id: str
    date: date
    currency_code: str
    campaign_group_id: int | None
    campaign_id: int | None
    campaign_name: str | None
    creative_id: int | None
    cost: Decimal
    impressions: int
    clicks: int
    external_website_conversions: Decimal
    conversion_value: Decimal


@dataclass(frozen=True)
class LinkedInCreativeRow:
    """A creative with its campaign and campaign group as of ``date`` (the snapshot day);
    field names match ``raw.linkedin_creatives`` columns."""

    date: date
    account_id: str
    currency_code: str
    campaign_group_id: int | None
    campaign_group_name: str | None
    campaign_group_status: str | None
    campaign_id: int | None
    campaign_name: str | None
    campaign_status: str | None
    daily_budget: Decimal | None
    creative_id: int
    creative_name: str | None
    creative_status: str | None
    headline: str | None
    description: str | None
    landing_url: str | None


CREATIVE_DAILY_COLUMNS = tuple(f.name for f in fields(LinkedInCreativeDailyRow))
CREATIVE_COLUMNS = tuple(f.name for f in fields(LinkedInCreativeRow))


class LinkedInApiError(Exception):
    """A call LinkedIn answered with an error, in its ``{status, code, message}`` terms."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        service_error_code: int | None = None,
        retry_after_seconds: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            f"LinkedIn API {status} {code or 'UNKNOWN'}: {message}"
            + (f" (request {request_id})" if request_id else "")
        )
        self.status = status
        self.code = code
        self.message = message
        self.service_error_code = service_error_code
        self.retry_after_seconds = retry_after_seconds
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """Throttling and server trouble pass with time; other client errors do not."""
        return self.status == 429 or self.status >= 500


class LinkedInAuthError(LinkedInApiError):
    """The token is missing, invalid, expired or revoked: retrying cannot help."""


class LinkedInResultTooLarge(Exception):
    """Even a single day's analytics reached the element cap, so the answer is incomplete."""


class LinkedInConnector:
    """Pulls LinkedIn ads reporting for one access token, retrying transient failures.

    Every HTTP request goes through ``call_with_retry`` with the platform's shared circuit
    breaker (``breaker_for("linkedin")`` unless one is passed) and counts into ``stats``.
    """

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str = API_BASE_URL,
        version: str = API_VERSION,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        stats: CallStats | None = None,
        timeout: float = 30,
        breaker: CircuitBreaker | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_query_bytes: int = MAX_QUERY_STRING_BYTES,
        analytics_element_limit: int = ANALYTICS_ELEMENT_LIMIT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={
                "Authorization": f"Bearer {access_token}",
                "LinkedIn-Version": version,
                "X-Restli-Protocol-Version": "2.0.0",
                "Accept": "application/json",
            },
        )
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._breaker = breaker if breaker is not None else breaker_for(PLATFORM)
        self.stats = stats if stats is not None else CallStats()
        self._page_size = page_size
        self._max_query_bytes = max_query_bytes
        self._element_limit = analytics_element_limit

    def __enter__(self) -> LinkedInConnector:
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

    # -- reports -----------------------------------------------------------------------------
    def fetch_creative_analytics_daily(
        self, account_id: str, start: date, end: date
    ) -> list[LinkedInCreativeDailyRow]:
        """Creative × day delivery between ``start`` and ``end`` inclusive, each row joined to
        its campaign and campaign group. Days without activity have no row (LinkedIn omits
        them)."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        account_id = normalize_account_id(account_id)
        currency = self.fetch_ad_account(account_id)["currency"]
        base = f"/rest/adAccounts/{account_id}"
        campaigns = {c["id"]: c for c in self._paged(f"{base}/adCampaigns", [("q", "search")])}
        creative_campaign = {
            _urn_id(c.get("id"), "sponsoredCreative"): _urn_id(
                c.get("campaign"), "sponsoredCampaign"
            )
            for c in self._paged(f"{base}/creatives", [("q", "criteria")])
        }
        rows = []
        for element in self._analytics(account_id, start, end):
            pivots = element.get("pivotValues") or [None]
            creative_id = _urn_id(pivots[0], "sponsoredCreative")
            campaign_id = creative_campaign.get(creative_id) if creative_id else None
            campaign = campaigns.get(campaign_id) if campaign_id else None
            rows.append(
                LinkedInCreativeDailyRow(
                    account_id=account_id,
                    date=_element_date(element),
                    currency_code=currency,
                    campaign_group_id=_urn_id(
                        campaign.get("campaignGroup"), "sponsoredCampaignGroup"
                    )
                    if campaign
                    else None,
                    campaign_id=campaign_id,
                    campaign_name=campaign.get("name") if campaign else None,
                    creative_id=creative_id,
                    cost=_decimal(element.get("costInLocalCurrency", "0")),
                    impressions=int(element.get("impressions", 0)),
                    clicks=int(element.get("clicks", 0)),
                    external_website_conversions=_decimal(
                        element.get("externalWebsiteConversions", 0)
                    ),
                    conversion_value=_decimal(element.get("conversionValueInLocalCurrency", "0")),
                )
            )
        return sorted(rows, key=lambda r: (r.date, r.creative_id or 0))

    def fetch_creatives(
        self, account_id: str, as_of: date | None = None
    ) -> list[LinkedInCreativeRow]:
        """Every creative of the account with its text, landing URL, campaign (status, daily
        budget) and campaign group, as a snapshot dated ``as_of`` (the partition day; today
        in UTC when not given)."""
        account_id = normalize_account_id(account_id)
        as_of = as_of or datetime.now(UTC).date()
        currency = self.fetch_ad_account(account_id)["currency"]
        base = f"/rest/adAccounts/{account_id}"
        groups = {g["id"]: g for g in self._paged(f"{base}/adCampaignGroups", [("q", "search")])}
        campaigns = {c["id"]: c for c in self._paged(f"{base}/adCampaigns", [("q", "search")])}
        rows = []
        for creative in self._paged(f"{base}/creatives", [("q", "criteria")]):
            creative_id = _urn_id(creative.get("id"), "sponsoredCreative")
            if creative_id is None:
                raise LinkedInApiError(
                    200, "MALFORMED_RESPONSE", f"creative without a valid id: {creative!r}"
                )
            campaign = campaigns.get(_urn_id(creative.get("campaign"), "sponsoredCampaign"))
            group_id = (
                _urn_id(campaign.get("campaignGroup"), "sponsoredCampaignGroup")
                if campaign
                else None
            )
            group = groups.get(group_id)
            text_ad = (creative.get("content") or {}).get("textAd") or {}
            rows.append(
                LinkedInCreativeRow(
                    date=as_of,
                    account_id=account_id,
                    currency_code=currency,
                    campaign_group_id=group_id,
                    campaign_group_name=group.get("name") if group else None,
                    campaign_group_status=group.get("status") if group else None,
                    campaign_id=campaign["id"] if campaign else None,
                    campaign_name=campaign.get("name") if campaign else None,
                    campaign_status=campaign.get("status") if campaign else None,
                    daily_budget=_daily_budget(campaign, currency) if campaign else None,
                    creative_id=creative_id,
                    creative_name=creative.get("name"),
                    creative_status=creative.get("intendedStatus"),
                    headline=text_ad.get("headline"),
                    description=text_ad.get("description"),
                    landing_url=text_ad.get("landingPage"),
                )
            )
        return sorted(rows, key=lambda r: r.creative_id)

    def fetch_ad_account(self, account_id: str) -> dict[str, Any]:
        """The ad account object (``id``, ``name``, ``currency``, ``status``, ...)."""
        return self.get(f"/rest/adAccounts/{normalize_account_id(account_id)}")

    def fetch_campaign_budgets(self, account_id: str) -> dict[int, Decimal | None]:
        """Each campaign's daily budget in the account currency (None on a lifetime budget)."""
        account_id = normalize_account_id(account_id)
        currency = self.fetch_ad_account(account_id)["currency"]
        campaigns = self._paged(f"/rest/adAccounts/{account_id}/adCampaigns", [("q", "search")])
        return {int(c["id"]): _daily_budget(c, currency) for c in campaigns}

    def set_campaign_daily_budget(
        self, account_id: str, campaign_id: int, amount: Decimal, currency: str
    ) -> None:
        """Set a campaign's ``dailyBudget`` with a Rest.li PARTIAL_UPDATE (``$set`` patch).
        An absolute value, so a retried call is safe."""
        account_id = normalize_account_id(account_id)
        amount = Decimal(amount)
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise ValueError(f"budget {amount} must be a positive amount in whole cents")
        body = {
            "patch": {
                "$set": {"dailyBudget": {"amount": f"{amount:.2f}", "currencyCode": currency}}
            }
        }
        path = f"/rest/adAccounts/{account_id}/adCampaigns/{int(campaign_id)}"

        def attempt() -> None:
            response = self._http.post(
                path, json=body, headers={"X-RestLi-Method": "PARTIAL_UPDATE"}
            )
            if response.status_code >= 400:
                raise _api_error(response)

        call_with_retry(
            attempt,
            classify=_classify,
            policy=self._policy,
            sleep=self._sleep,
            rand=self._rand,
            breaker=self._breaker,
            stats=self.stats,
        )

    # -- transport ---------------------------------------------------------------------------
    def get(self, path: str, params: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
        """One API read with retries. ``params`` values must already be Rest.li-encoded
        (see ``restli_list``); names and plain values are percent-encoded here."""
        query = "&".join(f"{quote(name, safe='')}={value}" for name, value in params)
        return call_with_retry(
            lambda: self._send(path, query),
            classify=_classify,
            policy=self._policy,
            sleep=self._sleep,
            rand=self._rand,
            on_retry=lambda attempt, error, delay: log.warning(
                "LinkedIn %s failed (attempt %d), retrying in %.1fs: %s",
                path,
                attempt,
                delay,
                error,
            ),
            breaker=self._breaker,
            stats=self.stats,
        )

    def _send(self, path: str, query: str) -> dict[str, Any]:
        if len(query.encode()) > self._max_query_bytes:
            response = self._http.post(
                path,
                content=query.encode(),
                headers={
                    "X-HTTP-Method-Override": "GET",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
        else:
            response = self._http.get(f"{path}?{query}" if query else path)
        if response.status_code >= 400:
            raise _api_error(response)
        try:
            body = response.json()
        except ValueError as error:
            raise LinkedInApiError(
                response.status_code, "MALFORMED_RESPONSE", f"not JSON: {response.text[:200]!r}"
            ) from error
        if not isinstance(body, dict):
            raise LinkedInApiError(response.status_code, "MALFORMED_RESPONSE", repr(body)[:200])
        return body

    def _paged(self, path: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """All elements of a cursor-paged finder."""
        elements: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            page_params = [*params, ("pageSize", str(self._page_size))]
            if token is not None:
                page_params.append(("pageToken", quote(token, safe="")))
            body = self.get(path, page_params)
            elements.extend(body.get("elements") or [])
            token = (body.get("metadata") or {}).get("nextPageToken")
            if not token:
                return elements
            if token in seen:
                raise LinkedInApiError(200, "PAGING_LOOP", f"{path} repeated page token {token}")
            seen.add(token)

    def fetch_account_totals(self, account_id: str, start: date, end: date) -> tuple[Decimal, int]:
        """Cost and clicks of the whole account over the window (pivot ACCOUNT, granularity
        ALL): LinkedIn's own totals, to reconcile the creative-level rows against."""
        account_id = normalize_account_id(account_id)
        elements = self.get(
            "/rest/adAnalytics",
            [
                ("q", "analytics"),
                ("pivot", "ACCOUNT"),
                ("timeGranularity", "ALL"),
                ("dateRange", restli_date_range(start, end)),
                ("accounts", restli_list([f"urn:li:sponsoredAccount:{account_id}"])),
                ("fields", "costInLocalCurrency,clicks,pivotValues"),
            ],
        ).get("elements", [])
        cost = sum((_decimal(e.get("costInLocalCurrency", "0")) for e in elements), Decimal(0))
        return cost, sum(int(e.get("clicks", 0)) for e in elements)

    def _analytics(self, account_id: str, start: date, end: date) -> list[dict[str, Any]]:
        """Creative × day analytics; a window whose answer hits the element cap (and so may
        be cut short) is split in two and fetched again."""
        elements = self.get(
            "/rest/adAnalytics",
            [
                ("q", "analytics"),
                ("pivot", "CREATIVE"),
                ("timeGranularity", "DAILY"),
                ("dateRange", restli_date_range(start, end)),
                ("accounts", restli_list([f"urn:li:sponsoredAccount:{account_id}"])),
                ("fields", ",".join(ANALYTICS_FIELDS)),
            ],
        ).get("elements", [])
        if len(elements) < self._element_limit:
            return elements
        if start == end:
            raise LinkedInResultTooLarge(
                f"account {account_id} has {len(elements)}+ creative analytics elements on "
                f"{start}: the {self._element_limit} cap cuts the day short"
            )
        middle = start + timedelta(days=(end - start).days // 2)
        return self._analytics(account_id, start, middle) + self._analytics(
            account_id, middle + timedelta(days=1), end
        )


# -- Rest.li 2.0 encoding ----------------------------------------------------------------------
def restli_list(values: Iterable[str]) -> str:
    """``List(a,b)`` with each value percent-encoded (URN colons become ``%3A``) and the
    structure left literal, as Rest.li 2.0 wants it in a query string."""
    return "List(" + ",".join(quote(v, safe="") for v in values) + ")"


def restli_date(day: date) -> str:
    return f"(year:{day.year},month:{day.month},day:{day.day})"


def restli_date_range(start: date, end: date) -> str:
    return f"(start:{restli_date(start)},end:{restli_date(end)})"


def normalize_account_id(account_id: str) -> str:
    """``123`` or ``urn:li:sponsoredAccount:123`` as ``123``."""
    text = str(account_id).strip()
    match = _URN.match(text)
    if match is not None and match["type"] == "sponsoredAccount":
        return match["id"]
    if not text.isdigit():
        raise ValueError(f"LinkedIn ad account id must be numeric or a URN, got {account_id!r}")
    return text


# -- decoding --------------------------------------------------------------------------------------
def _api_error(response: httpx.Response) -> LinkedInApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    code = message = service = None
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        service = body.get("serviceErrorCode")
        if message is None and isinstance(body.get("error"), dict):
            message = body["error"].get("message")
    cls = LinkedInAuthError if response.status_code == 401 else LinkedInApiError
    return cls(
        response.status_code,
        code,
        message or response.text[:200] or response.reason_phrase,
        service_error_code=service,
        retry_after_seconds=_retry_after_seconds(response.headers.get("Retry-After")),
        request_id=response.headers.get("x-li-uuid"),
    )


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _classify(error: Exception) -> Retryable | None:
    if isinstance(error, LinkedInAuthError):
        return None
    if isinstance(error, LinkedInApiError):
        return Retryable(error.retry_after_seconds) if error.retryable else None
    if isinstance(error, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return Retryable()
    return None


def _urn_id(value: Any, urn_type: str) -> int | None:
    match = _URN.match(value) if isinstance(value, str) else None
    return int(match["id"]) if match is not None and match["type"] == urn_type else None


def _element_date(element: dict[str, Any]) -> date:
    """The day of a DAILY analytics element (its ``dateRange.start``)."""
    try:
        start = element["dateRange"]["start"]
        return date(int(start["year"]), int(start["month"]), int(start["day"]))
    except (KeyError, TypeError, ValueError) as error:
        raise LinkedInApiError(
            200, "MALFORMED_RESPONSE", f"analytics element without a valid dateRange: {element!r}"
        ) from error


def _decimal(value: Any) -> Decimal:
    """LinkedIn's numbers as exact decimals: money arrives as strings, counts as integers."""
    if isinstance(value, bool):
        raise LinkedInApiError(200, "MALFORMED_RESPONSE", f"expected a number, got {value!r}")
    try:
        return Decimal(value if isinstance(value, str | int) else repr(value))
    except InvalidOperation as error:
        raise LinkedInApiError(
            200, "MALFORMED_RESPONSE", f"expected a number, got {value!r}"
        ) from error


def _daily_budget(campaign: dict[str, Any], account_currency: str) -> Decimal | None:
    budget = campaign.get("dailyBudget")
    if not budget:
        return None  # a campaign on a lifetime budget only
    if budget.get("currencyCode") != account_currency:
        raise LinkedInApiError(
            200,
            "MALFORMED_RESPONSE",
            f"campaign {campaign.get('id')} budget is in {budget.get('currencyCode')}, "
            f"its account in {account_currency}",
        )
    return _decimal(budget["amount"])
