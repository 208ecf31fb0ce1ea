"""Daily performance from marts.ad_performance_daily, for the token's tenant only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from serving_api.auth import CurrentPrincipal
from serving_api.db import DbConnection
from serving_api.settings import ApiSettings, get_api_settings

router = APIRouter(prefix="/v1/performance", tags=["performance"])

Platform = Literal["google_ads", "meta", "linkedin"]


class DailyPerformance(BaseModel):
    date: date
    platform: Platform
    spend: Decimal
    impressions: int
    clicks: int
    conversions: Decimal
    conversion_value: Decimal


class DailyPerformanceResponse(BaseModel):
    tenant_id: str
    currency: str | None
    start: date
    end: date
    rows: list[DailyPerformance]
    total_spend: Decimal


_DAILY_SQL = """
SELECT date, platform, sum(spend) AS spend, sum(impressions) AS impressions,
       sum(clicks) AS clicks, sum(conversions) AS conversions,
       sum(conversion_value) AS conversion_value
FROM marts.ad_performance_daily
WHERE tenant_id = %(tenant_id)s
  AND date BETWEEN %(start)s AND %(end)s
  AND (%(platform)s::text IS NULL OR platform = %(platform)s)
  AND (%(campaign_id)s::text IS NULL OR campaign_id = %(campaign_id)s)
GROUP BY date, platform
ORDER BY date, platform
"""


@router.get("/daily", operation_id="get_daily_performance", response_model=DailyPerformanceResponse)
async def daily_performance(
    principal: CurrentPrincipal,
    conn: DbConnection,
    settings: Annotated[ApiSettings, Depends(get_api_settings)],
    start: Annotated[date, Query(description="First day, inclusive (tenant's time zone).")],
    end: Annotated[date, Query(description="Last day, inclusive.")],
    platform: Annotated[Platform | None, Query()] = None,
    campaign_id: Annotated[str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")] = None,
) -> DailyPerformanceResponse:
    """Spend (tenant currency, exact decimals), impressions, clicks and platform conversions
    per day and platform."""
    if end < start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end is before start")
    if (end - start).days >= settings.max_range_days:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"date range is longer than {settings.max_range_days} days",
        )
    params = {
        "tenant_id": principal.tenant_id,
        "start": start,
        "end": end,
        "platform": platform,
        "campaign_id": campaign_id,
    }
    rows = await (await conn.execute(_DAILY_SQL, params)).fetchall()
    currency = await (
        await conn.execute(
            "SELECT reporting_currency FROM app.tenants WHERE tenant_id = %s",
            (principal.tenant_id,),
        )
    ).fetchone()
    return DailyPerformanceResponse(
        tenant_id=principal.tenant_id,
        currency=currency["reporting_currency"] if currency else None,
        start=start,
        end=end,
        rows=[DailyPerformance(**row) for row in rows],
        total_spend=sum((row["spend"] for row in rows), Decimal(0)),
    )
