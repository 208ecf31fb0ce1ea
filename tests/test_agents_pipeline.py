"""Agent assets and the apply sensor on the loaded, built session pipeline (two weeks)."""

from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from agents.data import channel_series
from pipelines.agent_jobs import PUSH_RETRY_SECONDS, apply_run_key
from pipelines.definitions import defs
from pipelines.jobs import QUIET_RUN_CONFIG as QUIET
from tests.pipeline_window import END, WINDOW_START


def test_the_agents_read_spend_and_credited_leads_from_the_marts(built, conn, tenants):
    tenant = tenants[0]
    series = channel_series(conn, tenant, WINDOW_START, END, "markov")
    spend, leads = conn.execute(
        """SELECT (SELECT sum(spend) FROM marts.ad_performance_daily
                   WHERE tenant_id = %s AND date BETWEEN %s AND %s),
                  (SELECT sum(credit) FROM marts.attribution_credits
                   WHERE tenant_id = %s AND model = 'markov' AND stage = 'lead'
                     AND channel IN ('google_ads', 'meta', 'linkedin')
                     AND conversion_date BETWEEN %s AND %s)""",
        (tenant, WINDOW_START, END, tenant, WINDOW_START, END),
    ).fetchone()
    assert sum(s.spend.sum() for s in series.values()) == pytest.approx(float(spend))
    assert sum(s.leads.sum() for s in series.values()) == pytest.approx(float(leads))
    assert all(len(s.days) == 14 and s.days[-1] == END for s in series.values())
    assert leads > 0


def test_agent_assets_run_per_tenant_and_hold_back_without_enough_data(
    built, instance, tenants, world
):
    tenant = tenants[0]
    job = defs.resolve_job_def("agent_curves_weekly")
    result = job.execute_in_process(instance=instance, run_config=QUIET, partition_key=tenant)
    assert result.success
    [curves] = result.get_asset_materialization_events()
    metadata = curves.materialization.metadata
    # Two weeks loaded: no channel has the days a curve needs, and each says so.
    assert metadata["channels_fitted"].value == 0
    assert all("days of data" in reason for reason in metadata["not_fitted"].value.values())
    daily = defs.resolve_job_def("agent_daily").execute_in_process(
        instance=instance, run_config=QUIET, partition_key=tenant
    )
    assert daily.success
    events = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in daily.get_asset_materialization_events()
    }
    recs = events["app/recommendations"]
    assert recs["proposed"].value == 0 and recs["created_by"].value == "planner"
    assert set(recs["held_channels"].value) == {"google_ads", "meta", "linkedin"}
    assert recs["tool_calls"].value[0] == "get_performance"
    with psycopg.connect(world) as conn:
        assert conn.execute("SELECT count(*) FROM app.recommendations").fetchone()[0] == 0


def test_the_apply_sensor_waits_for_approvals(instance, world):
    sensor = defs.resolve_sensor_def("apply_approved_budgets")
    with dg.build_sensor_context(instance=instance, resources=defs.resources) as context:
        result = sensor(context)
    assert not result.run_requests and "no approved" in result.skip_reason.skip_message


def test_a_pending_push_is_retried_once_per_period_and_a_new_approval_starts_at_once():
    now = 1_800_000_000.0
    first = apply_run_key([7, 9], [], now)
    assert apply_run_key([9, 7], [], now + 60) == first  # the same set, the same period
    assert apply_run_key([7, 9], [], now + PUSH_RETRY_SECONDS) != first  # retried
    assert apply_run_key([7, 9, 12], [], now + 60) != first  # a new approval
    assert "rollback" in apply_run_key([], [3], now)


def test_the_agent_schedules_ask_for_every_tenant(instance, tenants):
    schedule = defs.resolve_schedule_def("agent_daily_morning")
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 7, 1, 7, 30, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert sorted(r.partition_key for r in requests) == sorted(tenants)
