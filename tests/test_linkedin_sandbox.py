"""The LinkedIn sandbox and connector, end to end over real HTTP against the small world."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from connectors.linkedin import (
    CREATIVE_COLUMNS,
    CREATIVE_DAILY_COLUMNS,
    LinkedInApiError,
    LinkedInAuthError,
    LinkedInConnector,
    LinkedInCreativeDailyRow,
    creative_daily_problems,
    creative_problems,
)
from connectors.retry import CallStats, CircuitBreaker, CircuitOpen, RetryExhausted, RetryPolicy
from sandbox.linkedin import (
    LinkedInSandboxServer,
    PostgresLinkedInData,
    RestliSyntaxError,
    parse_restli,
    restli_date,
)
from tests.pipeline_window import END
from warehouse.loader import Slice, replace_slice, split_valid

TOKEN = "sandbox-linkedin-token"
SEED = 7
JUNE = (date(2026, 6, 1), END)
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "LinkedIn-Version": "202611",
    "X-Restli-Protocol-Version": "2.0.0",
}


@dataclasses.dataclass(frozen=True)
class WorldAccount:
    account_id: str
    tenant_id: str
    currency: str


@pytest.fixture(scope="module")
def accounts(world: str) -> list[WorldAccount]:
    with psycopg.connect(world) as conn:
        rows = conn.execute(
            "SELECT account_id, tenant_id, currency FROM sandbox.ad_accounts "
            "WHERE platform = 'linkedin' ORDER BY account_id"
        ).fetchall()
    found = [WorldAccount(r[0], r[1], r[2].strip()) for r in rows]
    # The small world has a USD and a non-USD tenant; both paths are exercised below.
    assert {a.currency for a in found} >= {"USD", "EUR"}
    return found


@pytest.fixture(scope="module")
def server(world: str) -> Iterator[LinkedInSandboxServer]:
    with LinkedInSandboxServer(PostgresLinkedInData(world), retry_after_seconds=7) as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts without queued or random faults and leaves none behind."""
    if "server" not in request.fixturenames:
        yield
        return
    server: LinkedInSandboxServer = request.getfixturevalue("server")
    server.fail_randomly(0.0)
    server.set_slow_seconds(0.5)
    yield
    server.fail_randomly(0.0)


@dataclasses.dataclass
class Made:
    connector: LinkedInConnector
    delays: list[float]
    stats: CallStats
    breaker: CircuitBreaker


@pytest.fixture
def make(server: LinkedInSandboxServer) -> Iterator[Callable[..., Made]]:
    """Connectors to the sandbox with a recorded (not real) sleep and a fresh breaker each,
    so no breaker state leaks between tests."""
    made: list[Made] = []

    def build(**overrides: Any) -> Made:
        delays: list[float] = []
        stats = CallStats()
        breaker = overrides.pop("breaker", None) or CircuitBreaker("linkedin-test")
        options: dict[str, Any] = {
            "access_token": TOKEN,
            "base_url": server.base_url,
            "retry_policy": RetryPolicy(max_attempts=8, base_delay_seconds=0.5),
            "sleep": delays.append,
            "rand": lambda: 0.5,
            "stats": stats,
            "breaker": breaker,
            "timeout": 5,
        }
        options.update(overrides)
        result = Made(LinkedInConnector(**options), delays, stats, breaker)
        made.append(result)
        return result

    yield build
    for m in made:
        m.connector.close()


def world_delivery(conninfo: str, account_id: str, start: date, end: date) -> dict:
    """(date, ad id) → what the world says LinkedIn should report, with campaign attributes."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """SELECT d.date, d.ad_id, a.campaign_id, c.budget_id, c.name, d.cost_micros,
                      d.impressions, d.clicks, d.conversions, d.conversions_value
               FROM sandbox.ad_delivery_daily d
               JOIN sandbox.ads a ON a.platform = d.platform AND a.ad_id = d.ad_id
               JOIN sandbox.campaigns c ON c.platform = a.platform AND c.campaign_id = a.campaign_id
               WHERE d.platform = 'linkedin' AND d.account_id = %s AND d.date BETWEEN %s AND %s""",
            (account_id, start, end),
        ).fetchall()
    return {
        (r[0], r[1]): (r[2], r[3], r[4], Decimal(r[5]) / 1_000_000, r[6], r[7], r[8], r[9])
        for r in rows
    }


def as_truth(row: LinkedInCreativeDailyRow) -> tuple:
    return (
        row.campaign_id,
        row.campaign_group_id,
        row.campaign_name,
        row.cost,
        row.impressions,
        row.clicks,
        row.external_website_conversions,
        row.conversion_value,
    )


# -- numbers ---------------------------------------------------------------------------------
def test_daily_analytics_match_the_world_to_the_cent(
    world: str, accounts: list[WorldAccount], make: Callable[..., Made]
) -> None:
    connector = make().connector
    for account in accounts:
        rows = connector.fetch_creative_analytics_daily(account.account_id, *JUNE)
        truth = world_delivery(world, account.account_id, *JUNE)
        assert len(truth) == 8 * 30  # 8 creatives, every day active in this world
        assert {(r.date, r.creative_id): as_truth(r) for r in rows} == truth
        assert len(rows) == len(truth)  # no duplicates hiding behind the dict
        assert {r.currency_code for r in rows} == {account.currency}
        assert all(r.cost == r.cost.quantize(Decimal("0.01")) for r in rows)  # whole cents
        assert not [p for r in rows for p in creative_daily_problems(*JUNE)(r)]


def test_analytics_numbers_are_typed_as_linkedin_sends_them(
    server: LinkedInSandboxServer, accounts: list[WorldAccount]
) -> None:
    eur = next(a for a in accounts if a.currency == "EUR")
    url = (
        f"{server.base_url}/rest/adAnalytics?q=analytics&pivot=CREATIVE&timeGranularity=DAILY"
        "&dateRange=(start:(year:2026,month:6,day:1),end:(year:2026,month:6,day:1))"
        f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{eur.account_id})"
        "&fields=costInLocalCurrency,costInUsd,impressions,clicks,externalWebsiteConversions,"
        "oneClickLeads,conversionValueInLocalCurrency,dateRange,pivotValues"
    )
    elements = httpx.get(url, headers=HEADERS).json()["elements"]
    assert len(elements) == 8
    for e in elements:
        assert isinstance(e["costInLocalCurrency"], str) and isinstance(e["impressions"], int)
        assert isinstance(e["externalWebsiteConversions"], int) and e["oneClickLeads"] == 0
        # The sandbox's fixed rate table: EUR at 1.08 USD, exactly.
        assert Decimal(e["costInUsd"]) == Decimal(e["costInLocalCurrency"]) * Decimal("1.08")
        assert e["pivotValues"][0].startswith("urn:li:sponsoredCreative:")
        day = {"year": 2026, "month": 6, "day": 1}
        assert e["dateRange"] == {"start": day, "end": day}


def test_creatives_and_budgets_come_through_several_pages(
    world: str, server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    account = accounts[0]
    made = make(page_size=1)
    before = server.calls
    rows = made.connector.fetch_creatives(account.account_id, as_of=END)
    # 1 account + 2 campaign groups + 2 campaigns + 8 creatives, one per page.
    assert server.calls - before == 1 + 2 + 2 + 8
    with psycopg.connect(world) as conn:
        truth = conn.execute(
            """SELECT a.ad_id, a.campaign_id, c.budget_id, c.name, a.headline, a.body,
                      a.final_url, b.budget_micros
               FROM sandbox.ads a
               JOIN sandbox.campaigns c ON c.platform = a.platform AND c.campaign_id = a.campaign_id
               JOIN sandbox.campaign_budget_daily b
                 ON b.platform = c.platform AND b.campaign_id = c.campaign_id AND b.date = %s
               WHERE a.platform = 'linkedin' AND a.account_id = %s ORDER BY a.ad_id""",
            (END, account.account_id),
        ).fetchall()
    assert [
        (
            r.creative_id,
            r.campaign_id,
            r.campaign_group_id,
            r.campaign_name,
            r.headline,
            r.description,
            r.landing_url,
            r.daily_budget,
        )
        for r in rows
    ] == [(*t[:7], Decimal(t[7]) / 1_000_000) for t in truth]
    assert all("utm_source=linkedin" in (r.landing_url or "") for r in rows)
    assert {(r.campaign_status, r.creative_status, r.currency_code) for r in rows} == {
        ("ACTIVE", "ACTIVE", account.currency)
    }
    assert not [p for r in rows for p in creative_problems(END)(r)]


def test_index_paging_reports_the_total(
    server: LinkedInSandboxServer, accounts: list[WorldAccount]
) -> None:
    url = f"{server.base_url}/rest/adAccounts/{accounts[0].account_id}/creatives"
    pages = [
        httpx.get(url, params={"q": "criteria", "start": s, "count": 3}, headers=HEADERS).json()
        for s in (0, 3, 6)
    ]
    assert [len(p["elements"]) for p in pages] == [3, 3, 2]
    assert {p["paging"]["total"] for p in pages} == {8}
    ids = [e["id"] for p in pages for e in p["elements"]]
    assert len(set(ids)) == 8 and ids == sorted(ids)


# -- Rest.li ---------------------------------------------------------------------------------
def test_restli_values_parse() -> None:
    assert parse_restli("(start:(year:2026,month:6,day:1),end:(year:2026,month:6,day:30))") == {
        "start": {"year": "2026", "month": "6", "day": "1"},
        "end": {"year": "2026", "month": "6", "day": "30"},
    }
    # URNs arrive percent-decoded; their colons must not be taken for key separators.
    assert parse_restli("List(urn:li:sponsoredAccount:1,urn:li:sponsoredAccount:2)") == [
        "urn:li:sponsoredAccount:1",
        "urn:li:sponsoredAccount:2",
    ]
    assert parse_restli("(status:(values:List(ACTIVE,PAUSED)),name:'')") == {
        "status": {"values": ["ACTIVE", "PAUSED"]},
        "name": "",
    }
    assert parse_restli("List()") == [] and parse_restli("ACTIVE") == "ACTIVE"
    for bad in ("(start:(year:2026", "List(a,b", "(a:1)x", "(:1)", "(a:1,a:2)"):
        with pytest.raises(RestliSyntaxError):
            parse_restli(bad)


def test_analytics_honour_date_range_granularity_and_facets(
    world: str, server: LinkedInSandboxServer, accounts: list[WorldAccount]
) -> None:
    account = accounts[0]
    base = (
        f"{server.base_url}/rest/adAnalytics?q=analytics&pivot=CREATIVE"
        "&dateRange=(start:(year:2026,month:6,day:1),end:(year:2026,month:6,day:3))"
        f"&accounts=List(urn%3Ali%3AsponsoredAccount%3A{account.account_id})"
        "&fields=costInLocalCurrency,clicks,dateRange,pivotValues"
    )
    daily = httpx.get(f"{base}&timeGranularity=DAILY", headers=HEADERS).json()["elements"]
    days = {date(**e["dateRange"]["start"]) for e in daily}
    assert days == {date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3)}
    assert len(daily) == 8 * 3
    assert set(daily[0]) == {"costInLocalCurrency", "clicks", "dateRange", "pivotValues"}

    total = httpx.get(f"{base}&timeGranularity=ALL", headers=HEADERS).json()["elements"]
    assert len(total) == 8
    truth = world_delivery(world, account.account_id, date(2026, 6, 1), date(2026, 6, 3))
    for element in total:
        creative = int(element["pivotValues"][0].rsplit(":", 1)[1])
        assert element["dateRange"]["end"] == {"year": 2026, "month": 6, "day": 3}
        assert Decimal(element["costInLocalCurrency"]) == sum(
            v[3] for (_, ad), v in truth.items() if ad == creative
        )

    one_campaign = next(iter(truth.values()))[0]
    by_campaign = httpx.get(
        f"{base}&timeGranularity=ALL&campaigns=List(urn%3Ali%3AsponsoredCampaign%3A{one_campaign})",
        headers=HEADERS,
    ).json()["elements"]
    assert len(by_campaign) == 4  # the campaign's creatives only

    bad = httpx.get(base.replace("day:3))", "day:3)") + "&timeGranularity=DAILY", headers=HEADERS)
    assert bad.status_code == 400 and bad.json()["code"] == "ILLEGAL_ARGUMENT"
    wrong_type = httpx.get(
        base.replace("sponsoredAccount", "sponsoredCampaign") + "&timeGranularity=DAILY",
        headers=HEADERS,
    )
    assert wrong_type.status_code == 400


def test_query_tunnelling(server: LinkedInSandboxServer, accounts: list[WorldAccount], make):
    account = accounts[0]
    query = (
        "q=analytics&pivot=CREATIVE&timeGranularity=DAILY"
        "&dateRange=(start:(year:2026,month:6,day:1),end:(year:2026,month:6,day:2))"
        # A list long enough to overflow LinkedIn's 4 KB query string limit.
        f"&accounts=List({','.join([f'urn%3Ali%3AsponsoredAccount%3A{account.account_id}'] * 150)})"
        "&fields=costInLocalCurrency,pivotValues,dateRange"
    )
    url = f"{server.base_url}/rest/adAnalytics"
    too_long = httpx.get(f"{url}?{query}", headers=HEADERS)
    assert too_long.status_code == 414
    tunnelled = httpx.post(
        url,
        content=query,
        headers={
            **HEADERS,
            "X-HTTP-Method-Override": "GET",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert tunnelled.status_code == 200
    assert len(tunnelled.json()["elements"]) == 8 * 2
    plain_post = httpx.post(url, content=query, headers=HEADERS)
    assert plain_post.status_code == 405

    # The connector tunnels whatever would overflow its limit, with the same answer.
    plain = make().connector.fetch_creative_analytics_daily(account.account_id, *JUNE)
    seen = len(server.log)
    tunnelling = make(max_query_bytes=10).connector
    assert tunnelling.fetch_creative_analytics_daily(account.account_id, *JUNE) == plain
    with_query = [r for r in server.log[seen:] if r.params]
    assert any(r.path == "/rest/adAnalytics" for r in with_query)
    assert all(r.method == "POST" and r.tunnelled for r in with_query)


def test_connector_sends_restli_encoding(
    server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    sent: list[httpx.Request] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(request)
            return super().handle_request(request)

    connector = make(transport=Recording()).connector
    connector.fetch_creative_analytics_daily(accounts[0].account_id, date(2026, 6, 1), END)
    analytics = [r for r in sent if r.url.path == "/rest/adAnalytics"]
    assert len(analytics) == 1  # one call per account per window
    raw = analytics[0].url.raw_path.decode()
    assert "dateRange=(start:(year:2026,month:6,day:1),end:(year:2026,month:6,day:30))" in raw
    assert f"accounts=List(urn%3Ali%3AsponsoredAccount%3A{accounts[0].account_id})" in raw
    assert analytics[0].headers["LinkedIn-Version"] == "202611"
    assert analytics[0].headers["X-Restli-Protocol-Version"] == "2.0.0"


def test_a_window_over_the_element_cap_is_split(
    world: str, accounts: list[WorldAccount], make
) -> None:
    account = accounts[0]
    full = make().connector.fetch_creative_analytics_daily(account.account_id, *JUNE)
    with LinkedInSandboxServer(PostgresLinkedInData(world), max_analytics_elements=20) as capped:
        connector = make(base_url=capped.base_url, analytics_element_limit=20).connector
        assert connector.fetch_creative_analytics_daily(account.account_id, *JUNE) == full
        windows = []
        for record in capped.log:
            if record.path == "/rest/adAnalytics":
                value = parse_restli(record.params["dateRange"])
                windows.append((restli_date(value["start"]), restli_date(value["end"])))
    # 8 creatives a day: only windows of two days or fewer fit under 20 elements, and those
    # tile June exactly once; every longer window was split.
    fitting = sorted(w for w in windows if (w[1] - w[0]).days < 2)
    assert fitting[0][0] == JUNE[0] and fitting[-1][1] == JUNE[1]
    assert all(b[0] == a[1] + timedelta(days=1) for a, b in itertools.pairwise(fitting))
    assert len(windows) == 2 * len(fitting) - 1  # a binary split tree


# -- headers and auth ------------------------------------------------------------------------
def test_version_and_protocol_headers_are_required(
    server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    url = f"{server.base_url}/rest/adAccounts/{accounts[0].account_id}"
    missing = httpx.get(url, headers={k: v for k, v in HEADERS.items() if k != "LinkedIn-Version"})
    assert missing.status_code == 400 and missing.json()["code"] == "VERSION_MISSING"
    sunset = httpx.get(url, headers={**HEADERS, "LinkedIn-Version": "202501"})
    assert sunset.status_code == 426 and sunset.json()["code"] == "NONEXISTENT_VERSION"
    revision = httpx.get(url, headers={**HEADERS, "LinkedIn-Version": "202512.01"})
    assert revision.status_code == 200 and revision.json()["currency"] == accounts[0].currency
    no_restli = httpx.get(
        url, headers={k: v for k, v in HEADERS.items() if k != "X-Restli-Protocol-Version"}
    )
    assert no_restli.status_code == 400

    made = make(version="202401")
    before = server.calls
    with pytest.raises(LinkedInApiError) as raised:
        made.connector.fetch_creatives(accounts[0].account_id)
    assert raised.value.status == 426 and raised.value.code == "NONEXISTENT_VERSION"
    assert server.calls - before == 1  # a sunset version is not worth retrying


def test_bad_token_fails_after_exactly_one_call(
    server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    made = make(access_token="expired-token")
    before = server.calls
    with pytest.raises(LinkedInAuthError) as raised:
        made.connector.fetch_creative_analytics_daily(accounts[0].account_id, *JUNE)
    assert server.calls - before == 1
    assert (made.stats.calls, made.stats.retries, made.delays) == (1, 0, [])
    assert raised.value.status == 401 and raised.value.code == "INVALID_ACCESS_TOKEN"
    assert made.breaker.state == "closed"  # a bad token is not an outage


def test_unknown_account_is_access_denied(server: LinkedInSandboxServer, make) -> None:
    with pytest.raises(LinkedInApiError) as raised:
        make().connector.fetch_creatives("999999999")
    assert raised.value.status == 403 and not isinstance(raised.value, LinkedInAuthError)


# -- faults ----------------------------------------------------------------------------------
def test_throttling_waits_at_least_retry_after(
    server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    account = accounts[0]
    expected = make().connector.fetch_creative_analytics_daily(account.account_id, *JUNE)
    made = make()
    server.inject("throttle", 2)
    assert made.connector.fetch_creative_analytics_daily(account.account_id, *JUNE) == expected
    # Backoff alone would wait 0.25-0.5 s here; the server asked for 7.
    assert made.delays == [7, 7]
    assert (made.stats.retries, made.stats.waited_seconds) == (2, 14)


@pytest.mark.parametrize("kind", ["server_error", "drop", "slow"])
def test_transient_faults_are_retried(
    kind: str, server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    account = accounts[0]
    expected = make().connector.fetch_creatives(account.account_id, as_of=END)
    # Slow answers take 0.5 s against a 0.2 s client timeout: each is a timeout.
    made = make(timeout=0.2)
    server.inject(kind, 2)
    before = server.calls
    assert made.connector.fetch_creatives(account.account_id, as_of=END) == expected
    assert made.stats.retries == 2 and len(made.delays) == 2
    assert all(0 < d <= 1 for d in made.delays)  # backoff, no server hint
    assert server.calls - before == made.stats.calls


def test_random_faults_do_not_change_a_full_load(
    server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    def full_load(connector: LinkedInConnector) -> list:
        rows: list = []
        for account in accounts:
            rows += connector.fetch_creative_analytics_daily(account.account_id, *JUNE)
            rows += connector.fetch_creatives(account.account_id, as_of=END)
        return rows

    clean = full_load(make(page_size=2).connector)
    served_before = sum(server.faults_served.values())
    server.set_slow_seconds(0.3)
    server.fail_randomly(0.2, seed=SEED)
    made = make(page_size=2, timeout=0.2)
    assert full_load(made.connector) == clean
    faults = sum(server.faults_served.values()) - served_before
    # Every fault cost exactly one retry, and this seed brings enough of them to matter.
    assert made.stats.retries == faults >= 5


def test_the_circuit_opens_when_the_server_keeps_failing(
    server: LinkedInSandboxServer, accounts: list[WorldAccount], make
) -> None:
    now = [0.0]
    breaker = CircuitBreaker("linkedin-test", failure_threshold=4, clock=lambda: now[0])
    made = make(breaker=breaker, retry_policy=RetryPolicy(max_attempts=3))
    server.inject("server_error", 100)
    before = server.calls
    with pytest.raises(RetryExhausted):
        made.connector.fetch_ad_account(accounts[0].account_id)
    with pytest.raises(CircuitOpen):  # the fourth failure in a row opens it
        made.connector.fetch_ad_account(accounts[0].account_id)
    assert server.calls - before == 4 and breaker.state == "open"
    with pytest.raises(CircuitOpen):
        made.connector.fetch_creatives(accounts[0].account_id)
    assert server.calls - before == 4  # failed fast, without a call

    # After the cool-down one trial goes through; the platform is back, so the circuit closes.
    server.fail_randomly(0.0)
    now[0] += 31
    assert made.connector.fetch_ad_account(accounts[0].account_id)["id"] == int(
        accounts[0].account_id
    )
    assert breaker.state == "closed"


# -- loading -------------------------------------------------------------------------------
def test_rows_load_into_the_raw_tables(
    world: str, accounts: list[WorldAccount], make: Callable[..., Made]
) -> None:
    connector = make().connector
    account = accounts[1]
    daily = connector.fetch_creative_analytics_daily(account.account_id, *JUNE)
    creatives = connector.fetch_creatives(account.account_id, as_of=END)
    good, rejects = split_valid(daily, creative_daily_problems(*JUNE))
    assert not rejects
    with psycopg.connect(world) as conn:
        try:
            loaded = replace_slice(
                conn,
                Slice("raw", "linkedin_creative_daily", account.tenant_id, *JUNE),
                CREATIVE_DAILY_COLUMNS,
                [dataclasses.astuple(r) for r in good],
            )
            replace_slice(
                conn,
                Slice("raw", "linkedin_creatives", account.tenant_id, END, END),
                CREATIVE_COLUMNS,
                [dataclasses.astuple(r) for r in creatives],
            )
            assert loaded.rows_loaded == len(daily)
            spend = conn.execute(
                "SELECT sum(cost) FROM raw.linkedin_creative_daily WHERE tenant_id = %s",
                (account.tenant_id,),
            ).fetchone()[0]
            truth = conn.execute(
                "SELECT sum(cost_micros) FROM sandbox.ad_delivery_daily "
                "WHERE platform = 'linkedin' AND account_id = %s AND date BETWEEN %s AND %s",
                (account.account_id, *JUNE),
            ).fetchone()[0]
            assert spend == Decimal(truth) / 1_000_000
            budgets = conn.execute(
                "SELECT count(DISTINCT campaign_id), count(*) FROM raw.linkedin_creatives "
                "WHERE tenant_id = %s AND date = %s",
                (account.tenant_id, END),
            ).fetchone()
            assert budgets == (2, 8)
        finally:
            conn.rollback()  # the test warehouse is shared: leave the raw tables as found


def test_validation_flags_what_cannot_be_loaded() -> None:
    good = LinkedInCreativeDailyRow(
        account_id="1",
        date=date(2026, 6, 1),
        currency_code="USD",
        campaign_group_id=1,
        campaign_id=2,
        campaign_name="c",
        creative_id=3,
        cost=Decimal("1.23"),
        impressions=10,
        clicks=1,
        external_website_conversions=Decimal(0),
        conversion_value=Decimal(0),
    )
    judge = creative_daily_problems(*JUNE)
    assert judge(good) == []
    cases = {
        "outside": dataclasses.replace(good, date=JUNE[0] - timedelta(days=1)),
        "negative": dataclasses.replace(good, cost=Decimal("-0.01")),
        "missing": dataclasses.replace(good, campaign_id=None),
        "ISO 4217": dataclasses.replace(good, currency_code="usd"),
    }
    for word, row in cases.items():
        found = judge(row)
        assert len(found) == 1 and word in found[0], (word, found)
