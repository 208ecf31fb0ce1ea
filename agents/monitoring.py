"""Anomalies in spend, CPA and conversions, and tracking breakage.

Each check compares the latest days with the channel's own recent history (median and
median absolute deviation, robust to the spikes it looks for). Tracking breakage is the
pattern where the money still works but measurement stopped: clicks continue at their usual
level while the platform's conversions fall to zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg

from agents.data import ChannelSeries

HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 14


@dataclass(frozen=True)
class Anomaly:
    channel: str
    day: date
    kind: str  # spend_spike, spend_drop, cpa_spike, conversions_drop, tracking_breakage
    severity: str  # warning or critical
    observed: float
    expected: float
    message: str


def _robust(history: np.ndarray) -> tuple[float, float]:
    median = float(np.median(history))
    mad = float(np.median(np.abs(history - median))) * 1.4826
    return median, max(mad, 0.05 * abs(median), 1e-9)


def detect_anomalies(series: Mapping[str, ChannelSeries]) -> list[Anomaly]:
    """Anomalies on each channel's last day (and last three days for the drop patterns)."""
    found: list[Anomaly] = []
    for channel, s in sorted(series.items()):
        if len(s.spend) < MIN_HISTORY_DAYS + 3:
            continue
        day = s.days[-1]
        history = slice(-HISTORY_DAYS - 3, -3)
        spend_hist = s.spend[history]
        if (spend_hist > 0).sum() < MIN_HISTORY_DAYS:
            continue
        median, spread = _robust(spend_hist)
        last = float(s.spend[-1])
        if last > median + 4 * spread and last > 1.5 * median:
            found.append(
                Anomaly(
                    channel, day, "spend_spike", "critical" if last > 2 * median else "warning",
                    last, median,
                    f"{channel} spent {last:,.2f} on {day}, {last / median:.1f}x its usual "
                    f"{median:,.2f}",
                )
            )  # fmt: skip
        elif last < median - 4 * spread and last < 0.5 * median:
            found.append(
                Anomaly(
                    channel, day, "spend_drop", "critical" if last == 0 else "warning",
                    last, median,
                    f"{channel} spent {last:,.2f} on {day} against a usual {median:,.2f}: "
                    "a paused campaign, a payment problem or a disapproval?",
                )
            )  # fmt: skip
        clicks_hist, conv_hist = s.clicks[history], s.platform_conversions[history]
        recent = slice(-3, None)
        usual_clicks = float(np.median(clicks_hist))
        usual_conv = float(conv_hist.mean())
        clicks_now = float(s.clicks[recent].mean())
        conv_now = float(s.platform_conversions[recent].sum())
        if usual_conv * 3 >= 3 and conv_now == 0:
            if usual_clicks > 0 and clicks_now >= 0.5 * usual_clicks:
                found.append(
                    Anomaly(
                        channel, day, "tracking_breakage", "critical", conv_now, usual_conv * 3,
                        f"{channel}: clicks continue ({clicks_now:,.0f}/day, usually "
                        f"{usual_clicks:,.0f}) but conversions fell to zero over the last three "
                        f"days (usually {usual_conv * 3:,.1f}): check the pixel or tag",
                    )
                )  # fmt: skip
            else:
                found.append(
                    Anomaly(
                        channel, day, "conversions_drop", "warning", conv_now, usual_conv * 3,
                        f"{channel}: no conversions in three days (usually "
                        f"{usual_conv * 3:,.1f}), with clicks down too",
                    )
                )  # fmt: skip
        leads_hist = s.leads[history]
        if leads_hist.sum() > 0 and spend_hist.sum() > 0:
            usual_cpa = spend_hist.sum() / leads_hist.sum()
            week = slice(-7, None)
            leads_week = float(s.leads[week].sum())
            spend_week = float(s.spend[week].sum())
            expected_leads = spend_week / usual_cpa
            if expected_leads >= 5:
                cpa_week = spend_week / leads_week if leads_week else float("inf")
                if cpa_week > 2.5 * usual_cpa:
                    found.append(
                        Anomaly(
                            channel, day, "cpa_spike", "warning",
                            min(cpa_week, 1e12), usual_cpa,
                            f"{channel}: cost per lead over the last week "
                            f"{'∞' if leads_week == 0 else f'{cpa_week:,.2f}'} against a "
                            f"usual {usual_cpa:,.2f}",
                        )
                    )  # fmt: skip
    return found


def record_anomalies(
    conn: psycopg.Connection, tenant_id: str, day: date, anomalies: list[Anomaly]
) -> dict[str, int]:
    """Store what a monitoring run found for `day`; open anomalies of the tenant that this
    run no longer sees are resolved. Re-running a day changes nothing."""
    with conn.transaction():
        opened = 0
        for a in anomalies:
            row = conn.execute(
                """INSERT INTO app.anomalies
                       (tenant_id, channel, day, kind, severity, observed, expected, message)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (tenant_id, channel, day, kind) DO NOTHING
                   RETURNING anomaly_id""",
                (tenant_id, a.channel, a.day, a.kind, a.severity, a.observed, a.expected,
                 a.message),
            ).fetchone()  # fmt: skip
            opened += row is not None
        seen = [(a.channel, a.kind) for a in anomalies]
        resolved = conn.execute(
            """UPDATE app.anomalies SET status = 'resolved', resolved_at = now()
               WHERE tenant_id = %s AND status = 'open' AND day <= %s
                 AND NOT EXISTS (
                     SELECT 1 FROM unnest(%s::text[], %s::text[]) AS seen(channel, kind)
                     WHERE seen.channel = app.anomalies.channel
                       AND seen.kind = app.anomalies.kind)""",
            (tenant_id, day, [c for c, _ in seen], [k for _, k in seen]),
        ).rowcount
    return {"opened": opened, "resolved": resolved, "seen": len(anomalies)}


def open_anomalies(conn: psycopg.Connection, tenant_id: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for channel, kind in conn.execute(
        "SELECT channel, kind FROM app.anomalies WHERE tenant_id = %s AND status = 'open' "
        "ORDER BY channel, kind",
        (tenant_id,),
    ).fetchall():
        found.setdefault(channel, []).append(kind)
    return found
