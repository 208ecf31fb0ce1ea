"""Query parameters shared by several routes, validated before any SQL runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query, status
from pydantic import BeforeValidator, PlainSerializer

from serving_api.settings import ApiSettings, get_api_settings

Platform = Literal["google_ads", "meta", "linkedin"]
# Exact decimals in JSON as plain digits: Postgres numerics like 0E-18 would otherwise come
# out in exponent notation, which clients (and the OpenAPI pattern) do not read as amounts.
Amount = Annotated[Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str)]
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day_only(value: object) -> object:
    # Pydantic reads a number as seconds since 1970 (`?end=0` would be 1970-01-01): a day
    # in a query is YYYY-MM-DD, as the OpenAPI `format: date` says, and nothing else.
    if isinstance(value, str) and not _ISO_DAY.match(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_day_only)]
CampaignId = Annotated[
    str | None,
    Query(max_length=64, pattern=r"^[0-9A-Za-z_-]+$", description="Only this campaign."),
]


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        """The same number of days, ending the day before this range starts."""
        return DateRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


def date_range(
    settings: Annotated[ApiSettings, Depends(get_api_settings)],
    start: Annotated[IsoDate, Query(description="First day, inclusive.", examples=["2026-06-01"])],
    end: Annotated[IsoDate, Query(description="Last day, inclusive.", examples=["2026-06-30"])],
) -> DateRange:
    if end < start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end is before start")
    if (end - start).days >= settings.max_range_days:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"date range is longer than {settings.max_range_days} days",
        )
    if start.year < 1900 or end.year > 2999:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "dates must be in 1900-2999")
    return DateRange(start, end)


Dates = Annotated[DateRange, Depends(date_range)]


async def tenant_currency(conn) -> str | None:
    """The tenant's reporting currency. No WHERE: row-level security leaves one row."""
    row = await (await conn.execute("SELECT reporting_currency FROM app.tenants")).fetchone()
    return row["reporting_currency"] if row else None
