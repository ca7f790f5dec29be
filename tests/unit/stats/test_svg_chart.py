"""The control chart as SVG: well-formed, escaped, scaled, violations marked, never NaN or inf."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assays.stats.control_charts import Baseline, WestgardRule, westgard_violations
from assays.stats.svg_chart import ChartPoint, control_chart_svg

SVG = "{http://www.w3.org/2000/svg}"
RECOVERY = Baseline(mean=100.0, sd=2.0, n=20)
NUMERIC_ATTRIBUTES = ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height", "dy")


def points_of(values: list[float]) -> list[ChartPoint]:
    return [ChartPoint(value=value, label=f"Run {index + 1}") for index, value in enumerate(values)]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 (our own markup, parsed to check it is well-formed)
    assert root.tag == f"{SVG}svg"
    return root


def circles(root: ET.Element) -> list[ET.Element]:
    return root.findall(f".//{SVG}circle")


def tooltip(element: ET.Element) -> str:
    title = element.find(f"{SVG}title")
    assert title is not None
    return title.text or ""


def lines_of_class(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [line for line in root.iter(f"{SVG}line") if css_class in (line.get("class") or "").split()]


def assert_all_numbers_finite(svg: str, root: ET.Element) -> None:
    assert "nan" not in svg.lower()
    assert "inf" not in svg.lower()
    for element in root.iter():
        for attribute in NUMERIC_ATTRIBUTES:
            if attribute in element.attrib:
                assert math.isfinite(float(element.attrib[attribute])), (element.tag, attribute, element.attrib[attribute])
        if element.tag == f"{SVG}polyline":
            for pair in (element.get("points") or "").split():
                assert all(math.isfinite(float(number)) for number in pair.split(","))


def test_an_accessible_standalone_svg_with_a_title() -> None:
    svg = control_chart_svg(title="Nd in CRM OREAS-460", unit="%", points=points_of([100.0, 101.0]), baseline=RECOVERY)
    root = parse(svg)
    assert root.get("role") == "img"
    assert "Nd in CRM OREAS-460" in (root.get("aria-label") or "")
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Nd in CRM OREAS-460"


def test_one_circle_per_finite_point_with_label_and_value_in_its_tooltip() -> None:
    values = [99.2, 100.4, float("nan"), 101.7, float("inf"), 98.6]
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of(values), baseline=RECOVERY))
    drawn = circles(root)
    assert len(drawn) == 4
    assert [tooltip(circle) for circle in drawn] == ["Run 1 — 99.2 %", "Run 2 — 100.4 %", "Run 4 — 101.7 %", "Run 6 — 98.6 %"]
    polyline = root.find(f".//{SVG}polyline")
    assert polyline is not None
    assert len((polyline.get("points") or "").split()) == 4


def test_points_involved_in_a_violation_are_marked_and_name_their_rules() -> None:
    values = [100.0, 99.0, 101.0, 105.0, 105.5, 100.0, 107.0]
    violations = westgard_violations(values=values, baseline=RECOVERY)
    assert {(v.rule, v.involved) for v in violations} == {(WestgardRule.TWO_2S, (3, 4)), (WestgardRule.ONE_3S, (6,))}
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of(values), baseline=RECOVERY, violations=violations))
    classes = [circle.get("class") for circle in circles(root)]
    assert classes == ["point", "point", "point", "point violation", "point violation", "point", "point violation"]
    tooltips = [tooltip(circle) for circle in circles(root)]
    assert tooltips[3].endswith("— Westgard 2-2s")
    assert tooltips[6].endswith("— Westgard 1-3s")
    assert "Westgard" not in tooltips[0]
    assert "3 points in a Westgard violation" in (root.get("aria-label") or "")


def test_a_point_in_several_violations_names_each_rule_once_in_rule_order() -> None:
    values = [105.0, 105.0, 107.0, 93.0]
    violations = westgard_violations(values=values, baseline=RECOVERY)
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of(values), baseline=RECOVERY, violations=violations))
    assert tooltip(circles(root)[2]).endswith("— Westgard 1-3s, 2-2s, R-4s")


def test_violations_outside_the_points_are_ignored() -> None:
    stray = westgard_violations(values=[100.0, 100.0, 107.0], baseline=RECOVERY)
    svg = control_chart_svg(title="Nd", unit="%", points=points_of([100.0]), baseline=RECOVERY, violations=stray)
    assert [circle.get("class") for circle in circles(parse(svg))] == ["point"]


def test_all_text_is_escaped() -> None:
    nasty = 'Run 3 <script>alert("x")</script> & co'
    svg = control_chart_svg(title='Nd "<&>"', unit="<%>", points=[ChartPoint(value=100.0, label=nasty)], baseline=RECOVERY)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg)
    assert tooltip(circles(root)[0]) == f"{nasty} — 100 <%>"
    assert (root.get("aria-label") or "").startswith('Nd "<&>"')


def test_mean_2s_and_3s_lines_are_drawn_in_order_and_labelled() -> None:
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of([100.0, 101.0]), baseline=RECOVERY))
    (mean,) = lines_of_class(root, "chart-mean")
    two_s = lines_of_class(root, "chart-2s")
    three_s = lines_of_class(root, "chart-3s")
    assert len(two_s) == 2
    assert len(three_s) == 2
    assert all(line.get("stroke-dasharray") for line in two_s)
    assert not any(line.get("stroke-dasharray") for line in three_s)
    # SVG y grows downwards.
    heights = sorted(float(line.get("y1") or "nan") for line in [*three_s, *two_s, mean])
    top_3s, top_2s, mean_y, low_2s, low_3s = heights
    assert float(mean.get("y1") or "nan") == mean_y
    one_s = top_2s - top_3s
    assert low_3s - low_2s == pytest.approx(one_s, abs=0.2)
    assert mean_y - top_2s == pytest.approx(2 * one_s, abs=0.3)
    assert low_2s - mean_y == pytest.approx(2 * one_s, abs=0.3)
    labels = [text.text for text in root.iter(f"{SVG}text") if "chart-line-label" in (text.get("class") or "")]
    assert labels == ["mean 100", "+3s 106", "-3s 94", "+2s 104", "-2s 96"]
    # A point at the mean sits on the mean line.
    assert float(circles(root)[0].get("cy") or "nan") == pytest.approx(mean_y, abs=0.06)


def test_the_y_axis_holds_every_point_and_the_3s_lines() -> None:
    values = [100.0, 131.0, 62.0, 101.0]
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of(values), baseline=RECOVERY, height=300))
    axis = lines_of_class(root, "chart-axis")[0]
    top, bottom = float(axis.get("y1") or "nan"), float(axis.get("y2") or "nan")
    heights = [float(circle.get("cy") or "nan") for circle in circles(root)]
    assert all(top < y < bottom for y in heights)  # inside, with a margin
    assert heights[1] == min(heights)
    assert heights[2] == max(heights)
    # Linear: 31 % up from 100 and 38 % down are drawn in that proportion.
    assert (heights[0] - heights[1]) / (heights[2] - heights[0]) == pytest.approx(31 / 38, rel=0.005)
    for line in lines_of_class(root, "chart-line"):
        assert top < float(line.get("y1") or "nan") < bottom


def test_a_few_increasing_y_tick_labels() -> None:
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of([97.0, 103.5]), baseline=RECOVERY))
    ticks = [
        (float(text.get("y") or "nan"), float(text.text or "nan"))
        for text in root.iter(f"{SVG}text")
        if text.get("class") == "chart-tick-label"
    ]
    assert 3 <= len(ticks) <= 12
    ticks.sort()
    values_top_down = [value for _, value in ticks]
    assert values_top_down == sorted(values_top_down, reverse=True)
    assert values_top_down[-1] <= 94
    assert values_top_down[0] >= 106


def test_without_a_baseline_only_points_and_a_note() -> None:
    svg = control_chart_svg(title="Nd", unit="%", points=points_of([100.0, 101.0, 99.5]), baseline=None, baseline_points_needed=15)
    root = parse(svg)
    assert len(circles(root)) == 3
    assert lines_of_class(root, "chart-line") == []
    notes = [text.text for text in root.iter(f"{SVG}text") if text.get("class") == "chart-note"]
    assert notes == ["no baseline yet (needs 15 points)"]


def test_a_single_point_without_a_baseline_is_centred() -> None:
    root = parse(control_chart_svg(title="Nd", unit="%", points=points_of([100.0]), baseline=None))
    axis = lines_of_class(root, "chart-axis")[0]
    (point,) = circles(root)
    middle = (float(axis.get("y1") or "nan") + float(axis.get("y2") or "nan")) / 2
    assert float(point.get("cy") or "nan") == pytest.approx(middle, abs=0.06)


@pytest.mark.parametrize("values", [[], [float("nan"), float("-inf")]])
def test_no_points_yet(values: list[float]) -> None:
    svg = control_chart_svg(title="Nd <CRM>", unit="%", points=points_of(values), baseline=RECOVERY)
    root = parse(svg)
    assert root.get("role") == "img"
    assert circles(root) == []
    assert "no points yet" in "".join(root.itertext())
    assert int(root.get("height") or "0") < 240


def test_a_chart_too_small_to_draw_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        control_chart_svg(title="Nd", unit="%", points=points_of([100.0]), baseline=RECOVERY, width=100)


def test_extreme_values_still_give_finite_markup() -> None:
    values = [1.7e308, -1.7e308, 5e-324, 0.0, 100.0]
    baseline = Baseline(mean=1e308, sd=1e308, n=3)
    svg = control_chart_svg(title="Nd", unit="%", points=points_of(values), baseline=baseline)
    root = parse(svg)
    assert_all_numbers_finite(svg, root)
    assert len(circles(root)) == 5


any_value = st.floats(allow_nan=True, allow_infinity=True)
finite = st.floats(allow_nan=False, allow_infinity=False)
baselines = st.one_of(
    st.none(),
    st.builds(
        Baseline,
        mean=finite,
        sd=st.floats(min_value=0.0, max_value=1.7e308, exclude_min=True, allow_subnormal=True),
        n=st.integers(min_value=2, max_value=100),
    ),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(any_value, max_size=25), baseline=baselines, width=st.integers(240, 1200), height=st.integers(120, 600))
def test_never_nan_or_inf_whatever_the_values(values: list[float], baseline: Baseline | None, width: int, height: int) -> None:
    violations = westgard_violations(values=values, baseline=baseline) if baseline is not None else []
    svg = control_chart_svg(
        title="Nd", unit="%", points=points_of(values), baseline=baseline, violations=violations, width=width, height=height
    )
    root = parse(svg)
    assert_all_numbers_finite(svg, root)
    assert len(circles(root)) == sum(1 for value in values if math.isfinite(value))
    for circle in circles(root):
        assert 0 <= float(circle.get("cx") or "nan") <= width
        assert 0 <= float(circle.get("cy") or "nan") <= height
    assert not re.search(r"\d\.\d*e\+?\d{4,}", svg)  # no absurd exponents either
