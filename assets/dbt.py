"""The dbt project as Dagster assets, through one translator."""

import hashlib
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
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


# How long each dbt invocation's artifacts (logs, run_results.json) stay for debugging.
KEEP_INVOCATIONS_FOR = timedelta(days=7)

# Where dbt reads the window an incremental run rebuilds (macros/partition_window.sql).
MIN_DATE_ENV = "BIZO_DBT_MIN_DATE"
MAX_DATE_ENV = "BIZO_DBT_MAX_DATE"


@dataclass(frozen=True)
class DbtBuild:
    """One run's `dbt build`: its arguments, and the window it rebuilds as the environment
    variables dbt reads it from (empty: a full refresh)."""

    args: list[str]
    window_env: dict[str, str] = field(default_factory=dict)


def dbt_build(tags: Mapping[str, str], today: date) -> DbtBuild:
    """The `dbt build` for a run: its tagged window, else the days the morning loads touch
    (the lookback through today: tenants' local days straddle UTC), or a full refresh.
    Pure, so the window logic is tested without dbt."""
    if tags.get(FULL_REFRESH_TAG, "").lower() == "true":
        return DbtBuild(["build", "--full-refresh"])
    start = date.fromisoformat(
        tags.get(MIN_DATE_TAG) or (today - timedelta(days=LOOKBACK_DAYS + 1)).isoformat()
    )
    end = date.fromisoformat(tags.get(MAX_DATE_TAG) or today.isoformat())
    if end < start:
        raise ValueError(f"dbt window ends ({end}) before it starts ({start})")
    # Not --vars: dbt re-parses the whole project whenever its --vars change, i.e. daily.
    return DbtBuild(["build"], {MIN_DATE_ENV: start.isoformat(), MAX_DATE_ENV: end.isoformat()})


@contextmanager
def environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """This process's environment with `values` set (None: unset), restored on exit:
    dagster-dbt hands dbt the process environment and takes none of its own."""
    saved = {key: os.environ.get(key) for key in values}

    def apply(changes: Mapping[str, str | None]) -> None:
        for key, value in changes.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    apply(values)
    try:
        yield
    finally:
        apply(saved)


def partial_parse_cache(dbt_env: Mapping[str, str]) -> Path:
    """Where the parse state for this warehouse connection is kept between dbt invocations.
    dbt throws its parse state away when the connection differs from the one it parsed
    with (and `dbt parse` at build time cannot know the runtime database), so each
    connection keeps its own; dbt still re-parses whatever files changed."""
    connection = "|".join(
        dbt_env.get(key, "")
        for key in ("BIZO_PG_HOST", "BIZO_PG_PORT", "BIZO_PG_USER", "BIZO_PG_DATABASE")
    )
    digest = hashlib.sha256(connection.encode()).hexdigest()[:16]
    return DBT_PROJECT_DIR / "target" / "partial_parse" / f"{digest}.msgpack"


def invocation_target_path(step_name: str, run_id: str, parse_cache: Path) -> Path:
    """A fresh target folder for one dbt invocation, seeded with the cached parse state."""
    target = DBT_PROJECT_DIR / "target" / f"{step_name}-{run_id[:7]}-{uuid.uuid4().hex[:7]}"
    target.mkdir(parents=True)
    if parse_cache.exists():
        shutil.copyfile(parse_cache, target / "partial_parse.msgpack")
    return target


def invocation_targets(run_id: str) -> list[Path]:
    """The target folders of a run's dbt invocations (dbt.log, run_results.json), in order."""
    found = (DBT_PROJECT_DIR / "target").glob(f"*-{run_id[:7]}-*")
    return sorted(found, key=lambda target: target.stat().st_mtime)


# An invocation folder's name: the step, the run id's first 7 characters, a random suffix.
_INVOCATION_FOLDER = re.compile(r".+-[0-9a-f]{7}-[0-9a-f]{7}")


def remove_old_invocations(target_root: Path, older_than: timedelta) -> int:
    """Delete the folders of dbt invocations older than `older_than` (a few MB each, one or
    two per run, forever otherwise on a long-lived code server); returns how many."""
    cutoff = time.time() - older_than.total_seconds()
    old = [
        folder
        for folder in target_root.iterdir()
        if folder.is_dir()
        and _INVOCATION_FOLDER.fullmatch(folder.name)
        and folder.stat().st_mtime < cutoff
    ]
    for folder in old:
        shutil.rmtree(folder, ignore_errors=True)  # a concurrent run may have removed it
    return len(old)


def keep_parse_state(target: Path, parse_cache: Path) -> None:
    """Save the invocation's parse state for the next one (atomically: runs may overlap)."""
    produced = target / "partial_parse.msgpack"
    if not produced.exists():
        return
    parse_cache.parent.mkdir(parents=True, exist_ok=True)
    staged = parse_cache.with_suffix(f".{uuid.uuid4().hex[:7]}.tmp")
    shutil.copyfile(produced, staged)
    os.replace(staged, parse_cache)


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
    build = dbt_build(context.run.tags, today=date.today())
    dbt_env = warehouse.dbt_env()
    parse_cache = partial_parse_cache(dbt_env)
    target = invocation_target_path(
        context.op_execution_context.op.name, context.run.run_id, parse_cache
    )
    window = {MIN_DATE_ENV: None, MAX_DATE_ENV: None, **build.window_env}
    context.log.info(f"dbt {' '.join(build.args)} window={build.window_env or 'everything'}")
    # A test runs with the step that builds all its parents: dbt's default ("eager") would
    # also run attribution_credits' relationship test in the step before the credits are
    # rebuilt, because its other parent (the tenants) is built there. Dagster overrides this
    # when it selects checks one by one.
    selection = {"DBT_INDIRECT_SELECTION": "buildable"}
    with environment({**dbt_env, **window, **selection}):
        invocation = dbt.cli(build.args, context=context, target_path=target)
    yield from invocation.stream()
    keep_parse_state(target, parse_cache)
    remove_old_invocations(target.parent, older_than=KEEP_INVOCATIONS_FOR)


def dbt_resource() -> DbtCliResource:
    # The dbt beside this interpreter: run workers are not always started with the venv on PATH.
    beside = Path(sys.executable).parent / "dbt"
    return DbtCliResource(
        project_dir=dbt_project, dbt_executable=str(beside) if beside.exists() else "dbt"
    )
