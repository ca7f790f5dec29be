"""Units of reported results and the conversion of a solution concentration to the solid.

PURE: no Django, no database. REO-ASSAY.md §2:

    w (mg/kg) = c (µg/L) · V (mL) · DF / (1000 · m (g))

with V the digest's final volume, DF the further dilution and m the weighed sample mass. Units come
from one table; a unit not in it is an error, never a guess. Two canonical units carry every value
internally: µg/L for a solution, mg/kg for the solid; the rest are scale factors to them.

``ppt``/``ppb``/``ppm`` name a mass ratio and say nothing of the medium: in a solution (ICP-MS
software reports them for the measured solution) they are ng/L, µg/L and mg/L; in a solid they
are µg/t, mg/t (µg/kg) and mg/kg. Only for these three does the basis the file declares decide;
every other unit carries its medium in its dimensions.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from assays.errors import DomainError


class UnitError(DomainError):
    """A unit the table does not know, or a value that cannot be converted (no sample mass...)."""


class Medium(enum.StrEnum):
    """What a concentration is a concentration in (same values as importers.core.ValueBasis)."""

    SOLUTION = "solution"
    SOLID = "solid"


SOLUTION_UNIT = "µg/L"
SOLID_UNIT = "mg/kg"


@dataclass(frozen=True, slots=True)
class Unit:
    symbol: str  # the canonical spelling, as stored
    medium: Medium
    to_canonical: float  # value in this unit x to_canonical = value in µg/L (solution) or mg/kg (solid)

    def canonical(self, value: float) -> float:
        return value * self.to_canonical

    def from_canonical(self, value: float) -> float:
        return value / self.to_canonical


_SOLUTION_UNITS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("ng/L", 1e-3, ("ng/l", "ppt")),
    ("µg/L", 1.0, ("µg/l", "ug/l", "mcg/l", "ppb", "ng/ml")),
    ("mg/L", 1e3, ("mg/l", "ppm", "µg/ml", "ug/ml")),
    ("g/L", 1e6, ("g/l", "mg/ml")),
)
_SOLID_UNITS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("µg/kg", 1e-3, ("µg/kg", "ug/kg", "mcg/kg", "ng/g", "ppb")),
    ("mg/kg", 1.0, ("mg/kg", "ppm", "µg/g", "ug/g", "mcg/g")),
    ("g/kg", 1e3, ("g/kg", "mg/g")),
    ("%", 1e4, ("%", "wt%", "wt.%", "% w/w", "%w/w", "%(w/w)", "mass%")),
)
# ppt of a solid (µg/t) is not a unit any lab here reports in; refusing it beats a silent 10^-6.
_AMBIGUOUS = frozenset({"ppt", "ppb", "ppm"})


def _index() -> tuple[dict[str, Unit], dict[str, Unit]]:
    solution: dict[str, Unit] = {}
    solid: dict[str, Unit] = {}
    for table, medium, target in ((_SOLUTION_UNITS, Medium.SOLUTION, solution), (_SOLID_UNITS, Medium.SOLID, solid)):
        for symbol, factor, spellings in table:
            unit = Unit(symbol, medium, factor)
            target[_key(symbol)] = unit
            for spelling in spellings:
                target[_key(spelling)] = unit
    return solution, solid


def _key(text: str) -> str:
    # Case and spacing differ between vendors ("mg/L", "MG/L", "mg / l"); the micro sign has two
    # code points (U+00B5 and the Greek U+03BC) that look the same on screen.
    return "".join(text.split()).lower().replace("μ", "µ")


_BY_MEDIUM: dict[Medium, dict[str, Unit]] = dict(zip((Medium.SOLUTION, Medium.SOLID), _index(), strict=True))

KNOWN_UNITS: tuple[str, ...] = tuple(
    sorted({symbol for symbol, _, _ in _SOLUTION_UNITS + _SOLID_UNITS} | {"ppt", "ppb", "ppm", "ug/L", "µg/g"})
)


def unit_lookup(text: str, *, medium: Medium | str) -> Unit:
    """The unit ``text`` names. ``medium`` (the file's declared basis) settles ppt/ppb/ppm only:
    for any other unit its dimensions decide, so "mg/kg" is a solid whatever the file's column said.
    Raises ``UnitError`` for a unit not in the table."""
    key = _key(text)
    declared = Medium(medium)
    if key in _AMBIGUOUS:
        unit = _BY_MEDIUM[declared].get(key)
        if unit is None:
            raise UnitError(f"unit {text.strip()!r} of a solid is not supported; use mg/kg, µg/g or %")
        return unit
    for candidate in (declared, Medium.SOLID if declared is Medium.SOLUTION else Medium.SOLUTION):
        unit = _BY_MEDIUM[candidate].get(key)
        if unit is not None:
            return unit
    shown = text.strip() or "(none)"
    raise UnitError(f"unknown unit {shown!r}; known units: {', '.join(KNOWN_UNITS)}")


@dataclass(frozen=True, slots=True)
class Preparation:
    """How a solid sample became the measured solution.

    ``dilution_already_applied``: the instrument software has multiplied its results by the
    dilution factor (a per-instrument setting, REO-ASSAY.md §2); the factor is then not applied
    to the values again. It still scales the detection limits, which belong to the measured
    (diluted) solution: see ``limit_factor``.
    """

    sample_mass_g: float
    final_volume_ml: float
    dilution_factor: float = 1.0
    dilution_already_applied: bool = False

    def __post_init__(self) -> None:
        for name, number in (("sample mass", self.sample_mass_g), ("final volume", self.final_volume_ml)):
            if not (math.isfinite(number) and number > 0):
                raise UnitError(f"the {name} must be a positive number, not {number!r}")
        if not (math.isfinite(self.dilution_factor) and self.dilution_factor > 0):
            raise UnitError(f"the dilution factor must be a positive number, not {self.dilution_factor!r}")

    @property
    def value_factor(self) -> float:
        """mg/kg of the solid per µg/L reported by the instrument."""
        dilution = 1.0 if self.dilution_already_applied else self.dilution_factor
        return self.final_volume_ml * dilution / (1000.0 * self.sample_mass_g)

    @property
    def limit_factor(self) -> float:
        """mg/kg of the solid per µg/L of the measured solution (an LOD or LOQ of the method)."""
        return self.final_volume_ml * self.dilution_factor / (1000.0 * self.sample_mass_g)


def solution_to_solid(concentration: float, unit: Unit, preparation: Preparation) -> float:
    """A reported solution concentration as mg/kg of the solid sample."""
    if unit.medium is not Medium.SOLUTION:
        raise UnitError(f"{unit.symbol} is not a solution concentration")
    return _finite(unit.canonical(concentration) * preparation.value_factor)


def solution_limit_to_solid(limit: float, unit: Unit, preparation: Preparation) -> float:
    """A detection or quantification limit of the measured solution as mg/kg of the solid sample."""
    if unit.medium is not Medium.SOLUTION:
        raise UnitError(f"{unit.symbol} is not a solution concentration")
    return _finite(unit.canonical(limit) * preparation.limit_factor)


def convert(value: float, *, source: Unit, target: Unit) -> float:
    """Between two units of the same medium (µg/L -> mg/L, mg/kg -> %)."""
    if source.medium is not target.medium:
        raise UnitError(f"cannot convert {source.symbol} ({source.medium}) to {target.symbol} ({target.medium}) without a preparation")
    return _finite(target.from_canonical(source.canonical(value)))


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise UnitError(f"the converted value is out of range ({number!r})")
    return number
