"""Inline SVG charts drawn in Python: line charts over UTC days and horizontal bar charts.

Values are published aggregate values; ``None`` is a suppressed (or missing) value, which a
line skips (the line breaks) and a bar chart labels instead of drawing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


@dataclass(frozen=True)
class Series:
    """One line: its name, (day, value or None) points, colour and whether it is dashed."""

    name: str
    points: Sequence[tuple[dt.date, float | None]]
    color: str = PALETTE[0]
    dashed: bool = False


def _number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.0f}k"
    if value != int(value):
        return f"{value:.2f}"
    return f"{value:,.0f}"


def line_chart(
    series: Sequence[Series],
    label: str,
    suppressed_days: Sequence[dt.date] = (),
    suppressed_text: str = "suppressed",
    width: int = 760,
    height: int = 240,
) -> str:
    """A line chart of daily series sharing one y axis from 0; gaps where a value is None."""
    left, right, top, bottom = 56, 12, 12, 44
    days = sorted({day for s in series for day, _ in s.points} | set(suppressed_days))
    values = [v for s in series for _, v in s.points if v is not None]
    parts = [
        f'<svg class="chart line-chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"><title>{escape(label)}</title>"
    ]
    if not days or not values:
        parts.append(f'<text x="{left}" y="{height / 2}" {_FONT}>no published data</text></svg>')
        return "".join(parts)
    first, span = days[0], max((days[-1] - days[0]).days, 1)
    low, high = min(0.0, min(values)), max(values)
    high = high if high > low else low + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(day: dt.date) -> float:
        return left + plot_w * (day - first).days / span

    def y(value: float) -> float:
        return top + plot_h * (1 - (value - low) / (high - low))

    for fraction in (0, 0.5, 1):
        level = low + (high - low) * fraction
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(level):.1f}" '
            f'y2="{y(level):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y(level) + 4:.1f}" text-anchor="end" {_FONT}>'
            f"{_number(level)}</text>"
        )
    for day, anchor in ((days[0], "start"), (days[-1], "end"))[: 2 if len(days) > 1 else 1]:
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" {_FONT}>'
            f"{day.isoformat()}</text>"
        )
    for day in suppressed_days:
        parts.append(
            f'<rect class="suppressed-day" x="{x(day) - 2:.1f}" y="{top + plot_h + 1}" '
            f'width="4" height="5" fill="#999"><title>{day.isoformat()}: '
            f"{escape(suppressed_text)}</title></rect>"
        )
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        for segment in _segments(s.points):
            if len(segment) == 1:
                day, value = segment[0]
                parts.append(
                    f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="2.5" fill="{s.color}">'
                    f"<title>{escape(s.name)} {day.isoformat()}: {_number(value)}</title></circle>"
                )
                continue
            points = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in segment)
            parts.append(
                f'<polyline class="series" data-series="{escape(s.name)}" points="{points}" '
                f'fill="none" stroke="{s.color}" stroke-width="2"{dash}>'
                f"<title>{escape(s.name)}</title></polyline>"
            )
    legend_y = height - 8
    legend_x = float(left)
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<line x1="{legend_x:.0f}" x2="{legend_x + 18:.0f}" y1="{legend_y - 4}" '
            f'y2="{legend_y - 4}" stroke="{s.color}" stroke-width="2"{dash}/>'
            f'<text x="{legend_x + 22:.0f}" y="{legend_y}" {_FONT}>{escape(s.name)}</text>'
        )
        legend_x += 30 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)


def _segments(
    points: Sequence[tuple[dt.date, float | None]],
) -> list[list[tuple[dt.date, float]]]:
    """Runs of consecutive published points, in day order; a None ends a run."""
    runs: list[list[tuple[dt.date, float]]] = [[]]
    for day, value in sorted(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((day, float(value)))
    return [run for run in runs if run]


def bar_chart(
    items: Sequence[tuple[str, float | None]],
    label: str,
    suppressed_text: str = "suppressed",
    value_format: str = "{:,.0f}",
    color: str = PALETTE[0],
    width: int = 560,
) -> str:
    """Horizontal bars from 0, one per item; an item whose value is None gets a label only."""
    bar, gap, label_w, value_w = 16, 6, 210, 120
    height = max(len(items), 1) * (bar + gap) + gap
    plot_w = width - label_w - value_w
    high = max((v for _, v in items if v is not None), default=0) or 1
    parts = [
        f'<svg class="chart bar-chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f"><title>{escape(label)}</title>"
    ]
    for index, (name, value) in enumerate(items):
        top = gap + index * (bar + gap)
        short = name if len(name) <= 30 else name[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{top + bar - 4}" text-anchor="end" {_FONT}>'
            f"<title>{escape(name)}</title>{escape(short)}</text>"
        )
        if value is None:
            parts.append(
                f'<text class="suppressed" x="{label_w}" y="{top + bar - 4}" fill="#777" '
                f"{_FONT}>{escape(suppressed_text)}</text>"
            )
            continue
        length = max(plot_w * max(value, 0) / high, 1)
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{top}" width="{length:.1f}" height="{bar}" '
            f'fill="{color}"><title>{escape(name)}: {value_format.format(value)}</title></rect>'
            f'<text x="{label_w + length + 4:.1f}" y="{top + bar - 4}" {_FONT}>'
            f"{value_format.format(value)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
