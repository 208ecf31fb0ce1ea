"""Google Ads reporting through the official ``google-ads`` client (API v26).

We use the real client, not hand-rolled gRPC, so the sandbox tests exercise the same code
path as production: metadata interceptors, TLS, paging and error decoding. Errors come out
of that client in three shapes, and this module folds them into one ``GoogleAdsApiError``:

* ``GoogleAdsException`` for most API errors (the failure decoded from the trailer);
* ``google.api_core.exceptions.GoogleAPICallError`` for RESOURCE_EXHAUSTED and INTERNAL,
  which the client's exception interceptor deliberately passes through undecoded and
  api-core then wraps (the raw call, with the trailer, is its ``.response``);
* a bare ``grpc.RpcError`` if a call fails below api-core.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.ads.googleads.errors import GoogleAdsException
from google.api_core.exceptions import GoogleAPICallError
from google.oauth2.credentials import Credentials

from connectors.retry import (
    CallStats,
    CircuitBreaker,
    Retryable,
    RetryPolicy,
    breaker_for,
    call_with_retry,
)

API_VERSION = "v26"
FAILURE_METADATA_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
SSL_ROOTS_ENV = "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"

_RETRYABLE_STATUS = frozenset(
    {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL}
)
# Quota errors that pass with time; ACCESS_PROHIBITED or long-term overuse do not.
_TRANSIENT_QUOTA = frozenset(
    {
        "RESOURCE_EXHAUSTED",
        "RESOURCE_TEMPORARILY_EXHAUSTED",
        "EXCESSIVE_SHORT_TERM_QUERY_RESOURCE_CONSUMPTION",
    }
)
_MICROS_EXPONENT = -6
T = TypeVar("T")
# Whether this module has opened a gRPC channel, after which gRPC's trust roots are fixed.
_channels_opened = False

AD_DAILY_QUERY = (
    "SELECT customer.currency_code, campaign.id, campaign.name, campaign.status, "
    "ad_group.id, ad_group.name, ad_group_ad.ad.id, "
    "ad_group_ad.ad.expanded_text_ad.headline_part1, "
    "ad_group_ad.ad.expanded_text_ad.description, ad_group_ad.ad.final_urls, "
    "metrics.cost_micros, metrics.impressions, metrics.clicks, metrics.conversions, "
    "metrics.conversions_value, segments.date "
    "FROM ad_group_ad WHERE segments.date BETWEEN '{start}' AND '{end}'"
)
CAMPAIGN_TOTALS_QUERY = (
    "SELECT campaign.id, metrics.cost_micros, metrics.clicks "
    "FROM campaign WHERE segments.date BETWEEN '{start}' AND '{end}'"
)

# One day per query: the API refuses click_view over a range.
CLICK_VIEW_QUERY = (
    "SELECT click_view.gclid, click_view.ad_group_ad, campaign.id, ad_group.id, segments.date "
    "FROM click_view WHERE segments.date = '{day}'"
)
_AD_GROUP_AD_NAME = re.compile(r"^customers/\d+/adGroupAds/(?P<ad_group>\d+)~(?P<ad>\d+)$")

CAMPAIGN_BUDGETS_QUERY = (
    "SELECT customer.currency_code, campaign.id, campaign.campaign_budget, "
    "campaign_budget.amount_micros FROM campaign"
)
# Google takes budgets in whole units of the currency's minimum (a cent is 10,000 micros).
_BUDGET_UNIT_MICROS = 10_000


@dataclass(frozen=True)
class CampaignBudget:
    """A campaign's budget object (shared budgets may serve several campaigns)."""

    campaign_id: int
    resource_name: str  # customers/{customer}/campaignBudgets/{budget}
    amount: Decimal  # daily, in the account currency
    currency_code: str


@dataclass(frozen=True)
class AdDailyRow:
    """One ad on one day; field names match ``raw.google_ads_ad_daily`` columns."""

    customer_id: str
    date: date
    currency_code: str
    campaign_id: int
    campaign_name: str
    campaign_status: str | None
    ad_group_id: int
    ad_group_name: str
    ad_id: int
    ad_headline: str | None
    ad_description: str | None
    final_url: str | None
    cost_micros: int
    cost: Decimal
    impressions: int
    clicks: int
    conversions: Decimal
    conversions_value: Decimal


@dataclass(frozen=True)
class ClickViewRow:
    """One click and the ad it was on; field names match ``raw.google_ads_click_views``."""

    customer_id: str
    date: date
    gclid: str
    campaign_id: int
    ad_group_id: int
    ad_id: int | None  # None when the API names no ad (a malformed resource name)


class ClickViewDateTooOld(Exception):
    """Google keeps click_view for 90 days: an older day can no longer be read."""

    def __init__(self, day: date) -> None:
        super().__init__(f"click_view no longer serves {day} (older than 90 days)")
        self.day = day


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of a GoogleAdsFailure: ``category`` is the ErrorCode oneof name."""

    category: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.category}.{self.code}: {self.message}"


class GoogleAdsApiError(Exception):
    """An API call that failed, with Google's error codes flattened for logs and callers."""

    def __init__(
        self,
        status: grpc.StatusCode | None,
        errors: Sequence[ErrorDetail],
        request_id: str | None,
        retry_delay_seconds: float | None = None,
        summary: str = "",
    ) -> None:
        self.status = status
        self.errors = tuple(errors)
        self.request_id = request_id
        self.retry_delay_seconds = retry_delay_seconds
        status_name = status.name if status is not None else "UNKNOWN"
        described = "; ".join(str(e) for e in self.errors) or summary or "no details"
        super().__init__(f"Google Ads API {status_name} (request {request_id}): {described}")

    @property
    def codes(self) -> tuple[str, ...]:
        """``category.CODE`` strings, e.g. ``query_error.UNRECOGNIZED_FIELD``."""
        return tuple(f"{e.category}.{e.code}" for e in self.errors)

    @property
    def retryable(self) -> bool:
        if self.status not in _RETRYABLE_STATUS:
            return False
        quota = [e.code for e in self.errors if e.category == "quota_error"]
        return all(code in _TRANSIENT_QUOTA for code in quota)


class GoogleAdsConnector:
    """Pulls Google Ads reports for one set of credentials, retrying transient failures.

    ``endpoint``/``ca_cert_path`` point it at a sandbox; the certificate is added to gRPC's
    process-wide trust roots (see ``trust_certificate``), which gRPC reads once, at the
    first TLS channel: construct connectors for a sandbox before any gRPC TLS connection
    and use one certificate per process. Access tokens are used as given (no refresh):
    callers mint them.
    """

    def __init__(
        self,
        *,
        developer_token: str,
        access_token: str,
        login_customer_id: str | None = None,
        endpoint: str | None = None,
        ca_cert_path: Path | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        stats: CallStats | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.stats = stats or CallStats()
        self._breaker = breaker or breaker_for("google_ads")
        # Imported here: google.ads.googleads.v26 loads every API type (about a second),
        # which code that merely imports this module (Dagster definitions) should not pay.
        from google.ads.googleads.client import GoogleAdsClient

        if ca_cert_path is not None:
            trust_certificate(ca_cert_path)
        self._client = GoogleAdsClient(
            credentials=Credentials(token=access_token),
            developer_token=developer_token,
            login_customer_id=_normalize_customer_id(login_customer_id)
            if login_customer_id
            else None,
            endpoint=endpoint,
            version=API_VERSION,
            use_proto_plus=True,
        )
        self._service: Any = None
        self._budgets: Any = None
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    def __enter__(self) -> GoogleAdsConnector:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._service is not None:
            self._service.transport.close()
            self._service = None
        if self._budgets is not None:
            self._budgets.transport.close()
            self._budgets = None

    def search_stream(self, customer_id: str, query: str) -> list[Any]:
        """All ``GoogleAdsRow`` protobufs of a query, raw rather than proto-plus wrappers
        (which are slow to read field by field). Retries re-run the whole stream, since a
        stream can fail mid-way."""
        customer_id = _normalize_customer_id(customer_id)

        def attempt() -> list[Any]:
            try:
                rows: list[Any] = []
                for batch in self._google_ads_service().search_stream(
                    customer_id=customer_id, query=query
                ):
                    rows.extend(type(batch).pb(batch).results)
                return rows
            except (GoogleAdsException, GoogleAPICallError, grpc.RpcError) as error:
                raise to_api_error(error) from error

        return self._with_retry(attempt)

    def _with_retry(self, attempt: Callable[[], T]) -> T:
        return call_with_retry(
            attempt,
            classify=_classify,
            policy=self._policy,
            sleep=self._sleep,
            rand=self._rand,
            breaker=self._breaker,
            stats=self.stats,
        )

    def fetch_ad_daily(self, customer_id: str, start: date, end: date) -> list[AdDailyRow]:
        """Ad x day performance between ``start`` and ``end`` inclusive (account time zone)."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        customer_id = _normalize_customer_id(customer_id)
        query = AD_DAILY_QUERY.format(start=start.isoformat(), end=end.isoformat())
        return [_ad_daily_row(customer_id, r) for r in self.search_stream(customer_id, query)]

    def fetch_totals(self, customer_id: str, start: date, end: date) -> tuple[Decimal, int]:
        """Spend and clicks of the whole customer over the window, as Google sums them at
        campaign level: the source's own totals to reconcile an ad-level load against."""
        query = CAMPAIGN_TOTALS_QUERY.format(start=start.isoformat(), end=end.isoformat())
        rows = self.search_stream(_normalize_customer_id(customer_id), query)
        micros = sum(r.metrics.cost_micros for r in rows)
        return Decimal(micros).scaleb(_MICROS_EXPONENT), sum(r.metrics.clicks for r in rows)

    def fetch_click_views(self, customer_id: str, day: date) -> list[ClickViewRow]:
        """Every click with a gclid on `day` (the account's day) and the ad it was on: the
        bridge from a landing page's gclid to the exact ad. Raises ClickViewDateTooOld for a
        day past the API's 90-day retention."""
        customer_id = _normalize_customer_id(customer_id)
        query = CLICK_VIEW_QUERY.format(day=day.isoformat())
        try:
            rows = self.search_stream(customer_id, query)
        except GoogleAdsApiError as error:
            if "click_view_error.DATE_TOO_OLD" in error.codes:
                raise ClickViewDateTooOld(day) from error
            raise
        return [_click_view_row(customer_id, r) for r in rows]

    def fetch_campaign_budgets(self, customer_id: str) -> dict[int, CampaignBudget]:
        """Each campaign's budget object and daily amount, keyed by campaign id."""
        customer_id = _normalize_customer_id(customer_id)
        rows = self.search_stream(customer_id, CAMPAIGN_BUDGETS_QUERY)
        return {
            r.campaign.id: CampaignBudget(
                campaign_id=r.campaign.id,
                resource_name=r.campaign.campaign_budget,
                amount=Decimal(r.campaign_budget.amount_micros).scaleb(_MICROS_EXPONENT),
                currency_code=r.customer.currency_code,
            )
            for r in rows
        }

    def set_campaign_budget(self, customer_id: str, campaign_id: int, amount: Decimal) -> str:
        """Set a campaign's daily budget through ``CampaignBudgetService.MutateCampaignBudgets``
        (an update of ``amount_micros`` with its field mask); returns the budget's resource
        name. Setting an absolute amount is idempotent, so a retried call is safe."""
        customer_id = _normalize_customer_id(customer_id)
        micros = int(Decimal(amount).scaleb(6))
        if micros <= 0 or micros % _BUDGET_UNIT_MICROS or Decimal(amount).scaleb(6) != micros:
            raise ValueError(f"budget {amount} must be a positive amount in whole cents")
        budgets = self.fetch_campaign_budgets(customer_id)
        if campaign_id not in budgets:
            raise LookupError(f"campaign {campaign_id} is not in customer {customer_id}")
        resource_name = budgets[campaign_id].resource_name
        from google.api_core import protobuf_helpers

        operation = self._client.get_type("CampaignBudgetOperation")
        operation.update.resource_name = resource_name
        operation.update.amount_micros = micros
        self._client.copy_from(
            operation.update_mask, protobuf_helpers.field_mask(None, operation.update._pb)
        )

        def attempt() -> str:
            try:
                response = self._budget_service().mutate_campaign_budgets(
                    customer_id=customer_id, operations=[operation]
                )
                return response.results[0].resource_name
            except (GoogleAdsException, GoogleAPICallError, grpc.RpcError) as error:
                raise to_api_error(error) from error

        return self._with_retry(attempt)

    def _budget_service(self) -> Any:
        global _channels_opened
        if self._budgets is None:
            self._budgets = self._client.get_service("CampaignBudgetService", version=API_VERSION)
            _channels_opened = True
        return self._budgets

    def _google_ads_service(self) -> Any:
        global _channels_opened
        if self._service is None:
            self._service = self._client.get_service("GoogleAdsService", version=API_VERSION)
            _channels_opened = True
        return self._service


def trust_certificate(ca_cert_path: Path) -> Path:
    """Make gRPC in this process trust ``ca_cert_path`` as well as what it trusted before.

    gRPC takes its default roots from ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` (or, unset, its
    bundled ``roots.pem``) and reads them once, at the first TLS channel. Pointing the
    variable at the sandbox certificate alone would drop the public CAs, so we write a bundle
    of the previous roots plus ours next to the certificate and point the variable there.
    Returns the bundle path. Raises if this module already opened a channel with other
    roots: the change would be silently ignored and fail later as a TLS handshake error.
    """
    pem = Path(ca_cert_path).read_text().strip()
    current = os.environ.get(SSL_ROOTS_ENV)
    current_pem = _read_roots(current)
    if current and pem in current_pem:
        return Path(current)
    if _channels_opened:
        raise RuntimeError(
            f"gRPC already read its trust roots ({current or 'bundled roots.pem'}) for a "
            f"channel in this process; {ca_cert_path} can no longer be added. Use one "
            "sandbox certificate directory per process, trusted before the first connection."
        )
    bundle = Path(ca_cert_path).with_name("grpc-roots.pem")
    tmp = bundle.with_suffix(".pem.tmp")
    tmp.write_text(f"{current_pem.rstrip()}\n{pem}\n")
    tmp.replace(bundle)
    os.environ[SSL_ROOTS_ENV] = str(bundle)
    return bundle


def _read_roots(path: str | None) -> str:
    if path:
        try:
            return Path(path).read_text()
        except OSError:
            return ""
    bundled = importlib.resources.files("grpc").joinpath("_cython/_credentials/roots.pem")
    return bundled.read_text() if bundled.is_file() else ""


def to_api_error(error: Exception) -> GoogleAdsApiError:
    """Fold the client's three error shapes (see module docstring) into one."""
    if isinstance(error, GoogleAdsException):
        status = error.error.code() if isinstance(error.error, grpc.Call) else None
        failure = type(error.failure).pb(error.failure)
        return _from_failure(status, failure, error.request_id, str(error))
    call: Any = error.response if isinstance(error, GoogleAPICallError) else error
    status = call.code() if isinstance(call, grpc.Call) else None
    if status is None and isinstance(error, GoogleAPICallError):
        status = error.grpc_status_code
    metadata = call.trailing_metadata() if isinstance(call, grpc.Call) else None
    request_id = None
    failure = None
    for key, value in metadata or ():
        if key == FAILURE_METADATA_KEY:
            failure = _api_types().failure.FromString(value)
        elif key == "request-id":
            request_id = value
    summary = call.details() if isinstance(call, grpc.Call) else str(error)
    return _from_failure(status, failure, request_id, summary)


def _from_failure(
    status: grpc.StatusCode | None, failure: Any, request_id: str | None, summary: str
) -> GoogleAdsApiError:
    details: list[ErrorDetail] = []
    delays: list[float] = []
    if failure is not None:
        for error in failure.errors:
            category = error.error_code.WhichOneof("error_code") or "unknown"
            code = "UNSPECIFIED"
            if category != "unknown":
                enum = error.error_code.DESCRIPTOR.fields_by_name[category].enum_type
                number = getattr(error.error_code, category)
                code = (
                    enum.values_by_number[number].name
                    if number in enum.values_by_number
                    else str(number)
                )
            details.append(ErrorDetail(category, code, error.message))
            quota = error.details.quota_error_details
            if error.details.HasField("quota_error_details") and quota.HasField("retry_delay"):
                delays.append(quota.retry_delay.ToTimedelta().total_seconds())
        request_id = request_id or failure.request_id or None
    return GoogleAdsApiError(status, details, request_id, max(delays, default=None), summary)


@dataclass(frozen=True)
class _ApiTypes:
    failure: Any
    campaign_status: Any


@functools.cache
def _api_types() -> _ApiTypes:
    from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure
    from google.ads.googleads.v26.resources.types.campaign import Campaign

    status_field = Campaign.pb().DESCRIPTOR.fields_by_name["status"]
    return _ApiTypes(GoogleAdsFailure.pb(), status_field.enum_type.values_by_number)


def _classify(error: Exception) -> Retryable | None:
    if isinstance(error, GoogleAdsApiError) and error.retryable:
        return Retryable(hint_seconds=error.retry_delay_seconds)
    return None


def _normalize_customer_id(customer_id: str) -> str:
    digits = customer_id.replace("-", "").strip()
    if len(digits) != 10 or not digits.isdigit():
        raise ValueError(f"customer id must be 10 digits (dashes allowed), got {customer_id!r}")
    return digits


def _ad_daily_row(customer_id: str, r: Any) -> AdDailyRow:
    ad = r.ad_group_ad.ad
    status = _api_types().campaign_status.get(r.campaign.status)
    metrics = r.metrics
    return AdDailyRow(
        customer_id=customer_id,
        date=date.fromisoformat(r.segments.date),
        currency_code=r.customer.currency_code,
        campaign_id=r.campaign.id,
        campaign_name=r.campaign.name,
        campaign_status=status.name if status is not None and status.number else None,
        ad_group_id=r.ad_group.id,
        ad_group_name=r.ad_group.name,
        ad_id=ad.id,
        ad_headline=ad.expanded_text_ad.headline_part1 or None,
        ad_description=ad.expanded_text_ad.description or None,
        final_url=ad.final_urls[0] if ad.final_urls else None,
        cost_micros=metrics.cost_micros,
        cost=Decimal(metrics.cost_micros).scaleb(_MICROS_EXPONENT),
        impressions=metrics.impressions,
        clicks=metrics.clicks,
        # The API sends doubles; repr is the shortest string that round-trips, so 2.5 stays
        # 2.5 instead of becoming 2.5000000000000000001-style binary noise.
        conversions=Decimal(repr(metrics.conversions)),
        conversions_value=Decimal(repr(metrics.conversions_value)),
    )


def _click_view_row(customer_id: str, r: Any) -> ClickViewRow:
    name = _AD_GROUP_AD_NAME.match(r.click_view.ad_group_ad)
    return ClickViewRow(
        customer_id=customer_id,
        date=date.fromisoformat(r.segments.date),
        gclid=r.click_view.gclid,
        campaign_id=r.campaign.id,
        ad_group_id=r.ad_group.id,
        ad_id=int(name["ad"]) if name else None,
    )
