"""The Google Ads sandbox through the real ``google-ads`` client over gRPC + TLS, and the
connector (with its retries) on top of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import grpc
import psycopg
import pytest
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException
from google.api_core.exceptions import ResourceExhausted
from google.oauth2.credentials import Credentials

from connectors.google_ads import AdDailyRow, GoogleAdsApiError, GoogleAdsConnector, to_api_error
from connectors.google_ads.client import (
    SSL_ROOTS_ENV,
    ClickViewDateTooOld,
    ClickViewRow,
    trust_certificate,
)
from connectors.retry import (
    CircuitBreaker,
    Retryable,
    RetryExhausted,
    RetryPolicy,
    call_with_retry,
)
from sandbox.google_ads import (
    GoogleAdsSandboxServer,
    InMemoryGoogleAdsData,
    PostgresGoogleAdsData,
    ensure_self_signed_cert,
)

CUSTOMER = "1234567890"
TOKEN = "sandbox-developer-token"
JAN = (date(2026, 1, 1), date(2026, 1, 31))


def _ad(ad: int, campaign: int, day: int, cost_micros: int, conversions: float) -> dict:
    return {
        "customer.id": int(CUSTOMER),
        "customer.descriptive_name": "Acme",
        "customer.currency_code": "EUR",
        "customer.time_zone": "Europe/Berlin",
        "campaign.id": campaign,
        "campaign.name": f"campaign {campaign}",
        "campaign.status": "ENABLED" if campaign == 11 else "PAUSED",
        "ad_group.id": campaign * 10,
        "ad_group.name": f"group {campaign * 10}",
        "ad_group_ad.ad.id": ad,
        "ad_group_ad.ad.final_urls": [f"https://acme.example/?utm_content={ad}"],
        "ad_group_ad.ad.expanded_text_ad.headline_part1": f"Headline {ad}",
        "ad_group_ad.ad.expanded_text_ad.description": f"Body {ad}",
        "ad_group_ad.status": "ENABLED",
        "segments.date": date(2026, 1, day),
        "metrics.cost_micros": cost_micros,
        "metrics.impressions": 1000 + ad,
        "metrics.clicks": ad % 7,
        "metrics.conversions": conversions,
        "metrics.conversions_value": conversions * 40,
    }


ROWS = [
    _ad(501, 11, 1, 1_234_567, 0.5),
    _ad(502, 11, 1, 2_000_001, 1.25),
    _ad(601, 12, 1, 999_999_999_999, 0.0),
    _ad(501, 11, 2, 3_000_000, 2.0),
    _ad(502, 11, 2, 7, 0.125),
    _ad(601, 12, 2, 10, 3.0),
]


@pytest.fixture
def server(google_ads_tls_dir: Path) -> Iterator[GoogleAdsSandboxServer]:
    data = InMemoryGoogleAdsData(ROWS, accounts=[{"customer.id": 5555555555}])
    with GoogleAdsSandboxServer(
        data, tls_dir=google_ads_tls_dir, developer_token=TOKEN, page_size=2, stream_batch_size=4
    ) as running:
        yield running


@pytest.fixture
def service(server: GoogleAdsSandboxServer):
    """The SDK's own GoogleAdsService client, as production code would build it."""
    client = GoogleAdsClient(
        credentials=Credentials(token="test-access-token"),
        developer_token=TOKEN,
        login_customer_id="9999999999",
        endpoint=server.endpoint,
        version="v26",
        use_proto_plus=True,
    )
    svc = client.get_service("GoogleAdsService", version="v26")
    yield svc
    svc.transport.close()


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _connector(
    server: GoogleAdsSandboxServer,
    sleep: FakeSleep | None = None,
    developer_token: str = TOKEN,
    policy: RetryPolicy | None = None,
) -> GoogleAdsConnector:
    return GoogleAdsConnector(
        developer_token=developer_token,
        access_token="test-access-token",
        login_customer_id="999-999-9999",
        endpoint=server.endpoint,
        ca_cert_path=server.ca_cert_path,
        retry_policy=policy,
        sleep=sleep or FakeSleep(),
        rand=lambda: 0.5,
    )


# -- the SDK against the server --------------------------------------------------------


def test_search_stream_batches_carry_selected_fields_and_exact_micros(service, server):
    query = (
        "SELECT ad_group_ad.ad.id, ad_group_ad.ad.final_urls, campaign.status, "
        "metrics.cost_micros, metrics.conversions, segments.date FROM ad_group_ad "
        "WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-31' "
        "ORDER BY segments.date, ad_group_ad.ad.id"
    )
    batches = list(service.search_stream(customer_id=CUSTOMER, query=query))
    assert [len(b.results) for b in batches] == [4, 2]
    assert list(batches[0].field_mask.paths) == [
        "ad_group_ad.ad.id",
        "ad_group_ad.ad.final_urls",
        "campaign.status",
        "metrics.cost_micros",
        "metrics.conversions",
        "segments.date",
    ]
    rows = [r for b in batches for r in b.results]
    first = rows[0]
    assert first.ad_group_ad.ad.id == 501
    assert list(first.ad_group_ad.ad.final_urls) == ["https://acme.example/?utm_content=501"]
    assert first.campaign.status.name == "ENABLED"
    assert first.ad_group_ad.resource_name == f"customers/{CUSTOMER}/adGroupAds/110~501"
    assert [(r.segments.date, r.metrics.cost_micros) for r in rows] == [
        ("2026-01-01", 1_234_567),
        ("2026-01-01", 2_000_001),
        ("2026-01-01", 999_999_999_999),
        ("2026-01-02", 3_000_000),
        ("2026-01-02", 7),
        ("2026-01-02", 10),
    ]
    metadata = server.call_log[-1].metadata
    assert metadata["developer-token"] == TOKEN
    assert metadata["login-customer-id"] == "9999999999"
    assert metadata["authorization"] == "Bearer test-access-token"


def test_search_pages_with_next_page_token_and_reports_total(service, server):
    pager = service.search(
        request={
            "customer_id": CUSTOMER,
            "query": "SELECT ad_group_ad.ad.id, segments.date FROM ad_group_ad "
            "WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-02' "
            "ORDER BY ad_group_ad.ad.id DESC, segments.date",
            "search_settings": {"return_total_results_count": True},
        }
    )
    seen = [(r.ad_group_ad.ad.id, r.segments.date) for r in pager]
    assert seen == [
        (601, "2026-01-01"),
        (601, "2026-01-02"),
        (502, "2026-01-01"),
        (502, "2026-01-02"),
        (501, "2026-01-01"),
        (501, "2026-01-02"),
    ]
    assert server.calls == 3  # 6 rows in pages of 2: the pager followed two tokens
    assert pager.total_results_count == 6


def test_from_campaign_aggregates_metrics_with_limit(service):
    query = (
        "SELECT campaign.id, campaign.name, metrics.cost_micros, metrics.impressions "
        "FROM campaign WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-02' "
        "ORDER BY metrics.cost_micros LIMIT 1"
    )
    rows = [r for b in service.search_stream(customer_id=CUSTOMER, query=query) for r in b.results]
    assert [(r.campaign.id, r.metrics.cost_micros, r.metrics.impressions) for r in rows] == [
        (11, 1_234_567 + 2_000_001 + 3_000_000 + 7, 2 * (1501 + 1502))
    ]
    assert rows[0].campaign.resource_name == f"customers/{CUSTOMER}/campaigns/11"


def test_account_without_ads_answers_with_one_empty_batch(service):
    batches = list(
        service.search_stream(customer_id="5555555555", query="SELECT campaign.id FROM campaign")
    )
    assert [len(b.results) for b in batches] == [0]


def test_unsupported_gaql_is_a_google_ads_exception_with_the_query_error(service):
    with pytest.raises(GoogleAdsException) as raised:
        list(
            service.search_stream(
                customer_id=CUSTOMER, query="SELECT ad_group_ad.ad.id FROM campaign"
            )
        )
    error = raised.value
    assert error.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.failure.errors[0].error_code.query_error.name == (
        "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"
    )
    assert error.request_id and error.failure.request_id == error.request_id


def test_page_size_is_rejected_like_the_real_api(service):
    with pytest.raises(GoogleAdsException) as raised:
        list(
            service.search(
                request={
                    "customer_id": CUSTOMER,
                    "query": "SELECT campaign.id FROM campaign",
                    "page_size": 100,
                }
            )
        )
    assert raised.value.failure.errors[0].error_code.request_error.name == (
        "PAGE_SIZE_NOT_SUPPORTED"
    )


def test_quota_error_escapes_the_sdk_as_resource_exhausted_with_the_failure(service, server):
    """The SDK's interceptor does not decode RESOURCE_EXHAUSTED; api-core wraps the raw call."""
    server.inject_quota_errors(1, retry_delay_seconds=12.5)
    with pytest.raises(ResourceExhausted) as raised:
        list(service.search(customer_id=CUSTOMER, query="SELECT campaign.id FROM campaign"))
    api_error = to_api_error(raised.value)
    assert api_error.codes == ("quota_error.RESOURCE_TEMPORARILY_EXHAUSTED",)
    assert api_error.retry_delay_seconds == 12.5
    assert api_error.retryable and api_error.request_id


# -- the connector ---------------------------------------------------------------------


def test_fetch_ad_daily_returns_typed_rows_with_exact_money(server):
    with _connector(server) as connector:
        rows = connector.fetch_ad_daily("123-456-7890", *JAN)
    assert len(rows) == 6
    big = next(r for r in rows if r.ad_id == 601 and r.date == date(2026, 1, 1))
    assert big == AdDailyRow(
        customer_id=CUSTOMER,
        date=date(2026, 1, 1),
        currency_code="EUR",
        campaign_id=12,
        campaign_name="campaign 12",
        campaign_status="PAUSED",
        ad_group_id=120,
        ad_group_name="group 120",
        ad_id=601,
        ad_headline="Headline 601",
        ad_description="Body 601",
        final_url="https://acme.example/?utm_content=601",
        cost_micros=999_999_999_999,
        cost=Decimal("999999.999999"),
        impressions=1601,
        clicks=601 % 7,
        conversions=Decimal("0.0"),
        conversions_value=Decimal("0.0"),
    )
    tiny = next(r for r in rows if r.ad_id == 502 and r.date == date(2026, 1, 2))
    assert (tiny.cost, tiny.conversions, tiny.conversions_value) == (
        Decimal("0.000007"),
        Decimal("0.125"),
        Decimal("5"),
    )
    assert sum(r.cost for r in rows) == Decimal(sum(r["metrics.cost_micros"] for r in ROWS)) / (
        10**6
    )
    assert server.call_log[-1].method == "SearchStream"


def _click(gclid: str, ad: int, campaign: int, day: int) -> dict:
    return {
        "customer.id": int(CUSTOMER),
        "campaign.id": campaign,
        "ad_group.id": campaign * 10,
        "click_view.gclid": gclid,
        "click_view.ad_group_ad": f"customers/{CUSTOMER}/adGroupAds/{campaign * 10}~{ad}",
        "segments.date": date(2026, 1, day),
        "metrics.clicks": 1,
    }


@pytest.fixture
def click_server(google_ads_tls_dir: Path) -> Iterator[GoogleAdsSandboxServer]:
    """Clicks on 1 and 2 January, asked about in mid-February (within the 90 days)."""
    clicks = [_click("Cj0-a", 501, 11, 1), _click("Cj0-b", 601, 12, 1), _click("Cj0-c", 502, 11, 2)]
    data = InMemoryGoogleAdsData(ROWS, clicks=clicks)
    with GoogleAdsSandboxServer(
        data,
        tls_dir=google_ads_tls_dir,
        developer_token=TOKEN,
        now=lambda: datetime(2026, 2, 15, 12, tzinfo=UTC),
    ) as running:
        yield running


def test_click_view_names_the_ad_of_each_gclid_one_day_at_a_time(click_server):
    with _connector(click_server) as connector:
        first = connector.fetch_click_views(CUSTOMER, date(2026, 1, 1))
        second = connector.fetch_click_views(CUSTOMER, date(2026, 1, 2))
        rows = connector.search_stream(
            CUSTOMER,
            "SELECT click_view.gclid FROM click_view WHERE segments.date = '2026-01-02'",
        )
    assert first == [
        ClickViewRow(CUSTOMER, date(2026, 1, 1), "Cj0-a", 11, 110, 501),
        ClickViewRow(CUSTOMER, date(2026, 1, 1), "Cj0-b", 12, 120, 601),
    ]
    assert [(r.gclid, r.ad_id) for r in second] == [("Cj0-c", 502)]
    assert rows[0].click_view.resource_name == f"customers/{CUSTOMER}/clickViews/2026-01-02~Cj0-c"


def test_click_view_over_a_range_or_past_90_days_is_refused_like_the_api(click_server):
    with _connector(click_server) as connector:
        with pytest.raises(GoogleAdsApiError) as raised:
            connector.search_stream(
                CUSTOMER,
                "SELECT click_view.gclid, segments.date FROM click_view "
                "WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-02'",
            )
        assert raised.value.codes == ("click_view_error.EXPECTED_FILTER_ON_A_SINGLE_DAY",)
        with pytest.raises(ClickViewDateTooOld, match="2025-11-01"):
            connector.fetch_click_views(CUSTOMER, date(2025, 11, 1))


def test_bad_query_is_not_retried_and_names_the_code(server):
    sleep = FakeSleep()
    with _connector(server, sleep) as connector, pytest.raises(GoogleAdsApiError) as raised:
        connector.search_stream(CUSTOMER, "SELECT campaign.id, segments.date FROM campaign")
    assert raised.value.codes == ("query_error.EXPECTED_FILTERS_ON_DATE_RANGE",)
    assert raised.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert "EXPECTED_FILTERS_ON_DATE_RANGE" in str(raised.value)
    assert server.calls == 1 and sleep.delays == []


def test_wrong_developer_token_is_refused(server):
    with (
        _connector(server, developer_token="stolen") as connector,
        pytest.raises(GoogleAdsApiError) as raised,
    ):
        connector.fetch_ad_daily(CUSTOMER, *JAN)
    assert raised.value.status == grpc.StatusCode.UNAUTHENTICATED
    assert raised.value.codes == ("authentication_error.DEVELOPER_TOKEN_INVALID",)
    assert server.calls == 1


def test_unknown_customer_is_permission_denied(server):
    with _connector(server) as connector, pytest.raises(GoogleAdsApiError) as raised:
        connector.fetch_ad_daily("1111111111", *JAN)
    assert raised.value.status == grpc.StatusCode.PERMISSION_DENIED
    assert raised.value.codes == ("authorization_error.USER_PERMISSION_DENIED",)


def test_quota_errors_are_retried_after_the_servers_retry_delay(server):
    server.inject_quota_errors(2, retry_delay_seconds=7.5)
    sleep = FakeSleep()
    with _connector(server, sleep) as connector:
        rows = connector.fetch_ad_daily(CUSTOMER, *JAN)
    assert len(rows) == 6
    assert server.calls == 3
    # Jitter alone would wait 0.5 * 1s and 0.5 * 2s; the server asked for 7.5s.
    assert sleep.delays == [7.5, 7.5]


def test_exhausted_retries_raise_a_clear_error_carrying_the_quota_failure(server):
    server.inject_quota_errors(10, retry_delay_seconds=1, error="RESOURCE_EXHAUSTED")
    sleep = FakeSleep()
    policy = RetryPolicy(max_attempts=3, base_delay_seconds=4.0)
    with (
        _connector(server, sleep, policy=policy) as connector,
        pytest.raises(RetryExhausted) as raised,
    ):
        connector.fetch_ad_daily(CUSTOMER, *JAN)
    assert raised.value.attempts == 3 and server.calls == 3
    assert isinstance(raised.value.last_error, GoogleAdsApiError)
    assert raised.value.last_error.codes == ("quota_error.RESOURCE_EXHAUSTED",)
    assert "gave up after 3 attempt(s)" in str(raised.value)
    # Backoff beat the 1s hint: 0.5 * 4s, then 0.5 * 8s.
    assert sleep.delays == [2.0, 4.0]


def test_connector_reads_the_simulated_world_from_postgres(warehouse_uri, google_ads_tls_dir):
    account, tenant = "9876500001", "gads-sandbox-test"
    with psycopg.connect(warehouse_uri) as conn:
        _delete_world(conn, account, tenant)
        conn.execute(
            "INSERT INTO sandbox.tenants VALUES (%s, 'T', 'GBP', 'Europe/London', 'saas', 50)",
            (tenant,),
        )
        conn.execute(
            "INSERT INTO sandbox.ad_accounts VALUES ('google_ads', %s, %s, 'Acct', 'GBP', "
            "'Europe/London')",
            (account, tenant),
        )
        conn.execute(
            "INSERT INTO sandbox.campaigns VALUES ('google_ads', 98765000011, %s, %s, 'Brand', "
            "'leads', 'active', 98765000099, 50000000)",
            (account, tenant),
        )
        conn.execute(
            "INSERT INTO sandbox.ad_groups VALUES ('google_ads', 98765000021, 98765000011, %s, "
            "%s, 'Brand / group 1')",
            (account, tenant),
        )
        conn.execute(
            "INSERT INTO sandbox.ads VALUES ('google_ads', 987650000031, 98765000021, "
            "98765000011, %s, %s, 'Head', 'Body', 'https://t.example/?utm_content=31')",
            (account, tenant),
        )
        for day, cost in ((1, 1_500_000), (2, 250_001), (3, 9)):
            conn.execute(
                "INSERT INTO sandbox.ad_delivery_daily VALUES ('google_ads', 987650000031, %s, "
                "%s, %s, %s, 100, 5, 1.5, 75.25)",
                (date(2026, 2, day), account, tenant, cost),
            )
        conn.commit()
        try:
            data = PostgresGoogleAdsData(warehouse_uri)
            with (
                GoogleAdsSandboxServer(data, tls_dir=google_ads_tls_dir) as server,
                _connector(server) as connector,
            ):
                rows = connector.fetch_ad_daily(account, date(2026, 2, 2), date(2026, 2, 28))
                with pytest.raises(GoogleAdsApiError) as raised:
                    connector.fetch_ad_daily("9876500002", date(2026, 2, 2), date(2026, 2, 28))
        finally:
            _delete_world(conn, account, tenant)
            conn.commit()
    assert [(r.date.day, r.cost, r.conversions, r.conversions_value) for r in rows] == [
        (2, Decimal("0.250001"), Decimal("1.5"), Decimal("75.25")),
        (3, Decimal("0.000009"), Decimal("1.5"), Decimal("75.25")),
    ]
    assert (rows[0].currency_code, rows[0].campaign_status, rows[0].final_url) == (
        "GBP",
        "ENABLED",
        "https://t.example/?utm_content=31",
    )
    assert raised.value.codes == ("authorization_error.USER_PERMISSION_DENIED",)


def _delete_world(conn: psycopg.Connection, account: str, tenant: str) -> None:
    for table in ("ad_delivery_daily", "ads", "ad_groups", "campaigns", "ad_accounts"):
        conn.execute(
            f"DELETE FROM sandbox.{table} WHERE platform = 'google_ads' AND account_id = %s",
            (account,),
        )
    conn.execute("DELETE FROM sandbox.tenants WHERE tenant_id = %s", (tenant,))


# -- the retry helper on its own -------------------------------------------------------


class Flaky:
    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def _transient(error: Exception) -> Retryable | None:
    return Retryable() if isinstance(error, TimeoutError) else None


def test_backoff_is_exponential_capped_and_jittered():
    sleep = FakeSleep()
    draws = iter([1.0, 1.0, 1.0, 1.0, 0.25])
    policy = RetryPolicy(max_attempts=6, base_delay_seconds=1, max_delay_seconds=5)
    flaky = Flaky(5, TimeoutError("slow"))
    result = call_with_retry(
        flaky, classify=_transient, policy=policy, sleep=sleep, rand=lambda: next(draws)
    )
    assert result == "ok" and flaky.calls == 6
    assert sleep.delays == [1, 2, 4, 5, 1.25]


def test_permanent_errors_propagate_unchanged_at_once():
    flaky = Flaky(1, KeyError("nope"))
    sleep = FakeSleep()
    with pytest.raises(KeyError):
        call_with_retry(flaky, classify=_transient, sleep=sleep)
    assert flaky.calls == 1 and sleep.delays == []


def test_a_hint_beyond_the_limit_gives_up_without_waiting():
    flaky = Flaky(3, TimeoutError("daily quota"))
    sleep = FakeSleep()
    with pytest.raises(RetryExhausted) as raised:
        call_with_retry(
            flaky,
            classify=lambda e: Retryable(hint_seconds=86_400),
            policy=RetryPolicy(max_hint_seconds=600),
            sleep=sleep,
        )
    assert raised.value.attempts == 1 and sleep.delays == []
    assert raised.value.__cause__ is raised.value.last_error


# -- trust roots -------------------------------------------------------------------------


def test_trusting_the_sandbox_keeps_the_roots_trusted_before(google_ads_tls_dir):
    bundle = Path(os.environ[SSL_ROOTS_ENV])
    ours = (google_ads_tls_dir / "cert.pem").read_text().strip()
    text = bundle.read_text()
    assert ours in text
    assert text.count("BEGIN CERTIFICATE") > 1  # the public CAs are still there
    assert trust_certificate(google_ads_tls_dir / "cert.pem") == bundle


def test_a_second_certificate_after_connecting_is_refused(server, tmp_path):
    with _connector(server) as connector:
        connector.fetch_ad_daily(CUSTOMER, *JAN)
    other = ensure_self_signed_cert(tmp_path).cert_path
    with pytest.raises(RuntimeError, match="already read its trust roots"):
        trust_certificate(other)


def test_random_faults_change_nothing_in_a_load(world, google_ads_tls_dir):
    """With about 20% of calls failing (quota, INTERNAL, dropped, slow), day-by-day loads of
    a month return exactly the rows of a fault-free load."""
    with psycopg.connect(world) as conn:
        (account,) = conn.execute(
            "SELECT account_id FROM sandbox.ad_accounts WHERE platform = 'google_ads' LIMIT 1"
        ).fetchone()
    days = [date(2026, 6, 1) + timedelta(days=i) for i in range(30)]
    with GoogleAdsSandboxServer(PostgresGoogleAdsData(world), tls_dir=google_ads_tls_dir) as server:

        def load() -> list:
            waits: list[float] = []
            with GoogleAdsConnector(
                developer_token=TOKEN,
                access_token="sandbox-access-token",
                endpoint=server.endpoint,
                ca_cert_path=server.ca_cert_path,
                sleep=waits.append,
                breaker=CircuitBreaker("google_ads-test", failure_threshold=50),
            ) as connector:
                rows = [r for day in days for r in connector.fetch_ad_daily(account, day, day)]
            return rows, connector.stats

        clean, clean_stats = load()
        server.fail_randomly(0.2, seed=11, slow_seconds=0.05)
        faulty, faulty_stats = load()
    assert faulty == clean and len(clean) > 100
    assert clean_stats.retries == 0 and faulty_stats.retries >= 3
