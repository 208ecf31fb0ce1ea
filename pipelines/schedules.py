"""When things run without a person: yesterday's data every morning, for every tenant."""

from datetime import timedelta

import dagster as dg

from assets.partitions import partition_key, tenant_partitions
from pipelines.jobs import google_ads_job


@dg.schedule(
    job=google_ads_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def google_ads_morning(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per tenant for yesterday (UTC); the lookback re-pull arrives with issue 3."""
    yesterday = (context.scheduled_execution_time - timedelta(days=1)).date()
    tenants = context.instance.get_dynamic_partitions(tenant_partitions.name)
    return [
        dg.RunRequest(
            run_key=f"{tenant}:{yesterday}",
            partition_key=partition_key(tenant, yesterday),
        )
        for tenant in tenants
    ]
