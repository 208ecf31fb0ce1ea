"""Agent ops on a clock: weekly curves, daily monitoring and recommendations, weekly reports,
and a sensor that pushes approved budget changes to the ad platforms."""

import time

import dagster as dg

from agents.ops import apply_approved, rollback_requested
from assets.agents import agent_reports, anomalies, recommendations, response_curves
from assets.partitions import tenant_partitions
from assets.resources import WarehouseResource
from connectors.budgets import ConnectorBudgets
from warehouse.agent_store import list_recommendations, pending_rollbacks

PUSH_RETRY_SECONDS = 15 * 60  # how long a failed push waits before the sensor tries again

curves_job = dg.define_asset_job(
    "agent_curves_weekly",
    selection=[response_curves],
    description="Fit every tenant's response curves.",
)
daily_agents_job = dg.define_asset_job(
    "agent_daily",
    selection=[anomalies, recommendations],
    description="Monitoring, then this cycle's budget recommendations.",
)
reports_job = dg.define_asset_job(
    "agent_reports_weekly", selection=[agent_reports], description="Weekly summaries."
)


def _per_tenant(name: str, job: object, cron: str, about: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=about,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        day = context.scheduled_execution_time.date().isoformat()
        return [
            dg.RunRequest(run_key=f"{name}:{tenant}:{day}", partition_key=tenant)
            for tenant in context.instance.get_dynamic_partitions(tenant_partitions.name)
        ]

    return _schedule


agent_schedules = [
    _per_tenant("agent_curves_monday", curves_job, "0 7 * * 1", "Curves, Mondays after the pulls."),
    _per_tenant(
        "agent_daily_morning", daily_agents_job, "30 7 * * *", "Monitoring and recommendations."
    ),
    _per_tenant("agent_reports_monday", reports_job, "0 9 * * 1", "The weekly report."),
]


@dg.op(
    description="Push approved recommendations through the connectors' mutation calls, and "
    "put back the previous budgets of applied changes whose rollback was requested."
)
def push_approved_budgets(
    context: dg.OpExecutionContext, warehouse: WarehouseResource
) -> dg.Output[int]:
    with warehouse.connect() as conn:
        box = warehouse.credential_box()
        platforms = ConnectorBudgets()
        results = apply_approved(
            conn, box, dry_run=False, actor="apply-sensor", platforms=platforms
        )
        rolled_back = rollback_requested(conn, box, platforms=platforms)
    for r in [*results, *rolled_back]:
        if r.error:
            context.log.warning(f"#{r.recommendation_id} {r.platform} {r.campaign_id}: {r.error}")
    applied = sum(r.applied for r in results)
    return dg.Output(
        applied,
        metadata={
            "applied": applied,
            "rolled_back": sum(r.applied for r in rolled_back),
            "failed": sum(bool(r.error) for r in [*results, *rolled_back]),
            "changes": dg.MetadataValue.json(
                [
                    {
                        "id": r.recommendation_id,
                        "platform": r.platform,
                        "campaign": r.campaign_id,
                        "budget": str(r.budget),
                        "applied": r.applied,
                        "error": r.error,
                    }
                    for r in results
                ]
            ),
        },
    )


@dg.job(description="Push approved budget changes to the ad platforms.")
def apply_budget_changes() -> None:
    push_approved_budgets()


@dg.sensor(
    name="apply_approved_budgets",
    job=apply_budget_changes,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts a push when recommendations are approved (by a person, or by the "
    "auto-apply policy within its limits) or rollbacks requested (the API); a failed push "
    "stays approved (or requested) and is retried.",
)
def apply_approved_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    with warehouse.connect() as conn:
        approved = list_recommendations(conn, status="approved", limit=1000)
        rollbacks = pending_rollbacks(conn)
    if not approved and not rollbacks:
        return dg.SensorResult(skip_reason="no approved recommendations or requested rollbacks")
    key = apply_run_key(
        [r.recommendation_id for r in approved], [r[0] for r in rollbacks], time.time()
    )
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key)])


def apply_run_key(approved: list[int], rollbacks: list[int], now: float) -> str:
    """One run per set of approvals and rollback requests, and one more per retry period
    while a set stays pending (a push that failed leaves its approvals as they were)."""
    key = f"apply:{max(approved, default=0)}:{len(approved)}"
    if rollbacks:
        key += f":rollback:{max(rollbacks)}:{len(rollbacks)}"
    return f"{key}:try:{int(now // PUSH_RETRY_SECONDS)}"
