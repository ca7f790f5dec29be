"""The relative purity of a product's lots as one standalone, accessible SVG element (pure string building).

PURE: no Django, no templates. Every piece of text goes through ``html.escape``; the caller may put
the result into a page as it is (Django: ``mark_safe``).

One point per lot, oldest first, with its expanded uncertainty U (k = 2) as an error bar, coloured
by its verdict; the specification minimum is a line; the lot whose page this is is ringed. Each
point carries a ``<title>`` with the lot and its value rounded as reported (U to two significant
figures, the value to the same place: ``assays.chemistry.rounding``), so the chart reads without
a mouse or colour vision too, and the ``aria-label`` sums it up.

The frame, the y axis, pixel formatting and escaping are the control chart's
(``assays.stats.svg_chart``); only the y range differs: purities crowd just under 100 %, so the
axis spans the points with their error bars and the minimum, with a floor on the span (a hundredth
of a percent) instead of the control chart's ±5 % around a lone value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from assays.chemistry.rounding import RoundingError, format_decimal, limit_decimal, limit_places, round_half_even, round_with_uncertainty
from assays.stats.svg_chart import (
    FONT,
    MARGIN_BOTTOM,
    MIN_HEIGHT,
    MIN_RELATIVE_SPAN,
    MIN_WIDTH,
    Y_MARGIN,
    _axis,
    _count,
    _esc,
    _Frame,
    _px,
)

EMPTY_HEIGHT = 40
# Room under the plot for the first and last lot codes.
X_LABEL_ROOM = 18
# The smallest y span shown, in percentage points: 4N purities differ in the third decimal.
MIN_SPAN = Decimal("0.01")
# Decimal places of a value shown without U: two beyond the minimum's last written digit (99.9 ->
# 99.991), or four without a minimum. Shown so, never as a float's seventeen digits.
EXTRA_PLACES_WITHOUT_U = 2
PLACES_WITHOUT_U_OR_LIMIT = 4
CAP_HALF_WIDTH = 3.0

VERDICT_COLOURS = {"pass": "#2a7a3b", "fail": "#b22222", "inconclusive": "#c77800"}
OTHER_COLOUR = "#777777"
VERDICT_NAMES = {"pass": "pass", "fail": "fail", "inconclusive": "inconclusive", "not_determinable": "not determinable"}


@dataclass(frozen=True, slots=True)
class TrendPoint:
    label: str  # e.g. "UK1-ND-26-0101 · 2026-10-20"
    value: float | None  # relative purity, %; None or non-finite: no point (the slot stays)
    expanded_u: float | None = None
    verdict: str | None = None
    current: bool = False


# Characters XML 1.0 forbids even escaped: a lot code carrying one must not break the page's markup.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(text: str) -> str:
    return _esc(_XML_ILLEGAL.sub("\ufffd", text))


class _TrendFrame(_Frame):
    """The control chart's frame with room below the plot for the lot codes."""

    __slots__ = ()

    @property
    def bottom(self) -> float:
        return float(self.height - MARGIN_BOTTOM - X_LABEL_ROOM)


def value_text(*, value: float, expanded_uncertainty: float | None, minimum: str | None = None) -> str:
    """``value`` as reported: "99.9912 ± 0.0031"; without U to a fixed place (see EXTRA_PLACES_WITHOUT_U)."""
    shown, uncertainty = round_with_uncertainty(value=value, expanded_uncertainty=expanded_uncertainty)
    if uncertainty is not None:
        return f"{format_decimal(shown)} ± {format_decimal(uncertainty)}"
    places = PLACES_WITHOUT_U_OR_LIMIT
    if minimum and _limit(minimum) is not None:
        places = limit_places(minimum) + EXTRA_PLACES_WITHOUT_U
    return format_decimal(round_half_even(value, places=places))


def purity_trend_svg(
    *,
    title: str,
    points: Sequence[TrendPoint],
    minimum: str | None = None,
    unit: str = "%",
    width: int = 640,
    height: int = 240,
) -> str:
    """One ``<svg role="img">``: each lot's relative purity with its U, the minimum as a line.

    ``minimum`` is the limit as written ("99.9"); a limit that is not a number is left out rather
    than failing the page. Fewer than two points with a value give a one-line empty chart: one lot
    is no trend.
    """
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a trend chart needs at least {MIN_WIDTH} x {MIN_HEIGHT} px, not {width} x {height}")
    plotted = [(index, point) for index, point in enumerate(points) if point.value is not None and math.isfinite(point.value)]
    if len(plotted) < 2:
        return _empty_svg(title=title, width=width, count=len(plotted))
    limit = _limit(minimum)
    shown_minimum = minimum if limit is not None else None
    low, high = _y_range(plotted, limit)
    frame = _TrendFrame(width=width, height=height, point_count=len(points), low=low, high=high)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text(_summary(title, plotted, shown_minimum, unit))}">',
        f"<title>{_text(title)}</title>",
        f'<text class="chart-title" x="{_px(frame.left)}" y="14" {FONT} font-weight="bold" fill="currentColor">{_text(title)}</text>',
        f'<text class="chart-unit" x="{_px(frame.left - 6)}" y="{_px(frame.top - 4)}" text-anchor="end" {FONT} '
        f'fill="currentColor">{_text(unit)}</text>',
    ]
    parts.extend(_legend(frame))
    parts.extend(_axis(frame))
    parts.extend(_x_labels(frame, points))
    if limit is not None and minimum is not None:
        y = _px(frame.y(limit))
        parts.append(
            f'<line class="trend-minimum" x1="{_px(frame.left)}" y1="{y}" x2="{_px(frame.right)}" y2="{y}" '
            f'stroke="{VERDICT_COLOURS["fail"]}" stroke-width="1" stroke-dasharray="6 3"/>'
        )
        parts.append(
            f'<text class="trend-minimum-label" x="{_px(frame.right + 4)}" y="{y}" dy="3" {FONT} fill="currentColor">'
            f"{_text(f'min {minimum} {unit}'.rstrip())}</text>"
        )
    parts.extend(_series(frame, points=points, plotted=plotted, minimum=minimum, unit=unit))
    parts.append("</svg>")
    return "\n".join(parts)


def _limit(minimum: str | None) -> Decimal | None:
    if not minimum:
        return None
    try:
        return limit_decimal(minimum)
    except RoundingError:
        return None


def _empty_svg(*, title: str, width: int, count: int) -> str:
    message = f"{title}: {'no assessed lot' if count == 0 else 'one assessed lot'} with a relative purity yet; a trend needs two"
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-chart trend-chart-empty" width="{width}" '
            f'height="{EMPTY_HEIGHT}" viewBox="0 0 {width} {EMPTY_HEIGHT}" role="img" aria-label="{_text(message)}">',
            f"<title>{_text(title)}</title>",
            f'<text class="chart-note" x="8" y="24" {FONT} fill="currentColor">{_text(message)}</text>',
            "</svg>",
        ]
    )


def _summary(title: str, plotted: Sequence[tuple[int, TrendPoint]], minimum: str | None, unit: str) -> str:
    counts: dict[str, int] = {}
    for _, point in plotted:
        name = VERDICT_NAMES.get(point.verdict or "", "no verdict")
        counts[name] = counts.get(name, 0) + 1
    text = f"{title}: {_count(len(plotted), 'lot')}"
    if counts:
        text += " (" + ", ".join(f"{number} {name}" for name, number in counts.items()) + ")"
    if minimum is not None:
        text += f", minimum {minimum} {unit}".rstrip()
    return text


def _y_range(plotted: Sequence[tuple[int, TrendPoint]], limit: Decimal | None) -> tuple[Decimal, Decimal]:
    """The points with their error bars and the minimum, with a margin; never narrower than MIN_SPAN."""
    ends: list[Decimal] = []
    for _, point in plotted:
        assert point.value is not None  # plotted only holds finite values
        value = Decimal(point.value)
        ends.append(value)
        if point.expanded_u is not None and math.isfinite(point.expanded_u) and point.expanded_u > 0:
            u = Decimal(point.expanded_u)
            ends += [value - u, value + u]
    if limit is not None:
        ends.append(limit)
    low, high = min(ends), max(ends)
    span = high - low
    floor = max(MIN_SPAN, max(abs(low), abs(high)) * MIN_RELATIVE_SPAN)
    if span < floor:
        centre = (low + high) / 2
        low, high, span = centre - floor / 2, centre + floor / 2, floor
    return low - span * Y_MARGIN, high + span * Y_MARGIN


def _legend(frame: _TrendFrame) -> list[str]:
    """Verdict colours and the current-lot ring, right-aligned in the title row."""
    entries = [(name, VERDICT_COLOURS[key], False) for key, name in (("pass", "pass"), ("fail", "fail"), ("inconclusive", "inconclusive"))]
    entries.append(("this lot", "none", True))
    parts = ['<g class="trend-legend">']
    x = float(frame.width) - 8
    for name, colour, ring in reversed(entries):
        # About 6 px a character at 10 px sans-serif; the legend needs no exact metrics.
        x -= 6.0 * len(name)
        parts.append(f'<text x="{_px(x)}" y="14" {FONT} fill="currentColor">{_text(name)}</text>')
        x -= 8.0
        if ring:
            parts.append(f'<circle cx="{_px(x)}" cy="11" r="4.5" fill="none" stroke="currentColor" stroke-width="2"/>')
        else:
            parts.append(f'<circle cx="{_px(x)}" cy="11" r="3.5" fill="{colour}"/>')
        x -= 14.0
    parts.append("</g>")
    return parts


def _x_labels(frame: _TrendFrame, points: Sequence[TrendPoint]) -> list[str]:
    y = _px(frame.bottom + 14)
    baseline = _px(frame.bottom)
    parts = [
        f'<line class="chart-axis" x1="{_px(frame.left)}" y1="{baseline}" x2="{_px(frame.right)}" y2="{baseline}" '
        f'stroke="currentColor" stroke-width="1"/>'
    ]
    first, last = points[0], points[-1]
    parts.append(f'<text class="chart-x-label" x="{_px(frame.left)}" y="{y}" {FONT} fill="currentColor">{_text(first.label)}</text>')
    if len(points) > 1:
        parts.append(
            f'<text class="chart-x-label" x="{_px(frame.right)}" y="{y}" text-anchor="end" {FONT} '
            f'fill="currentColor">{_text(last.label)}</text>'
        )
    return parts


def _series(
    frame: _TrendFrame,
    *,
    points: Sequence[TrendPoint],
    plotted: Sequence[tuple[int, TrendPoint]],
    minimum: str | None,
    unit: str,
) -> list[str]:
    parts: list[str] = []
    coordinates = []
    for index, point in plotted:
        assert point.value is not None
        coordinates.append((frame.x(index), frame.y(Decimal(point.value))))
    path = " ".join(f"{_px(x)},{_px(y)}" for x, y in coordinates)
    parts.append(f'<polyline class="chart-series" points="{path}" fill="none" stroke="#999" stroke-width="1"/>')
    for index, point in enumerate(points):
        if point.value is None or not math.isfinite(point.value):
            # The lot keeps its slot: a tick on the axis says it has no value.
            slot = _px(frame.x(index))
            parts.append(
                f'<line class="trend-no-value" x1="{slot}" y1="{_px(frame.bottom - 5)}" x2="{slot}" y2="{_px(frame.bottom)}" '
                f'stroke="{OTHER_COLOUR}" stroke-width="2"><title>{_text(f"{point.label} — no relative purity")}</title></line>'
            )
    for (_, point), (x, y) in zip(plotted, coordinates, strict=True):
        assert point.value is not None
        colour = VERDICT_COLOURS.get(point.verdict or "", OTHER_COLOUR)
        verdict = VERDICT_NAMES.get(point.verdict or "", "no verdict")
        css = f"point verdict-{point.verdict or 'none'}" + (" current" if point.current else "")
        parts.append('<g class="trend-point">')
        u = point.expanded_u if point.expanded_u is not None and math.isfinite(point.expanded_u) and point.expanded_u > 0 else None
        if u is not None:
            value = Decimal(point.value)
            top, bottom = frame.y(value + Decimal(u)), frame.y(value - Decimal(u))
            parts.append(
                f'<line class="error-bar" x1="{_px(x)}" y1="{_px(top)}" x2="{_px(x)}" y2="{_px(bottom)}" '
                f'stroke="{colour}" stroke-width="1"/>'
            )
            for end in (top, bottom):
                parts.append(
                    f'<line class="error-bar-cap" x1="{_px(x - CAP_HALF_WIDTH)}" y1="{_px(end)}" x2="{_px(x + CAP_HALF_WIDTH)}" '
                    f'y2="{_px(end)}" stroke="{colour}" stroke-width="1"/>'
                )
        tooltip = f"{point.label} — {value_text(value=point.value, expanded_uncertainty=u, minimum=minimum)} {unit}".rstrip()
        tooltip += f" — {verdict}" + (" (this lot)" if point.current else "")
        # The current lot is ringed, not only coloured: it stays findable in grey print.
        attributes = f'r="5.5" fill="{colour}" stroke="currentColor" stroke-width="2"' if point.current else f'r="3.5" fill="{colour}"'
        parts.append(f'<circle class="{_text(css)}" cx="{_px(x)}" cy="{_px(y)}" {attributes}><title>{_text(tooltip)}</title></circle>')
        parts.append("</g>")
    return parts
