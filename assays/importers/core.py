"""The normalised result of parsing any instrument export, and the errors a parser raises.

PURE: no Django, no database. Every parser (one module per vendor format) turns the bytes of one
file into one ``ParsedRun``, or raises ``ImportFormatError`` naming the file, line and column.
Matching acquisitions to samples, unit conversion to the solid and censoring happen later, on the
``ParsedRun``; a parser reports what the file says and nothing more.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from assays.chemistry.channels import channel_code
from assays.errors import DomainError


class ImportFormatError(DomainError):
    """A file that cannot be imported, with where and why, for a person to act on.

    ``str()`` reads "User_Raw.csv, line 12, column 'Conc. [ ppb ]' (La 139): not a number: 'abc'".
    """

    def __init__(self, message: str, *, file_name: str, line: int | None = None, column: str | None = None) -> None:
        self.message = message
        self.file_name = file_name
        self.line = line
        self.column = column
        where = [file_name]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")


class Qualifier(enum.StrEnum):
    LESS_THAN = "<"
    EQUAL = "="
    GREATER_THAN = ">"


class ValueBasis(enum.StrEnum):
    """What a value is a concentration of: the measured solution, or the solid itself."""

    SOLUTION = "solution"
    SOLID = "solid"


@dataclass(frozen=True, slots=True)
class ParsedChannel:
    """One analyte channel as the file names it.

    ICP-MS: element, isotope mass, cell mode, optional triple-quad Q1 -> Q2.
    ICP-OES: element, wavelength, Qtegra's line index ``{85}``, plasma view.
    Named analytes without an element (LOI, Cl-, SO4 2-): ``name``.
    """

    label: str  # exactly as written in the file, for messages
    element: str | None
    isotope_mass: int | None = None
    cell_mode: str = ""
    q1_mass: int | None = None
    q2_mass: int | None = None
    wavelength_nm: Decimal | None = None
    line_index: int | None = None
    view: str = ""
    name: str = ""
    is_internal_standard: bool = False

    @property
    def code(self) -> str:
        """The project's canonical spelling (``assays.chemistry.channels``), unique per channel."""
        return channel_code(
            element=self.element,
            isotope_mass=self.isotope_mass,
            cell_mode=self.cell_mode,
            q1_mass=self.q1_mass,
            q2_mass=self.q2_mass,
            wavelength_nm=self.wavelength_nm,
            view=self.view,
            name=self.name,
        )


# Not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__, which
# makes building one three times slower, and a large batch builds a hundred thousand of them.
@dataclass(slots=True)
class ParsedValue:
    """One reported concentration. ``value`` is None when the cell holds no number (empty, N/A);
    such cells are kept so the preview can say so, but never enter arithmetic. Exception: an
    Agilent batch table leaves ``Conc.`` empty for a channel not calibrated in that acquisition
    (the first samples of the real batch, before its calibration): no result was reported at
    all, so no ParsedValue is made.

    A censoring token such as Agilent's ``<0.000`` is ``qualifier='<'`` with ``value`` the
    number after the sign and ``raw_text`` the token; what it means (below zero, not "LOD = 0")
    is decided by the censoring step, with the method's LOD.
    """

    channel: int  # index into ParsedRun.channels
    value: float | None
    qualifier: Qualifier
    unit: str  # as the file gives it: "ppb", "µg/L", "mg/kg", "%"
    basis: ValueBasis
    raw_text: str
    rsd_percent: float | None = None
    lod: float | None = None  # only formats that carry their own (generic-long), same unit
    loq: float | None = None
    replicate: str = ""
    line: int | None = None  # source line, for messages downstream
    # The expanded uncertainty and its coverage factor as a report states them (generic-long: an
    # outside laboratory's results), U in the value's unit; both or neither. Last, so that the
    # importers' positional calls (agilent_masshunter) keep their order.
    expanded_u: float | None = None
    coverage_factor: float | None = None


@dataclass(frozen=True, slots=True)
class InternalStandardResponse:
    channel: int  # index into ParsedRun.channels (an is_internal_standard channel)
    counts_per_second: float | None
    recovery_percent: float | None = None


@dataclass(slots=True)
class ParsedAcquisition:
    sequence: int  # 1-based order in the run as the file gives it
    label: str  # the sample name as typed on the instrument, whitespace-trimmed
    vendor_type: str = ""  # "Sample", "CalStd", "CalBlk", "QC" …
    calibration_level: int | None = None
    acquired_at: dt.datetime | None = None  # naive local time of the instrument
    rejected_by_instrument: bool = False
    data_file: str = ""
    dilution_factor: float | None = None  # from the vendor's batch log, when read
    line: int | None = None
    values: list[ParsedValue] = field(default_factory=list)
    internal_standards: list[InternalStandardResponse] = field(default_factory=list)
    # Set instead of ``values`` by a parser asked to defer them (``registry.parse(defer_values=True)``):
    # reads them from the row's cells when ``load_values`` is called, raising the ImportFormatError
    # the eager parse would have raised. Only a format whose values never carry a replicate defers.
    deferred_values: Callable[[], list[ParsedValue]] | None = field(default=None, repr=False, compare=False)

    def load_values(self) -> list[ParsedValue]:
        """``values``, read first if they were deferred."""
        if self.deferred_values is not None:
            self.values = self.deferred_values()
            self.deferred_values = None
        return self.values


@dataclass(slots=True)
class ParsedRun:
    format: str  # registry name, e.g. "agilent-masshunter"
    file_name: str
    channels: list[ParsedChannel]
    acquisitions: list[ParsedAcquisition]
    # False for an export that holds intensities only (Qtegra ICP-OES raw): nothing to import.
    holds_concentrations: bool = True
    instrument_hint: str = ""  # model or software named in the file, if any
    warnings: list[str] = field(default_factory=list)

    @property
    def value_count(self) -> int:
        return sum(1 for acquisition in self.acquisitions for value in acquisition.values if value.value is not None)

    @property
    def analyte_channels(self) -> list[ParsedChannel]:
        return [channel for channel in self.channels if not channel.is_internal_standard]

    @property
    def internal_standard_channels(self) -> list[ParsedChannel]:
        return [channel for channel in self.channels if channel.is_internal_standard]
