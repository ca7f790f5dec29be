"""The relative-purity trend as SVG: points with U error bars, the minimum line, verdict colours, the
current lot ringed, rounded and escaped titles, an empty state below two points, never NaN or inf."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.rounding import format_decimal, round_with_uncertainty
from assays.stats.trend_svg import VERDICT_COLOURS, TrendPoint, purity_trend_svg, value_text

SVG = "{http://www.w3.org/2000/svg}"
NUMERIC_ATTRIBUTES = ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height", "dy")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 (our own markup, parsed to check it is well-formed)
    assert root.tag == f"{SVG}svg"
    return root


def of_class(root: ET.Element, tag: str, css_class: str) -> list[ET.Element]:
    return [element for element in root.iter(f"{SVG}{tag}") if css_class in (element.get("class") or "").split()]


def title_of(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None
    return title.text or ""


def y_of_tick(root: ET.Element, text: str) -> float:
    for label in of_class(root, "text", "chart-tick-label"):
        if label.text == text:
            return float(label.get("y") or "nan")
    raise AssertionError(f"no tick {text}")


THREE = [
    TrendPoint("ND-1 · 2026-01-05", 99.95, 0.02, "pass"),
    TrendPoint("ND-2 · 2026-01-06", 99.89, 0.004, "fail", current=True),
    TrendPoint("ND-3 · 2026-01-07", 99.905, 0.01, "inconclusive"),
]


def test_one_point_per_lot_coloured_by_verdict_with_rounded_titles() -> None:
    root = parse(purity_trend_svg(title="Relative purity of ND2O3 lots", points=THREE, minimum="99.9"))
    assert root.get("role") == "img"
    points = of_class(root, "circle", "point")
    assert len(points) == 3
    assert [point.get("fill") for point in points] == [VERDICT_COLOURS["pass"], VERDICT_COLOURS["fail"], VERDICT_COLOURS["inconclusive"]]
    assert [title_of(point) for point in points] == [
        "ND-1 · 2026-01-05 — 99.950 ± 0.020 % — pass",
        "ND-2 · 2026-01-06 — 99.8900 ± 0.0040 % — fail (this lot)",
        "ND-3 · 2026-01-07 — 99.905 ± 0.010 % — inconclusive",
    ]
    # Left to right in the order given (oldest first).
    xs = [float(point.get("cx") or "nan") for point in points]
    assert xs == sorted(xs)
    label = root.get("aria-label") or ""
    assert "3 lots (1 pass, 1 fail, 1 inconclusive)" in label
    assert "minimum 99.9 %" in label
    # The legend names every colour.
    legend = [text.text for text in root.iter(f"{SVG}text") if text.text in {"pass", "fail", "inconclusive", "this lot"}]
    assert sorted(legend) == ["fail", "inconclusive", "pass", "this lot"]


def test_error_bars_span_value_plus_and_minus_u_on_the_axis_scale() -> None:
    points = [TrendPoint("A", 99.95, 0.02, "pass"), TrendPoint("B", 99.93, 0.01, "pass")]
    root = parse(purity_trend_svg(title="t", points=points, minimum="99.9"))
    # Pixel scale from the outermost ticks of the axis.
    ticks = [(float(label.text or "nan"), float(label.get("y") or "nan")) for label in of_class(root, "text", "chart-tick-label")]
    (low, y_low), (high, y_high) = min(ticks), max(ticks)
    per_unit = (y_low - y_high) / (high - low)
    bars = of_class(root, "line", "error-bar")
    assert len(bars) == 2
    circles = of_class(root, "circle", "point")
    for bar, circle, u in zip(bars, circles, (0.02, 0.01), strict=True):
        top, bottom = float(bar.get("y1") or "nan"), float(bar.get("y2") or "nan")
        assert bottom - top == pytest.approx(2 * u * per_unit, abs=0.25)
        # Centred on the point, at the point's x.
        assert (top + bottom) / 2 == pytest.approx(float(circle.get("cy") or "nan"), abs=0.15)
        assert bar.get("x1") == bar.get("x2") == circle.get("cx")
    assert len(of_class(root, "line", "error-bar-cap")) == 4
    # The first point sits at 99.95 on the axis.
    assert float(circles[0].get("cy") or "nan") == pytest.approx(y_low - (99.95 - low) * per_unit, abs=0.15)


def test_the_minimum_is_a_line_at_its_value_with_its_label() -> None:
    root = parse(purity_trend_svg(title="t", points=THREE, minimum="99.9"))
    [line] = of_class(root, "line", "trend-minimum")
    assert line.get("y1") == line.get("y2")
    assert float(line.get("y1") or "nan") == pytest.approx(y_of_tick(root, "99.90"), abs=0.15)
    [label] = of_class(root, "text", "trend-minimum-label")
    assert label.text == "min 99.9 %"


def test_without_a_minimum_or_with_one_that_is_not_a_number_there_is_no_line() -> None:
    for minimum in (None, "", "abc"):
        root = parse(purity_trend_svg(title="t", points=THREE, minimum=minimum))
        assert of_class(root, "line", "trend-minimum") == []
        assert len(of_class(root, "circle", "point")) == 3


def test_only_the_current_lot_is_ringed() -> None:
    root = parse(purity_trend_svg(title="t", points=THREE, minimum="99.9"))
    current = of_class(root, "circle", "current")
    assert len(current) == 1
    assert title_of(current[0]).startswith("ND-2 ")
    assert current[0].get("stroke") == "currentColor"
    assert float(current[0].get("r") or 0) > max(float(c.get("r") or 0) for c in of_class(root, "circle", "point") if c is not current[0])


def test_the_y_range_stays_near_the_purities_not_around_zero() -> None:
    root = parse(purity_trend_svg(title="t", points=THREE, minimum="99.9"))
    ticks = [Decimal(label.text or "") for label in of_class(root, "text", "chart-tick-label")]
    assert ticks
    assert min(ticks) >= Decimal("99.8")
    assert max(ticks) <= Decimal("100.0")
    # Equal values without U still get a readable span (a hundredth of a percent), not ±5 %.
    flat = parse(purity_trend_svg(title="t", points=[TrendPoint("A", 99.99), TrendPoint("B", 99.99)]))
    flat_ticks = [Decimal(label.text or "") for label in of_class(flat, "text", "chart-tick-label")]
    assert flat_ticks
    assert max(flat_ticks) - min(flat_ticks) < Decimal("0.05")


def test_fewer_than_two_points_give_the_empty_state() -> None:
    for points in ([], [TrendPoint("A", 99.95, 0.01, "pass")], [TrendPoint("A", 99.95), TrendPoint("B", None)]):
        root = parse(purity_trend_svg(title="Relative purity of X lots", points=points, minimum="99.9"))
        assert "trend-chart-empty" in (root.get("class") or "")
        assert of_class(root, "circle", "point") == []
        assert "a trend needs two" in (root.get("aria-label") or "")


def test_a_lot_without_a_value_keeps_its_slot_and_says_so() -> None:
    points = [TrendPoint("A", 99.95, 0.01, "pass"), TrendPoint("B", None), TrendPoint("C", math.nan), TrendPoint("D", 99.96, 0.01, "pass")]
    root = parse(purity_trend_svg(title="t", points=points))
    assert len(of_class(root, "circle", "point")) == 2
    gaps = of_class(root, "line", "trend-no-value")
    assert [title_of(gap) for gap in gaps] == ["B — no relative purity", "C — no relative purity"]
    xs = [float(c.get("cx") or "nan") for c in of_class(root, "circle", "point")]
    gap_xs = [float(gap.get("x1") or "nan") for gap in gaps]
    assert xs[0] < gap_xs[0] < gap_xs[1] < xs[1]


def test_lot_codes_are_escaped_in_titles_and_labels() -> None:
    nasty = 'ND<script>alert("x")</script>&"\x01'
    points = [TrendPoint(nasty, 99.95, 0.01, "pass"), TrendPoint("B", 99.96, 0.01, "pass", current=True)]
    svg = purity_trend_svg(title="Lots of <b>", points=points)
    assert "<script>" not in svg
    assert "<b>" not in svg
    root = parse(svg)  # well-formed although the code holds markup and a control character
    titles = [title_of(point) for point in of_class(root, "circle", "point")]
    assert titles[0].startswith('ND<script>alert("x")</script>&"\ufffd — ')
    first_label = of_class(root, "text", "chart-x-label")[0]
    assert first_label.text == 'ND<script>alert("x")</script>&"\ufffd'


def test_a_value_without_u_is_rounded_not_shown_as_a_float() -> None:
    text = value_text(value=99.99123456789, expanded_uncertainty=None, minimum="99.9")
    assert text == "99.991"  # two places beyond the minimum's last digit
    assert value_text(value=99.99123456789, expanded_uncertainty=None) == "99.9912"
    shown, u = round_with_uncertainty(value=99.99123456789, expanded_uncertainty=0.00314)
    assert value_text(value=99.99123456789, expanded_uncertainty=0.00314) == f"{format_decimal(shown)} ± {format_decimal(u)}"
    assert u is not None
    assert format_decimal(u) == "0.0031"


def test_too_small_a_chart_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        purity_trend_svg(title="t", points=THREE, width=100)


Maybe = float | None
finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.none())


@given(
    values=st.lists(st.tuples(finite_or_not, finite_or_not), min_size=0, max_size=12),
    minimum=st.one_of(st.none(), st.sampled_from(["99.9", "99.99", "0", "1E+2", "x"])),
)
def test_any_input_gives_well_formed_markup_with_finite_numbers(values: list[tuple[Maybe, Maybe]], minimum: str | None) -> None:
    points = [TrendPoint(f"L{index}", value, u, "pass", current=index == 0) for index, (value, u) in enumerate(values)]
    svg = purity_trend_svg(title="t", points=points, minimum=minimum)
    root = parse(svg)
    assert "nan" not in svg.lower()
    assert "inf" not in svg.lower()
    for element in root.iter():
        for attribute in NUMERIC_ATTRIBUTES:
            if attribute in element.attrib:
                assert math.isfinite(float(element.attrib[attribute]))
