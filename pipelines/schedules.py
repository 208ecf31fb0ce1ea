"""When things run without a person: every morning, yesterday plus a lookback, every tenant."""

from datetime import date, timedelta

import dagster as dg

from assets.partitions import LOOKBACK_DAYS, day_range_tags, range_tags, tenant_partitions
from pipelines.jobs import fx_job, ingestion_jobs


def morning_window(scheduled: date) -> tuple[date, date]:
    yesterday = scheduled - timedelta(days=1)
    return yesterday - timedelta(days=LOOKBACK_DAYS), yesterday


def morning_schedule(platform: str, job: object) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=f"{platform}_morning",
        job=job,
        cron_schedule="0 6 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"{platform}: yesterday and a {LOOKBACK_DAYS}-day lookback, per tenant, "
        "in one run each.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        start, end = morning_window(context.scheduled_execution_time.date())
        tenants = context.instance.get_dynamic_partitions(tenant_partitions.name)
        return [
            dg.RunRequest(run_key=f"{tenant}:{end}", tags=range_tags(tenant, start, end))
            for tenant in tenants
        ]

    return _schedule


morning_schedules = [morning_schedule(p, job) for p, job in ingestion_jobs.items()]


@dg.schedule(
    name="fx_morning",
    job=fx_job,
    cron_schedule="0 5 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"FX rates: yesterday and a {LOOKBACK_DAYS}-day lookback, before the ad pulls.",
)
def fx_morning(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    start, end = morning_window(context.scheduled_execution_time.date())
    return dg.RunRequest(run_key=f"fx:{end}", tags=day_range_tags(start, end))
