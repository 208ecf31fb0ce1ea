"""Meta Marketing API reporting through the official ``facebook-business`` SDK (Graph v26.0).

We use the real SDK, not hand-rolled HTTP, so the sandbox tests run the same code as
production: its parameter encoding (dicts and lists JSON-encoded), its cursor paging, its
report-run objects and its error class. What it does not do we add here:

* retries (``connectors.retry``) with Meta's error codes: throttling (4, 17, 613,
  80000-80014) waits at least ``estimated_time_to_regain_access`` from the
  ``X-Business-Use-Case-Usage`` header (minutes) or ``Retry-After``; 5xx, transient codes
  and dropped connections back off; a bad token (190) fails at once as ``MetaAuthError``;
* pacing: when the usage header says a quota is over ``pace_above_percent`` used, the next
  call waits in proportion, so a long load slows down instead of getting blocked for
  minutes;
* one API instance per connector (``FacebookAdsApi`` with its own ``FacebookSession``
  whose ``GRAPH`` points at the sandbox or at graph.facebook.com), so two connectors in one
  process never share a token or a base URL, and no crash reporter posts to Meta.

The SDK's cursor re-requests the original edge with ``after=<cursor>`` and uses the
absolute ``paging.next`` only as the "more pages" signal; each page is one retried call.
A connector is not thread-safe: use one per thread.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from facebook_business.adobjects.ad import Ad
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.adreportrun import AdReportRun
from facebook_business.adobjects.adset import AdSet
from facebook_business.adobjects.adsinsights import AdsInsights
from facebook_business.adobjects.campaign import Campaign
from facebook_business.api import Cursor, FacebookAdsApi, FacebookResponse
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from connectors.retry import (
    CallStats,
    CircuitBreaker,
    Retryable,
    RetryPolicy,
    breaker_for,
    call_with_retry,
)

T = TypeVar("T")

API_VERSION = "v26.0"
GRAPH_URL = "https://graph.facebook.com"
PLATFORM = "meta"
LEAD_ACTION = "offsite_conversion.fb_pixel_lead"

THROTTLE_CODES = frozenset({4, 17, 613, *range(80000, 80015)})
TRANSIENT_CODES = frozenset({1, 2})  # "unknown error" and "service temporarily unavailable"
AUTH_CODES = frozenset({102, 104, 190})  # session key, missing token, invalid/expired token
USAGE_HEADERS = ("x-business-use-case-usage", "x-ad-account-usage", "x-app-usage")
USAGE_KEYS = ("call_count", "total_cputime", "total_time")

AD_DAILY_FIELDS = (
    "account_id",
    "account_currency",
    "campaign_id",
    "campaign_name",
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
)
CAMPAIGN_FIELDS = ("id", "name", "status", "daily_budget")
ADSET_FIELDS = ("id", "name", "campaign_id", "status", "daily_budget")
AD_FIELDS = (
    "id",
    "name",
    "adset_id",
    "campaign_id",
    "status",
    "effective_status",
    "creative{id,title,body,link_url,url_tags}",
)

REPORT_DONE = "Job Completed"
REPORT_FAILED = ("Job Failed", "Job Skipped")
REPORT_POLL_SECONDS = 1.0  # first wait between status reads; doubles up to the max
REPORT_POLL_MAX_SECONDS = 30.0
REPORT_TIMEOUT_SECONDS = 1800.0  # time spent waiting for one report run before giving up
REPORT_ATTEMPTS = 3  # report runs submitted before a failing report is an error

# Meta counts budgets in minor units; these currencies have none (Meta's currency offsets).
ZERO_DECIMAL_CURRENCIES = frozenset(
    {"CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND"}
)


@dataclass(frozen=True)
class MetaAdDailyRow:
    """One ad on one day; field names match ``raw.meta_ad_insights_daily`` columns."""

    account_id: str
    date: date
    currency_code: str
    campaign_id: str
    campaign_name: str
    adset_id: str
    adset_name: str
    ad_id: str
    ad_name: str
    spend: Decimal
    impressions: int
    clicks: int  # all clicks
    inline_link_clicks: int  # link clicks: what most reporting calls "clicks"
    leads: Decimal  # the offsite_conversion.fb_pixel_lead action
    lead_value: Decimal
    actions: str  # JSON text of every action Meta sent (a jsonb column takes it as is)
    action_values: str


@dataclass(frozen=True)
class MetaAdRow:
    """One ad with its ad set, campaign, budget and creative, as of ``date`` (the snapshot's
    partition day); field names match ``raw.meta_ads`` columns."""

    account_id: str
    date: date
    currency_code: str
    campaign_id: str
    campaign_name: str
    campaign_status: str | None
    adset_id: str
    adset_name: str
    adset_status: str | None
    ad_id: str
    ad_name: str
    status: str | None
    effective_status: str | None
    daily_budget: Decimal | None  # the ad set's, or the campaign's under CBO; currency units
    creative_title: str | None
    creative_body: str | None
    link_url: str | None
    url_tags: str | None


@dataclass(frozen=True)
class MetaTotals:
    """An account's totals over a window, from one account-level insights row: the source's
    own coarser report, to reconcile the ad-level rows against."""

    spend: Decimal
    impressions: int
    clicks: int
    inline_link_clicks: int


class MetaApiError(Exception):
    """A Graph API call that failed, with Meta's error fields flattened for logs and callers.

    ``code`` is None for failures without a Graph error body (a bare 5xx from a proxy).
    ``retry_after_seconds`` is the least wait the answer asked for, when it said.
    """

    def __init__(
        self,
        code: int | None,
        subcode: int | None,
        message: str,
        fbtrace_id: str | None,
        *,
        http_status: int | None = None,
        error_type: str | None = None,
        transient: bool = False,
        retry_after_seconds: float | None = None,
    ) -> None:
        self.code = code
        self.subcode = subcode
        self.message = message
        self.fbtrace_id = fbtrace_id
        self.http_status = http_status
        self.error_type = error_type
        self.transient = transient
        self.retry_after_seconds = retry_after_seconds
        super().__init__(
            f"Meta API error {code}"
            + (f"/{subcode}" if subcode is not None else "")
            + f" (HTTP {http_status}, fbtrace_id {fbtrace_id}): {message}"
        )

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES

    @property
    def retryable(self) -> bool:
        """Throttling, Meta's transient errors and server failures pass with time; a bad
        parameter, a permission or a token does not."""
        if self.code in AUTH_CODES:
            return False
        return (
            self.throttled
            or self.code in TRANSIENT_CODES
            or self.transient
            or (
                self.http_status is not None
                and (self.http_status >= 500 or self.http_status == 429)
            )
        )


class MetaAuthError(MetaApiError):
    """The access token is missing, invalid or expired (Graph code 190 and kin). Retrying
    cannot help: the connection needs a new token."""


class MetaReportError(Exception):
    """An async insights report run failed, was skipped or never finished."""

    def __init__(self, report_run_id: str, status: str, detail: str) -> None:
        super().__init__(f"report run {report_run_id} {status}: {detail}")
        self.report_run_id = report_run_id
        self.status = status


def to_meta_error(error: FacebookRequestError) -> MetaApiError:
    """The SDK's ``FacebookRequestError`` as ``MetaApiError`` (``MetaAuthError`` for token
    errors), with the wait the answer's headers asked for."""
    body = error.body()
    details = body.get("error") if isinstance(body, dict) else None
    details = details if isinstance(details, dict) else {}
    code = error.api_error_code()
    cls = MetaAuthError if code in AUTH_CODES else MetaApiError
    message = error.api_error_message() or (
        body if isinstance(body, str) and body else error.get_message()
    )
    return cls(
        code,
        error.api_error_subcode(),
        str(message),
        details.get("fbtrace_id"),
        http_status=error.http_status(),
        error_type=error.api_error_type(),
        transient=bool(error.api_transient_error()),
        retry_after_seconds=requested_wait_seconds(error.http_headers() or {}),
    )


def _usage_entries(headers: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every usage record in Meta's usage headers (business use case, ad account, app)."""
    entries: list[dict[str, Any]] = []
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if name == "x-business-use-case-usage" and isinstance(value, dict):
            for records in value.values():
                if isinstance(records, list):
                    entries.extend(r for r in records if isinstance(r, dict))
        elif isinstance(value, dict):
            entries.append(value)
    return entries


def usage_percent(headers: Mapping[str, str]) -> float | None:
    """The highest quota share in use (0-100+) that the headers report, or None."""
    found = [
        float(entry[key])
        for entry in _usage_entries(headers)
        for key in (*USAGE_KEYS, "acc_id_util_pct")
        if isinstance(entry.get(key), int | float)
    ]
    return max(found, default=None)


def requested_wait_seconds(headers: Mapping[str, str]) -> float | None:
    """The longest wait the headers ask for: ``estimated_time_to_regain_access`` (minutes)
    in the usage headers, or ``Retry-After`` (seconds). None when they ask for none."""
    waits = [
        float(entry["estimated_time_to_regain_access"]) * 60
        for entry in _usage_entries(headers)
        if isinstance(entry.get("estimated_time_to_regain_access"), int | float)
    ]
    retry_after = _retry_after_seconds(headers.get("retry-after"))
    if retry_after is not None:
        waits.append(retry_after)
    longest = max(waits, default=0.0)
    return longest if longest > 0 else None


def _retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: it is either a number of seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify(error: Exception) -> Retryable | None:
    """Which failures ``call_with_retry`` retries, and the least wait for each."""
    if isinstance(error, MetaApiError):
        return Retryable(hint_seconds=error.retry_after_seconds) if error.retryable else None
    if isinstance(error, requests.exceptions.SSLError):
        return None  # a certificate problem does not pass with time
    if isinstance(
        error,
        requests.exceptions.ConnectionError
        | requests.exceptions.Timeout
        | requests.exceptions.ChunkedEncodingError,
    ):
        return Retryable()
    return None


class _ObservedApi(FacebookAdsApi):
    """The SDK's API object with a hook around every HTTP call: the connector paces before
    a call and reads Meta's usage headers after it, whichever SDK method made it."""

    def __init__(
        self,
        session: FacebookSession,
        api_version: str,
        before: Callable[[], None],
        after: Callable[[Mapping[str, str] | None], None],
    ) -> None:
        super().__init__(session, api_version)
        self._before = before
        self._after = after

    def call(
        self,
        method: str,
        path: Any,
        params: Any = None,
        headers: Any = None,
        files: Any = None,
        url_override: str | None = None,
        api_version: str | None = None,
    ) -> FacebookResponse:
        self._before()
        try:
            response = super().call(method, path, params, headers, files, url_override, api_version)
        except Exception:
            self._after(None)
            raise
        self._after(response.headers())
        return response


class MetaConnector:
    """Pulls Meta ad insights and ad objects for one access token, retrying what passes.

    ``base_url`` points it at a sandbox (None: graph.facebook.com). Ranges longer than
    ``async_after_days`` use an async report run (Meta times out long synchronous insights
    queries); shorter ones page synchronously. ``stats`` counts attempts, retries and every
    second waited (retry backoff and pacing). ``breaker`` defaults to the process-wide Meta
    breaker, so all connectors stop together when Meta is down.
    """

    def __init__(
        self,
        *,
        access_token: str,
        base_url: str | None = None,
        api_version: str = API_VERSION,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        stats: CallStats | None = None,
        breaker: CircuitBreaker | None = None,
        page_size: int = 500,
        async_after_days: int = 7,
        pace_above_percent: float = 75.0,
        pace_max_seconds: float = 60.0,
        timeout_seconds: float = 120.0,
        report_poll_seconds: float = REPORT_POLL_SECONDS,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if not 0 <= pace_above_percent < 100:
            raise ValueError("pace_above_percent must be in [0, 100)")
        session = FacebookSession(access_token=access_token, timeout=timeout_seconds)
        # An instance attribute, not the class one: this connector's URL, nobody else's.
        session.GRAPH = (base_url or GRAPH_URL).rstrip("/")
        self._session = session
        self._api = _ObservedApi(session, api_version, self._pace, self._observe)
        self._policy = retry_policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand
        self._stats = stats if stats is not None else CallStats()
        self._breaker = breaker if breaker is not None else breaker_for(PLATFORM)
        self._page_size = page_size
        self._async_after_days = async_after_days
        self._pace_above = pace_above_percent
        self._pace_max = pace_max_seconds
        self._usage: float | None = None
        self._report_poll_seconds = report_poll_seconds

    def __enter__(self) -> MetaConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled HTTP connections (the connector can still be used: it reopens)."""
        self._session.requests.close()

    @property
    def api(self) -> FacebookAdsApi:
        """The SDK API object this connector calls through (for SDK calls we do not wrap)."""
        return self._api

    @property
    def stats(self) -> CallStats:
        return self._stats

    # -- public reads --------------------------------------------------------------------
    def fetch_ad_insights_daily(
        self, account_id: str, start: date, end: date
    ) -> list[MetaAdDailyRow]:
        """Ad x day insights between ``start`` and ``end`` inclusive (account time zone)."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        account_id = normalize_account_id(account_id)
        params = {
            "level": "ad",
            "time_increment": "1",
            "time_range": {"since": start.isoformat(), "until": end.isoformat()},
            "limit": self._page_size,
        }
        if (end - start).days + 1 > self._async_after_days:
            items = self._report(account_id, AD_DAILY_FIELDS, params)
        else:
            items = self._edge(self._account(account_id), AdsInsights, AD_DAILY_FIELDS, params)
        return [_daily_row(account_id, item.export_all_data()) for item in items]

    def fetch_account_totals(self, account_id: str, start: date, end: date) -> MetaTotals:
        """The account's spend, impressions and clicks over the whole window, in one row."""
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        account_id = normalize_account_id(account_id)
        params = {
            "level": "account",
            "time_increment": "all_days",
            "time_range": {"since": start.isoformat(), "until": end.isoformat()},
        }
        fields = ("spend", "impressions", "clicks", "inline_link_clicks")
        items = self._edge(self._account(account_id), AdsInsights, fields, params)
        totals = MetaTotals(Decimal(0), 0, 0, 0)
        for item in items:
            data = item.export_all_data()
            totals = MetaTotals(
                totals.spend + _decimal(data.get("spend"), "spend"),
                totals.impressions + int(data.get("impressions") or 0),
                totals.clicks + int(data.get("clicks") or 0),
                totals.inline_link_clicks + int(data.get("inline_link_clicks") or 0),
            )
        return totals

    def fetch_ads(self, account_id: str, snapshot_date: date | None = None) -> list[MetaAdRow]:
        """Every ad with its ad set, campaign, daily budget and creative, stamped with
        ``snapshot_date`` (the partition day; default today): Meta only knows "now"."""
        account_id = normalize_account_id(account_id)
        snapshot_date = snapshot_date or date.today()
        account = self._account(account_id)
        info = self._call(
            lambda: AdAccount(f"act_{account_id}", api=self._api).api_get(
                fields=[AdAccount.Field.currency]
            )
        )
        currency = str(info[AdAccount.Field.currency])
        campaigns = {
            str(c["id"]): c.export_all_data()
            for c in self._edge(account, Campaign, CAMPAIGN_FIELDS, {"limit": self._page_size})
        }
        adsets = {
            str(s["id"]): s.export_all_data()
            for s in self._edge(account, AdSet, ADSET_FIELDS, {"limit": self._page_size})
        }
        rows = []
        for item in self._edge(account, Ad, AD_FIELDS, {"limit": self._page_size}):
            ad = item.export_all_data()
            adset = adsets.get(str(ad["adset_id"]), {})
            campaign = campaigns.get(str(ad["campaign_id"]), {})
            creative = ad.get("creative") or {}
            minor = adset.get("daily_budget") or campaign.get("daily_budget")
            rows.append(
                MetaAdRow(
                    account_id=account_id,
                    date=snapshot_date,
                    currency_code=currency,
                    campaign_id=str(ad["campaign_id"]),
                    campaign_name=str(campaign.get("name", "")),
                    campaign_status=campaign.get("status"),
                    adset_id=str(ad["adset_id"]),
                    adset_name=str(adset.get("name", "")),
                    adset_status=adset.get("status"),
                    ad_id=str(ad["id"]),
                    ad_name=str(ad.get("name", "")),
                    status=ad.get("status"),
                    effective_status=ad.get("effective_status"),
                    daily_budget=budget_from_minor_units(minor, currency)
                    if minor is not None
                    else None,
                    creative_title=creative.get("title"),
                    creative_body=creative.get("body"),
                    link_url=creative.get("link_url"),
                    url_tags=creative.get("url_tags"),
                )
            )
        return rows

    # -- budget changes ------------------------------------------------------------------
    def fetch_adset_budgets(self, account_id: str) -> tuple[str, dict[str, dict[str, int]]]:
        """The account currency and, per campaign, its ad sets' daily budgets (minor units)."""
        account_id = normalize_account_id(account_id)
        account = self._account(account_id)
        info = self._call(lambda: account.api_get(fields=[AdAccount.Field.currency]))
        budgets: dict[str, dict[str, int]] = {}
        for item in self._edge(account, AdSet, ADSET_FIELDS, {"limit": self._page_size}):
            adset = item.export_all_data()
            campaign = budgets.setdefault(str(adset.get("campaign_id")), {})
            campaign[str(adset["id"])] = int(adset.get("daily_budget") or 0)
        return str(info[AdAccount.Field.currency]), budgets

    def set_campaign_daily_budget(
        self, account_id: str, campaign_id: str, amount: Decimal, currency: str
    ) -> dict[str, int]:
        """Move a campaign (with ad-set budgets) to a new daily total: each ad set keeps its
        share of the campaign, in whole minor units that add up to the total exactly, and is
        updated with a POST of ``daily_budget`` on the ad set (the SDK's ``api_update``).
        Returns the new budget per ad set (minor units). Absolute values: retries are safe."""
        offset = 1 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 100
        total_minor = Decimal(amount) * offset
        if total_minor <= 0 or total_minor != total_minor.to_integral_value():
            raise ValueError(f"budget {amount} {currency} is not a whole number of minor units")
        current = self.fetch_adset_budgets(account_id)[1].get(str(campaign_id), {})
        if not current:
            raise LookupError(f"campaign {campaign_id} has no ad sets with a daily budget")
        new = proportional_split(int(total_minor), current)
        for adset_id, minor in new.items():
            adset = AdSet(adset_id, api=self._api)
            self._call(
                lambda adset=adset, minor=minor: adset.api_update(
                    params={AdSet.Field.daily_budget: str(minor)}
                )
            )
        return new

    # -- calls ---------------------------------------------------------------------------
    def _call(self, operation: Callable[[], T]) -> T:
        """One HTTP call with retries, the breaker and stats; SDK errors as ``MetaApiError``."""

        def attempt() -> T:
            try:
                return operation()
            except FacebookRequestError as error:
                raise to_meta_error(error) from error

        return call_with_retry(
            attempt,
            classify=classify,
            policy=self._policy,
            sleep=self._sleep,
            rand=self._rand,
            breaker=self._breaker,
            stats=self._stats,
        )

    def _account(self, account_id: str) -> AdAccount:
        return AdAccount(f"act_{account_id}", api=self._api)

    def _edge(
        self,
        node: Any,
        target: type,
        fields: Iterable[str] | None,
        params: Mapping[str, Any],
    ) -> list[Any]:
        """Every object of an edge, page by page through the SDK's cursor; a failed page is
        retried on its own (the cursor moves on only after a page arrives)."""
        cursor = Cursor(
            source_object=node,
            target_objects_class=target,
            fields=list(fields) if fields is not None else None,
            params=dict(params),
            include_summary=False,
            api=self._api,
        )
        items: list[Any] = []
        while True:
            previous = cursor.params.get("after")
            if not self._call(cursor.load_next_page):
                return items  # an empty page
            items.extend(cursor[i] for i in range(len(cursor)))
            # The cursor moves ``after`` on only when the page had a next link; asking it
            # again would cost no call but count as one (and a stuck cursor would loop).
            if cursor.params.get("after") in (None, previous):
                return items

    def _report(
        self, account_id: str, fields: Iterable[str], params: Mapping[str, Any]
    ) -> list[Any]:
        """Insights through an async report run: submit, poll until done, page the result.
        A run that fails or is skipped is submitted again, up to ``REPORT_ATTEMPTS`` runs."""
        account = self._account(account_id)
        status, report_id = "", ""
        for _ in range(REPORT_ATTEMPTS):
            # The SDK adds fields into the params it is given: hand it a fresh dict each time.
            report: AdReportRun = self._call(
                lambda: account.get_insights_async(params={**params, "fields": list(fields)})
            )
            report_id = str(report[AdReportRun.Field.id])
            status = self._wait_for(report)
            if status == REPORT_DONE:
                return self._edge(report, AdsInsights, None, {"limit": self._page_size})
        raise MetaReportError(report_id, status, f"gave up after {REPORT_ATTEMPTS} report runs")

    def _wait_for(self, report: AdReportRun) -> str:
        """Poll a report run until it completes or fails; its final ``async_status``."""
        waited, interval = 0.0, self._report_poll_seconds
        while True:
            self._call(
                lambda: report.api_get(
                    fields=[
                        AdReportRun.Field.async_status,
                        AdReportRun.Field.async_percent_completion,
                    ]
                )
            )
            status = str(report[AdReportRun.Field.async_status])
            # The status decides: Meta can say 100% while the job is still running.
            if status == REPORT_DONE or status in REPORT_FAILED:
                return status
            if waited >= REPORT_TIMEOUT_SECONDS:
                raise MetaReportError(
                    str(report[AdReportRun.Field.id]),
                    status,
                    f"not finished after {waited:.0f}s of polling",
                )
            self._sleep(interval)
            waited += interval
            interval = min(interval * 2, REPORT_POLL_MAX_SECONDS)

    # -- pacing --------------------------------------------------------------------------
    def _pace(self) -> None:
        """Before a call: wait in proportion to how far the last answer's usage was over
        the threshold (full ``pace_max_seconds`` at 100%), so we slow down before Meta
        blocks the account for minutes."""
        usage, self._usage = self._usage, None
        if usage is None or usage <= self._pace_above:
            return
        share = min(1.0, (usage - self._pace_above) / (100.0 - self._pace_above))
        delay = self._pace_max * share
        if delay > 0:
            self._stats.waited_seconds += delay
            self._sleep(delay)

    def _observe(self, headers: Mapping[str, str] | None) -> None:
        # A failed call's wait is the retry's business (it honours the server's estimate).
        self._usage = usage_percent(headers) if headers is not None else None


def proportional_split(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` in whole units across the keys in proportion to `weights` (evenly when they
    are all zero), flooring each and handing the remainder out one unit at a time in key
    order, so the parts add up to `total` exactly."""
    keys = sorted(weights, key=lambda k: (len(k), k))
    weight_sum = sum(max(weights[k], 0) for k in keys)
    if weight_sum == 0:
        parts = {k: total // len(keys) for k in keys}
    else:
        parts = {k: total * max(weights[k], 0) // weight_sum for k in keys}
    remainder = total - sum(parts.values())
    for key in keys[:remainder]:
        parts[key] += 1
    return parts


def normalize_account_id(account_id: str) -> str:
    """``act_123`` or ``123`` as ``123``; anything else is refused before a call is made."""
    digits = str(account_id).strip().removeprefix("act_")
    if not digits.isdigit():
        raise ValueError(
            f"a Meta ad account id is digits (act_ prefix allowed), got {account_id!r}"
        )
    return digits


def budget_from_minor_units(minor: str | int, currency: str) -> Decimal:
    """Meta's budget in minor units (``"12345"`` cents) as currency units, exactly."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else -2
    return Decimal(int(minor)).scaleb(exponent)


def _decimal(value: Any, name: str) -> Decimal:
    """A Graph number string as an exact Decimal (never through float)."""
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} {value!r} is not a number") from None


def _action_total(actions: list[dict[str, Any]], action_type: str) -> Decimal:
    return sum(
        (
            _decimal(a.get("value"), action_type)
            for a in actions
            if a.get("action_type") == action_type
        ),
        Decimal(0),
    )


def _daily_row(account_id: str, data: Mapping[str, Any]) -> MetaAdDailyRow:
    if data.get("date_start") != data.get("date_stop"):
        raise ValueError(
            f"expected one day per row, got {data.get('date_start')}..{data.get('date_stop')}"
        )
    actions = list(data.get("actions") or [])
    action_values = list(data.get("action_values") or [])
    return MetaAdDailyRow(
        account_id=str(data.get("account_id") or account_id),
        date=date.fromisoformat(str(data["date_start"])),
        currency_code=str(data.get("account_currency") or ""),
        campaign_id=str(data.get("campaign_id") or ""),
        campaign_name=str(data.get("campaign_name") or ""),
        adset_id=str(data.get("adset_id") or ""),
        adset_name=str(data.get("adset_name") or ""),
        ad_id=str(data.get("ad_id") or ""),
        ad_name=str(data.get("ad_name") or ""),
        spend=_decimal(data.get("spend"), "spend"),
        impressions=int(data.get("impressions") or 0),
        clicks=int(data.get("clicks") or 0),
        inline_link_clicks=int(data.get("inline_link_clicks") or 0),
        leads=_action_total(actions, LEAD_ACTION),
        lead_value=_action_total(action_values, LEAD_ACTION),
        actions=json.dumps(actions, sort_keys=True),
        action_values=json.dumps(action_values, sort_keys=True),
    )
