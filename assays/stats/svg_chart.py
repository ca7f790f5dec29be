"""A control chart as one standalone, accessible SVG element (pure string building).

PURE: no Django, no templates. Every piece of text goes through ``html.escape``; the caller may put
the result into a page as it is (Django: ``mark_safe``).

Styling: every element carries a CSS class (``chart-mean``, ``chart-2s``, ``chart-3s``, ``point``,
``violation``, ...) and neutral presentation attributes, which any stylesheet overrides, so the
chart is readable without CSS and themeable with it.

Layout arithmetic runs in ``Decimal``: a value near the float limit (a unit bug upstream, a recovery
of 1e308 %) would overflow ``max - min`` in floats and put "inf" or "nan" into the markup. In
``Decimal`` the range is exact enough and finite; only pixel positions, bounded by the drawing
area, become floats again. Non-finite values are not points (as in the Westgard rules): they get
no circle, but keep their slot on the x axis so that indices still line up.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from assays.stats.control_charts import ALL_RULES, Baseline, Violation, WestgardRule, format_number

MIN_WIDTH = 240
MIN_HEIGHT = 120
EMPTY_HEIGHT = 40

# Room for the y tick labels on the left, the limit-line labels on the right, the title on top.
MARGIN_LEFT = 52
MARGIN_RIGHT = 78
MARGIN_TOP = 26
MARGIN_BOTTOM = 12
# Headroom above and below the outermost point or ±3s line, as a fraction of the range.
Y_MARGIN = Decimal("0.08")
# The smallest range the y axis shows, relative to the size of its numbers.
MIN_RELATIVE_SPAN = Decimal("1e-9")
TARGET_TICKS = 5
MAX_TICKS = 12
LABEL_MIN_GAP_PX = 10.0

FONT = 'font-family="sans-serif" font-size="10"'


@dataclass(frozen=True, slots=True)
class ChartPoint:
    value: float
    label: str  # e.g. "Run 12 · 059SMPL · 2024-03-01"


@dataclass(frozen=True, slots=True)
class _Frame:
    """Maps (point index, value) to pixels."""

    width: int
    height: int
    point_count: int
    low: Decimal
    high: Decimal

    @property
    def left(self) -> float:
        return float(MARGIN_LEFT)

    @property
    def right(self) -> float:
        return float(self.width - MARGIN_RIGHT)

    @property
    def top(self) -> float:
        return float(MARGIN_TOP)

    @property
    def bottom(self) -> float:
        return float(self.height - MARGIN_BOTTOM)

    def x(self, index: int) -> float:
        # Each point sits in the middle of its own slot, so one point is centred.
        return self.left + (self.right - self.left) * (index + 0.5) / self.point_count

    def y(self, value: Decimal) -> float:
        fraction = float((value - self.low) / (self.high - self.low))
        fraction = min(1.0, max(0.0, fraction))
        return self.bottom - (self.bottom - self.top) * fraction


def control_chart_svg(
    *,
    title: str,
    unit: str,
    points: Sequence[ChartPoint],
    baseline: Baseline | None,
    violations: Sequence[Violation] = (),
    width: int = 640,
    height: int = 240,
    baseline_points_needed: int = 20,
) -> str:
    """One ``<svg role="img">`` element: the points, their mean and ±2s/±3s lines, violations marked.

    ``violations`` index into ``points`` (as returned by ``westgard_violations`` for the same
    values); indices outside ``points`` or at non-finite values are ignored. Without a baseline only
    the points are drawn, with a note that ``baseline_points_needed`` points are needed.
    """
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"a control chart needs at least {MIN_WIDTH} x {MIN_HEIGHT} px, not {width} x {height}")
    plotted = [(index, point) for index, point in enumerate(points) if math.isfinite(point.value)]
    if not plotted:
        return _empty_svg(title=title, width=width)

    rules_at = _rules_by_point(violations, point_count=len(points))
    values = [Decimal(point.value) for _, point in plotted]
    low, high = _y_range(values, baseline)
    frame = _Frame(width=width, height=height, point_count=len(points), low=low, high=high)

    flagged = sum(1 for index, _ in plotted if rules_at.get(index))
    summary = f"{title}: control chart of {_count(len(plotted), 'point')}" + (f" in {unit}" if unit else "")
    if baseline is not None:
        summary += f", mean {format_number(baseline.mean)}, s {format_number(baseline.sd)}"
    else:
        summary += ", no baseline yet"
    if flagged:
        summary += f", {_count(flagged, 'point')} in a Westgard violation"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="control-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(summary)}">',
        f"<title>{_esc(title)}</title>",
        f'<text class="chart-title" x="{_px(frame.left)}" y="14" {FONT} font-weight="bold" fill="currentColor">{_esc(title)}</text>',
        f'<text class="chart-unit" x="{_px(frame.left - 6)}" y="{_px(frame.top - 4)}" text-anchor="end" {FONT} '
        f'fill="currentColor">{_esc(unit)}</text>',
    ]
    parts.extend(_axis(frame))
    if baseline is not None:
        parts.extend(_limit_lines(frame, baseline))
    else:
        parts.append(
            f'<text class="chart-note" x="{_px(frame.right)}" y="14" text-anchor="end" {FONT} fill="currentColor">'
            f"{_esc(f'no baseline yet (needs {baseline_points_needed} points)')}</text>"
        )
    parts.extend(_series(frame, plotted=plotted, unit=unit, rules_at=rules_at))
    parts.append("</svg>")
    return "\n".join(parts)


def _empty_svg(*, title: str, width: int) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="control-chart control-chart-empty" width="{width}" '
            f'height="{EMPTY_HEIGHT}" viewBox="0 0 {width} {EMPTY_HEIGHT}" role="img" aria-label="{_esc(f"{title}: no points yet")}">',
            f"<title>{_esc(title)}</title>",
            f'<text class="chart-note" x="8" y="24" {FONT} fill="currentColor">{_esc(title)}: no points yet</text>',
            "</svg>",
        ]
    )


def _rules_by_point(violations: Iterable[Violation], *, point_count: int) -> dict[int, list[WestgardRule]]:
    rules_at: dict[int, list[WestgardRule]] = {}
    for violation in violations:
        for index in violation.involved:
            if 0 <= index < point_count and violation.rule not in rules_at.setdefault(index, []):
                rules_at[index].append(violation.rule)
    for rules in rules_at.values():
        rules.sort(key=ALL_RULES.index)
    return rules_at


def _y_range(values: Sequence[Decimal], baseline: Baseline | None) -> tuple[Decimal, Decimal]:
    """All points and the ±3s lines, with a margin; never an empty range."""
    low, high = min(values), max(values)
    if baseline is not None:
        mean, sd = Decimal(baseline.mean), Decimal(baseline.sd)
        low, high = min(low, mean - 3 * sd), max(high, mean + 3 * sd)
    span = high - low
    magnitude = max(abs(low), abs(high))
    if span.is_zero():
        # One value (or all equal) and no baseline: centre it in a range of ±5 % (or ±0.5 at zero).
        span = magnitude / 10 if not magnitude.is_zero() else Decimal(1)
        low, high = low - span / 2, high + span / 2
    elif span < magnitude * MIN_RELATIVE_SPAN:
        # A range far below a float's resolution (s = 5e-324 at a mean of 1e38) would vanish in
        # Decimal's 28 digits once the margin is added; such lines are one line on screen anyway.
        centre, span = (low + high) / 2, magnitude * MIN_RELATIVE_SPAN
        low, high = centre - span / 2, centre + span / 2
    return low - span * Y_MARGIN, high + span * Y_MARGIN


def _nice_step(span: Decimal) -> Decimal:
    """1, 2 or 5 times a power of ten, giving about TARGET_TICKS ticks over ``span``."""
    raw = span / TARGET_TICKS
    power = Decimal(1).scaleb(raw.adjusted())
    fraction = raw / power
    multiple = 1 if fraction < Decimal("1.5") else 2 if fraction < 3 else 5 if fraction < 7 else 10
    return power * multiple


def _axis(frame: _Frame) -> list[str]:
    parts = [
        f'<line class="chart-axis" x1="{_px(frame.left)}" y1="{_px(frame.top)}" x2="{_px(frame.left)}" '
        f'y2="{_px(frame.bottom)}" stroke="currentColor" stroke-width="1"/>'
    ]
    step = _nice_step(frame.high - frame.low)
    first = int((frame.low / step).to_integral_value(rounding=ROUND_CEILING))
    last = int((frame.high / step).to_integral_value(rounding=ROUND_FLOOR))
    for multiple in range(first, min(last, first + MAX_TICKS - 1) + 1):
        tick = step * multiple
        y = _px(frame.y(tick))
        parts.append(
            f'<line class="chart-tick" x1="{_px(frame.left - 4)}" y1="{y}" x2="{_px(frame.left)}" y2="{y}" '
            f'stroke="currentColor" stroke-width="1"/>'
        )
        parts.append(
            f'<text class="chart-tick-label" x="{_px(frame.left - 6)}" y="{y}" dy="3" text-anchor="end" {FONT} '
            f'fill="currentColor">{_esc(_tick_text(tick, step))}</text>'
        )
    return parts


def _tick_text(tick: Decimal, step: Decimal) -> str:
    """Every tick with the decimals of the step (99.5, 100.0, 100.5); exponents when far out."""
    if tick.is_zero():
        return "0"
    if abs(tick) < 1_000_000 and step >= Decimal("0.001"):
        # The step has one significant digit (1, 2 or 5 times a power of ten), so its adjusted
        # exponent is the position of its last digit.
        decimals = max(0, -step.adjusted())
        return format(tick.quantize(Decimal(1).scaleb(-decimals)), "f")
    # Enough significant digits to tell neighbouring ticks apart.
    return format_number(tick, significant=max(1, min(12, tick.adjusted() - step.adjusted() + 2)))


@dataclass(frozen=True, slots=True)
class _LimitLine:
    css_class: str
    name: str
    sigmas: int
    attributes: str


# In the order their labels win when lines crowd together (points far out squeeze the axis).
_LIMIT_LINES = (
    _LimitLine("chart-mean", "mean", 0, 'stroke="#666" stroke-width="1"'),
    _LimitLine("chart-3s", "+3s", 3, 'stroke="#b22" stroke-width="1"'),
    _LimitLine("chart-3s", "-3s", -3, 'stroke="#b22" stroke-width="1"'),
    _LimitLine("chart-2s", "+2s", 2, 'stroke="#c80" stroke-width="1" stroke-dasharray="5 3"'),
    _LimitLine("chart-2s", "-2s", -2, 'stroke="#c80" stroke-width="1" stroke-dasharray="5 3"'),
)


def _limit_lines(frame: _Frame, baseline: Baseline) -> list[str]:
    mean, sd = Decimal(baseline.mean), Decimal(baseline.sd)
    parts: list[str] = []
    label_ys: list[float] = []
    for line in _LIMIT_LINES:  # a label that would overlap one already placed is left out
        level = mean + line.sigmas * sd
        y = frame.y(level)
        parts.append(
            f'<line class="chart-line {line.css_class}" x1="{_px(frame.left)}" y1="{_px(y)}" x2="{_px(frame.right)}" '
            f'y2="{_px(y)}" {line.attributes}/>'
        )
        if all(abs(y - other) >= LABEL_MIN_GAP_PX for other in label_ys):
            label_ys.append(y)
            parts.append(
                f'<text class="chart-line-label {line.css_class}" x="{_px(frame.right + 4)}" y="{_px(y)}" dy="3" {FONT} '
                f'fill="currentColor">{_esc(f"{line.name} {format_number(level)}")}</text>'
            )
    return parts


def _series(
    frame: _Frame,
    *,
    plotted: Sequence[tuple[int, ChartPoint]],
    unit: str,
    rules_at: dict[int, list[WestgardRule]],
) -> list[str]:
    coordinates = [(frame.x(index), frame.y(Decimal(point.value))) for index, point in plotted]
    parts: list[str] = []
    if len(coordinates) > 1:
        path = " ".join(f"{_px(x)},{_px(y)}" for x, y in coordinates)
        parts.append(f'<polyline class="chart-series" points="{path}" fill="none" stroke="currentColor" stroke-width="1"/>')
    for (index, point), (x, y) in zip(plotted, coordinates, strict=True):
        tooltip = f"{point.label} — {format_number(point.value)} {unit}".rstrip()
        rules = rules_at.get(index)
        if rules:
            tooltip += " — Westgard " + ", ".join(rules)
            attributes = 'class="point violation" r="4.5" fill="#b22" stroke="#fff" stroke-width="1"'
        else:
            attributes = 'class="point" r="3" fill="currentColor"'
        parts.append(f'<circle {attributes} cx="{_px(x)}" cy="{_px(y)}"><title>{_esc(tooltip)}</title></circle>')
    return parts


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _px(coordinate: float) -> str:
    if not math.isfinite(coordinate):  # cannot happen with a validated frame; never let it out
        raise ValueError(f"non-finite pixel coordinate {coordinate!r}")
    return f"{coordinate:.1f}"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
