"""The agents: OptimizationAgent, MonitoringAgent and ReportingAgent, built with crewAI.

Each agent works through tools over plain functions (the optimizer, the guardrails, the
anomaly checks, the week's facts). With ``BIZO_LLM`` set, a crewAI crew lets the model decide
which tools to call and write the text; its answer is parsed and checked like any untrusted
input: malformed output, a proposal the optimizer never saw, or a budget outside the
guardrails is refused with an ``AgentOutputError`` that says why. With no model (the
default), a deterministic planner calls the same tools in a fixed order and the text comes
from templates.

crewAI is imported lazily (it takes seconds) and never phones home: telemetry, tracing and
version checks are switched off before the import, and its storage stays under BIZO_HOME.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.guardrails import PLATFORM_MINIMUMS, ChangeContext, GuardrailViolation, check_change
from agents.monitoring import Anomaly
from agents.planning import CENT, ChannelCurve, Plan, money, plan_budgets, recommendation_for
from agents.settings import AgentSettings
from warehouse.agent_store import NewRecommendation
from warehouse.budgets import CampaignBudgetLine

CREWAI_QUIET_ENV = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "OTEL_SDK_DISABLED": "true",
}


class AgentOutputError(ValueError):
    """What the model answered cannot be used; the message says what was wrong."""


def quiet_crewai(storage_dir: Path | None = None) -> None:
    """Switch off crewAI's network calls (telemetry, tracing, version check) and keep its
    files in one place; call before importing crewai."""
    for name, value in CREWAI_QUIET_ENV.items():
        os.environ[name] = value
    if "CREWAI_STORAGE_DIR" not in os.environ:
        from warehouse.settings import get_settings

        storage_dir = storage_dir or get_settings().bizo_home / "crewai"
        storage_dir.mkdir(parents=True, exist_ok=True)
        os.environ["CREWAI_STORAGE_DIR"] = str(storage_dir)


def build_llm(settings: AgentSettings) -> Any | None:
    """The crewAI LLM that ``BIZO_LLM`` names, or None for the deterministic planner."""
    if not settings.llm:
        return None
    provider, _, model = settings.llm.partition(":")
    quiet_crewai()
    from crewai import LLM

    options: dict[str, Any] = {"model": f"{provider}/{model}"}
    if settings.llm_base_url:
        options["base_url"] = settings.llm_base_url
    elif provider == "ollama":
        options["base_url"] = "http://localhost:11434"
    return LLM(**options)


# -- tools -------------------------------------------------------------------------------------
class _NoArgs(BaseModel):
    pass


class _ProposalArgs(BaseModel):
    proposals: list[dict[str, Any]] = Field(
        description="[{platform, campaign_id, proposed_budget}] to check against the guardrails"
    )


@dataclass
class ToolSpec:
    name: str
    description: str
    func: Callable[..., Any]
    args: type[BaseModel] = _NoArgs


@cache
def _tool_class() -> type:
    from crewai.tools import BaseTool
    from pydantic import PrivateAttr

    class SpecTool(BaseTool):
        """A crewAI tool over a ToolSpec's function; records each call."""

        _func: Callable[..., Any] = PrivateAttr()
        _record: list[str] = PrivateAttr()

        def _run(self, **kwargs: Any) -> str:
            self._record.append(self.name)
            return json.dumps(self._func(**kwargs), default=str)

    return SpecTool


def crewai_tools(specs: list[ToolSpec], record: list[str]) -> list[Any]:
    """crewAI tools over plain functions; every call is recorded in `record`."""
    tools = []
    for spec in specs:
        tool = _tool_class()(name=spec.name, description=spec.description, args_schema=spec.args)
        tool._func = spec.func
        tool._record = record
        tools.append(tool)
    return tools


def run_crew(
    llm: Any, role: str, goal: str, tools: list[ToolSpec], task: str, record: list[str]
) -> str:
    """One agent, one task, run by crewAI with `llm`; the final answer's text."""
    quiet_crewai()
    from crewai import Agent, Crew, Process, Task

    agent = Agent(
        role=role,
        goal=goal,
        backstory="You work for Bizo's marketing science team. You only act through tools "
        "and never invent numbers.",
        tools=crewai_tools(tools, record),
        llm=llm,
        allow_delegation=False,
        max_iter=8,
        verbose=False,
    )
    work = Task(description=task, expected_output="exactly the format asked for", agent=agent)
    result = Crew(agents=[agent], tasks=[work], process=Process.sequential, verbose=False).kickoff()
    return str(result.raw)


# -- OptimizationAgent -------------------------------------------------------------------------
@dataclass
class OptimizationToolbox:
    """One tenant's inputs for a cycle, and the tools the OptimizationAgent works with."""

    tenant_id: str
    cycle_date: date
    curves: dict[str, ChannelCurve]
    lines: list[CampaignBudgetLine]
    channel_spend: dict[str, float]
    anomalies: dict[str, list[str]]
    settings: AgentSettings
    plan: Plan | None = None
    calls: list[str] = field(default_factory=list)
    to_tenant_currency: dict[str, float] = field(default_factory=dict)

    def performance(self) -> dict[str, Any]:
        return {
            "recent_daily_spend_by_channel": {
                k: round(v, 2) for k, v in self.channel_spend.items()
            },
            "campaigns": [
                {
                    "platform": line.platform,
                    "campaign_id": line.campaign_id,
                    "daily_budget": str(line.daily_budget),
                    "currency": line.currency,
                }
                for line in self.lines
            ],
            "open_anomalies": self.anomalies,
        }

    def curve_summary(self) -> dict[str, Any]:
        return {
            channel: {
                "theta": round(c.curve.params.theta, 3),
                "beta": round(c.curve.params.beta, 3),
                "half_saturation": round(c.curve.params.half_saturation, 2),
                "shape": round(c.curve.params.shape, 3),
                "r2": round(c.curve.r2, 3),
                "mape_holdout": c.curve.mape_holdout,
                "days": c.days_of_data,
                "value_per_lead": round(c.value_per_response, 2),
            }
            for channel, c in self.curves.items()
        }

    def run_optimizer(self) -> dict[str, Any]:
        self.plan = plan_budgets(
            self.tenant_id,
            self.cycle_date,
            self.curves,
            self.lines,
            self.channel_spend,
            self.anomalies,
            self.settings,
            to_tenant_currency=self.to_tenant_currency,
        )
        return {
            "channels": [d.__dict__ for d in self.plan.channels],
            "proposals": [
                {
                    "platform": r.platform,
                    "campaign_id": r.campaign_id,
                    "current_budget": str(r.current_budget),
                    "proposed_budget": str(r.proposed_budget),
                    "expected_revenue_change": str(r.expected_revenue_change),
                }
                for r in self.plan.recommendations
            ],
            "refused_by_guardrails": self.plan.rejected,
            "confidence": round(self.plan.confidence, 3),
        }

    def check_guardrails(self, proposals: list[dict[str, Any]]) -> dict[str, Any]:
        results = []
        for item in proposals:
            try:
                line, amount = self._line_and_amount(item)
                verdict = check_change(amount, self._context(line), self.settings)
                results.append(
                    {**item, "allowed": True, "needs_approval": verdict.requires_approval}
                )
            except (GuardrailViolation, AgentOutputError) as problem:
                results.append({**item, "allowed": False, "reason": str(problem)})
        return {"results": results}

    def specs(self) -> list[ToolSpec]:
        return [
            ToolSpec(
                "get_performance",
                "Recent spend per channel, campaign budgets and open anomalies.",
                self.performance,
            ),
            ToolSpec(
                "get_response_curves",
                "Fitted response curves per channel with fit quality.",
                self.curve_summary,
            ),
            ToolSpec(
                "run_budget_optimizer",
                "Run the budget optimizer; returns proposed budgets per campaign.",
                self.run_optimizer,
            ),
            ToolSpec(
                "check_guardrails",
                "Check proposed campaign budgets against the guardrails.",
                self.check_guardrails,
                _ProposalArgs,
            ),
        ]

    # -- checking what a model proposes ------------------------------------------------
    def _line_and_amount(self, item: Any) -> tuple[CampaignBudgetLine, Decimal]:
        if not isinstance(item, dict):
            raise AgentOutputError(f"a proposal must be an object, got {item!r}")
        missing = {"platform", "campaign_id", "proposed_budget"} - set(item)
        if missing:
            raise AgentOutputError(f"proposal {item!r} lacks {sorted(missing)}")
        line = next(
            (
                x
                for x in self.lines
                if x.platform == str(item["platform"]) and x.campaign_id == str(item["campaign_id"])
            ),
            None,
        )
        if line is None:
            raise AgentOutputError(
                f"proposal names {item['platform']} campaign {item['campaign_id']}, which this "
                "tenant does not have"
            )
        try:
            amount = Decimal(str(item["proposed_budget"]))
        except InvalidOperation:
            raise AgentOutputError(
                f"proposed_budget {item['proposed_budget']!r} is not a number"
            ) from None
        return line, amount

    def _context(self, line: CampaignBudgetLine) -> ChangeContext:
        curve = self.curves.get(line.platform)
        return ChangeContext(
            channel=line.platform,
            current_budget=line.daily_budget,
            days_of_data=curve.days_of_data if curve else 0,
            open_anomalies=tuple(self.anomalies.get(line.platform, ())),
            platform_minimum=PLATFORM_MINIMUMS.get(line.platform, CENT),
        )

    def accept_model_proposals(self, raw: str, created_by: str) -> list[NewRecommendation]:
        """The model's final answer as recommendations, or an AgentOutputError saying why
        it cannot be used. Every proposal must pass the guardrails, the tenant's total daily
        budget may not exceed the optimizer's, and the optimizer must have run."""
        if self.plan is None:
            raise AgentOutputError("the model answered without running the budget optimizer")
        items = parse_json_answer(raw)
        if not isinstance(items, list):
            raise AgentOutputError(f"expected a JSON list of proposals, got {type(items).__name__}")
        planned = {(r.platform, r.campaign_id): r for r in self.plan.recommendations}
        recommendations, seen = [], set()
        delta = Decimal(0)
        for item in items:
            line, amount = self._line_and_amount(item)
            if (line.platform, line.campaign_id) in seen:
                raise AgentOutputError(f"campaign {line.campaign_id} is proposed twice")
            seen.add((line.platform, line.campaign_id))
            try:
                verdict = check_change(amount, self._context(line), self.settings)
            except GuardrailViolation as violation:
                raise AgentOutputError(
                    f"model proposal for {line.platform} campaign {line.campaign_id} breaks a "
                    f"guardrail: {violation}"
                ) from None
            rationale = str(item.get("rationale") or "").strip()
            if not rationale:
                raise AgentOutputError(f"proposal for campaign {line.campaign_id} has no rationale")
            base = planned.get((line.platform, line.campaign_id))
            expected = _expected_change(self, line, amount)
            delta += amount - line.daily_budget
            recommendations.append(
                recommendation_for(
                    line,
                    self.cycle_date,
                    amount,
                    expected=expected,
                    confidence=base.confidence if base else self.plan.confidence,
                    rationale=rationale[:2000],
                    requires_approval=verdict.requires_approval,
                    created_by=created_by,
                )
            )
        # The optimizer's own total is the ceiling: a model may move less, never spend more.
        ceiling = sum(
            (
                planned[(x.platform, x.campaign_id)].proposed_budget
                if (x.platform, x.campaign_id) in planned
                else x.daily_budget
                for x in self.lines
            ),
            Decimal(0),
        )
        total = sum((x.daily_budget for x in self.lines), Decimal(0)) + delta
        if total > ceiling * Decimal("1.005"):
            raise AgentOutputError(
                f"the proposals bring the total daily budget to {total:,.2f}, above the "
                f"optimizer's {ceiling:,.2f}"
            )
        return recommendations


def _expected_change(
    toolbox: OptimizationToolbox, line: CampaignBudgetLine, amount: Decimal
) -> Decimal:
    """Revenue change a day of one campaign's move, from its channel's curve: the campaign's
    share of the channel's spend moves by the same factor as its budget."""
    stored = toolbox.curves.get(line.platform)
    spend = toolbox.channel_spend.get(line.platform, 0.0)
    channel_budget = sum(
        float(x.daily_budget) for x in toolbox.lines if x.platform == line.platform
    )
    if stored is None or spend <= 0 or channel_budget <= 0:
        return Decimal("0.00")
    new_spend = spend * (1 + (float(amount) - float(line.daily_budget)) / channel_budget)
    value = stored.value_per_response
    change = (
        float(stored.curve.params.steady_response(new_spend))
        - float(stored.curve.params.steady_response(spend))
    ) * value
    return money(change)


def parse_json_answer(raw: str) -> Any:
    """JSON out of a model's final answer (a Markdown code fence around it is fine)."""
    text = raw.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, flags=re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except ValueError as error:
        raise AgentOutputError(
            f"the model's answer is not valid JSON ({error}): {raw[:200]!r}"
        ) from None


OPTIMIZATION_TASK = (
    "Tenant {tenant}, cycle {day}. Read performance and response curves, run the budget "
    "optimizer, check its proposals against the guardrails, and answer with ONLY a JSON list: "
    '[{{"platform": ..., "campaign_id": ..., "proposed_budget": "123.45", "rationale": ...}}]. '
    "Keep the optimizer's budgets unless a guardrail refuses one; explain each in one or two "
    "sentences using the marginal ROAS."
)


def run_optimization_agent(
    toolbox: OptimizationToolbox, llm: Any | None = None
) -> tuple[list[NewRecommendation], str]:
    """This cycle's recommendations and who made them ("planner" or "llm:<model>")."""
    if llm is None:
        # The deterministic planner: the same tools, in the order a careful analyst uses them.
        toolbox.calls += ["get_performance", "get_response_curves", "run_budget_optimizer"]
        toolbox.performance()
        toolbox.curve_summary()
        toolbox.run_optimizer()
        assert toolbox.plan is not None
        proposals = [
            {
                "platform": r.platform,
                "campaign_id": r.campaign_id,
                "proposed_budget": str(r.proposed_budget),
            }
            for r in toolbox.plan.recommendations
        ]
        toolbox.calls.append("check_guardrails")
        checked = toolbox.check_guardrails(proposals)["results"]
        allowed = {(c["platform"], c["campaign_id"]) for c in checked if c["allowed"]}
        return [
            r for r in toolbox.plan.recommendations if (r.platform, r.campaign_id) in allowed
        ], "planner"
    created_by = f"llm:{getattr(llm, 'model', 'model')}"
    raw = run_crew(
        llm,
        "OptimizationAgent",
        "Move budget to where the response curves say it earns most, within the guardrails.",
        toolbox.specs(),
        OPTIMIZATION_TASK.format(tenant=toolbox.tenant_id, day=toolbox.cycle_date),
        toolbox.calls,
    )
    return toolbox.accept_model_proposals(raw, created_by), created_by


# -- MonitoringAgent ---------------------------------------------------------------------------
def run_monitoring_agent(
    tenant_id: str, detect: Callable[[], list[Anomaly]], llm: Any | None = None
) -> tuple[list[Anomaly], str]:
    """Anomalies come from the checks (a model cannot add or drop one); the model, when
    configured, writes the summary."""
    found: list[Anomaly] = []
    calls: list[str] = []

    def tool() -> list[dict[str, Any]]:
        found[:] = detect()
        return [a.__dict__ for a in found]

    if llm is None:
        calls.append("detect_anomalies")
        tool()
        return found, monitoring_summary(tenant_id, found)
    summary = run_crew(
        llm,
        "MonitoringAgent",
        "Find anomalies in spend, CPA and conversions, and tracking breakage.",
        [ToolSpec("detect_anomalies", "Run the anomaly checks on the latest data.", tool)],
        f"Tenant {tenant_id}: run the anomaly checks and summarise them in Markdown, most "
        "severe first. Mention only what the tool returned.",
        calls,
    )
    if "detect_anomalies" not in calls:
        raise AgentOutputError("the model summarised without running the anomaly checks")
    if not summary.strip():
        raise AgentOutputError("the model's monitoring summary is empty")
    return found, summary


def monitoring_summary(tenant_id: str, anomalies: list[Anomaly]) -> str:
    if not anomalies:
        return f"# {tenant_id}: no anomalies\n"
    order = {"critical": 0, "warning": 1}
    lines = [f"# {tenant_id}: {len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'}", ""]
    for a in sorted(anomalies, key=lambda a: (order[a.severity], a.channel)):
        lines.append(f"- **{a.severity}** {a.kind}: {a.message}")
    return "\n".join(lines) + "\n"


# -- ReportingAgent ----------------------------------------------------------------------------
def run_reporting_agent(
    facts_tool: Callable[[], dict[str, Any]], template: Callable[[], str], llm: Any | None = None
) -> tuple[str, str]:
    """The week's Markdown summary and who wrote it."""
    if llm is None:
        facts_tool()
        return template(), "planner"
    calls: list[str] = []
    text = run_crew(
        llm,
        "ReportingAgent",
        "Write a clear weekly summary of budget changes and why they were made.",
        [
            ToolSpec(
                "get_week_facts",
                "Recommendations, decisions, anomalies and curve quality of the week.",
                facts_tool,
            )
        ],
        "Write the tenant's weekly report in Markdown, starting with a '# ' heading: what "
        "changed, why, what awaits approval, anomalies, and curve quality. Use only the facts.",
        calls,
    )
    if "get_week_facts" not in calls:
        raise AgentOutputError("the model wrote the report without reading the week's facts")
    if not text.strip().startswith("#"):
        raise AgentOutputError("the model's report is not Markdown starting with a heading")
    return text.strip() + "\n", f"llm:{getattr(llm, 'model', 'model')}"
