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
from dataclasses import astuple
from datetime import date, timedelta
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
    from sandbox.google_ads.data import PostgresGoogleAdsData
    from sandbox.google_ads.server import GoogleAdsSandboxServer
    from sandbox.services import sandbox_tls_dir
    from sandbox.store import write_world
    from sandbox.world import generate_world
    from warehouse.settings import get_settings

    with timed(f"simulate + store the {profile} world"):
        world = generate_world(profile, seed=7, end=date(2026, 6, 30))
        with psycopg.connect(uri) as conn:
            write_world(conn, world)
    from connectors.google_ads.client import AdDailyRow, GoogleAdsConnector
    from connectors.google_ads.validation import ad_daily_problems
    from warehouse.loader import split_valid

    accounts = [r for r in world.tables["ad_accounts"] if r[0] == "google_ads"]
    columns = tuple(AdDailyRow.__dataclass_fields__)
    with GoogleAdsSandboxServer(
        PostgresGoogleAdsData(uri), tls_dir=sandbox_tls_dir(get_settings().bizo_home)
    ) as server:

        def load_google() -> int:
            total = 0
            for _platform, account_id, tenant_id, *_ in accounts:
                with GoogleAdsConnector(
                    developer_token="sandbox-developer-token",
                    access_token="bench",
                    endpoint=server.endpoint,
                    ca_cert_path=server.ca_cert_path,
                ) as connector:
                    rows = connector.fetch_ad_daily(account_id, world.start, world.end)
                good, bad = split_valid(rows, ad_daily_problems(world.start, world.end))
                with psycopg.connect(uri) as conn:
                    target = Slice("raw", "google_ads_ad_daily", tenant_id, world.start, world.end)
                    total += replace_slice(
                        conn, target, columns, map(astuple, good), bad
                    ).rows_loaded
            return total

        seconds, rows = best_of(1, load_google)
    print(f"  google_ads  {rows:>9,} rows in {seconds:6.1f}s = {rows / seconds:>10,.0f} rows/s")


def main() -> None:
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
