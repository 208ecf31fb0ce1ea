"""The weekly Markdown report the ReportingAgent wrote (app.agent_reports)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from warehouse.agent_store import LATEST_REPORT_SQL

router = APIRouter(prefix="/v1/reports", tags=["reports"])


class Report(BaseModel):
    week_start: date = Field(examples=["2026-06-22"])
    markdown: str = Field(examples=["# acme-logistics: week of 2026-06-22\n\n## What changed\n"])
    created_by: str = Field(description="The template, or the model that wrote it.")
    created_at: datetime


@router.get("/latest", operation_id="get_latest_report", response_model=Report)
async def latest_report(principal: CurrentPrincipal, conn: TenantConnection) -> Report:
    """The newest weekly summary for the tenant; 404 before the first one is written."""
    row = await (
        await conn.execute(LATEST_REPORT_SQL, {"tenant": principal.tenant_id}, prepare=True)
    ).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no weekly report for this tenant yet")
    return Report(**row)
