"""The overview's 24-hour chart as plain SVG geometry: no JavaScript, drawn
by the template, readable at a glance (stacked bars per hour)."""

import math
from dataclasses import dataclass

from django.utils import timezone

WIDTH, HEIGHT = 760, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 26
SERIES = [
    # (key in the hourly series, label, CSS class): bottom to top
    ("sent", "sent", "seg-sent"),
    ("failed", "failed (will retry)", "seg-failed"),
    ("permanently_failed", "permanently failed", "seg-permanent"),
    ("dead_lettered", "dead-lettered", "seg-dead"),
]


@dataclass
class Segment:
    y: float
    height: float
    css: str


@dataclass
class Bar:
    x: float
    width: float
    label: str
    segments: list[Segment]
    title: str


def nice_ceiling(value: int) -> int:
    """The next 1, 2 or 5 times a power of ten, so gridlines read easily."""
    if value <= 4:
        return 4
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return int(step * power)
    return int(10 * power)


def hourly_chart(series: list[dict]) -> dict:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((sum(row[key] for key, _, _ in SERIES) for row in series), default=0)
    top = nice_ceiling(peak)
    slot = plot_w / max(1, len(series))
    bars = []
    for i, row in enumerate(series):
        y = TOP + plot_h
        segments = []
        for key, _, css in SERIES:
            height = plot_h * row[key] / top
            if height > 0:
                y -= height
                segments.append(Segment(round(y, 2), round(height, 2), css))
        hour = timezone.localtime(row["hour"])
        parts = ", ".join(f"{row[key]:,} {label}" for key, label, _ in SERIES if row[key])
        bars.append(
            Bar(
                x=round(LEFT + i * slot + slot * 0.12, 2),
                width=round(slot * 0.76, 2),
                label=f"{hour:%H}:00" if i % 3 == 0 else "",
                segments=segments,
                title=f"{hour:%H}:00–{hour:%H}:59: {parts or 'nothing sent'}",
            )
        )
    grid = [
        {"y": round(TOP + plot_h - plot_h * k / 4, 2), "label": f"{top * k // 4:,}"}
        for k in range(5)
    ]
    totals = {key: sum(row[key] for row in series) for key, _, _ in SERIES}
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "label_y": HEIGHT - 8,
        "bars": bars,
        "grid": grid,
        "legend": [
            {"label": label, "css": css, "total": totals[key]} for key, label, css in SERIES
        ],
        "empty": peak == 0,
        "center": WIDTH // 2,
    }
