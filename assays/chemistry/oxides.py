"""Oxide formulas and gravimetric factors, computed from atomic weights, never copied by hand.

f(E) = M(oxide) / (n · A_r(E)) converts an element mass fraction into the mass fraction of the
oxide a specification names (REO-ASSAY.md §2). Published factor tables contain typos; this module
is the project's only source of factors and is tested against shared/domain/oxide_factors.csv.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from assays.chemistry.elements import atomic_weight, element

_TERM = re.compile(r"([A-Z][a-z]?)(\d*)")


class FormulaError(ValueError):
    """A formula that is not a simple binary oxide such as ``Pr6O11``."""


@dataclass(frozen=True, slots=True)
class OxideFormula:
    formula: str
    element: str
    metal_atoms: int
    oxygen_atoms: int

    @property
    def molar_mass(self) -> float:
        return self.metal_atoms * atomic_weight(self.element) + self.oxygen_atoms * atomic_weight("O")

    @property
    def factor(self) -> float:
        """Mass of oxide per unit mass of the element in it."""
        return self.molar_mass / (self.metal_atoms * atomic_weight(self.element))

    @property
    def element_fraction(self) -> float:
        return 1.0 / self.factor


# Cached: an assessment asks for the same few formulas hundreds of thousands of times. A formula
# that does not parse raises, and exceptions are not cached.
@functools.lru_cache(maxsize=512)
def parse_oxide(formula: str) -> OxideFormula:
    """Parse ``M_nO_m`` (``CeO2``, ``Pr6O11``, ``U3O8``) into its element and atom counts."""
    text = formula.strip()
    terms = _TERM.findall(text)
    if not text or "".join(symbol + count for symbol, count in terms) != text:
        raise FormulaError(f"{formula!r} is not a formula like 'Nd2O3'")
    counts: dict[str, int] = {}
    for symbol, count in terms:
        element(symbol)  # raises on an unknown symbol
        counts[symbol] = counts.get(symbol, 0) + (int(count) if count else 1)
    oxygen = counts.pop("O", 0)
    if oxygen == 0 or len(counts) != 1:
        raise FormulaError(f"{formula!r} is not a binary oxide of one element")
    ((metal, metal_atoms),) = counts.items()
    return OxideFormula(formula=text, element=metal, metal_atoms=metal_atoms, oxygen_atoms=oxygen)


@functools.lru_cache(maxsize=512)
def oxide_factor(formula: str) -> float:
    return parse_oxide(formula).factor


# The conventional reporting oxide of each element (REO-ASSAY.md §2). Ce, Pr and Tb are reported
# as CeO2, Pr6O11 and Tb4O7: as M2O3 they would be understated by 2-5 %.
CONVENTIONAL_OXIDES: dict[str, str] = {
    "La": "La2O3",
    "Ce": "CeO2",
    "Pr": "Pr6O11",
    "Nd": "Nd2O3",
    "Sm": "Sm2O3",
    "Eu": "Eu2O3",
    "Gd": "Gd2O3",
    "Tb": "Tb4O7",
    "Dy": "Dy2O3",
    "Ho": "Ho2O3",
    "Er": "Er2O3",
    "Tm": "Tm2O3",
    "Yb": "Yb2O3",
    "Lu": "Lu2O3",
    "Y": "Y2O3",
    "Sc": "Sc2O3",
    "Fe": "Fe2O3",
    "Al": "Al2O3",
    "Si": "SiO2",
    "Ca": "CaO",
    "Mg": "MgO",
    "Na": "Na2O",
    "K": "K2O",
    "Co": "CoO",
    "Ni": "NiO",
    "Cu": "CuO",
    "B": "B2O3",
    "Zn": "ZnO",
    "Pb": "PbO",
    "Mn": "MnO",
    "Cr": "Cr2O3",
    "Ti": "TiO2",
    "Zr": "ZrO2",
    "Ga": "Ga2O3",
    "Nb": "Nb2O5",
    "Mo": "MoO3",
    "W": "WO3",
    "Ba": "BaO",
    "Sr": "SrO",
    "P": "P2O5",
    "Th": "ThO2",
    "U": "U3O8",
}

# Oxides some customers ask for instead of the conventional one; a spec line may name any of them.
ALTERNATIVE_OXIDES: dict[str, tuple[str, ...]] = {
    "Ce": ("Ce2O3",),
    "Pr": ("Pr2O3",),
    "Tb": ("Tb2O3",),
    "Fe": ("FeO",),
    "Co": ("Co3O4", "Co2O3"),
    "Mn": ("MnO2",),
}
