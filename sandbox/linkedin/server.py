"""LinkedIn Marketing API sandbox: the versioned REST API (``/rest/...``, Rest.li 2.0) over HTTP.

What it serves, as LinkedIn does (see ../../shared/PLATFORM_APIS.md and data.py for how the
world maps onto accounts, campaign groups, campaigns and creatives):

* ``GET /rest/adAccounts/{id}``;
* ``GET /rest/adAccounts/{id}/adCampaignGroups?q=search``, ``.../adCampaigns?q=search`` and
  ``.../creatives?q=criteria``, paged by cursor (``pageSize``/``pageToken``, the finders'
  paging since version 202401) or by index (``start``/``count``, with ``paging.total``);
* ``GET /rest/adAnalytics?q=analytics`` with one pivot (ACCOUNT, CAMPAIGN_GROUP, CAMPAIGN,
  CREATIVE), DAILY/MONTHLY/ALL granularity, Rest.li ``dateRange=(start:(...),end:(...))`` and
  ``List(...)`` facets. No paging: a response holds at most ``max_analytics_elements``
  elements (15,000 on LinkedIn) and is cut there silently; elements with no activity are left
  out, as LinkedIn does.

Every request needs ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (an active one: the
server's version and the eleven before it) and ``X-Restli-Protocol-Version: 2.0.0``. A query
string over 4 KB is refused with 414; query tunnelling (``POST`` with ``X-HTTP-Method-Override:
GET`` and the query as a form body) is how long requests get through.

One limit of the sandbox: ``sandbox.http`` hands handlers percent-decoded parameters, so it
cannot tell ``List(urn%3Ali%3A...)`` from ``List(urn:li:...)`` or an encoded parenthesis from a
literal one; it accepts both, where LinkedIn wants the URN colons encoded and the Rest.li
structure not. The connector's own tests check the exact encoding it sends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

from sandbox.http import Request, Response, SandboxHttpServer
from sandbox.linkedin.data import Delivery, LinkedInData

API_VERSION = "202611"
ACTIVE_MONTHS = 12  # LinkedIn keeps each monthly version for at least a year
MAX_QUERY_STRING_BYTES = 4096
MAX_ANALYTICS_ELEMENTS = 15_000
MAX_ANALYTICS_FIELDS = 20
DEFAULT_COUNT = 10  # Rest.li's default for index paging
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LOG_LIMIT = 10_000  # requests kept in `log`, so a long-running sandbox does not grow forever

# A fixed, deterministic rate table for costInUsd, so the sandbox's answer is reproducible.
# Currencies not listed get no costInUsd field (the connector never relies on it).
USD_PER_UNIT: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"),
    "CAD": Decimal("0.73"),
    "AUD": Decimal("0.66"),
}

ANALYTICS_FIELDS = frozenset(
    {
        "costInLocalCurrency",
        "costInUsd",
        "impressions",
        "clicks",
        "externalWebsiteConversions",
        "oneClickLeads",
        "conversionValueInLocalCurrency",
        "dateRange",
        "pivotValues",
    }
)
# What LinkedIn returns when `fields` is left out.
DEFAULT_ANALYTICS_FIELDS = ("impressions", "clicks")

_URN = re.compile(r"^urn:li:(?P<type>[A-Za-z]+):(?P<id>\d+)$")
_FACETS = {
    "accounts": "sponsoredAccount",
    "campaignGroups": "sponsoredCampaignGroup",
    "campaigns": "sponsoredCampaign",
    "creatives": "sponsoredCreative",
}
_PIVOTS: dict[str, tuple[str, Callable[[Delivery], int | str]]] = {
    "ACCOUNT": ("sponsoredAccount", lambda d: d.account_id),
    "CAMPAIGN_GROUP": ("sponsoredCampaignGroup", lambda d: d.group_id),
    "CAMPAIGN": ("sponsoredCampaign", lambda d: d.campaign_id),
    "CREATIVE": ("sponsoredCreative", lambda d: d.creative_id),
}
_PAGING_PARAMS = frozenset({"start", "count", "pageSize", "pageToken"})
_ACCOUNT_PATH = re.compile(
    r"^/rest/adAccounts/(?P<account>[^/]+)(?:/(?P<finder>adCampaignGroups|adCampaigns|creatives))?$"
)

_CAMPAIGN_PATH = re.compile(
    r"^/rest/adAccounts/(?P<account>[^/]+)/adCampaigns/(?P<campaign>[^/]+)$"
)


# -- Rest.li 2.0 -------------------------------------------------------------------------------
class RestliSyntaxError(ValueError):
    """A parameter value that is not valid Rest.li 2.0 syntax."""


def parse_restli(text: str) -> Any:
    """Decode one Rest.li 2.0 parameter value (already percent-decoded).

    ``List(a,b)`` is a list, ``(k:v,k2:(...))`` a map, anything else a string; ``''`` is the
    empty string. Scalars run to the next ``,`` or ``)``, so URNs (which contain colons) read
    correctly inside lists and maps.
    """
    parser = _RestliParser(text)
    value = parser.value(top=True)
    if parser.pos != len(text):
        raise RestliSyntaxError(f"unexpected {text[parser.pos :]!r} after a complete value")
    return value


class _RestliParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def value(self, top: bool = False) -> Any:
        if self.text.startswith("List(", self.pos):
            self.pos += len("List(")
            return self._sequence(list_=True)
        if self.text.startswith("(", self.pos):
            self.pos += 1
            return self._sequence(list_=False)
        return self._scalar(top)

    def _sequence(self, list_: bool) -> Any:
        items: list[Any] = []
        fields: dict[str, Any] = {}
        if self._peek() == ")":
            self.pos += 1
            return items if list_ else fields
        while True:
            if list_:
                items.append(self.value())
            else:
                key = self._key()
                if key in fields:
                    raise RestliSyntaxError(f"key {key!r} given twice")
                fields[key] = self.value()
            separator = self._peek()
            self.pos += 1
            if separator == ")":
                return items if list_ else fields
            if separator != ",":
                kind = "List(...)" if list_ else "(...)"
                raise RestliSyntaxError(f"unterminated {kind} in {self.text!r}")

    def _key(self) -> str:
        end = self.pos
        while end < len(self.text) and self.text[end] not in ":,()":
            end += 1
        if end >= len(self.text) or self.text[end] != ":" or end == self.pos:
            raise RestliSyntaxError(f"expected key: at {self.text[self.pos :]!r}")
        key = self.text[self.pos : end]
        self.pos = end + 1
        return key

    def _scalar(self, top: bool) -> str:
        if top:
            end = len(self.text)
        else:
            end = self.pos
            while end < len(self.text) and self.text[end] not in ",)":
                if self.text[end] == "(":
                    raise RestliSyntaxError(f"unexpected '(' in {self.text!r}")
                end += 1
        raw = self.text[self.pos : end]
        self.pos = end
        return "" if raw == "''" else raw

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""


def restli_date(value: Any) -> date:
    """``(year:2026,month:6,day:1)`` (parsed) as a date."""
    if not isinstance(value, dict) or set(value) != {"year", "month", "day"}:
        raise RestliSyntaxError(f"a date is (year:Y,month:M,day:D), got {value!r}")
    try:
        return date(int(value["year"]), int(value["month"]), int(value["day"]))
    except ValueError as error:
        raise RestliSyntaxError(f"invalid date {value!r}: {error}") from error


# -- errors --------------------------------------------------------------------------------------
class _Problem(Exception):
    """An error answer in LinkedIn's shape: ``{status, serviceErrorCode?, code, message}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        service_error_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.service_error_code = service_error_code

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.service_error_code is not None:
            body["serviceErrorCode"] = self.service_error_code
        body.update({"code": self.code, "message": self.message})
        return body


def _bad_param(message: str) -> _Problem:
    return _Problem(400, "ILLEGAL_ARGUMENT", message, service_error_code=100)


def _denied(what: str) -> _Problem:
    return _Problem(403, "ACCESS_DENIED", f"Not enough permissions to access: {what}", 100)


@dataclass(frozen=True)
class RequestRecord:
    """One request that reached the API (faults served by the transport are not here)."""

    method: str
    path: str
    tunnelled: bool
    status: int
    params: Mapping[str, str]


class LinkedInSandboxServer:
    """The LinkedIn Marketing API over the world in ``data``; one token, all accounts."""

    def __init__(
        self,
        data: LinkedInData,
        *,
        port: int = 0,
        access_token: str = "sandbox-linkedin-token",
        version: str = API_VERSION,
        retry_after_seconds: int = 2,
        max_analytics_elements: int = MAX_ANALYTICS_ELEMENTS,
    ) -> None:
        if not re.fullmatch(r"\d{6}", version):
            raise ValueError(f"version must be YYYYMM, got {version!r}")
        self._data = data
        self.access_token = access_token
        self.version = version
        self.active_versions = _active_versions(version, ACTIVE_MONTHS)
        self.retry_after_seconds = retry_after_seconds
        self.max_analytics_elements = max_analytics_elements
        self.log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._http = SandboxHttpServer(
            "linkedin", self._handle, throttled=self._throttled, port=port
        )
        self._slow_seconds = self._http.faults.slow_seconds

    # -- lifecycle and faults (delegated to the shared HTTP server) --------------------------
    def start(self) -> LinkedInSandboxServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> LinkedInSandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def calls(self) -> int:
        """Every request received, faults included."""
        return self._http.calls

    @property
    def faults_served(self) -> dict[str, int]:
        return dict(self._http.faults_served)

    def inject(self, kind: str, count: int = 1) -> None:
        """The next ``count`` calls fail with ``kind`` (throttle, server_error, drop, slow)."""
        self._http.inject(kind, count)

    def fail_randomly(
        self, rate: float, seed: int = 0, kinds: tuple[str, ...] | None = None
    ) -> None:
        """Each call fails with probability ``rate`` (seeded); ``rate=0`` clears all faults."""
        if kinds is None:
            self._http.fail_randomly(rate, seed=seed)
        else:
            self._http.fail_randomly(rate, seed=seed, kinds=kinds)
        self._http.faults.slow_seconds = self._slow_seconds

    def set_slow_seconds(self, seconds: float) -> None:
        """How long a ``slow`` fault stalls the answer (kept across ``fail_randomly``)."""
        self._slow_seconds = seconds
        self._http.faults.slow_seconds = seconds

    # -- serving ---------------------------------------------------------------------------
    def _throttled(self, request: Request) -> Response:
        # serviceErrorCode is opaque and unpublished for throttles; clients key on the status.
        body = {
            "status": 429,
            "serviceErrorCode": 101,
            "code": "TOO_MANY_REQUESTS",
            "message": "Resource level throttle APPLICATION DAY limit for calls to this "
            "resource is reached.",
        }
        return Response(429, body, headers={"Retry-After": str(self.retry_after_seconds)})

    def _handle(self, request: Request) -> Response:
        tunnelled = (
            request.method == "POST"
            and request.headers.get("x-http-method-override", "").upper() == "GET"
        )
        params: dict[str, str] = {}
        try:
            self._check_headers(request)
            campaign = _CAMPAIGN_PATH.match(request.path)
            if campaign is not None and request.method == "POST" and not tunnelled:
                self._partial_update_campaign(request, campaign["account"], campaign["campaign"])
                response = Response(204, b"")
            else:
                params = self._params(request, tunnelled)
                body = self._route(request.path, params)
                response = Response(200, body)
        except _Problem as problem:
            response = Response(problem.status, problem.body())
        response.headers.update({"X-RestLi-Protocol-Version": "2.0.0", "x-li-uuid": _request_id()})
        with self._log_lock:
            self.log.append(
                RequestRecord(request.method, request.path, tunnelled, response.status, params)
            )
            del self.log[:-LOG_LIMIT]
        return response

    def _check_headers(self, request: Request) -> None:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if not token.strip():
            raise _Problem(401, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token", 65604)
        if scheme.lower() != "bearer" or token.strip() != self.access_token:
            raise _Problem(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        version = request.headers.get("linkedin-version")
        if not version:
            raise _Problem(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
            )
        if version.split(".", 1)[0] not in self.active_versions:
            raise _Problem(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise _bad_param(
                "X-Restli-Protocol-Version: 2.0.0 is required; this API speaks Rest.li 2.0 only"
            )

    def _params(self, request: Request, tunnelled: bool) -> dict[str, str]:
        if request.method == "GET":
            if _query_string_bytes(request.query) > MAX_QUERY_STRING_BYTES:
                raise _Problem(
                    414,
                    "REQUEST_URI_TOO_LONG",
                    "The query string exceeds 4 KB; use query tunnelling (POST with "
                    "X-HTTP-Method-Override: GET).",
                )
            query = request.query
        elif tunnelled:
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            if content_type != "application/x-www-form-urlencoded":
                raise _bad_param(
                    "a tunnelled query needs Content-Type: application/x-www-form-urlencoded"
                )
            body = parse_qs(request.body.decode(), keep_blank_values=True)
            query = {**request.query, **body}
        else:
            raise _Problem(405, "METHOD_NOT_ALLOWED", f"{request.method} is not supported here")
        repeated = sorted(name for name, values in query.items() if len(values) > 1)
        if repeated:
            raise _bad_param(f"parameters given more than once: {', '.join(repeated)}")
        return {name: values[0] for name, values in query.items()}

    def _route(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        if path == "/rest/adAnalytics":
            return self._analytics(params)
        match = _ACCOUNT_PATH.match(path)
        if match is None:
            raise _Problem(404, "NOT_FOUND", "No virtual resource found")
        account_id = match["account"]
        if not account_id.isdigit():
            raise _bad_param(f"ad account id must be a number, got {account_id!r}")
        account = self._data.account(account_id)
        if account is None:
            raise _denied(f"adAccounts.GET.{account_id}")
        finder = match["finder"]
        if finder is None:
            return {
                "id": int(account.account_id),
                "name": account.name,
                "currency": account.currency,
                "status": "ACTIVE",
                "type": "BUSINESS",
                "test": False,
                "servingStatuses": ["RUNNABLE"],
            }
        if finder == "adCampaignGroups":
            return self._campaign_groups(account.account_id, params, path)
        if finder == "adCampaigns":
            return self._campaigns(account.account_id, account.currency, params, path)
        return self._creatives(account.account_id, params, path)

    def _partial_update_campaign(self, request: Request, account_id: str, campaign_id: str) -> None:
        """Rest.li PARTIAL_UPDATE of a campaign: ``{"patch": {"$set": {"dailyBudget": {amount,
        currencyCode}}}}``, the only field the sandbox changes; the budget must be in the
        account's currency."""
        if request.headers.get("x-restli-method", "").upper() != "PARTIAL_UPDATE":
            raise _bad_param("updating a campaign needs X-RestLi-Method: PARTIAL_UPDATE")
        if not account_id.isdigit() or not campaign_id.isdigit():
            raise _bad_param("account and campaign ids must be numbers")
        account = self._data.account(account_id)
        if account is None:
            raise _denied(f"adCampaigns.PARTIAL_UPDATE.{campaign_id}")
        if not any(c.campaign_id == int(campaign_id) for c in self._data.campaigns(account_id)):
            raise _Problem(404, "NOT_FOUND", f"Campaign {campaign_id} not found")
        try:
            patch = json.loads(request.body or b"null")
            budget = patch["patch"]["$set"]["dailyBudget"]
            fields = set(patch["patch"]["$set"]) | (set(patch["patch"]) - {"$set"})
            amount = Decimal(str(budget["amount"]))
            currency = budget["currencyCode"]
        except (ValueError, KeyError, TypeError, ArithmeticError):
            raise _bad_param(
                'body must be {"patch": {"$set": {"dailyBudget": {"amount": "..", '
                '"currencyCode": ".."}}}}'
            ) from None
        if fields != {"dailyBudget"}:
            raise _bad_param(f"the sandbox only updates dailyBudget, not {sorted(fields)}")
        if currency != account.currency:
            raise _bad_param(f"dailyBudget must be in the account currency {account.currency}")
        if not amount.is_finite() or amount < 10 or amount != amount.quantize(Decimal("0.01")):
            # LinkedIn's minimum daily budget is 10 in the account currency.
            raise _bad_param(f"dailyBudget amount {budget['amount']!r} must be at least 10.00")
        self._data.set_campaign_budget(account_id, int(campaign_id), int(amount.scaleb(6)))

    # -- finders -----------------------------------------------------------------------------
    def _campaign_groups(
        self, account_id: str, params: dict[str, str], path: str
    ) -> dict[str, Any]:
        _expect_finder(params, "search")
        search = _search(params, {"status", "id"})
        account_urn = f"urn:li:sponsoredAccount:{account_id}"
        elements = [
            {
                "id": g.group_id,
                "name": g.name,
                "account": account_urn,
                "status": g.status,
                "test": False,
                "servingStatuses": ["RUNNABLE"],
            }
            for g in self._data.campaign_groups(account_id)
            if _allowed(search, "status", g.status)
            and _allowed_ids(search, "id", g.group_id, "sponsoredCampaignGroup")
        ]
        return self._page(elements, params, path)

    def _campaigns(
        self, account_id: str, currency: str, params: dict[str, str], path: str
    ) -> dict[str, Any]:
        _expect_finder(params, "search")
        search = _search(params, {"status", "id", "campaignGroup"})
        account_urn = f"urn:li:sponsoredAccount:{account_id}"
        elements = [
            {
                "id": c.campaign_id,
                "name": c.name,
                "account": account_urn,
                "campaignGroup": f"urn:li:sponsoredCampaignGroup:{c.group_id}",
                "status": c.status,
                "type": "TEXT_AD",
                "format": "TEXT_AD",
                "costType": "CPM",
                "objectiveType": c.objective,
                "dailyBudget": {
                    "amount": _decimal_text(Decimal(c.daily_budget_micros).scaleb(-6)),
                    "currencyCode": currency,
                },
                "test": False,
            }
            for c in self._data.campaigns(account_id)
            if _allowed(search, "status", c.status)
            and _allowed_ids(search, "id", c.campaign_id, "sponsoredCampaign")
            and _allowed_ids(search, "campaignGroup", c.group_id, "sponsoredCampaignGroup")
        ]
        return self._page(elements, params, path)

    def _creatives(self, account_id: str, params: dict[str, str], path: str) -> dict[str, Any]:
        _expect_finder(params, "criteria")
        campaigns = _urn_ids(params, "campaigns", "sponsoredCampaign")
        creatives = _urn_ids(params, "creatives", "sponsoredCreative")
        statuses = _string_list(params, "intendedStatuses")
        order = params.get("sortOrder", "ASCENDING")
        if order not in ("ASCENDING", "DESCENDING"):
            raise _bad_param(f"sortOrder must be ASCENDING or DESCENDING, got {order!r}")
        campaign_status = {c.campaign_id: c.status for c in self._data.campaigns(account_id)}
        account_urn = f"urn:li:sponsoredAccount:{account_id}"
        elements = []
        for creative in sorted(
            self._data.creatives(account_id),
            key=lambda c: c.creative_id,
            reverse=order == "DESCENDING",
        ):
            status = campaign_status.get(creative.campaign_id, "ACTIVE")
            if campaigns is not None and creative.campaign_id not in campaigns:
                continue
            if creatives is not None and creative.creative_id not in creatives:
                continue
            if statuses is not None and status not in statuses:
                continue
            elements.append(
                {
                    "id": f"urn:li:sponsoredCreative:{creative.creative_id}",
                    "campaign": f"urn:li:sponsoredCampaign:{creative.campaign_id}",
                    "account": account_urn,
                    "name": creative.name,
                    "intendedStatus": status,
                    "isServing": status == "ACTIVE",
                    "isTest": False,
                    "content": {
                        "textAd": {
                            "headline": creative.headline,
                            "description": creative.description,
                            "landingPage": creative.landing_url,
                        }
                    },
                }
            )
        return self._page(elements, params, path)

    def _page(
        self, elements: list[dict[str, Any]], params: dict[str, str], path: str
    ) -> dict[str, Any]:
        """Cursor paging when the caller uses pageSize/pageToken, index paging otherwise."""
        if "pageSize" in params or "pageToken" in params:
            size = _int_param(params, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
            scope = _query_scope(path, params)
            offset = _decode_page_token(params["pageToken"], scope) if "pageToken" in params else 0
            body: dict[str, Any] = {
                "elements": elements[offset : offset + size],
                "paging": {"start": offset, "count": size, "links": []},
                "metadata": {},
            }
            if offset + size < len(elements):
                body["metadata"]["nextPageToken"] = _page_token(scope, offset + size)
            return body
        start = _int_param(params, "start", 0, 0, None)
        count = _int_param(params, "count", DEFAULT_COUNT, 1, MAX_PAGE_SIZE)
        return {
            "elements": elements[start : start + count],
            "paging": {"start": start, "count": count, "total": len(elements), "links": []},
        }

    # -- analytics ---------------------------------------------------------------------------
    def _analytics(self, params: dict[str, str]) -> dict[str, Any]:
        _expect_finder(params, "analytics")
        pivot = params.get("pivot")
        if pivot not in _PIVOTS:
            raise _bad_param(f"pivot must be one of {sorted(_PIVOTS)}, got {pivot!r}")
        granularity = params.get("timeGranularity")
        if granularity not in ("DAILY", "MONTHLY", "ALL"):
            raise _bad_param(f"timeGranularity must be DAILY, MONTHLY or ALL, got {granularity!r}")
        start, end = _date_range(params)
        fields = _analytics_fields(params)
        facets = {name: _urn_ids(params, name, kind) for name, kind in _FACETS.items()}
        if all(values is None for values in facets.values()):
            raise _bad_param("at least one of accounts, campaignGroups, campaigns, creatives")
        accounts = facets["accounts"]
        if accounts is not None:
            for account_id in sorted(accounts):
                if self._data.account(str(account_id)) is None:
                    raise _denied(f"adAnalytics.GET (account {account_id})")
        rows = self._data.delivery(
            [str(a) for a in accounts] if accounts is not None else None,
            start,
            end or date.max,
        )
        currencies: dict[str, str] = {}

        def keep(row: Delivery) -> bool:
            return all(
                ids is None or value in ids
                for ids, value in (
                    (facets["campaignGroups"], row.group_id),
                    (facets["campaigns"], row.campaign_id),
                    (facets["creatives"], row.creative_id),
                )
            )

        urn_type, pivot_of = _PIVOTS[pivot]
        report_end = end or max((r.date for r in rows), default=start)
        totals: dict[tuple[date, date, int | str], _Totals] = defaultdict(_Totals)
        for row in rows:
            if not keep(row):
                continue
            if row.account_id not in currencies:
                account = self._data.account(row.account_id)
                currencies[row.account_id] = account.currency if account else ""
            period = _period(row.date, granularity, start, report_end)
            totals[(*period, pivot_of(row))].add(row, currencies[row.account_id])
        elements = [
            _analytics_element(fields, period_start, period_end, f"urn:li:{urn_type}:{key}", t)
            for (period_start, period_end, key), t in sorted(
                totals.items(), key=lambda item: (item[0][0], int(item[0][2]))
            )
            if t.active
        ]
        return {
            "paging": {"start": 0, "count": 10, "links": []},
            "elements": elements[: self.max_analytics_elements],
        }


class _Totals:
    """Sums of one analytics element; money in micros (exact), conversions as decimals."""

    def __init__(self) -> None:
        self.cost_micros = 0
        self.cost_usd = Decimal(0)
        self.usd_known = True
        self.impressions = 0
        self.clicks = 0
        self.conversions = Decimal(0)
        self.conversions_value = Decimal(0)

    def add(self, row: Delivery, currency: str) -> None:
        self.cost_micros += row.cost_micros
        rate = USD_PER_UNIT.get(currency)
        if rate is None:
            self.usd_known = False
        else:
            self.cost_usd += Decimal(row.cost_micros).scaleb(-6) * rate
        self.impressions += row.impressions
        self.clicks += row.clicks
        self.conversions += row.conversions
        self.conversions_value += row.conversions_value

    @property
    def active(self) -> bool:
        return bool(
            self.cost_micros
            or self.impressions
            or self.clicks
            or self.conversions
            or self.conversions_value
        )


def _analytics_element(
    fields: tuple[str, ...], start: date, end: date, pivot_urn: str, t: _Totals
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "costInLocalCurrency": _decimal_text(Decimal(t.cost_micros).scaleb(-6)),
        "impressions": t.impressions,
        "clicks": t.clicks,
        "externalWebsiteConversions": _count(t.conversions),
        "oneClickLeads": 0,
        "conversionValueInLocalCurrency": _decimal_text(t.conversions_value),
        "dateRange": {"start": _date_json(start), "end": _date_json(end)},
        "pivotValues": [pivot_urn],
    }
    if t.usd_known:
        values["costInUsd"] = _decimal_text(t.cost_usd)
    return {name: values[name] for name in fields if name in values}


def _period(day: date, granularity: str, start: date, end: date) -> tuple[date, date]:
    if granularity == "DAILY":
        return day, day
    if granularity == "ALL":
        return start, end
    first = day.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return max(first, start), min(last, end)


def _date_range(params: dict[str, str]) -> tuple[date, date | None]:
    if "dateRange" not in params:
        raise _bad_param("dateRange is required: dateRange=(start:(year:Y,month:M,day:D),...)")
    try:
        value = parse_restli(params["dateRange"])
        if not isinstance(value, dict) or "start" not in value or set(value) - {"start", "end"}:
            raise RestliSyntaxError("dateRange is (start:(...)[,end:(...)])")
        start = restli_date(value["start"])
        end = restli_date(value["end"]) if "end" in value else None
    except RestliSyntaxError as error:
        raise _bad_param(f"invalid dateRange {params['dateRange']!r}: {error}") from error
    if end is not None and end < start:
        raise _bad_param(f"dateRange ends ({end}) before it starts ({start})")
    return start, end


def _analytics_fields(params: dict[str, str]) -> tuple[str, ...]:
    if "fields" not in params:
        return DEFAULT_ANALYTICS_FIELDS
    fields = tuple(f.strip() for f in params["fields"].split(",") if f.strip())
    unknown = sorted(set(fields) - ANALYTICS_FIELDS)
    if unknown:
        raise _bad_param(f"unknown analytics fields: {', '.join(unknown)}")
    if len(fields) > MAX_ANALYTICS_FIELDS:
        raise _bad_param(f"at most {MAX_ANALYTICS_FIELDS} fields per request")
    return fields


# -- parameter helpers ---------------------------------------------------------------------------
def _expect_finder(params: dict[str, str], finder: str) -> None:
    if params.get("q") != finder:
        raise _bad_param(f"this resource is queried with q={finder}, got q={params.get('q')!r}")


def _restli_param(params: dict[str, str], name: str) -> Any:
    if name not in params:
        return None
    try:
        return parse_restli(params[name])
    except RestliSyntaxError as error:
        raise _bad_param(f"invalid {name} {params[name]!r}: {error}") from error


def _string_list(params: dict[str, str], name: str) -> set[str] | None:
    value = _restli_param(params, name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad_param(f"{name} must be List(...), got {params[name]!r}")
    return set(value)


def _urn_ids(params: dict[str, str], name: str, urn_type: str) -> set[int] | None:
    values = _string_list(params, name)
    return None if values is None else {_urn_id(v, urn_type, name) for v in values}


def _urn_id(value: str, urn_type: str, name: str) -> int:
    match = _URN.match(value)
    if match is None or match["type"] != urn_type:
        raise _bad_param(f"{name} takes urn:li:{urn_type}:<id> values, got {value!r}")
    return int(match["id"])


def _search(params: dict[str, str], allowed: set[str]) -> dict[str, set[str]]:
    """``search=(status:(values:List(ACTIVE)),id:(values:List(...)))`` as field → values."""
    value = _restli_param(params, "search")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad_param(f"search must be (field:(values:List(...)),...), got {params['search']!r}")
    criteria: dict[str, set[str]] = {}
    for field_name, criterion in value.items():
        if field_name not in allowed:
            raise _bad_param(f"unknown search field {field_name!r}; use {sorted(allowed)}")
        values = criterion.get("values") if isinstance(criterion, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise _bad_param(f"search.{field_name} must be (values:List(...))")
        criteria[field_name] = set(values)
    return criteria


def _allowed(search: dict[str, set[str]], name: str, value: str) -> bool:
    return name not in search or value in search[name]


def _allowed_ids(search: dict[str, set[str]], name: str, value: int, urn_type: str) -> bool:
    if name not in search:
        return True
    wanted = {
        int(v) if v.isdigit() else _urn_id(v, urn_type, f"search.{name}") for v in search[name]
    }
    return value in wanted


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise _bad_param(f"{name} must be an integer, got {raw!r}") from error
    if value < low or (high is not None and value > high):
        raise _bad_param(f"{name} must be between {low} and {high}, got {value}")
    return value


def _query_scope(path: str, params: dict[str, str]) -> str:
    """What a page token is bound to: the resource and every non-paging parameter."""
    stable = sorted((k, v) for k, v in params.items() if k not in _PAGING_PARAMS)
    return hashlib.sha256(json.dumps([path, stable]).encode()).hexdigest()[:16]


def _page_token(scope: str, offset: int) -> str:
    payload = json.dumps({"s": scope, "o": offset}).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode_page_token(token: str, scope: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if decoded["s"] == scope and int(decoded["o"]) >= 0:
            return int(decoded["o"])
    except (ValueError, KeyError, TypeError):
        pass
    raise _bad_param("pageToken is invalid or belongs to another query")


def _query_string_bytes(query: dict[str, list[str]]) -> int:
    """The length of the query string as a Rest.li client would have sent it (approximate:
    the server only sees decoded values, so structural characters count as literal)."""
    return len(urlencode(query, doseq=True, safe="(),:"))


def _active_versions(latest: str, months: int) -> frozenset[str]:
    year, month = int(latest[:4]), int(latest[4:])
    index = year * 12 + month - 1
    return frozenset(f"{(index - i) // 12:04d}{(index - i) % 12 + 1:02d}" for i in range(months))


def _decimal_text(value: Decimal) -> str:
    """A decimal as LinkedIn writes money: plain digits, no exponent, no trailing zeros."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _count(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _date_json(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}


def _request_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
