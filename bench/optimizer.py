"""Budget optimizer benchmark, graded by the sandbox's truth.

    .venv/bin/python -m bench.optimizer [--profile small] [--seed 7] [--loop-days 28]

1. Allocation quality, per tenant, at equal total spend: the true revenue a day of today's
   allocation, of the optimizer's recommendation (one cycle, and converged) from curves
   fitted on measured data, and of the oracle optimum under the true curves. Aim: the
   recommendation at least 95% of the oracle.
2. Speed: the optimizer per tenant (ms) against SciPy's SLSQP on the same curves, measured in
   the same run. Aim: under 100 ms.
3. The closed loop: `--loop-days` simulated days with auto-apply. Each day the planner reads
   budgets from the platform sandboxes through the connectors, proposes, auto-approves within
   the limits and pushes with the platforms' mutation calls; the world then delivers the next
   day with the new budgets (sandbox.advance). A control world, identical but left alone,
   runs the same days. Prints true revenue, spend and ROAS before and after.

What the curves are fitted on here: daily spend per channel (tenant currency) and the leads
the default attribution model (additive hazard) credits to each channel, each valued at its
credited won revenue per credited lead, as agents.data reads them from
marts.attribution_credits; the model is fitted on the world's sessions and leads by
bench.attribution, with the code the pipeline's asset runs, instead of through dbt. Never
the world's causes. The days the loop simulates after the world's end have delivery but no
journeys (sandbox.advance), so the loop keeps the curves fitted at its start. The truth
graded against is sandbox.true_curves: Hill curves fitted to the counterfactual response the
world measured by re-simulation.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from datetime import timedelta

import numpy as np
import psycopg
from scipy.optimize import minimize

from agents.curves import CurveParams, ResponseCurve, fit_curve
from agents.optimizer import ChannelInput, OptimizerSettings, optimize
from agents.planning import ChannelCurve, plan_budgets
from agents.settings import AgentSettings
from bench.common import timed, use_bench_database

CHANNELS = ("google_ads", "meta", "linkedin")
FIT_DAYS = AgentSettings().curve_window_days  # the window the agents fit their curves on
# Per tenant: attributed leads per channel and day, and attributed won revenue per lead per
# channel (bench.attribution.credited_leads_and_values).
Credited = tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, float]]]


def _truth(conn: psycopg.Connection, tenant: str) -> dict[str, tuple[CurveParams, float]]:
    from sandbox.advance import true_value_per_lead

    values = true_value_per_lead(conn, tenant)
    rows = conn.execute(
        "SELECT channel, theta, beta, half_saturation, shape FROM sandbox.true_curves "
        "WHERE tenant_id = %s",
        (tenant,),
    ).fetchall()
    return {r[0]: (CurveParams(r[1], r[2], r[3], r[4]), values.get(r[0], 0.0)) for r in rows}


def _measured(
    conn: psycopg.Connection,
    tenant: str,
    currency: str,
    credited: dict[str, np.ndarray],
    values: dict[str, float],
):
    """Per channel: daily spend (tenant currency) and attributed leads over the world's
    last FIT_DAYS days, and the attributed won revenue per attributed lead."""
    from sandbox.advance import channel_spend_history

    end = conn.execute("SELECT start_date FROM sandbox.world_meta").fetchone()[0] + timedelta(
        days=len(credited["google_ads"]) - 1
    )
    spend = channel_spend_history(conn, tenant, currency, end)
    return (
        {c: np.array(spend[c][-FIT_DAYS:]) for c in CHANNELS},
        {c: credited[c][-FIT_DAYS:] for c in CHANNELS},
        {c: values.get(c, values["*"]) for c in CHANNELS},
    )


def _true_revenue(truth, allocation: dict[str, float]) -> float:
    return sum(float(truth[c][0].steady_response(x)) * truth[c][1] for c, x in allocation.items())


def _slsqp(lines: list[ChannelInput]) -> dict[str, float]:
    total = sum(line.current for line in lines)

    def negative(x):
        return -sum(
            float(line.curve.params.steady_response(v)) * line.value_per_response
            for line, v in zip(lines, x, strict=True)
        )

    result = minimize(
        negative,
        np.array([line.current for line in lines]),
        method="SLSQP",
        bounds=[(0.0, total)] * len(lines),
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - total}],
    )
    return {line.key: float(v) for line, v in zip(lines, result.x, strict=True)}


def allocation_quality(uri: str, credited: Credited) -> None:
    print("\n1-2. Allocation at equal total spend (true revenue a day) and optimizer speed")
    header = (
        f"  {'tenant':22} {'current':>9} {'1 cycle':>9} {'converged':>9} {'oracle':>9} "
        f"{'rec/oracle':>10} {'cur/oracle':>10} {'ms':>6} {'slsqp ms':>8}"
    )
    print(header)
    ratios = []
    with psycopg.connect(uri) as conn:
        tenants = conn.execute(
            "SELECT tenant_id, currency FROM sandbox.tenants ORDER BY 1"
        ).fetchall()
        for tenant, currency in tenants:
            truth = _truth(conn, tenant)
            spend, leads, value = _measured(
                conn, tenant, currency.strip(), credited[0][tenant], credited[1][tenant]
            )
            current = {c: float(spend[c][-7:].mean()) for c in CHANNELS}
            fitted = {c: fit_curve(spend[c], leads[c], draws=30) for c in CHANNELS}
            lines = [
                ChannelInput(c, fitted[c], current[c], value_per_response=value[c])
                for c in CHANNELS
            ]
            started = time.perf_counter()
            one = optimize(lines, settings=OptimizerSettings(max_change=0.25, risk_aversion=0.5))
            ms = (time.perf_counter() - started) * 1000
            converged = optimize(
                lines, settings=OptimizerSettings(max_change=1.0, risk_aversion=0.5)
            )
            started = time.perf_counter()
            _slsqp(lines)
            slsqp_ms = (time.perf_counter() - started) * 1000
            exact = [
                ChannelInput(
                    c,
                    ResponseCurve(truth[c][0], [], 1, None, 1, (1, 1)),
                    current[c],
                    value_per_response=truth[c][1],
                )
                for c in CHANNELS
            ]
            oracle = optimize(exact, settings=OptimizerSettings(max_change=10.0))
            values = {
                "current": _true_revenue(truth, current),
                "one": _true_revenue(truth, {x.key: x.proposed for x in one.lines}),
                "converged": _true_revenue(truth, {x.key: x.proposed for x in converged.lines}),
                "oracle": _true_revenue(truth, {x.key: x.proposed for x in oracle.lines}),
            }
            ratio = values["converged"] / values["oracle"]
            ratios.append(ratio)
            print(
                f"  {tenant:22} {values['current']:9,.0f} {values['one']:9,.0f} "
                f"{values['converged']:9,.0f} {values['oracle']:9,.0f} {ratio:10.1%} "
                f"{values['current'] / values['oracle']:10.1%} {ms:6.1f} {slsqp_ms:8.1f}"
            )
    print(
        f"  recommended (converged) / oracle: mean {np.mean(ratios):.1%}, worst {min(ratios):.1%}"
    )


def _observed_curves(
    conn, tenant: str, currency: str, credited: Credited
) -> dict[str, ChannelCurve]:
    spend, leads, value = _measured(
        conn, tenant, currency, credited[0][tenant], credited[1][tenant]
    )
    return {
        c: ChannelCurve(
            c, fit_curve(spend[c], leads[c], draws=20), value[c], int((spend[c] > 0).sum())
        )
        for c in CHANNELS
    }


def closed_loop(uri: str, control_uri: str, days: int, credited: Credited) -> None:
    from agents.ops import apply_approved, auto_approve
    from agents.platforms import read_campaign_budgets
    from bizo.demo import connect_demo_accounts
    from connectors.budgets import ConnectorBudgets
    from sandbox.advance import advance_world
    from sandbox.services import start_sandbox_services
    from warehouse.agent_store import save_recommendations
    from warehouse.crypto import CredentialBox
    from warehouse.settings import get_settings

    print(f"\n3. The closed loop: {days} simulated days with auto-apply")
    settings = AgentSettings(
        auto_apply=True,
        max_change_per_cycle=0.10,
        approval_threshold=0.10,
        risk_aversion=0.5,
        min_days_of_data=56,
    )
    box = CredentialBox.from_settings(get_settings())
    services = start_sandbox_services(uri, get_settings().bizo_home)
    os.environ.update(services.client_env())
    applied = 0
    try:
        with psycopg.connect(uri) as conn:
            connect_demo_accounts(conn, box)
            tenants = conn.execute(
                "SELECT tenant_id, currency FROM sandbox.tenants ORDER BY 1"
            ).fetchall()
        with psycopg.connect(uri) as conn:
            curves = {
                tenant: _observed_curves(conn, tenant, currency.strip(), credited)
                for tenant, currency in tenants
            }
        with timed(f"{days} days, {len(tenants)} tenants"):
            for _ in range(days):
                with psycopg.connect(uri) as conn:
                    cycle = conn.execute("SELECT end_date FROM sandbox.world_meta").fetchone()[
                        0
                    ] + timedelta(days=1)
                    for tenant, currency in tenants:
                        spend_now = _recent_spend(conn, tenant, currency.strip())
                        lines = read_campaign_budgets(conn, box, tenant, ConnectorBudgets())
                        plan = plan_budgets(
                            tenant, cycle, curves[tenant], lines, spend_now, {}, settings, "auto"
                        )
                        save_recommendations(conn, plan.recommendations)
                        auto_approve(conn, tenant, cycle, settings)
                    conn.commit()
                    applied += sum(
                        r.applied
                        for r in apply_approved(
                            conn, box, dry_run=False, actor="bench", platforms=ConnectorBudgets()
                        )
                    )
                advance_world(uri, 1)
                advance_world(control_uri, 1)
    finally:
        services.stop()
    print(f"  budget changes pushed through the platforms' mutation calls: {applied}")
    _print_loop(uri, control_uri, days)


def _to_tenant(conn, currency: str) -> dict[str, float]:
    rows = conn.execute(
        """SELECT DISTINCT ON (currency) currency, units_per_usd FROM sandbox.fx_rates
           ORDER BY currency, date DESC"""
    ).fetchall()
    per_usd = {c.strip(): float(r) for c, r in rows}
    return {c: per_usd[currency] / r for c, r in per_usd.items()}


def _recent_spend(conn, tenant: str, currency: str) -> dict[str, float]:
    """Each channel's average daily spend over the last week (tenant currency)."""
    from sandbox.advance import channel_spend_history

    end = conn.execute("SELECT end_date FROM sandbox.world_meta").fetchone()[0]
    spend = channel_spend_history(conn, tenant, currency, end)
    return {c: float(np.mean(spend[c][-7:])) for c in CHANNELS}


def _print_loop(uri: str, control_uri: str, days: int) -> None:
    def totals(which: str, first_week_skipped: bool) -> tuple[float, float]:
        with psycopg.connect(which) as conn:
            dates = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT date FROM sandbox.true_daily_outcomes ORDER BY 1"
                ).fetchall()
            ]
            since = dates[7] if first_week_skipped and len(dates) > 7 else dates[0]
            revenue, spend = conn.execute(
                "SELECT sum(expected_revenue), sum(spend) FROM sandbox.true_daily_outcomes "
                "WHERE date >= %s",
                (since,),
            ).fetchone()
        return float(revenue), float(spend)

    with psycopg.connect(control_uri) as conn:
        end = conn.execute("SELECT min(date) FROM sandbox.true_daily_outcomes").fetchone()[
            0
        ] - timedelta(days=1)
        tenants = conn.execute("SELECT tenant_id, currency FROM sandbox.tenants").fetchall()
        before_revenue = before_spend = 0.0
        from sandbox.advance import adstock_before, channel_spend_history

        for tenant, currency in tenants:
            truth = _truth(conn, tenant)
            history = channel_spend_history(conn, tenant, currency.strip(), end)
            for channel, (params, value) in truth.items():
                series = history[channel]
                for i in range(len(series) - days, len(series)):
                    adstock = adstock_before(series[: i + 1], params.theta)
                    before_revenue += (
                        float(params.steady_response(adstock * (1 - params.theta))) * value
                    )
                    before_spend += series[i]
    control = totals(control_uri, False)
    agent = totals(uri, False)
    print(f"  {'':28} {'true revenue':>14} {'spend':>12} {'ROAS':>7}")
    for label, (revenue, spend) in (
        (f"before: last {days} days", (before_revenue, before_spend)),
        (f"after, left alone ({days} d)", control),
        (f"after, agent ({days} d)", agent),
    ):
        print(f"  {label:28} {revenue:14,.0f} {spend:12,.0f} {revenue / spend:7.2f}")
    print(
        f"  agent / left alone: revenue {agent[0] / control[0]:.3f}x, "
        f"spend {agent[1] / control[1]:.3f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--loop-days", type=int, default=28)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from bench.attribution import credited_leads_and_values
    from sandbox.store import write_world
    from sandbox.world import generate_world
    from warehouse.server import server_address
    from warehouse.settings import get_settings

    uri = use_bench_database("bizo_bench_optimizer")
    address = server_address(get_settings())
    control_uri = address.uri("bizo_bench_optimizer_control")
    with psycopg.connect(address.uri(address.admin_database), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS bizo_bench_optimizer_control WITH (FORCE)")
        admin.execute("CREATE DATABASE bizo_bench_optimizer_control")
    from warehouse.migrate import migrate

    with timed(f"simulating the {args.profile} world (seed {args.seed}), stored twice"):
        world = generate_world(args.profile, seed=args.seed)
        for target in (uri, control_uri):
            with psycopg.connect(target) as conn:
                migrate(conn)
                write_world(conn, world)
    with timed("attributing its leads (additive hazard)"):
        credited = credited_leads_and_values(world)
    allocation_quality(uri, credited)
    if args.loop_days:
        closed_loop(uri, control_uri, args.loop_days, credited)


if __name__ == "__main__":
    main()
