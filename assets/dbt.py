"""The dbt project as Dagster assets, through one translator."""

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

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
    yield from dbt.cli(["build"], context=context).stream()


def dbt_resource() -> DbtCliResource:
    # The dbt beside this interpreter: run workers are not always started with the venv on PATH.
    beside = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=dbt_project, dbt_executable=str(beside) if beside.exists() else "dbt"
    )
