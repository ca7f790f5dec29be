"""Many lots judged against one specification together: ``assess_lot`` of each, with the same
outcomes float for float, at a fraction of the cost (a reassessment after a specification change
judges thousands of lots, and ``assess_lot`` spends most of its time on per-sample bookkeeping).

PURE: no Django, no database.

How it stays equal to ``assess_lot`` (a property test holds the two equal on generated lots):

* every per-sample number is the same IEEE operation on the same operands in the same order,
  done by numpy over all samples at once (an elementwise ``a * b`` or ``a - b / c`` rounds as
  Python's float arithmetic does);
* sums go through ``math.fsum`` and quadratures through ``math.hypot``, per sample, on the terms
  ``purity.sample_quantities`` would give them: an fsum is correctly rounded whatever the order
  and is not moved by an absent element's exact zero, and a hypot gets exactly the present terms,
  in the order of atomic number;
* each line's lot statistics and verdict come from the very function ``assess_lot`` uses
  (``assessment.judged_line_outcome``, through its ``LineJudge``), and the lot's status from ``assessment.lot_outcome``.

What it leaves to ``assess_lot``, lot by lot: a specification without main components (a
feedstock's payable composition) or with a quantity it does not know; a lot with no
samples or with a required analyte missing (insufficient data, decided before any arithmetic);
a lot whose results cannot make a composition or a purity (an unknown element, impurities past
100 %), where a line cannot be computed (an analyte it names that a sample lacks, LOI not
measured, a ratio of oxides not measured or named twice) or that holds a negative zero (whose sign a sum of the present terms keeps and the
zero of an absent element would lose).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from assays.chemistry.assessment import (
    CONVENTIONS,
    AssessmentError,
    Line,
    LineJudge,
    LotOutcome,
    SampleInput,
    Specification,
    assess_lot,
    lot_outcome,
    sample_composition,
)
from assays.chemistry.elements import ELEMENTS, UnknownElementError
from assays.chemistry.oxides import CONVENTIONAL_OXIDES, FormulaError, oxide_factor, parse_oxide
from assays.chemistry.purity import (
    CENSORED_FRACTION,
    HUNDRED_PERCENT,
    MG_KG_PER_PERCENT,
    SQRT_12,
    Convention,
    Result,
    quadrature,
    scaled,
)
from assays.chemistry.result_table import Kind, ResultTable

_QUANTITIES = frozenset(
    {"oxide", "element", "anion", "sum_re_impurities", "sum_non_re", "treo", "main_oxide", "relative_purity", "loi", "ratio"}
)
_FRACTIONS = [CENSORED_FRACTION[convention] for convention in CONVENTIONS]
_BEST = CONVENTIONS.index(Convention.BEST)
_PER_PERCENT = 1.0 / MG_KG_PER_PERCENT  # purity.py's scaled(u, 1.0 / MG_KG_PER_PERCENT), the same constant
_RELATIVE_PURITY_SCALE = HUNDRED_PERCENT / MG_KG_PER_PERCENT


def assess_lots(*, lots: Sequence[Sequence[SampleInput]], spec: Specification) -> list[LotOutcome]:
    """``assess_lot(samples=lot, spec=spec)`` for each of ``lots``, in order."""
    table = ResultTable.of_lots(list(enumerate(lots)))
    return assess_table(table=table, positions=range(len(lots)), spec=spec)


def assess_table(*, table: ResultTable, positions: Sequence[int], spec: Specification) -> list[LotOutcome]:
    """``assess_lot(samples=table.samples(position), spec=spec)`` for each of ``positions`` (lots
    of the table), in order; the ``SampleInput``s are made only for the lots the batch leaves to
    ``assess_lot``."""
    return list(assessed_in_turn(table=table, positions=positions, spec=spec))


def assessed_in_turn(*, table: ResultTable, positions: Sequence[int], spec: Specification) -> Iterator[LotOutcome]:
    """``assess_table``'s outcomes one at a time, each judged when it is asked for (after the
    arrays of the whole batch are made, on the first): a caller writing them to the database as
    they come lets the database take each row while the next lot is judged."""
    needs = _needs(spec)
    if needs is None:
        for position in positions:
            yield assess_lot(samples=table.samples(position), spec=spec)
        return
    batchable = _batchable(table, positions, spec, needs)
    in_batch = [position for position, ok in zip(positions, batchable, strict=True) if ok]
    judged_together = _Table(table, in_batch, spec).outcomes() if in_batch else iter(())
    for position, ok in zip(positions, batchable, strict=True):
        outcome = next(judged_together) if ok else None
        # None from the batch too: a lot it found it cannot compute (see the module docstring).
        yield outcome if outcome is not None else assess_lot(samples=table.samples(position), spec=spec)
    assert next(judged_together, None) is None, "every lot of the batch had its outcome"


@dataclass(frozen=True, slots=True)
class _Needs:
    """What every sample of a lot must have for the batch to compute each line of the spec."""

    formulas: frozenset[str]  # oxides measured (oxide lines, ratio numerators)
    elements: frozenset[str]
    anions: frozenset[str]
    loi: bool


def _needs(spec: Specification) -> _Needs | None:
    """What the spec's lines read, or None when the batch does not cover the spec: no main
    components (a feedstock's payable composition), a quantity it does not know, or a ratio line
    that cannot be computed for any lot (an oxide named twice, none, or one that does not parse;
    ``assess_lot`` says so, or raises, as it always has)."""
    if not spec.main or any(line.quantity not in _QUANTITIES for line in spec.lines):
        return None
    formulas = {str(line.oxide) for line in spec.lines if line.quantity == "oxide"}
    for line in spec.lines:
        if line.quantity != "ratio":
            continue
        try:
            numerator = _ratio_numerator(line, spec)
        except (FormulaError, UnknownElementError):
            return None
        if numerator is not None:
            if not numerator or len(set(numerator)) != len(numerator):
                return None
            formulas.update(numerator)
    return _Needs(
        formulas=frozenset(formulas),
        elements=frozenset(str(line.element) for line in spec.lines if line.quantity == "element"),
        anions=frozenset(str(line.anion) for line in spec.lines if line.quantity == "anion"),
        loi=any(line.quantity == "loi" for line in spec.lines),
    )


def _batchable(table: ResultTable, positions: Sequence[int], spec: Specification, needs: _Needs) -> list[bool]:
    """Per lot, whether ``assess_lot`` would compute every line of it (rather than decide it is
    insufficient, or fail a composition or a line): every sample has the required analytes and
    what the lines read, and makes a composition."""
    starts, ends = table.sample_start[:-1][positions], table.sample_start[1:][positions]
    try:
        sample_composition(SampleInput("", {}), spec)  # what the specification alone makes impossible
    except AssessmentError:
        return [False] * len(positions)
    samples = np.concatenate(
        [np.arange(start, end) for start, end in zip(starts.tolist(), ends.tolist(), strict=True)] + [np.zeros(0, np.intp)]
    )
    # Which keys each sample has (samples of these lots only).
    counts = np.diff(table.entry_start)[samples]
    entries = np.concatenate(
        [np.arange(table.entry_start[sample], table.entry_start[sample + 1]) for sample in samples.tolist()] + [np.zeros(0, np.intp)]
    )
    has = np.zeros((len(samples), len(table.keys) + 1), dtype=bool)  # a last column that no sample has
    has[np.repeat(np.arange(len(samples)), counts), table.key[entries]] = True
    position = {(kind, name): index for index, (name, kind) in enumerate(zip(table.keys, table.kinds, strict=True))}
    by_name = {name: index for index, name in enumerate(table.keys)}
    absent = len(table.keys)
    ok = np.ones(len(samples), dtype=bool)
    # missing_analytes: a required name, whichever mapping it is in.
    for name in spec.required:
        ok &= has[:, by_name.get(name, absent)]
    for name in needs.elements:
        ok &= has[:, position.get((Kind.ELEMENT, name), absent)]
    for name in needs.anions:
        ok &= has[:, position.get((Kind.ANION, name), absent)]
    if needs.loi:
        ok &= has[:, position.get((Kind.LOI, "LOI"), absent)]
    # sample_composition, element by element: what it checks of an element depends on the symbol
    # alone (known, with a reporting oxide that parses), so each measured symbol is checked once, by
    # sample_composition itself, which also gives its reporting oxide.
    reporting: dict[int, str] = {}
    for index, (name, kind) in enumerate(zip(table.keys, table.kinds, strict=True)):
        if kind is not Kind.ELEMENT or not has[:, index].any():
            continue
        try:
            composition = sample_composition(SampleInput("", {name: Result(1.0)}), spec)
        except AssessmentError:
            ok &= ~has[:, index]
            continue
        reporting[index] = composition.oxides[name]
    for formula in needs.formulas:
        reported = [index for index, oxide in reporting.items() if oxide == formula]
        ok &= has[:, reported].any(axis=1) if reported else False
    # An LOI that leaves no ignited material (its upper value >= 100 %) makes no composition.
    loi = position.get((Kind.LOI, "LOI"))
    if loi is not None:
        at = entries[table.key[entries] == loi]
        upper = np.where(table.censored[at], table.value[at], np.where(table.value[at] < 0.0, 0.0, table.value[at]))
        sample_of = np.repeat(np.arange(len(samples)), counts)[table.key[entries] == loi]
        ok[sample_of[upper >= HUNDRED_PERCENT]] = False
    # Per lot: samples, all of them good.
    lot_of_sample = np.repeat(np.arange(len(positions)), ends - starts)
    bad = np.bincount(lot_of_sample[~ok], minlength=len(positions))
    batchable: list[bool] = ((bad == 0) & (ends > starts)).tolist()
    return batchable


def _ratio_numerator(line: Line, spec: Specification) -> list[str] | None:
    """As ``assessment._line_value`` reads a ratio line: None for all of the main oxides over TREO
    (the grade: the relative purity itself), else the oxides to sum over TREO, as measured."""
    if spec.main and {parse_oxide(formula).element for formula in line.ratio_oxides} == set(spec.main):
        return None
    return list(line.ratio_oxides)


def _reporting_oxides(spec: Specification, symbols: list[str]) -> list[str]:
    """The reporting oxide of each of ``symbols`` (measured elements), as ``SampleComposition``
    makes it: the spec's oxide line (``Specification.named_oxides``), else the conventional oxide.
    Only measured elements' formulas are read: ``_batchable`` has seen those parse (an oxide line
    of an element no sample has may name anything)."""
    named = spec.named_oxides
    return [parse_oxide(named[symbol]).formula if symbol in named else CONVENTIONAL_OXIDES[symbol] for symbol in symbols]


@dataclass
class _Results:
    """One kind of result (elements, or anions) of every sample: a column per analyte."""

    columns: list[str]
    value: np.ndarray  # (samples, columns); 0 where absent
    censored: np.ndarray  # bool
    present: np.ndarray  # bool
    u: np.ndarray  # the result's own u (method model); 0 where unknown or absent
    u_known: np.ndarray  # bool

    @classmethod
    def of(cls, entries: np.ndarray, samples: np.ndarray, table: ResultTable, keys: list[int], samples_in_all: int) -> _Results:
        """The results of ``entries`` of ``table`` (their sample's row in ``samples``) whose key is one
        of ``keys`` (the columns, in order)."""
        names = [table.keys[key] for key in keys]
        column_of_key = np.full(len(table.keys), -1, dtype=np.intp)
        column_of_key[keys] = np.arange(len(keys))
        columns = column_of_key[table.key[entries]]
        mine = columns >= 0
        at = (samples[mine], columns[mine])
        chosen = entries[mine]
        shape = (samples_in_all, len(keys))
        value, u = np.zeros(shape), np.zeros(shape)
        censored, present, u_known = np.zeros(shape, bool), np.zeros(shape, bool), np.zeros(shape, bool)
        own_u = table.u[chosen]
        known = ~np.isnan(own_u)
        value[at], censored[at], present[at] = table.value[chosen], table.censored[chosen], True
        u[at], u_known[at] = np.where(known, own_u, 0.0), known
        return cls(names, value, censored, present, u, u_known)

    def result_values(self, fraction: float) -> np.ndarray:
        """``purity.result_value`` of every result: a censored one as ``fraction`` of its limit,
        a negative reading as 0 (``max(value, 0.0)``: a value not below 0, -0.0 too, is kept)."""
        return np.where(self.censored, fraction * self.value, np.where(self.value < 0.0, 0.0, self.value))

    def result_uncertainties(self) -> np.ndarray:
        """``purity.result_uncertainty``: LOD/√12 for a censored result, else its own u."""
        return np.where(self.censored, self.value / SQRT_12, self.u)

    def uncertainty_known(self) -> np.ndarray:
        """Where the uncertainty is known (absent results count as known: they enter nothing)."""
        known: np.ndarray = self.censored | self.u_known | ~self.present
        return known


class _Table:
    """The lots' samples as arrays, and what ``purity.sample_quantities`` derives from them."""

    def __init__(self, table: ResultTable, positions: Sequence[int], spec: Specification) -> None:
        self.spec = spec
        firsts = [int(table.sample_start[position]) for position in positions]
        lasts = [int(table.sample_start[position + 1]) for position in positions]
        self.lot_sizes = [last - first for first, last in zip(firsts, lasts, strict=True)]
        samples = np.concatenate([np.arange(first, last) for first, last in zip(firsts, lasts, strict=True)] + [np.zeros(0, np.intp)])
        self.sample_count = count = len(samples)
        counts = np.diff(table.entry_start)[samples]
        entries = np.concatenate(
            [np.arange(table.entry_start[sample], table.entry_start[sample + 1]) for sample in samples.tolist()] + [np.zeros(0, np.intp)]
        )
        row = np.repeat(np.arange(count), counts)  # each entry's sample, as a row of the arrays
        used = np.zeros(len(table.keys), dtype=bool)
        used[table.key[entries]] = True
        of_kind = {kind: [key for key in range(len(table.keys)) if used[key] and table.kinds[key] is kind] for kind in Kind}
        treo = spec.treo_elements
        symbols = sorted(of_kind[Kind.ELEMENT], key=lambda key: ELEMENTS[table.keys[key]].atomic_number)
        re = [key for key in symbols if table.keys[key] in treo and table.keys[key] not in spec.main]
        non_re = [key for key in symbols if table.keys[key] not in treo and table.keys[key] not in spec.main]
        main = [key for key in symbols if table.keys[key] in spec.main]
        # Columns by group (the order of purity.py's sums), each by atomic number (its order of terms).
        self.re_columns = slice(0, len(re))
        self.non_re_columns = slice(len(re), len(re) + len(non_re))
        self.elements = _Results.of(entries, row, table, re + non_re + main, count)
        self.formulas = _reporting_oxides(spec, self.elements.columns)
        self.factors = np.array([oxide_factor(formula) for formula in self.formulas])
        self.anions = _Results.of(entries, row, table, sorted(of_kind[Kind.ANION], key=lambda key: table.keys[key]), count)
        if of_kind[Kind.LOI]:
            self.loi = _Results.of(entries, row, table, of_kind[Kind.LOI], count)
        else:  # no sample has LOI: a column all absent
            self.loi = _Results(["LOI"], *(np.zeros((count, 1), dtype) for dtype in (float, bool, bool, float, bool)))
        self.u_elements = self.elements.result_uncertainties()
        self.u_oxides = self.factors * self.u_elements
        self.u_anions = self.anions.result_uncertainties()
        self.elements_u_known = self.elements.uncertainty_known()
        self.anions_u_known = self.anions.uncertainty_known()
        # Per sample, as purity.py takes them: the quadrature of its anions' u in the sample's own
        # order (a hypot of several terms may differ in its last bit with their order), and LOI's u.
        anion_terms: list[list[float | None]] = [[] for _ in range(count)]
        self.u_loi: list[float | None] = [0.0] * count
        values, censored, own_u = table.value[entries].tolist(), table.censored[entries].tolist(), table.u[entries].tolist()
        kinds = [table.kinds[key] for key in table.key[entries].tolist()]
        for index, (sample, kind) in enumerate(zip(row.tolist(), kinds, strict=True)):
            if kind is Kind.ELEMENT:
                continue
            # purity.result_uncertainty under the best convention: LOD/√12 when censored.
            u = values[index] / SQRT_12 if censored[index] else (None if math.isnan(own_u[index]) else own_u[index])
            if kind is Kind.ANION:
                anion_terms[sample].append(u)
            else:
                self.u_loi[sample] = u
        self.u_anion_sum = [quadrature(terms) for terms in anion_terms]

    def outcomes(self) -> Iterator[LotOutcome | None]:
        """Each lot's outcome, judged as it is asked for; None for a lot ``assess_lot`` must judge
        (see the module docstring)."""
        spec, elements, anions, loi = self.spec, self.elements, self.anions, self.loi
        values = _Values(raw=[], oxides=[], anions=[], loi=[], sums=[])
        for fraction in _FRACTIONS:
            raw = elements.result_values(fraction)
            values.raw.append(raw)
            values.oxides.append(self.factors * raw)
            values.anions.append(anions.result_values(fraction))
            values.loi.append(loi.result_values(fraction)[:, 0])
            values.sums.append(self._sums(values.oxides[-1], values.anions[-1], values.loi[-1]))
        refused = np.zeros(self.sample_count, bool)
        for sums in values.sums:
            refused |= (sums["main_oxide"] < 0) | (sums["treo"] <= 0)
        # A -0.0 anywhere: the sign of a sum of zeros is the terms' business (module docstring).
        for results in (elements, anions, loi):
            refused |= ((results.value == 0) & np.signbit(results.value) & results.present).any(axis=1)
        u = self._uncertainties(values.sums[_BEST], refused=refused)
        per_line = [self._line_values(line, values, u) for line in spec.lines]
        judges = [LineJudge(line) for line in spec.lines]
        start = 0
        for size in self.lot_sizes:
            end = start + size
            if refused[start:end].any():
                yield None
                start = end
                continue
            n = end - start
            lines = [
                judge.outcome(
                    means=[math.fsum(convention[start:end]) / n for convention in line_values],
                    best_values=line_values[_BEST][start:end],
                    uncertainties=uncertainties[start:end],
                    censored=all(censored[start:end]),
                )
                for judge, (line_values, uncertainties, censored) in zip(judges, per_line, strict=True)
            ]
            yield lot_outcome(spec=spec, n_samples=n, lines=lines)
            start = end

    def _sums(self, oxide: np.ndarray, anion: np.ndarray, loi_percent: np.ndarray) -> dict[str, np.ndarray]:
        """purity._sample_quantities' sums and by-difference quantities, per sample."""
        re_rows = oxide[:, self.re_columns].tolist()
        non_re_rows = oxide[:, self.non_re_columns].tolist()
        anion_rows = anion.tolist()
        fsum = math.fsum
        sum_re = np.array([fsum(row) for row in re_rows])
        sum_non_re = np.array([fsum(row) for row in non_re_rows])
        sum_impurities = np.array([fsum(a + b + c) for a, b, c in zip(re_rows, non_re_rows, anion_rows, strict=True)])
        sum_outside_treo = np.array([fsum(b + c) for b, c in zip(non_re_rows, anion_rows, strict=True)])
        main_oxide = HUNDRED_PERCENT - sum_impurities / MG_KG_PER_PERCENT - loi_percent
        treo = HUNDRED_PERCENT - sum_outside_treo / MG_KG_PER_PERCENT - loi_percent
        with np.errstate(divide="ignore", invalid="ignore"):  # a refused sample's TREO of 0: never read
            relative_purity = HUNDRED_PERCENT - HUNDRED_PERCENT * (sum_re / MG_KG_PER_PERCENT) / treo
        divisor = 1.0 - loi_percent / HUNDRED_PERCENT
        impurities_percent = sum_impurities / MG_KG_PER_PERCENT
        return {
            "sum_re": sum_re,
            "sum_non_re": sum_non_re,
            "main_oxide": main_oxide,
            "treo": treo,
            "relative_purity": relative_purity,
            "divisor": divisor,
            "impurities_percent": impurities_percent,
            "main_ignited": HUNDRED_PERCENT - impurities_percent / divisor,
            "treo_ignited": treo / divisor,
            "sum_re_ignited": sum_re / divisor,
            "sum_non_re_ignited": sum_non_re / divisor,
        }

    def _uncertainties(self, best: dict[str, np.ndarray], *, refused: np.ndarray) -> dict[str, list[float | None]]:
        """The best estimate's standard uncertainties per sample (purity.py's quadratures, None
        where a contributor's is unknown): only the best estimate's enter a lot's U."""
        elements = self.elements
        known = self.elements_u_known
        present = elements.present
        u_re = _quadratures(self.u_oxides[:, self.re_columns], known[:, self.re_columns], present[:, self.re_columns])
        u_non_re = _quadratures(self.u_oxides[:, self.non_re_columns], known[:, self.non_re_columns], present[:, self.non_re_columns])
        treo, divisor, impurities_percent = best["treo"].tolist(), best["divisor"].tolist(), best["impurities_percent"].tolist()
        out: dict[str, list[float | None]] = {
            key: [] for key in ("re", "non_re", "loi", "main_oxide", "treo", "relative_purity", "main_ignited")
        }
        for index in range(self.sample_count):
            if refused[index]:
                for column in out.values():
                    column.append(None)  # never read: the lot goes to assess_lot
                continue
            re, non_re = u_re[index], u_non_re[index]
            anion, u_loi = self.u_anion_sum[index], self.u_loi[index]
            impurities = scaled(quadrature((re, non_re, anion)), _PER_PERCENT)
            out["re"].append(re)
            out["non_re"].append(non_re)
            out["loi"].append(u_loi)
            out["main_oxide"].append(quadrature((impurities, u_loi)))
            out["treo"].append(quadrature((scaled(quadrature((non_re, anion)), _PER_PERCENT), u_loi)))
            out["relative_purity"].append(scaled(re, _RELATIVE_PURITY_SCALE / treo[index]))
            d = divisor[index]
            out["main_ignited"].append(
                quadrature((scaled(impurities, 1.0 / d), scaled(u_loi, impurities_percent[index] / (HUNDRED_PERCENT * d * d))))
            )
        return out

    def _line_values(
        self, line: Line, values: _Values, u: dict[str, list[float | None]]
    ) -> tuple[list[list[float]], list[float | None], list[bool]]:
        """As ``assessment._line_value`` for every sample: per convention the values, the best
        estimate's u, and per sample whether the line's single analyte is censored (all False for
        a line of a derived quantity), in the line's unit."""
        spec, percent = self.spec, line.unit == "%"
        divisors = [sums["divisor"] for sums in values.sums] if spec.ignited else None
        samples = self.sample_count
        censored = [False] * samples
        if line.quantity in ("oxide", "element") and line.element in self.elements.columns:
            column = self.elements.columns.index(line.element)
            censored = (self.elements.censored[:, column] & self.elements.present[:, column]).tolist()
        elif line.quantity == "anion" and line.anion in self.anions.columns:
            column = self.anions.columns.index(line.anion)
            censored = (self.anions.censored[:, column] & self.anions.present[:, column]).tolist()

        def single(
            matrices: list[np.ndarray], u_matrix: np.ndarray, u_known: np.ndarray, column: int
        ) -> tuple[list[list[float]], list[float | None]]:
            # _to_unit(value / divisor, unit), and the same of u (with the best estimate's divisor).
            by_convention = []
            for index, matrix in enumerate(matrices):
                value = matrix[:, column] if divisors is None else matrix[:, column] / divisors[index]
                by_convention.append((value / MG_KG_PER_PERCENT if percent else value).tolist())
            u_column = u_matrix[:, column] if divisors is None else u_matrix[:, column] / divisors[_BEST]
            u_column = u_column / MG_KG_PER_PERCENT if percent else u_column
            known = u_known[:, column].tolist()
            return by_convention, [value if ok else None for value, ok in zip(u_column.tolist(), known, strict=True)]

        if line.quantity == "oxide":
            return (*single(values.oxides, self.u_oxides, self.elements_u_known, self.formulas.index(str(line.oxide))), censored)
        if line.quantity == "element":
            return (*single(values.raw, self.u_elements, self.elements_u_known, self.elements.columns.index(str(line.element))), censored)
        if line.quantity == "anion":
            return (*single(values.anions, self.u_anions, self.anions_u_known, self.anions.columns.index(str(line.anion))), censored)
        if line.quantity in ("sum_re_impurities", "sum_non_re"):
            key = "sum_re" if line.quantity == "sum_re_impurities" else "sum_non_re"
            sums = [convention[f"{key}_ignited"] if spec.ignited else convention[key] for convention in values.sums]
            best_divisor = values.sums[_BEST]["divisor"].tolist()
            uncertainties: list[float | None] = []
            for index, value in enumerate(u["re" if key == "sum_re" else "non_re"]):
                if value is not None:
                    value = value / best_divisor[index] if spec.ignited else value
                    value = value / MG_KG_PER_PERCENT if percent else value
                uncertainties.append(value)
            return [(value / MG_KG_PER_PERCENT if percent else value).tolist() for value in sums], uncertainties, censored
        if line.quantity == "treo":
            percents = [sums["treo_ignited"] if spec.ignited else sums["treo"] for sums in values.sums]
            return (*_from_percent(percents, u["treo"], percent=percent), censored)
        if line.quantity == "main_oxide":
            percents = [sums["main_ignited"] if spec.ignited else sums["main_oxide"] for sums in values.sums]
            return (*_from_percent(percents, u["main_ignited"] if spec.ignited else u["main_oxide"], percent=percent), censored)
        if line.quantity == "relative_purity":
            # Its u stays in % whatever the line's unit, as assessment._line_value gives it.
            by_convention, _ = _from_percent([sums["relative_purity"] for sums in values.sums], [], percent=percent)
            return by_convention, u["relative_purity"], censored
        if line.quantity == "ratio":
            return (*self._ratio_values(line, values, u), censored)
        assert line.quantity == "loi"
        by_convention, _ = _from_percent(values.loi, [], percent=percent)
        return by_convention, u["loi"], censored

    def _ratio_values(self, line: Line, values: _Values, u: dict[str, list[float | None]]) -> tuple[list[list[float]], list[float | None]]:
        """``purity.ratio_percent`` and ``ratio_uncertainty_percent`` over TREO, in % whatever the
        line's unit (as assessment._line_value gives them; the same on the ignited basis)."""
        numerator = _ratio_numerator(line, self.spec)
        if numerator is None:
            return [sums["relative_purity"].tolist() for sums in values.sums], u["relative_purity"]
        columns = [self.formulas.index(formula) for formula in numerator]
        by_convention: list[list[float]] = []
        for oxides, sums in zip(values.oxides, values.sums, strict=True):
            # Each term as a percentage first (_term_percent), then their fsum, over TREO.
            terms: list[list[float]] = (oxides[:, columns] / MG_KG_PER_PERCENT).tolist()
            tops = np.array([math.fsum(row) for row in terms])
            by_convention.append((HUNDRED_PERCENT * tops / sums["treo"]).tolist())
        term_u: list[list[float]] = (self.u_oxides[:, columns] / MG_KG_PER_PERCENT).tolist()
        known: list[bool] = np.asarray(self.elements_u_known[:, columns].all(axis=1), dtype=bool).tolist()
        treo = values.sums[_BEST]["treo"].tolist()
        uncertainties: list[float | None] = []
        for index, (row, ok, u_treo) in enumerate(zip(term_u, known, u["treo"], strict=True)):
            if not ok or u_treo is None:
                uncertainties.append(None)
                continue
            share = by_convention[_BEST][index] / HUNDRED_PERCENT  # N / D
            uncertainties.append(HUNDRED_PERCENT / treo[index] * math.hypot(math.hypot(*row), share * u_treo))
        return by_convention, uncertainties


@dataclass
class _Values:
    """Per convention (lower, best, upper): the element results, their oxides, the anions, LOI and
    the per-sample sums."""

    raw: list[np.ndarray]
    oxides: list[np.ndarray]
    anions: list[np.ndarray]
    loi: list[np.ndarray]
    sums: list[dict[str, np.ndarray]]


def _from_percent(
    percents: list[np.ndarray], uncertainties: list[float | None], *, percent: bool
) -> tuple[list[list[float]], list[float | None]]:
    """assessment._percent_to_unit of values and uncertainties."""
    if percent:
        return [value.tolist() for value in percents], uncertainties
    return [(value * MG_KG_PER_PERCENT).tolist() for value in percents], [
        None if u is None else u * MG_KG_PER_PERCENT for u in uncertainties
    ]


def _quadratures(u: np.ndarray, known: np.ndarray, present: np.ndarray) -> list[float | None]:
    """Per row, ``purity.quadrature`` of the present terms, in column order: None when one is
    unknown. ``math.hypot`` gets exactly those terms (one term alone comes back as it is, which a
    padded zero would change)."""
    rows: list[list[float]] = u.tolist()
    known_rows: list[bool] = np.asarray(known.all(axis=1), dtype=bool).tolist()
    if present.all():
        return [math.hypot(*row) if ok else None for row, ok in zip(rows, known_rows, strict=True)]
    return [
        math.hypot(*(value for value, here in zip(row, where, strict=True) if here)) if ok else None
        for row, where, ok in zip(rows, _rows_of(present), known_rows, strict=True)
    ]


def _rows_of(flags: np.ndarray) -> list[list[bool]]:
    rows: list[list[bool]] = flags.tolist()
    return rows
