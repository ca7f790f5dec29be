"""The canonical text of an analyte channel, so that one channel has one spelling."""

from __future__ import annotations

from decimal import Decimal


def channel_code(
    *,
    element: str | None,
    isotope_mass: int | None = None,
    cell_mode: str = "",
    q1_mass: int | None = None,
    q2_mass: int | None = None,
    wavelength_nm: Decimal | float | None = None,
    view: str = "",
    name: str = "",
) -> str:
    """``146Nd [He]``, ``75As 75->91 [O2]``, ``Al 394.401 (radial)``, ``LOI``.

    ICP-MS: isotope mass then symbol (the vendors' own orders differ; this is ours), then the
    triple-quad mass pair and the cell mode. ICP-OES: symbol, wavelength, view.
    """
    if (q1_mass is None) != (q2_mass is None):
        raise ValueError("a triple-quad mass shift needs both Q1 and Q2")
    if element is None:
        folded_name = " ".join(name.split())
        if not folded_name:
            raise ValueError("a channel without an element needs a name (LOI, Cl-, SO4 2-)")
        return folded_name
    parts: list[str] = []
    if wavelength_nm is not None:
        parts.append(f"{element} {Decimal(str(wavelength_nm)).normalize():f}")
        if view:
            parts.append(f"({view.lower()})")
        return " ".join(parts)
    parts.append(f"{isotope_mass}{element}" if isotope_mass else element)
    if q1_mass is not None and q2_mass is not None:
        parts.append(f"{q1_mass}->{q2_mass}")
    mode = " ".join(cell_mode.split())
    if mode:
        parts.append(f"[{mode}]")
    return " ".join(parts)
