"""The CRM funnel from marts.funnel: leads created in a range, how far they got, how fast."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from psycopg import AsyncConnection, sql
from pydantic import BaseModel, Field

from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import Amount, DateRange, Dates, tenant_currency

router = APIRouter(prefix="/v1/funnel", tags=["funnel"])

GroupBy = Literal["none", "source"]
_GROUP = {"none": sql.SQL("NULL::text"), "source": sql.SQL("original_source")}

# A lead may have several deals (one row each): stage counts are distinct leads that reached
# the stage; revenue sums won deals in the tenant's currency only.
_FUNNEL_SQL = """
SELECT {group} AS source,
       count(DISTINCT contact_id) AS leads,
       count(DISTINCT contact_id) FILTER (
           WHERE opportunity_at IS NOT NULL OR won_at IS NOT NULL) AS opportunities,
       count(DISTINCT contact_id) FILTER (WHERE won_at IS NOT NULL) AS won,
       count(DISTINCT contact_id) FILTER (
           WHERE lost_at IS NOT NULL AND won_at IS NULL) AS lost,
       coalesce(sum(amount) FILTER (
           WHERE won_at IS NOT NULL AND currency_code = %(currency)s), 0) AS won_revenue,
       avg(days_lead_to_opportunity) AS avg_days_lead_to_opportunity,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_lead_to_opportunity)
           AS median_days_lead_to_opportunity,
       avg(days_opportunity_to_close) FILTER (WHERE won_at IS NOT NULL)
           AS avg_days_opportunity_to_won,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days_opportunity_to_close)
           FILTER (WHERE won_at IS NOT NULL) AS median_days_opportunity_to_won
FROM marts.funnel
WHERE lead_created_at >= %(start)s::date AND lead_created_at < %(end)s::date + 1
GROUP BY 1
ORDER BY leads DESC, 1
"""


class FunnelStages(BaseModel):
    source: str | None = Field(description="The lead's original source (group_by=source).")
    leads: int = Field(examples=[420])
    opportunities: int = Field(examples=[96])
    won: int = Field(examples=[21])
    lost: int = Field(examples=[40])
    lead_to_opportunity_rate: float | None = Field(examples=[0.229])
    opportunity_to_won_rate: float | None = Field(examples=[0.219])
    lead_to_won_rate: float | None = Field(examples=[0.05])
    won_revenue: Amount = Field(examples=["184000.00"])
    avg_days_lead_to_opportunity: float | None = Field(examples=[9.4])
    median_days_lead_to_opportunity: float | None = Field(examples=[7.0])
    avg_days_opportunity_to_won: float | None = Field(examples=[31.2])
    median_days_opportunity_to_won: float | None = Field(examples=[28.0])


class FunnelResponse(BaseModel):
    currency: str | None = Field(examples=["USD"])
    start: str = Field(examples=["2026-06-01"])
    end: str = Field(examples=["2026-06-30"])
    group_by: GroupBy
    stages: list[FunnelStages]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@router.get("", operation_id="get_funnel", response_model=FunnelResponse)
async def funnel(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    dates: Dates,
    group_by: Annotated[GroupBy, Query(description="One row, or one per lead source.")] = "none",
) -> FunnelResponse:
    """Leads created in the range: how many reached opportunity and closed-won, conversion
    rates between stages, won revenue, and velocity (days between stages)."""
    return await load_funnel(conn, dates, group_by)


def funnel_query(
    dates: DateRange, group_by: GroupBy, currency: str | None
) -> tuple[sql.Composed, dict]:
    """The one query behind a funnel answer (also run bare by bench/api.py)."""
    query = sql.SQL(_FUNNEL_SQL).format(group=_GROUP[group_by])
    return query, {"start": dates.start, "end": dates.end, "currency": currency}


async def load_funnel(
    conn: AsyncConnection, dates: DateRange, group_by: GroupBy = "none"
) -> FunnelResponse:
    """The funnel answer for the connection's tenant (the API and the dashboard)."""
    currency = await tenant_currency(conn)
    query, params = funnel_query(dates, group_by, currency)
    rows = await (await conn.execute(query, params, prepare=True)).fetchall()
    stages = [
        FunnelStages(
            **{
                k: (float(v) if k.startswith(("avg_", "median_")) and v is not None else v)
                for k, v in row.items()
            },
            lead_to_opportunity_rate=_rate(row["opportunities"], row["leads"]),
            opportunity_to_won_rate=_rate(row["won"], row["opportunities"]),
            lead_to_won_rate=_rate(row["won"], row["leads"]),
        )
        for row in rows
    ]
    return FunnelResponse(
        currency=currency,
        start=dates.start.isoformat(),
        end=dates.end.isoformat(),
        group_by=group_by,
        stages=stages,
    )
