"""The CRM sandbox over real HTTP, read by the CRM connector, against the world in Postgres.

Each test checks one promise: the sync equals the world (and shows none of its truth),
incremental windows return exactly what changed as "now" advances, paging and the search
cap hold, throttling and random faults are survived without changing the answer, and a bad
token fails at once.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from connectors.crm import (
    CrmAuthError,
    CrmCompanyRow,
    CrmConnector,
    CrmContactRow,
    CrmDealRow,
    CrmDealStageRow,
    company_problems,
    contact_problems,
    deal_problems,
    deal_stage_problems,
    row_columns,
    row_values,
    unknown_property_report,
)
from connectors.retry import CallStats, CircuitBreaker, RetryPolicy
from sandbox.crm import (
    PROPERTIES,
    CrmPortal,
    CrmRecord,
    CrmSandboxServer,
    InMemoryCrmData,
    PostgresCrmData,
    PropertyChange,
)
from warehouse.loader import Slice, replace_slice, split_valid

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
STAGE = {"opportunity": "opportunity", "closed_won": "closedwon", "closed_lost": "closedlost"}
TRUTH_WORDS = ("cause_channel", "true_propensity", "platform_ad_id", "propensity", "baseline")


def ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    tenants: list[str]
    leads: dict[str, list[tuple]]  # tenant -> (lead_id, email, first, last, anon, created_at)
    companies: dict[str, set[tuple]]  # tenant -> distinct (company, size, industry, country)
    first_lead_of_company: dict[str, dict[tuple, datetime]]
    deals: dict[str, list[tuple]]  # tenant -> (deal_id, lead_id, amount, stage, created_at)
    stages: dict[int, list[tuple[str, datetime]]]  # deal -> (world stage, entered_at)
    propensities: list[float]


@pytest.fixture(scope="module")
def truth(world: str) -> World:
    with psycopg.connect(world) as conn:
        tenants = [r[0] for r in conn.execute("SELECT tenant_id FROM sandbox.tenants ORDER BY 1")]
        leads: dict[str, list[tuple]] = defaultdict(list)
        companies: dict[str, set[tuple]] = defaultdict(set)
        first: dict[str, dict[tuple, datetime]] = defaultdict(dict)
        for row in conn.execute(
            "SELECT tenant_id, lead_id, email, first_name, last_name, anonymous_id, created_at,"
            " company, company_size, industry, country FROM sandbox.leads ORDER BY created_at"
        ):
            leads[row[0]].append(row[1:7])
            key = row[7:11]
            companies[row[0]].add(key)
            first[row[0]].setdefault(key, row[6])
        deals: dict[str, list[tuple]] = defaultdict(list)
        for row in conn.execute(
            "SELECT tenant_id, deal_id, lead_id, amount, stage, created_at FROM sandbox.deals"
        ):
            deals[row[0]].append(row[1:])
        stages: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
        for deal_id, stage, entered in conn.execute(
            "SELECT deal_id, stage, entered_at FROM sandbox.deal_stage_history ORDER BY 3"
        ):
            stages[deal_id].append((stage, entered))
        propensities = [r[0] for r in conn.execute("SELECT true_propensity FROM sandbox.leads")]
    return World(tenants, leads, companies, first, deals, stages, propensities)


@pytest.fixture(scope="module")
def crm_data(world: str) -> PostgresCrmData:
    return PostgresCrmData(world)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def server(crm_data: PostgresCrmData, clock: Clock) -> Iterator[CrmSandboxServer]:
    crm = CrmSandboxServer(crm_data, now=clock, retry_after_seconds=7).start()
    yield crm
    crm.stop()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connect(server: CrmSandboxServer, tenant: str, **options: Any) -> CrmConnector:
    options.setdefault("sleep", Sleeps())
    options.setdefault("breaker", CircuitBreaker("crm-test", failure_threshold=50))
    return CrmConnector(access_token=server.token_for(tenant), base_url=server.base_url, **options)


def snapshot(connector: CrmConnector, since: datetime | None, before: datetime) -> dict:
    deals, stages = connector.fetch_deals_with_stages(since, before)
    return {
        "contacts": sorted(connector.fetch_contacts(since, before), key=lambda r: r.contact_id),
        "companies": sorted(connector.fetch_companies(since, before), key=lambda r: r.company_id),
        "deals": sorted(deals, key=lambda r: r.deal_id),
        "stages": sorted(stages, key=lambda r: (r.deal_id, r.entered_at)),
    }


# -- the sync equals the world -----------------------------------------------------------------


def test_full_sync_matches_the_world_for_each_tenant(server, truth):
    for tenant in truth.tenants:
        with connect(server, tenant) as crm:
            got = snapshot(crm, None, NOW)
        leads = truth.leads[tenant]
        assert [
            (r.contact_id, r.email, r.first_name, r.last_name, r.anonymous_id, r.created_at)
            for r in got["contacts"]
        ] == sorted(leads)
        assert len(got["companies"]) == len(truth.companies[tenant])
        assert {(c.name, c.number_of_employees) for c in got["companies"]} == {
            (k[0], k[1]) for k in truth.companies[tenant]
        }
        assert {d.deal_id: (d.contact_id, d.amount, d.deal_stage) for d in got["deals"]} == {
            deal_id: (lead_id, amount, STAGE[stage])
            for deal_id, lead_id, amount, stage, _created in truth.deals[tenant]
        }
        assert {(s.deal_id, s.stage, s.entered_at) for s in got["stages"]} == {
            (deal_id, STAGE[stage], ms(entered))
            for deal_id, *_rest in truth.deals[tenant]
            for stage, entered in truth.stages[deal_id]
        }
        contacts_by_id = {c.contact_id: c for c in got["contacts"]}
        for deal in got["deals"]:
            assert deal.company_id == contacts_by_id[deal.contact_id].company_id
            assert deal.is_closed_won == (deal.deal_stage == "closedwon")
        for rows, judge in [
            (got["contacts"], contact_problems),
            (got["companies"], company_problems),
            (got["deals"], deal_problems),
            (got["stages"], deal_stage_problems),
        ]:
            assert split_valid(rows, judge)[1] == []
        sources = {c.original_source for c in got["contacts"]}
        assert {"PAID_SEARCH", "PAID_SOCIAL", "DIRECT_TRAFFIC", "ORGANIC_SEARCH"} <= sources
    # Portals are separate: one tenant's token never shows another's contacts.
    ids = [{lead[0] for lead in truth.leads[t]} for t in truth.tenants]
    assert not ids[0] & ids[1]


def test_no_truth_leaves_the_sandbox(server, truth):
    tenant = truth.tenants[0]
    headers = {"Authorization": f"Bearer {server.token_for(tenant)}"}
    bodies: list[str] = []
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        for object_type, names in PROPERTIES.items():
            params = {"limit": "50", "properties": ",".join(names)}
            params["propertiesWithHistory"] = ",".join(names)
            params["associations"] = "contacts,companies,deals"
            while True:
                answer = http.get(f"/crm/v3/objects/{object_type}", params=params)
                assert answer.status_code == 200
                bodies.append(answer.text)
                after = answer.json().get("paging", {}).get("next", {}).get("after")
                if after is None:
                    break
                params["after"] = after
            search = http.post(
                f"/crm/v3/objects/{object_type}/search",
                json={"properties": list(names), "limit": 100},
            )
            bodies.append(search.text)
            bodies.append(http.get(f"/crm/v3/properties/{object_type}").text)
        bodies.append(http.get("/crm/v3/pipelines/deals").text)
        bodies.append(http.get("/account-info/v3/details").text)
    text = "\n".join(bodies)
    assert len(text) > 1_000_000  # every object of the portal, with every property
    for word in TRUTH_WORDS:
        assert word not in text.lower()
    numbers = set(re.findall(r"\d+\.\d+(?:e-?\d+)?", text))
    assert "0.4" in numbers  # the pipeline's stage probability: the scan does see decimals
    assert {repr(p) for p in truth.propensities} & numbers == set()


# -- incremental sync as time advances ----------------------------------------------------------


def _in(moment: datetime, start: datetime, end: datetime) -> bool:
    return start <= ms(moment) < end


def test_incremental_sync_returns_exactly_what_changed(server, clock, truth):
    tenant = truth.tenants[0]
    won = [
        (deal_id, created, truth.stages[deal_id][-1][1])
        for deal_id, _lead, _amount, stage, created in truth.deals[tenant]
        if stage == "closed_won"
        and truth.stages[deal_id][-1][1] - created > timedelta(days=4)
        and truth.stages[deal_id][-1][1] < NOW - timedelta(days=20)
    ]
    deal_id, _created, won_at = won[len(won) // 2]
    t1 = won_at.replace(microsecond=0) - timedelta(days=1)
    t2 = t1 + timedelta(days=3)

    clock.now = t1
    with connect(server, tenant) as crm:
        before = {d.deal_id: d for d in crm.fetch_deals(None, t1)}
    assert before[deal_id].deal_stage == "opportunity"
    assert before[deal_id].close_date is None
    assert all(d.last_modified_at < t1 for d in before.values())

    clock.now = t2
    with connect(server, tenant) as crm:
        got = snapshot(crm, t1, t2)

    deal_changes = {}  # deal -> lead, for deals opened or moved inside [t1, t2)
    lead_changes = set()  # contacts whose lifecycle moved inside the window
    for d_id, lead_id, _amount, _stage, _c in truth.deals[tenant]:
        for stage, entered in truth.stages[d_id]:
            if _in(entered, t1, t2):
                deal_changes[d_id] = lead_id
                if stage in ("opportunity", "closed_won"):
                    lead_changes.add(lead_id)
    new_leads = {lead[0] for lead in truth.leads[tenant] if _in(lead[5], t1, t2)}
    new_companies = [
        key[0] for key, at in truth.first_lead_of_company[tenant].items() if _in(at, t1, t2)
    ]
    assert deal_changes and lead_changes and new_leads  # the window is not trivially empty
    assert {d.deal_id for d in got["deals"]} == set(deal_changes)
    assert {c.contact_id for c in got["contacts"]} == new_leads | lead_changes
    assert sorted(c.name for c in got["companies"]) == sorted(new_companies)
    for row in [*got["contacts"], *got["companies"], *got["deals"]]:
        assert t1 <= row.last_modified_at < t2
        assert row.date == row.last_modified_at.astimezone(UTC).date()

    moved = next(d for d in got["deals"] if d.deal_id == deal_id)
    assert (moved.deal_stage, moved.is_closed_won, moved.close_date) == (
        "closedwon",
        True,
        ms(won_at),
    )
    assert moved.deal_stage_probability == Decimal("1.0")
    assert {s.stage for s in got["stages"] if s.deal_id == deal_id} == {"opportunity", "closedwon"}
    customer = next(c for c in got["contacts"] if c.contact_id == moved.contact_id)
    assert customer.lifecycle_stage == "customer"


def test_an_object_is_invisible_before_it_exists(server, clock, truth):
    tenant = truth.tenants[1]
    deal_id, _lead, _amount, _stage, created = truth.deals[tenant][0]
    headers = {"Authorization": f"Bearer {server.token_for(tenant)}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        clock.now = ms(created) - timedelta(milliseconds=1)
        assert http.get(f"/crm/v3/objects/deals/{deal_id}").status_code == 404
        clock.now = ms(created)
        answer = http.get(
            f"/crm/v3/objects/deals/{deal_id}", params={"propertiesWithHistory": "dealstage"}
        )
        assert answer.status_code == 200
        assert [h["value"] for h in answer.json()["propertiesWithHistory"]["dealstage"]] == [
            "opportunity"
        ]
        clock.now = NOW
        history = http.get(
            f"/crm/v3/objects/deals/{deal_id}", params={"propertiesWithHistory": "dealstage"}
        ).json()["propertiesWithHistory"]["dealstage"]
    expected = [STAGE[s] for s, _at in truth.stages[deal_id]][::-1]  # newest first
    assert [h["value"] for h in history] == expected


# -- paging ------------------------------------------------------------------------------------


def test_full_sync_pages_through_every_page(server, truth):
    tenant = truth.tenants[0]
    with connect(server, tenant) as crm:
        contacts = crm.fetch_contacts(None, NOW)
    pages = [p for m, p in server.requests if m == "GET" and p == "/crm/v3/objects/contacts"]
    assert len(contacts) == len(truth.leads[tenant]) > 1000
    assert len(pages) == math.ceil(len(contacts) / 100)
    assert len({c.contact_id for c in contacts}) == len(contacts)

    headers = {"Authorization": f"Bearer {server.token_for(tenant)}"}
    with httpx.Client(headers=headers) as http:
        first = http.get(f"{server.base_url}/crm/v3/objects/contacts", params={"limit": "3"})
        nxt = first.json()["paging"]["next"]
        second = http.get(nxt["link"]).json()
    assert second["results"][0]["id"] == nxt["after"]
    assert int(nxt["after"]) > int(first.json()["results"][-1]["id"])


def test_search_past_its_result_cap_restarts_from_the_last_modification(crm_data, clock, truth):
    tenant = truth.tenants[0]
    start, end = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 15, tzinfo=UTC)
    crm_server = CrmSandboxServer(crm_data, now=clock, search_result_cap=40).start()
    try:
        with connect(crm_server, tenant, page_size=10, search_result_cap=40) as crm:
            windowed = crm.fetch_contacts(start, end)
        with connect(crm_server, tenant) as crm:
            everything = crm.fetch_contacts(None, NOW)
        with httpx.Client(base_url=crm_server.base_url) as http:
            refused = http.post(
                "/crm/v3/objects/contacts/search",
                headers={"Authorization": f"Bearer {crm_server.token_for(tenant)}"},
                json={"limit": 10, "after": "40"},
            )
    finally:
        crm_server.stop()
    expected = {c.contact_id for c in everything if start <= c.last_modified_at < end}
    assert len(expected) > 100  # enough to need several restarts at a cap of 40
    assert sorted(c.contact_id for c in windowed) == sorted(expected)
    searches = [p for m, p in crm_server.requests if p.endswith("/search")]
    assert len(searches) > len(expected) / 10  # restarts re-read the boundary objects
    assert refused.status_code == 400
    assert refused.json()["category"] == "VALIDATION_ERROR"


# -- faults ------------------------------------------------------------------------------------


def test_throttling_waits_at_least_retry_after(server, truth):
    tenant = truth.tenants[1]
    with connect(server, tenant) as crm:
        calm = crm.fetch_deals(None, NOW)
    server.inject("throttle", 3)
    sleeps, stats = Sleeps(), CallStats()
    with connect(server, tenant, sleep=sleeps, stats=stats, rand=lambda: 0.0) as crm:
        throttled = crm.fetch_deals(None, NOW)
    assert throttled == calm
    assert len(sleeps) == 3 and all(s >= 7 for s in sleeps)
    assert (stats.retries, stats.waited_seconds) == (3, sum(sleeps))
    assert server.faults_served["throttle"] == 3


def test_random_faults_change_nothing(server, truth):
    tenant = truth.tenants[1]
    with connect(server, tenant) as crm:
        calm = snapshot(crm, None, NOW)
        calm_window = snapshot(crm, NOW - timedelta(days=20), NOW)
    server.fail_randomly(0.2, seed=11)
    server.faults.slow_seconds = 0.01
    stats = CallStats()
    with connect(server, tenant, stats=stats, retry_policy=RetryPolicy(max_attempts=10)) as crm:
        stormy = snapshot(crm, None, NOW)
        stormy_window = snapshot(crm, NOW - timedelta(days=20), NOW)
    assert stormy == calm
    assert stormy_window == calm_window
    assert stats.retries > 5
    for kind in ("throttle", "server_error", "drop"):
        assert server.faults_served[kind] > 0


def test_a_bad_token_fails_after_one_call(server, truth):
    sleeps = Sleeps()
    crm = CrmConnector(
        access_token="sandbox-crm-token.nobody", base_url=server.base_url, sleep=sleeps
    )
    with crm, pytest.raises(CrmAuthError) as failure:
        crm.fetch_contacts(None, NOW)
    assert failure.value.status == 401
    assert failure.value.category == "INVALID_AUTHENTICATION"
    assert server.calls == 1
    assert sleeps == []


def test_unknown_properties_are_tolerated_and_counted(crm_data, clock, truth):
    tenant = truth.tenants[1]
    crm_server = CrmSandboxServer(
        crm_data, now=clock, extra_properties={"contacts": {"hs_shiny_new_score": "42"}}
    ).start()
    try:
        with connect(crm_server, tenant) as crm:
            contacts = crm.fetch_contacts(None, NOW)
            report = unknown_property_report(crm)
    finally:
        crm_server.stop()
    assert len(contacts) == len(truth.leads[tenant])
    assert report == {"contacts": {"hs_shiny_new_score": len(contacts)}}


# -- into the raw tables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "row_type"),
    [
        ("crm_contacts", CrmContactRow),
        ("crm_companies", CrmCompanyRow),
        ("crm_deals", CrmDealRow),
        ("crm_deal_stages", CrmDealStageRow),
    ],
)
def test_rows_are_exactly_the_raw_columns(conn, table, row_type):
    columns = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw'"
            " AND table_name = %s ORDER BY ordinal_position",
            (table,),
        )
    ]
    assert [c for c in columns if c not in ("tenant_id", "_loaded_at")] == list(
        row_columns(row_type)
    )


def test_a_sync_loads_into_day_slices_idempotently(server, truth, conn):
    # An open outer transaction turns the loader's transactions into savepoints, so the
    # rollback at the end leaves the session's shared warehouse as the pipeline loaded it.
    conn.execute("SELECT 1")
    tenant = truth.tenants[0]
    with connect(server, tenant) as crm:
        got = snapshot(crm, None, NOW)
    tables = {
        "contacts": "crm_contacts",
        "companies": "crm_companies",
        "deals": "crm_deals",
        "stages": "crm_deal_stages",
    }
    for _attempt in range(2):
        for key, table in tables.items():
            rows = got[key]
            days = [r.date for r in rows]
            result = replace_slice(
                conn,
                Slice("raw", table, tenant, min(days), max(days)),
                row_columns(type(rows[0])),
                [row_values(r) for r in rows],
            )
            assert result.rows_loaded == len(rows)
    for key, table in tables.items():
        count = conn.execute(
            f"SELECT count(*), count(DISTINCT date) FROM raw.{table} WHERE tenant_id = %s",
            (tenant,),
        ).fetchone()
        assert count[0] == len(got[key])
        assert count[1] > 30  # versions spread over their last-modified days
    deal = got["deals"][0]
    stored = conn.execute(
        "SELECT amount, deal_stage, last_modified_at FROM raw.crm_deals"
        " WHERE tenant_id = %s AND deal_id = %s",
        (tenant, deal.deal_id),
    ).fetchone()
    assert stored == (deal.amount, deal.deal_stage, deal.last_modified_at)
    conn.rollback()


# -- the API's shapes on hand-made records -------------------------------------------------------


def _hand_made() -> InMemoryCrmData:
    portal = CrmPortal("tiny", 20_000_001, "UTC", "EUR")
    at = datetime(2026, 1, 1, tzinfo=UTC)
    deals = [
        CrmRecord(
            "deals",
            i,
            at + timedelta(days=i),
            {"dealname": f"deal {i}", "amount": Decimal(i * 100), "dealstage": "opportunity"},
            (PropertyChange(at + timedelta(days=10 + i), "dealstage", "closedwon"),),
        )
        for i in range(1, 6)
    ]
    return InMemoryCrmData([portal], {"tiny": deals})


def test_search_filters_and_request_validation():
    clock = Clock(datetime(2026, 1, 13, tzinfo=UTC))  # deals 1 and 2 have closed by now
    crm_server = CrmSandboxServer(_hand_made(), now=clock).start()
    headers = {"Authorization": f"Bearer {crm_server.token_for('tiny')}"}
    try:
        with httpx.Client(base_url=crm_server.base_url, headers=headers) as http:

            def search(*filters: dict, **body: Any) -> httpx.Response:
                groups = [{"filters": list(filters)}] if filters else []
                return http.post(
                    "/crm/v3/objects/deals/search", json={"filterGroups": groups, **body}
                )

            def ids(answer: httpx.Response) -> list[str]:
                assert answer.status_code == 200, answer.text
                return [r["id"] for r in answer.json()["results"]]

            assert ids(search()) == ["1", "2", "3", "4", "5"]
            won = {"propertyName": "dealstage", "operator": "EQ", "value": "CLOSEDWON"}
            assert ids(search(won)) == ["1", "2"]
            big = {
                "propertyName": "amount",
                "operator": "BETWEEN",
                "value": "250",
                "highValue": 400,
            }
            assert ids(search(big)) == ["3", "4"]
            some = {"propertyName": "hs_object_id", "operator": "IN", "values": ["2", "5"]}
            assert ids(search(some)) == ["2", "5"]
            newest = [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]
            assert ids(search(sorts=newest, limit=2)) == ["2", "1"]
            paged = search(limit=2, after="2").json()
            assert ([r["id"] for r in paged["results"]], paged["paging"]["next"]["after"]) == (
                ["3", "4"],
                "4",
            )
            assert paged["total"] == 5
            bad = [
                search({"propertyName": "cause_channel", "operator": "EQ", "value": "meta"}),
                search({"propertyName": "amount", "operator": "LIKE", "value": "1"}),
                search(limit=101),
                http.get("/crm/v3/objects/deals", params={"limit": "101"}),
                http.get(
                    "/crm/v3/objects/deals",
                    params={"limit": "51", "propertiesWithHistory": "dealstage"},
                ),
            ]
            assert [b.status_code for b in bad] == [400] * 5
            assert {b.json()["category"] for b in bad} == {"VALIDATION_ERROR"}
            unknown = http.get("/crm/v3/objects/deals", headers={"Authorization": "Bearer x"})
            assert unknown.status_code == 401
            assert unknown.json()["status"] == "error"
            account = http.get("/account-info/v3/details").json()
            assert (account["portalId"], account["companyCurrency"]) == (20_000_001, "EUR")
    finally:
        crm_server.stop()
