"""Daily FX rates: one slice per day shared by every tenant, for reporting-currency spend."""

import time
from dataclasses import astuple
from datetime import timedelta

import dagster as dg

from assets.partitions import daily_partitions
from assets.resources import FxResource, WarehouseResource
from connectors.fx import FxRateRow
from connectors.retry import CallStats
from warehouse.loader import Slice, replace_slice, split_valid

FX_COLUMNS = ("date", "currency", "units_per_usd", "source")


def fx_rate_problems(row: FxRateRow) -> list[str]:
    problems = []
    if row.units_per_usd is None:
        problems.append("rate is not a positive number")
    if len(row.currency) != 3 or not row.currency.isalpha():
        problems.append(f"currency {row.currency!r} is not an ISO 4217 code")
    return problems


@dg.asset(
    key=["raw", "fx_rates"],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="fx",
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    tags={"platform": "fx"},
    description="Daily FX rates (units per US dollar) from the FX service; dbt converts "
    "every ad account's spend into its tenant's reporting currency with them.",
)
def fx_rates(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, fx: FxResource
) -> dg.MaterializeResult:
    started = time.monotonic()
    window = context.partition_time_window
    day, last = window.start.date(), window.end.date() - timedelta(days=1)
    stats = CallStats()
    loaded = quarantined = 0
    currencies: set[str] = set()
    with fx.connector(stats) as connector, warehouse.connect() as conn:
        while day <= last:
            rows, rejects = split_valid(connector.fetch_rates(day), fx_rate_problems)
            result = replace_slice(
                conn, Slice("raw", "fx_rates", None, day, day), FX_COLUMNS, map(astuple, rows),
                rejects,
            )  # fmt: skip
            loaded += result.rows_loaded
            quarantined += result.rows_quarantined
            currencies |= {row.currency for row in rows}
            day += timedelta(days=1)
    context.log.info(f"FX: {loaded} rates for {len(currencies)} currencies, {quarantined} bad")
    return dg.MaterializeResult(
        metadata={
            "rows_loaded": loaded,
            "rows_quarantined": quarantined,
            "currencies": ", ".join(sorted(currencies)),
            "days": (window.end - window.start).days,
            "api_calls": stats.calls,
            "retries": stats.retries,
            "seconds": round(time.monotonic() - started, 2),
        }
    )
