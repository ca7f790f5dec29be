"""Purity, TREO and their standard uncertainties for one sample (REO-ASSAY.md §2, §3, §5).

PURE: no Django, no database. The caller hands over one sample's accepted results (element mass
fractions of the solid as received, in mg/kg; anions in mg/kg as ions; LOI in %) and the product's
main component set M; this module returns the quantities a certificate reports:

* ox(E) = f(E) · w(E), f from ``assays.chemistry.oxides`` (never a copied factor);
* Σ_RE-imp, Σ_nonRE, Σ_anion, LOI; the main oxide by difference
  100 % - Σ_RE-imp - Σ_nonRE - Σ_anion - LOI; TREO = main oxide + Σ_RE-imp; relative purity
  main oxide / TREO; absolute content = main oxide; the ignited basis (impurities / (1 - LOI));
* first-order (GUM) standard uncertainties of those (§5).

Choices, and why:

* **Censored results under three conventions** (§3): ``LOWER`` (censored → 0), ``BEST``
  (→ LOD/2) and ``UPPER`` (→ LOD). The certificate shows BEST; a minimum-purity decision uses
  UPPER (worst case). The number used as "the LOD" is the censored result's stored value, the limit
  it was censored at: normally the method LOD, or an outside lab's wider "< x" (see
  ``censoring.censor_fields``).
* **A censored result has standard uncertainty LOD/√12 under every convention**: the true value is
  only known to lie in [0, LOD] (a rectangular distribution, GUM 4.3.7). What is known does not
  change with the point of the interval one reports, so the three conventions differ in value only
  and the U beside a bound is the U beside the best estimate. The method model's u (``Result.u``)
  of a censored result is ignored: the model describes numbers above the LOD.
* **A negative reading never reduces a sum** (§3): an uncensored negative value (kept only when the
  method gave no LOD) counts as 0, with the uncertainty it came with. The same holds for LOI, where
  a weight gain on ignition would otherwise raise the main oxide by difference.
* **An unknown uncertainty is not zero**: when an uncensored contributor has ``u=None``, every
  propagated uncertainty it enters is ``None`` rather than an understatement. The uncertainty of
  relative purity uses rare-earth impurities only (§5), so it stays known when a non-RE u is not.
* **What is an "RE impurity"** is decided by the specification's TREO set (``treo_includes``,
  default La…Lu + Y; Sc, Th and U count only when the spec says so): Σ_RE-imp is over the measured
  elements of that set outside M. Every other measured element outside M (Sc when the spec leaves
  it out of TREO, Th, U, Fe…) is summed in Σ_nonRE: it still lowers the main oxide by difference
  but is not part of TREO. That keeps TREO = main oxide + Σ_RE-imp exactly as §2 writes it.
* **Not measured is not zero, but not this module's call**: which analytes a spec requires (and
  so whether the lot is ``insufficient_data``) is decided before this is called. Here, an anion or
  LOI that is absent is simply not part of the calculation.
* **Rounding-safe monotone forms.** TREO is computed as 100 % - Σ_nonRE - Σ_anion - LOI and
  relative purity as 100 % - 100 % · Σ_RE-imp / TREO: algebraically the same as §2's
  main + Σ_RE-imp and main / TREO, but each is a chain of correctly rounded operations that are
  monotone in every input, so adding an impurity can never raise a purity by one ulp of rounding.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from assays.chemistry.censoring import NO_LOD, OVER_RANGE, CensoredValue
from assays.chemistry.elements import ELEMENTS, UnknownElementError
from assays.chemistry.oxides import CONVENTIONAL_OXIDES, FormulaError, OxideFormula, oxide_factor, parse_oxide
from assays.errors import DomainError

MG_KG_PER_PERCENT = 10_000.0
HUNDRED_PERCENT = 100.0
SQRT_12 = math.sqrt(12.0)

# The rare earths counted in TREO unless a specification says otherwise: the lanthanides that occur
# in nature (no Pm) and Y. Sc, Th and U count only when the spec names them (§2).
DEFAULT_TREO_ELEMENTS: frozenset[str] = frozenset({"La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"})

MAIN = "main"  # ratio term: the main oxide by difference
TREO = "treo"  # ratio term: TREO


class CompositionError(DomainError, ValueError):
    """Input that cannot enter the purity arithmetic (NaN, a string, a negative LOD, an unknown
    element, an oxide of another element, impurities above 100 %...), named for the user."""


class Convention(enum.StrEnum):
    """What a censored result counts as in a sum (§3)."""

    LOWER = "lower"  # censored → 0
    BEST = "best"  # censored → LOD/2 (what the certificate shows)
    UPPER = "upper"  # censored → LOD (worst case: minimum-purity decisions)


# What a censored result counts as, as a fraction of its limit, under each convention.
CENSORED_FRACTION: dict[Convention, float] = {Convention.LOWER: 0.0, Convention.BEST: 0.5, Convention.UPPER: 1.0}


def _check_number(number: object, *, what: str, non_negative: bool = False) -> float:
    # The common case first, with no isinstance chain: a finite float (a bulk assessment checks
    # hundreds of thousands).
    if type(number) is float and math.isfinite(number) and (number >= 0.0 or not non_negative):
        return number
    # bool is an int: a True that slipped in is a bug, not a 1 mg/kg result.
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise CompositionError(f"{what} must be a number, not {number!r}")
    if not math.isfinite(number):
        raise CompositionError(f"{what} must be a finite number, not {number!r}")
    if non_negative and number < 0:
        raise CompositionError(f"{what} must be >= 0, not {number!r}")
    return float(number)


@dataclass(frozen=True, slots=True)
class Result:
    """One accepted result of one analyte in one sample, in the unit of its context.

    Element mass fractions and anions in mg/kg of the solid as received, LOI in %. For a censored
    result ``value`` is the limit it was censored at (the LOD); ``lod`` is the method's LOD where
    known. ``u`` is the standard uncertainty from the method's model (``model_uncertainty``), the
    caller's computation; ``None`` when there is none.
    """

    value: float
    censored: bool = False
    lod: float | None = None
    u: float | None = None

    # Written out rather than generated with a __post_init__: a frozen dataclass's generated
    # __init__ sets each field through object.__setattr__, and an assessment of a product makes
    # hundreds of thousands of Results (a quarter of reading a lot's results was their making).
    # The slots' own descriptors set the fields once the values are checked, as the generated
    # __init__ would; the instance stays frozen to everyone else.
    def __init__(self, value: float, censored: bool = False, lod: float | None = None, u: float | None = None) -> None:
        # The common case, in one expression: finite floats (a NaN fails every comparison), a
        # bool, and no negative limit or uncertainty.
        if (
            type(value) is float
            and -_INFINITY < value < _INFINITY
            and (censored is False or (censored is True and value >= 0.0))
            and (lod is None or (type(lod) is float and 0.0 <= lod < _INFINITY))
            and (u is None or (type(u) is float and 0.0 <= u < _INFINITY))
        ):
            _set_value(self, value)
            _set_censored(self, censored)
            _set_lod(self, lod)
            _set_u(self, u)
            return
        if not isinstance(censored, bool):
            raise CompositionError(f"censored must be True or False, not {censored!r}")
        # A censored value is a limit, and a limit below zero means nothing. An int becomes a float.
        _set_value(self, _check_number(value, what="a result value", non_negative=censored))
        _set_censored(self, censored)
        _set_lod(self, None if lod is None else _check_number(lod, what="an LOD", non_negative=True))
        _set_u(self, None if u is None else _check_number(u, what="a standard uncertainty", non_negative=True))


_INFINITY = math.inf
# The slots' descriptors (``Result.__init__``): setting through them is what object.__setattr__
# does for a slot, without the frozen class's refusal.
_set_value = Result.__dict__["value"].__set__
_set_censored = Result.__dict__["censored"].__set__
_set_lod = Result.__dict__["lod"].__set__
_set_u = Result.__dict__["u"].__set__


def result_from_censored(censored_value: CensoredValue, *, u: float | None) -> Result:
    """A ``Result`` from what ``censoring.censor`` stored, refusing what must not be summed.

    An over-range result needs a re-dilution and a result without any LOD cannot be censored
    honestly (``censoring`` flags both for the assessment to refuse): neither is a number to add.
    """
    if OVER_RANGE in censored_value.flags or censored_value.qualifier == ">":
        raise CompositionError(f"an over-range result ({censored_value.value!r}) needs a re-dilution, not a sum")
    if NO_LOD in censored_value.flags:
        raise CompositionError(f"a result without an LOD ({censored_value.value!r}) cannot be censored, so it cannot be summed")
    return Result(value=censored_value.value, censored=censored_value.is_censored, lod=censored_value.lod, u=u)


def model_uncertainty(*, value: float, a: float, b: float) -> float:
    """u(w) = √(a² + (b·w)²): the method x analyte model from validation (§5).

    ``a`` (in the value's unit) dominates near the LOD, ``b`` (relative) above it. The instrument's
    replicate RSD is not this and must not be passed in its place.
    """
    value = _check_number(value, what="a value")
    a = _check_number(a, what="the constant part a", non_negative=True)
    b = _check_number(b, what="the relative part b", non_negative=True)
    return math.hypot(a, b * value)


def result_value(result: Result, *, convention: Convention) -> float:
    """The number a result contributes to a sum: censored by the convention, never below 0."""
    if result.censored:
        return CENSORED_FRACTION[Convention(convention)] * result.value
    return max(result.value, 0.0)


def result_uncertainty(result: Result, *, convention: Convention) -> float | None:
    """Standard uncertainty of ``result_value``: LOD/√12 for a censored result under every
    convention (see the module docstring), else the result's own u (None when unknown)."""
    if type(convention) is not Convention:
        Convention(convention)  # a typo in a convention is an error here too, not only in the value
    if result.censored:
        return result.value / SQRT_12
    return result.u


def quadrature(uncertainties: Iterable[float | None]) -> float | None:
    """√(Σ u²) of independent standard uncertainties, in the order given (``math.hypot``); None
    when one of them is unknown: an unknown is never taken as zero."""
    collected = list(uncertainties)
    if any(u is None for u in collected):
        return None
    return math.hypot(*(u for u in collected if u is not None))


@dataclass(frozen=True, slots=True)
class SampleComposition:
    """One sample's accepted results and the specification's view of them.

    ``elements``: element symbol → result in mg/kg of the solid as received. ``anions``: name
    ("Cl-", "SO4 2-") → result in mg/kg as the ion (no factor). ``loi_percent``: loss on ignition
    in %, or None when the spec does not use it. ``main``: the main component set M ({"Nd"},
    {"Pr", "Nd"}). ``oxides``: element → reporting oxide where the spec differs from
    ``CONVENTIONAL_OXIDES``. ``treo_includes``: the rare earths counted in TREO.
    """

    elements: Mapping[str, Result]
    anions: Mapping[str, Result] = field(default_factory=dict)
    loi_percent: Result | None = None
    main: frozenset[str] = frozenset()
    oxides: Mapping[str, str] = field(default_factory=dict)
    treo_includes: frozenset[str] = DEFAULT_TREO_ELEMENTS

    def __post_init__(self) -> None:
        for symbol, result in self.elements.items():
            if symbol not in ELEMENTS:
                raise CompositionError(f"{symbol!r} is not a known element symbol")
            _check_result(result, what=f"the result of {symbol}")
        for name, result in self.anions.items():
            _check_result(result, what=f"the result of {name}")
        if self.loi_percent is not None:
            _check_result(self.loi_percent, what="LOI")
            if result_value(self.loi_percent, convention=Convention.UPPER) >= HUNDRED_PERCENT:
                raise CompositionError(f"an LOI of {self.loi_percent.value!r} % leaves no ignited material")
        main = _symbol_set(self.main, what="main")
        treo_includes = _symbol_set(self.treo_includes, what="treo_includes")
        for symbol in treo_includes:
            if symbol not in ELEMENTS:
                raise CompositionError(f"treo_includes names {symbol!r}, not a known element symbol")
        if not main <= treo_includes:
            raise CompositionError(f"main components {sorted(main - treo_includes)} are not counted in TREO")
        reporting = dict(CONVENTIONAL_OXIDES)
        for symbol, formula in self.oxides.items():
            oxide = _parse_for(symbol, formula)
            reporting[symbol] = oxide.formula
        missing = sorted(set(self.elements) - set(reporting))
        if missing:
            raise CompositionError(f"no reporting oxide for {', '.join(missing)}: the specification must name one")
        # Copies behind read-only views: a frozen composition stays what was validated.
        object.__setattr__(self, "elements", MappingProxyType(dict(self.elements)))
        object.__setattr__(self, "anions", MappingProxyType(dict(self.anions)))
        object.__setattr__(self, "oxides", MappingProxyType(reporting))
        object.__setattr__(self, "main", main)
        object.__setattr__(self, "treo_includes", treo_includes)

    def reporting_oxide(self, symbol: str) -> str:
        """The oxide formula ``symbol`` is reported as: the spec's, else the conventional one."""
        return self.oxides[symbol]


def _check_result(result: object, *, what: str) -> None:
    if not isinstance(result, Result):
        raise CompositionError(f"{what} must be a Result, not {result!r}")


def _symbol_set(symbols: object, *, what: str) -> frozenset[str]:
    # frozenset("Nd") would be {"N", "d"}: a bare string is the commonest slip.
    if isinstance(symbols, str) or not isinstance(symbols, Collection):
        raise CompositionError(f"{what} must be a set of element symbols, not {symbols!r}")
    return frozenset(symbols)


def _parse_for(symbol: str, formula: str) -> OxideFormula:
    try:
        oxide = parse_oxide(formula)
    except (FormulaError, UnknownElementError) as error:
        raise CompositionError(f"reporting oxide of {symbol}: {error}") from None
    if oxide.element != symbol:
        raise CompositionError(f"{formula!r} is an oxide of {oxide.element}, not of {symbol}")
    return oxide


def _by_atomic_number(symbol: str) -> int:
    return ELEMENTS[symbol].atomic_number


@dataclass(frozen=True, slots=True)
class _OxideGroup:
    """A group of measured elements (the RE impurities, the non-RE ones, the main components) as
    oxides: what every censoring convention shares. A censored result's u is LOD/√12 under every
    convention (module docstring), so the uncertainties are the group's, not a convention's."""

    formulas: tuple[str, ...]  # by atomic number
    factors: tuple[float, ...]
    results: tuple[Result, ...]
    u: dict[str, float | None]
    u_sum: float | None  # quadrature of ``u``

    def values(self, fraction: float) -> dict[str, float]:
        """Oxide mass fractions (mg/kg) with censored results counted as ``fraction`` of their LOD."""
        values: dict[str, float] = {}
        # ``result_value`` written out: this runs for every element of every sample under every
        # convention, so a bulk assessment spends its time here.
        for formula, factor, result in zip(self.formulas, self.factors, self.results, strict=True):
            values[formula] = factor * (fraction * result.value) if result.censored else factor * max(result.value, 0.0)
        return values


def _oxide_group(composition: SampleComposition, symbols: Iterable[str]) -> _OxideGroup:
    ordered = sorted(symbols, key=_by_atomic_number)
    elements, oxides = composition.elements, composition.oxides
    formulas = tuple(oxides[symbol] for symbol in ordered)
    factors = tuple(oxide_factor(formula) for formula in formulas)
    results = tuple(elements[symbol] for symbol in ordered)
    u: dict[str, float | None] = {}
    for formula, factor, result in zip(formulas, factors, results, strict=True):
        if result.censored:
            u[formula] = factor * (result.value / SQRT_12)
        else:
            u[formula] = None if result.u is None else factor * result.u
    return _OxideGroup(formulas, factors, results, u, quadrature(u.values()))


@dataclass(frozen=True, slots=True)
class SampleQuantities:
    """Everything §2 derives for one sample under one convention, with standard uncertainties.

    mg/kg for oxides, anions and their sums; % for LOI, main oxide, TREO and ratios. ``u_*`` are
    standard uncertainties (k = 1) in the same unit, ``None`` where a contributor's u is unknown.
    Ignited-basis values divide the as-received ones by (1 - LOI); without LOI they are equal.
    """

    convention: Convention
    # impurity oxides: every measured element outside M, by reporting oxide formula
    oxide_mg_kg: dict[str, float]
    u_oxide_mg_kg: dict[str, float | None]
    re_impurity_oxides: tuple[str, ...]  # the formulas summed in Σ_RE-imp
    non_re_oxides: tuple[str, ...]  # the formulas summed in Σ_nonRE
    # main-component oxides where the major elements were measured (for ratio lines of mixed products)
    measured_main_oxide_mg_kg: dict[str, float]
    u_measured_main_oxide_mg_kg: dict[str, float | None]
    anion_mg_kg: dict[str, float]
    u_anion_mg_kg: dict[str, float | None]
    sum_re_impurities_mg_kg: float
    u_sum_re_impurities_mg_kg: float | None
    sum_non_re_mg_kg: float
    u_sum_non_re_mg_kg: float | None
    sum_anions_mg_kg: float
    u_sum_anions_mg_kg: float | None
    loi_measured: bool
    loi_percent: float
    u_loi_percent: float | None
    main_oxide_percent: float
    u_main_oxide_percent: float | None
    treo_percent: float
    u_treo_percent: float | None
    relative_purity_percent: float
    u_relative_purity_percent: float | None
    ignited_oxide_mg_kg: dict[str, float]
    ignited_sum_re_impurities_mg_kg: float
    ignited_sum_non_re_mg_kg: float
    ignited_sum_anions_mg_kg: float
    main_oxide_ignited_percent: float
    u_main_oxide_ignited_percent: float | None
    treo_ignited_percent: float

    @property
    def absolute_content_percent(self) -> float:
        """Absolute content is the main oxide as a fraction of the sample (§2)."""
        return self.main_oxide_percent

    @property
    def u_absolute_content_percent(self) -> float | None:
        return self.u_main_oxide_percent

    @property
    def ignited_divisor(self) -> float:
        """1 - LOI, the mass fraction left after ignition; divide an impurity by it for the ignited basis."""
        return 1.0 - self.loi_percent / HUNDRED_PERCENT


def sample_quantities(composition: SampleComposition, *, convention: Convention) -> SampleQuantities:
    """Main oxide by difference, TREO, relative purity and the ignited basis of one sample (§2, §5).

    Raises ``CompositionError`` when M is empty or the impurities leave no TREO (more than 100 %
    impurities cannot be a purity).
    """
    (quantities,) = sample_quantities_by_convention(composition, conventions=(convention,))
    return quantities


def sample_quantities_by_convention(composition: SampleComposition, *, conventions: Iterable[Convention]) -> tuple[SampleQuantities, ...]:
    """``sample_quantities`` under each of ``conventions``, in that order.

    The conventions differ in the censored values only: which element is in which sum, the oxide
    factors and every uncertainty that does not depend on a value are worked out once (a lot
    assessment asks for all three conventions of every sample).
    """
    wanted = [Convention(convention) for convention in conventions]
    main = composition.main
    if not main:
        raise CompositionError("a purity by difference needs the main component set M")
    measured = set(composition.elements)
    re_group = _oxide_group(composition, (measured & composition.treo_includes) - main)
    non_re_group = _oxide_group(composition, measured - composition.treo_includes - main)
    main_group = _oxide_group(composition, measured & main)

    anion_u = {name: result_uncertainty(result, convention=Convention.BEST) for name, result in composition.anions.items()}
    loi = composition.loi_percent
    u_loi = 0.0 if loi is None else result_uncertainty(loi, convention=Convention.BEST)
    u_sum_anions = quadrature(anion_u.values())
    u_impurities = scaled(quadrature([re_group.u_sum, non_re_group.u_sum, u_sum_anions]), 1.0 / MG_KG_PER_PERCENT)
    shared = _Shared(
        re=re_group,
        non_re=non_re_group,
        main=main_group,
        u_oxides=re_group.u | non_re_group.u,
        u_anions=anion_u,
        u_sum_anions=u_sum_anions,
        u_loi=u_loi,
        u_impurities_percent=u_impurities,
        u_main_oxide=quadrature([u_impurities, u_loi]),
        u_treo=quadrature([scaled(quadrature([non_re_group.u_sum, u_sum_anions]), 1.0 / MG_KG_PER_PERCENT), u_loi]),
    )
    return tuple(_sample_quantities(composition, convention=convention, shared=shared) for convention in wanted)


@dataclass(frozen=True, slots=True)
class _Shared:
    """What the three conventions of one sample have in common: the element groups and every
    uncertainty that does not depend on a value (u in mg/kg, LOI's and the by-difference ones in %)."""

    re: _OxideGroup
    non_re: _OxideGroup
    main: _OxideGroup
    u_oxides: dict[str, float | None]  # the impurity oxides'
    u_anions: dict[str, float | None]
    u_sum_anions: float | None
    u_loi: float | None
    u_impurities_percent: float | None
    u_main_oxide: float | None
    u_treo: float | None


def _sample_quantities(composition: SampleComposition, *, convention: Convention, shared: _Shared) -> SampleQuantities:
    """One convention's values, and the uncertainties that depend on them (relative purity and the
    ignited main oxide), over what ``sample_quantities_by_convention`` shared."""
    fraction = CENSORED_FRACTION[convention]
    re_group, non_re_group, main_group, u_loi = shared.re, shared.non_re, shared.main, shared.u_loi
    re_values, non_re_values = re_group.values(fraction), non_re_group.values(fraction)
    anion_values = {name: result_value(result, convention=convention) for name, result in composition.anions.items()}
    loi = composition.loi_percent
    loi_percent = 0.0 if loi is None else result_value(loi, convention=convention)

    sum_re = math.fsum(re_values.values())
    sum_non_re = math.fsum(non_re_values.values())
    sum_anions = math.fsum(anion_values.values())
    # One fsum over every impurity term, not a sum of the three sums: correctly rounded, so the
    # main oxide is monotone in each impurity.
    sum_impurities = math.fsum([*re_values.values(), *non_re_values.values(), *anion_values.values()])
    sum_outside_treo = math.fsum([*non_re_values.values(), *anion_values.values()])

    main_oxide = HUNDRED_PERCENT - sum_impurities / MG_KG_PER_PERCENT - loi_percent
    treo = HUNDRED_PERCENT - sum_outside_treo / MG_KG_PER_PERCENT - loi_percent
    if main_oxide < 0 or treo <= 0:
        raise CompositionError(
            f"impurities ({sum_impurities / MG_KG_PER_PERCENT:.6g} %) and LOI ({loi_percent:.6g} %) exceed the whole sample"
        )
    relative_purity = HUNDRED_PERCENT - HUNDRED_PERCENT * (sum_re / MG_KG_PER_PERCENT) / treo
    u_sum_re = re_group.u_sum
    # §5: u(P) ≈ √(Σ_RE u(ox_i)²) / TREO. The TREO term, (Σ_RE-imp / TREO²) · u(TREO), is smaller by
    # the factor Σ_RE-imp / TREO (1e-3 at 3N, 1e-4 at 4N) and left out, as §5 does.
    u_relative_purity = scaled(u_sum_re, HUNDRED_PERCENT / MG_KG_PER_PERCENT / treo)

    divisor = 1.0 - loi_percent / HUNDRED_PERCENT
    impurities_percent = sum_impurities / MG_KG_PER_PERCENT
    main_ignited = HUNDRED_PERCENT - impurities_percent / divisor
    # main_ignited = 100 - S / (1 - L/100): ∂/∂S = -1 / (1 - L/100), ∂/∂L = -S / (100 · (1 - L/100)²).
    u_main_ignited = quadrature(
        [
            scaled(shared.u_impurities_percent, 1.0 / divisor),
            scaled(u_loi, impurities_percent / (HUNDRED_PERCENT * divisor * divisor)),
        ]
    )
    oxide_values = re_values | non_re_values
    ignited_oxides = {formula: value / divisor for formula, value in oxide_values.items()}

    return SampleQuantities(
        convention=convention,
        oxide_mg_kg=oxide_values,
        u_oxide_mg_kg=shared.u_oxides,
        re_impurity_oxides=re_group.formulas,
        non_re_oxides=non_re_group.formulas,
        measured_main_oxide_mg_kg=main_group.values(fraction),
        u_measured_main_oxide_mg_kg=main_group.u,
        anion_mg_kg=anion_values,
        u_anion_mg_kg=shared.u_anions,
        sum_re_impurities_mg_kg=sum_re,
        u_sum_re_impurities_mg_kg=u_sum_re,
        sum_non_re_mg_kg=sum_non_re,
        u_sum_non_re_mg_kg=non_re_group.u_sum,
        sum_anions_mg_kg=sum_anions,
        u_sum_anions_mg_kg=shared.u_sum_anions,
        loi_measured=loi is not None,
        loi_percent=loi_percent,
        u_loi_percent=u_loi,
        main_oxide_percent=main_oxide,
        u_main_oxide_percent=shared.u_main_oxide,
        treo_percent=treo,
        u_treo_percent=shared.u_treo,
        relative_purity_percent=relative_purity,
        u_relative_purity_percent=u_relative_purity,
        ignited_oxide_mg_kg=ignited_oxides,
        ignited_sum_re_impurities_mg_kg=sum_re / divisor,
        ignited_sum_non_re_mg_kg=sum_non_re / divisor,
        ignited_sum_anions_mg_kg=sum_anions / divisor,
        main_oxide_ignited_percent=main_ignited,
        u_main_oxide_ignited_percent=u_main_ignited,
        treo_ignited_percent=treo / divisor,
    )


def scaled(u: float | None, factor: float) -> float | None:
    """An uncertainty times a sensitivity coefficient; unknown stays unknown."""
    return None if u is None else u * factor


def _terms(terms: str | Collection[str], *, what: str) -> tuple[str, ...]:
    # A bare string is one term ("treo", "Nd2O3"), not a collection of characters.
    collected = (terms,) if isinstance(terms, str) else tuple(terms)
    if not collected:
        raise CompositionError(f"the {what} of a ratio names no quantity")
    if len(set(collected)) != len(collected):
        raise CompositionError(f"the {what} of a ratio names a quantity twice: {list(collected)}")
    return collected


def _term_percent(quantities: SampleQuantities, term: str) -> float:
    if term == MAIN:
        return quantities.main_oxide_percent
    if term == TREO:
        return quantities.treo_percent
    if term in quantities.measured_main_oxide_mg_kg:
        return quantities.measured_main_oxide_mg_kg[term] / MG_KG_PER_PERCENT
    if term in quantities.oxide_mg_kg:
        return quantities.oxide_mg_kg[term] / MG_KG_PER_PERCENT
    raise CompositionError(
        f"{term!r} was not measured in this sample; name 'main' for the main oxide by difference, 'treo' for TREO, or a measured oxide"
    )


def ratio_percent(quantities: SampleQuantities, *, numerator: str | Collection[str], denominator: str | Collection[str] = TREO) -> float:
    """Σ numerator / Σ denominator x 100 for ratio lines such as Nd2O3/TREO ≥ 75 % (§2).

    A term is ``"main"`` (the main oxide by difference: all of M together), ``"treo"``, or an oxide
    formula, which means that oxide *as measured*. For PrNd oxide, (Pr6O11 + Nd2O3)/TREO is
    ``numerator="main"`` (by difference, the grade), while Nd2O3/TREO needs the major elements
    measured (ICP-OES or XRF on a diluted digest) and is ``numerator=["Nd2O3"]``; a formula of a
    main element that was not measured is an error, never a zero. ``"main"`` together with a main
    element's oxide would count that oxide twice and is refused. The ratio is the same on the
    ignited basis (numerator and denominator are divided by the same 1 - LOI).
    """
    top = _terms(numerator, what="numerator")
    bottom = _terms(denominator, what="denominator")
    for terms in (top, bottom):
        if MAIN in terms and any(term in quantities.measured_main_oxide_mg_kg for term in terms):
            raise CompositionError(f"{list(terms)} counts a main oxide twice: 'main' already includes it")
    if top == (MAIN,) and bottom == (TREO,):
        # The grade itself: return the very number relative_purity_percent holds, so a ratio line and
        # the purity line can never differ by a rounding ulp at a limit.
        return quantities.relative_purity_percent
    numerator_percent = math.fsum(_term_percent(quantities, term) for term in top)
    denominator_percent = math.fsum(_term_percent(quantities, term) for term in bottom)
    if denominator_percent <= 0:
        raise CompositionError(f"the denominator {list(bottom)} is {denominator_percent!r} %: no ratio")
    return HUNDRED_PERCENT * numerator_percent / denominator_percent


def ratio_uncertainty_percent(
    quantities: SampleQuantities, *, numerator: str | Collection[str], denominator: str | Collection[str] = TREO
) -> float | None:
    """The standard uncertainty of ``ratio_percent`` (§5, GUM first order), in the same %; None
    where it is not known, never zero.

    - The grade, (main)/TREO, is the relative purity: its uncertainty is that of the purity.
    - Measured oxides over TREO (Nd2O3/TREO for PrNd oxide): TREO is by difference from the
      non-rare-earth impurities, the anions and LOI, none of which a measured oxide enters, so the
      two are independent and, with R = 100 N / D,
      u(R) = (100 / D) · √(u(N)² + (N / D)² · u(D)²), u(N) the quadrature of the oxides' own.
    - Anything else (a by-difference term over measured oxides, oxides on both sides) shares
      contributions between numerator and denominator that this does not follow: None.
    """
    return ratio_with_uncertainty_percent(quantities, numerator=numerator, denominator=denominator)[1]


def ratio_with_uncertainty_percent(
    quantities: SampleQuantities, *, numerator: str | Collection[str], denominator: str | Collection[str] = TREO
) -> tuple[float, float | None]:
    """``ratio_percent`` and ``ratio_uncertainty_percent`` together, the ratio computed once (a
    ratio line needs both for every sample)."""
    value = ratio_percent(quantities, numerator=numerator, denominator=denominator)  # its checks and errors
    top = _terms(numerator, what="numerator")
    bottom = _terms(denominator, what="denominator")
    if top == (MAIN,) and bottom == (TREO,):
        return value, quantities.u_relative_purity_percent
    if bottom != (TREO,) or MAIN in top or TREO in top:
        return value, None
    u_numerator = quadrature(_term_u_percent(quantities, term) for term in top)
    u_treo = quantities.u_treo_percent
    if u_numerator is None or u_treo is None:
        return value, None
    share = value / HUNDRED_PERCENT  # N / D
    return value, HUNDRED_PERCENT / quantities.treo_percent * math.hypot(u_numerator, share * u_treo)


def _term_u_percent(quantities: SampleQuantities, term: str) -> float | None:
    """A measured oxide's standard uncertainty, in % of the sample."""
    if term in quantities.measured_main_oxide_mg_kg:
        u = quantities.u_measured_main_oxide_mg_kg.get(term)
    else:
        u = quantities.u_oxide_mg_kg.get(term)
    return None if u is None else u / MG_KG_PER_PERCENT


@dataclass(frozen=True, slots=True)
class PayableComposition:
    """A feedstock's payable rare-earth content (§1, §6 report of analysis), as received.

    Nothing is by difference: TREO is the measured sum of the rare-earth oxides the spec counts.
    ``share_of_treo_percent`` is each oxide as a fraction of that TREO (Dy2O3/TREO for a magnet
    scrap price); None when TREO is 0 (every rare earth censored, lower bound), where a share has
    no meaning. Uncertainties are standard (k = 1), ``None`` where a contributor's is unknown.
    """

    convention: Convention
    oxide_percent: dict[str, float]
    u_oxide_percent: dict[str, float | None]
    treo_percent: float
    u_treo_percent: float | None
    share_of_treo_percent: dict[str, float] | None


def payable_composition(composition: SampleComposition, *, convention: Convention) -> PayableComposition:
    """TREO measured directly as Σ RE oxides (GB/T 14635's sense), and each RE oxide in %.

    ``main`` plays no part: a feedstock has no main component. Every measured element of
    ``treo_includes`` counts; none measured is an error (a TREO of nothing is not 0 %).
    """
    convention = Convention(convention)
    symbols = set(composition.elements) & composition.treo_includes
    if not symbols:
        raise CompositionError("no rare earth counted in TREO was measured: there is no payable composition")
    oxides = _oxide_group(composition, symbols)
    oxide_percent = {formula: value / MG_KG_PER_PERCENT for formula, value in oxides.values(CENSORED_FRACTION[convention]).items()}
    u_oxide_percent = {formula: scaled(u, 1.0 / MG_KG_PER_PERCENT) for formula, u in oxides.u.items()}
    treo = math.fsum(oxide_percent.values())
    share = {formula: HUNDRED_PERCENT * value / treo for formula, value in oxide_percent.items()} if treo > 0 else None
    return PayableComposition(
        convention=convention,
        oxide_percent=oxide_percent,
        u_oxide_percent=u_oxide_percent,
        treo_percent=treo,
        u_treo_percent=quadrature(u_oxide_percent.values()),
        share_of_treo_percent=share,
    )
