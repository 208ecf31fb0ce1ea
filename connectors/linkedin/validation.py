"""What makes a LinkedIn row unfit to load (it goes to quarantine with the reasons)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from connectors.linkedin.client import LinkedInCreativeDailyRow, LinkedInCreativeRow

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def creative_daily_problems(
    start: date, end: date
) -> Callable[[LinkedInCreativeDailyRow], list[str]]:
    """A judge for creative × day rows of one requested window; returns why a row is bad.

    A row outside the window would survive the next replacement of its own slice and
    double-count, and a row without campaign or creative ids cannot be attributed anywhere.
    """

    def problems(row: LinkedInCreativeDailyRow) -> list[str]:
        found = []
        if not start <= row.date <= end:
            found.append(f"date {row.date} outside the requested {start}..{end}")
        if (
            row.cost < 0
            or row.impressions < 0
            or row.clicks < 0
            or row.external_website_conversions < 0
            or row.conversion_value < 0
        ):
            found.append("negative cost, impressions, clicks, conversions or conversion value")
        if not row.creative_id or not row.campaign_id or not row.campaign_group_id:
            found.append("missing campaign group, campaign or creative id")
        if not _CURRENCY.match(row.currency_code or ""):
            found.append(f"currency code {row.currency_code!r} is not ISO 4217")
        return found

    return problems


def creative_problems(as_of: date) -> Callable[[LinkedInCreativeRow], list[str]]:
    """A judge for creative snapshot rows taken on ``as_of``."""

    def problems(row: LinkedInCreativeRow) -> list[str]:
        found = []
        if row.date != as_of:
            found.append(f"snapshot dated {row.date}, expected {as_of}")
        if not row.creative_id or not row.campaign_id or not row.campaign_group_id:
            found.append("missing campaign group, campaign or creative id")
        if row.daily_budget is not None and row.daily_budget < 0:
            found.append(f"negative daily budget {row.daily_budget}")
        if not _CURRENCY.match(row.currency_code or ""):
            found.append(f"currency code {row.currency_code!r} is not ISO 4217")
        return found

    return problems
