"""Exports the tests write themselves, for the layouts no public real file exists for.

The Qtegra ICP-MS concentration export and the Syngistix "Conc. in Sample Units" workbook are
built here from their documented layouts (fixtures/instruments/README.md); the fuzz tests use
them as seeds too.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook

# shared/ sits beside the repository, on a developer machine and in CI alike.
FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "instruments"

QTEGRA_LABELS = ("153Eu", "111Cd (KED)", "89Y (KED)", "75As | 75As.16O (TQ-O2)")
QTEGRA_ISTD = "115In (KED) (ISTD)"

# sequence, label, then per analyte: (conc, rsd); then the ISTD cps
QTEGRA_ROWS: tuple[tuple[str, ...], ...] = (
    ("1", "Cal Blank", "0.001", "12.5", "<0.000", "", "0.002", "3.1", "N/A", "", "812345.5"),
    ("2", "Std 1 ppb", "1.013", "1.2", "0.998", "2.2", "1.004", "0.9", "1.02", "1.5", "798210.1"),
    ("3", "S-2024-0001", "0.2531", "2.5", "0.0042", "8.4", "12.75", "0.7", "0.05", "4.4", "776001"),
    ("4", "S-2024-0002", "0.1002", "3.1", "", "", "11.9", "0.8", "-0.001", "40.2", "770112.25"),
)


def qtegra_concentration_csv(
    *,
    delimiter: str = ";",
    decimal_comma: bool = False,
    unit: str = "ppb",
    rows: Sequence[Sequence[str]] = QTEGRA_ROWS,
    index_row: bool = True,
) -> str:
    """A Qtegra ICP-MS concentration export: quantity, index, analyte and unit rows, then data."""
    quantities = ["", ""]
    labels = ["", ""]
    units = ["", ""]
    for label in QTEGRA_LABELS:
        quantities += ["Conc. average", "Conc. RSD"]
        labels += [label, label]
        units += [f"Y ({unit})", "Y (%)"]
    quantities.append("Raw.Average")
    labels.append(QTEGRA_ISTD)
    units.append("Y (cps)")
    header = [quantities]
    if index_row:
        header.append(["", ""] + ["0"] * (len(quantities) - 2))
    header += [labels, units]
    lines = [delimiter.join(row) for row in header]
    for row in rows:
        cells = list(row)
        if decimal_comma:
            cells = [cell.replace(".", ",") for cell in cells]
        lines.append(delimiter.join(cells))
    return "\r\n".join(lines) + "\r\n"


SYNGISTIX_META = ("Sample Id", "R", "Acquisition Time", "A/S Loc", "QC Status", "Dataset File", "Method File")


def syngistix_workbook(
    *,
    analytes: Sequence[str] = ("Ag 107 (mg/kg)", "Nd 146 (mg/kg)", "Al 396.153 (mg/kg)"),
    rows: Sequence[Sequence[object]] | None = None,
    units_row: Sequence[str] | None = None,
    sheet: str = "Conc. in Sample Units",
    title_rows: int = 0,
) -> bytes:
    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet
    for index in range(title_rows):
        worksheet.append([f"Syngistix report line {index + 1}"])
    worksheet.append([*SYNGISTIX_META, *analytes])
    if units_row is not None:
        worksheet.append(["", "", "", "", "", "", "", *units_row])
    if rows is None:
        rows = (
            ("DU-0001", 1, dt.datetime(2024, 3, 5, 14, 2, 11), 12, "", "DU-0001.dat", "REE.mth", 0.111, 1520.5, "<0.05"),
            ("DU-0002", 1, "28/05/2021 12:40:54 PM", 13, "", "DU-0002.dat", "REE.mth", 0.555, None, 33),
            ("CCV", 1, dt.datetime(2024, 3, 5, 14, 9, 40), 2, "Pass", "CCV.dat", "REE.mth", 10.2, 9.9, 10.1),
        )
    for row in rows:
        worksheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def plain_workbook(sheet: str = "Sheet1") -> bytes:
    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet
    worksheet.append(["Sample Id", "Ag 107"])
    worksheet.append(["DU-0001", 0.5])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


WINLAB_CSV = (
    "Sample\n"
    "Sample ID,Analyte Name,Date,Time,Reported Conc (Calib),Units (Samp)\n"
    " DU-0001,Ag 107,28-05-21,12:40:54 PM,0.111,mg/kg\n"
    " DU-0001,Nd 146,28-05-21,12:40:54 PM,<0.05,mg/kg\n"
    " DU-0002,Ag 107,28-05-21,12:44:02 PM,0.555,mg/kg\n"
    " DU-0002,Nd 146,28-05-21,12:44:02 PM,1520.5,mg/kg\n"
)

GENERIC_LONG_CSV = (
    "sample_id,analyte,value,unit,qualifier,lod,loq\n"
    "S-2024-0001,La,5,mg/kg,,0.5,1.5\n"
    "S-2024-0001,146Nd,<0.5,mg/kg,,0.5,1.5\n"
    "S-2024-0001,LOI,0.35,%,,,\n"
    "S-2024-0001,Cl-,50,mg/kg,,,\n"
    "S-2024-0001,SO4 2-,30,mg/kg,,,\n"
    "S-2024-0002,Eu,,mg/kg,<,0.5,1.5\n"
    "S-2024-0002,Al 394.401 (radial),12.5,µg/L,,,\n"
    "S-2024-0002,163Dy [He],0.82,ppb,,0.01,0.03\n"
)


def read_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()
