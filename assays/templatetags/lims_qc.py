"""Display of run QC: a check's reading against its window, and control charts as inline SVG."""

from __future__ import annotations

import math

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from assays.models import QcCheck
from assays.selectors.control_charts import ControlChart
from assays.stats.svg_chart import ChartPoint, control_chart_svg
from assays.templatetags.lims_runs import measured

register = template.Library()


def _limit(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


@register.filter
def qc_reading(check: QcCheck) -> str:
    """``113.8 % (90-110 %)`` · ``0.0012 µg/L (≤ 0.006 µg/L)`` · ``—`` for a check without a reading."""
    if check.measured is None:
        return "—"
    unit = f" {check.unit}" if check.unit else ""
    reading = f"{measured(check.measured)}{unit}"
    if check.low is not None and check.high is not None:
        return f"{reading} ({_limit(check.low)}-{_limit(check.high)}{unit})"
    if check.high is not None:
        return f"{reading} (≤ {_limit(check.high)}{unit})"
    if check.low is not None:
        return f"{reading} (≥ {_limit(check.low)}{unit})"
    return reading


@register.simple_tag
def control_chart(chart: ControlChart, width: int = 640, height: int = 220) -> SafeString:
    """The chart as one ``<svg>`` element, its Westgard violations marked."""
    svg = control_chart_svg(
        title=chart.title,
        unit="%",
        points=[ChartPoint(point.value, point.name) for point in chart.points],
        baseline=chart.baseline,
        violations=chart.violations,
        width=width,
        height=height,
        baseline_points_needed=settings.LIMS_SPC_BASELINE_POINTS,
    )
    # Safe: assays.stats.svg_chart escapes every piece of text it writes (titles, labels, tooltips).
    return mark_safe(svg)  # noqa: S308
