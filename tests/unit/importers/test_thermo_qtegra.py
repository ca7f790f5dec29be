"""Thermo Qtegra quantitative export: the real ICP-OES file and ICP-MS concentration exports built from the documented layout."""

from __future__ import annotations

import codecs
from decimal import Decimal

import pytest

from assays.importers import registry, thermo_qtegra
from assays.importers.core import ImportFormatError, Qualifier, ValueBasis
from tests.unit.importers.export_builders import QTEGRA_ROWS, qtegra_concentration_csv, read_fixture

OES_FILE = "thermo_qtegra_icapoes_conc_semicolon.csv"


def _parse(text: str, name: str = "qtegra.csv"):
    return thermo_qtegra.parse(text.encode("utf-8"), file_name=name)


def _error(text: str, name: str = "qtegra.csv") -> ImportFormatError:
    with pytest.raises(ImportFormatError) as caught:
        thermo_qtegra.parse(text.encode("utf-8"), file_name=name)
    return caught.value


# --- the real ICP-OES export ---------------------------------------------------------------------


def test_real_icp_oes_export_reads_its_acquisitions_and_lines_but_holds_no_concentrations() -> None:
    run = thermo_qtegra.parse(read_fixture(OES_FILE), file_name=OES_FILE)

    assert run.format == "thermo-qtegra"
    assert [(channel.element, channel.wavelength_nm, channel.line_index, channel.view) for channel in run.channels] == [
        ("Al", Decimal("394.401"), 85, "Radial"),
        ("Al", Decimal("237.312"), 142, "Radial"),
    ]
    assert [channel.code for channel in run.channels] == ["Al 394.401 (radial)", "Al 237.312 (radial)"]
    assert len(run.acquisitions) == 22
    assert [acquisition.sequence for acquisition in run.acquisitions] == list(range(1, 23))
    assert [acquisition.label for acquisition in run.acquisitions[:4]] == ["BLK", "1MMR3220", "3MMR3220", "5MMR3220"]
    assert run.acquisitions[-1].label == "3MMR3220"
    assert run.acquisitions[12].label == "LQ19-223"
    assert run.acquisitions[0].line == 5  # four header rows above it
    # Intensities and the standards' nominal values only: nothing to import, and the preview says so.
    assert run.holds_concentrations is False
    assert thermo_qtegra.INTENSITIES_ONLY in run.warnings
    assert run.value_count == 0
    assert all(not acquisition.values for acquisition in run.acquisitions)
    assert run.instrument_hint == "Thermo Qtegra (ICP-OES)"


def test_unit_row_y_ppm_is_an_axis_label_not_yttrium() -> None:
    run = thermo_qtegra.parse(read_fixture(OES_FILE), file_name=OES_FILE)
    assert all(channel.element == "Al" for channel in run.channels)
    assert len(run.channels) == 2


def test_nominal_standard_concentrations_tell_blanks_and_standards_from_samples() -> None:
    run = thermo_qtegra.parse(read_fixture(OES_FILE), file_name=OES_FILE)
    types = {acquisition.label: acquisition.vendor_type for acquisition in run.acquisitions}
    assert types["BLK"] == "CalBlk"
    assert types["1MMR3220"] == types["10MMR3220"] == "CalStd"
    assert types["CFG1902"] == types["SC232"] == "Sample"


def test_registry_detects_the_real_export() -> None:
    data = read_fixture(OES_FILE)
    assert registry.detect_format(data, file_name=OES_FILE) == "thermo-qtegra"
    assert len(registry.parse(data, file_name=OES_FILE).acquisitions) == 22


# --- the ICP-MS concentration export (no public real file: built from the layout) -----------------


def test_concentration_export_gives_values_with_units_rsd_and_censoring() -> None:
    run = _parse(qtegra_concentration_csv())

    assert run.holds_concentrations is True
    assert run.warnings == []
    assert [channel.code for channel in run.analyte_channels] == ["153Eu", "111Cd [KED]", "89Y [KED]", "75As 75->91 [TQ-O2]"]
    assert [channel.code for channel in run.internal_standard_channels] == ["115In [KED]"]
    assert run.instrument_hint == "Thermo Qtegra (ICP-MS)"
    assert [acquisition.label for acquisition in run.acquisitions] == ["Cal Blank", "Std 1 ppb", "S-2024-0001", "S-2024-0002"]

    sample = run.acquisitions[2]
    eu, cd, y, arsenic = sample.values
    assert (eu.value, eu.qualifier, eu.unit, eu.basis, eu.rsd_percent, eu.raw_text) == (
        0.2531,
        Qualifier.EQUAL,
        "µg/L",
        ValueBasis.SOLUTION,
        2.5,
        "0.2531",
    )
    assert run.channels[cd.channel].cell_mode == "KED"
    assert y.value == 12.75
    assert run.channels[y.channel].element == "Y"
    assert run.channels[arsenic.channel].q1_mass == 75
    assert run.channels[arsenic.channel].q2_mass == 91
    assert sample.line == 7

    blank = run.acquisitions[0]
    assert blank.values[1].qualifier is Qualifier.LESS_THAN
    assert blank.values[1].value == 0.0
    assert blank.values[1].raw_text == "<0.000"
    assert blank.values[3].value is None
    assert blank.values[3].raw_text == "N/A"
    assert run.acquisitions[3].values[1].value is None  # an empty cell is kept, not dropped
    assert run.acquisitions[3].values[3].value == -0.001  # a negative stays as measured; censoring is later

    [istd] = sample.internal_standards
    assert run.channels[istd.channel].is_internal_standard
    assert istd.counts_per_second == 776001.0
    assert run.value_count == sum(1 for row in QTEGRA_ROWS for cell in row[2:10:2] if cell not in {"", "N/A"})


def test_concentration_export_in_decimal_comma_utf16_with_crlf() -> None:
    text = qtegra_concentration_csv(decimal_comma=True)
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    run = thermo_qtegra.parse(data, file_name="qtegra_fr.csv")
    assert run.acquisitions[2].values[0].value == 0.2531
    assert run.acquisitions[3].internal_standards[0].counts_per_second == 770112.25


def test_comma_separated_export_without_index_row_reads_the_same() -> None:
    run = _parse(qtegra_concentration_csv(delimiter=",", index_row=False))
    reference = _parse(qtegra_concentration_csv())
    assert [[value.value for value in acquisition.values] for acquisition in run.acquisitions] == [
        [value.value for value in acquisition.values] for acquisition in reference.acquisitions
    ]


def test_concentration_in_a_solid_unit_is_a_solid_value_and_ppm_of_a_solution_is_mg_per_l() -> None:
    solid = _parse(qtegra_concentration_csv(unit="mg/kg"))
    assert {(value.unit, value.basis) for acquisition in solid.acquisitions for value in acquisition.values} == {
        ("mg/kg", ValueBasis.SOLID)
    }
    ppm = _parse(qtegra_concentration_csv(unit="ppm"))
    assert {(value.unit, value.basis) for acquisition in ppm.acquisitions for value in acquisition.values} == {
        ("mg/L", ValueBasis.SOLUTION)
    }


def test_standard_deviation_gives_the_rsd_when_no_rsd_column() -> None:
    text = ";;Conc. average;Conc. SD\n;;153Eu;153Eu\n;;Y (ppb);Y (ppb)\n1;S1;2.0;0.1\n2;S2;0;0.1\n"
    run = _parse(text)
    assert run.acquisitions[0].values[0].rsd_percent == pytest.approx(5.0)
    assert run.acquisitions[1].values[0].rsd_percent is None


def test_unknown_quantities_are_skipped_with_a_warning() -> None:
    text = ";;Conc. average;ExtCal.Slope\n;;153Eu;153Eu\n;;Y (ppb);Y (cps/ppb)\n1;S1;2.0;1000\n"
    run = _parse(text)
    assert run.acquisitions[0].values[0].value == 2.0
    assert run.warnings == ["quantities not read: 'ExtCal.Slope'"]


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("153Eu", "153Eu"),
        ("111Cd (KED)", "111Cd [KED]"),
        ("56Fe (STD)", "56Fe [STD]"),
        ("Al 394.401 {85} (Radial)", "Al 394.401 (radial)"),
        ("Y 371.030 {90} (Axial)", "Y 371.03 (axial)"),
        ("75As.16O (TQ-O2)", "75As 75->91 [TQ-O2]"),
        ("31P | 31P.16O (TQ-O2)", "31P 31->47 [TQ-O2]"),
    ],
)
def test_analyte_labels(label: str, code: str) -> None:
    assert thermo_qtegra.read_label(label).code == code


# --- refusals, each naming file, line and column -----------------------------------------------


def test_unknown_concentration_unit_is_refused_at_the_unit_row() -> None:
    error = _error(qtegra_concentration_csv(unit="furlongs"))
    assert "unknown unit 'furlongs'" in str(error)
    assert (error.file_name, error.line) == ("qtegra.csv", 4)
    assert error.column is not None
    assert error.column.startswith("C '153Eu'")


def test_duplicate_channel_names_both_columns() -> None:
    error = _error(";;Conc. average;Conc. average\n;;153Eu;153 Eu\n;;Y (ppb);Y (ppb)\n1;S1;1;2\n")
    assert "duplicate channel: columns C and D both hold Conc. average of 153Eu" in str(error)
    assert error.line == 2


def test_repeated_acquisition_number_is_refused() -> None:
    error = _error(";;Conc. average\n;;153Eu\n;;Y (ppb)\n1;S1;1\n1;S2;2\n")
    assert "acquisition number 1 again: line 5 repeats line 4" in str(error)


def test_unknown_element_in_a_label() -> None:
    error = _error(";;Conc. average\n;;153Qq\n;;Y (ppb)\n1;S1;1\n")
    assert "'Qq' in '153Qq' is not an element symbol" in str(error)
    assert error.line == 2


def test_non_numeric_cell_names_line_and_column() -> None:
    error = _error(";;Conc. average;Raw.Average\n;;153Eu;153Eu\n;;Y (ppb);Y (cps)\n1;S1;1;12\n2;S2;2;lots\n")
    assert str(error) == "qtegra.csv, line 5, column D '153Eu' Raw.Average: not a number: 'lots'"


def test_short_row_is_refused_as_truncated() -> None:
    error = _error(";;Conc. average;Conc. RSD\n;;153Eu;153Eu\n;;Y (ppb);Y (%)\n1;S1;1;2\n2;S2;1.")
    assert "3 cells where the header has 4 (a truncated row?)" in str(error)
    assert error.line == 5


def test_header_only_file_is_refused() -> None:
    error = _error(";;Conc. average\n;;0\n;;153Eu\n;;Y (ppb)\n")
    assert "no acquisitions" in str(error)


def test_missing_analyte_row_is_refused() -> None:
    error = _error(";;Conc. average\n;;Y (ppb)\n1;S1;1\n")
    assert "no analyte row in the header" in str(error)


def test_time_resolved_qtegra_export_forced_here_is_named_for_what_it_is() -> None:
    name = "thermo_qtegra_icapRQ_time_resolved_ldr.csv"
    with pytest.raises(ImportFormatError, match="time-resolved"):
        thermo_qtegra.parse(read_fixture(name), file_name=name)


def test_sniff_scores() -> None:
    text = qtegra_concentration_csv()
    assert thermo_qtegra.sniff(text.encode(), text, "x.csv") >= 85
    assert thermo_qtegra.sniff(b"sample_id,analyte,value,unit\n", "sample_id,analyte,value,unit\n", "x.csv") == 0
    assert thermo_qtegra.sniff(b"\x89PNG", None, "x.png") == 0
