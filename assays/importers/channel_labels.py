"""ICP-MS channel labels in the spellings the vendors use, read into a ``ParsedChannel``.

Seen in real exports: MassHunter ``139  La  [ No Gas ] ``, ``45  Sc ( ISTD )  [ He ] `` and, on
triple-quad instruments, ``75 -> 91  As  [ O2 ] ``; the MassHunter time-resolved ``P31``,
``Eu153``; Qtegra ``153Eu``, ``111Cd (KED)``; PerkinElmer ``Ag 107``. One reader for all of them,
so that ``56Fe``, ``Fe 56`` and ``56  Fe`` are the same channel wherever they come from.
"""

from __future__ import annotations

import re

from assays.importers.core import ParsedChannel

# Every element, in order of atomic number: recognising a symbol must not depend on which
# elements the lab's reference table happens to hold (a run may carry an Ar or Xe channel).
_SYMBOLS = (  # noqa: SIM905 - reads better as text than as 118 quoted strings
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr "
    "Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm "
    "Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No "
    "Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og"
).split()
ATOMIC_NUMBERS: dict[str, int] = {symbol: number for number, symbol in enumerate(_SYMBOLS, start=1)}

_MASS_FIRST = re.compile(r"^(\d{1,3})\s*([A-Za-z]{1,2})$")
_ELEMENT_FIRST = re.compile(r"^([A-Za-z]{1,2})\s*-?\s*(\d{1,3})$")
_MASS_SHIFT = re.compile(r"^(\d{1,3})\s*-+>\s*(\d{1,3})\s+([A-Za-z]{1,2})$")
_BRACKETS = re.compile(r"\[([^\]]*)\]")
_PARENS = re.compile(r"\(([^)]*)\)")


class ChannelLabelError(ValueError):
    """A label shaped like an isotope channel whose element or mass cannot be right."""


def _element(symbol: str, label: str) -> tuple[str, int]:
    canonical = symbol[:1].upper() + symbol[1:].lower()
    number = ATOMIC_NUMBERS.get(canonical)
    if number is None:
        raise ChannelLabelError(f"{symbol!r} in {label.strip()!r} is not an element symbol")
    return canonical, number


def parse_isotope_label(label: str) -> ParsedChannel | None:
    """The channel a label names, or None when the label does not look like a channel at all.

    Raises ``ChannelLabelError`` for a channel-shaped label with an unknown element symbol or a
    mass no isotope of that element has.
    """
    rest = label
    cell_mode = ""
    brackets = _BRACKETS.findall(rest)
    if len(brackets) > 1:
        return None
    if brackets:
        cell_mode = " ".join(brackets[0].split())
        rest = _BRACKETS.sub(" ", rest)
    internal_standard = False
    for group in _PARENS.findall(rest):
        word = " ".join(group.split())
        if word.upper() == "ISTD":
            internal_standard = True
        elif word and not cell_mode:
            cell_mode = word  # Qtegra writes the mode in parentheses: 111Cd (KED)
        else:
            return None
    rest = " ".join(_PARENS.sub(" ", rest).split())
    q1: int | None = None
    q2: int | None = None
    match = _MASS_SHIFT.match(rest)
    if match:
        q1, q2 = int(match.group(1)), int(match.group(2))
        mass, symbol = q1, match.group(3)
    elif match := _MASS_FIRST.match(rest):
        mass, symbol = int(match.group(1)), match.group(2)
    elif match := _ELEMENT_FIRST.match(rest):
        symbol, mass = match.group(1), int(match.group(2))
    else:
        return None
    element, number = _element(symbol, label)
    # A = Z + N with N >= 0, and no isotope anyone measures is heavier than about 3 Z.
    if not number <= mass <= 3 * number + 10:
        raise ChannelLabelError(f"no isotope of {element} has mass {mass} (in {label.strip()!r})")
    return ParsedChannel(
        label=label,
        element=element,
        isotope_mass=mass,
        cell_mode=cell_mode,
        q1_mass=q1,
        q2_mass=q2,
        is_internal_standard=internal_standard,
    )
