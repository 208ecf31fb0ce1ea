"""Ingestion benchmark: our loader against a bare COPY, and end to end per source.

    .venv/bin/python -m bench.ingest [--profile medium] [--rows 300000]

1. The same rows into the same table, three times each: `warehouse.loader.replace_slice`
   (delete slice + COPY + quarantine bookkeeping in one transaction) against a bare
   `COPY ... FROM STDIN`. Aim: the loader at least 0.7x the rows/s of the bare COPY.
2. End to end from the sandbox world of `--profile`: each source's connector against its
   sandbox server, through validation and the loader, rows/s per source.
"""

from __future__ import annotations

import argparse
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg

from bench.common import best_of, timed, use_bench_database
from warehouse.loader import Slice, replace_slice

COLUMNS = ("date", "customer_id", "ad_id", "cost_micros", "cost", "clicks", "note")


def synthetic_rows(count: int) -> list[tuple]:
    start = date(2026, 1, 1)
    return [
        (
            start + timedelta(days=i % 365),
            "1234567890",
            i,
            i * 1_000,
            Decimal(i) / 1000,
            i % 97,
            f"row {i}",
        )
        for i in range(count)
    ]


def loader_vs_copy(uri: str, rows: list[tuple]) -> float:
    with psycopg.connect(uri) as conn:
        conn.execute(
            """CREATE TABLE raw.bench_rows (tenant_id text, date date, customer_id text,
               ad_id bigint, cost_micros bigint, cost numeric, clicks int, note text)"""
        )
        conn.commit()
        target = Slice("raw", "bench_rows", "bench", date(2026, 1, 1), date(2026, 12, 31))

        def ours() -> int:
            return replace_slice(conn, target, COLUMNS, rows).rows_loaded

        def bare() -> int:
            with conn.transaction():
                conn.execute("TRUNCATE raw.bench_rows")
                with conn.cursor().copy(
                    "COPY raw.bench_rows (tenant_id, date, customer_id, ad_id, cost_micros, "
                    "cost, clicks, note) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(("bench", *row))
            return len(rows)

        ours_s, _ = best_of(3, ours)
        bare_s, _ = best_of(3, bare)
    ours_rps, bare_rps = len(rows) / ours_s, len(rows) / bare_s
    print(f"  bare COPY        {bare_rps:>12,.0f} rows/s")
    print(f"  replace_slice    {ours_rps:>12,.0f} rows/s")
    ratio = ours_rps / bare_rps
    print(f"  ratio            {ratio:>12.2f}x of bare COPY (aim >= 0.70)")
    return ratio


def end_to_end(uri: str, profile: str) -> None:
    """Every source from its sandbox through the same resources, validation and loader the
    assets use, over the whole simulated period."""
    import os

    from assets.crm import CONTACTS
    from assets.google_ads import AD_DAILY
    from assets.linkedin import CREATIVE_DAILY
    from assets.meta import INSIGHTS_DAILY
    from assets.resources import CrmResource, GoogleAdsResource, LinkedInResource, MetaResource
    from bizo.demo import connect_demo_accounts
    from sandbox.services import start_sandbox_services
    from sandbox.store import write_world
    from sandbox.world import generate_world
    from warehouse.control import active_connections
    from warehouse.crypto import CredentialBox
    from warehouse.loader import split_valid
    from warehouse.settings import get_settings

    settings = get_settings()
    box = CredentialBox.from_settings(settings)
    with timed(f"simulate + store the {profile} world"):
        world = generate_world(profile, seed=7, end=date(2026, 6, 30))
        with psycopg.connect(uri) as conn:
            write_world(conn, world)
            tenants = connect_demo_accounts(conn, box)
    services = start_sandbox_services(uri, settings.bizo_home)
    os.environ.update(services.client_env())
    since = datetime.combine(world.start, datetime.min.time(), tzinfo=UTC)
    before = datetime.combine(world.end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    sources = {
        "google_ads": (
            AD_DAILY,
            lambda c, a: c.fetch_ad_daily(a.account_id, world.start, world.end),
            GoogleAdsResource(),
        ),
        "meta": (
            INSIGHTS_DAILY,
            lambda c, a: c.fetch_ad_insights_daily(a.account_id, world.start, world.end),
            MetaResource(),
        ),
        "linkedin": (
            CREATIVE_DAILY,
            lambda c, a: c.fetch_creative_analytics_daily(a.account_id, world.start, world.end),
            LinkedInResource(),
        ),
        "crm": (CONTACTS, lambda c, a: c.fetch_contacts(since, before), CrmResource()),
    }
    try:
        for platform, (table, fetch, resource) in sources.items():
            started = time.perf_counter()
            total = 0
            for tenant in tenants:
                with psycopg.connect(uri) as conn:
                    accounts = active_connections(conn, tenant, platform, box)
                rows = []
                for account in accounts:
                    with resource.connector(account) as connector:
                        rows += fetch(connector, account)
                good, bad = split_valid(rows, table.problems(world.start, world.end))
                values = (tuple(getattr(r, c) for c in table.columns) for r in good)
                target = Slice("raw", table.name, tenant, world.start, world.end)
                with psycopg.connect(uri) as conn:
                    total += replace_slice(conn, target, table.columns, values, bad).rows_loaded
            seconds = time.perf_counter() - started
            print(
                f"  {platform:<11} {total:>9,} rows in {seconds:6.1f}s = "
                f"{total / seconds:>9,.0f} rows/s",
                flush=True,
            )
    finally:
        services.stop()


def main() -> None:
    warnings.filterwarnings("ignore", message="Parameter `backfill_policy`")  # dagster beta note
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="medium")
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    uri = use_bench_database("bizo_bench")
    print(f"Loader vs bare COPY, {args.rows:,} rows, best of 3:")
    loader_vs_copy(uri, synthetic_rows(args.rows))
    print(f"End to end from the sandbox, profile {args.profile}:")
    end_to_end(uri, args.profile)


if __name__ == "__main__":
    main()
