"""Agent ops as assets, one tenant partition per run: curves, anomalies, recommendations and
the weekly report. Each reads like a sentence and reports what it did as metadata; the work
is in agents.ops."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from agents.crew import build_llm
from agents.ops import auto_approve, fit_curves, monitor, recommend, weekly_report
from agents.settings import get_agent_settings
from assets.partitions import tenant_partitions
from assets.resources import WarehouseResource
from connectors.budgets import ConnectorBudgets

MARTS = [
    dg.AssetKey(["marts", "ad_performance_daily"]),
    dg.AssetKey(["marts", "attribution_credits"]),
]
AGENTS_GROUP = "agents"


def _today() -> datetime:
    return datetime.now(UTC)


@dg.asset(
    key=["app", "response_curves"],
    group_name=AGENTS_GROUP,
    partitions_def=tenant_partitions,
    deps=MARTS,
    kinds={"python", "scipy", "postgres"},
    description="Adstock + Hill response curve per paid channel, with bootstrap draws and fit "
    "quality (R², held-out MAPE), fitted on spend and attributed leads.",
)
def response_curves(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    tenant = context.partition_key
    end = _today().date() - timedelta(days=1)
    with warehouse.connect() as conn:
        results = fit_curves(conn, tenant, end, get_agent_settings())
    fitted = [r for r in results if r["fitted"]]
    return dg.MaterializeResult(
        metadata={
            "channels_fitted": len(fitted),
            "not_fitted": dg.MetadataValue.json(
                {r["channel"]: r["reason"] for r in results if not r["fitted"]}
            ),
            "r2": dg.MetadataValue.json({r["channel"]: round(r["r2"], 3) for r in fitted}),
            "mape_holdout": dg.MetadataValue.json(
                {r["channel"]: r["mape_holdout"] for r in fitted}
            ),
            "window_end": end.isoformat(),
        }
    )


@dg.asset(
    key=["app", "anomalies"],
    group_name=AGENTS_GROUP,
    partitions_def=tenant_partitions,
    deps=MARTS,
    kinds={"python", "postgres"},
    description="MonitoringAgent: anomalies in spend, CPA and conversions, tracking breakage.",
)
def anomalies(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = get_agent_settings()
    day = _today().date() - timedelta(days=1)
    with warehouse.connect() as conn:
        result = monitor(conn, context.partition_key, day, settings, build_llm(settings))
    return dg.MaterializeResult(
        metadata={
            "opened": result["opened"],
            "resolved": result["resolved"],
            "seen": result["seen"],
            "summary": dg.MetadataValue.md(result["summary"]),
        }
    )


@dg.asset(
    key=["app", "recommendations"],
    group_name=AGENTS_GROUP,
    partitions_def=tenant_partitions,
    deps=[response_curves, anomalies],
    kinds={"python", "crewai", "postgres"},
    description="OptimizationAgent: budgets per campaign from the curves and the optimizer, "
    "through the guardrails; approved at once only with BIZO_AUTO_APPLY and within its limits.",
)
def recommendations(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = get_agent_settings()
    cycle = _today().date()
    with warehouse.connect() as conn:
        result = recommend(
            conn,
            warehouse.credential_box(),
            context.partition_key,
            cycle,
            settings,
            build_llm(settings),
            platforms=ConnectorBudgets(),
        )
        approved = auto_approve(conn, context.partition_key, cycle, settings)
    return dg.MaterializeResult(
        metadata={
            "proposed": len(result.saved),
            "auto_approved": len(approved),
            "needs_approval": sum(r.requires_approval for r in result.saved),
            "expected_revenue_change_per_day": round(result.expected_revenue_change, 2),
            "confidence": round(result.confidence, 3),
            "created_by": result.created_by,
            "tool_calls": dg.MetadataValue.json(result.tool_calls),
            "held_channels": dg.MetadataValue.json(result.held),
            "refused_by_guardrails": dg.MetadataValue.json(result.refused),
        }
    )


@dg.asset(
    key=["app", "agent_reports"],
    group_name=AGENTS_GROUP,
    partitions_def=tenant_partitions,
    deps=[recommendations],
    kinds={"python", "crewai", "postgres"},
    description="ReportingAgent: the weekly Markdown summary of what changed and why.",
)
def agent_reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    settings = get_agent_settings()
    today = _today().date()
    week_start = today - timedelta(days=today.weekday() + 7)  # the last full week
    with warehouse.connect() as conn:
        markdown = weekly_report(conn, context.partition_key, week_start, build_llm(settings))
    return dg.MaterializeResult(
        metadata={"week_start": week_start.isoformat(), "report": dg.MetadataValue.md(markdown)}
    )


agent_assets = [response_curves, anomalies, recommendations, agent_reports]
