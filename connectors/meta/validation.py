"""What makes a Meta row unfit to load."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from connectors.meta.client import MetaAdDailyRow, MetaAdRow

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def ad_daily_problems(start: date, end: date) -> Callable[[MetaAdDailyRow], list[str]]:
    """A judge for insights rows of one requested window; returns the reasons a row is bad."""

    def problems(row: MetaAdDailyRow) -> list[str]:
        found = []
        if not start <= row.date <= end:
            found.append(f"date {row.date} outside the requested {start}..{end}")
        numbers = (row.spend, row.impressions, row.clicks, row.inline_link_clicks)
        if any(n < 0 for n in (*numbers, row.leads, row.lead_value)):
            found.append("negative spend, impressions, clicks, leads or lead value")
        elif row.inline_link_clicks > row.clicks:
            # Link clicks are a subset of all clicks: more of them means mixed-up fields.
            found.append(f"inline_link_clicks {row.inline_link_clicks} > clicks {row.clicks}")
        if not _CURRENCY.match(row.currency_code or ""):
            found.append(f"currency code {row.currency_code!r} is not ISO 4217")
        if not (row.account_id and row.campaign_id and row.adset_id and row.ad_id):
            found.append("missing account, campaign, ad set or ad id")
        return found

    return problems


def ad_problems(start: date, end: date) -> Callable[[MetaAdRow], list[str]]:
    """A judge for ad snapshot rows taken for days ``start``..``end``."""

    def problems(row: MetaAdRow) -> list[str]:
        found = []
        if not start <= row.date <= end:
            found.append(f"snapshot date {row.date} outside {start}..{end}")
        if row.daily_budget is not None and row.daily_budget < 0:
            found.append(f"negative daily budget {row.daily_budget}")
        if not _CURRENCY.match(row.currency_code or ""):
            found.append(f"currency code {row.currency_code!r} is not ISO 4217")
        if not (row.account_id and row.campaign_id and row.adset_id and row.ad_id):
            found.append("missing account, campaign, ad set or ad id")
        return found

    return problems
