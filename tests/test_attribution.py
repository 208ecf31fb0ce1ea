"""Journeys and attribution on the loaded small world, against the world's own truth."""

import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from assets.dbt import (
    FULL_REFRESH_TAG,
    MAX_DATE_ENV,
    MIN_DATE_ENV,
    DbtBuild,
    dbt_build,
    dbt_window_tags,
    invocation_targets,
    remove_old_invocations,
)
from bizo.demo import record_attribution_grades
from pipelines.definitions import defs
from pipelines.jobs import QUIET_RUN_CONFIG as QUIET
from sandbox.grading import grade_attribution, grades_as_markdown, noise_floor
from tests.pipeline_window import END, WINDOW_START
from warehouse import db

WINDOW_ENV = (MIN_DATE_ENV, MAX_DATE_ENV)
MODELS = (
    "first_touch", "last_touch", "last_non_direct", "linear", "time_decay",
    "position_based", "markov", "shapley", "additive_hazard",
)  # fmt: skip


def test_every_model_credits_each_conversion_exactly_once(built, conn):
    rows = conn.execute(
        """SELECT model, stage, count(DISTINCT conversion_id), sum(credit)
           FROM marts.attribution_credits GROUP BY 1, 2"""
    ).fetchall()
    conversions = dict(
        conn.execute(
            """SELECT 'lead', count(DISTINCT contact_id) FROM marts.funnel
               UNION ALL SELECT 'opportunity', count(opportunity_at) FROM marts.funnel
               UNION ALL SELECT 'closed_won', count(won_at) FROM marts.funnel"""
        ).fetchall()
    )
    assert {model for model, *_ in rows} == set(MODELS)
    assert conversions["lead"] > 50 and conversions["closed_won"] > 0
    for model, stage, distinct, credit in rows:
        assert distinct == conversions[stage], (model, stage)
        assert credit == pytest.approx(Decimal(distinct), abs=Decimal("1e-6")), (model, stage)


def test_credited_revenue_adds_up_to_the_won_revenue_for_every_model(built, conn):
    (won,) = conn.execute(
        "SELECT sum(amount) FROM marts.funnel WHERE won_at IS NOT NULL"
    ).fetchone()
    for model in MODELS:
        (credited,) = conn.execute(
            """SELECT sum(revenue) FROM marts.attribution_credits
               WHERE model = %s AND stage = 'closed_won'""",
            (model,),
        ).fetchone()
        assert abs(credited - won) < Decimal("0.01"), model


def test_touches_are_the_worlds_sessions_with_the_right_channel_and_ad(built, conn):
    """Identity stitching, channel classification and the bridge to the ad, session by
    session, against the world's truth (the ad each session's click was really on)."""
    rows = conn.execute(
        """SELECT j.channel, s.channel, j.ad_id, s.platform_ad_id::text, j.match_method,
                  j.ad_matched_by, s.gclid IS NOT NULL
           FROM marts.journey_touches j
           JOIN sandbox.sessions s ON s.session_id = j.session_id AND s.tenant_id = j.tenant_id
           JOIN sandbox.leads l ON l.lead_id = j.lead_id AND l.anonymous_id = s.anonymous_id"""
    ).fetchall()
    (touches,) = conn.execute(
        "SELECT count(*) FROM marts.journey_touches WHERE session_id IS NOT NULL"
    ).fetchone()
    assert touches > 100 and len(rows) == touches  # every touch is the lead's own session
    assert all(r[0] == r[1] for r in rows)
    assert {r[4] for r in rows} == {"click_id", "utm", "referrer"}
    paid = [r for r in rows if r[1] in ("google_ads", "meta", "linkedin")]
    assert all(r[2] == r[3] for r in paid if r[2] is not None)  # a named ad is the right one
    # Google's URLs do not name the ad: the gclid, through click_view, does; a click whose
    # gclid was stripped keeps its channel (UTMs) but no ad.
    google = [r for r in paid if r[1] == "google_ads"]
    assert any(r[6] for r in google) and any(not r[6] for r in google)
    assert all(r[5] == ("gclid" if r[6] else None) for r in google), google[:5]
    # Meta's and LinkedIn's URLs carry the ad id macro (their click IDs resolve nowhere).
    assert all(r[5] == "utm_content" for r in paid if r[1] != "google_ads")


def test_a_lead_journey_holds_every_loaded_session_of_its_person_in_the_lookback(built, conn):
    (missing,) = conn.execute(
        """SELECT count(*)
           FROM sandbox.leads l
           JOIN sandbox.sessions s ON s.anonymous_id = l.anonymous_id
           JOIN raw.web_sessions w ON w.session_id = s.session_id
           JOIN marts.funnel f ON f.contact_id = l.lead_id::text  -- leads the CRM synced
           WHERE s.started_at <= l.created_at
             AND s.started_at > l.created_at - interval '30 days'
             AND NOT EXISTS (
                 SELECT 1 FROM marts.journey_touches j
                 WHERE j.lead_id = l.lead_id AND j.session_id = s.session_id)"""
    ).fetchone()
    assert missing == 0


def test_position_based_and_last_non_direct_follow_their_rules(built, conn):
    bad = conn.execute(
        """SELECT a.conversion_id, a.touch_index, a.credit, j.touches_in_path
           FROM marts.attribution_credits a
           JOIN marts.journey_touches j
             ON j.tenant_id = a.tenant_id AND j.lead_id = a.lead_id
            AND j.touch_index = a.touch_index
           WHERE a.model = 'position_based' AND a.credit <> CASE
               WHEN j.touches_in_path = 1 THEN 1
               WHEN j.touches_in_path = 2 THEN 0.5
               WHEN a.touch_index IN (1, j.touches_in_path) THEN 0.4
               ELSE round(0.2 / (j.touches_in_path - 2), 12) END"""
    ).fetchall()
    assert bad == []
    direct_credited = conn.execute(
        """SELECT count(*) FROM marts.attribution_credits a
           WHERE a.model = 'last_non_direct' AND a.credit = 1 AND a.channel = 'direct'
             AND EXISTS (SELECT 1 FROM marts.journey_touches j
                         WHERE j.tenant_id = a.tenant_id AND j.lead_id = a.lead_id
                           AND j.channel <> 'direct')"""
    ).fetchone()
    assert direct_credited == (0,)


def test_roi_spend_equals_the_mart_spend_for_every_model(built, conn):
    (spend,) = conn.execute("SELECT sum(spend) FROM marts.ad_performance_daily").fetchone()
    per_model = conn.execute(
        "SELECT model, sum(spend), sum(leads) FROM marts.channel_roi GROUP BY 1"
    ).fetchall()
    (leads,) = conn.execute("SELECT count(DISTINCT contact_id) FROM marts.funnel").fetchone()
    assert len(per_model) == len(MODELS)
    for model, model_spend, model_leads in per_model:
        assert model_spend == spend, model
        assert model_leads == pytest.approx(Decimal(leads), abs=Decimal("1e-6")), model


def test_model_error_against_the_counterfactual_truth_per_tenant(built, conn):
    """Each model's lead credit per tenant against the world's counterfactual truth (Shapley
    credit of each paid channel over channel switch-offs; the unpaid channels share the
    baseline): share error per tenant, 0 is perfect, 2 the worst. The world ends many
    journeys on a visit made to fill the form, so last touch must lose to every
    data-driven model; the noise floor is positive and below the worst error."""
    grades = grade_attribution(conn)
    errors = {grade.model: grade.error for grade in grades}
    assert set(errors) == set(MODELS)
    assert all(0 <= error <= 2 for error in errors.values()), errors
    for model in ("markov", "shapley", "additive_hazard"):
        assert errors[model] < errors["last_touch"], errors
    tenants = {r[0] for r in conn.execute("SELECT DISTINCT tenant_id FROM marts.funnel")}
    for grade in grades:
        assert set(grade.tenant_errors) == tenants
        assert grade.error == pytest.approx(sum(grade.tenant_errors.values()) / len(tenants))
        # Credit per tenant adds up to the leads the marts hold for it.
        for tenant, causes in grade.credit.items():
            (leads,) = conn.execute(
                "SELECT count(DISTINCT contact_id) FROM marts.funnel WHERE tenant_id = %s",
                (tenant,),
            ).fetchone()
            assert sum(causes.values()) == pytest.approx(leads, abs=1e-6)
    assert 0 < noise_floor(grades) < max(errors.values())
    table = grades_as_markdown(grades)
    assert table.splitlines()[2].startswith("| *noise floor* |")
    assert "| **truth** |" in table
    assert len(table.splitlines()) == 3 + len(MODELS) + 4 + len(MODELS)


def test_the_demo_records_the_truth_grades_beside_the_asset(built, instance):
    """The grade table lands on marts/attribution_credits as an observation (the analyst
    sees it in the Dagster UI), one error per model, best first."""
    key = dg.AssetKey(["marts", "attribution_credits"])
    grades = record_attribution_grades(instance)
    records = instance.fetch_observations(key, limit=1).records
    assert records, "no observation recorded"
    metadata = records[0].asset_observation.metadata
    assert metadata["closest_to_truth"].value == grades[0].model
    assert [metadata[f"truth_error/{m}"].value for m in MODELS] == pytest.approx(
        [next(g.error for g in grades if g.model == m) for m in MODELS]
    )
    assert "| **truth** |" in metadata["truth_error_table"].value


def test_the_model_comparison_holds_exactly_the_credits(built, conn):
    """attribution_model_comparison, summed from channel_roi's months, has a row for every
    tenant, stage, channel and model that attribution_credits credits, with the same credit
    and value to the last decimal, and no other row."""
    differences = conn.execute(
        """WITH credited AS (
               SELECT tenant_id, stage, channel, model,
                      sum(credit) AS conversions, sum(revenue) AS revenue
               FROM marts.attribution_credits GROUP BY 1, 2, 3, 4)
           SELECT count(*) FILTER (WHERE c.model IS NULL OR credited.model IS NULL
                                   OR c.conversions <> credited.conversions
                                   OR c.revenue <> credited.revenue),
                  count(*)
           FROM credited
           FULL JOIN marts.attribution_model_comparison AS c
               USING (tenant_id, stage, channel, model)"""
    ).fetchone()
    assert differences[1] > 50
    assert differences[0] == 0


def test_window_constants_still_cover_two_weeks():
    assert (END - WINDOW_START).days == 13


def test_dbt_build_chooses_the_window_from_run_tags():
    """The window goes to dbt as environment variables, never --vars (which would make dbt
    re-parse the project on every run)."""
    today = date(2026, 7, 10)
    default = dbt_build({}, today)
    assert default.args == ["build"]
    assert default.window_env == {MIN_DATE_ENV: "2026-07-02", MAX_DATE_ENV: "2026-07-10"}
    tagged = dbt_build(dbt_window_tags(date(2026, 6, 1), date(2026, 6, 3)), today)
    assert tagged.window_env == {MIN_DATE_ENV: "2026-06-01", MAX_DATE_ENV: "2026-06-03"}
    assert dbt_build({FULL_REFRESH_TAG: "true"}, today) == DbtBuild(["build", "--full-refresh"])
    with pytest.raises(ValueError, match="before it starts"):
        dbt_build(dbt_window_tags(date(2026, 6, 3), date(2026, 6, 1)), today)


_MART_FINGERPRINT = """
SELECT (SELECT count(*) FROM marts.ad_performance_daily),
       (SELECT sum(spend) FROM marts.ad_performance_daily),
       (SELECT count(*) FROM marts.journey_touches),
       (SELECT count(*) FROM marts.attribution_credits),
       (SELECT sum(revenue) FROM marts.attribution_credits WHERE model = 'markov'),
       (SELECT sum(spend) + sum(attributed_revenue) FROM marts.channel_roi),
       (SELECT count(*) FROM marts.campaign_roi),
       (SELECT sum(spend) + sum(attributed_revenue) FROM marts.campaign_roi)
"""


def test_an_incremental_rebuild_of_the_last_days_changes_nothing(built, instance, conn):
    """The daily run rebuilds a window in place: same rows, no duplicates, same totals."""
    before = conn.execute(_MART_FINGERPRINT).fetchone()
    conn.commit()  # end the read transaction: its locks would block dbt's table swaps
    result = defs.resolve_job_def("dbt_build").execute_in_process(
        instance=instance, run_config=QUIET, tags=dbt_window_tags(END - timedelta(days=3), END)
    )
    assert result.success
    assert conn.execute(_MART_FINGERPRINT).fetchone() == before
    # dbt ran twice, once each side of the Python shares, and neither re-parsed the project.
    targets = invocation_targets(result.run_id)
    assert len(targets) == 2
    for target in targets:
        log = (target / "dbt.log").read_text()
        assert "Partial parsing enabled" in log
        assert "Unable to do partial parsing" not in log


def test_old_dbt_invocation_folders_are_removed(tmp_path):
    """Only invocation folders past their age go; parse state and fresh runs stay."""
    old = tmp_path / "bizo_dbt_models-0a1b2c3-4d5e6f7"
    fresh = tmp_path / "bizo_dbt_models_2-0a1b2c3-7f6e5d4"
    parse_state = tmp_path / "partial_parse"
    for folder in (old, fresh, parse_state):
        folder.mkdir()
    a_month_ago = time.time() - 30 * 86400
    os.utime(old, (a_month_ago, a_month_ago))
    os.utime(parse_state, (a_month_ago, a_month_ago))
    assert remove_old_invocations(tmp_path, older_than=timedelta(days=7)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, "partial_parse"])


def _dbt(*args: str) -> subprocess.CompletedProcess[str]:
    """The dbt CLI on the test warehouse, as an analyst would run it (no Dagster, no window)."""
    project = Path(__file__).resolve().parents[1] / "dbt_project"
    env = {key: value for key, value in os.environ.items() if key not in WINDOW_ENV}
    return subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), *args, "--profiles-dir", str(project)],
        cwd=project, env={**env, **db.dbt_env()}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def test_a_daily_run_tests_only_the_days_it_rebuilt(built, instance, conn):
    """A duplicate ad-day outside the window does not fail the daily run, whose tests read
    only the rows it rewrote; testing the mart without a window finds it."""
    old_day = WINDOW_START
    duplicate = conn.execute(
        "INSERT INTO marts.ad_performance_daily SELECT * FROM marts.ad_performance_daily"
        " WHERE date = %s LIMIT 1 RETURNING ctid",
        [old_day],
    ).fetchone()[0]
    conn.commit()
    try:
        result = defs.resolve_job_def("dbt_build").execute_in_process(
            instance=instance,
            run_config=QUIET,
            tags=dbt_window_tags(END - timedelta(days=3), END),
        )
        assert result.success
        everything = _dbt("test", "--select", "ad_performance_daily")
        assert everything.returncode == 1, everything.stdout
        assert "FAIL 1 unique_combination_ad_performance_daily" in everything.stdout
    finally:
        conn.execute("DELETE FROM marts.ad_performance_daily WHERE ctid = %s", [duplicate])
        conn.commit()


def test_dbt_docs_generate_catalogs_the_marts(built, tmp_path):
    """`dbt docs generate` works against the built warehouse and documents every mart."""
    completed = _dbt("docs", "generate", "--target-path", str(tmp_path), "--quiet")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    documented = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert {
        "ad_performance_daily", "funnel", "journey_touches", "attribution_credits",
        "channel_roi", "campaign_roi", "attribution_model_comparison",
    } <= documented  # fmt: skip
    assert (tmp_path / "index.html").exists()
