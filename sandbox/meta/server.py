"""A Meta Marketing API (Graph v26.0) sandbox that the unmodified ``facebook-business`` SDK
can talk to over HTTP.

It serves what our connector reads, in Graph's own shapes: ad account objects and edges
(``/act_{id}/campaigns|adsets|ads``) with field selection including nested fields
(``creative{title,body}``), ``/act_{id}/insights`` (level, time_increment, time_range,
fields), async report runs (``POST /act_{id}/insights`` → poll ``/{report_run_id}`` →
page ``/{report_run_id}/insights``), cursor paging with an absolute ``paging.next`` on the
sandbox's own base URL, Graph's JSON errors (190 for a bad token, 100 for bad parameters or
unknown objects), and Meta's rate limiting: an ``X-Business-Use-Case-Usage`` header on every
account call whose percentages rise with recent call volume, and a block (code 80000 for
insights, 80004 for ads management, HTTP 400) when the volume exceeds the capacity.

Faults (throttle, 5xx, dropped connections, slow answers) come from
``sandbox.http.SandboxHttpServer``; a throttle fault answers like Meta (see
``inject_throttle``).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from sandbox.http import FAULT_KINDS, Request, Response, SandboxHttpServer
from sandbox.meta.data import (
    MICROS,
    MetaAccount,
    MetaAd,
    MetaAdSet,
    MetaCampaign,
    MetaData,
    MetaDelivery,
    all_clicks,
)

API_VERSION = "v26.0"
DEFAULT_ACCESS_TOKEN = "sandbox-meta-token"
DEFAULT_LIMIT = 25  # Graph's default page size
MAX_LIMIT = 5000
MAX_RECORDED_REQUESTS = 10_000
MAX_REPORT_RUNS = 1_000  # older report runs are forgotten, as Meta expires them
LEAD_ACTION = "offsite_conversion.fb_pixel_lead"
USAGE_HEADER = "X-Business-Use-Case-Usage"
THROTTLE_CODES = (17, 613, 80000, 80004)  # what random throttle faults rotate through
# Async report runs report these on successive polls. Meta can say 100% while the job is
# still running, so a client must wait for the status, not the percentage.
REPORT_PROGRESS = (
    ("Job Not Started", 0),
    ("Job Started", 0),
    ("Job Running", 50),
    ("Job Running", 100),
    ("Job Completed", 100),
)
REPORT_FAILURES = ("Job Failed", "Job Skipped")

_THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80000: "(#80000) There have been too many calls from this ad-account. Wait a bit and "
    "try again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
    80004: "(#80004) There have been too many calls to this ad-account. Wait a bit and try "
    "again. For more info, please refer to "
    "https://developers.facebook.com/docs/graph-api/overview/rate-limiting#ads-management.",
}
_BUC_SUBCODE = 2446079  # what Meta sends with its business-use-case throttles

FieldSpec = dict[str, "FieldSpec | None"]
_NESTED_TYPES = {"creative": "AdCreative", "adset": "AdSet", "campaign": "Campaign"}


class GraphError(Exception):
    """A Graph API error answer, raised inside handlers and turned into a response."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        error_type: str = "OAuthException",
        subcode: int | None = None,
        status: int = 400,
        headers: dict[str, str] | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.error_type = error_type
        self.subcode = subcode
        self.status = status
        self.headers = headers or {}
        self.transient = transient

    def response(self) -> Response:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = _trace_id()
        return Response(self.status, {"error": error}, dict(self.headers))


def _trace_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(8)).decode().rstrip("=")


def _bad_parameter(message: str) -> GraphError:
    return GraphError(100, f"(#100) {message}")


def _no_such_object(object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        error_type="GraphMethodException",
        subcode=33,
    )


# -- field selection ------------------------------------------------------------------------


def parse_fields(raw: str | None) -> FieldSpec | None:
    """Graph's ``fields`` parameter as a tree: ``a,b{c,d}`` → {a: None, b: {c: None, d:
    None}}. The SDK sends a comma list on GET and a JSON array on POST; both are accepted."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError as error:
            raise _bad_parameter(f"fields is not valid JSON: {error}") from None
        text = ",".join(str(item) for item in items)
    spec, end = _parse_field_list(text, 0)
    if end != len(text):
        raise _bad_parameter(f"unbalanced braces in fields {raw!r}")
    return spec


def _parse_field_list(text: str, i: int) -> tuple[FieldSpec, int]:
    spec: FieldSpec = {}
    name = ""
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if name.strip():
                spec[name.strip()] = None
            name, i = "", i + 1
        elif ch == "{":
            if not name.strip():
                raise _bad_parameter("a nested field list needs a field name before '{'")
            spec[name.strip()], i = _parse_field_list(text, i + 1)
            name = ""
        elif ch == "}":
            if name.strip():
                spec[name.strip()] = None
            return spec, i + 1
        else:
            name, i = name + ch, i + 1
    if name.strip():
        spec[name.strip()] = None
    return spec, i


def select(node_type: str, full: dict[str, Any], spec: FieldSpec | None) -> dict[str, Any]:
    """The requested fields of an object (always with its id), Graph style: unknown fields
    are an error, known fields without a value are left out, and a nested object asked for
    without a field list comes back as just its id."""
    out: dict[str, Any] = {}
    for name, sub in (spec or {}).items():
        if name not in full:
            raise _bad_parameter(
                f"Tried accessing nonexisting field ({name}) on node type ({node_type})"
            )
        value = full[name]
        if value is None:
            continue
        if isinstance(value, dict):
            nested_type = _NESTED_TYPES.get(name, name)
            value = select(nested_type, value, sub) if sub else {"id": value["id"]}
        elif sub:
            raise _bad_parameter(f"field {name} on {node_type} has no subfields")
        out[name] = value
    if "id" in full:
        out["id"] = full["id"]
    return out


# -- cursors ---------------------------------------------------------------------------------


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_parameter(f"invalid cursor {cursor!r}") from None


# -- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    """One request that reached the API (faults are counted by the HTTP layer instead)."""

    method: str
    path: str
    params: dict[str, str]


@dataclass
class _ReportRun:
    report_run_id: str
    account_id: str
    since: date
    until: date
    rows: list[dict[str, Any]]
    fails_with: str | None = None
    polls: int = 0
    created_at: int = 0


@dataclass
class _ThrottleSpec:
    code: int
    regain_minutes: int


@dataclass
class _Usage:
    calls: deque[float] = field(default_factory=deque)


class MetaSandboxServer:
    """The Meta Graph API over a ``MetaData``, on ``127.0.0.1:port`` (0 = any free port).

    ``usage_capacity`` calls per ``usage_window_seconds`` per ad account are 100% usage:
    the ``X-Business-Use-Case-Usage`` header reports the share used, and a call beyond it is
    blocked until the oldest call leaves the window. ``clock`` drives that window, so a test
    can advance time together with the connector's (fake) sleep.
    """

    def __init__(
        self,
        data: MetaData,
        *,
        port: int = 0,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        usage_capacity: int = 1000,
        usage_window_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._data = data
        self.access_token = access_token
        self._capacity = usage_capacity
        self._window = usage_window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}
        self._reports: dict[str, _ReportRun] = {}
        self._report_ids = itertools.count(6_120_000_000_001)
        self._report_failures: deque[str] = deque()
        self._throttles: deque[_ThrottleSpec] = deque()
        self._throttle_rotation = itertools.cycle(THROTTLE_CODES)
        # The latest requests that reached the API, for tests; bounded for long demo runs.
        self.requests: deque[CallRecord] = deque(maxlen=MAX_RECORDED_REQUESTS)
        self.blocked = 0  # calls refused for exceeding the usage capacity
        self._http = SandboxHttpServer("meta", self._handle, throttled=self._throttled, port=port)

    # -- lifecycle and faults ------------------------------------------------------------
    def start(self) -> MetaSandboxServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> MetaSandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def calls(self) -> int:
        """Every HTTP request received, faults included."""
        return self._http.calls

    @property
    def faults_served(self) -> dict[str, int]:
        return dict(self._http.faults_served)

    def inject(self, kind: str, count: int = 1) -> None:
        """The next ``count`` calls fail with ``kind`` (throttle, server_error, drop, slow)."""
        self._http.inject(kind, count)

    def fail_randomly(
        self,
        rate: float,
        seed: int = 0,
        kinds: tuple[str, ...] = FAULT_KINDS,
        slow_seconds: float = 0.5,
    ) -> None:
        self._http.fail_randomly(rate, seed=seed, kinds=kinds)
        self._http.faults.slow_seconds = slow_seconds

    def inject_throttle(self, code: int = 17, count: int = 1, regain_minutes: int = 1) -> None:
        """The next ``count`` calls are throttled with Graph error ``code`` (4, 17, 613,
        80000-80014) and a usage header asking to wait ``regain_minutes``."""
        with self._lock:
            self._throttles.extend(_ThrottleSpec(code, regain_minutes) for _ in range(count))
        self._http.inject("throttle", count)

    def fail_next_report(self, status: str = "Job Failed") -> None:
        """The next async report run ends in ``status`` (Job Failed or Job Skipped)."""
        if status not in REPORT_FAILURES:
            raise ValueError(f"status must be one of {REPORT_FAILURES}")
        with self._lock:
            self._report_failures.append(status)

    # -- dispatch ------------------------------------------------------------------------
    def _handle(self, request: Request) -> Response:
        params = _params(request)
        with self._lock:
            self.requests.append(CallRecord(request.method, request.path, params))
        try:
            return self._route(request, params)
        except GraphError as error:
            return error.response()

    def _route(self, request: Request, params: dict[str, str]) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] != API_VERSION:
            raise GraphError(
                2635,
                "(#2635) You are calling a deprecated version of the Ads API. Please update "
                f"to the latest version: {API_VERSION}.",
            )
        self._authenticate(request, params)
        parts = parts[1:]
        if parts and parts[0].startswith("act_"):
            account = self._account(parts[0])
            edge = parts[1] if len(parts) > 1 else None
            use_case = "ads_insights" if edge == "insights" else "ads_management"
            usage = self._count_call(account.account_id, use_case)
            return _with_usage(
                usage, lambda: self._account_call(request, params, account, parts[1:])
            )
        with self._lock:
            report = self._reports.get(parts[0]) if parts else None
        if report is None and len(parts) == 1 and request.method == "POST":
            adset_account = self._data.adset_account(parts[0])
            if adset_account is not None:
                usage = self._count_call(adset_account, "ads_management")
                return _with_usage(
                    usage, lambda: self._update_adset(adset_account, parts[0], params)
                )
        if report is not None:
            usage = self._count_call(report.account_id, "ads_insights")
            return _with_usage(usage, lambda: self._report_call(request, params, report, parts[1:]))
        if len(parts) == 1:
            raise _no_such_object(parts[0])
        raise GraphError(2500, f"Unknown path components: /{'/'.join(parts[1:])}")

    def _authenticate(self, request: Request, params: dict[str, str]) -> None:
        token = params.get("access_token")
        authorization = request.headers.get("authorization", "")
        if token is None and " " in authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() in ("oauth", "bearer"):
                token = value.strip()
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        if token != self.access_token:
            raise GraphError(
                190,
                "Invalid OAuth access token - Cannot parse access token",
                headers={
                    "WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" '
                    '"Invalid OAuth access token - Cannot parse access token"'
                },
            )

    def _account(self, node: str) -> MetaAccount:
        account_id = node.removeprefix("act_")
        account = self._data.account(account_id) if account_id.isdigit() else None
        if account is None:
            raise _no_such_object(node)
        return account

    # -- rate limiting -------------------------------------------------------------------
    def _count_call(self, account_id: str, use_case: str) -> str:
        """Count a call against the account's window; the usage header it carries. A call
        over the capacity is refused (and not counted) with Meta's business-use-case error."""
        now = self._clock()
        with self._lock:
            calls = self._usage.setdefault(account_id, _Usage()).calls
            while calls and calls[0] <= now - self._window:
                calls.popleft()
            if len(calls) >= self._capacity:
                self.blocked += 1
                regain = math.ceil((calls[0] + self._window - now) / 60)
                code = 80000 if use_case == "ads_insights" else 80004
                raise GraphError(
                    code,
                    _THROTTLE_MESSAGES[code],
                    subcode=_BUC_SUBCODE,
                    transient=True,
                    headers={
                        USAGE_HEADER: _usage_header(account_id, use_case, 100, max(regain, 1))
                    },
                )
            calls.append(now)
            percent = 100 * len(calls) // self._capacity
        return _usage_header(account_id, use_case, percent, 0)

    def _throttled(self, request: Request) -> Response:
        """A throttle fault, Meta style: HTTP 400, a rate-limit code and a usage header."""
        with self._lock:
            spec = (
                self._throttles.popleft()
                if self._throttles
                else _ThrottleSpec(next(self._throttle_rotation), 1)
            )
        parts = [p for p in request.path.split("/") if p]
        node = parts[1] if len(parts) > 1 else ""
        report = self._reports.get(node)
        account_id = report.account_id if report is not None else None
        if node.startswith("act_"):
            account_id = node.removeprefix("act_")
        use_case = "ads_insights" if "insights" in parts or report else "ads_management"
        headers = {}
        if account_id is not None:
            headers[USAGE_HEADER] = _usage_header(account_id, use_case, 100, spec.regain_minutes)
        message = _THROTTLE_MESSAGES.get(spec.code, f"(#{spec.code}) Rate limit reached")
        subcode = _BUC_SUBCODE if spec.code >= 80000 or spec.code == 17 else None
        return GraphError(
            spec.code, message, subcode=subcode, transient=True, headers=headers
        ).response()

    # -- account nodes and edges ---------------------------------------------------------
    def _account_call(
        self, request: Request, params: dict[str, str], account: MetaAccount, rest: list[str]
    ) -> Response:
        if not rest:
            if request.method != "GET":
                raise _bad_parameter("the sandbox does not change ad accounts")
            spec = parse_fields(params.get("fields"))
            return Response(200, select("AdAccount", _account_json(account), spec))
        if len(rest) != 1:
            raise GraphError(2500, f"Unknown path components: /{'/'.join(rest)}")
        edge = rest[0]
        if edge == "insights":
            if request.method == "POST":
                return Response(200, {"report_run_id": self._start_report(account, params)})
            rows, _ = self._insights(account, params)
            return self._page(request, params, rows)
        if request.method != "GET":
            raise _bad_parameter(f"the sandbox does not change {edge}")
        spec = parse_fields(params.get("fields"))
        objects: Iterable[tuple[str, dict[str, Any]]]
        if edge == "campaigns":
            objects = (
                ("Campaign", _campaign_json(c)) for c in self._data.campaigns(account.account_id)
            )
        elif edge == "adsets":
            campaigns = {c.campaign_id: c for c in self._data.campaigns(account.account_id)}
            objects = (
                ("AdSet", _adset_json(s, campaigns[s.campaign_id]))
                for s in self._data.adsets(account.account_id)
            )
        elif edge == "ads":
            campaigns = {c.campaign_id: c for c in self._data.campaigns(account.account_id)}
            adsets = {s.adset_id: s for s in self._data.adsets(account.account_id)}
            objects = (
                ("Ad", _ad_json(a, adsets[a.adset_id], campaigns[a.campaign_id]))
                for a in self._data.ads(account.account_id)
            )
        else:
            raise GraphError(2500, f"Unknown path components: /{edge}")
        items = [select(node_type, full, spec) for node_type, full in objects]
        summary = {"total_count": len(items)} if params.get("summary") == "true" else None
        return self._page(request, params, items, summary=summary)

    def _update_adset(self, account_id: str, adset_id: str, params: dict[str, str]) -> Response:
        """``POST /{adset_id}`` with ``daily_budget`` (minor units, as a string), how Meta
        changes an ad set's budget. Other fields are refused rather than silently ignored."""
        unknown = sorted(set(params) - {"access_token", "daily_budget", "appsecret_proof"})
        if unknown:
            raise _bad_parameter(f"the sandbox only updates daily_budget, not {unknown}")
        raw = params.get("daily_budget")
        if raw is None:
            raise _bad_parameter("daily_budget is required")
        if not raw.isdigit() or int(raw) <= 0:
            raise GraphError(
                100,
                f"(#100) Invalid parameter: daily_budget must be a positive integer in the "
                f"currency's minor units, got {raw!r}",
                subcode=1885272,
            )
        self._data.set_adset_budget(account_id, adset_id, int(raw))
        return Response(200, {"success": True})

    # -- insights ------------------------------------------------------------------------
    def _insights(
        self, account: MetaAccount, params: dict[str, str]
    ) -> tuple[list[dict[str, Any]], tuple[date, date]]:
        for unsupported in ("date_preset", "time_ranges", "breakdowns", "filtering"):
            if params.get(unsupported):
                raise _bad_parameter(f"the sandbox does not support {unsupported}")
        level = params.get("level", "account")
        if level not in _LEVEL_KEYS:
            raise _bad_parameter(f"level must be one of {', '.join(_LEVEL_KEYS)}; got {level}")
        since, until = _time_range(params.get("time_range"))
        bucket = _time_buckets(params.get("time_increment", "all_days"), since, until)
        spec = parse_fields(params.get("fields")) or {"spend": None}
        for name, sub in spec.items():
            if name not in INSIGHT_FIELDS or sub is not None:
                raise _bad_parameter(
                    f"{name} is not valid for fields param. please check "
                    "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/"
                )
        ads = {a.ad_id: a for a in self._data.ads(account.account_id)}
        adsets = {s.adset_id: s for s in self._data.adsets(account.account_id)}
        campaigns = {c.campaign_id: c for c in self._data.campaigns(account.account_id)}
        groups: dict[tuple[Any, ...], _Totals] = {}
        for day in self._data.delivery(account.account_id, since, until):
            ad = ads[day.ad_id]
            ids = {"campaign": ad.campaign_id, "adset": ad.adset_id, "ad": ad.ad_id}
            key = (*bucket(day.date), *(ids[k] for k in _LEVEL_KEYS[level]))
            groups.setdefault(key, _Totals()).add(day)
        rows = []
        for key in sorted(groups, key=lambda k: (k[0], *(int(x) for x in k[2:]))):
            totals = groups[key]
            if totals.impressions == 0 and totals.spend_micros == 0:
                continue  # Meta leaves out rows without delivery
            start, stop, *level_ids = key
            names: dict[str, Any] = {
                "account_id": account.account_id,
                "account_name": account.name,
                "account_currency": account.currency,
            }
            ids = dict(zip(_LEVEL_KEYS[level], level_ids, strict=True))
            if "campaign" in ids:
                names["campaign_id"] = ids["campaign"]
                names["campaign_name"] = campaigns[ids["campaign"]].name
                names["objective"] = campaigns[ids["campaign"]].objective
            if "adset" in ids:
                names["adset_id"] = ids["adset"]
                names["adset_name"] = adsets[ids["adset"]].name
            if "ad" in ids:
                names["ad_id"] = ids["ad"]
                names["ad_name"] = ads[ids["ad"]].name
            full = {**names, **totals.as_graph()}
            row = {name: full[name] for name in spec if full.get(name) is not None}
            row["date_start"], row["date_stop"] = start.isoformat(), stop.isoformat()
            rows.append(row)
        return rows, (since, until)

    def _start_report(self, account: MetaAccount, params: dict[str, str]) -> str:
        rows, (since, until) = self._insights(account, params)
        with self._lock:
            report_id = str(next(self._report_ids))
            fails_with = self._report_failures.popleft() if self._report_failures else None
            while len(self._reports) >= MAX_REPORT_RUNS:
                del self._reports[next(iter(self._reports))]
            self._reports[report_id] = _ReportRun(
                report_id, account.account_id, since, until, rows, fails_with, 0, int(time.time())
            )
        return report_id

    def _report_call(
        self, request: Request, params: dict[str, str], report: _ReportRun, rest: list[str]
    ) -> Response:
        if request.method != "GET":
            raise _bad_parameter("report runs are read-only")
        if not rest:
            with self._lock:
                status, percent = _report_state(report, report.polls)
                report.polls += 1
            full = {
                "id": report.report_run_id,
                "account_id": report.account_id,
                "async_status": status,
                "async_percent_completion": percent,
                "date_start": report.since.isoformat(),
                "date_stop": report.until.isoformat(),
                "time_ref": report.created_at,
                "time_completed": report.created_at if status == "Job Completed" else None,
                "is_running": status not in ("Job Completed", *REPORT_FAILURES),
            }
            spec = parse_fields(params.get("fields")) or dict.fromkeys(full)
            return Response(200, select("AdReportRun", full, spec))
        if rest != ["insights"]:
            raise GraphError(2500, f"Unknown path components: /{'/'.join(rest)}")
        with self._lock:
            # What the last status read said: results exist once a client has seen them done.
            status, _ = _report_state(report, max(report.polls - 1, 0))
        if status != "Job Completed":
            raise GraphError(
                2601,
                f"(#2601) Error accessing adreport job: report {report.report_run_id} "
                f"is not complete ({status})",
            )
        return self._page(request, params, report.rows)

    # -- paging --------------------------------------------------------------------------
    def _page(
        self,
        request: Request,
        params: dict[str, str],
        items: list[dict[str, Any]],
        summary: dict[str, Any] | None = None,
    ) -> Response:
        """One page of ``items`` with Graph's cursors and absolute next/previous links."""
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
        except ValueError:
            raise _bad_parameter(f"limit must be an integer, got {params['limit']!r}") from None
        limit = max(1, min(limit, MAX_LIMIT))
        if params.get("after"):
            start = _decode_cursor(params["after"]) + 1
        elif params.get("before"):
            start = max(0, _decode_cursor(params["before"]) - limit)
        else:
            start = 0
        page = items[start : start + limit]
        body: dict[str, Any] = {"data": page}
        if page:
            end = start + len(page)
            paging: dict[str, Any] = {
                "cursors": {"before": _encode_cursor(start), "after": _encode_cursor(end - 1)}
            }
            if end < len(items):
                paging["next"] = self._link(request, params, after=_encode_cursor(end - 1))
            if start > 0:
                paging["previous"] = self._link(request, params, before=_encode_cursor(start))
            body["paging"] = paging
        if summary is not None:
            body["summary"] = summary
        return Response(200, body)

    def _link(self, request: Request, params: dict[str, str], **cursor: str) -> str:
        # The access token stays out of links (they end up in logs); the SDK adds its own.
        kept = {k: v for k, v in params.items() if k not in ("access_token", "after", "before")}
        return f"{self.base_url}{request.path}?{urlencode({**kept, **cursor})}"


# -- JSON shapes -----------------------------------------------------------------------------


_LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "account": (),
    "campaign": ("campaign",),
    "adset": ("campaign", "adset"),
    "ad": ("campaign", "adset", "ad"),
}
INSIGHT_FIELDS = frozenset(
    {
        "account_id",
        "account_name",
        "account_currency",
        "campaign_id",
        "campaign_name",
        "objective",
        "adset_id",
        "adset_name",
        "ad_id",
        "ad_name",
        "spend",
        "impressions",
        "clicks",
        "inline_link_clicks",
        "actions",
        "action_values",
        "date_start",
        "date_stop",
    }
)


@dataclass
class _Totals:
    spend_micros: int = 0
    impressions: int = 0
    link_clicks: int = 0
    clicks: int = 0
    leads: Decimal = Decimal(0)
    lead_value: Decimal = Decimal(0)

    def add(self, day: MetaDelivery) -> None:
        self.spend_micros += day.spend_micros
        self.impressions += day.impressions
        self.link_clicks += day.link_clicks
        self.clicks += all_clicks(day.link_clicks)  # per day, so any level adds up
        self.leads += day.leads
        self.lead_value += day.lead_value

    def as_graph(self) -> dict[str, Any]:
        """Metrics as Graph sends them: strings, and action lists without zero entries."""
        actions = []
        if self.link_clicks:
            actions.append({"action_type": "link_click", "value": str(self.link_clicks)})
        values = []
        if self.leads:
            # "lead" totals every lead action type; the pixel lead is the one we track.
            actions.append({"action_type": "lead", "value": _plain(self.leads)})
            actions.append({"action_type": LEAD_ACTION, "value": _plain(self.leads)})
        if self.lead_value:
            values.append({"action_type": "lead", "value": _plain(self.lead_value)})
            values.append({"action_type": LEAD_ACTION, "value": _plain(self.lead_value)})
        return {
            "spend": _money(self.spend_micros),
            "impressions": str(self.impressions),
            "clicks": str(self.clicks),
            "inline_link_clicks": str(self.link_clicks),
            "actions": actions or None,
            "action_values": values or None,
        }


def _money(micros: int) -> str:
    """Micros as Meta's spend string: a decimal with exactly two places (exact for cents)."""
    amount = (Decimal(micros) / MICROS).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{amount:.2f}"


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 3, 2.5, 130."""
    text = format(value.normalize(), "f")
    return text


def _account_json(account: MetaAccount) -> dict[str, Any]:
    return {
        "id": f"act_{account.account_id}",
        "account_id": account.account_id,
        "name": account.name,
        "currency": account.currency,
        "timezone_name": account.timezone_name,
        "account_status": 1,
    }


def _campaign_json(campaign: MetaCampaign) -> dict[str, Any]:
    return {
        "id": campaign.campaign_id,
        "account_id": campaign.account_id,
        "name": campaign.name,
        "objective": campaign.objective,
        "status": campaign.status,
        "effective_status": campaign.status,
        "buying_type": "AUCTION",
        "daily_budget": None,  # ad-set budgets (no CBO): see sandbox.meta.data
    }


def _adset_json(adset: MetaAdSet, campaign: MetaCampaign) -> dict[str, Any]:
    return {
        "id": adset.adset_id,
        "account_id": adset.account_id,
        "campaign_id": adset.campaign_id,
        "name": adset.name,
        "status": adset.status,
        "effective_status": _effective(adset.status, campaign=campaign.status),
        "daily_budget": str(adset.daily_budget_minor),
        "billing_event": "IMPRESSIONS",
        "optimization_goal": "OFFSITE_CONVERSIONS",
        "campaign": _campaign_json(campaign),
    }


def _ad_json(ad: MetaAd, adset: MetaAdSet, campaign: MetaCampaign) -> dict[str, Any]:
    return {
        "id": ad.ad_id,
        "account_id": ad.account_id,
        "adset_id": ad.adset_id,
        "campaign_id": ad.campaign_id,
        "name": ad.name,
        "status": ad.status,
        "effective_status": _effective(ad.status, adset=adset.status, campaign=campaign.status),
        "creative": {
            "id": ad.creative_id,
            "name": f"{ad.name} creative",
            "title": ad.title,
            "body": ad.body,
            "link_url": ad.link_url,
            "url_tags": ad.url_tags,
        },
        "adset": _adset_json(adset, campaign),
        "campaign": _campaign_json(campaign),
    }


def _effective(own: str, *, campaign: str, adset: str | None = None) -> str:
    """Meta's effective_status: an active object under a paused parent is not delivering."""
    if own != "ACTIVE":
        return own
    if campaign != "ACTIVE":
        return "CAMPAIGN_PAUSED"
    if adset is not None and adset != "ACTIVE":
        return "ADSET_PAUSED"
    return own


def _with_usage(usage: str, handle: Callable[[], Response]) -> Response:
    """An account call's answer, errors included, with the usage header Meta adds to both."""
    try:
        response = handle()
    except GraphError as error:
        response = error.response()
    response.headers.setdefault(USAGE_HEADER, usage)
    return response


def _usage_header(account_id: str, use_case: str, percent: int, regain_minutes: int) -> str:
    entry = {
        "type": use_case,
        "call_count": percent,
        "total_cputime": percent * 3 // 5,
        "total_time": percent * 4 // 5,
        "estimated_time_to_regain_access": regain_minutes,
        "ads_api_access_tier": "standard_access",
    }
    return json.dumps({account_id: [entry]}, separators=(",", ":"))


def _params(request: Request) -> dict[str, str]:
    params = {k: v[0] for k, v in request.query.items() if v}
    if request.method == "POST" and request.body:
        params.update(request.form())
    return params


def _time_range(raw: str | None) -> tuple[date, date]:
    if not raw:
        raise _bad_parameter("the sandbox needs a time_range ({since, until})")
    try:
        value = json.loads(raw)
        since, until = date.fromisoformat(value["since"]), date.fromisoformat(value["until"])
    except (ValueError, KeyError, TypeError):
        raise _bad_parameter(f"time_range must be {{since, until}} dates, got {raw}") from None
    if since > until:
        raise _bad_parameter(f"time_range since {since} is after until {until}")
    return since, until


def _time_buckets(raw: str, since: date, until: date) -> Callable[[date], tuple[date, date]]:
    """The (date_start, date_stop) row a day falls in, for ``time_increment``."""
    if raw == "all_days":
        return lambda day: (since, until)
    try:
        days = int(raw)
    except ValueError:
        raise _bad_parameter(
            f"time_increment must be all_days or a number of days, got {raw}"
        ) from None
    if not 1 <= days <= 90:
        raise _bad_parameter("time_increment must be between 1 and 90")

    def bucket(day: date) -> tuple[date, date]:
        start = since + timedelta(days=(day - since).days // days * days)
        return start, min(start + timedelta(days=days - 1), until)

    return bucket


def _report_state(report: _ReportRun, reads: int) -> tuple[str, int]:
    """(async_status, async_percent_completion) of a report run at its ``reads``-th status
    read (0-based); it stays at the last state once it gets there."""
    progress = REPORT_PROGRESS
    if report.fails_with is not None:
        progress = (*REPORT_PROGRESS[:3], (report.fails_with, 50))
    return progress[min(reads, len(progress) - 1)]
