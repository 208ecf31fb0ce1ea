"""The dbt project as Dagster assets, through one translator."""

import json
import sys
from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from assets.partitions import LOOKBACK_DAYS
from assets.resources import WarehouseResource

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# `dagster dev` re-parses on load; elsewhere (tests, CI, images) `make` or the image build
# runs `dbt parse` first, because the manifest must exist before these assets load.
dbt_project.prepare_if_dev()


# Eager, minus "wait until no dependency is missing": the raw tables are partitioned by day ×
# tenant and history is never complete (and app/tenants is external), so that guard would
# hold the models back forever. They rebuild from whatever has landed.
MODELS_FOLLOW_NEW_DATA = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
)


# Run tags that choose what the incremental models rebuild (a backfill or a manual repair).
MIN_DATE_TAG = "bizo/dbt_min_date"
MAX_DATE_TAG = "bizo/dbt_max_date"
FULL_REFRESH_TAG = "bizo/dbt_full_refresh"


def dbt_window_tags(start: date, end: date) -> dict[str, str]:
    """Run tags that make a dbt build rebuild `start`..`end` in its incremental models."""
    return {MIN_DATE_TAG: start.isoformat(), MAX_DATE_TAG: end.isoformat()}


def dbt_build_args(tags: Mapping[str, str], today: date) -> list[str]:
    """`dbt build` arguments for a run: its tagged window, else the days the morning loads
    touch (the lookback through today: tenants' local days straddle UTC), or a full
    refresh. Pure, so the window logic is tested without dbt."""
    if tags.get(FULL_REFRESH_TAG, "").lower() == "true":
        return ["build", "--full-refresh"]
    start = tags.get(MIN_DATE_TAG) or (today - timedelta(days=LOOKBACK_DAYS + 1)).isoformat()
    end = tags.get(MAX_DATE_TAG) or today.isoformat()
    window = {"min_date": date.fromisoformat(start), "max_date": date.fromisoformat(end)}
    if window["max_date"] < window["min_date"]:
        raise ValueError(f"dbt window ends ({end}) before it starts ({start})")
    return ["build", "--vars", json.dumps({k: v.isoformat() for k, v in window.items()})]


class BizoDbtTranslator(DagsterDbtTranslator):
    """Models are keyed [schema, name] (staging/…, marts/…), grouped by layer, and follow
    their upstream assets declaratively instead of by schedule."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec
        schema = props["schema"]
        return spec.replace_attributes(
            key=dg.AssetKey([schema, props["name"]]),
            group_name=schema,
            owners=["team:data-platform"],
            automation_condition=MODELS_FOLLOW_NEW_DATA,
        )


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=BizoDbtTranslator(),
)
def bizo_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
) -> Iterator[Any]:
    warehouse.export_dbt_env()
    args = dbt_build_args(context.run.tags, today=date.today())
    context.log.info(f"dbt {' '.join(args)}")
    yield from dbt.cli(args, context=context).stream()


def dbt_resource() -> DbtCliResource:
    # The dbt beside this interpreter: run workers are not always started with the venv on PATH.
    beside = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=dbt_project, dbt_executable=str(beside) if beside.exists() else "dbt"
    )
