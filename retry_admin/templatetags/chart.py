"""The overview's 24-hour chart (``retry_admin/web/charts.py`` computes its
geometry) as SVG elements and a table of its values, written in Python: some
400 numbers a render, which the template language localized one by one at a
tenth of the page's time. The markup is what the template wrote."""

from collections.abc import Callable

from django import template
from django.conf import settings
from django.template.defaultfilters import floatformat
from django.utils.formats import get_format, localize
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from retry_admin.templatetags.console import stamp

register = template.Library()


def _number() -> Callable[[object], str]:
    """How ``{{ value }}`` writes a number: ``str()`` where localizing
    changes nothing (no grouping, "." as the decimal point), else ``localize``."""
    plain = get_format("DECIMAL_SEPARATOR") == "." and not settings.USE_THOUSAND_SEPARATOR

    def number(value: object) -> str:
        if plain and isinstance(value, int | float) and "e" not in str(value).lower():
            return str(value)
        return escape(localize(value))

    return number


@register.simple_tag
def chart_marks(chart: dict) -> SafeString:
    """The gridlines with their labels, then one group per hourly bar."""
    n = _number()
    left, right = n(chart["left"]), n(chart["right"])
    out = []
    for line in chart["grid"]:
        y = n(line["y"])
        out.append(
            f'\n      <line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"></line>\n'
            f'      <text class="axis" x="{n(chart["left"] - 6)}" y="{y}" text-anchor="end"'
            f' dominant-baseline="middle">{escape(line["label"])}</text>\n      '
        )
    bars = []
    baseline, label_y = n(chart["baseline"]), n(chart["label_y"])
    for bar in chart["bars"]:
        x, width = n(bar.x), n(bar.width)
        segments = "".join(
            f'<rect class="{escape(seg.css)}" x="{x}" y="{n(seg.y)}" width="{width}"'
            f' height="{n(seg.height)}"></rect>'
            for seg in bar.segments
        )
        label = (
            f'<text class="axis" x="{x}" y="{label_y}">{escape(bar.label)}</text>'
            if bar.label
            else ""
        )
        bars.append(
            f'\n      <g class="bar"><title>{escape(bar.title)}</title>\n'
            f'        <rect class="hit" x="{x}" y="0" width="{width}" height="{baseline}"></rect>\n'
            f"        {segments}\n"
            f"        {label}\n"
            "      </g>\n      "
        )
    # The template's two loops sat on lines of their own, six spaces in.
    return mark_safe("".join(out) + "\n      " + "".join(bars))  # every value is escaped


@register.simple_tag
def chart_table_rows(chart: dict) -> SafeString:
    """The hourly values as table rows: the hour, then each series."""
    grouped = floatformat
    if get_format("NUMBER_GROUPING") == 3 and get_format("THOUSAND_SEPARATOR") == ",":

        def grouped(value, _arg):
            return f"{value:,}" if isinstance(value, int) else floatformat(value, _arg)

    return mark_safe(  # every value is escaped
        "".join(
            f'<tr><th scope="row">{escape(stamp(row["hour"]))}</th>'
            + "".join(f'<td class="num">{grouped(value, "g")}</td>' for value in row["values"])
            + "</tr>"
            for row in chart["rows"]
        )
    )
