"""Return on spend from marts.channel_roi / marts.campaign_roi (monthly): spend, leads, won
deals and attributed revenue summed over the months in the range, ratios recomputed from the
sums (a ratio of sums, never an average of monthly ratios)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from psycopg import sql
from pydantic import BaseModel, Field

from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import Amount, Dates
from serving_api.routers.attribution import ModelQuery

router = APIRouter(prefix="/v1/roi", tags=["roi"])

RoiLevel = Literal["channel", "campaign"]
_TABLES = {
    "channel": (sql.Identifier("marts", "channel_roi"), ("channel",)),
    "campaign": (
        sql.Identifier("marts", "campaign_roi"),
        ("platform", "campaign_id"),
    ),
}

_ROI_SQL = """
SELECT {keys}{names}, max(currency) AS currency,
       coalesce(sum(spend), 0) AS spend, coalesce(sum(impressions), 0)::bigint AS impressions,
       coalesce(sum(clicks), 0)::bigint AS clicks, coalesce(sum(leads), 0) AS leads,
       coalesce(sum(opportunities), 0) AS opportunities,
       coalesce(sum(won_deals), 0) AS won_deals,
       coalesce(sum(attributed_revenue), 0) AS attributed_revenue,
       coalesce(sum(pipeline_value), 0) AS pipeline_value
FROM {table}
WHERE model = %(model)s
  AND period_start BETWEEN date_trunc('month', %(start)s::date)::date AND %(end)s
GROUP BY {keys}
ORDER BY spend DESC, {keys}
"""


class RoiRow(BaseModel):
    channel: str | None = Field(default=None, examples=["paid_search"])
    platform: str | None = None
    campaign_id: str | None = None
    campaign_name: str | None = None
    currency: str | None = Field(examples=["USD"])
    spend: Amount = Field(examples=["12000.00"])
    impressions: int
    clicks: int
    leads: Amount = Field(description="Attributed leads (fractional credit).", examples=["140"])
    opportunities: Amount
    won_deals: Amount
    attributed_revenue: Amount = Field(examples=["56000.00"])
    pipeline_value: Amount
    cpl: Amount | None = Field(description="spend / leads", examples=["85.71"])
    cac: Amount | None = Field(description="spend / won deals", examples=["1200.00"])
    roas: Amount | None = Field(description="attributed revenue / spend", examples=["4.67"])
    roi: Amount | None = Field(description="(revenue - spend) / spend", examples=["3.67"])


class RoiResponse(BaseModel):
    level: RoiLevel
    model: str = Field(examples=["linear"])
    start: str = Field(description="First month included (the range's start month).")
    end: str
    rows: list[RoiRow]


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return round(numerator / denominator, 4) if denominator else None


@router.get("", operation_id="get_roi", response_model=RoiResponse)
async def roi(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    dates: Dates,
    model: ModelQuery = "linear",
    level: Annotated[RoiLevel, Query(description="By channel or by campaign.")] = "channel",
) -> RoiResponse:
    """Spend against what it earned under an attribution model, per channel or campaign, over
    the months the range touches: CPL, CAC, ROAS and ROI."""
    table, keys = _TABLES[level]
    query = sql.SQL(_ROI_SQL).format(
        table=table,
        keys=sql.SQL(", ").join(map(sql.Identifier, keys)),
        names=sql.SQL(", max(campaign_name) AS campaign_name" if level == "campaign" else ""),
    )
    params = {"model": model, "start": dates.start, "end": dates.end}
    rows = await (await conn.execute(query, params, prepare=True)).fetchall()
    return RoiResponse(
        level=level,
        model=model,
        start=dates.start.replace(day=1).isoformat(),
        end=dates.end.isoformat(),
        rows=[
            RoiRow(
                **row,
                cpl=_ratio(row["spend"], row["leads"]),
                cac=_ratio(row["spend"], row["won_deals"]),
                roas=_ratio(row["attributed_revenue"], row["spend"]),
                roi=_ratio(row["attributed_revenue"] - row["spend"], row["spend"]),
            )
            for row in rows
        ],
    )
