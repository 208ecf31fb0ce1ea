"""Attribution against the counterfactual truth over many worlds, without the warehouse.

    .venv/bin/python -m bench.attribution [--profile small] [--seeds 7 11 13 17]

Generates each world in memory, builds every lead's journey as `marts.journey_touches` does
(the sessions of the lead's anonymous id in the 30 days up to the form fill, in time order)
and every other visitor's path as `int_visitor_paths` does, runs every attribution model on
them (the heuristics as `marts.attribution_credits` computes them, the data-driven ones
through `ml.attribution`, the same code the pipeline runs), and grades each model's lead
credit per tenant against `sandbox.true_channel_credit` with `sandbox.grading`'s error. The
pipeline's own grade on a loaded warehouse (`bizo demo`, `bench.transform`) is the official
one; this is how models are compared across seeds in minutes.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Collection
from datetime import date

import numpy as np
import polars as pl

from ml.attribution import DATA_DRIVEN_MODELS, Shares
from ml.hazard_attribution import additive_hazard_shares
from sandbox.grading import PAID_CHANNELS, share_error
from sandbox.world import World, generate_world

END = date(2026, 6, 30)
LOOKBACK_DAYS = 30
TIME_DECAY_HALF_LIFE_DAYS = 7


def journeys(world: World) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Touches of every lead (tenant, lead, touch order, channel, hours before the form fill)
    the paths of the visitors who never became a lead (tenant, path, visitors), and those
    visitors' sessions."""
    sessions = pl.DataFrame(
        [(s[1], s[2], s[3], s[4], s[0]) for s in world.tables["sessions"]],
        schema=["tenant_id", "anonymous_id", "started_at", "channel", "session_id"],
        orient="row",
    )
    leads = pl.DataFrame(
        [(lead[1], lead[0], lead[2], lead[3]) for lead in world.tables["leads"]],
        schema=["tenant_id", "lead_id", "anonymous_id", "converted_at"],
        orient="row",
    )
    touches = (
        leads.join(sessions, on=["tenant_id", "anonymous_id"], how="left")
        .filter(
            pl.col("started_at").is_null()
            | (
                (pl.col("started_at") <= pl.col("converted_at"))
                & (pl.col("started_at") > pl.col("converted_at") - pl.duration(days=LOOKBACK_DAYS))
            )
        )
        .with_columns(
            channel=pl.col("channel").fill_null("unknown"),
            hours_before=(
                (
                    pl.col("converted_at") - pl.col("started_at").fill_null(pl.col("converted_at"))
                ).dt.total_seconds()
                / 3600
            ),
        )
        .sort("tenant_id", "lead_id", "started_at", "session_id")
        .with_columns(
            touch_index=pl.int_range(pl.len()).over("tenant_id", "lead_id") + 1,
            touches_in_path=pl.len().over("tenant_id", "lead_id"),
        )
    )
    # Leads whose rows were all filtered out (no session in reach) keep an 'unknown' touch.
    missing = leads.join(
        touches.select("tenant_id", "lead_id").unique(), on=["tenant_id", "lead_id"], how="anti"
    )
    if len(missing):
        touches = pl.concat(
            [
                touches,
                missing.select(
                    "tenant_id",
                    "lead_id",
                    "anonymous_id",
                    "converted_at",
                    started_at=pl.col("converted_at"),
                    channel=pl.lit("unknown"),
                    session_id=pl.lit(None, pl.String),
                    hours_before=pl.lit(0.0),
                    touch_index=pl.lit(1, pl.Int64),
                    touches_in_path=pl.lit(1, pl.UInt32),
                ),
            ],
            how="diagonal_relaxed",
        )
    converted = leads.select("tenant_id", "anonymous_id").unique()
    others = sessions.join(converted, on=["tenant_id", "anonymous_id"], how="anti").sort(
        "tenant_id", "anonymous_id", "started_at", "session_id"
    )
    visitors = (
        others.group_by("tenant_id", "anonymous_id", maintain_order=True)
        .agg(path=pl.col("channel"))
        .group_by("tenant_id", "path")
        .agg(visitors=pl.len())
    )
    return touches, visitors, others


def heuristic_credit(touches: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Per model: tenant, channel, credit; as marts.attribution_credits computes them."""
    t = touches.with_columns(
        last_non_direct=pl.col("touch_index")
        .filter(pl.col("channel") != "direct")
        .max()
        .over("tenant_id", "lead_id")
        .fill_null(pl.col("touches_in_path")),
        decay=0.5 ** (pl.col("hours_before") / 24 / TIME_DECAY_HALF_LIFE_DAYS),
    )
    n, i = pl.col("touches_in_path"), pl.col("touch_index")
    weights = {
        "first_touch": (i == 1).cast(pl.Float64),
        "last_touch": (i == n).cast(pl.Float64),
        "last_non_direct": (i == pl.col("last_non_direct")).cast(pl.Float64),
        "linear": 1.0 / n,
        "time_decay": pl.col("decay") / pl.col("decay").sum().over("tenant_id", "lead_id"),
        "position_based": pl.when(n == 1)
        .then(1.0)
        .when(n == 2)
        .then(0.5)
        .when((i == 1) | (i == n))
        .then(0.4)
        .otherwise(0.2 / (n - 2)),
    }
    return {
        model: t.with_columns(credit=weight)
        .group_by("tenant_id", "channel")
        .agg(pl.col("credit").sum())
        for model, weight in weights.items()
    }


def touch_credit(touches: pl.DataFrame, shares: Shares) -> pl.DataFrame:
    """Each touch's credit, as marts.attribution_credits hands it out: its channel's share
    of the path's channel set, split evenly over that channel's touches; linear where no
    share was fitted."""
    table = pl.DataFrame(
        [
            (",".join(sorted(s)), c, share)
            for s, split in shares.items()
            for c, share in split.items()
        ],
        schema={"channel_set": pl.String, "channel": pl.String, "share": pl.Float64},
        orient="row",
    )
    return (
        touches.with_columns(
            channel_set=pl.col("channel")
            .unique()
            .sort()
            .str.join(",")
            .over("tenant_id", "lead_id"),
            of_channel=pl.len().over("tenant_id", "lead_id", "channel"),
        )
        .join(table, on=["channel_set", "channel"], how="left")
        .with_columns(
            credit=(pl.col("share") / pl.col("of_channel")).fill_null(
                1.0 / pl.col("touches_in_path")
            )
        )
    )


def _by_channel(credited: pl.DataFrame) -> pl.DataFrame:
    return credited.group_by("tenant_id", "channel").agg(pl.col("credit").sum())


def data_driven_credit(touches: pl.DataFrame, visitors: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Per path model of ml.attribution: tenant, channel, credit."""
    known = touches.filter(pl.col("channel") != "unknown")
    lead_paths = (
        known.group_by("tenant_id", "lead_id", maintain_order=True)
        .agg(path=pl.col("channel"))
        .group_by("tenant_id", "path")
        .agg(conversions=pl.len())
    )
    frames = {}
    for model, fit in DATA_DRIVEN_MODELS.items():
        rows = []
        for tenant in touches["tenant_id"].unique().to_list():
            counts: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
            for path, conversions in (
                lead_paths.filter(pl.col("tenant_id") == tenant)
                .select("path", "conversions")
                .iter_rows()
            ):
                counts[tuple(path)][0] += conversions
            for path, count in (
                visitors.filter(pl.col("tenant_id") == tenant)
                .select("path", "visitors")
                .iter_rows()
            ):
                counts[tuple(path)][1] += count
            shares = fit({path: tuple(v) for path, v in counts.items()})
            rows.append(
                _by_channel(touch_credit(touches.filter(pl.col("tenant_id") == tenant), shares))
            )
        frames[model] = pl.concat(rows)
    return frames


def hazard_touch_credit(
    touches: pl.DataFrame, others: pl.DataFrame, won: Collection[int] = ()
) -> pl.DataFrame:
    """The additive-hazard model, fitted per tenant as the asset does: every lead touch with
    its credit (`stage` lead), and every touch of a lead in `won` with its closed-won
    credit (`stage` closed_won)."""
    day = (pl.col("started_at").dt.epoch("s") // 86_400).cast(pl.Int64)
    rows = []
    for tenant in touches["tenant_id"].unique().to_list():
        mine = touches.filter(pl.col("tenant_id") == tenant)
        leads = mine.filter(pl.col("channel") != "unknown")
        visitors = others.filter(pl.col("tenant_id") == tenant)
        data_end = int(visitors.select(day.max()).item())
        frame = pl.concat(
            [
                leads.select(
                    visitor=pl.col("lead_id").cast(pl.String),
                    channel="channel",
                    day=day,
                    converting=pl.col("touch_index") == pl.col("touches_in_path"),
                    converted_day=(pl.col("converted_at").dt.epoch("s") // 86_400).cast(pl.Int64),
                    weight=pl.lit(1.0),
                    data_end=pl.lit(data_end, pl.Int64),
                ),
                visitors.select(
                    visitor=pl.col("anonymous_id"),
                    channel="channel",
                    day=day,
                    converting=pl.lit(False),
                    converted_day=pl.lit(None, pl.Int64),
                    weight=pl.lit(1.0),
                    data_end=pl.lit(data_end, pl.Int64),
                ),
            ]
        )
        lead_ids = leads["lead_id"].unique().to_list()
        won_ids = [lead for lead in lead_ids if lead in won]
        _, per_stage = additive_hazard_shares(
            frame,
            PAID_CHANNELS,
            {"lead": list(map(str, lead_ids)), "closed_won": list(map(str, won_ids))},
        )
        rows.append(touch_credit(mine, per_stage["lead"]).with_columns(stage=pl.lit("lead")))
        rows.append(
            touch_credit(
                mine.filter(pl.col("lead_id").is_in(won_ids)), per_stage["closed_won"]
            ).with_columns(stage=pl.lit("closed_won"))
        )
    return pl.concat(rows, how="diagonal_relaxed")


def credited_leads_and_values(
    world: World,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, float]]]:
    """Per tenant and paid channel: the leads the additive-hazard model credits to the
    channel on each day of the world (the tenant's local days), and the closed-won revenue
    it credits per credited lead ("*": all channels, for a channel with under five won
    deals), as agents.data reads both from marts.attribution_credits."""
    touches, _, others = journeys(world)
    amounts = {d[1]: float(d[3]) for d in world.tables["deals"] if d[4] == "closed_won"}
    credited = hazard_touch_credit(touches, others, set(amounts))
    zones = {t[0]: t[3] for t in world.tables["tenants"]}
    series: dict[str, dict[str, np.ndarray]] = {}
    values: dict[str, dict[str, float]] = {}
    for tenant, zone in zones.items():
        mine = credited.filter(pl.col("tenant_id") == tenant)
        leads = mine.filter(pl.col("stage") == "lead")
        daily = (
            leads.filter(pl.col("channel").is_in(PAID_CHANNELS))
            .with_columns(date=pl.col("converted_at").dt.convert_time_zone(zone).dt.date())
            .group_by("channel", "date")
            .agg(pl.col("credit").sum())
        )
        series[tenant] = {c: np.zeros(world.profile.days) for c in PAID_CHANNELS}
        for channel, day, credit in daily.iter_rows():
            index = (day - world.start).days
            if 0 <= index < world.profile.days:
                series[tenant][channel][index] += credit
        won = mine.filter(pl.col("stage") == "closed_won").with_columns(
            revenue=pl.col("credit") * pl.col("lead_id").replace_strict(amounts, default=0.0)
        )
        revenue = dict(won.group_by("channel").agg(pl.col("revenue").sum()).iter_rows())
        deals = dict(won.group_by("channel").agg(pl.col("lead_id").n_unique()).iter_rows())
        credited_leads = dict(leads.group_by("channel").agg(pl.col("credit").sum()).iter_rows())
        values[tenant] = {"*": sum(revenue.values()) / max(sum(credited_leads.values()), 1e-9)}
        for channel in PAID_CHANNELS:
            if deals.get(channel, 0) >= 5 and credited_leads.get(channel):
                values[tenant][channel] = revenue[channel] / credited_leads[channel]
    return series, values


def true_lead_credit(world: World) -> dict[str, dict[str, float]]:
    truth: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for tenant, _, stage, channel, conversions, *_ in world.tables["true_channel_credit"]:
        if stage == "lead":
            truth[tenant][channel] += conversions
    return truth


def noise_floors(world: World) -> dict[str, float]:
    """Per tenant: the error the truth's own Monte-Carlo spread causes (sandbox.grading)."""
    truth = true_lead_credit(world)
    spread: dict[str, float] = defaultdict(float)
    for tenant, stage, _, conversions_se, _ in world.tables["true_credit_noise"]:
        if stage == "lead":
            spread[tenant] += conversions_se
    return {t: math.sqrt(2 / math.pi) * spread[t] / sum(truth[t].values()) for t in truth}


def grade(world: World) -> dict[str, dict[str, float]]:
    """model -> tenant -> error."""
    touches, visitors, others = journeys(world)
    credits = {**heuristic_credit(touches), **data_driven_credit(touches, visitors)}
    credits["additive_hazard"] = _by_channel(hazard_touch_credit(touches, others))
    truth = true_lead_credit(world)
    errors: dict[str, dict[str, float]] = {}
    for model, frame in credits.items():
        per_tenant: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for tenant, channel, credit in frame.iter_rows():
            cause = channel if channel in PAID_CHANNELS else "baseline"
            per_tenant[tenant][cause] += credit
        errors[model] = {t: share_error(per_tenant[t], truth[t]) for t in truth}
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    args = parser.parse_args()
    summary: dict[str, list[float]] = defaultdict(list)
    for seed in args.seeds:
        started = time.perf_counter()
        world = generate_world(args.profile, seed=seed, end=END)
        errors = grade(world)
        print(f"\n{args.profile}, seed {seed} ({time.perf_counter() - started:.0f} s)")
        tenants = sorted(next(iter(errors.values())))
        best_heuristic = {
            t: min(
                e[t] for m, e in errors.items() if m not in {*DATA_DRIVEN_MODELS, "additive_hazard"}
            )
            for t in tenants
        }
        print("| model | mean | " + " | ".join(tenants) + " |")
        floors = noise_floors(world)
        summary["(noise floor)"].append(float(np.mean(list(floors.values()))))
        cells = " | ".join(f"{floors[t]:.3f}" for t in tenants)
        print(f"| (noise floor) | {np.mean(list(floors.values())):.3f} | {cells} |")
        for model, per_tenant in sorted(
            errors.items(), key=lambda kv: np.mean(list(kv[1].values()))
        ):
            mean = float(np.mean(list(per_tenant.values())))
            summary[model].append(mean)
            cells = " | ".join(f"{per_tenant[t]:.3f}" for t in tenants)
            print(f"| {model} | {mean:.3f} | {cells} |")
        for model in [*DATA_DRIVEN_MODELS, "additive_hazard"]:
            wins = sum(errors[model][t] < best_heuristic[t] for t in tenants)
            print(f"{model} beats every heuristic on {wins} of {len(tenants)} tenants")
    print("\nmean error over seeds")
    for model, means in sorted(summary.items(), key=lambda kv: np.mean(kv[1])):
        print(f"  {model:16s} {np.mean(means):.3f}")


if __name__ == "__main__":
    main()
