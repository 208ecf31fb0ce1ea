"""What makes a Google Ads ad × day row unfit to load."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from connectors.google_ads.client import AdDailyRow, ClickViewRow

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def ad_daily_problems(start: date, end: date) -> Callable[[AdDailyRow], list[str]]:
    """A judge for rows of one requested window; returns the reasons a row is bad."""

    def problems(row: AdDailyRow) -> list[str]:
        found = []
        if not start <= row.date <= end:
            found.append(f"date {row.date} outside the requested {start}..{end}")
        if row.cost_micros < 0 or row.impressions < 0 or row.clicks < 0:
            found.append("negative cost, impressions or clicks")
        if not _CURRENCY.match(row.currency_code or ""):
            found.append(f"currency code {row.currency_code!r} is not ISO 4217")
        if not row.ad_id or not row.campaign_id or not row.ad_group_id:
            found.append("missing campaign, ad group or ad id")
        return found

    return problems


def click_view_problems(start: date, end: date) -> Callable[[ClickViewRow], list[str]]:
    """A judge for click rows of one requested window."""

    def problems(row: ClickViewRow) -> list[str]:
        found = []
        if not start <= row.date <= end:
            found.append(f"date {row.date} outside the requested {start}..{end}")
        if not row.gclid:
            found.append("no gclid")
        if not row.ad_id or not row.campaign_id or not row.ad_group_id:
            found.append("missing campaign, ad group or ad (ad_group_ad resource name)")
        return found

    return problems
