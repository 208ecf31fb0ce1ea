"""Sensors: what happens when the world changes rather than when the clock says so."""

import time
from datetime import UTC, datetime

import dagster as dg

from assets.landing import landed_partitions
from assets.partitions import partition_key, range_tags, tenant_partitions, tenant_windows
from assets.resources import WarehouseResource
from pipelines.jobs import ingestion_jobs, landing_job, webhook_job
from pipelines.schedules import morning_window
from warehouse.control import connected_tenants
from warehouse.webhooks import pending_webhooks


@dg.sensor(
    name="tenant_partitions_from_connections",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a tenant partition when its first account is connected (`bizo connect`) "
    "and starts its first load; removes nothing (history stays addressable).",
)
def tenant_partitions_from_connections(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    with warehouse.connect() as conn:
        connected = connected_tenants(conn)
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    new = [tenant for tenant in connected if tenant not in known]
    if not new:
        return dg.SensorResult(skip_reason=f"{len(known)} tenant(s), none new")
    start, end = morning_window(datetime.now(UTC).date())
    return dg.SensorResult(
        dynamic_partitions_requests=[tenant_partitions.build_add_request(new)],
        run_requests=[
            dg.RunRequest(
                run_key=f"first-load:{platform}:{tenant}",
                job_name=job.name,
                tags=range_tags(tenant, start, end),
            )
            for tenant in new
            for platform, job in ingestion_jobs.items()
        ],
    )


@dg.sensor(
    name="landing_files",
    job=landing_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Loads the tenant-days whose files appeared or changed in the landing folder "
    "(web sessions, CRM exports), one run per tenant and run of days.",
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    since = float(context.cursor or 0)
    landing = warehouse.settings().landing_path
    scan_started = time.time()
    changed = landed_partitions(landing, since) if landing.exists() else {}
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    keys = [partition_key(t, day) for t, days in changed.items() if t in known for day in days]
    unknown = sorted(set(changed) - known)
    if unknown:
        context.log.warning(f"files for tenants without partitions ignored: {unknown}")
    requests = [
        dg.RunRequest(
            run_key=f"landing:{window.tenant_id}:{window.start}:{window.end}:{scan_started}",
            tags=range_tags(window.tenant_id, window.start, window.end),
        )
        for window in tenant_windows(keys)
    ]
    # The cursor trails the scan start a little, so a file written during the scan is seen
    # again next time (loads are idempotent, a second look costs nothing).
    return dg.SensorResult(run_requests=requests, cursor=str(scan_started - 1))


@dg.sensor(
    name="lead_webhooks",
    job=webhook_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Processes lead webhook events as soon as some are waiting.",
)
def lead_webhooks_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    with warehouse.connect() as conn:
        count, newest = pending_webhooks(conn)
    if not count:
        return dg.SensorResult(skip_reason="no webhook events waiting")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"webhooks-through-{newest}")])
