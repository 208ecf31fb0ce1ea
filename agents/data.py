"""What the agents read from the marts: daily spend and attributed response per channel.

Spend comes from ``marts.ad_performance_daily`` (tenant reporting currency). The response is
the leads that the configured attribution model credits to each paid platform per day
(``marts.attribution_credits``, stage ``lead``), and a lead is worth the closed-won revenue
that model credits to the channel per credited lead: leads arrive the day the money works,
revenue weeks later, so curves are fitted on leads and valued with revenue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import psycopg

from warehouse.budgets import AD_PLATFORMS


@dataclass(frozen=True)
class ChannelSeries:
    channel: str
    days: list[date]
    spend: np.ndarray
    leads: np.ndarray
    clicks: np.ndarray
    platform_conversions: np.ndarray
    value_per_lead: float

    @property
    def days_with_spend(self) -> int:
        return int((self.spend > 0).sum())


def _day_index(start: date, end: date) -> dict[date, int]:
    return {start + timedelta(days=i): i for i in range((end - start).days + 1)}


def channel_series(
    conn: psycopg.Connection, tenant_id: str, start: date, end: date, attribution_model: str
) -> dict[str, ChannelSeries]:
    """Per paid platform, daily spend, clicks, platform-claimed conversions and credited
    leads from `start` to `end` (zeros on days without rows)."""
    index = _day_index(start, end)
    size = len(index)
    arrays = {
        p: {k: np.zeros(size) for k in ("spend", "leads", "clicks", "conv")} for p in AD_PLATFORMS
    }
    for day, platform, spend, clicks, conversions in conn.execute(
        """SELECT date, platform, coalesce(sum(spend), 0), coalesce(sum(clicks), 0),
                  coalesce(sum(conversions), 0)
           FROM marts.ad_performance_daily
           WHERE tenant_id = %s AND date BETWEEN %s AND %s
           GROUP BY 1, 2""",
        (tenant_id, start, end),
    ).fetchall():
        if platform in arrays:
            arrays[platform]["spend"][index[day]] = float(spend)
            arrays[platform]["clicks"][index[day]] = float(clicks)
            arrays[platform]["conv"][index[day]] = float(conversions)
    for day, platform, credit in conn.execute(
        """SELECT conversion_date, channel, sum(credit)
           FROM marts.attribution_credits
           WHERE tenant_id = %s AND model = %s AND stage = 'lead'
             AND conversion_date BETWEEN %s AND %s AND channel = ANY(%s)
           GROUP BY 1, 2""",
        (tenant_id, attribution_model, start, end, list(AD_PLATFORMS)),
    ).fetchall():
        arrays[platform]["leads"][index[day]] = float(credit)
    values = value_per_lead(conn, tenant_id, start, end, attribution_model)
    days = sorted(index, key=index.__getitem__)
    return {
        p: ChannelSeries(
            p,
            days,
            a["spend"],
            a["leads"],
            a["clicks"],
            a["conv"],
            values.get(p, values.get("*", 0.0)),
        )
        for p, a in arrays.items()
    }


def value_per_lead(
    conn: psycopg.Connection, tenant_id: str, start: date, end: date, attribution_model: str
) -> dict[str, float]:
    """Closed-won revenue credited per credited lead, per platform ("*": all channels, the
    fallback for a platform with too few won deals to say)."""
    rows = conn.execute(
        """SELECT channel, GROUPING(channel) = 1,
                  sum(credit) FILTER (WHERE stage = 'lead'),
                  sum(revenue) FILTER (WHERE stage = 'closed_won'),
                  count(*) FILTER (WHERE stage = 'closed_won')
           FROM marts.attribution_credits
           WHERE tenant_id = %s AND model = %s AND conversion_date BETWEEN %s AND %s
           GROUP BY ROLLUP (channel)""",
        (tenant_id, attribution_model, start, end),
    ).fetchall()
    values: dict[str, float] = {}
    for channel, is_total, leads, revenue, won in rows:
        key = "*" if is_total else channel
        if key != "*" and key not in AD_PLATFORMS:
            continue  # unpaid channels: no budget to value
        if leads and revenue and (won >= 5 or key == "*"):
            values[key] = float(revenue) / float(leads)
    return values


def recent_spend(series: ChannelSeries, days: int = 7) -> float:
    """Average daily spend over the last `days` days: where the channel operates now."""
    return float(series.spend[-days:].mean()) if len(series.spend) else 0.0
