"""Ad performance from marts.ad_performance_daily. Row-level security limits every query to
the caller's tenant; none of them filters on tenant_id itself."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from psycopg import AsyncConnection, sql
from pydantic import BaseModel, Field

from serving_api.auth import CurrentPrincipal
from serving_api.db import TenantConnection
from serving_api.params import Amount, CampaignId, DateRange, Dates, Platform, tenant_currency

router = APIRouter(prefix="/v1/performance", tags=["performance"])

Grain = Literal["day", "week"]
Level = Literal["platform", "campaign", "ad"]

# Fixed SQL fragments chosen by validated enums; values always travel as parameters.
_BUCKET = {"day": sql.SQL("date"), "week": sql.SQL("date_trunc('week', date)::date")}
_KEYS = {
    "platform": ("platform",),
    "campaign": ("platform", "campaign_id"),
    "ad": ("platform", "campaign_id", "ad_id"),
}
_NAMES = {"platform": (), "campaign": ("campaign_name",), "ad": ("campaign_name", "ad_name")}

_PERFORMANCE_SQL = """
SELECT {bucket} AS period_start, date >= %(start)s AS current, {keys}{names},
       sum(spend) AS spend, sum(impressions)::bigint AS impressions,
       sum(clicks)::bigint AS clicks, sum(conversions) AS conversions,
       sum(conversion_value) AS conversion_value
FROM marts.ad_performance_daily
WHERE date BETWEEN %(previous_start)s AND %(end)s
  AND (%(platform)s::text IS NULL OR platform = %(platform)s)
  AND (%(campaign_id)s::text IS NULL OR campaign_id = %(campaign_id)s)
GROUP BY 1, 2, {keys}
ORDER BY 1, {keys}
"""


class Metrics(BaseModel):
    spend: Amount = Field(description="Tenant currency, exact.", examples=["1234.56"])
    impressions: int = Field(examples=[120000])
    clicks: int = Field(examples=[3400])
    conversions: Amount = Field(description="As the platforms report them.", examples=["51"])
    conversion_value: Amount = Field(examples=["8800.00"])
    ctr: float | None = Field(description="clicks / impressions", examples=[0.0283])
    cpc: Amount | None = Field(description="spend / clicks", examples=["0.36"])
    roas: Amount | None = Field(description="conversion_value / spend", examples=["7.13"])


class Key(BaseModel):
    platform: Platform
    campaign_id: str | None = None
    campaign_name: str | None = None
    ad_id: str | None = None
    ad_name: str | None = None


class SeriesPoint(Key, Metrics):
    period_start: date = Field(description="The day, or the ISO week's Monday.")


class Comparison(Key):
    current: Metrics
    previous: Metrics
    spend_change: float | None = Field(
        description="(current - previous) / previous spend; null when previous is 0.",
        examples=[0.12],
    )


class PerformanceResponse(BaseModel):
    currency: str | None = Field(examples=["USD"])
    grain: Grain
    level: Level
    start: date
    end: date
    previous_start: date
    previous_end: date
    totals: Metrics
    previous_totals: Metrics
    change: dict[str, float | None] = Field(
        description="Relative change of each summed metric against the previous period.",
        examples=[{"spend": 0.12, "clicks": -0.03}],
    )
    series: list[SeriesPoint]
    breakdown: list[Comparison] = Field(description="Per key, by current spend, largest first.")


class _Sums:
    __slots__ = ("clicks", "conversion_value", "conversions", "impressions", "spend")

    def __init__(self) -> None:
        self.spend = Decimal(0)
        self.impressions = 0
        self.clicks = 0
        self.conversions = Decimal(0)
        self.conversion_value = Decimal(0)

    def add(self, row: dict) -> None:
        self.spend += row["spend"] or 0
        self.impressions += row["impressions"] or 0
        self.clicks += row["clicks"] or 0
        self.conversions += row["conversions"] or 0
        self.conversion_value += row["conversion_value"] or 0

    def metrics(self) -> Metrics:
        return Metrics(
            spend=self.spend,
            impressions=self.impressions,
            clicks=self.clicks,
            conversions=self.conversions,
            conversion_value=self.conversion_value,
            ctr=self.clicks / self.impressions if self.impressions else None,
            cpc=round(self.spend / self.clicks, 4) if self.clicks else None,
            roas=round(self.conversion_value / self.spend, 4) if self.spend else None,
        )


def _change(current: Decimal | int, previous: Decimal | int) -> float | None:
    return float((current - previous) / previous) if previous else None


@router.get("", operation_id="get_performance", response_model=PerformanceResponse)
async def performance(
    principal: CurrentPrincipal,
    conn: TenantConnection,
    dates: Dates,
    grain: Annotated[Grain, Query(description="Series points per day or ISO week.")] = "day",
    level: Annotated[Level, Query(description="Break down by platform, campaign or ad.")] = (
        "platform"
    ),
    platform: Annotated[Platform | None, Query(description="Only this platform.")] = None,
    campaign_id: CampaignId = None,
) -> PerformanceResponse:
    """Spend, delivery and platform-reported conversions over a date range, as a series per
    day or week and a breakdown by platform, campaign or ad, each next to the previous period
    of the same length."""
    return await load_performance(conn, dates, grain, level, platform, campaign_id)


def performance_query(
    dates: DateRange,
    grain: Grain,
    level: Level,
    platform: Platform | None = None,
    campaign_id: str | None = None,
) -> tuple[sql.Composed, dict]:
    """The one query behind a performance answer (also run bare by bench/api.py)."""
    query = sql.SQL(_PERFORMANCE_SQL).format(
        bucket=_BUCKET[grain],
        keys=sql.SQL(", ").join(map(sql.Identifier, _KEYS[level])),
        names=sql.SQL("").join(
            sql.SQL(", max({0}) AS {0}").format(sql.Identifier(n)) for n in _NAMES[level]
        ),
    )
    params = {
        "start": dates.start,
        "end": dates.end,
        "previous_start": dates.previous().start,
        "platform": platform,
        "campaign_id": campaign_id,
    }
    return query, params


async def load_performance(
    conn: AsyncConnection,
    dates: DateRange,
    grain: Grain = "day",
    level: Level = "platform",
    platform: Platform | None = None,
    campaign_id: str | None = None,
) -> PerformanceResponse:
    """The performance answer for the connection's tenant (the API and the dashboard)."""
    previous = dates.previous()
    keys = _KEYS[level]
    query, params = performance_query(dates, grain, level, platform, campaign_id)
    rows = await (await conn.execute(query, params, prepare=True)).fetchall()
    currency = await tenant_currency(conn)

    totals, previous_totals = _Sums(), _Sums()
    by_key: dict[tuple, tuple[_Sums, _Sums]] = defaultdict(lambda: (_Sums(), _Sums()))
    names: dict[tuple, dict] = {}
    series = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        names[key] = {k: row[k] for k in (*keys, *_NAMES[level])}
        current_sums, previous_sums = by_key[key]
        if row["current"]:
            totals.add(row)
            current_sums.add(row)
            point = _Sums()
            point.add(row)
            series.append(
                SeriesPoint(
                    period_start=row["period_start"], **names[key], **point.metrics().model_dump()
                )
            )
        else:
            previous_totals.add(row)
            previous_sums.add(row)
    breakdown = [
        Comparison(
            **names[key],
            current=current_sums.metrics(),
            previous=previous_sums.metrics(),
            spend_change=_change(current_sums.spend, previous_sums.spend),
        )
        for key, (current_sums, previous_sums) in sorted(
            by_key.items(), key=lambda item: (-item[1][0].spend, item[0])
        )
    ]
    return PerformanceResponse(
        currency=currency,
        grain=grain,
        level=level,
        start=dates.start,
        end=dates.end,
        previous_start=previous.start,
        previous_end=previous.end,
        totals=totals.metrics(),
        previous_totals=previous_totals.metrics(),
        change={
            name: _change(getattr(totals, name), getattr(previous_totals, name))
            for name in _Sums.__slots__
        },
        series=series,
        breakdown=breakdown,
    )
