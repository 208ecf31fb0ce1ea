"""The one way a source lands in `raw`: fetch per connection and window, validate, replace the
slice, check it, and report what it cost. Every ingestion asset is this, with its own fetch."""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg

from assets.partitions import TenantWindow, daily_tenant_partitions, tenant_windows
from assets.resources import WarehouseResource
from connectors.retry import CallStats
from warehouse.control import Connection, active_connections
from warehouse.loader import Reject, Slice, replace_slice, split_valid

QUARANTINE_RATE_LIMIT = 0.05  # above this share of rejected rows a partition's check fails


@dataclass(frozen=True)
class SourceTotals:
    """What the source itself says a window adds up to (a coarser report of the same data)."""

    spend: Decimal
    clicks: int


@dataclass(frozen=True)
class RawTable:
    """A raw table and how its rows are judged. Columns are the row dataclass's fields."""

    name: str
    row_type: type
    problems: Callable[[date, date], Callable[[Any], list[str]]]
    spend: Callable[[Any], Decimal] | None = None
    clicks: Callable[[Any], int] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self.row_type))

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(["raw", self.name])


def within_window(
    row_problems: Callable[[Any], list[str]],
) -> Callable[[date, date], Callable[[Any], list[str]]]:
    """A window-aware judge from a row judge: a row dated outside the slice is quarantined
    (loading it would survive the next replacement of its own day and duplicate)."""

    def for_window(start: date, end: date) -> Callable[[Any], list[str]]:
        def problems(row: Any) -> list[str]:
            found = row_problems(row)
            if row.date is None or not start <= row.date <= end:
                found = [*found, f"date {row.date} outside the window {start}..{end}"]
            return found

        return problems

    return for_window


@dataclass(frozen=True)
class Fetched:
    """What a fetch returns when the source itself rejected some input (a file's broken
    lines): the rows, the rejects, and fields the source sent that we do not know."""

    rows: Sequence[Any]
    rejects: Sequence[Reject] = ()
    unknown_fields: frozenset[str] = frozenset()
    # The first day the source still serves, where it keeps only recent days (Google's
    # click_view: 90): older days of the window are left as raw holds them, not emptied.
    served_from: date | None = None


Fetch = Callable[[Connection | None, TenantWindow, CallStats], Sequence[Any] | Fetched]
FetchTotals = Callable[[Connection, TenantWindow, CallStats], SourceTotals]


def ingestion_checks(table: RawTable, reconciles: bool) -> list[dg.AssetCheckSpec]:
    specs = [
        dg.AssetCheckSpec(
            "quarantine_rate",
            asset=table.key,
            description=f"At most {QUARANTINE_RATE_LIMIT:.0%} of the source's rows rejected.",
        )
    ]
    if reconciles:
        specs.append(
            dg.AssetCheckSpec(
                "matches_source_totals",
                asset=table.key,
                description="Loaded spend and clicks equal the source's own totals.",
            )
        )
    return specs


def raw_asset(
    table: RawTable, *, platform: str, description: str, reconciles: bool = False
) -> Callable[[Callable[..., dg.MaterializeResult]], dg.AssetsDefinition]:
    """The decorator every ingestion asset wears: day × tenant partitions loaded as
    single-run backfills, the ingestion checks, and the platform as group and run tag."""
    return dg.asset(
        key=table.key,
        partitions_def=daily_tenant_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=ingestion_checks(table, reconciles=reconciles),
        group_name=platform,
        kinds={"python", "postgres"},
        owners=["team:data-platform"],
        tags={"platform": platform},
        description=description,
    )


def ingest(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    *,
    platform: str | None,
    table: RawTable,
    fetch: Fetch,
    fetch_totals: FetchTotals | None = None,
) -> dg.MaterializeResult:
    """Load every tenant window of this run's partitions from every active connection of
    `platform` (or, for push sources such as landed files, once per window: platform None)."""
    started = time.monotonic()
    stats = CallStats()
    box = warehouse.credential_box()
    loaded = quarantined = accounts_seen = expired_days = 0
    spend = Decimal(0)
    mismatches: list[str] = []
    unknown: frozenset[str] = frozenset()
    windows = tenant_windows(context.partition_keys)
    for window in windows:
        if platform is None:
            accounts: list[Connection | None] = [None]
        else:
            with warehouse.connect() as conn:
                accounts = list(active_connections(conn, window.tenant_id, platform, box))
        rows: list[Any] = []
        bad: list[Reject] = []
        start = window.start
        for account in accounts:
            fetched = fetch(account, window, stats)
            if not isinstance(fetched, Fetched):
                fetched = Fetched(fetched)
            rows += fetched.rows
            bad += fetched.rejects
            unknown |= fetched.unknown_fields
            start = max(start, fetched.served_from or start)
        if start > window.start:
            expired_days += (min(start, window.end + timedelta(days=1)) - window.start).days
            context.log.warning(
                f"{table.name} {window.tenant_id}: the source no longer serves days before "
                f"{start}; raw keeps what it holds for {window.start}..{start - timedelta(1)}"
            )
        if start > window.end:
            continue
        good, invalid = split_valid(rows, table.problems(start, window.end))
        bad += invalid
        target = Slice("raw", table.name, window.tenant_id, start, window.end)
        with warehouse.connect() as conn:
            values = (tuple(getattr(row, column) for column in table.columns) for row in good)
            result = replace_slice(conn, target, table.columns, values, bad)
        window_spend = sum((table.spend(r) for r in good), Decimal(0)) if table.spend else None
        if fetch_totals is not None and table.spend and table.clicks:
            expected = [fetch_totals(account, window, stats) for account in accounts]
            want = SourceTotals(
                sum((t.spend for t in expected), Decimal(0)), sum(t.clicks for t in expected)
            )
            got = SourceTotals(window_spend, sum(table.clicks(r) for r in good))
            if got != want:
                mismatches.append(
                    f"{window.tenant_id} {window.start}..{window.end}: {got} != {want}"
                )
        context.log.info(
            f"{table.name} {window.tenant_id} {window.start}..{window.end}: "
            f"{len(accounts)} connection(s), {result.rows_loaded} rows, "
            f"{result.rows_quarantined} quarantined"
        )
        loaded += result.rows_loaded
        quarantined += result.rows_quarantined
        accounts_seen += len(accounts)
        spend += window_spend or 0
    rate = quarantined / (loaded + quarantined) if loaded + quarantined else 0.0
    checks = [
        dg.AssetCheckResult(
            check_name="quarantine_rate",
            passed=rate <= QUARANTINE_RATE_LIMIT,
            metadata={"quarantine_rate": rate, "rows_quarantined": quarantined},
        )
    ]
    if fetch_totals is not None:
        checks.append(
            dg.AssetCheckResult(
                check_name="matches_source_totals",
                passed=not mismatches,
                metadata={"mismatches": "\n".join(mismatches) or "none"},
            )
        )
    metadata: dict[str, Any] = {
        "dagster/row_count": loaded,
        "rows_quarantined": quarantined,
        "connections": accounts_seen,
        "tenant_windows": len(windows),
        "api_calls": stats.calls,
        "retries": stats.retries,
        "retry_wait_seconds": round(stats.waited_seconds, 3),
        "duration_seconds": round(time.monotonic() - started, 3),
        "unknown_fields": ", ".join(sorted(unknown)) or "none",
        "days_past_source_retention": expired_days,
    }
    if table.spend is not None:
        metadata["spend_account_currency"] = float(spend)
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
