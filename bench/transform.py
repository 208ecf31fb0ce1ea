"""Transformation benchmark: a full dbt build against the daily incremental run, in one run.

    .venv/bin/python -m bench.transform [--profile medium] [--paths 1000000] [--reuse]
                                        [--database bizo_bench_api]

1. Simulate the world of `--profile`, load every source through the Dagster ingestion jobs
   (as `bizo demo` does; `--reuse` skips this and builds on the world an earlier run left),
   then time `dbt build --full-refresh` (every model and test, and the data-driven
   attribution between them) and the daily run: the incremental models rebuilding the
   morning's window only (best of two). Aim: the daily run under 5% of the full build. Each
   time is split into work (dbt's models and tests, the Markov/Shapley fit: what grows with
   the data) and fixed cost (dbt's start-up and parse, Dagster's steps); docs/sizing.md
   explains the split. `--reuse --database bizo_bench_api` times the builds on the warehouse
   `bench.api` loaded instead (how the large profile is measured: one load, both benches).
2. Each attribution model's lead credit per channel against the world's true cause, as an
   error table (total absolute error over true leads; 0 is perfect).
3. Markov and Shapley fitted on `--paths` synthetic journeys (six channels, up to eight
   touches): aggregation (polars) and both fits, timed; the Markov fit side by side with the
   ChannelAttribution package's `markov_model` on the same paths (its default run's time, and
   its channel totals at `--nsim` simulations against ours). ChannelAttribution is a bench
   tool, installed once into a virtualenv of its own, never a dependency of the platform.
   `--attribution-only` runs just this part.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import psycopg

from bench.common import best_of, timed, use_bench_database
from sandbox.grading import grade_attribution, grades_as_markdown

END = date(2026, 6, 30)
BENCH_DATABASE = "bizo_bench_transform"
CHANNELS = ("google_ads", "meta", "linkedin", "organic_search", "direct", "referral")


def load_world(uri: str, profile: str) -> None:
    """Simulate the profile's world and load every source through the Dagster jobs."""
    import dagster as dg

    from assets.partitions import tenant_partitions
    from bizo.demo import connect_demo_accounts, ingest_window
    from sandbox.landing import land_days
    from sandbox.services import start_sandbox_services
    from sandbox.store import write_world
    from sandbox.world import generate_world
    from warehouse.crypto import CredentialBox
    from warehouse.settings import get_settings

    settings = get_settings()
    with timed(f"simulate + store the {profile} world"):
        world = generate_world(profile, seed=7, end=END)
        with psycopg.connect(uri) as conn:
            write_world(conn, world)
            tenants = connect_demo_accounts(conn, CredentialBox.from_settings(settings))
    landing = settings.landing_path
    shutil.rmtree(landing, ignore_errors=True)
    with timed("land web sessions and CRM exports"):
        land_days(uri, landing, tenants, world.start, world.end)
    services = start_sandbox_services(uri, settings.bizo_home)
    os.environ.update(services.client_env())
    try:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions(tenant_partitions.name, tenants)
            with timed(f"ingest {len(tenants)} tenants x {world.profile.days} days"):
                ingest_window(instance, tenants, world.start, world.end)
    finally:
        services.stop()
        shutil.rmtree(landing, ignore_errors=True)


def check_loaded(uri: str, profile: str) -> None:
    """--reuse: the database must already hold this profile's ingested world."""
    from sandbox.world import PROFILES

    with psycopg.connect(uri) as conn:
        tenants = conn.execute("SELECT count(*) FROM app.tenants").fetchone()[0]
        sessions = conn.execute("SELECT count(*) FROM raw.web_sessions").fetchone()[0]
    if tenants != PROFILES[profile].tenants or not sessions:
        raise SystemExit(
            f"--reuse: the database holds {tenants} tenants and {sessions} web sessions, not "
            f"the {profile} world; run once without --reuse"
        )


@dataclass(frozen=True)
class BuildTime:
    wall: float  # the dbt_build job, start to finish
    # What grows with the data: dbt's run phase (models and tests, summed over the job's
    # dbt invocations) and the Markov/Shapley fit between them.
    work: float

    @property
    def fixed(self) -> float:
        """dbt's process start-up and parse, and Dagster's steps: the same for any window."""
        return self.wall - self.work


def time_build(instance, tags: dict[str, str]) -> BuildTime:
    import dagster as dg

    from assets.dbt import invocation_targets
    from pipelines.definitions import defs
    from pipelines.jobs import QUIET_RUN_CONFIG

    started = time.perf_counter()
    result = defs.resolve_job_def("dbt_build").execute_in_process(
        instance=instance, run_config=QUIET_RUN_CONFIG, tags=tags
    )
    wall = time.perf_counter() - started
    if not result.success:
        raise RuntimeError("dbt build failed")
    dbt_seconds = sum(
        json.loads((target / "run_results.json").read_text())["elapsed_time"]
        for target in invocation_targets(result.run_id)
    )
    fit_seconds = sum(
        event.materialization.metadata["seconds"].value
        for event in result.get_asset_materialization_events()
        if event.asset_key == dg.AssetKey(["attribution", "channel_set_shares"])
    )
    return BuildTime(wall, dbt_seconds + fit_seconds)


def full_and_daily(uri: str) -> None:
    import dagster as dg

    from assets.dbt import FULL_REFRESH_TAG, dbt_window_tags
    from assets.partitions import LOOKBACK_DAYS

    with psycopg.connect(uri) as conn:
        # The daily window ends on the last loaded day, whichever bench loaded the warehouse.
        (end,) = conn.execute("SELECT max(date) FROM raw.google_ads_ad_daily").fetchone()
    with dg.instance_for_test() as instance:
        full = time_build(instance, {FULL_REFRESH_TAG: "true"})
        window = dbt_window_tags(end - timedelta(days=LOOKBACK_DAYS + 1), end)
        daily = min((time_build(instance, window) for _ in range(2)), key=lambda b: b.wall)
    with psycopg.connect(uri) as conn:
        credits = conn.execute("SELECT count(*) FROM marts.attribution_credits").fetchone()[0]
        grades = grade_attribution(conn)
    print(f"  attribution_credits rows: {credits:,}")
    print("                                   job      work    fixed")
    for label, build in (("full build (--full-refresh)", full), ("daily run (best of 2)", daily)):
        print(f"  {label:28} {build.wall:7.1f}s {build.work:8.1f}s {build.fixed:7.1f}s")
    print("  (work: dbt's models and tests, and the Markov/Shapley fit; fixed: dbt start-up and")
    print("   parse, Dagster's steps)")
    print(f"  daily / full, job               {daily.wall / full.wall:8.1%}   (aim < 5%)")
    print(f"  daily / full, work              {daily.work / full.work:8.1%}")
    print("Lead credit per cause against the truth (error: total absolute error / leads):")
    print(grades_as_markdown(grades))


def synthetic_journeys(count: int, seed: int = 11) -> pl.DataFrame:
    """Journeys whose conversion odds rise with paid touches, so the fits have signal: one
    row per journey, its path joined by '>' and whether it converted."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, count)
    picks = rng.choice(len(CHANNELS), size=(count, 8), p=[0.2, 0.2, 0.1, 0.2, 0.2, 0.1])
    inside = np.arange(8) < lengths[:, None]
    paid = (picks < 3) & inside
    converts = rng.random(count) < 0.02 + 0.03 * paid.sum(axis=1)
    names = np.array(CHANNELS)[picks]
    return pl.DataFrame({"steps": names.tolist(), "length": lengths, "converted": converts}).select(
        path=pl.col("steps").list.head(pl.col("length")).list.join(">"), converted="converted"
    )


def aggregate_paths(journeys: pl.DataFrame) -> pl.DataFrame:
    """Distinct paths with their conversions and non-conversions (ml.attribution's frame)."""
    return (
        journeys.group_by("path")
        .agg(
            conversions=pl.col("converted").sum().cast(pl.Float64),
            non_conversions=(~pl.col("converted")).sum().cast(pl.Float64),
        )
        .with_columns(pl.col("path").str.split(">"))
    )


CHANNEL_ATTRIBUTION = "ChannelAttribution==2.2.5"
_CHANNEL_ATTRIBUTION_RUN = """
import json, sys, time
import pandas as pd
from ChannelAttribution import markov_model
data = pd.read_csv(sys.argv[1])
columns = dict(var_path="path", var_conv="conversions", var_null="non_conversions")
default_seconds = float("inf")
for _ in range(3):  # best of three, as ours is timed
    started = time.perf_counter()
    default = markov_model(data, **columns, verbose=False, flg_pro=False)
    default_seconds = min(default_seconds, time.perf_counter() - started)
# Simulated walks are cut at max_step, by default the longest observed path: with repeat
# visits (self-loops) that drops conversions. The chain itself has no such cut.
precise = markov_model(
    data, **columns, nsim_start=float(sys.argv[2]), max_step=1000, verbose=False, flg_pro=False
)
print(json.dumps({
    "default_seconds": default_seconds,
    "default": dict(zip(default["channel_name"], default["total_conversions"])),
    "precise": dict(zip(precise["channel_name"], precise["total_conversions"])),
}))
"""


def channel_attribution_python() -> Path | None:
    """A virtualenv of its own for the ChannelAttribution package (a bench-only tool, never a
    dependency of the platform); None when it cannot be installed here."""
    from warehouse.settings import get_settings

    venv = Path(get_settings().bizo_home) / "bench-channelattribution"
    python = venv / "bin" / "python"
    if python.exists():
        return python
    print(f"  installing {CHANNEL_ATTRIBUTION} into {venv} (once)", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                CHANNEL_ATTRIBUTION,
                "matplotlib",
                "pandas",
            ],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as error:
        print(f"  ChannelAttribution would not install: {error}")
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return python


def data_driven_at_scale(count: int, precise_simulations: float) -> None:
    """Path aggregation and the Markov fit on `count` journeys, side by side with the
    ChannelAttribution package on the same paths: its default run's time, and the channel
    totals of a run with many simulations (its default is noisy)."""
    from ml.attribution import markov_fit, shapley_shares

    journeys = synthetic_journeys(count)
    started = time.perf_counter()
    paths = aggregate_paths(journeys)
    aggregated = time.perf_counter()
    markov_seconds, markov = best_of(3, lambda: markov_fit(paths))
    counts = {
        tuple(path): (conv, non)
        for path, conv, non in paths.select("path", "conversions", "non_conversions").iter_rows()
    }
    converted = time.perf_counter()
    shapley = shapley_shares(counts)
    fitted_shapley = time.perf_counter()
    print(f"  {count:,} journeys, {len(paths):,} distinct paths, {len(markov.shares):,} sets")
    print(f"  aggregate (polars)   {aggregated - started:6.2f}s")
    print(f"  markov (ours, best of 3) {markov_seconds:6.2f}s  raking gap {markov.gap:.2e}")
    print(f"  shapley              {fitted_shapley - converted:6.2f}s ({len(shapley):,} sets)")
    python = channel_attribution_python()
    if python is None:
        print("  (no ChannelAttribution here: the Markov fit is timed alone)")
        return
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "paths.csv"
        paths.with_columns(pl.col("path").list.join(">")).write_csv(csv)
        script = Path(folder) / "run.py"
        script.write_text(_CHANNEL_ATTRIBUTION_RUN)
        run = subprocess.run(
            [str(python), str(script), str(csv), str(precise_simulations)],
            check=True,
            capture_output=True,
            text=True,
        )
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    print(
        f"  ChannelAttribution markov_model, default run (best of 3): "
        f"{theirs['default_seconds']:.2f}s  (ours / theirs: "
        f"{markov_seconds / theirs['default_seconds']:.2f}x)"
    )
    print(
        f"  channel totals, ours against theirs at nsim_start={precise_simulations:.0e}, "
        "max_step=1000 (the chain uncut, as ours solves it):"
    )
    worst = 0.0
    for channel in sorted(markov.totals):
        ours, precise = markov.totals[channel], theirs["precise"].get(channel, 0.0)
        default = theirs["default"].get(channel, 0.0)
        difference = ours / precise - 1 if precise else float("inf")
        worst = max(worst, abs(difference))
        print(
            f"    {channel:15s} ours {ours:10.1f}  theirs {precise:10.1f} ({difference:+.2%})"
            f"  theirs at default {default:10.1f}"
        )
    print(f"  largest difference {worst:.2%} (aim: within 1%)")


def main() -> None:
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")  # dagster beta note
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="medium")
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument(
        "--nsim",
        type=float,
        default=2e7,
        help="ChannelAttribution's nsim_start for the totals compared with ours",
    )
    parser.add_argument(
        "--attribution-only",
        action="store_true",
        help="only the data-driven attribution at scale (no world, no dbt)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the builds on the world an earlier run loaded (skips the ingest)",
    )
    parser.add_argument(
        "--database",
        default=BENCH_DATABASE,
        help="with --reuse: the bench database to build on (bench.api's is bizo_bench_api)",
    )
    args = parser.parse_args()
    if args.database != BENCH_DATABASE and not args.reuse:
        parser.error("--database names another bench's warehouse: use it with --reuse")
    if args.attribution_only:
        print("Data-driven attribution at scale:")
        data_driven_at_scale(args.paths, args.nsim)
        return
    uri = use_bench_database(args.database, keep=args.reuse)
    print(f"Full build vs daily incremental run, profile {args.profile}:")
    if args.reuse:
        check_loaded(uri, args.profile)
    else:
        load_world(uri, args.profile)
    full_and_daily(uri)
    print("Data-driven attribution at scale:")
    data_driven_at_scale(args.paths, args.nsim)


if __name__ == "__main__":
    main()
