"""Standard atomic weights (IUPAC/CIAAW 2021 abridged values, with the 2024 revisions for Gd, Lu
and Zr) of the elements an REO assay lab measures.

For the elements CIAAW gives as an interval (H, Li, B, C, N, O, Mg, Si, S, Cl, Br, Tl) this table
uses the conventional value, as the domain document does (O = 15.999). The rare earths are the 15
lanthanides that occur in nature (Pm does not) plus Y and Sc.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ElementData:
    symbol: str
    name: str
    atomic_number: int
    atomic_weight: float
    is_rare_earth: bool


_RARE_EARTHS = frozenset({"Sc", "Y", "La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"})

# symbol, name, Z, standard atomic weight
_TABLE: tuple[tuple[str, str, int, float], ...] = (
    ("H", "Hydrogen", 1, 1.008),
    ("Li", "Lithium", 3, 6.94),
    ("Be", "Beryllium", 4, 9.0121831),
    ("B", "Boron", 5, 10.81),
    ("C", "Carbon", 6, 12.011),
    ("N", "Nitrogen", 7, 14.007),
    ("O", "Oxygen", 8, 15.999),
    ("F", "Fluorine", 9, 18.998403162),
    ("Na", "Sodium", 11, 22.98976928),
    ("Mg", "Magnesium", 12, 24.305),
    ("Al", "Aluminium", 13, 26.9815384),
    ("Si", "Silicon", 14, 28.085),
    ("P", "Phosphorus", 15, 30.973761998),
    ("S", "Sulfur", 16, 32.06),
    ("Cl", "Chlorine", 17, 35.45),
    ("K", "Potassium", 19, 39.0983),
    ("Ca", "Calcium", 20, 40.078),
    ("Sc", "Scandium", 21, 44.955907),
    ("Ti", "Titanium", 22, 47.867),
    ("V", "Vanadium", 23, 50.9415),
    ("Cr", "Chromium", 24, 51.9961),
    ("Mn", "Manganese", 25, 54.938043),
    ("Fe", "Iron", 26, 55.845),
    ("Co", "Cobalt", 27, 58.933194),
    ("Ni", "Nickel", 28, 58.6934),
    ("Cu", "Copper", 29, 63.546),
    ("Zn", "Zinc", 30, 65.38),
    ("Ga", "Gallium", 31, 69.723),
    ("Ge", "Germanium", 32, 72.630),
    ("As", "Arsenic", 33, 74.921595),
    ("Se", "Selenium", 34, 78.971),
    ("Br", "Bromine", 35, 79.904),
    ("Rb", "Rubidium", 37, 85.4678),
    ("Sr", "Strontium", 38, 87.62),
    ("Y", "Yttrium", 39, 88.905838),
    ("Zr", "Zirconium", 40, 91.222),
    ("Nb", "Niobium", 41, 92.90637),
    ("Mo", "Molybdenum", 42, 95.95),
    ("Ru", "Ruthenium", 44, 101.07),
    ("Rh", "Rhodium", 45, 102.90549),
    ("Pd", "Palladium", 46, 106.42),
    ("Ag", "Silver", 47, 107.8682),
    ("Cd", "Cadmium", 48, 112.414),
    ("In", "Indium", 49, 114.818),
    ("Sn", "Tin", 50, 118.710),
    ("Sb", "Antimony", 51, 121.760),
    ("Te", "Tellurium", 52, 127.60),
    ("I", "Iodine", 53, 126.90447),
    ("Cs", "Caesium", 55, 132.90545196),
    ("Ba", "Barium", 56, 137.327),
    ("La", "Lanthanum", 57, 138.90547),
    ("Ce", "Cerium", 58, 140.116),
    ("Pr", "Praseodymium", 59, 140.90766),
    ("Nd", "Neodymium", 60, 144.242),
    ("Sm", "Samarium", 62, 150.36),
    ("Eu", "Europium", 63, 151.964),
    ("Gd", "Gadolinium", 64, 157.249),
    ("Tb", "Terbium", 65, 158.925354),
    ("Dy", "Dysprosium", 66, 162.500),
    ("Ho", "Holmium", 67, 164.930329),
    ("Er", "Erbium", 68, 167.259),
    ("Tm", "Thulium", 69, 168.934219),
    ("Yb", "Ytterbium", 70, 173.045),
    ("Lu", "Lutetium", 71, 174.96669),
    ("Hf", "Hafnium", 72, 178.486),
    ("Ta", "Tantalum", 73, 180.94788),
    ("W", "Tungsten", 74, 183.84),
    ("Re", "Rhenium", 75, 186.207),
    ("Os", "Osmium", 76, 190.23),
    ("Ir", "Iridium", 77, 192.217),
    ("Pt", "Platinum", 78, 195.084),
    ("Au", "Gold", 79, 196.966570),
    ("Hg", "Mercury", 80, 200.592),
    ("Tl", "Thallium", 81, 204.38),
    ("Pb", "Lead", 82, 207.2),
    ("Bi", "Bismuth", 83, 208.98040),
    ("Th", "Thorium", 90, 232.0377),
    ("U", "Uranium", 92, 238.02891),
)

ELEMENTS: dict[str, ElementData] = {
    symbol: ElementData(symbol, name, number, weight, symbol in _RARE_EARTHS) for symbol, name, number, weight in _TABLE
}


class UnknownElementError(ValueError):
    """A symbol that is not an element this lab's reference table knows."""


def element(symbol: str) -> ElementData:
    try:
        return ELEMENTS[symbol]
    except KeyError:
        raise UnknownElementError(f"{symbol!r} is not a known element symbol") from None


def atomic_weight(symbol: str) -> float:
    return element(symbol).atomic_weight
