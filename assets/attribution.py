"""Data-driven attribution: Markov and Shapley shares fitted on every path, between the
journey models and marts.attribution_credits (which hands the shares to each touch)."""

import time

import dagster as dg

from assets.dbt import MODELS_FOLLOW_NEW_DATA
from assets.resources import WarehouseResource
from ml.attribution import DATA_DRIVEN_MODELS, markov_removal_effects
from warehouse.attribution import read_stage_paths, replace_channel_set_shares


@dg.asset(
    key=["attribution", "channel_set_shares"],
    deps=[
        dg.AssetKey(["marts", "journey_touches"]),
        dg.AssetKey(["marts", "funnel"]),
        dg.AssetKey(["intermediate", "int_visitor_paths"]),
    ],
    group_name="marts",
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    automation_condition=MODELS_FOLLOW_NEW_DATA,
    description="Markov removal-effect and Shapley shares per tenant, stage and converting "
    "channel set, fitted on converting and non-converting paths.",
)
def channel_set_shares(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.monotonic()
    with warehouse.connect() as conn:
        stage_paths = read_stage_paths(conn)
        shares = {
            (tenant, stage, model): fit(paths)
            for (tenant, stage), paths in stage_paths.items()
            for model, fit in DATA_DRIVEN_MODELS.items()
        }
        rows = replace_channel_set_shares(conn, shares)
    effects = {
        tenant: markov_removal_effects(paths)
        for (tenant, stage), paths in stage_paths.items()
        if stage == "lead"
    }
    channels = sorted({c for per_tenant in effects.values() for c in per_tenant})
    table = "\n".join(
        [
            "| tenant | " + " | ".join(channels) + " |",
            "|---" * (len(channels) + 1) + "|",
            *(
                f"| {tenant} | "
                + " | ".join(f"{per_tenant.get(c, 0):.3f}" for c in channels)
                + " |"
                for tenant, per_tenant in sorted(effects.items())
            ),
        ]
    )
    context.log.info(f"{rows} channel-set shares for {len(stage_paths)} tenant-stages")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "tenant_stages": len(stage_paths),
            "paths": sum(len(paths) for paths in stage_paths.values()),
            "lead_removal_effects": dg.MetadataValue.md(table),
            "seconds": round(time.monotonic() - started, 2),
        }
    )
