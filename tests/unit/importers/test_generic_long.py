"""generic-long: one result per row, for any instrument and for manual results (docs/import-formats.md)."""

from __future__ import annotations

import codecs

import pytest

from assays.importers import generic_long, registry
from assays.importers.core import ImportFormatError, Qualifier, ValueBasis
from tests.unit.importers.export_builders import GENERIC_LONG_CSV

HEADER = "sample_id,analyte,value,unit,qualifier,lod,loq\n"


def _parse(text: str, name: str = "results.csv"):
    return generic_long.parse(text.encode("utf-8"), file_name=name)


def _error(text: str, name: str = "results.csv") -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        generic_long.parse(text.encode("utf-8"), file_name=name)
    return caught.value


def test_documented_example_reads_every_kind_of_result() -> None:
    run = _parse(GENERIC_LONG_CSV)

    assert run.format == "generic-long"
    assert [channel.code for channel in run.channels] == ["La", "146Nd", "LOI", "Cl-", "SO4 2-", "Eu", "Al 394.401 (radial)", "163Dy [He]"]
    assert [acquisition.label for acquisition in run.acquisitions] == ["S-2024-0001", "S-2024-0002"]
    first, second = run.acquisitions
    la, nd, loi, chloride, sulfate = first.values
    assert (la.value, la.qualifier, la.unit, la.basis, la.lod, la.loq, la.line) == (
        5.0,
        Qualifier.EQUAL,
        "mg/kg",
        ValueBasis.SOLID,
        0.5,
        1.5,
        2,
    )
    assert (nd.value, nd.qualifier, nd.raw_text) == (0.5, Qualifier.LESS_THAN, "<0.5")
    assert (loi.value, loi.unit, loi.basis) == (0.35, "%", ValueBasis.SOLID)
    assert run.channels[loi.channel].element is None
    assert run.channels[loi.channel].name == "LOI"
    assert (chloride.value, chloride.unit, chloride.basis) == (50.0, "mg/kg", ValueBasis.SOLID)
    assert (sulfate.value, run.channels[sulfate.channel].name) == (30.0, "SO4 2-")
    europium, aluminium, dysprosium = second.values
    # '<' in the qualifier column with an empty value stands at the LOD.
    assert (europium.value, europium.qualifier, europium.lod) == (0.5, Qualifier.LESS_THAN, 0.5)
    assert (aluminium.unit, aluminium.basis) == ("µg/L", ValueBasis.SOLUTION)
    assert (dysprosium.unit, dysprosium.basis, run.channels[dysprosium.channel].cell_mode) == ("µg/L", ValueBasis.SOLUTION, "He")
    assert run.value_count == 8
    assert run.warnings == []


def test_registry_detects_it() -> None:
    data = GENERIC_LONG_CSV.encode()
    assert registry.detect_format(data, file_name="results.csv") == "generic-long"
    assert registry.parse(data, file_name="results.csv").value_count == 8


@pytest.mark.parametrize(
    ("unit", "basis_cell", "expected"),
    [
        ("ppm", "", ("mg/L", ValueBasis.SOLUTION)),  # the documented default for the ambiguous ratios
        ("ppm", "solid", ("mg/kg", ValueBasis.SOLID)),
        ("ppb", "", ("µg/L", ValueBasis.SOLUTION)),
        ("ppb", "solid", ("µg/kg", ValueBasis.SOLID)),
        ("ppt", "", ("ng/L", ValueBasis.SOLUTION)),
        ("µg/g", "", ("mg/kg", ValueBasis.SOLID)),
        ("ug/L", "solution", ("µg/L", ValueBasis.SOLUTION)),
        ("MG/L", "", ("mg/L", ValueBasis.SOLUTION)),
        ("wt%", "", ("%", ValueBasis.SOLID)),
    ],
)
def test_units_and_basis(unit: str, basis_cell: str, expected: tuple[str, ValueBasis]) -> None:
    run = _parse(f"sample_id,analyte,value,unit,basis\nS1,Nd,1.5,{unit},{basis_cell}\n")
    value = run.acquisitions[0].values[0]
    assert (value.unit, value.basis) == expected


def test_basis_contradicting_the_unit_is_refused() -> None:
    error = _error("sample_id,analyte,value,unit,basis\nS1,Nd,1.5,mg/kg,solution\n")
    assert "mg/kg is a unit of a solid, but the file says the value is of a solution" in str(error)
    assert (error.line, error.column) == (2, "'basis'")


def test_loi_in_ppm_is_of_the_solid_and_in_a_solution_unit_is_refused() -> None:
    assert _parse("sample_id,analyte,value,unit\nS1,LOI,3500,ppm\n").acquisitions[0].values[0].basis is ValueBasis.SOLID
    error = _error("sample_id,analyte,value,unit\nS1,LOI,0.3,mg/L\n")
    assert "LOI is a mass fraction of the solid" in str(error)
    assert error.column == "'unit'"


def test_replicates_may_repeat_a_sample_and_analyte() -> None:
    run = _parse("sample_id,analyte,value,unit,replicate\nS1,Nd,1.5,mg/kg,1\nS1,Nd,1.6,mg/kg,2\n")
    assert [(value.value, value.replicate) for value in run.acquisitions[0].values] == [(1.5, "1"), (1.6, "2")]


def test_repeated_sample_and_analyte_without_replicate_names_both_lines() -> None:
    error = _error(HEADER + "S1,La,5,mg/kg,,,\nS1,Nd,5,mg/kg,,,\nS1,La,6,mg/kg,,,\n")
    assert "sample 'S1' analyte 'La' again: line 4 repeats line 2" in str(error)
    assert (error.file_name, error.line, error.column) == ("results.csv", 4, "'analyte'")


def test_the_same_channel_spelled_two_ways_is_still_a_repeat() -> None:
    error = _error(HEADER + "S1,146Nd,5,mg/kg,,,\nS1,Nd 146,6,mg/kg,,,\n")
    assert "line 3 repeats line 2" in str(error)


def test_value_and_qualifier_column_disagreeing() -> None:
    error = _error(HEADER + "S1,La,<5,mg/kg,>,,\n")
    assert "disagree" in str(error)
    assert error.column == "'qualifier'"


def test_qualifier_column_applies_to_a_plain_number() -> None:
    value = _parse(HEADER + "S1,La,0.5,mg/kg,<,,\n").acquisitions[0].values[0]
    assert (value.value, value.qualifier) == (0.5, Qualifier.LESS_THAN)


def test_bare_less_than_sign_with_lod_and_without() -> None:
    value = _parse(HEADER + "S1,La,<,mg/kg,,0.2,\n").acquisitions[0].values[0]
    assert (value.value, value.qualifier, value.lod) == (0.2, Qualifier.LESS_THAN, 0.2)
    error = _error("sample_id,analyte,value,unit\nS1,La,<,mg/kg\n")
    assert "a censoring sign without a number: '<'" in str(error)
    assert (error.line, error.column) == (2, "'value'")


@pytest.mark.parametrize(
    ("row", "fragment", "column"),
    [
        ("S1,La,abc,mg/kg,,,", "not a number: 'abc'", "'value'"),
        ("S1,La,NaN,mg/kg,,,", "not a number: 'NaN'", "'value'"),
        ("S1,La,inf,mg/kg,,,", "not a number: 'inf'", "'value'"),
        ("S1,La,,mg/kg,,,", "no value ('')", "'value'"),
        ("S1,La,n.d.,mg/kg,,,", "no value ('n.d.')", "'value'"),
        ("S1,La,<-1,mg/kg,,,", "a censored value needs a positive limit", "'value'"),
        ("S1,La,1,furlongs,,,", "unknown unit 'furlongs'", "'unit'"),
        ("S1,La,1,,,,", "no unit given", "'unit'"),
        ("S1,Xx,1,mg/kg,,,", "'Xx' is not an element symbol", "'analyte'"),
        ("S1,Moisture,1,%,,,", "'Moisture' is not an analyte", "'analyte'"),
        ("S1,146Xx,1,mg/kg,,,", "'Xx' in '146Xx' is not an element symbol", "'analyte'"),
        (",La,1,mg/kg,,,", "no sample_id", "'sample_id'"),
        ("S1,La,1,mg/kg,ND,,", "qualifier 'ND' is not one of", "'qualifier'"),
        ("S1,La,1,mg/kg,,-0.1,", "a negative LOD", "'lod'"),
        ("S1,La,1,mg/kg,,0.5,0.1", "the LOQ (0.1) is below the LOD (0.5)", "'loq'"),
        ("S1,La,1,mg/kg,,,,extra", "8 cells where the header has 7", "8 (beyond the header)"),
        ("S1,La,1,mg/kg", "4 cells where the header has 7: no cell for 'qualifier'", "'qualifier'"),
    ],
)
def test_bad_rows_name_file_line_and_column(row: str, fragment: str, column: str) -> None:
    error = _error(HEADER + "S0,Nd,1,mg/kg,,,\n" + row + "\n")
    assert fragment in str(error)
    assert (error.file_name, error.line, error.column) == ("results.csv", 3, column)
    assert str(error).startswith(f"results.csv, line 3, column {column}: ")


def test_missing_required_column() -> None:
    error = _error("sample_id,analyte,value\nS1,La,1\n")
    assert "missing column unit" in str(error)
    assert error.line == 1


def test_header_only() -> None:
    error = _error(HEADER)
    assert "no results: the file has a header and no rows" in str(error)
    assert error.line == 2


def test_extra_columns_are_ignored_with_a_warning() -> None:
    run = _parse("sample_id,analyte,value,unit,comment\nS1,La,1,mg/kg,outside lab\n")
    assert run.warnings == ["ignored columns: 'comment'"]


def test_semicolons_decimal_comma_bom_crlf_and_header_case() -> None:
    text = "Sample ID;Analyte;Value;Unit;LOD\r\nS1;La;0,25;mg/kg;0,05\r\nS1;Ce;<0,05;mg/kg;0,05\r\n"
    run = generic_long.parse(codecs.BOM_UTF8 + text.encode("utf-8"), file_name="fr.csv")
    assert [(value.value, value.lod) for value in run.acquisitions[0].values] == [(0.25, 0.05), (0.05, 0.05)]


def test_cp1252_micro_sign() -> None:
    data = "sample_id,analyte,value,unit\nS1,La,1.5,µg/L\n".encode("cp1252")
    assert _parse_bytes(data).acquisitions[0].values[0].unit == "µg/L"


def _parse_bytes(data: bytes):
    return generic_long.parse(data, file_name="results.csv")


def test_large_file_reads_every_value() -> None:
    lines = [HEADER.strip()]
    for sample in range(200):
        for element in ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho"):
            lines.append(f"S{sample:04d},{element},{sample / 7:.4f},mg/kg,,0.01,0.03")
    run = _parse("\n".join(lines) + "\n")
    assert len(run.acquisitions) == 200
    assert len(run.channels) == 10
    assert run.value_count == 2000


def test_sniff() -> None:
    text = GENERIC_LONG_CSV
    assert generic_long.sniff(text.encode(), text, "x.csv") == 95
    partial = "sample_id,analyte,value\nS1,La,1\n"
    assert generic_long.sniff(partial.encode(), partial, "x.csv") == 60
    assert generic_long.sniff(b"", None, "x.csv") == 0


U_HEADER = "sample_id,analyte,value,unit,lod,expanded_u,coverage_factor\n"


def test_a_reported_uncertainty_is_read_with_its_coverage_factor() -> None:
    # An outside laboratory's report: "Nd 21.8 % ± 0.65 % (k = 2)"; a row without U has none.
    run = _parse(U_HEADER + "S1,Nd,21.8,%,,0.65,2\nS1,Pr,6.9,%,,,\nS1,Eu,<,mg/kg,20,,\n")
    nd, pr, eu = run.acquisitions[0].values
    assert (nd.value, nd.expanded_u, nd.coverage_factor) == (21.8, 0.65, 2.0)
    assert (pr.expanded_u, pr.coverage_factor) == (None, None)
    assert (eu.qualifier, eu.expanded_u) == (Qualifier.LESS_THAN, None)


def test_a_reported_uncertainty_with_a_decimal_comma() -> None:
    run = _parse("Sample ID;Analyte;Value;Unit;Expanded U;Coverage factor\nS1;Nd;21,8;%;0,65;2\n")
    assert [(value.value, value.expanded_u, value.coverage_factor) for value in run.acquisitions[0].values] == [(21.8, 0.65, 2.0)]


@pytest.mark.parametrize(
    ("row", "fragment", "column"),
    [
        ("S1,Nd,21.8,%,,0.65,", "without its coverage factor", "'coverage_factor'"),
        ("S1,Nd,21.8,%,,,2", "a coverage factor without an expanded uncertainty", "'expanded_u'"),
        ("S1,Nd,21.8,%,,-0.65,2", "a negative expanded uncertainty", "'expanded_u'"),
        ("S1,Nd,21.8,%,,0.65,95", "a coverage factor of 95: k is between 1 and 10", "'coverage_factor'"),
        ("S1,Nd,21.8,%,,0.65,0.5", "a coverage factor of 0.5", "'coverage_factor'"),
        ("S1,Nd,21.8,%,,0.65,two", "not a number", "'coverage_factor'"),
        ("S1,Eu,<,mg/kg,20,5,2", "a result below the LOD or over the range has none", "'expanded_u'"),
        ("S1,Eu,<20,mg/kg,,5,2", "a result below the LOD or over the range has none", "'expanded_u'"),
    ],
)
def test_a_reported_uncertainty_that_cannot_be_used_is_refused_on_its_cell(row: str, fragment: str, column: str) -> None:
    error = _error(U_HEADER + "S0,Nd,1,%,,,\n" + row + "\n")
    assert fragment in str(error)
    assert (error.file_name, error.line, error.column) == ("results.csv", 3, column)
