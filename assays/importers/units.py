"""A unit cell as the importers read it: the project's unit table plus what the file says of the basis.

PURE. The table is ``assays.chemistry.units`` (one table for import and conversion, so a unit that
parses always converts). ``ppt``/``ppb``/``ppm`` do not say solution or solid: the file decides
when it says (a "sample units" column, a ``basis`` column), otherwise the format's documented
default. Every other unit carries its basis in its dimensions, and a file that says the opposite
(mg/kg in a column of solution concentrations) is refused rather than believed either way.
"""

from __future__ import annotations

from assays.chemistry.units import Medium, UnitError, unit_lookup
from assays.importers.core import ValueBasis


class UnitBasisError(UnitError):
    """A unit whose dimensions contradict the basis the file declares for it."""


def read_unit(text: str, *, stated: ValueBasis | None, default: ValueBasis = ValueBasis.SOLUTION) -> tuple[str, ValueBasis]:
    """(canonical unit symbol, basis) of a unit cell: ``ppm`` of a solution is ``mg/L``.

    ``stated``: the basis the file declares for this value, if it does; ``default``: the basis of
    the ambiguous units when it does not. Raises ``UnitError`` for a unit not in the table and
    ``UnitBasisError`` for a unit of the other basis than ``stated``.
    """
    unit = unit_lookup(text, medium=Medium((stated or default).value))
    if stated is not None and unit.medium.value != stated.value:
        raise UnitBasisError(f"{unit.symbol} is a unit of a {unit.medium.value}, but the file says the value is of a {stated.value}")
    return unit.symbol, ValueBasis(unit.medium.value)
