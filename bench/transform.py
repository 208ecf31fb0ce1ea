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
3. Markov and Shapley fitted on `--paths` synthetic paths (six channels, up to eight touches):
   aggregation and both fits, timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import psycopg

from bench.common import timed, use_bench_database
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


def synthetic_paths(count: int, seed: int = 11) -> list[tuple[tuple[str, ...], bool]]:
    """Paths whose conversion odds rise with paid touches, so the fits have signal."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, count)
    picks = rng.choice(len(CHANNELS), size=(count, 8), p=[0.2, 0.2, 0.1, 0.2, 0.2, 0.1])
    paid = (picks < 3) & (np.arange(8) < lengths[:, None])
    converts = rng.random(count) < 0.02 + 0.03 * paid.sum(axis=1)
    return [
        (tuple(CHANNELS[c] for c in picks[i, : lengths[i]]), bool(converts[i]))
        for i in range(count)
    ]


def data_driven_at_scale(count: int) -> None:
    from ml.attribution import markov_shares, shapley_shares

    paths = synthetic_paths(count)
    started = time.perf_counter()
    tallies: Counter[tuple[tuple[str, ...], bool]] = Counter(paths)
    counts: dict[tuple[str, ...], list[float]] = {}
    for (path, converted), n in tallies.items():
        counts.setdefault(path, [0.0, 0.0])[0 if converted else 1] += n
    aggregated = time.perf_counter()
    markov = markov_shares(counts)
    fitted_markov = time.perf_counter()
    shapley = shapley_shares(counts)
    fitted_shapley = time.perf_counter()
    print(f"  {count:,} paths, {len(counts):,} distinct, {len(markov):,} converting channel sets")
    print(f"  aggregate  {aggregated - started:6.2f}s")
    print(f"  markov     {fitted_markov - aggregated:6.2f}s")
    print(f"  shapley    {fitted_shapley - fitted_markov:6.2f}s ({len(shapley):,} sets)")


def main() -> None:
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")  # dagster beta note
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="medium")
    parser.add_argument("--paths", type=int, default=1_000_000)
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
    uri = use_bench_database(args.database, keep=args.reuse)
    print(f"Full build vs daily incremental run, profile {args.profile}:")
    if args.reuse:
        check_loaded(uri, args.profile)
    else:
        load_world(uri, args.profile)
    full_and_daily(uri)
    print("Data-driven attribution at scale:")
    data_driven_at_scale(args.paths)


if __name__ == "__main__":
    main()
