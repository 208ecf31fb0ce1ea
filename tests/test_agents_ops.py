"""Agent operations against the test warehouse and the platform sandboxes: recommendations
and their decisions, pushing and rolling back budgets, the crew with a scripted model,
monitoring and the weekly report, and the `bizo recommendations` commands."""

import json
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from typer.testing import CliRunner

from agents.crew import AgentOutputError, OptimizationToolbox, run_optimization_agent
from agents.curves import CurveParams, ResponseCurve
from agents.data import ChannelSeries
from agents.monitoring import detect_anomalies, open_anomalies, record_anomalies
from agents.ops import apply_approved, auto_approve, rollback, weekly_report
from agents.planning import ChannelCurve
from agents.platforms import read_campaign_budgets
from agents.settings import AgentSettings
from bizo.cli import app
from connectors.budgets import ConnectorBudgets
from warehouse.agent_store import (
    NewRecommendation,
    RecommendationError,
    approve,
    audit_trail,
    latest_report,
    list_recommendations,
    reject,
    save_recommendations,
)
from warehouse.crypto import CredentialBox
from warehouse.settings import get_settings

CYCLE = date(2026, 6, 1)
SETTINGS = AgentSettings(min_days_of_data=56, approval_threshold=0.1, max_change_per_cycle=0.25)


@pytest.fixture
def box() -> CredentialBox:
    return CredentialBox.from_settings(get_settings())


@pytest.fixture
def clean(world: str) -> Iterator[None]:
    """What these tests write is removed afterwards (the session warehouse is shared)."""
    yield
    with psycopg.connect(world) as conn:
        conn.execute("DELETE FROM app.audit_log")
        conn.execute("DELETE FROM app.recommendations")
        conn.execute("DELETE FROM app.anomalies")
        conn.execute("DELETE FROM app.agent_reports")
        conn.execute("DELETE FROM sandbox.budget_changes")


def _proposal(line, factor: str, **overrides) -> NewRecommendation:
    proposed = (line.daily_budget * Decimal(factor)).quantize(Decimal("0.01"))
    fields = dict(
        tenant_id=line.tenant_id,
        cycle_date=CYCLE,
        platform=line.platform,
        channel=line.platform,
        account_id=line.account_id,
        campaign_id=line.campaign_id,
        budget_id=line.budget_id,
        currency=line.currency,
        current_budget=line.daily_budget,
        proposed_budget=proposed,
        expected_revenue_change=Decimal("12.50"),
        confidence=0.8,
        rationale="test",
        requires_approval=True,
        created_by="planner",
    )
    fields.update(overrides)
    return NewRecommendation(**fields)


def test_a_cycle_saved_twice_is_stored_once_and_decisions_are_audited(
    world, sandbox, tenants, box, clean
):
    with psycopg.connect(world) as conn:
        line = read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())[0]
        first = save_recommendations(conn, [_proposal(line, "1.1")])
        again = save_recommendations(conn, [_proposal(line, "1.2")])
        assert [r.recommendation_id for r in first] == [r.recommendation_id for r in again]
        assert again[0].proposed_budget == (line.daily_budget * Decimal("1.2")).quantize(
            Decimal("0.01")
        )
        rec_id = again[0].recommendation_id
        approved = approve(conn, rec_id, "ana", "looks right")
        assert (approved.status, approved.decided_by) == ("approved", "ana")
        # A decided recommendation is not overwritten by a re-run of its cycle.
        assert save_recommendations(conn, [_proposal(line, "0.9")]) == []
        with pytest.raises(
            RecommendationError, match="approved; it can be approved only when proposed"
        ):
            approve(conn, rec_id, "ben")
        with pytest.raises(RecommendationError, match="no recommendation"):
            reject(conn, rec_id, "ben", tenant_id="another-tenant")
        rejected = reject(conn, rec_id, "ben", "not this week")
        assert rejected.status == "rejected"
        assert [e["action"] for e in audit_trail(conn, rec_id)] == [
            "proposed",
            "re-proposed",
            "approved",
            "rejected",
        ]
        # The next cycle's proposal for the same campaign supersedes an undecided one.
        save_recommendations(conn, [_proposal(line, "1.1", cycle_date=CYCLE + timedelta(days=1))])
        save_recommendations(conn, [_proposal(line, "1.1", cycle_date=CYCLE + timedelta(days=2))])
        statuses = sorted(r.status for r in list_recommendations(conn, tenants[0]))
        assert statuses == ["proposed", "rejected", "superseded"]


def test_approved_changes_reach_the_platforms_and_roll_back(world, sandbox, tenants, box, clean):
    with psycopg.connect(world) as conn:
        lines = read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())
        picked = {line.platform: line for line in lines}
        saved = save_recommendations(conn, [_proposal(line, "1.15") for line in picked.values()])
        # Dry run by default: nothing is pushed while nothing is approved, or approved only.
        for rec in saved:
            approve(conn, rec.recommendation_id, "ana")
        dry = apply_approved(conn, box, platforms=ConnectorBudgets())
        assert len(dry) == 3 and not any(r.applied for r in dry)
        assert read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets()) == lines
        pushed = apply_approved(
            conn, box, dry_run=False, actor="apply-sensor", platforms=ConnectorBudgets()
        )
        assert all(r.applied for r in pushed) and len(pushed) == 3
        now = {
            (x.platform, x.campaign_id): x.daily_budget
            for x in read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())
        }
        for rec in saved:
            assert now[(rec.platform, rec.campaign_id)] == rec.proposed_budget
        # Applying again pushes nothing: nothing is approved any more.
        assert apply_approved(conn, box, dry_run=False, platforms=ConnectorBudgets()) == []
        meta = next(r for r in saved if r.platform == "meta")
        back = rollback(
            conn, box, meta.recommendation_id, "ana", "CPA went up", platforms=ConnectorBudgets()
        )
        assert back.status == "rolled_back"
        now = {
            (x.platform, x.campaign_id): x.daily_budget
            for x in read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())
        }
        assert now[("meta", meta.campaign_id)] == meta.current_budget
        assert [e["action"] for e in audit_trail(conn, meta.recommendation_id)] == [
            "proposed",
            "approved",
            "applied",
            "rolled_back",
        ]
        with pytest.raises(RecommendationError, match="only an applied change"):
            rollback(conn, box, meta.recommendation_id, "ana", platforms=ConnectorBudgets())


def test_a_failed_push_stays_approved_and_is_audited(world, sandbox, tenants, box, clean):
    with psycopg.connect(world) as conn:
        line = next(
            x
            for x in read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())
            if x.platform == "linkedin"
        )
        # Under LinkedIn's minimum of 10: the platform refuses it.
        [rec] = save_recommendations(conn, [_proposal(line, "1", proposed_budget=Decimal("5.00"))])
        approve(conn, rec.recommendation_id, "ana")
        [result] = apply_approved(conn, box, dry_run=False, platforms=ConnectorBudgets())
        assert not result.applied and "at least 10" in result.error
        assert (
            list_recommendations(conn, status="approved")[0].recommendation_id
            == rec.recommendation_id
        )
        assert audit_trail(conn, rec.recommendation_id)[-1]["action"] == "apply_failed"


def test_auto_apply_approves_only_small_changes_and_only_when_enabled(
    world, sandbox, tenants, box, clean
):
    with psycopg.connect(world) as conn:
        lines = read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())
        save_recommendations(
            conn,
            [
                _proposal(lines[0], "1.05", requires_approval=False),
                _proposal(lines[1], "1.2", requires_approval=True),
            ],
        )
        assert auto_approve(conn, tenants[0], CYCLE, SETTINGS) == []
        ids = auto_approve(conn, tenants[0], CYCLE, AgentSettings(auto_apply=True))
        assert len(ids) == 1
        statuses = {r.campaign_id: r.status for r in list_recommendations(conn, tenants[0])}
        assert statuses == {lines[0].campaign_id: "approved", lines[1].campaign_id: "proposed"}


# -- the crew ------------------------------------------------------------------------------------
def _toolbox(lines) -> OptimizationToolbox:
    truth = {
        "google_ads": CurveParams(0.15, 12.0, 380.0, 1.6),
        "meta": CurveParams(0.40, 7.0, 260.0, 2.0),
        "linkedin": CurveParams(0.50, 5.0, 420.0, 1.7),
    }
    curves = {
        k: ChannelCurve(k, ResponseCurve(p, [p] * 5, 0.8, 0.1, 200, (1.0, 1e6)), 100.0, 200)
        for k, p in truth.items()
    }
    spend = {"google_ads": 270.0, "meta": 180.0, "linkedin": 150.0}
    return OptimizationToolbox("t", CYCLE, curves, lines, spend, {}, SETTINGS)


def _lines(world, box, tenant):
    with psycopg.connect(world) as conn:
        return read_campaign_budgets(conn, box, tenant, ConnectorBudgets())


def test_without_a_model_the_planner_runs_the_tools_and_proposes(world, sandbox, tenants, box):
    toolbox = _toolbox(_lines(world, box, tenants[0]))
    recommendations, by = run_optimization_agent(toolbox)
    assert by == "planner" and recommendations
    assert toolbox.calls == [
        "get_performance",
        "get_response_curves",
        "run_budget_optimizer",
        "check_guardrails",
    ]
    assert all(r.rationale.startswith(("Raise", "Lower")) for r in recommendations)


def test_a_model_runs_the_tools_and_its_valid_proposals_are_kept(world, sandbox, tenants, box):
    from tests.scripted_llm import ScriptedLLM, action, final

    toolbox = _toolbox(_lines(world, box, tenants[0]))
    planned, _ = run_optimization_agent(_toolbox(toolbox.lines))
    answer = [
        {
            "platform": r.platform,
            "campaign_id": r.campaign_id,
            "proposed_budget": str(r.proposed_budget),
            "rationale": f"Model: {r.platform} has the better marginal ROAS.",
        }
        for r in planned
    ]
    llm = ScriptedLLM(
        model="scripted",
        script=[
            action("get_performance"),
            action("run_budget_optimizer"),
            final(json.dumps(answer)),
        ],
    )
    recommendations, by = run_optimization_agent(toolbox, llm)
    assert by == "llm:scripted"
    assert toolbox.calls == ["get_performance", "run_budget_optimizer"]
    assert [(r.campaign_id, r.proposed_budget) for r in recommendations] == [
        (r.campaign_id, r.proposed_budget) for r in planned
    ]
    assert all(r.rationale.startswith("Model:") for r in recommendations)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("I think you should spend more on LinkedIn.", "not valid JSON"),
        ('{"platform": "meta"}', "expected a JSON list"),
        (
            '[{"platform": "meta", "campaign_id": "1", "proposed_budget": "10", "rationale": "x"}]',
            "does not have",
        ),
        ("[{}]", "lacks"),
    ],
)
def test_malformed_model_answers_are_refused(world, sandbox, tenants, box, answer, message):
    from tests.scripted_llm import ScriptedLLM, action, final

    toolbox = _toolbox(_lines(world, box, tenants[0]))
    llm = ScriptedLLM(model="scripted", script=[action("run_budget_optimizer"), final(answer)])
    with pytest.raises(AgentOutputError, match=message):
        run_optimization_agent(toolbox, llm)


def test_out_of_bounds_or_unbacked_model_proposals_are_refused(world, sandbox, tenants, box):
    from tests.scripted_llm import ScriptedLLM, action, final

    lines = _lines(world, box, tenants[0])
    target = lines[0]
    tripled = [
        {
            "platform": target.platform,
            "campaign_id": target.campaign_id,
            "proposed_budget": str(target.daily_budget * 3),
            "rationale": "go big",
        }
    ]
    llm = ScriptedLLM(
        model="scripted", script=[action("run_budget_optimizer"), final(json.dumps(tripled))]
    )
    with pytest.raises(AgentOutputError, match=r"breaks a guardrail.*allowed per cycle"):
        run_optimization_agent(_toolbox(lines), llm)
    # A model that skips the optimizer cannot propose anything, even a modest change.
    modest = [
        {
            **tripled[0],
            "proposed_budget": str(
                (target.daily_budget * Decimal("1.05")).quantize(Decimal("0.01"))
            ),
        }
    ]
    llm = ScriptedLLM(
        model="scripted", script=[action("get_performance"), final(json.dumps(modest))]
    )
    with pytest.raises(AgentOutputError, match="without running the budget optimizer"):
        run_optimization_agent(_toolbox(lines), llm)


# -- monitoring and reporting -------------------------------------------------------------------
def _series(channel: str, days: int = 40, broken_from: int | None = None) -> ChannelSeries:
    rng = np.random.default_rng(1)
    spend = rng.uniform(90, 110, days)
    clicks = rng.poisson(200, days).astype(float)
    conversions = rng.poisson(4, days).astype(float)
    leads = rng.poisson(3, days).astype(float)
    if broken_from is not None:
        conversions[broken_from:] = 0
        leads[broken_from:] = 0
    start = date(2026, 4, 1)
    return ChannelSeries(
        channel,
        [start + timedelta(days=i) for i in range(days)],
        spend,
        leads,
        clicks,
        conversions,
        500.0,
    )


def test_monitoring_finds_tracking_breakage_and_spend_spikes():
    series = {"meta": _series("meta", broken_from=37), "google_ads": _series("google_ads")}
    series["google_ads"].spend[-1] = 400.0
    found = {(a.channel, a.kind) for a in detect_anomalies(series)}
    assert ("meta", "tracking_breakage") in found
    assert ("google_ads", "spend_spike") in found
    assert not any(c == "google_ads" and k == "tracking_breakage" for c, k in found)
    assert detect_anomalies({"linkedin": _series("linkedin")}) == []


def test_anomalies_are_stored_once_block_changes_and_resolve(world, tenants, clean):
    tenant = tenants[0]
    found = detect_anomalies({"meta": _series("meta", broken_from=37)})
    day = found[0].day
    with psycopg.connect(world) as conn:
        assert record_anomalies(conn, tenant, day, found)["opened"] == len(found)
        assert record_anomalies(conn, tenant, day, found)["opened"] == 0
        assert "tracking_breakage" in open_anomalies(conn, tenant)["meta"]
        assert record_anomalies(conn, tenant, day + timedelta(days=1), [])["resolved"] == len(found)
        assert open_anomalies(conn, tenant) == {}


def test_the_weekly_report_says_what_changed_and_why(world, sandbox, tenants, box, clean):
    with psycopg.connect(world) as conn:
        line = read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())[0]
        [rec] = save_recommendations(
            conn, [_proposal(line, "1.1", rationale="Raise it: marginal ROAS 2.1 vs 1.3.")]
        )
        approve(conn, rec.recommendation_id, "ana")
        apply_approved(conn, box, dry_run=False, platforms=ConnectorBudgets())
        markdown = weekly_report(conn, tenants[0], CYCLE - timedelta(days=CYCLE.weekday()))
        assert markdown.startswith(f"# {tenants[0]}")
        assert "1 budget change(s) applied" in markdown and "marginal ROAS 2.1" in markdown
        assert f"| {line.platform} | {line.campaign_id} |" in markdown
        assert latest_report(conn, tenants[0])["markdown"] == markdown


def test_the_cli_approves_rejects_and_lists(world, sandbox, tenants, box, clean):
    runner = CliRunner()
    with psycopg.connect(world) as conn:
        lines = read_campaign_budgets(conn, box, tenants[0], ConnectorBudgets())
        saved = save_recommendations(conn, [_proposal(lines[0], "1.1"), _proposal(lines[1], "0.9")])
    first, second = (str(r.recommendation_id) for r in saved)
    result = runner.invoke(app, ["recommendations", "approve", first, "--by", "ana"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["recommendations", "reject", second, "--note", "no"]).exit_code == 0
    again = runner.invoke(app, ["recommendations", "approve", second])
    assert again.exit_code == 1 and "rejected" in again.output
    listed = runner.invoke(app, ["recommendations", "list", "--tenant", tenants[0]])
    assert "approved" in listed.output and "rejected" in listed.output
    dry = runner.invoke(app, ["recommendations", "apply"])
    assert "would apply" in dry.output
    pushed = runner.invoke(app, ["recommendations", "apply", "--push"])
    assert pushed.exit_code == 0 and "applied" in pushed.output
    back = runner.invoke(app, ["recommendations", "rollback", first])
    assert back.exit_code == 0, back.output
    assert runner.invoke(app, ["recommendations", "list", "--status", "bogus"]).exit_code == 1
