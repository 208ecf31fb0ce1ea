"""Response curves for charts (app.response_curves): each paid channel's latest fitted
parameters and the curve sampled on a spend grid, with bands from the bootstrap draws."""

from __future__ import annotations

import math
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import tenant_currency
from warehouse.agent_store import LATEST_CURVES_SQL

router = APIRouter(prefix="/v1/curves", tags=["curves"])


class CurveParameters(BaseModel):
    theta: float = Field(description="Adstock carry-over per day.", examples=[0.35])
    beta: float = Field(description="Most incremental responses a day can bring.", examples=[4.2])
    half_saturation: float = Field(description="Adstock at half of beta.", examples=[310.0])
    shape: float = Field(description="Hill exponent.", examples=[1.6])
    baseline: float = Field(description="Responses credited whatever the spend.", examples=[0.4])


class CurvePoint(BaseModel):
    spend: float = Field(description="Constant daily spend.", examples=[250.0])
    expected_revenue: float = Field(
        description="Incremental revenue a day once that spend has built its adstock.",
        examples=[612.5],
    )
    lower: float | None = Field(description="10th percentile of the bootstrap draws.")
    upper: float | None = Field(description="90th percentile of the bootstrap draws.")


class ChannelCurve(BaseModel):
    channel: str = Field(examples=["paid_search"])
    window_start: date
    window_end: date
    attribution_model: str = Field(examples=["additive_hazard"])
    parameters: CurveParameters
    value_per_response: float = Field(description="Revenue per response.", examples=[145.0])
    r2: float | None = Field(examples=[0.71])
    mape_holdout: float | None = Field(examples=[0.18])
    n_days: int = Field(examples=[90])
    spend_min: float = Field(description="Lowest observed daily spend.")
    spend_max: float = Field(description="Highest observed daily spend.")
    draws: int = Field(description="Bootstrap draws behind the band (0: no band).")
    fitted_at: datetime
    points: list[CurvePoint]


class CurvesResponse(BaseModel):
    currency: str | None = Field(examples=["USD"])
    curves: list[ChannelCurve]


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@router.get("", operation_id="get_response_curves", response_model=CurvesResponse)
async def curves(principal: CurrentPrincipal, conn: TenantConnection) -> CurvesResponse:
    """Each paid channel's latest response curve: its parameters and fit quality, and
    expected incremental revenue per day across a grid of daily spends (0 to 1.5× the
    highest observed), with a band from the bootstrap draws; the agents draw the grid when
    they fit the curve."""
    rows = await (
        await conn.execute(LATEST_CURVES_SQL, {"tenant": principal.tenant_id}, prepare=True)
    ).fetchall()
    channels = []
    for row in rows:
        channels.append(
            ChannelCurve(
                **{k: row[k] for k in ("channel", "window_start", "window_end")},
                attribution_model=row["attribution_model"],
                parameters=CurveParameters(
                    **{k: row[k] for k in ("theta", "beta", "half_saturation", "shape", "baseline")}
                ),
                value_per_response=row["value_per_response"],
                r2=_finite(row["r2"]),
                mape_holdout=_finite(row["mape_holdout"]),
                n_days=row["n_days"],
                spend_min=row["spend_min"],
                spend_max=row["spend_max"],
                draws=len(row["draws"]),
                fitted_at=row["fitted_at"],
                points=[CurvePoint(**point) for point in row["chart"]],
            )
        )
    return CurvesResponse(currency=await tenant_currency(conn), curves=channels)
