"""Charts drawn on the server as inline SVG: no script, no CDN, nothing to bundle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 16, 28, 36


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: Sequence[tuple[date, float]]


def compact_number(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    width: int = 640,
    height: int = 240,
    label: Callable[[float], str] = compact_number,
) -> str:
    """One polyline per series over the union of their dates, y from zero."""
    days = sorted({day for s in series for day, _ in s.points})
    top = _nice_max(max((v for s in series for _, v in s.points), default=0.0) * 1.05)
    plot_w = width - _MARGIN_LEFT - _MARGIN_RIGHT
    plot_h = height - _MARGIN_TOP - _MARGIN_BOTTOM
    x_of = {day: _MARGIN_LEFT + (i * plot_w / max(len(days) - 1, 1)) for i, day in enumerate(days)}

    def y(value: float) -> float:
        return _MARGIN_TOP + plot_h - value / top * plot_h

    parts = [_open(chart_id, title, width, height)]
    for i in range(5):
        value = top * i / 4
        parts.append(
            f'<line x1="{_MARGIN_LEFT}" x2="{width - _MARGIN_RIGHT}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke="#e5e5e5"/>'
            f'<text x="{_MARGIN_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#555">{escape(label(value))}</text>'
        )
    for day in days[:: max(len(days) // 6, 1)]:
        parts.append(
            f'<text x="{x_of[day]:.1f}" y="{height - 12}" text-anchor="middle" font-size="11" '
            f'fill="#555">{day:%b %d}</text>'
        )
    for index, s in enumerate(series):
        points = " ".join(f"{x_of[day]:.1f},{y(value):.1f}" for day, value in s.points)
        parts.append(
            f'<polyline data-series="{escape(s.name)}" fill="none" stroke="{s.color}" '
            f'stroke-width="2.5" points="{points}"/>'
            f'<rect x="{_MARGIN_LEFT + index * 130}" y="8" width="10" height="10" '
            f'fill="{s.color}"/><text x="{_MARGIN_LEFT + 14 + index * 130}" y="17" '
            f'font-size="12">{escape(s.name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float]],
    width: int = 640,
    label: Callable[[float], str] = compact_number,
) -> str:
    """Horizontal bars, largest scale at the widest value."""
    row_h, label_w = 26, 150
    height = _MARGIN_TOP + row_h * max(len(bars), 1) + 8
    top = max((value for _, value in bars), default=0.0) or 1.0
    plot_w = width - label_w - 80
    parts = [_open(chart_id, title, width, height)]
    for i, (name, value) in enumerate(bars):
        y = _MARGIN_TOP + i * row_h
        bar_w = max(value / top * plot_w, 1.0 if value > 0 else 0.0)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="12">'
            f"{escape(name)}</text>"
            f'<rect data-bar="{escape(name)}" data-value="{value}" x="{label_w}" y="{y + 4}" '
            f'width="{bar_w:.1f}" height="{row_h - 8}" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{label_w + bar_w + 6:.1f}" y="{y + 16}" font-size="12" fill="#333">'
            f"{escape(label(value))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(chart_id: str, title: str, width: int, height: int) -> str:
    return (
        f'<svg data-chart="{escape(chart_id)}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
    )
