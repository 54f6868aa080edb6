"""The overview's 24-hour chart as plain SVG geometry: no JavaScript, drawn
by the template, readable at a glance (stacked bars per hour)."""

import math
from dataclasses import dataclass

from django.utils import timezone

WIDTH, HEIGHT = 760, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 26
SERIES = [
    # (key in the hourly series, label, CSS class): bottom to top. Outcomes of
    # attempts in an hour, not messages: one message may fail twice, then send,
    # so these are labelled apart from the "Messages by status, now" counts.
    ("sent", "sent", "seg-sent"),
    ("failed", "attempts failed, to retry", "seg-failed"),
    ("permanently_failed", "attempts failed for good", "seg-permanent"),
    ("dead_lettered", "moved to the DLQ", "seg-dead"),
]
LEGEND_HINT = (
    "Delivery outcomes in the last 24 hours: one message can fail, be retried and then "
    "be sent, so these count outcomes, not messages (see Messages by status, now)."
)


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


NICE_STEPS = (1, 2, 2.5, 5)
MAX_TICKS = 5


def axis_top(peak: int) -> tuple[int, int]:
    """(top of the axis, step between gridlines): the smallest round step
    (1, 2, 2.5 or 5 times a power of ten) that covers ``peak`` in at most
    five whole steps, so every gridline label is a round number."""
    if peak <= MAX_TICKS:
        return MAX_TICKS, 1
    power = 10 ** max(0, math.floor(math.log10(peak / MAX_TICKS)))
    while True:
        for factor in NICE_STEPS:
            step = factor * power
            if step != int(step):
                continue
            ticks = math.ceil(peak / step)
            if ticks <= MAX_TICKS:
                return int(step * ticks), int(step)
        power *= 10


def hourly_chart(series: list[dict]) -> dict:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((sum(row[key] for key, _, _ in SERIES) for row in series), default=0)
    top, step = axis_top(peak)
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
                title=f"{hour:%H}:00 to {hour:%H}:59: {parts or 'nothing sent'}",
            )
        )
    grid = [
        {"y": round(TOP + plot_h - plot_h * value / top, 2), "label": f"{value:,}"}
        for value in range(0, top + 1, step)
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
            {"label": label, "css": css, "total": totals[key], "hint": LEGEND_HINT}
            for key, label, css in SERIES
        ],
        "empty": peak == 0,
        "center": WIDTH // 2,
        # The same figures as text, for a table beside the chart (colour is not the only key).
        "rows": [
            {
                "hour": row["hour"],
                "values": [row[key] for key, _, _ in SERIES],
            }
            for row in series
        ],
    }
