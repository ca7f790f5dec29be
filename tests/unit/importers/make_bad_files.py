"""Writes the corpus of malformed exports in ``bad_files/`` (run once; the files are committed).

    .venv/bin/python -m tests.unit.importers.make_bad_files

Each file is small and made to break one thing; ``test_bad_files.py`` holds, for each, the format
it is forced through and the fragment its refusal must contain. The > 1 MB field is not
committed: the test builds it.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

from tests.unit.importers.export_builders import plain_workbook, qtegra_concentration_csv, read_fixture, syngistix_workbook

CORPUS = Path(__file__).resolve().parent / "bad_files"

GENERIC = "sample_id,analyte,value,unit,qualifier,lod,loq\n"
QTEGRA = ";;Conc. average;Conc. RSD;Raw.Average\n;;0;0;0\n;;153Eu;153Eu;115In (KED) (ISTD)\n;;Y (ppb);Y (%);Y (cps)\n"
WINLAB = "Sample ID,Analyte Name,Date,Time,Reported Conc (Calib),Units (Samp)\n"
AGILENT = (
    "Sample;;;;;;;139  La  [ No Gas ] ;;;;146  Nd  [ No Gas ] ;;;;45  Sc ( ISTD )  [ He ] ;\n"
    ";Rjct;Data File;Acq. Date-Time;Type;Level;Sample Name;CPS;CPS RSD;Conc. [ ppb ];Conc. RSD;"
    "CPS;CPS RSD;Conc. [ ppb ];Conc. RSD;CPS;CPS RSD\n"
)
AGILENT_ROW = ";FAUX;001SMPL.d;19/12/2018 10:42;Sample;;S-1;341.13;4.8;0.12;2.1;10;33.3;<0.000;N/A;1000;1.2\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"


def _zip_of_text() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("results.csv", GENERIC + "S1,La,1,mg/kg,,,\n")
    return buffer.getvalue()


def files() -> dict[str, bytes]:
    workbook = syngistix_workbook()
    text: dict[str, str] = {
        # empty and not text
        "blank_lines.csv": "\r\n   \r\n\t\n",
        # header only
        "generic_header_only.csv": GENERIC,
        "qtegra_header_only.csv": QTEGRA,
        "winlab_header_only.csv": WINLAB,
        "agilent_header_only.csv": AGILENT,
        # wrong delimiter, missing or mismatched columns, broken quoting
        "generic_pipe_delimited.csv": "sample_id|analyte|value|unit\nS1|La|1|mg/kg\n",
        "generic_missing_unit_column.csv": "sample_id,analyte,value\nS1,La,1\n",
        "generic_mismatched_columns.csv": GENERIC + "S1,La,1,mg/kg,,,\nS1,Ce,1,5,mg/kg,,,\n",
        "generic_unclosed_quote.csv": GENERIC + 'S1,La,"1,mg/kg,,,\nS2,Ce,1,mg/kg,,,\n',
        "qtegra_truncated.csv": QTEGRA + "1;S1;0.1;2.5;1000\n2;S2;0.",
        "agilent_truncated.csv": AGILENT + AGILENT_ROW + AGILENT_ROW[:40],
        "winlab_mismatched_columns.csv": WINLAB + "S1,Ag 107,28-05-21,12:40:54 PM,0.111\n",
        # duplicates
        "qtegra_duplicate_channel.csv": ";;Conc. average;Conc. average\n;;153Eu;153 Eu\n;;Y (ppb);Y (ppb)\n1;S1;1;2\n",
        "agilent_duplicate_channel.csv": (AGILENT + AGILENT_ROW).replace("146  Nd", "139  La"),
        "generic_duplicate_result.csv": GENERIC + "S1,La,5,mg/kg,,,\nS1,Ce,5,mg/kg,,,\nS1,La,6,mg/kg,,,\n",
        "winlab_duplicate_result.csv": WINLAB + "S1,Ag 107,28-05-21,12:40:54 PM,0.1,mg/kg\nS1,Ag 107,28-05-21,12:40:54 PM,0.2,mg/kg\n",
        "qtegra_duplicate_acquisition_number.csv": QTEGRA + "1;S1;0.1;2.5;1000\n1;S2;0.2;2.5;1000\n",
        # cells that are not numbers
        "generic_non_numeric.csv": GENERIC + "S1,La,abc,mg/kg,,,\n",
        "generic_nan.csv": GENERIC + "S1,La,NaN,mg/kg,,,\n",
        "qtegra_infinity.csv": QTEGRA + "1;S1;-inf;2.5;1000\n",
        "qtegra_non_numeric_intensity.csv": QTEGRA + "1;S1;0.1;2.5;lots\n",
        "agilent_non_numeric.csv": AGILENT + AGILENT_ROW.replace(";0.12;", ";abc;"),
        "generic_less_than_without_number.csv": GENERIC + "S1,La,<,mg/kg,,,\n",
        "generic_empty_value.csv": GENERIC + "S1,La,,mg/kg,,,\n",
        "generic_negative_lod.csv": GENERIC + "S1,La,1,mg/kg,,-0.5,\n",
        "generic_loq_below_lod.csv": GENERIC + "S1,La,1,mg/kg,,0.5,0.1\n",
        "generic_bad_qualifier.csv": GENERIC + "S1,La,1,mg/kg,ND,,\n",
        # units and analytes
        "generic_unknown_unit.csv": GENERIC + "S1,La,1,furlongs,,,\n",
        "qtegra_unknown_unit.csv": qtegra_concentration_csv(unit="ppq"),
        "winlab_solution_unit_as_sample_units.csv": WINLAB + "S1,Ag 107,28-05-21,12:40:54 PM,0.1,µg/L\n",
        "generic_loi_in_solution.csv": GENERIC + "S1,LOI,0.3,mg/L,,,\n",
        "generic_unknown_element.csv": GENERIC + "S1,146Xx,1,mg/kg,,,\n",
        "generic_unknown_analyte.csv": GENERIC + "S1,Moisture,1,%,,,\n",
        "qtegra_unknown_element.csv": ";;Conc. average\n;;153Qq\n;;Y (ppb)\n1;S1;1\n",
        "winlab_unknown_element.csv": WINLAB + "S1,Qq 107,28-05-21,12:40:54 PM,0.1,mg/kg\n",
        "qtegra_no_analyte_row.csv": ";;Conc. average\n;;Y (ppb)\n1;S1;1\n",
        # dates and flags
        "winlab_not_a_date.csv": WINLAB + "S1,Ag 107,28-05-21,12:40:54 PM,0.1,mg/kg\nS2,Ag 107,yesterday,12:41:54 PM,0.1,mg/kg\n",
        "agilent_not_a_date.csv": AGILENT + AGILENT_ROW.replace("19/12/2018 10:42", "someday"),
        "agilent_bad_reject_flag.csv": AGILENT + AGILENT_ROW.replace("FAUX", "PEUT-ETRE"),
    }
    corpus = {name: content.encode("utf-8") for name, content in text.items()}
    corpus.update(
        {
            "empty.csv": b"",
            "png_header.csv": PNG,
            "zip_not_a_workbook.csv": _zip_of_text(),
            "workbook_given_as_csv.csv": plain_workbook("Sheet1"),
            "nul_in_text.csv": (GENERIC + "S1,La,1\x00,mg/kg,,,\n").encode("utf-8"),
            # A BOM that promises UTF-16, then a lone high surrogate.
            "utf16_invalid.csv": codecs.BOM_UTF16_LE + "sample_id,analyte\n".encode("utf-16-le") + b"\x00\xd8\x41\x00",
            "utf8_bom_invalid.csv": codecs.BOM_UTF8 + (GENERIC + "S1,La,1,mg/kg,,,\n").encode("utf-8") + b"S2,La,\xff\xfe,mg/kg,,,\n",
            "xlsx_without_the_sheet.xlsx": plain_workbook("Conc. in Calib Units"),
            "xlsx_corrupted.xlsx": workbook[: len(workbook) // 2],
            "xlsx_no_unit.xlsx": syngistix_workbook(analytes=("Ag 107", "Nd 146 (mg/kg)", "Al 396.153 (mg/kg)")),
            "xlsx_non_numeric.xlsx": syngistix_workbook(rows=(("DU-0001", 1, None, 1, "", "", "", 0.1, "lots", 2),)),
            "xlsx_duplicate_channel.xlsx": syngistix_workbook(analytes=("Ag 107 (mg/kg)", "Ag107 (mg/kg)", "Al 396.153 (mg/kg)")),
            # Real exports that are not results, given to a results parser.
            "time_resolved_as_agilent.csv": read_fixture("agilent_masshunter_7700_1d_time_resolved.csv"),
            "time_resolved_as_qtegra.csv": read_fixture("thermo_qtegra_icapRQ_time_resolved_ldr.csv"),
            "batchlog_as_agilent.csv": read_fixture("agilent_masshunter_7700_BatchLog.csv"),
        }
    )
    return corpus


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, content in files().items():
        (CORPUS / name).write_bytes(content)


if __name__ == "__main__":
    main()
