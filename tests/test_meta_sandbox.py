"""The Meta sandbox through the real ``facebook-business`` SDK over HTTP, and the connector
(retries, pacing, circuit breaker, async reports) on top of it, checked against the world."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import astuple, fields, replace
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from connectors.meta import (
    LEAD_ACTION,
    MetaAdDailyRow,
    MetaAdRow,
    MetaApiError,
    MetaAuthError,
    MetaConnector,
    MetaReportError,
    ad_daily_problems,
    ad_problems,
    requested_wait_seconds,
    usage_percent,
)
from connectors.retry import CallStats, CircuitBreaker, CircuitOpen, RetryExhausted, RetryPolicy
from sandbox.meta import DEFAULT_ACCESS_TOKEN, MetaSandboxServer, PostgresMetaData, parse_fields
from tests.pipeline_window import END
from warehouse.loader import Slice, replace_slice

# The SDK warns (rather than fails) when an answer's types do not match its field types:
# here that is a test failure, so the sandbox must send what Meta sends.
pytestmark = pytest.mark.filterwarnings("error::UserWarning:facebook_business")

WEEK = (END - timedelta(days=6), END)  # 7 days: the synchronous path
MONTH = (END - timedelta(days=29), END)  # 30 days: an async report run


class FakeClock:
    """Time that only moves when someone sleeps: the connector and the sandbox share it."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def accounts(world: str) -> list[str]:
    with psycopg.connect(world) as conn:
        rows = conn.execute(
            "SELECT account_id FROM sandbox.ad_accounts WHERE platform = 'meta' ORDER BY 1"
        ).fetchall()
    assert len(rows) >= 2
    return [r[0] for r in rows]


@pytest.fixture
def account(accounts: list[str]) -> str:
    return accounts[0]


@pytest.fixture
def server(world: str) -> Iterator[MetaSandboxServer]:
    with MetaSandboxServer(PostgresMetaData(world)) as running:
        yield running


def connector(server: MetaSandboxServer, clock: FakeClock | None = None, **kwargs) -> MetaConnector:
    """A connector on the sandbox with instant, recorded sleeps and its own breaker (the
    process-wide Meta breaker stays untouched by these tests)."""
    clock = clock or FakeClock()
    kwargs.setdefault("access_token", DEFAULT_ACCESS_TOKEN)
    kwargs.setdefault("breaker", CircuitBreaker("meta-test", clock=clock))
    kwargs.setdefault("stats", CallStats())
    kwargs.setdefault("rand", lambda: 0.5)
    return MetaConnector(base_url=server.base_url, sleep=clock.sleep, **kwargs)


def world_delivery(uri: str, account_id: str, start: date, end: date) -> dict[tuple, tuple]:
    """The world's truth per (date, ad_id): spend, impressions, link clicks, leads, value."""
    with psycopg.connect(uri) as conn:
        rows = conn.execute(
            """SELECT date, ad_id::text, cost_micros, impressions, clicks, conversions,
                      conversions_value
               FROM sandbox.ad_delivery_daily
               WHERE platform = 'meta' AND account_id = %s AND date BETWEEN %s AND %s""",
            (account_id, start, end),
        ).fetchall()
    return {(r[0], r[1]): (Decimal(r[2]) / 1_000_000, r[3], r[4], r[5], r[6]) for r in rows}


def assert_matches_world(rows: list[MetaAdDailyRow], uri: str, account_id: str, start, end):
    truth = world_delivery(uri, account_id, start, end)
    got = {(r.date, r.ad_id): r for r in rows}
    assert len(got) == len(rows), "one row per ad and day"
    assert set(got) == set(truth)
    for key, (spend, impressions, link_clicks, leads, value) in truth.items():
        row = got[key]
        assert row.spend == spend and row.spend.as_tuple().exponent == -2  # cents, exactly
        assert (row.impressions, row.inline_link_clicks) == (impressions, link_clicks)
        assert row.clicks == link_clicks + (3 * link_clicks + 5) // 10  # all clicks
        assert (row.leads, row.lead_value) == (leads, value)
        assert row.account_id == account_id and row.currency_code in ("USD", "EUR")


# -- reading the world ------------------------------------------------------------------------


def test_sync_insights_page_through_absolute_next_links_and_match_the_world(server, world, account):
    meta = connector(server, page_size=7)
    rows = meta.fetch_ad_insights_daily(f"act_{account}", *WEEK)

    assert_matches_world(rows, world, account, *WEEK)
    insight_calls = [r for r in server.requests if r.path.endswith("/insights")]
    assert all(r.method == "GET" for r in insight_calls), "a week needs no report run"
    assert len(insight_calls) == -(-len(rows) // 7) >= 3  # several pages, no extra call
    assert meta.stats.calls == server.calls and meta.stats.retries == 0
    assert all('"since":"' in r.params["time_range"] for r in insight_calls)  # JSON, by the SDK
    assert all(LEAD_ACTION in r.actions for r in rows if r.leads)  # the full list, as JSON
    assert any(json.loads(r.actions) for r in rows)
    # The same pages by following each answer's absolute paging.next with the SDK's API.
    first = meta.api.call(
        "GET",
        (f"act_{account}", "insights"),
        params={
            "level": "ad",
            "time_increment": "1",
            "time_range": {"since": WEEK[0].isoformat(), "until": WEEK[1].isoformat()},
            "fields": "ad_id,spend",
            "limit": 7,
        },
    ).json()
    followed, page, links = [], first, []
    while True:
        followed += [(d["date_start"], d["ad_id"], Decimal(d["spend"])) for d in page["data"]]
        link = page.get("paging", {}).get("next")
        if not link:
            break
        links.append(link)
        page = meta.api.call("GET", link).json()
    assert len(links) >= 2
    assert all(
        link.startswith(f"{server.base_url}/v26.0/act_{account}/insights?") for link in links
    )
    assert all("access_token" not in link for link in links)
    assert followed == [(r.date.isoformat(), r.ad_id, r.spend) for r in rows]


def test_async_report_run_is_polled_to_completion_and_matches_the_world(server, world, account):
    clock = FakeClock()
    meta = connector(server, clock, page_size=50)
    rows = meta.fetch_ad_insights_daily(account, *MONTH)

    assert_matches_world(rows, world, account, *MONTH)
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].path == f"/v26.0/act_{account}/insights"
    # The SDK reads a node at "/{id}/" (an empty edge): the sandbox takes both spellings.
    first_read = next(r for r in server.requests if r.method == "GET")
    report_id = first_read.path.rstrip("/").split("/")[-1]
    polls = [r for r in server.requests if r.path.rstrip("/") == f"/v26.0/{report_id}"]
    # Not Started, Started, Running 50%, Running 100% (still not done!), Completed.
    assert len(polls) == 5
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    pages = [r for r in server.requests if r.path == f"/v26.0/{report_id}/insights"]
    assert len(pages) == -(-len(rows) // 50) >= 2


def test_sync_and_async_paths_return_the_same_rows(server, account):
    window = (END - timedelta(days=9), END)
    with connector(server, async_after_days=30) as meta:
        sync_rows = meta.fetch_ad_insights_daily(account, *window)
    with connector(server, async_after_days=1) as meta:
        async_rows = meta.fetch_ad_insights_daily(account, *window)
    assert sync_rows == async_rows and len(sync_rows) > 0


def test_a_failed_report_run_is_submitted_again_and_then_given_up(server, world, account):
    server.fail_next_report("Job Failed")
    rows = connector(server).fetch_ad_insights_daily(account, *MONTH)
    assert_matches_world(rows, world, account, *MONTH)
    assert len([r for r in server.requests if r.method == "POST"]) == 2

    for _ in range(3):
        server.fail_next_report("Job Skipped")
    with pytest.raises(MetaReportError, match="Job Skipped"):
        connector(server).fetch_ad_insights_daily(account, *MONTH)


def test_account_totals_reconcile_with_the_ad_rows(server, accounts):
    meta = connector(server)
    for account in accounts:
        rows = meta.fetch_ad_insights_daily(account, *WEEK)
        totals = meta.fetch_account_totals(account, *WEEK)
        assert totals.spend == sum((r.spend for r in rows), Decimal(0)) > 0
        assert totals.inline_link_clicks == sum(r.inline_link_clicks for r in rows)
        assert totals.clicks == sum(r.clicks for r in rows)


def test_ads_come_with_creatives_statuses_and_ad_set_budgets(server, world, account):
    ads = connector(server, page_size=3).fetch_ads(account, snapshot_date=END)
    with psycopg.connect(world) as conn:
        truth = {
            str(r[0]): r[1:]
            for r in conn.execute(
                """SELECT a.ad_id, a.headline, a.body, a.final_url, g.ad_group_id::text, g.name,
                          c.campaign_id::text, c.name
                   FROM sandbox.ads a
                   JOIN sandbox.ad_groups g ON g.platform = a.platform
                                            AND g.ad_group_id = a.ad_group_id
                   JOIN sandbox.campaigns c ON c.platform = a.platform
                                            AND c.campaign_id = a.campaign_id
                   WHERE a.platform = 'meta' AND a.account_id = %s""",
                (account,),
            )
        }
        budgets = dict(
            conn.execute(
                "SELECT campaign_id::text, daily_budget_micros FROM sandbox.campaigns "
                "WHERE platform = 'meta' AND account_id = %s",
                (account,),
            ).fetchall()
        )
    assert sorted(a.ad_id for a in ads) == sorted(truth)
    for ad in ads:
        headline, body, final_url, adset_id, adset_name, campaign_id, campaign_name = truth[
            ad.ad_id
        ]
        assert (ad.creative_title, ad.creative_body) == (headline, body)
        assert f"{ad.link_url}?{ad.url_tags}" == final_url and "utm_content=" in ad.url_tags
        assert (ad.adset_id, ad.adset_name) == (adset_id, adset_name)
        assert (ad.campaign_id, ad.campaign_name) == (campaign_id, campaign_name)
        assert ad.status == ad.effective_status == "ACTIVE"
        assert ad.date == END and ad.currency_code in ("USD", "EUR")
    # Ad-set budgets (whole cents) add up to the campaign's budget exactly.
    adset_budgets = {ad.adset_id: (ad.campaign_id, ad.daily_budget) for ad in ads}
    for campaign_id, micros in budgets.items():
        parts = [b for c, b in adset_budgets.values() if c == campaign_id]
        assert all(b.as_tuple().exponent == -2 for b in parts)
        assert sum(parts, Decimal(0)) == Decimal(micros) / 1_000_000


def test_budgets_follow_the_sandbox_clock(world, account):
    day = END - timedelta(days=100)
    with psycopg.connect(world) as conn:
        then = dict(
            conn.execute(
                """SELECT b.campaign_id::text, b.budget_micros
                   FROM sandbox.campaign_budget_daily b
                   JOIN sandbox.campaigns c USING (platform, campaign_id)
                   WHERE b.platform = 'meta' AND c.account_id = %s AND b.date = %s""",
                (account, day),
            ).fetchall()
        )
    assert then
    with MetaSandboxServer(PostgresMetaData(world, as_of=day)) as past:
        ads = connector(past).fetch_ads(account, snapshot_date=day)
    per_adset = {ad.adset_id: (ad.campaign_id, ad.daily_budget) for ad in ads}
    for campaign_id, micros in then.items():
        total = sum((b for c, b in per_adset.values() if c == campaign_id), Decimal(0))
        assert total == Decimal(micros) / 1_000_000


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [17, 613, 80004])
def test_throttling_is_retried_after_the_servers_estimate(server, world, account, code):
    clock = FakeClock()
    meta = connector(server, clock, rand=lambda: 0.0)  # no jitter: the wait is the hint
    server.inject_throttle(code=code, count=2, regain_minutes=2)
    rows = meta.fetch_ad_insights_daily(account, *WEEK)

    assert_matches_world(rows, world, account, *WEEK)
    assert server.faults_served["throttle"] == 2
    assert clock.sleeps == [120.0, 120.0]  # estimated_time_to_regain_access, in minutes
    assert meta.stats.retries == 2 and meta.stats.waited_seconds == 240.0


def test_a_throttle_longer_than_the_policy_allows_fails_at_once(server, account):
    clock = FakeClock()
    meta = connector(server, clock, retry_policy=RetryPolicy(max_hint_seconds=300))
    server.inject_throttle(code=80000, count=1, regain_minutes=30)
    with pytest.raises(RetryExhausted) as raised:
        meta.fetch_ad_insights_daily(account, *WEEK)
    assert isinstance(raised.value.last_error, MetaApiError)
    assert raised.value.last_error.code == 80000 and raised.value.last_error.throttled
    assert clock.sleeps == []


@pytest.mark.parametrize("kind", ["server_error", "drop"])
def test_server_errors_and_dropped_connections_are_retried(server, world, account, kind):
    clock = FakeClock()
    meta = connector(server, clock)
    server.inject(kind, count=3)
    rows = meta.fetch_ad_insights_daily(account, *WEEK)

    assert_matches_world(rows, world, account, *WEEK)
    assert server.faults_served[kind] == 3
    assert meta.stats.retries == 3
    assert clock.sleeps == [0.5, 1.0, 2.0]  # rand 0.5 of the exponential caps 1, 2, 4


def test_random_faults_do_not_change_what_a_full_load_returns(server, accounts):
    def full_load(meta: MetaConnector) -> list:
        loaded: list = []
        for account in accounts:
            loaded += meta.fetch_ad_insights_daily(account, *WEEK)
            loaded += meta.fetch_ad_insights_daily(account, *MONTH)
            loaded += meta.fetch_ads(account, snapshot_date=END)
        return loaded

    clean = full_load(connector(server, page_size=20))
    server.fail_randomly(0.2, seed=11, slow_seconds=0.01)
    faulty_meta = connector(server, page_size=20, retry_policy=RetryPolicy(max_attempts=10))
    faulty = full_load(faulty_meta)

    assert faulty == clean
    assert sum(server.faults_served.values()) >= 5
    assert faulty_meta.stats.retries > 0


def test_a_bad_token_raises_an_auth_error_without_retrying(server, account):
    clock = FakeClock()
    meta = connector(server, clock, access_token="expired-token")
    with pytest.raises(MetaAuthError) as raised:
        meta.fetch_ad_insights_daily(account, *WEEK)
    assert raised.value.code == 190 and raised.value.error_type == "OAuthException"
    assert raised.value.fbtrace_id and not raised.value.retryable
    assert server.calls == 1 and meta.stats.retries == 0 and clock.sleeps == []


def test_an_unknown_account_is_a_graph_error_not_a_retry(server):
    meta = connector(server)
    with pytest.raises(MetaApiError) as raised:
        meta.fetch_ads("act_999999999999999")
    assert (raised.value.code, raised.value.subcode) == (100, 33)
    assert not isinstance(raised.value, MetaAuthError) and server.calls == 1
    with pytest.raises(ValueError, match="digits"):
        meta.fetch_ads("not-an-account")


def test_the_circuit_opens_after_repeated_failures_and_then_fails_fast(server, account):
    clock = FakeClock()
    breaker = CircuitBreaker("meta-test", failure_threshold=4, reset_seconds=30, clock=clock)
    meta = connector(server, clock, breaker=breaker, retry_policy=RetryPolicy(max_attempts=3))
    server.fail_randomly(1.0, kinds=("server_error",))

    with pytest.raises(RetryExhausted):
        meta.fetch_ad_insights_daily(account, *WEEK)
    assert server.calls == 3 and breaker.state == "closed"
    with pytest.raises(CircuitOpen):
        meta.fetch_ad_insights_daily(account, *WEEK)  # the 4th failure opens it
    assert server.calls == 4 and breaker.state == "open"
    with pytest.raises(CircuitOpen):
        meta.fetch_ads(account)
    assert server.calls == 4, "an open circuit makes no call"

    server.fail_randomly(0.0)
    clock.now += 30  # the cool-down passes; one trial call closes the circuit again
    assert meta.fetch_ad_insights_daily(account, *WEEK)
    assert breaker.state == "closed"


def test_high_usage_slows_the_connector_down_before_it_is_blocked(world, account):
    def load(pace_max_seconds: float) -> tuple[list, MetaConnector, MetaSandboxServer, FakeClock]:
        clock = FakeClock()
        data = PostgresMetaData(world)
        with MetaSandboxServer(
            data, usage_capacity=10, usage_window_seconds=60, clock=clock
        ) as limited:
            meta = connector(limited, clock, page_size=4, pace_max_seconds=pace_max_seconds)
            rows = meta.fetch_ad_insights_daily(account, *WEEK)
        return rows, meta, limited, clock

    rows, paced, paced_server, clock = load(pace_max_seconds=60)
    assert 10 < paced_server.calls <= 20  # more calls than the window allows at once
    assert paced_server.blocked == 0 and paced.stats.retries == 0
    # Ten calls fill the window. After the 8th (80%) the connector waits (80 - 75) / 25 of
    # a minute, after the 9th (90%) 3/5, after the 10th (100%) a whole one: the window is
    # empty again and the rest go straight through.
    assert clock.sleeps == pytest.approx([12.0, 36.0, 60.0])
    assert paced.stats.waited_seconds == pytest.approx(108.0)

    unpaced_rows, unpaced, unpaced_server, _ = load(pace_max_seconds=0)
    assert unpaced_server.blocked >= 1 and unpaced.stats.retries >= 1  # blocked, then waited
    assert unpaced_rows == rows


# -- the pieces -------------------------------------------------------------------------------


def test_usage_headers_are_read_for_pacing_and_waits():
    headers = {
        "x-business-use-case-usage": '{"1":[{"type":"ads_insights","call_count":12,'
        '"total_cputime":81,"total_time":40,"estimated_time_to_regain_access":3}]}',
        "x-app-usage": '{"call_count":5,"total_cputime":1,"total_time":2}',
    }
    assert usage_percent(headers) == 81
    assert requested_wait_seconds(headers) == 180
    assert requested_wait_seconds({"retry-after": "400", **headers}) == 400
    assert usage_percent({}) is None and requested_wait_seconds({}) is None


def test_nested_field_lists_parse_as_the_sdk_sends_them():
    assert parse_fields("id,creative{title,url_tags},adset{campaign{name}}") == {
        "id": None,
        "creative": {"title": None, "url_tags": None},
        "adset": {"campaign": {"name": None}},
    }
    assert parse_fields('["spend","actions"]') == {"spend": None, "actions": None}


def test_validation_flags_unfit_rows(server, account):
    rows = connector(server).fetch_ad_insights_daily(account, *WEEK)
    judge = ad_daily_problems(*WEEK)
    assert all(judge(r) == [] for r in rows)
    good = rows[0]
    assert judge(replace(good, date=END + timedelta(days=1)))
    assert judge(replace(good, spend=Decimal("-0.01")))
    assert judge(replace(good, inline_link_clicks=good.clicks + 1))
    assert judge(replace(good, currency_code="usd"))
    assert judge(replace(good, adset_id=""))

    ads = connector(server).fetch_ads(account, snapshot_date=END)
    assert all(ad_problems(END, END)(a) == [] for a in ads)
    assert ad_problems(END, END)(replace(ads[0], daily_budget=Decimal(-1)))


def test_rows_load_into_the_raw_tables_through_replace_slice(server, world, account):
    meta = connector(server)
    rows = meta.fetch_ad_insights_daily(account, *WEEK)
    ads = meta.fetch_ads(account, snapshot_date=END)
    with psycopg.connect(world) as conn:
        tenant = conn.execute(
            "SELECT tenant_id FROM sandbox.ad_accounts WHERE platform = 'meta' AND account_id = %s",
            (account,),
        ).fetchone()[0]
        tenant = f"{tenant}-meta-test"  # a tenant of its own: the pipeline's data stays as is
        try:
            for _ in range(2):  # twice: replacing a slice leaves one copy
                replace_slice(
                    conn,
                    Slice("raw", "meta_ad_insights_daily", tenant, *WEEK),
                    [f.name for f in fields(MetaAdDailyRow)],
                    map(astuple, rows),
                )
                replace_slice(
                    conn,
                    Slice("raw", "meta_ads", tenant, END, END),
                    [f.name for f in fields(MetaAdRow)],
                    map(astuple, ads),
                )
            loaded = conn.execute(
                """SELECT count(*), sum(spend), sum(leads),
                          sum((SELECT sum((a ->> 'value')::numeric)
                               FROM jsonb_array_elements(actions) a
                               WHERE a ->> 'action_type' = %s))
                   FROM raw.meta_ad_insights_daily WHERE tenant_id = %s""",
                (LEAD_ACTION, tenant),
            ).fetchone()
            assert loaded[0] == len(rows)
            assert loaded[1] == sum((r.spend for r in rows), Decimal(0))
            assert loaded[2] == sum((r.leads for r in rows), Decimal(0)) == (loaded[3] or 0)
            budgets = conn.execute(
                "SELECT count(*), sum(daily_budget) FROM raw.meta_ads WHERE tenant_id = %s",
                (tenant,),
            ).fetchone()
            assert budgets == (len(ads), sum((a.daily_budget for a in ads), Decimal(0)))
        finally:
            conn.execute("DELETE FROM raw.meta_ad_insights_daily WHERE tenant_id = %s", (tenant,))
            conn.execute("DELETE FROM raw.meta_ads WHERE tenant_id = %s", (tenant,))
            conn.commit()
