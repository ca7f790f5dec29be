"""Analyte labels beyond the isotope channels: ICP-OES lines, named analytes, canonical codes.

PURE. ``channel_labels.parse_isotope_label`` reads the vendors' isotope spellings; this module adds
what the Qtegra, PerkinElmer and generic-long parsers also meet:

- ICP-OES lines: Qtegra ``Al 394.401 {85} (Radial)`` (element, wavelength in nm, Qtegra's line
  index, plasma view), PerkinElmer ``Al 396.153``;
- named analytes that are not an element: LOI, chloride and sulfate (``LOI``, ``Cl-``, ``SO4 2-``
  and their usual spellings, Unicode superscripts included);
- the project's own channel codes (``assays.chemistry.channels``), so that a file written by
  the LIMS reads back: ``146Nd [He]``, ``75As 75->91 [O2]``, ``Al 394.401 (radial)``, ``Nd``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from assays.importers.channel_labels import ATOMIC_NUMBERS, ChannelLabelError, parse_isotope_label
from assays.importers.core import ParsedChannel

LOI, CHLORIDE, SULFATE = "LOI", "Cl-", "SO4 2-"
NAMED_ANALYTES: tuple[str, ...] = (LOI, CHLORIDE, SULFATE)
# Named analytes that are a property of the solid only: never reported in a solution unit.
SOLID_ONLY: frozenset[str] = frozenset({LOI})

_SUPERSCRIPTS = str.maketrans({"⁻": "-", "⁺": "+", "²": "2", "³": "3", "₄": "4", "₂": "2", "\u2212": "-", "^": ""})
_NAMED: dict[str, str] = {
    "loi": LOI,
    "l.o.i.": LOI,
    "l.o.i": LOI,
    "lossonignition": LOI,
    "cl-": CHLORIDE,
    "chloride": CHLORIDE,
    "so42-": SULFATE,
    "so4--": SULFATE,
    "so4(2-)": SULFATE,
    "so4": SULFATE,
    "sulfate": SULFATE,
    "sulphate": SULFATE,
}

_OES = re.compile(r"^([A-Za-z]{1,2})\s+(\d{2,4}\.\d{1,4})\s*(?:\{\s*(\d{1,6})\s*\})?\s*(?:\(\s*([A-Za-z][A-Za-z ]{0,20}?)\s*\))?$")
_CANONICAL_SHIFT = re.compile(r"^(\d{1,3})([A-Za-z]{1,2})\s+(\d{1,3})\s*->\s*(\d{1,3})\s*(?:\[([^\[\]]*)\])?$")
_SYMBOL_ONLY = re.compile(r"^([A-Za-z]{1,2})$")


class AnalyteLabelError(ValueError):
    """A label that names no analyte we know; the message says why, for the person."""


def element_symbol(text: str) -> str | None:
    """``text`` as an element symbol (``nd`` and ``ND`` read as Nd), or None."""
    canonical = text[:1].upper() + text[1:].lower()
    return canonical if canonical in ATOMIC_NUMBERS else None


def named_analyte(text: str) -> str | None:
    key = "".join(text.translate(_SUPERSCRIPTS).split()).casefold()
    return _NAMED.get(key)


def oes_line(text: str) -> ParsedChannel | None:
    """An ICP-OES line label, or None when the label is not shaped like one."""
    match = _OES.match(text.strip())
    if match is None:
        return None
    symbol = element_symbol(match.group(1))
    if symbol is None:
        raise AnalyteLabelError(f"{match.group(1)!r} in {text.strip()!r} is not an element symbol")
    index = match.group(3)
    return ParsedChannel(
        label=text,
        element=symbol,
        wavelength_nm=Decimal(match.group(2)),
        line_index=int(index) if index else None,
        view=" ".join((match.group(4) or "").split()),
    )


def read_analyte(text: str, *, allow_named: bool = True) -> ParsedChannel:
    """The channel an analyte label names. Raises ``AnalyteLabelError`` saying what is wrong."""
    label = text.strip()
    if not label:
        raise AnalyteLabelError("no analyte named")
    if allow_named and (name := named_analyte(label)) is not None:
        return ParsedChannel(label=text, element=None, name=name)
    if (channel := oes_line(label)) is not None:
        return channel
    if match := _CANONICAL_SHIFT.match(label):
        symbol = element_symbol(match.group(2))
        if symbol is None:
            raise AnalyteLabelError(f"{match.group(2)!r} in {label!r} is not an element symbol")
        return ParsedChannel(
            label=text,
            element=symbol,
            isotope_mass=int(match.group(1)),
            q1_mass=int(match.group(3)),
            q2_mass=int(match.group(4)),
            cell_mode=" ".join((match.group(5) or "").split()),
        )
    try:
        channel = parse_isotope_label(label)
    except ChannelLabelError as error:
        raise AnalyteLabelError(str(error)) from None
    if channel is not None:
        return channel
    if _SYMBOL_ONLY.match(label):
        symbol = element_symbol(label)
        if symbol is not None:
            return ParsedChannel(label=text, element=symbol)
        raise AnalyteLabelError(f"{label!r} is not an element symbol")
    named = f", or one of {', '.join(NAMED_ANALYTES)}" if allow_named else ""
    raise AnalyteLabelError(
        f"{label[:60]!r} is not an analyte: expected an element symbol, an isotope such as '146Nd', a channel code{named}"
    )
