"""Specification files: validation messages that name the file, the line and the field; defaults;
the canonical form and its digest (assays.spec_schema, no database)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assays.spec_schema import (
    Basis,
    Comparison,
    DecisionRule,
    Quantity,
    SpecError,
    Unit,
    catalogue,
    catalogue_files,
    parse_spec,
    parse_spec_file,
)

FILE = "nd2o3-test.json"


def _example() -> dict[str, Any]:
    """The documented example (docs/specifications.md), one line of each kind."""
    return {
        "product": "ND2O3-3N",
        "name": "Neodymium oxide 3N",
        "grade": "3N",
        "source": "plant default",
        "main": ["Nd"],
        "basis": "as_received",
        "lines": [
            {"quantity": "relative_purity", "min": "99.9", "unit": "%", "method": "rounding", "rule": "simple", "source": "market grade"},
            {"quantity": "oxide", "element": "Fe", "oxide": "Fe2O3", "max": "50", "unit": "mg/kg"},
            {"quantity": "ratio", "oxides": ["Pr6O11", "Nd2O3"], "min": "99", "unit": "%"},
            {"quantity": "anion", "anion": "Cl-", "max": "300", "unit": "mg/kg"},
            {"quantity": "loi", "max": "1", "unit": "%"},
        ],
    }


def _problems(data: Any, *, file_name: str = FILE) -> list[str]:
    """Every message of the refusal, as printed ("file: path: message")."""
    text = data if isinstance(data, str | bytes) else json.dumps(data)
    with pytest.raises(SpecError) as caught:
        parse_spec_file(text, file_name=file_name)
    return str(caught.value).splitlines()


def _with_line(index: int, **changes: Any) -> dict[str, Any]:
    spec = _example()
    line = spec["lines"][index]
    for key, value in changes.items():
        if value is None:
            line.pop(key, None)
        else:
            line[key] = value
    return spec


def _one(data: Any, expected_start: str, fragment: str) -> None:
    problems = _problems(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{FILE}: {expected_start}: "), problems[0]
    assert fragment in problems[0], problems[0]


# --- A valid specification --------------------------------------------------------------------


def test_the_documented_example_loads_with_its_defaults_filled_in() -> None:
    spec = parse_spec(_example(), file_name=FILE)
    assert (spec.product, spec.name, spec.grade, spec.main, spec.basis) == (
        "ND2O3-3N",
        "Neodymium oxide 3N",
        "3N",
        ("Nd",),
        Basis.AS_RECEIVED,
    )
    assert [line.quantity for line in spec.lines] == [
        Quantity.RELATIVE_PURITY,
        Quantity.OXIDE,
        Quantity.RATIO,
        Quantity.ANION,
        Quantity.LOI,
    ]
    purity, iron, ratio, chloride, loi = spec.lines
    # Limits stay as written, in their own unit.
    assert (purity.minimum, purity.maximum, purity.unit) == ("99.9", None, Unit.PERCENT)
    assert (iron.element, iron.oxide, iron.maximum, iron.unit) == ("Fe", "Fe2O3", "50", Unit.MG_KG)
    assert ratio.ratio_oxides == ("Pr6O11", "Nd2O3")
    assert chloride.anion == "Cl-"
    # "method" defaults to rounding and "rule" to simple; a line without a source has the spec's.
    assert {(line.comparison, line.rule) for line in spec.lines} == {(Comparison.ROUNDING, DecisionRule.SIMPLE)}
    assert purity.source == "market grade"
    assert {iron.source, ratio.source, chloride.source, loi.source} == {"plant default"}
    assert spec.treo_also_counts == ()
    assert spec.effective_from is None
    assert spec.oxide_formulas == ("Fe2O3", "Pr6O11", "Nd2O3")


def test_required_analytes_default_to_what_the_lines_name_in_their_order() -> None:
    spec = parse_spec(_example(), file_name=FILE)
    # Fe (oxide line), Pr and Nd (the ratio's oxides), the chloride line's anion, LOI for the loi line.
    assert spec.required_analytes == ("Fe", "Pr", "Nd", "Cl-", "LOI")


def test_an_ignited_basis_requires_loi_even_without_a_loi_line() -> None:
    spec = _example()
    spec["basis"] = "ignited"
    spec["lines"] = spec["lines"][:2]
    assert parse_spec(spec, file_name=FILE).required_analytes == ("Fe", "LOI")
    spec["required_analytes"] = ["Fe", "La"]
    _one(spec, "required_analytes", "leaves out LOI, which the lines need (an ignited basis divides by 1 - LOI)")


def test_explicit_required_analytes_may_add_to_the_named_ones_but_not_leave_any_out() -> None:
    spec = _example()
    spec["required_analytes"] = ["La", "Ce", "Fe", "Pr", "Nd", "Cl-", "SO4 2-", "LOI"]
    assert parse_spec(spec, file_name=FILE).required_analytes == ("La", "Ce", "Fe", "Pr", "Nd", "Cl-", "SO4 2-", "LOI")
    spec["required_analytes"] = ["Fe", "Pr"]
    _one(spec, "required_analytes", "leaves out Nd, Cl-, LOI, which the lines need")
    spec["required_analytes"] = ["Fe", "Pr", "Nd", "Cl-", "LOI", "Xx"]
    _one(spec, "required_analytes[5]", "'Xx' is neither an element symbol nor 'LOI' nor an anion")
    spec["required_analytes"] = ["Fe", "Pr", "Nd", "Cl-", "LOI", "Fe"]
    _one(spec, "required_analytes[5]", "'Fe' is listed twice")


def test_a_line_without_limits_is_report_only() -> None:
    feedstock = {
        "product": "FS-NDFEB",
        "source": "plant default",
        "main": [],
        "basis": "as_received",
        "lines": [{"quantity": "treo", "unit": "%"}, {"quantity": "oxide", "element": "Nd", "oxide": "Nd2O3", "unit": "%"}],
    }
    spec = parse_spec(feedstock, file_name=FILE)
    assert [line.report_only for line in spec.lines] == [True, True]
    assert not parse_spec(_example(), file_name=FILE).lines[0].report_only


def test_a_guard_band_line_compares_the_unrounded_value_by_default() -> None:
    line = parse_spec(_with_line(1, rule="guard_band"), file_name=FILE).lines[1]
    assert (line.rule, line.comparison) == (DecisionRule.GUARD_BAND, Comparison.ABSOLUTE)


def test_a_file_may_hold_a_list_of_specifications_and_paths_then_start_with_the_index() -> None:
    second = _example()
    second["product"] = "ND2O3-4N"
    assert [spec.product for spec in parse_spec_file(json.dumps([_example(), second]), file_name=FILE)] == ["ND2O3-3N", "ND2O3-4N"]
    second["lines"][2]["min"] = "abc"
    problems = _problems([_example(), second])
    assert problems == [
        f'{FILE}: [1].lines[2].min: \'abc\' is not a decimal number such as "99.9" or "0.0005" (digits, at most one point, no sign)'
    ]
    assert _problems([_example(), _example()]) == [f"{FILE}: [1].product: ND2O3-3N is also specified at [0]: one per file"]


# --- Every refusal names the line and the field ------------------------------------------------


def test_a_limit_written_as_a_json_number_is_refused_with_a_hint_to_quote_it() -> None:
    text = json.dumps(_example()).replace('"min": "99.9"', '"min": 99.90')
    problems = _problems(text)
    assert problems == [
        f'{FILE}: lines[0].min: write the limit as a string ("99.90"), not a JSON number: a number loses its written digits '
        "(99.90 would read as 99.9), and the rounding method compares at the limit's last digit"
    ]
    # The same from a decoded object (the number's text is lost already) and for an integer.
    _one(_with_line(0, min=99.9), "lines[0].min", 'write the limit as a string ("99.9")')
    _one(_with_line(1, max=50), "lines[1].max", 'write the limit as a string ("50")')


@pytest.mark.parametrize("bad", ["", "-1", "+5", "1e-3", ".5", "5.", "99,9", "1/2", "NaN"])
def test_a_limit_must_be_a_plain_decimal_number(bad: str) -> None:
    _one(_with_line(1, max=bad), "lines[1].max", "is not a decimal number")


def test_limits_are_kept_as_written_and_must_not_be_more_than_the_whole_sample() -> None:
    assert parse_spec(_with_line(0, min="99.90"), file_name=FILE).lines[0].minimum == "99.90"
    _one(_with_line(0, min="100.5"), "lines[0].min", "100.5 % is more than the whole sample (100 %)")
    _one(_with_line(1, max="1000001"), "lines[1].max", "1000001 mg/kg is more than the whole sample")
    _one(_with_line(1, max=True), "lines[1].max", "not true")


def test_a_minimum_above_the_maximum_is_refused() -> None:
    _one(_with_line(1, min="60", max="50"), "lines[1].min", "the minimum 60 is above the maximum 50")
    assert parse_spec(_with_line(1, min="50", max="50"), file_name=FILE).lines[1].minimum == "50"


def test_a_guard_band_line_with_the_rounding_method_is_refused() -> None:
    _one(_with_line(1, rule="guard_band", method="rounding"), "lines[1].method", "a guard_band line compares the unrounded value")


def test_unknown_method_rule_quantity_and_unit_are_refused_with_the_choices() -> None:
    _one(_with_line(1, method="nearest"), "lines[1].method", "'nearest' is not one of 'absolute', 'rounding'")
    _one(_with_line(1, rule="lenient"), "lines[1].rule", "'lenient' is not one of 'simple', 'guard_band'")
    _one(_with_line(4, quantity="moisture"), "lines[4].quantity", "'moisture' is not one of 'oxide', 'element'")
    _one(_with_line(1, unit="ppm"), "lines[1].unit", "'ppm' is not one of '%', 'mg/kg'")


@pytest.mark.parametrize(
    ("index", "quantity_line"),
    [
        (0, {"quantity": "relative_purity", "min": "99.9"}),
        (0, {"quantity": "treo", "min": "99"}),
        (0, {"quantity": "main_oxide", "min": "99"}),
        (0, {"quantity": "ratio", "oxides": ["Nd2O3"], "min": "75"}),
        (0, {"quantity": "loi", "max": "1"}),
    ],
)
def test_quantities_that_are_shares_of_the_sample_are_in_percent(index: int, quantity_line: dict[str, Any]) -> None:
    spec = _example()
    spec["lines"] = [{**quantity_line, "unit": "mg/kg"}]
    _one(spec, f"lines[{index}].unit", f"a {quantity_line['quantity']} line is in '%', not 'mg/kg'")


def test_impurities_anions_and_sums_may_be_in_either_unit() -> None:
    spec = _example()
    spec["lines"] = [
        {"quantity": "oxide", "element": "Fe", "oxide": "Fe2O3", "max": "0.005", "unit": "%"},
        {"quantity": "element", "element": "Co", "max": "20", "unit": "mg/kg"},
        {"quantity": "anion", "anion": "SO4 2-", "max": "0.05", "unit": "%"},
        {"quantity": "sum_re_impurities", "max": "100", "unit": "mg/kg"},
        {"quantity": "sum_non_re", "max": "0.01", "unit": "%"},
    ]
    assert [line.unit for line in parse_spec(spec, file_name=FILE).lines] == ["%", "mg/kg", "%", "mg/kg", "%"]


def test_an_oxide_line_needs_an_element_and_an_oxide_of_that_element() -> None:
    _one(_with_line(1, oxide="Nd2O3"), "lines[1].oxide", "Nd2O3 is an oxide of Nd, not of Fe")
    _one(_with_line(1, element=None), "lines[1].element", "missing")
    _one(_with_line(1, element="Xx"), "lines[1].element", "'Xx' is not a known element symbol")


def test_an_analyte_without_an_oxide_factor_on_an_oxide_line_is_an_error() -> None:
    _one(_with_line(1, element="Cl", oxide=None), "lines[1].oxide", "missing: an oxide line names the oxide its element is reported as")
    _one(_with_line(1, oxide="Fe2Cl3"), "lines[1].oxide", "no oxide factor can be computed from it")
    _one(_with_line(1, oxide="Fe2X3"), "lines[1].oxide", "no oxide factor can be computed from it")


def test_keys_that_do_not_belong_to_the_line_or_are_unknown_are_refused() -> None:
    _one(_with_line(4, element="Fe"), "lines[4].element", "unknown key 'element'")
    _one(_with_line(1, maximum="50"), "lines[1].maximum", "unknown key 'maximum'")
    spec = _example()
    spec["limits"] = []
    _one(spec, "limits", "unknown key 'limits' (known: product, source, main, basis, lines")
    problems = _problems(json.dumps(_example()).replace('"max": "50",', '"max": "50", "max": "60",'))
    assert problems == [f"{FILE}: lines[1].max: 'max' is given twice"]


def test_missing_required_keys_are_each_named() -> None:
    spec = _example()
    for key in ("product", "source", "main", "basis", "lines"):
        del spec[key]
    assert _problems(spec) == [f"{FILE}: {key}: missing" for key in ("product", "source", "main", "basis", "lines")]
    _one(_with_line(2, unit=None), "lines[2].unit", "missing")
    _one(_with_line(2, oxides=None), "lines[2].oxides", "missing")
    _one(_with_line(3, anion=None), "lines[3].anion", "missing")


def test_element_symbols_must_exist_and_main_elements_must_be_rare_earths() -> None:
    spec = _example()
    spec["main"] = ["Fe"]
    _one(spec, "main[0]", "Fe is not a rare earth")
    spec["main"] = ["Nd", "Nd"]
    _one(spec, "main[1]", "'Nd' is listed twice")
    spec["main"] = ["Qq"]
    _one(spec, "main[0]", "'Qq' is not a known element symbol")


def test_purity_and_rare_earth_impurities_need_a_main_component_set() -> None:
    spec = _example()
    spec["main"] = []
    spec["lines"] = [{"quantity": quantity, "max": "1", "unit": "%"} for quantity in ("relative_purity", "main_oxide", "sum_re_impurities")]
    problems = _problems(spec)
    assert len(problems) == 3
    for index, problem in enumerate(problems):
        assert problem.startswith(f"{FILE}: lines[{index}].quantity: ")
        assert "needs the main component set" in problem


def test_ratio_lines_name_distinct_rare_earth_oxides() -> None:
    _one(_with_line(2, oxides=["Fe2O3"]), "lines[2].oxides[0]", "Fe2O3 is not a rare-earth oxide")
    _one(_with_line(2, oxides=["Nd2O3", "Nd2O3"]), "lines[2].oxides[1]", "'Nd2O3' is listed twice")
    _one(_with_line(2, oxides=["Pr6O11", "Pr2O3"]), "lines[2].oxides[1]", "Pr is already in the ratio as Pr6O11")
    _one(_with_line(2, oxides=[]), "lines[2].oxides", "at least one oxide")


def test_anions_treo_additions_and_dates_are_checked() -> None:
    _one(_with_line(3, anion="NO3-"), "lines[3].anion", "'NO3-' is not one of 'Cl-', 'SO4 2-'")
    spec = _example()
    spec["treo_also_counts"] = ["Sc", "Fe"]
    _one(spec, "treo_also_counts[1]", "only Sc, Th, U may be added to TREO")
    spec = _example()
    spec["effective_from"] = "1 Jan 2026"
    _one(spec, "effective_from", 'is not a date written "YYYY-MM-DD"')


def test_a_line_repeating_another_is_refused() -> None:
    spec = _example()
    spec["lines"].append({"quantity": "oxide", "element": "Fe", "oxide": "Fe2O3", "max": "40", "unit": "mg/kg"})
    _one(spec, "lines[5]", "repeats lines[1] (Fe2O3)")
    spec = _example()
    spec["lines"].append({"quantity": "ratio", "oxides": ["Nd2O3", "Pr6O11"], "min": "98", "unit": "%"})
    _one(spec, "lines[5]", "repeats lines[2] (Nd2O3+Pr6O11 / TREO)")


def test_texts_must_be_texts_within_the_column_lengths() -> None:
    spec = _example()
    spec["product"] = ""
    _one(spec, "product", "must not be empty")
    spec["product"] = "X" * 33
    _one(spec, "product", "at most 32")
    spec = _example()
    spec["grade"] = 3
    _one(spec, "grade", "must be a text, not the number 3")
    _one(_with_line(1, source=""), "lines[1].source", "must not be empty")


def test_every_problem_is_reported_at_once() -> None:
    spec = _example()
    spec["basis"] = "dry"
    spec["lines"][0]["min"] = 99.9
    spec["lines"][1]["oxide"] = "CuO"
    spec["lines"][4]["unit"] = "mg/kg"
    paths = [problem.split(": ")[1] for problem in _problems(spec)]
    assert paths == ["basis", "lines[0].min", "lines[1].oxide", "lines[4].unit"]


def test_files_that_are_not_json_or_not_specifications_are_refused() -> None:
    assert _problems(b'{"product": ') == [f"{FILE}: not valid JSON: Expecting value (line 1, column 13)"]
    assert _problems(b"\xff\xfe") == [f"{FILE}: not UTF-8 text (invalid start byte at byte 0)"]
    assert _problems("[]") == [f"{FILE}: the list holds no specification"]
    assert _problems('"x"') == [f"{FILE}: a specification file holds one specification object or a list of them"]
    assert _problems("[1]") == [f"{FILE}: [0]: a specification is a JSON object, not the number 1"]
    with pytest.raises(SpecError, match="holds 2 specifications"):
        parse_spec(json.dumps([_example(), {**_example(), "product": "B"}]), file_name=FILE)


# --- Canonical form and digest ------------------------------------------------------------------


def test_the_digest_does_not_depend_on_key_order_whitespace_or_spelled_out_defaults() -> None:
    original = parse_spec(_example(), file_name=FILE)
    reordered = {key: _example()[key] for key in reversed(list(_example()))}
    reordered["lines"] = [dict(reversed(list(line.items()))) for line in reordered["lines"]]
    indented = json.dumps(reordered, indent=4)
    assert parse_spec(indented.encode(), file_name=FILE).content_sha256 == original.content_sha256
    explicit = _example()
    for line in explicit["lines"]:
        line.setdefault("method", "rounding")
        line.setdefault("rule", "simple")
        line.setdefault("source", "plant default")
    explicit["required_analytes"] = ["Fe", "Pr", "Nd", "Cl-", "LOI"]
    explicit["treo_also_counts"] = []
    explicit["grade"] = " 3N "
    assert parse_spec(explicit, file_name=FILE).content_sha256 == original.content_sha256
    assert len(original.content_sha256) == 64


def test_the_digest_changes_with_any_content_including_a_limit_s_written_digits() -> None:
    original = parse_spec(_example(), file_name=FILE).content_sha256
    changes: list[dict[str, Any]] = []
    for path, value in [
        (("lines", 0, "min"), "99.90"),
        (("lines", 1, "unit"), "%"),
        (("lines", 1, "source"), "customer"),
        (("basis",), "ignited"),
        (("grade",), "3N5"),
        (("treo_also_counts",), ["Sc"]),
        (("effective_from",), "2026-01-01"),
    ]:
        spec = copy.deepcopy(_example())
        target: Any = spec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        changes.append(spec)
    swapped = _example()
    swapped["lines"][0], swapped["lines"][1] = swapped["lines"][1], swapped["lines"][0]
    changes.append(swapped)
    digests = {parse_spec(spec, file_name=FILE).content_sha256 for spec in changes}
    assert original not in digests
    assert len(digests) == len(changes)


def test_the_canonical_form_is_itself_a_specification_with_the_same_digest() -> None:
    for file_name, spec in catalogue().values():
        again = parse_spec(spec.canonical_json(), file_name=file_name)
        assert again == spec
        assert again.content_sha256 == spec.content_sha256


# --- The shipped catalogue -----------------------------------------------------------------------


def test_the_shipped_catalogue_parses_with_one_specification_per_product() -> None:
    assert len(catalogue_files()) >= 9
    specs = catalogue()
    assert set(specs) == {"ND2O3", "ND2O3-3N", "PR6O11", "PRND", "DY2O3", "TB4O7", "LA2O3", "CEO2", "SM2O3", "FS-NDFEB", "FS-SMCO"}
    for code in ("FS-NDFEB", "FS-SMCO"):
        # Feedstock: payable content reported without a verdict, nothing by difference.
        assert specs[code][1].main == ()
        assert all(line.report_only for line in specs[code][1].lines)
    prnd = specs["PRND"][1]
    assert [(line.ratio_oxides, line.minimum) for line in prnd.lines if line.quantity == Quantity.RATIO] == [
        (("Pr6O11", "Nd2O3"), "99"),
        (("Nd2O3",), "75"),
    ]


def test_the_example_in_the_documentation_is_a_valid_specification() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "specifications.md"
    example = docs.read_text(encoding="utf-8").split("```json", 1)[1].split("```", 1)[0]
    spec = parse_spec(example, file_name="docs/specifications.md")
    assert spec.product == "ND2O3-3N"
    assert [line.quantity for line in spec.lines] == [Quantity.RELATIVE_PURITY, Quantity.OXIDE, Quantity.ANION, Quantity.LOI]


def test_the_schema_module_is_pure_it_imports_no_django() -> None:
    code = "import sys, assays.spec_schema; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert result.stdout.strip() == "[]"
