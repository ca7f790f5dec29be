"""The worked example of REO-ASSAY.md §2 as input data, and small composition builders.

Only the element data of §2 are here (La 5, Ce 8, ... LOI 0.35 %); every sum and percentage the
tests compare with the table is computed by the code under test.
"""

from __future__ import annotations

from collections.abc import Mapping

from assays.chemistry.purity import Result, SampleComposition

# §2 worked example, element mass fractions in mg/kg of one Nd2O3 sample.
RE_IMPURITIES_MEASURED: dict[str, float] = {"La": 5, "Ce": 8, "Pr": 45, "Sm": 3, "Gd": 2, "Dy": 6, "Y": 4}
RE_IMPURITIES_CENSORED: tuple[str, ...] = ("Eu", "Tb", "Ho", "Er", "Tm", "Yb", "Lu")
RE_LOD = 0.5
NON_RE_MEASURED: dict[str, float] = {"Fe": 12, "Si": 20, "Ca": 15, "Al": 8, "Mg": 2, "Na": 6, "Co": 1, "B": 3}
NON_RE_CENSORED: tuple[str, ...] = ("Ni", "Cu", "Zn")
NON_RE_LOD = 1.0
ANIONS: dict[str, float] = {"Cl-": 50, "SO4 2-": 30}
LOI_PERCENT = 0.35


def measured(value: float, *, u: float | None = None) -> Result:
    return Result(value=value, censored=False, lod=None, u=u)


def below(lod: float) -> Result:
    return Result(value=lod, censored=True, lod=lod, u=None)


def worked_example_elements(*, u_relative: float | None = None) -> dict[str, Result]:
    """The §2 elements; with ``u_relative`` each measured value carries u = u_relative · value."""

    def result(value: float) -> Result:
        return measured(value, u=None if u_relative is None else u_relative * value)

    elements = {symbol: result(value) for symbol, value in (RE_IMPURITIES_MEASURED | NON_RE_MEASURED).items()}
    elements |= {symbol: below(RE_LOD) for symbol in RE_IMPURITIES_CENSORED}
    elements |= {symbol: below(NON_RE_LOD) for symbol in NON_RE_CENSORED}
    return elements


def worked_example(
    *,
    u_relative: float | None = None,
    u_anion: float | None = None,
    u_loi: float | None = None,
    oxides: Mapping[str, str] | None = None,
    extra_elements: Mapping[str, Result] | None = None,
) -> SampleComposition:
    """The §2 Nd2O3 sample: main {Nd}, conventional oxides, Cl- and SO4 2-, LOI 0.35 %."""
    return SampleComposition(
        elements=worked_example_elements(u_relative=u_relative) | dict(extra_elements or {}),
        anions={name: measured(value, u=u_anion) for name, value in ANIONS.items()},
        loi_percent=measured(LOI_PERCENT, u=u_loi),
        main=frozenset({"Nd"}),
        oxides=dict(oxides or {}),
    )
