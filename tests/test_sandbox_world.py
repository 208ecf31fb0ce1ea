from collections import Counter
from datetime import date, timedelta

import pytest

from sandbox.store import read_world_meta, write_world
from sandbox.world import GENERATOR_VERSION, PAID_CHANNELS, PROFILES, generate_world

END = date(2026, 6, 30)


@pytest.fixture(scope="module")
def world():
    return generate_world("small", seed=11, end=END)


def test_same_seed_same_world(world):
    again = generate_world("small", seed=11, end=END)
    assert again.tables == world.tables


def test_another_seed_another_world(world):
    other = generate_world("small", seed=12, end=END)
    assert other.tables["ad_delivery_daily"] != world.tables["ad_delivery_daily"]


def test_profile_sets_tenants_days_and_campaigns(world):
    profile = PROFILES["small"]
    assert world.start == END - timedelta(days=profile.days - 1)
    assert len(world.tables["tenants"]) == profile.tenants
    per_tenant = Counter(row[3] for row in world.tables["campaigns"])
    assert set(per_tenant.values()) == {profile.campaigns_per_platform * len(PAID_CHANNELS)}
    days = {row[2] for row in world.tables["ad_delivery_daily"]}
    assert len(days) == profile.days


def test_spend_never_exceeds_the_day_budget(world):
    budgets = {(r[0], r[1], r[2]): r[3] for r in world.tables["campaign_budget_daily"]}
    ad_campaign = {(r[0], r[1]): r[3] for r in world.tables["ads"]}
    spent = Counter()
    for platform, ad_id, day, *_rest in world.tables["ad_delivery_daily"]:
        spent[(platform, ad_campaign[(platform, ad_id)], day)] += _rest[2]
    assert all(spent[key] <= budgets[key] for key in spent)
    assert all(spent[key] > 0.8 * budgets[key] for key in spent)


def test_every_lead_has_one_cause_and_a_touch_from_it(world):
    sessions_by_person = {}
    for s in world.tables["sessions"]:
        sessions_by_person.setdefault(s[2], []).append(s[4])
    causes = Counter()
    for lead in world.tables["leads"]:
        cause = lead[15]
        causes[cause] += 1
        channels = sessions_by_person[lead[2]]
        if cause != "baseline":
            assert cause in channels
    assert set(causes) == {*PAID_CHANNELS, "baseline"}


def test_click_ids_and_utms_on_paid_sessions(world):
    paid = [s for s in world.tables["sessions"] if s[4] in PAID_CHANNELS]
    with_click_id = [s for s in paid if s[12] or s[13] or s[14]]
    assert 0.85 < len(with_click_id) / len(paid) < 0.97  # some click IDs get lost
    assert all(s[8] and s[10] for s in paid)  # utm_source and utm_campaign always present
    google = [s for s in with_click_id if s[4] == "google_ads"]
    assert all(s[12] and f"gclid={s[12]}" in s[6] for s in google)


def test_won_deals_follow_propensity(world):
    leads = {lead[0]: lead for lead in world.tables["leads"]}
    won = [leads[d[1]][16] for d in world.tables["deals"] if d[4] == "closed_won"]
    overall = [lead[16] for lead in leads.values()]
    assert sum(won) / len(won) > 1.5 * sum(overall) / len(overall)


def test_written_world_round_trips(conn, world):
    counts = write_world(conn, world)
    assert counts == world.row_counts()
    meta = read_world_meta(conn)
    assert (meta.seed, meta.profile, meta.end) == (11, "small", END)
    assert meta.generator_version == GENERATOR_VERSION
    spend = conn.execute("SELECT sum(cost_micros) FROM sandbox.ad_delivery_daily").fetchone()[0]
    assert spend == sum(r[5] for r in world.tables["ad_delivery_daily"])
