"""Data-driven attribution: Markov, Shapley and additive-hazard shares fitted on every path,
converting or not, between the journey models and marts.attribution_credits (which hands
the shares to each touch)."""

import time

import dagster as dg

from assets.dbt import MODELS_FOLLOW_NEW_DATA
from assets.resources import WarehouseResource
from ml.attribution import DATA_DRIVEN_MODELS, markov_fit
from ml.hazard_attribution import HALF_LIVES, additive_hazard_shares
from warehouse.attribution import (
    read_stage_paths,
    read_timed_touches,
    replace_channel_set_shares,
)
from warehouse.budgets import AD_PLATFORMS


@dg.asset(
    key=["attribution", "channel_set_shares"],
    deps=[
        dg.AssetKey(["marts", "journey_touches"]),
        dg.AssetKey(["marts", "funnel"]),
        dg.AssetKey(["intermediate", "int_visitor_paths"]),
        dg.AssetKey(["staging", "stg_web__sessions"]),
    ],
    group_name="marts",
    kinds={"python", "postgres"},
    owners=["team:data-platform"],
    automation_condition=MODELS_FOLLOW_NEW_DATA,
    description="Markov removal-effect, Shapley and additive-hazard shares per tenant, stage "
    "and converting channel set, fitted on converting and non-converting journeys.",
)
def channel_set_shares(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.monotonic()
    with warehouse.connect() as conn:
        stage_paths = read_stage_paths(conn)
        # Markov's whole fit is kept: its removal effects and raking gap go to the metadata.
        markov = {key: markov_fit(paths) for key, paths in stage_paths.items()}
        shares = {(tenant, stage, "markov"): fit.shares for (tenant, stage), fit in markov.items()}
        shares |= {
            (tenant, stage, model): fit(paths)
            for (tenant, stage), paths in stage_paths.items()
            for model, fit in DATA_DRIVEN_MODELS.items()
            if model != "markov"
        }
        hazard_effects = {}
        for tenant in sorted({tenant for tenant, _ in stage_paths}):
            touches, stages = read_timed_touches(conn, tenant)
            fit, per_stage = additive_hazard_shares(touches, AD_PLATFORMS, stages)
            hazard_effects[tenant] = fit
            for stage, split in per_stage.items():
                shares[(tenant, stage, "additive_hazard")] = split
            context.log.info(f"additive hazard fitted for {tenant}: {len(touches):,} touches")
        rows = replace_channel_set_shares(conn, shares)
    lead_fits = {tenant: fit for (tenant, stage), fit in markov.items() if stage == "lead"}
    channels = sorted({c for fit in lead_fits.values() for c in fit.removal_effects})
    context.log.info(f"{rows} channel-set shares for {len(stage_paths)} tenant-stages")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "tenant_stages": len(stage_paths),
            "paths": sum(len(paths) for paths in stage_paths.values()),
            "lead_removal_effects": dg.MetadataValue.md(
                _table(
                    ["tenant", *channels, "raking gap"],
                    [
                        [
                            tenant,
                            *(f"{fit.removal_effects.get(c, 0):.3f}" for c in channels),
                            f"{fit.gap:.4f}",
                        ]
                        for tenant, fit in sorted(lead_fits.items())
                    ],
                )
            ),
            "additive_hazard_effects": dg.MetadataValue.md(
                _table(
                    ["tenant", "baseline per day", *channels],
                    [
                        [
                            tenant,
                            f"{fit.baseline:.5f}",
                            *(
                                " / ".join(
                                    f"{fit.effects.get(c, {}).get(h, 0):.4f}" for h in HALF_LIVES
                                )
                                for c in channels
                            ),
                        ]
                        for tenant, fit in sorted(hazard_effects.items())
                    ],
                )
            ),
            "seconds": round(time.monotonic() - started, 2),
        }
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(
        [
            "| " + " | ".join(header) + " |",
            "|---" * len(header) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )
