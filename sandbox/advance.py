"""Advancing a stored world day by day, with the budgets the platforms were told to use.

``advance_world`` continues the simulation from what the ``sandbox`` schema holds: each new
day's campaign budgets are the world's own with every accepted budget change effective by
then (``sandbox.budget_changes``); spend follows the budget with pacing noise; impressions and
clicks follow from each campaign's recent CPM and CTR; each channel's adstock carries on from
its stored history and its true Hill curve turns it into incremental leads. The platforms'
own conversion claims and ``sandbox.true_daily_outcomes`` (the truth the benchmark grades)
come with it. This is how budgets changed through the sandboxes' mutation endpoints take
effect from the next simulated day.

What it does not simulate for the new days: web sessions, CRM leads and deals (the journeys
and people behind the leads). Delivery and the truth are enough to close the budget loop.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import psycopg

from sandbox.budgets import latest_changes
from sandbox.meta.data import currency_offset, split_budget
from sandbox.world import CHANNELS, MICROS

RECENT_DAYS = 14
MATURE_DAYS = 60  # leads older than this have had time to close their deals


@dataclass(frozen=True)
class DayOutcome:
    tenant_id: str
    day: date
    channel: str
    spend: float
    expected_leads: float
    leads: int
    value_per_lead: float

    @property
    def expected_revenue(self) -> float:
        return self.expected_leads * self.value_per_lead


def meta_adset_budgets(
    conn: psycopg.Connection,
    tenant_id: str,
    campaign_budgets_micros: dict[int, int],
    offsets: dict[int, int],
    on: date,
) -> dict[int, int]:
    """Each Meta ad set's daily budget (minor units) on `on`: its latest change effective by
    then, otherwise its even share of the campaign's budget (as sandbox.meta.data shows it)."""
    changed = latest_changes(conn, "meta", on)
    members: dict[int, list[int]] = defaultdict(list)
    for adset_id, campaign_id in conn.execute(
        "SELECT ad_group_id, campaign_id FROM sandbox.ad_groups "
        "WHERE platform = 'meta' AND tenant_id = %s ORDER BY campaign_id, ad_group_id",
        (tenant_id,),
    ).fetchall():
        members[int(campaign_id)].append(int(adset_id))
    budgets: dict[int, int] = {}
    for campaign_id, adsets in members.items():
        if campaign_id not in campaign_budgets_micros:
            continue
        offset = offsets[campaign_id]
        shares = split_budget(campaign_budgets_micros[campaign_id] * offset // MICROS, len(adsets))
        for adset_id, share in zip(adsets, shares, strict=True):
            budgets[adset_id] = (
                changed[adset_id] * offset // MICROS if adset_id in changed else share
            )
    return budgets


def campaign_budgets_on(conn: psycopg.Connection, tenant_id: str, on: date) -> dict[int, int]:
    """Campaign id → daily budget (micros, account currency) the world delivers with on
    `on`: the latest stored budget with every budget change effective by then."""
    rows = conn.execute(
        """SELECT c.platform, c.campaign_id, c.budget_id, a.currency,
                  (SELECT b.budget_micros FROM sandbox.campaign_budget_daily b
                   WHERE b.platform = c.platform AND b.campaign_id = c.campaign_id
                     AND b.date < %s ORDER BY b.date DESC LIMIT 1)
           FROM sandbox.campaigns c
           JOIN sandbox.ad_accounts a ON a.platform = c.platform AND a.account_id = c.account_id
           WHERE c.tenant_id = %s""",
        (on, tenant_id),
    ).fetchall()
    base = {int(r[1]): int(r[4]) for r in rows}
    google = latest_changes(conn, "google_ads", on)
    linkedin = latest_changes(conn, "linkedin", on)
    meta = {int(r[1]) for r in rows if r[0] == "meta"}
    offsets = {int(r[1]): currency_offset(r[3].strip()) for r in rows}
    adsets = meta_adset_budgets(conn, tenant_id, {c: base[c] for c in meta}, offsets, on)
    adset_campaign = dict(
        conn.execute(
            "SELECT ad_group_id, campaign_id FROM sandbox.ad_groups "
            "WHERE platform = 'meta' AND tenant_id = %s",
            (tenant_id,),
        ).fetchall()
    )
    meta_totals: dict[int, int] = defaultdict(int)
    for adset_id, minor in adsets.items():
        campaign_id = int(adset_campaign[adset_id])
        meta_totals[campaign_id] += minor * MICROS // offsets[campaign_id]
    budgets = dict(base)
    for platform, campaign_id, budget_id, _, _ in rows:
        campaign_id = int(campaign_id)
        if platform == "google_ads" and int(budget_id) in google:
            budgets[campaign_id] = google[int(budget_id)]
        elif platform == "linkedin" and campaign_id in linkedin:
            budgets[campaign_id] = linkedin[campaign_id]
        elif platform == "meta" and campaign_id in meta_totals:
            budgets[campaign_id] = meta_totals[campaign_id]
    return budgets


def _fx(conn: psycopg.Connection, day: date, rng: np.random.Generator) -> dict[str, Decimal]:
    """Units per USD on `day`; quotes a new day as a small step from the last one."""
    rows = conn.execute(
        "SELECT currency, units_per_usd FROM sandbox.fx_rates WHERE date = %s", (day,)
    ).fetchall()
    if rows:
        return {c.strip(): Decimal(r) for c, r in rows}
    last = conn.execute(
        """SELECT DISTINCT ON (currency) currency, units_per_usd FROM sandbox.fx_rates
           WHERE date < %s ORDER BY currency, date DESC""",
        (day,),
    ).fetchall()
    quotes = {}
    for currency, rate in sorted(last):
        step = 0.0 if currency.strip() == "USD" else float(rng.normal(0, 0.004))
        quotes[currency.strip()] = Decimal(f"{float(rate) * math.exp(step):.6f}")
        conn.execute(
            "INSERT INTO sandbox.fx_rates (date, currency, units_per_usd) VALUES (%s, %s, %s)",
            (day, currency, quotes[currency.strip()]),
        )
    return quotes


def true_value_per_lead(conn: psycopg.Connection, tenant_id: str) -> dict[str, float]:
    """What a lead caused by each channel is worth: closed-won revenue over leads, among leads
    old enough to have closed (the truth, from the world's own deals)."""
    rows = conn.execute(
        """WITH cutoff AS (SELECT end_date - %s AS day FROM sandbox.world_meta)
           SELECT l.cause_channel, count(*),
                  coalesce(sum(d.amount) FILTER (WHERE d.stage = 'closed_won'), 0)
           FROM sandbox.leads l
           LEFT JOIN sandbox.deals d ON d.lead_id = l.lead_id
           WHERE l.tenant_id = %s AND l.created_at::date <= (SELECT day FROM cutoff)
           GROUP BY 1""",
        (MATURE_DAYS, tenant_id),
    ).fetchall()
    return {cause: float(revenue) / count for cause, count, revenue in rows if count}


def channel_spend_history(
    conn: psycopg.Connection, tenant_id: str, currency: str, until: date
) -> dict[str, list[float]]:
    """Each paid channel's daily spend in the tenant's currency, from the world's start to
    `until` inclusive (zeros on days without delivery)."""
    start = conn.execute("SELECT start_date FROM sandbox.world_meta").fetchone()[0]
    days = (until - start).days + 1
    history = {p: [0.0] * days for p in CHANNELS}
    for platform, day, spend in conn.execute(
        """SELECT d.platform, d.date,
                  sum(d.cost_micros) / 1e6 * max(t.units_per_usd) / max(a.units_per_usd)
           FROM sandbox.ad_delivery_daily d
           JOIN sandbox.ad_accounts acc
             ON acc.platform = d.platform AND acc.account_id = d.account_id
           JOIN sandbox.fx_rates a ON a.date = d.date AND a.currency = acc.currency
           JOIN sandbox.fx_rates t ON t.date = d.date AND t.currency = %s
           WHERE d.tenant_id = %s AND d.date BETWEEN %s AND %s
           GROUP BY 1, 2""",
        (currency, tenant_id, start, until),
    ).fetchall():
        history[platform][(day - start).days] = float(spend)
    return history


def adstock_before(history: list[float], theta: float) -> float:
    """The adstock carried into the day after `history`, started at its first day's steady
    state as the world starts it."""
    if not history:
        return 0.0
    carried = history[0] / (1 - theta)
    for spend in history[1:]:
        carried = spend + theta * carried
    return carried


def advance_world(conninfo: str, days: int = 1) -> list[DayOutcome]:
    """Simulate `days` more days after the stored world's end; returns the true outcomes."""
    outcomes: list[DayOutcome] = []
    for _ in range(days):
        with psycopg.connect(conninfo) as conn, conn.transaction():
            outcomes.extend(_advance_one_day(conn))
    return outcomes


def _advance_one_day(conn: psycopg.Connection) -> list[DayOutcome]:
    seed, end = conn.execute("SELECT seed, end_date FROM sandbox.world_meta FOR UPDATE").fetchone()
    day = end + timedelta(days=1)
    fx = _fx(conn, day, np.random.default_rng([seed, day.toordinal(), 1]))
    outcomes = []
    tenants = conn.execute(
        "SELECT tenant_id, currency, lead_value FROM sandbox.tenants ORDER BY tenant_id"
    ).fetchall()
    for index, (tenant_id, currency, lead_value) in enumerate(tenants):
        rng = np.random.default_rng([seed, day.toordinal(), index + 2])
        currency = currency.strip()
        spend = _deliver_day(conn, tenant_id, day, fx, rng)
        outcomes.extend(_leads_day(conn, tenant_id, currency, day, spend, fx, lead_value, rng))
    conn.execute("UPDATE sandbox.world_meta SET end_date = %s", (day,))
    return outcomes


def _deliver_day(
    conn: psycopg.Connection,
    tenant_id: str,
    day: date,
    fx: dict[str, Decimal],
    rng: np.random.Generator,
) -> dict[str, list[tuple[int, str, int, int]]]:
    """Delivery rows for `day`; returns per platform (ad id, account, cost, clicks)."""
    budgets = campaign_budgets_on(conn, tenant_id, day)
    since = day - timedelta(days=RECENT_DAYS)
    ads = conn.execute(
        """SELECT a.platform, a.campaign_id, a.ad_id, a.account_id,
                  coalesce(sum(d.cost_micros), 0), coalesce(sum(d.impressions), 0),
                  coalesce(sum(d.clicks), 0)
           FROM sandbox.ads a
           LEFT JOIN sandbox.ad_delivery_daily d
             ON d.platform = a.platform AND d.ad_id = a.ad_id AND d.date >= %s AND d.date < %s
           WHERE a.tenant_id = %s
           GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3""",
        (since, day, tenant_id),
    ).fetchall()
    by_campaign: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    for row in ads:
        by_campaign[(row[0], int(row[1]))].append(row)
    delivered: dict[str, list[tuple[int, str, int, int]]] = defaultdict(list)
    for (platform, campaign_id), members in sorted(by_campaign.items()):
        budget = budgets[campaign_id]
        conn.execute(
            "INSERT INTO sandbox.campaign_budget_daily "
            "(platform, campaign_id, date, budget_micros) VALUES (%s, %s, %s, %s)",
            (platform, campaign_id, day, budget),
        )
        conn.execute(
            "UPDATE sandbox.campaigns SET daily_budget_micros = %s "
            "WHERE platform = %s AND campaign_id = %s",
            (budget, platform, campaign_id),
        )
        cost = np.array([float(m[4]) for m in members])
        impressions = sum(int(m[5]) for m in members)
        clicks = sum(int(m[6]) for m in members)
        weights = cost / cost.sum() if cost.sum() > 0 else np.full(len(members), 1 / len(members))
        weights = weights * np.exp(rng.normal(0, 0.1, len(members)))
        weights /= weights.sum()
        cpm = cost.sum() / MICROS / impressions * 1000 if impressions else 10.0
        ctr = clicks / impressions if impressions else 0.01
        unit = CHANNELS[platform].billing_unit_micros
        spend_micros = math.floor(budget * rng.uniform(0.85, 1.0))
        ad_micros = np.floor(spend_micros * weights / unit) * unit
        for member, micros in zip(members, ad_micros.astype(np.int64).tolist(), strict=True):
            imps = round(micros / MICROS / cpm * 1000)
            clk = int(rng.binomial(imps, min(ctr, 1.0)))
            conn.execute(
                """INSERT INTO sandbox.ad_delivery_daily
                       (platform, ad_id, date, account_id, tenant_id, cost_micros, impressions,
                        clicks, conversions, conversions_value)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, 0)""",
                (platform, member[2], day, member[3], tenant_id, micros, imps, clk),
            )
            delivered[platform].append((int(member[2]), member[3], micros, clk))
    return delivered


def _leads_day(
    conn: psycopg.Connection,
    tenant_id: str,
    currency: str,
    day: date,
    delivered: dict[str, list[tuple[int, str, int, int]]],
    fx: dict[str, Decimal],
    lead_value: Decimal,
    rng: np.random.Generator,
) -> list[DayOutcome]:
    curves = {
        channel: (theta, beta, k, n)
        for channel, theta, beta, k, n in conn.execute(
            "SELECT channel, theta, beta, half_saturation, shape FROM sandbox.true_curves "
            "WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchall()
    }
    values = true_value_per_lead(conn, tenant_id)
    history = channel_spend_history(conn, tenant_id, currency, day - timedelta(days=1))
    account_currency = dict(
        conn.execute(
            "SELECT account_id, currency FROM sandbox.ad_accounts WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchall()
    )
    outcomes = []
    for channel, (theta, beta, k, n) in sorted(curves.items()):
        rows = delivered.get(channel, [])
        spend = sum(
            micros / MICROS * float(fx[currency] / fx[account_currency[account].strip()])
            for _, account, micros, _ in rows
        )
        adstock = spend + theta * adstock_before(history[channel], theta)
        expected = beta * adstock**n / (k**n + adstock**n) if adstock > 0 else 0.0
        leads = int(rng.poisson(expected))
        value = values.get(channel, values.get("baseline", 0.0))
        _claim(conn, channel, day, rows, leads, lead_value, fx, currency, account_currency, rng)
        conn.execute(
            """INSERT INTO sandbox.true_daily_outcomes
                   (tenant_id, date, channel, spend, adstock, expected_leads, leads,
                    value_per_lead, expected_revenue)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (tenant_id, day, channel, spend, adstock, expected, leads, value, expected * value),
        )
        outcomes.append(DayOutcome(tenant_id, day, channel, spend, expected, leads, value))
    return outcomes


def _claim(
    conn: psycopg.Connection,
    platform: str,
    day: date,
    rows: list[tuple[int, str, int, int]],
    leads: int,
    lead_value: Decimal,
    fx: dict[str, Decimal],
    currency: str,
    account_currency: dict[str, str],
    rng: np.random.Generator,
) -> None:
    """The platform claims the day's leads it caused on its ads, by clicks (its pixel sees
    the click that led to the form)."""
    clicks = np.array([r[3] for r in rows], dtype=float)
    if leads == 0 or clicks.sum() == 0:
        return
    counts = rng.multinomial(leads, clicks / clicks.sum())
    for (ad_id, account, _, _), count in zip(rows, counts.tolist(), strict=True):
        if count:
            rate = fx[account_currency[account].strip()] / fx[currency]
            value = (lead_value * rate).quantize(Decimal("0.01")) * count
            conn.execute(
                """UPDATE sandbox.ad_delivery_daily
                   SET conversions = conversions + %s, conversions_value = conversions_value + %s
                   WHERE platform = %s AND ad_id = %s AND date = %s""",
                (count, value, platform, ad_id, day),
            )
