"""Response curves for charts (app.response_curves): each paid channel's latest fitted
parameters and the curve sampled on a spend grid, with bands from the bootstrap draws."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from agents.curves import LATEST_CURVES_SQL, curve_from_record
from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import tenant_currency

router = APIRouter(prefix="/v1/curves", tags=["curves"])

# How far past the highest observed daily spend the grid reaches: far enough to show the
# saturation the optimizer would run into, not so far that the curve is mostly guesswork.
GRID_REACH = 1.5
BAND = (10, 90)  # percentiles of the bootstrap draws


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
    lower: float | None = Field(description=f"{BAND[0]}th percentile of the draws.")
    upper: float | None = Field(description=f"{BAND[1]}th percentile of the draws.")


class ChannelCurve(BaseModel):
    channel: str = Field(examples=["paid_search"])
    window_start: date
    window_end: date
    attribution_model: str = Field(examples=["markov"])
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


def sample_curve(record: dict, points: int) -> tuple[list[CurvePoint], int]:
    """The stored curve on `points` spends from 0 to GRID_REACH × the highest observed."""
    curve = curve_from_record(record)
    value = record["value_per_response"]
    top = max(record["spend_max"], 1.0) * GRID_REACH
    spend = np.linspace(0.0, top, points)
    mean = curve.params.steady_response(spend) * value
    band = None
    if curve.draws:
        draws = curve.steady_response_draws(spend) * value
        band = np.percentile(draws, BAND, axis=0)
    return [
        CurvePoint(
            spend=float(s),
            expected_revenue=float(m),
            lower=_finite(band[0][i]) if band is not None else None,
            upper=_finite(band[1][i]) if band is not None else None,
        )
        for i, (s, m) in enumerate(zip(spend, mean, strict=True))
    ], len(curve.draws)


@router.get("", operation_id="get_response_curves", response_model=CurvesResponse)
async def curves(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    points: Annotated[int, Query(ge=2, le=200, description="Spends sampled per curve.")] = 25,
) -> CurvesResponse:
    """Each paid channel's latest response curve: its parameters and fit quality, and
    expected incremental revenue per day across a grid of daily spends, with a band from the
    bootstrap draws."""
    rows = await (
        await conn.execute(LATEST_CURVES_SQL, {"tenant": principal.tenant_id}, prepare=True)
    ).fetchall()
    channels = []
    for row in rows:
        sampled, draws = sample_curve(row, points)
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
                draws=draws,
                fitted_at=row["fitted_at"],
                points=sampled,
            )
        )
    return CurvesResponse(currency=await tenant_currency(conn), curves=channels)
