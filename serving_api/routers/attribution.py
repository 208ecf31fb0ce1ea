"""Attribution from marts.attribution_credits: which touches earned the conversions, under
one model or every model side by side. Credits sum to 1 per conversion and model."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from psycopg import AsyncConnection, sql
from pydantic import BaseModel, Field

from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import Amount, DateRange, Dates, tenant_currency
from warehouse.attribution import ATTRIBUTION_MODELS

router = APIRouter(prefix="/v1/attribution", tags=["attribution"])

Model = Literal[ATTRIBUTION_MODELS]
Stage = Literal["lead", "opportunity", "closed_won"]
AttributionLevel = Literal["channel", "platform", "campaign", "ad"]

_KEYS = {
    "channel": ("channel",),
    "platform": ("platform",),
    "campaign": ("platform", "campaign_id"),
    "ad": ("platform", "campaign_id", "ad_id"),
}

_ATTRIBUTION_SQL = """
SELECT {keys}, sum(credit) AS conversions, sum(credit * coalesce(revenue, 0)) AS revenue
FROM marts.attribution_credits
WHERE model = %(model)s AND stage = %(stage)s
  AND conversion_date BETWEEN %(start)s AND %(end)s
GROUP BY {keys}
ORDER BY conversions DESC, {keys}
"""

_COMPARE_SQL = """
SELECT channel, model, sum(credit) AS conversions,
       sum(credit * coalesce(revenue, 0)) AS revenue
FROM marts.attribution_credits
WHERE stage = %(stage)s AND conversion_date BETWEEN %(start)s AND %(end)s
GROUP BY channel, model
ORDER BY channel, model
"""


class AttributedRow(BaseModel):
    channel: str | None = Field(default=None, examples=["paid_search"])
    platform: str | None = Field(default=None, examples=["google_ads"])
    campaign_id: str | None = None
    ad_id: str | None = None
    conversions: Amount = Field(description="Credited conversions (fractional).", examples=["12.5"])
    share: float = Field(description="Of all credited conversions in the answer.", examples=[0.31])
    revenue: Amount = Field(description="Credit × conversion revenue.", examples=["52000.00"])


class AttributionResponse(BaseModel):
    model: Model
    stage: Stage
    level: AttributionLevel
    start: str = Field(examples=["2026-06-01"])
    end: str = Field(examples=["2026-06-30"])
    currency: str | None = Field(examples=["USD"])
    total_conversions: Amount
    rows: list[AttributedRow]


class ModelCredit(BaseModel):
    conversions: Amount = Field(examples=["8.25"])
    share: float = Field(description="Of the model's credited conversions.", examples=[0.2])
    revenue: Amount = Field(examples=["31000.00"])


class ChannelComparison(BaseModel):
    channel: str | None = Field(examples=["paid_social"])
    models: dict[str, ModelCredit] = Field(description="Keyed by attribution model.")


class AttributionComparison(BaseModel):
    stage: Stage
    start: str = Field(examples=["2026-06-01"])
    end: str = Field(examples=["2026-06-30"])
    currency: str | None = Field(examples=["USD"])
    models: list[Model]
    channels: list[ChannelComparison]


ModelQuery = Annotated[Model, Query(description="Attribution model.")]
StageQuery = Annotated[Stage, Query(description="Which conversion: lead, opportunity or won.")]


@router.get("", operation_id="get_attribution", response_model=AttributionResponse)
async def attribution(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    dates: Dates,
    model: ModelQuery = "linear",
    stage: StageQuery = "closed_won",
    level: Annotated[AttributionLevel, Query(description="Group credit by.")] = "channel",
) -> AttributionResponse:
    """Conversions in the range (by conversion date) and their revenue, credited to
    channels, platforms, campaigns or ads under one attribution model."""
    keys = _KEYS[level]
    query = sql.SQL(_ATTRIBUTION_SQL).format(keys=sql.SQL(", ").join(map(sql.Identifier, keys)))
    params = {"model": model, "stage": stage, "start": dates.start, "end": dates.end}
    rows = await (await conn.execute(query, params, prepare=True)).fetchall()
    total = sum((row["conversions"] for row in rows), Decimal(0))
    return AttributionResponse(
        model=model,
        stage=stage,
        level=level,
        start=dates.start.isoformat(),
        end=dates.end.isoformat(),
        currency=await tenant_currency(conn),
        total_conversions=total,
        rows=[
            AttributedRow(**row, share=float(row["conversions"] / total) if total else 0.0)
            for row in rows
        ],
    )


@router.get(
    "/compare", operation_id="compare_attribution_models", response_model=AttributionComparison
)
async def compare(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    dates: Dates,
    stage: StageQuery = "closed_won",
) -> AttributionComparison:
    """Every attribution model side by side: each channel's credited conversions, share and
    revenue under each model."""
    return await load_comparison(conn, dates, stage)


async def load_comparison(
    conn: AsyncConnection, dates: DateRange, stage: Stage = "closed_won"
) -> AttributionComparison:
    """The comparison for the connection's tenant (the API and the dashboard)."""
    params = {"stage": stage, "start": dates.start, "end": dates.end}
    rows = await (await conn.execute(_COMPARE_SQL, params, prepare=True)).fetchall()
    per_model: dict[str, Decimal] = {}
    for row in rows:
        per_model[row["model"]] = per_model.get(row["model"], Decimal(0)) + row["conversions"]
    channels: dict[str | None, dict[str, ModelCredit]] = {}
    for row in rows:
        whole = per_model[row["model"]]
        channels.setdefault(row["channel"], {})[row["model"]] = ModelCredit(
            conversions=row["conversions"],
            share=float(row["conversions"] / whole) if whole else 0.0,
            revenue=row["revenue"],
        )
    return AttributionComparison(
        stage=stage,
        start=dates.start.isoformat(),
        end=dates.end.isoformat(),
        currency=await tenant_currency(conn),
        models=[m for m in Model.__args__ if m in per_model],  # type: ignore[attr-defined]
        channels=[ChannelComparison(channel=c, models=m) for c, m in channels.items()],
    )
