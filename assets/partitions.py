"""Partitions shared by the ingestion assets: day × tenant."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg

TENANT_DIMENSION = "tenant"
# Platforms restate conversions for days afterwards, so each morning re-pulls this many days
# before yesterday too (slices are replaced, so re-pulling never duplicates), and the
# incremental models rebuild the same days.
LOOKBACK_DAYS = 7
DATE_DIMENSION = "date"

tenant_partitions = dg.DynamicPartitionsDefinition(name="tenant")
daily_partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=0)
daily_tenant_partitions = dg.MultiPartitionsDefinition(
    {DATE_DIMENSION: daily_partitions, TENANT_DIMENSION: tenant_partitions}
)


@dataclass(frozen=True)
class TenantWindow:
    """A tenant's contiguous run of days (inclusive): the unit a source is pulled in."""

    tenant_id: str
    start: date
    end: date


def _dimensions(key: dg.MultiPartitionKey | str) -> dict[str, str]:
    if isinstance(key, dg.MultiPartitionKey):
        return dict(key.keys_by_dimension)
    # Multi-partition keys serialize as values joined by "|" in dimension-name order.
    names = sorted([DATE_DIMENSION, TENANT_DIMENSION])
    return dict(zip(names, key.split("|"), strict=True))


def partition_key(tenant_id: str, day: date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({DATE_DIMENSION: day.isoformat(), TENANT_DIMENSION: tenant_id})


def range_tags(tenant_id: str, start: date, end: date) -> dict[str, str]:
    """Run tags that make one run cover a tenant's days (a single-run backfill)."""
    return {
        "dagster/asset_partition_range_start": str(partition_key(tenant_id, start)),
        "dagster/asset_partition_range_end": str(partition_key(tenant_id, end)),
    }


def day_range_tags(start: date, end: date) -> dict[str, str]:
    """Run tags that make one run cover days of a day-partitioned (tenant-free) asset."""
    return {
        "dagster/asset_partition_range_start": start.isoformat(),
        "dagster/asset_partition_range_end": end.isoformat(),
    }


def tenant_windows(partition_keys: list[dg.MultiPartitionKey] | list[str]) -> list[TenantWindow]:
    """Group a run's partition keys into contiguous date windows per tenant.

    A single-run backfill hands one run many keys; pulling each tenant's days as ranges
    costs one API query per range instead of one per day.
    """
    days_by_tenant: dict[str, list[date]] = defaultdict(list)
    for key in partition_keys:
        dims = _dimensions(key)
        days_by_tenant[dims[TENANT_DIMENSION]].append(date.fromisoformat(dims[DATE_DIMENSION]))
    windows = []
    for tenant_id, days in sorted(days_by_tenant.items()):
        days.sort()
        start = previous = days[0]
        for day in days[1:]:
            if day != previous + timedelta(days=1):
                windows.append(TenantWindow(tenant_id, start, previous))
                start = day
            previous = day
        windows.append(TenantWindow(tenant_id, start, previous))
    return windows
