"""Budget recommendations (app.recommendations) and the decisions on them. The state changes
are warehouse.agent_store's own functions, run on a connection bound to the caller's tenant (see
`run_in_tenant`), so the API follows the same transition rules and audit log as the CLI and
the Dagster sensor. Rolling back needs the platform's credentials, which the API's role cannot
read: the API records the request and the apply sensor carries it out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from psycopg.rows import class_row
from pydantic import BaseModel, Field

from serving_api.auth import AnalystPrincipal, CurrentPrincipal
from serving_api.db import TenantConnection, run_in_tenant
from serving_api.params import Amount
from serving_api.problems import Problem
from warehouse import agent_store

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])

Status = Literal["proposed", "approved", "rejected", "applied", "rolled_back", "superseded"]
RecommendationId = Annotated[int, Path(ge=1, le=2**63 - 1)]
assert set(Status.__args__) == set(agent_store.STATUSES)  # type: ignore[attr-defined]


class RecommendationOut(BaseModel):
    recommendation_id: int = Field(examples=[17])
    cycle_date: date = Field(examples=["2026-06-29"])
    platform: str = Field(examples=["meta"])
    channel: str = Field(examples=["paid_social"])
    account_id: str = Field(examples=["act_1234"])
    campaign_id: str = Field(examples=["23851"])
    currency: str = Field(examples=["USD"])
    current_budget: Amount = Field(description="Daily budget now.", examples=["120.00"])
    proposed_budget: Amount = Field(description="Daily budget proposed.", examples=["138.00"])
    expected_revenue_change: Amount = Field(description="Per day.", examples=["45.20"])
    confidence: float = Field(ge=0, le=1, examples=[0.74])
    rationale: str = Field(examples=["Marginal ROAS 2.1 against 1.3 elsewhere."])
    status: Status
    requires_approval: bool
    created_by: str = Field(examples=["planner"])
    created_at: datetime
    decided_by: str | None = Field(examples=["ana@example.com"])
    decided_at: datetime | None
    decision_note: str | None
    applied_at: datetime | None
    applied_budget: Amount | None
    rolled_back_at: datetime | None

    @classmethod
    def of(cls, rec: agent_store.Recommendation) -> RecommendationOut:
        return cls(**{**rec.as_dict(), "currency": rec.currency.strip()})


class Decision(BaseModel):
    note: str | None = Field(
        default=None, max_length=1000, description="Why; kept in the audit log."
    )


@router.get("", operation_id="list_recommendations", response_model=list[RecommendationOut])
async def list_recommendations(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    status_filter: Annotated[
        Status | None, Query(alias="status", description="Only recommendations in this state.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[RecommendationOut]:
    """The tenant's recommendations, newest first."""
    query, params = agent_store.recommendations_query(principal.tenant_id, status_filter, limit)
    cursor = conn.cursor(row_factory=class_row(agent_store.Recommendation))
    await cursor.execute(query, params)
    return [RecommendationOut.of(rec) for rec in await cursor.fetchall()]


async def _decide(
    request: Request,
    principal: AnalystPrincipal,
    action,
    recommendation_id: int,
    decision: Decision | None,
) -> RecommendationOut:
    try:
        rec = await run_in_tenant(
            request,
            principal,
            action,
            recommendation_id,
            principal.subject,
            decision.note if decision else None,
            tenant_id=principal.tenant_id,
        )
    except agent_store.UnknownRecommendation as error:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no recommendation {recommendation_id} for this tenant"
        ) from error
    except agent_store.RecommendationError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return RecommendationOut.of(rec)


_DECISION_RESPONSES: dict[int | str, dict] = {
    409: {"model": Problem, "description": "The recommendation's state does not allow it."}
}


@router.post(
    "/{recommendation_id}/approve",
    operation_id="approve_recommendation",
    response_model=RecommendationOut,
    responses=_DECISION_RESPONSES,
)
async def approve(
    request: Request,
    principal: AnalystPrincipal,
    recommendation_id: RecommendationId,
    decision: Decision | None = None,
) -> RecommendationOut:
    """Approve a proposed change (analysts and admins); the apply sensor pushes it to the
    platform. The caller is recorded as the decider and in the audit log."""
    return await _decide(request, principal, agent_store.approve, recommendation_id, decision)


@router.post(
    "/{recommendation_id}/reject",
    operation_id="reject_recommendation",
    response_model=RecommendationOut,
    responses=_DECISION_RESPONSES,
)
async def reject(
    request: Request,
    principal: AnalystPrincipal,
    recommendation_id: RecommendationId,
    decision: Decision | None = None,
) -> RecommendationOut:
    """Reject a proposed (or approved, not yet applied) change (analysts and admins)."""
    return await _decide(request, principal, agent_store.reject, recommendation_id, decision)


@router.post(
    "/{recommendation_id}/rollback",
    operation_id="rollback_recommendation",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RecommendationOut,
    responses=_DECISION_RESPONSES,
)
async def rollback(
    request: Request,
    principal: AnalystPrincipal,
    recommendation_id: RecommendationId,
    decision: Decision | None = None,
) -> RecommendationOut:
    """Ask for an applied change to be rolled back (analysts and admins). Accepted: the apply
    sensor puts the previous budget back on the platform, as the caller, and marks it
    rolled back; until then it stays applied."""
    return await _decide(
        request, principal, agent_store.request_rollback, recommendation_id, decision
    )
