"""The ML assets in the code location: GPU tags, schedules, automation, and materializations
through Dagster that write what the libraries promise."""

from __future__ import annotations

import json

import dagster as dg
import psycopg
import pytest

from assets.gpu import GPU_NODE_POOL
from assets.ml import EMBEDDINGS, MODEL, SCORES, embeddings, lead_score_model, lead_scores
from assets.resources import WarehouseResource
from pipelines.definitions import defs
from warehouse.settings import get_settings


def test_ml_assets_request_a_gpu_on_kubernetes():
    for key in (EMBEDDINGS, MODEL, SCORES):
        tags = defs.resolve_assets_def(key).op.tags
        config = json.loads(tags["dagster-k8s/config"])
        assert config["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert config["pod_spec_config"]["node_selector"] == GPU_NODE_POOL


def test_training_is_weekly_scoring_daily_and_embeddings_follow_new_rows():
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["ml_training_weekly"].cron_schedule == "0 3 * * 1"
    assert schedules["ml_scoring_daily"].cron_schedule == "30 7 * * *"  # after the 06:00 loads
    assert defs.resolve_job_def("ml_training_weekly") and defs.resolve_job_def("ml_scoring_daily")
    spec = defs.resolve_assets_def(EMBEDDINGS).specs_by_key[EMBEDDINGS]
    assert spec.automation_condition is not None
    upstream = {dep.asset_key.to_user_string() for dep in spec.deps}
    assert {"raw/meta_ads", "raw/linkedin_creatives", "staging/stg_crm__contacts"} <= upstream
    checks = {c.name for c in defs.resolve_assets_def(MODEL).check_specs}
    checks |= {c.name for c in defs.resolve_assets_def(SCORES).check_specs}
    assert checks == {"auc_not_worse_than_live", "calibration_error", "score_drift_psi"}


def test_new_creative_rows_make_the_embeddings_due():
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("tenant", ["t1"])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(["raw", "meta_ads"], partition="2026-06-30|t1")
    )
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    due = {r.key for r in after.results if r.true_subset.size}
    assert EMBEDDINGS in due and MODEL not in due and SCORES not in due


def test_the_embeddings_asset_embeds_the_warehouse_text_once(built, instance, conn):
    result = dg.materialize(
        [embeddings], instance=instance, resources={"warehouse": WarehouseResource()}
    )
    assert result.success
    metadata = result.asset_materializations_for_node("ml__embeddings")[0].metadata
    assert metadata["embedded"].value["creative"] > 0
    again = dg.materialize(
        [embeddings], instance=instance, resources={"warehouse": WarehouseResource()}
    )
    metadata = again.asset_materializations_for_node("ml__embeddings")[0].metadata
    assert sum(metadata["embedded"].value.values()) == 0
    conn.execute("DELETE FROM ml.embeddings")
    conn.commit()


@pytest.fixture
def ml_world_warehouse(ml_world, monkeypatch):
    """The assets' WarehouseResource pointed at the year-long world's database."""
    monkeypatch.setenv("BIZO_WAREHOUSE_DATABASE", ml_world.settings.warehouse_database)
    get_settings.cache_clear()
    yield ml_world
    monkeypatch.undo()
    get_settings.cache_clear()


def test_training_and_scoring_through_dagster(ml_world_warehouse, instance):
    result = dg.materialize(
        [lead_score_model, lead_scores],
        instance=instance,
        resources={"warehouse": WarehouseResource()},
    )
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["calibration_error"].passed
    assert "auc_not_worse_than_live" in checks and "score_drift_psi" in checks
    model_meta = result.asset_materializations_for_node("ml__lead_score_model")[0].metadata
    with psycopg.connect(ml_world_warehouse.uri) as conn:
        version, status = conn.execute(
            "SELECT version, status FROM ml.models ORDER BY version DESC LIMIT 1"
        ).fetchone()
        scored = conn.execute(
            "SELECT count(*), count(DISTINCT model_version) FROM ml.lead_scores"
        ).fetchone()
        contacts = conn.execute("SELECT count(*) FROM staging.stg_crm__contacts").fetchone()[0]
        live = conn.execute("SELECT version FROM ml.models WHERE status = 'live'").fetchone()[0]
    assert model_meta["version"].value == version
    assert status == ("live" if model_meta["promoted"].value else "rejected")
    assert scored == (contacts, 1)
    scores_meta = result.asset_materializations_for_node("ml__lead_scores")[0].metadata
    assert scores_meta["model_version"].value == live
