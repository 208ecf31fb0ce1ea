"""Sensors: what happens when the world changes rather than when the clock says so."""

from datetime import UTC, datetime

import dagster as dg

from assets.partitions import range_tags, tenant_partitions
from assets.resources import WarehouseResource
from pipelines.jobs import ingestion_jobs
from pipelines.schedules import morning_window
from warehouse.control import connected_tenants


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
