"""A Google Ads API (v26) sandbox that speaks the real gRPC wire protocol over TLS.

It serves ``GoogleAdsService.Search`` and ``SearchStream`` with the request, response and
failure messages that ship in the ``google-ads`` package, so the unmodified client library
talks to it exactly as it would to Google: same metadata, same paging, and failures in the
``googleadsfailure-bin`` trailer that the client's exception interceptor decodes.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.ads.googleads.v26.errors.types import errors as error_types
from google.ads.googleads.v26.services.types import campaign_budget_service as budget_types
from google.ads.googleads.v26.services.types import google_ads_service as service_types
from google.protobuf import any_pb2
from google.rpc import status_pb2

from sandbox.google_ads import gaql
from sandbox.google_ads.data import GoogleAdsData
from sandbox.google_ads.tls import ensure_self_signed_cert
from sandbox.http import FaultPlan

API_VERSION = "v26"
SERVICE_NAME = f"google.ads.googleads.{API_VERSION}.services.GoogleAdsService"
BUDGET_SERVICE_NAME = f"google.ads.googleads.{API_VERSION}.services.CampaignBudgetService"
FAILURE_METADATA_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
MAX_ROWS_PER_PAGE = 10_000  # fixed by the real API for Search pages and SearchStream batches
CLICK_VIEW_RETENTION_DAYS = 90  # click_view answers for days up to 90 days back

_SearchRequest = service_types.SearchGoogleAdsRequest.pb()
_SearchResponse = service_types.SearchGoogleAdsResponse.pb()
_StreamRequest = service_types.SearchGoogleAdsStreamRequest.pb()
_StreamResponse = service_types.SearchGoogleAdsStreamResponse.pb()
_Row = service_types.GoogleAdsRow.pb()
_MutateBudgetsRequest = budget_types.MutateCampaignBudgetsRequest.pb()
_MutateBudgetsResponse = budget_types.MutateCampaignBudgetsResponse.pb()
_BUDGET_NAME = re.compile(r"^customers/(?P<customer>\d{10})/campaignBudgets/(?P<budget>\d+)$")
_Failure = error_types.GoogleAdsFailure.pb()
_ErrorCode = error_types.ErrorCode.pb()
_CUSTOMER_ID = re.compile(r"\d{10}")


class ApiError(Exception):
    """One GoogleAdsFailure with a single error, and the gRPC status that carries it.

    ``category`` is the ``ErrorCode`` oneof field (``query_error``, ``quota_error`` ...) and
    ``code`` the enum value name within it.
    """

    def __init__(
        self,
        status: grpc.StatusCode,
        category: str,
        code: str,
        message: str,
        retry_delay: timedelta | None = None,
    ) -> None:
        super().__init__(f"{category}.{code}: {message}")
        self.status = status
        self.category = category
        self.code = code
        self.message = message
        self.retry_delay = retry_delay

    def failure(self, request_id: str) -> Any:
        """The serialized-ready ``GoogleAdsFailure`` protobuf for this error."""
        failure = _Failure(request_id=request_id)
        error = failure.errors.add(message=self.message)
        enum = _ErrorCode.DESCRIPTOR.fields_by_name[self.category].enum_type
        setattr(error.error_code, self.category, enum.values_by_name[self.code].number)
        if self.retry_delay is not None:
            details = error.details.quota_error_details
            details.rate_scope = details.QuotaRateScope.Value("DEVELOPER")
            details.rate_name = "Number of operations for basic access"
            details.retry_delay.FromTimedelta(self.retry_delay)
        return failure


@dataclass(frozen=True)
class CallRecord:
    """What one RPC carried; tests assert on it (retries, headers)."""

    method: str
    customer_id: str
    query: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _QuotaFault:
    remaining: int
    retry_delay: timedelta
    code: str


class GoogleAdsSandboxServer:
    """A TLS gRPC server for ``GoogleAdsService`` backed by a ``GoogleAdsData``.

    ``page_size`` and ``stream_batch_size`` exist so tests can see paging with few rows;
    the real API fixes both at 10,000. ``access_token``, if given, must be the bearer token.
    """

    def __init__(
        self,
        data: GoogleAdsData,
        *,
        tls_dir: Path,
        port: int = 0,
        developer_token: str = "sandbox-developer-token",
        access_token: str | None = None,
        page_size: int = MAX_ROWS_PER_PAGE,
        stream_batch_size: int = MAX_ROWS_PER_PAGE,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_workers: int = 8,
    ) -> None:
        self._data = data
        self._tls = ensure_self_signed_cert(Path(tls_dir))
        self._requested_port = port
        self._developer_token = developer_token
        self._access_token = access_token
        self._page_size = page_size
        self._stream_batch_size = stream_batch_size
        self._now = now
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._port: int | None = None
        self._lock = threading.Lock()
        self._faults: list[_QuotaFault] = []
        self._random_faults = FaultPlan()
        self._calls: list[CallRecord] = []

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> GoogleAdsSandboxServer:
        if self._server is not None:
            return self
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self._max_workers))
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    SERVICE_NAME,
                    {
                        "Search": grpc.unary_unary_rpc_method_handler(
                            self._search,
                            request_deserializer=_SearchRequest.FromString,
                            response_serializer=_SearchResponse.SerializeToString,
                        ),
                        "SearchStream": grpc.unary_stream_rpc_method_handler(
                            self._search_stream,
                            request_deserializer=_StreamRequest.FromString,
                            response_serializer=_StreamResponse.SerializeToString,
                        ),
                    },
                ),
                grpc.method_handlers_generic_handler(
                    BUDGET_SERVICE_NAME,
                    {
                        "MutateCampaignBudgets": grpc.unary_unary_rpc_method_handler(
                            self._mutate_campaign_budgets,
                            request_deserializer=_MutateBudgetsRequest.FromString,
                            response_serializer=_MutateBudgetsResponse.SerializeToString,
                        ),
                    },
                ),
            )
        )
        credentials = grpc.ssl_server_credentials(
            [(self._tls.key_path.read_bytes(), self._tls.cert_path.read_bytes())]
        )
        self._port = server.add_secure_port(f"127.0.0.1:{self._requested_port}", credentials)
        if self._port == 0:
            raise RuntimeError(f"could not bind 127.0.0.1:{self._requested_port}")
        server.start()
        self._server = server
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None

    def __enter__(self) -> GoogleAdsSandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def endpoint(self) -> str:
        """What to pass as the client's ``endpoint`` (the certificate names localhost)."""
        return f"localhost:{self.port}"

    @property
    def ca_cert_path(self) -> Path:
        """The file to trust (``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``)."""
        return self._tls.cert_path

    # -- test hooks ----------------------------------------------------------------------

    def inject_quota_errors(
        self,
        count: int,
        retry_delay_seconds: float,
        error: str = "RESOURCE_TEMPORARILY_EXHAUSTED",
    ) -> None:
        """Fail the next ``count`` calls with RESOURCE_EXHAUSTED and this ``QuotaError``."""
        _ErrorCode.DESCRIPTOR.fields_by_name["quota_error"].enum_type.values_by_name[error]
        with self._lock:
            self._faults.append(_QuotaFault(count, timedelta(seconds=retry_delay_seconds), error))

    @property
    def calls(self) -> int:
        """RPCs received so far, failed ones included."""
        with self._lock:
            return len(self._calls)

    @property
    def call_log(self) -> list[CallRecord]:
        with self._lock:
            return list(self._calls)

    # -- RPC handlers --------------------------------------------------------------------

    def _search(self, request: Any, context: grpc.ServicerContext) -> Any:
        request_id = _new_request_id()
        try:
            self._admit("Search", request.customer_id, request.query, context)
            if request.page_size:
                raise ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "request_error",
                    "PAGE_SIZE_NOT_SUPPORTED",
                    "Setting page_size is not supported; pages hold 10,000 rows.",
                )
            query, rows = self._run(request.customer_id, request.query)
            offset = self._offset(request.page_token, request.customer_id, request.query)
            response = _SearchResponse()
            response.field_mask.paths.extend(query.select)
            if request.search_settings.return_total_results_count:
                response.total_results_count = len(rows)
            if query.limit is not None:
                rows = rows[: query.limit]
            if request.validate_only or request.search_settings.omit_results:
                return response
            page = rows[offset : offset + self._page_size]
            for row in page:
                response.results.append(_to_row(query, request.customer_id, row))
            if offset + self._page_size < len(rows):
                response.next_page_token = _page_token(
                    request.customer_id, request.query, offset + self._page_size
                )
            context.set_trailing_metadata((("request-id", request_id),))
            return response
        except ApiError as error:
            _abort(context, error, request_id)

    def _search_stream(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        request_id = _new_request_id()
        try:
            self._admit("SearchStream", request.customer_id, request.query, context)
            query, rows = self._run(request.customer_id, request.query)
        except ApiError as error:
            _abort(context, error, request_id)
        if query.limit is not None:
            rows = rows[: query.limit]
        context.set_trailing_metadata((("request-id", request_id),))
        for start in range(0, max(len(rows), 1), self._stream_batch_size):
            batch = _StreamResponse(request_id=request_id)
            batch.field_mask.paths.extend(query.select)
            for row in rows[start : start + self._stream_batch_size]:
                batch.results.append(_to_row(query, request.customer_id, row))
            yield batch

    def _mutate_campaign_budgets(self, request: Any, context: grpc.ServicerContext) -> Any:
        """Update operations on ``amount_micros`` only (what an optimizer changes); all or
        nothing unless ``partial_failure`` is set, which the sandbox does not support."""
        request_id = _new_request_id()
        try:
            self._admit("MutateCampaignBudgets", request.customer_id, "", context)
            if self._data.account(request.customer_id) is None:
                raise ApiError(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "authorization_error",
                    "USER_PERMISSION_DENIED",
                    "User doesn't have permission to access customer.",
                )
            if request.partial_failure:
                raise ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "request_error",
                    "UNKNOWN",
                    "The sandbox does not support partial_failure.",
                )
            if not request.operations:
                raise ApiError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "mutate_error",
                    "RESOURCE_NOT_FOUND",
                    "At least one operation is required.",
                )
            changes = [self._budget_update(request.customer_id, op) for op in request.operations]
            response = _MutateBudgetsResponse()
            for resource_name, budget_id, amount in changes:
                if not request.validate_only:
                    self._data.set_campaign_budget(request.customer_id, budget_id, amount)
                response.results.add(resource_name=resource_name)
            context.set_trailing_metadata((("request-id", request_id),))
            return response
        except ApiError as error:
            _abort(context, error, request_id)

    def _budget_update(self, customer_id: str, operation: Any) -> tuple[str, int, int]:
        if operation.WhichOneof("operation") != "update":
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "mutate_error",
                "MUTATE_NOT_ALLOWED",
                "The sandbox only updates campaign budgets (no create or remove).",
            )
        budget = operation.update
        # The client's field_mask helper lists every set field, resource_name included.
        paths = set(operation.update_mask.paths) - {"resource_name"}
        if paths != {"amount_micros"}:
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "field_mask_error",
                "FIELD_NOT_FOUND" if operation.update_mask.paths else "FIELD_MASK_MISSING",
                "The update mask must name amount_micros only.",
            )
        match = _BUDGET_NAME.match(budget.resource_name)
        if match is None or match["customer"] != customer_id:
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "request_error",
                "RESOURCE_NAME_MALFORMED",
                f"Malformed campaign budget resource name {budget.resource_name!r}.",
            )
        # Google bills in micros but takes budgets in multiples of its currency's minimum
        # unit (10,000 micros for a cent); a budget must be positive.
        if budget.amount_micros <= 0 or budget.amount_micros % 10_000:
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "campaign_budget_error",
                "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"
                if budget.amount_micros > 0
                else "MONEY_AMOUNT_LESS_THAN_CURRENCY_MINIMUM_CPC",
                f"amount_micros {budget.amount_micros} is not a positive multiple of 10000.",
            )
        budget_id = int(match["budget"])
        if not self._data.has_campaign_budget(customer_id, budget_id):
            raise ApiError(
                grpc.StatusCode.NOT_FOUND,
                "mutate_error",
                "RESOURCE_NOT_FOUND",
                f"Campaign budget {budget.resource_name} was not found.",
            )
        return budget.resource_name, budget_id, int(budget.amount_micros)

    # -- request checks and execution ----------------------------------------------------

    def _admit(
        self, method: str, customer_id: str, query: str, context: grpc.ServicerContext
    ) -> None:
        """Record the call, then the API's checks in its order: auth, quota, customer."""
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        with self._lock:
            self._calls.append(CallRecord(method, customer_id, query, metadata))
        token = metadata.get("developer-token")
        if token is None:
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "request_error",
                "DEVELOPER_TOKEN_PARAMETER_MISSING",
                "Developer token parameter is missing.",
            )
        if token != self._developer_token:
            raise ApiError(
                grpc.StatusCode.UNAUTHENTICATED,
                "authentication_error",
                "DEVELOPER_TOKEN_INVALID",
                "The developer token is not valid.",
            )
        bearer = metadata.get("authorization", "")
        if not bearer.startswith("Bearer ") or not bearer.removeprefix("Bearer ").strip():
            raise ApiError(
                grpc.StatusCode.UNAUTHENTICATED,
                "authentication_error",
                "OAUTH_TOKEN_HEADER_INVALID",
                "OAuth token HTTP header is malformed or missing.",
            )
        if self._access_token is not None and bearer.removeprefix("Bearer ") != self._access_token:
            raise ApiError(
                grpc.StatusCode.UNAUTHENTICATED,
                "authentication_error",
                "OAUTH_TOKEN_INVALID",
                "OAuth token in the header is not valid.",
            )
        login = metadata.get("login-customer-id")
        if login is not None and not _CUSTOMER_ID.fullmatch(login):
            raise ApiError(
                grpc.StatusCode.UNAUTHENTICATED,
                "authentication_error",
                "CLIENT_CUSTOMER_ID_INVALID",
                f"login-customer-id must be 10 digits without dashes, got {login!r}.",
            )
        self._take_quota_fault()
        self._take_random_fault(context)
        if not _CUSTOMER_ID.fullmatch(customer_id):
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "request_error",
                "INVALID_CUSTOMER_ID",
                f"Customer ID must be 10 digits without dashes, got {customer_id!r}.",
            )

    def fail_randomly(self, rate: float, seed: int = 0, slow_seconds: float = 0.2) -> None:
        """Fail about `rate` of the calls from now on, as the real API does on a bad day:
        quota errors with a retry delay, INTERNAL errors, UNAVAILABLE (a dropped connection)
        and slow answers. Seeded, so a test sees the same faults every run."""
        with self._lock:
            self._random_faults = FaultPlan(rate=rate, seed=seed, slow_seconds=slow_seconds)

    def _take_random_fault(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            fault = self._random_faults.next_fault()
        if fault == "slow":
            time.sleep(self._random_faults.slow_seconds)
        elif fault == "throttle":
            raise ApiError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "quota_error",
                "RESOURCE_TEMPORARILY_EXHAUSTED",
                "Too many requests. Retry in 1 seconds.",
                retry_delay=timedelta(seconds=1),
            )
        elif fault == "server_error":
            context.abort(grpc.StatusCode.INTERNAL, "Internal error encountered.")
        elif fault == "drop":
            context.abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")

    def _take_quota_fault(self) -> None:
        with self._lock:
            fault = self._faults[0] if self._faults else None
            if fault is None:
                return
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.pop(0)
        raise ApiError(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "quota_error",
            fault.code,
            f"Too many requests. Retry in {fault.retry_delay.total_seconds():g} seconds.",
            retry_delay=fault.retry_delay,
        )

    def _run(self, customer_id: str, text: str) -> tuple[gaql.GaqlQuery, list[dict[str, Any]]]:
        account = self._data.account(customer_id)
        if account is None:
            raise ApiError(
                grpc.StatusCode.PERMISSION_DENIED,
                "authorization_error",
                "USER_PERMISSION_DENIED",
                "User doesn't have permission to access customer. Note: If you're accessing "
                "a client customer, the manager's customer id must be set in the "
                "'login-customer-id' header.",
            )
        try:
            query = gaql.parse(text)
        except gaql.GaqlError as error:
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT, "query_error", error.code, error.message
            ) from error
        today = self._today(account.get("customer.time_zone"))
        start, end = query.date_range(today)
        if query.resource == "click_view":
            return query, gaql.execute(query, self._click_rows(customer_id, start, end, today))
        needs_delivery = query.has_date_filter or any(
            gaql.FIELDS[f][0] == "metric"
            for f in (*query.select, *(c.field for c in query.conditions))
        )
        if needs_delivery:
            rows = self._data.ad_rows(customer_id, start or date.min, end or date.max)
        else:
            rows = self._data.ad_rows(customer_id, None, None)
        return query, gaql.execute(query, rows, today)

    def _click_rows(
        self, customer_id: str, start: date | None, end: date | None, today: date
    ) -> list[dict[str, Any]]:
        """The click_view report's rules: one day per query, at most 90 days back."""
        if start is None or start != end:
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "click_view_error",
                "EXPECTED_FILTER_ON_A_SINGLE_DAY",
                "Queries including ClickView must have a filter limiting the results to one day.",
            )
        if start < today - timedelta(days=CLICK_VIEW_RETENTION_DAYS):
            raise ApiError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "click_view_error",
                "DATE_TOO_OLD",
                f"ClickView is available for the last {CLICK_VIEW_RETENTION_DAYS} days only; "
                f"{start} is older.",
            )
        return self._data.click_rows(customer_id, start)

    def _today(self, time_zone: str | None) -> date:
        """Dates are the account's days, as in the API (DURING TODAY follows its clock)."""
        try:
            zone = ZoneInfo(time_zone) if time_zone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        return self._now().astimezone(zone).date()

    @staticmethod
    def _offset(page_token: str, customer_id: str, query: str) -> int:
        if not page_token:
            return 0
        with contextlib.suppress(ValueError, KeyError, TypeError):
            decoded = json.loads(base64.urlsafe_b64decode(page_token.encode()))
            if decoded["q"] == _query_hash(customer_id, query):
                return int(decoded["o"])
        raise ApiError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "request_error",
            "INVALID_PAGE_TOKEN",
            "Page token is invalid or belongs to another query.",
        )


def _query_hash(customer_id: str, query: str) -> str:
    return hashlib.sha256(f"{customer_id}\n{query}".encode()).hexdigest()[:16]


def _page_token(customer_id: str, query: str, offset: int) -> str:
    payload = json.dumps({"q": _query_hash(customer_id, query), "o": offset})
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _new_request_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _abort(context: grpc.ServicerContext, error: ApiError, request_id: str) -> NoReturn:
    """Fail the call the way Google does: status, failure trailer, rich status details."""
    failure = error.failure(request_id)
    detail = any_pb2.Any()
    detail.Pack(failure)
    status = status_pb2.Status(code=error.status.value[0], message=error.message, details=[detail])
    context.set_trailing_metadata(
        (
            (FAILURE_METADATA_KEY, failure.SerializeToString()),
            ("grpc-status-details-bin", status.SerializeToString()),
            ("request-id", request_id),
        )
    )
    context.abort(error.status, error.message)


def _resource_names(customer_id: str, row: Mapping[str, Any]) -> dict[str, str | None]:
    def named(template: str, *keys: str) -> str | None:
        values = [row.get(k) for k in keys]
        return None if None in values else template.format(customer_id, *values)

    return {
        "customer": f"customers/{customer_id}",
        "campaign": named("customers/{}/campaigns/{}", "campaign.id"),
        "campaign_budget": row.get("campaign.campaign_budget"),
        "ad_group": named("customers/{}/adGroups/{}", "ad_group.id"),
        "ad_group_ad": named("customers/{}/adGroupAds/{}~{}", "ad_group.id", "ad_group_ad.ad.id"),
        "click_view": named("customers/{}/clickViews/{}~{}", "segments.date", "click_view.gclid"),
    }


def _to_row(query: gaql.GaqlQuery, customer_id: str, row: Mapping[str, Any]) -> Any:
    """A ``GoogleAdsRow``: selected fields set along their GAQL paths, plus the resource
    names of the FROM resource and of every resource with a selected field (as the API
    does by default)."""
    message = _Row()
    for name in query.select:
        value = row.get(name)
        if value is not None:
            _set_path(message, name, value)
    resources = {query.resource} | {
        f.split(".", 1)[0] for f in query.select if gaql.FIELDS[f][0] == "attribute"
    }
    names = _resource_names(customer_id, row)
    for resource in resources:
        if names.get(resource):
            getattr(message, resource).resource_name = names[resource]
    return message


def _set_path(message: Any, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        message = getattr(message, part)
    descriptor = message.DESCRIPTOR.fields_by_name[leaf]
    if descriptor.is_repeated:
        values: Sequence[Any] = value if isinstance(value, list | tuple) else [value]
        getattr(message, leaf).extend(str(v) for v in values)
    elif descriptor.enum_type is not None:
        setattr(message, leaf, descriptor.enum_type.values_by_name[str(value)].number)
    elif descriptor.type == descriptor.TYPE_DOUBLE:
        setattr(message, leaf, float(value))
    elif descriptor.type in (descriptor.TYPE_INT64, descriptor.TYPE_INT32):
        setattr(message, leaf, int(value))
    elif isinstance(value, date):
        setattr(message, leaf, value.isoformat())
    else:
        setattr(message, leaf, str(value))
