from collections import Counter
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from sandbox.journeys import CHANNEL_NAMES, Audience
from sandbox.store import read_world_meta, write_world
from sandbox.world import (
    GENERATOR_VERSION,
    PAID_CHANNELS,
    PROFILES,
    generate_tenant_worlds,
    generate_world,
)

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


def _paths(world):
    """Channels per anonymous id in time order, and the anonymous ids that became leads."""
    sessions = sorted(world.tables["sessions"], key=lambda s: (s[2], s[3]))
    paths: dict[str, list[str]] = {}
    for s in sessions:
        paths.setdefault(s[2], []).append(s[4])
    return paths, {lead[2] for lead in world.tables["leads"]}


def test_non_converting_journeys_are_multi_touch_like_converting_ones(world):
    """Converting and non-converting visitors come from one process: a real share of the
    visitors who never convert has several touches, and the two length distributions
    overlap (neither is all one-touch, the medians are close)."""
    paths, converted = _paths(world)
    lengths_converting = sorted(len(p) for a, p in paths.items() if a in converted)
    lengths_not = sorted(len(p) for a, p in paths.items() if a not in converted)
    multi_touch = sum(n >= 2 for n in lengths_not) / len(lengths_not)
    assert multi_touch > 0.4, multi_touch
    assert sum(n >= 2 for n in lengths_converting) / len(lengths_converting) > 0.4
    median_converting = lengths_converting[len(lengths_converting) // 2]
    median_not = lengths_not[len(lengths_not) // 2]
    assert abs(median_converting - median_not) <= 2, (median_converting, median_not)


def test_a_paid_cause_touched_the_lead(world):
    """A lead's cause is the hazard component that fired: a paid cause means the prospect
    had touches of that channel (on the lead's device, unless it changed device)."""
    paths, _ = _paths(world)
    causes = Counter(lead[15] for lead in world.tables["leads"])
    assert set(causes) == {*PAID_CHANNELS, "baseline"}
    paid = [lead for lead in world.tables["leads"] if lead[15] in PAID_CHANNELS]
    touched = sum(lead[15] in paths[lead[2]] for lead in paid)
    assert touched / len(paid) > 0.9


def test_last_touch_over_credits_what_the_truth_does_not(world):
    """The world's confounding shows: unpaid last touches (brand search, direct, the visit
    made to fill the form) outnumber the leads the all-off baseline truly keeps, and the
    retargeting channel's share of paths exceeds its true share of credit."""
    paths, converted = _paths(world)
    leads = [p for a, p in paths.items() if a in converted]
    truth = Counter()
    for _, _, stage, channel, conversions, *_ in world.tables["true_channel_credit"]:
        if stage == "lead":
            truth[channel] += conversions
    total = sum(truth.values())
    unpaid_last = sum(p[-1] not in PAID_CHANNELS for p in leads) / len(leads)
    assert unpaid_last > truth["baseline"] / total + 0.1
    meta_touched = sum("meta" in p for p in leads) / len(leads)
    assert meta_touched > 2 * truth["meta"] / total


def test_counterfactual_credit_adds_up_to_the_factual_world(world):
    """Shapley credits of the paid channels plus the all-off baseline are what the factual
    world produced, day by day and stage by stage: leads, opened deals (and their pipeline),
    won deals (and their revenue)."""
    zones = {t[0]: ZoneInfo(t[3]) for t in world.tables["tenants"]}
    produced = Counter()
    for lead in world.tables["leads"]:
        day = lead[3].astimezone(zones[lead[1]]).date()
        produced[(lead[1], day, "lead", "conversions")] += 1
    for _, _, tenant, amount, stage, opened, closed, _ in world.tables["deals"]:
        day = opened.astimezone(zones[tenant]).date()
        produced[(tenant, day, "opportunity", "conversions")] += 1
        produced[(tenant, day, "opportunity", "value")] += float(amount)
        if stage == "closed_won":
            day = closed.astimezone(zones[tenant]).date()
            produced[(tenant, day, "closed_won", "conversions")] += 1
            produced[(tenant, day, "closed_won", "value")] += float(amount)
    credited = Counter()
    for tenant, day, stage, _, conversions, value, *_ in world.tables["true_channel_credit"]:
        credited[(tenant, day, stage, "conversions")] += conversions
        credited[(tenant, day, stage, "value")] += value
    keys = {k for k in set(produced) | set(credited) if produced[k] or abs(credited[k]) > 1e-6}
    assert {k[2] for k in keys} == {"lead", "opportunity", "closed_won"}
    for key in keys:
        assert credited[key] == pytest.approx(produced[key], abs=1e-6), key


def test_switching_a_channel_off_loses_what_it_caused(world):
    """The plain switch-off loss is beside the Shapley credit; both are mostly positive, and
    a channel's total loss and credit are of one size (they differ by interactions)."""
    loss, credit = Counter(), Counter()
    for tenant, _, stage, channel, conversions, _, removal, _ in world.tables[
        "true_channel_credit"
    ]:
        if stage == "lead" and channel in PAID_CHANNELS:
            loss[(tenant, channel)] += removal
            credit[(tenant, channel)] += conversions
    assert set(loss) == {(t[0], c) for t in world.tables["tenants"] for c in PAID_CHANNELS}
    for key in loss:
        assert loss[key] > -5, key
        assert abs(loss[key] - credit[key]) <= 0.25 * abs(credit[key]) + 5, key


def test_true_response_curves_rise_with_spend_and_saturate(world):
    """The measured response: zero at zero spend, more leads with more spend, and less
    for each extra unit at triple the spend than at the first quarter (diminishing
    returns); the fitted Hill curve is stored for every channel."""
    curves = {}
    for tenant, channel, multiplier, spend, leads, _ in world.tables["true_response_curves"]:
        curves.setdefault((tenant, channel), {})[multiplier] = (spend, leads)
    assert len(curves) == len(world.tables["tenants"]) * len(PAID_CHANNELS)
    google = [points for (_, channel), points in curves.items() if channel == "google_ads"]
    for points in google:
        assert points[0.0] == (0.0, 0.0)
        assert points[3.0][1] > points[1.0][1] > 0
        first_slope = points[0.25][1] / points[0.25][0]
        last_slope = (points[3.0][1] - points[2.0][1]) / (points[3.0][0] - points[2.0][0])
        assert last_slope < first_slope
    fitted = {(r[0], r[1]) for r in world.tables["true_curves"]}
    assert fitted == set(curves)


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


def test_a_world_streamed_tenant_by_tenant_is_the_same_world(conn, world):
    """generate_tenant_worlds yields one tenant's rows at a time (what bounds a large
    profile's memory); together they are the whole world, and write_world stores them as
    they come."""
    parts = list(generate_tenant_worlds("small", seed=11, end=END))
    assert [len(p.tables["tenants"]) for p in parts] == [1, 1]
    assert len(parts[1].tables["fx_rates"]) == 0  # shared rates come once
    for table, rows in world.tables.items():
        assert [r for p in parts for r in p.tables.get(table, [])] == rows, table
    counts = write_world(conn, iter(parts))
    assert counts == world.row_counts()
    assert read_world_meta(conn).profile == "small"


def test_written_world_round_trips(conn, world):
    counts = write_world(conn, world)
    assert counts == world.row_counts()
    meta = read_world_meta(conn)
    assert (meta.seed, meta.profile, meta.end) == (11, "small", END)
    assert meta.generator_version == GENERATOR_VERSION
    spend = conn.execute("SELECT sum(cost_micros) FROM sandbox.ad_delivery_daily").fetchone()[0]
    assert spend == sum(r[5] for r in world.tables["ad_delivery_daily"])


def test_common_random_numbers_make_re_simulation_exact():
    """The audience draws every random number up front: re-running it gives the same
    journeys, and switching a channel off removes exactly its clicks and what they caused,
    leaving the unpaid visits nobody caused untouched."""
    days = 60
    clicks = {c: np.full(days, n) for c, n in zip(PAID_CHANNELS, (120, 80, 10), strict=True)}
    weights = (np.array([1.1, 0.7, 0.4, 0.0, -0.7]), np.array([0.4, 0.0, -0.2]))
    audience = Audience(np.random.default_rng(5), days, clicks, *weights)
    factual, _ = audience.simulate(keep_events=True)
    again, _ = audience.simulate(keep_events=True)
    assert np.array_equal(factual.converted_day, again.converted_day)
    assert np.array_equal(factual.events.prospect, again.events.prospect)
    without_google, _ = audience.simulate({"google_ads": 0.0}, keep_events=True)
    google = CHANNEL_NAMES.index("google_ads")
    assert (without_google.events.channel == google).sum() == 0
    assert (factual.events.channel == google).sum() == clicks["google_ads"].sum()
    # The unpaid visits drawn up front (people who would come anyway) stay; fewer convert.
    unpaid = np.isin(without_google.events.channel, [CHANNEL_NAMES.index("organic_search")])
    assert unpaid.sum() > 0
    assert _converted(without_google, days) < _converted(factual, days)


def _converted(outcome, days: int) -> int:
    return int(((outcome.converted_day >= 0) & (outcome.converted_day < days)).sum())
