"""``lot_batch.assess_lots`` gives exactly what ``assess_lot`` gives each lot: the same outcomes,
float for float, on generated lots and specifications (every line kind the batch computes, both
bases, both units, every rule; samples with censored results, unknown uncertainties, negative
readings, absent analytes, anions in either order, LOI or none), and on the lots it hands back to
``assess_lot``."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assays.chemistry import lot_batch
from assays.chemistry.assessment import Line, LotOutcome, SampleInput, Specification, Status, assess_lot
from assays.chemistry.purity import Result
from assays.chemistry.result_table import ResultTable

RE = ["La", "Ce", "Pr", "Sm", "Gd", "Dy", "Y"]
NON_RE = ["Fe", "Si", "Ca", "Al", "Th"]
ANIONS = ["Cl-", "SO4 2-"]

uncertainties = st.none() | st.floats(min_value=0, max_value=30)
# Large readings too: the by-difference quantities then show a sum's last bit.
readings = st.floats(min_value=-5, max_value=400) | st.floats(min_value=1e3, max_value=6e4)
measured = st.builds(Result, value=readings, censored=st.just(False), u=uncertainties)
censored = st.floats(min_value=0.01, max_value=5).map(lambda lod: Result(value=lod, censored=True, lod=lod))
results = measured | censored
loi_results = st.builds(Result, value=st.floats(min_value=0, max_value=3), u=uncertainties) | st.floats(0.01, 0.5).map(
    lambda lod: Result(value=lod, censored=True, lod=lod)
)


@st.composite
def samples(draw: st.DrawFn, code: str, *, with_main: bool, anions: list[str], loi: bool) -> SampleInput:
    symbols = draw(st.lists(st.sampled_from(RE + NON_RE), unique=True, min_size=3))
    elements = {symbol: draw(results) for symbol in symbols}
    if with_main:
        elements["Nd"] = draw(measured)
    # The order of a sample's anions is the order its results were read in.
    names = draw(st.permutations(anions))
    return SampleInput(
        code=code,
        elements=elements,
        anions={name: draw(results) for name in names},
        loi_percent=draw(loi_results) if loi else None,
    )


@st.composite
def lots(draw: st.DrawFn) -> list[list[SampleInput]]:
    with_main = draw(st.booleans())
    anions = draw(st.lists(st.sampled_from(ANIONS), unique=True))
    loi = draw(st.booleans())
    count = draw(st.integers(min_value=1, max_value=6))
    made = []
    for lot in range(count):
        size = draw(st.sampled_from([0, 1, 2, 3, 3, 4]))
        made.append(
            [
                draw(samples(f"L{lot}-S{n}", with_main=with_main, anions=anions, loi=draw(st.booleans()) if loi else False))
                for n in range(size)
            ]
        )
    return made


@st.composite
def lines(draw: st.DrawFn, position: int) -> Line:
    quantity = draw(
        st.sampled_from(
            ["oxide", "element", "anion", "sum_re_impurities", "sum_non_re", "treo", "main_oxide", "relative_purity", "loi", "ratio"]
        )
    )
    unit = draw(st.sampled_from(["%", "mg/kg"]))
    element = oxide = anion = None
    if quantity in ("oxide", "element"):
        element = draw(st.sampled_from([*RE, *NON_RE, "Nd"]))
        oxide = {"Ce": "CeO2", "Pr": "Pr6O11", "Fe": "Fe2O3", "Si": "SiO2", "Ca": "CaO", "Al": "Al2O3", "Th": "ThO2"}.get(
            element, f"{element}2O3"
        )
    if quantity == "anion":
        anion = draw(st.sampled_from(ANIONS))
    ratio_oxides: tuple[str, ...] = ()
    if quantity == "ratio":
        # The grade (Nd2O3 alone is all of M = {Nd}), measured oxides over TREO, and ones that
        # cannot be computed: an oxide named twice, none at all.
        ratio_oxides = draw(
            st.sampled_from([("Nd2O3",), ("Pr6O11",), ("Nd2O3", "Pr6O11"), ("La2O3", "CeO2", "Pr6O11"), ("La2O3", "La2O3"), ()])
        )
    rule = draw(st.sampled_from(["simple", "guard_band"]))
    comparison = "absolute" if rule == "guard_band" else draw(st.sampled_from(["absolute", "rounding"]))
    limit = draw(st.none() | st.sampled_from(["0.05", "20", "99.9", "99.95", "50", "0.005", "1E+2", "99"]))
    bound = draw(st.sampled_from(["minimum", "maximum"]))
    return Line(
        position=position,
        quantity=quantity,
        unit=unit,
        element=element,
        oxide=oxide,
        anion=anion,
        ratio_oxides=ratio_oxides,
        minimum=limit if bound == "minimum" else None,
        maximum=limit if bound == "maximum" else None,
        comparison=comparison,
        rule=rule,
    )


@st.composite
def specifications(draw: st.DrawFn) -> Specification:
    count = draw(st.integers(min_value=1, max_value=8))
    return Specification(
        lines=tuple(draw(lines(position)) for position in range(1, count + 1)),
        main=frozenset({"Nd"}),
        ignited=draw(st.booleans()),
        treo_includes=draw(st.none() | st.just(frozenset({"La", "Ce", "Pr", "Nd", "Sm", "Gd", "Dy", "Y", "Th"}))),
        required=tuple(draw(st.lists(st.sampled_from([*RE, "LOI", "Cl-"]), unique=True, max_size=1))),
    )


def _one_by_one(made: list[list[SampleInput]], spec: Specification) -> list[LotOutcome]:
    return [assess_lot(samples=samples, spec=spec) for samples in made]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(made=lots(), spec=specifications())
def test_the_batch_gives_every_lot_what_assess_lot_gives_it(made: list[list[SampleInput]], spec: Specification) -> None:
    assert lot_batch.assess_lots(lots=made, spec=spec) == _one_by_one(made, spec)


def _lot(*, nd: float, pr: float, fe_u: float | None) -> list[SampleInput]:
    return [
        SampleInput(
            f"S{n}", {"Nd": Result(nd), "Pr": Result(pr + n, u=0.5), "La": Result(0.2, censored=True, lod=0.2), "Fe": Result(3.0, u=fe_u)}
        )
        for n in range(3)
    ]


SPEC = Specification(
    lines=(
        Line(1, "relative_purity", "%", minimum="99.99", comparison="rounding"),
        Line(2, "oxide", "mg/kg", element="Pr", oxide="Pr6O11", maximum="50"),
        Line(3, "oxide", "mg/kg", element="La", oxide="La2O3", maximum="1"),
        Line(4, "sum_non_re", "mg/kg", maximum="20", rule="guard_band", comparison="absolute"),
        Line(5, "treo", "%", minimum="99"),
    ),
    main=frozenset({"Nd"}),
)


def test_a_chunk_of_ordinary_lots_is_computed_in_the_batch_and_equals_one_by_one() -> None:
    made = [_lot(nd=1e5, pr=10.0 * index, fe_u=0.3 if index % 2 else None) for index in range(6)]
    batched = lot_batch.assess_lots(lots=made, spec=SPEC)
    assert batched == _one_by_one(made, SPEC)
    # Every status the chunk should hold is there: the comparison is not of six empty outcomes.
    assert {outcome.status for outcome in batched} >= {Status.CONFORMING, Status.OFF_SPEC, Status.INCONCLUSIVE}
    assert all(len(outcome.lines) == len(SPEC.lines) for outcome in batched)


def test_lots_the_batch_cannot_compute_are_judged_one_by_one_in_their_place() -> None:
    ordinary = _lot(nd=1e5, pr=10.0, fe_u=0.3)
    no_samples: list[SampleInput] = []
    lacking_pr = [replace(sample, elements={k: v for k, v in sample.elements.items() if k != "Pr"}) for sample in ordinary]
    over_100_percent = [replace(sample, elements={**sample.elements, "Fe": Result(2e6)}) for sample in ordinary]
    negative_zero = [replace(sample, elements={**sample.elements, "Fe": Result(-0.0)}) for sample in ordinary]
    made = [ordinary, no_samples, lacking_pr, over_100_percent, negative_zero, ordinary]
    batched = lot_batch.assess_lots(lots=made, spec=SPEC)
    assert batched == _one_by_one(made, SPEC)
    assert [outcome.status for outcome in batched][:4] == [
        Status.CONFORMING,
        Status.INSUFFICIENT_DATA,
        Status.INCONCLUSIVE,
        Status.INCONCLUSIVE,
    ]
    assert "cannot be computed" in batched[2].lines[1].reason
    assert "exceed the whole sample" in batched[3].reasons[0]


def test_a_specification_the_batch_does_not_cover_is_judged_one_by_one() -> None:
    payable = Specification(lines=(Line(1, "treo", "%"),), main=frozenset())
    made = [_lot(nd=1e5, pr=10.0, fe_u=0.3), _lot(nd=2e5, pr=20.0, fe_u=None)]
    assert lot_batch.assess_lots(lots=made, spec=payable) == _one_by_one(made, payable)


def test_prnd_oxide_ratio_lines_are_computed_in_the_batch_as_assess_lot_computes_them() -> None:
    # PrNd oxide, the plants' main product: the grade (both main oxides over TREO) and Nd2O3/TREO,
    # which needs the majors measured, each with its propagated uncertainty.
    prnd = Specification(
        lines=(
            Line(1, "ratio", "%", ratio_oxides=("Pr6O11", "Nd2O3"), minimum="99.5", comparison="rounding"),
            Line(2, "ratio", "%", ratio_oxides=("Nd2O3",), minimum="75", maximum="80", rule="guard_band", comparison="absolute"),
            Line(3, "relative_purity", "%", minimum="99.5"),
        ),
        main=frozenset({"Pr", "Nd"}),
    )
    made = [
        [
            SampleInput(
                f"S{n}",
                {"Nd": Result(6.3e5 + 1e3 * n, u=4e3), "Pr": Result(2.0e5, u=2e3), "La": Result(30.0, u=2.0), "Fe": Result(5.0, u=0.5)},
            )
            for n in range(3)
        ],
        [
            SampleInput(f"T{n}", {"Nd": Result(6.5e5, u=None), "Pr": Result(1.8e5, u=2e3), "La": Result(0.2, censored=True, lod=0.2)})
            for n in range(2)
        ],
    ]
    batched = lot_batch.assess_lots(lots=made, spec=prnd)
    assert batched == _one_by_one(made, prnd)
    grade, nd_share, purity = batched[0].lines
    assert grade.best == purity.best  # the grade is the relative purity itself
    assert nd_share.expanded_u is not None
    assert batched[1].lines[1].expanded_u is None  # an Nd without u: unknown, never zero
    # Both lots were computed by the batch, not handed back to assess_lot.
    assert all(outcome is not None for outcome in _judged_together(made, prnd))


def test_oxide_lines_that_name_an_unmeasured_element_are_judged_as_assess_lot_judges_them() -> None:
    # An oxide line of an element no sample has, even one whose formula does not parse, is a line
    # that cannot be computed, not an error of the batch; one naming another element's oxide reads
    # that oxide, as assess_lot does.
    spec = Specification(
        lines=(
            *SPEC.lines,
            Line(6, "oxide", "mg/kg", element="Ho", oxide="Hx2O3", maximum="5"),
            Line(7, "oxide", "%", element="Ho", oxide="Nd2O3", minimum="5"),
        ),
        main=frozenset({"Nd"}),
    )
    made = [_lot(nd=1e5, pr=10.0, fe_u=0.3), _lot(nd=2e5, pr=20.0, fe_u=0.3)]
    batched = lot_batch.assess_lots(lots=made, spec=spec)
    assert batched == _one_by_one(made, spec)
    assert "cannot be computed" in batched[0].lines[5].reason
    without_the_bad_formula = Specification(lines=(*SPEC.lines, spec.lines[6]), main=frozenset({"Nd"}))
    batched = lot_batch.assess_lots(lots=made, spec=without_the_bad_formula)
    assert batched == _one_by_one(made, without_the_bad_formula)
    best = batched[0].lines[5].best
    assert best is not None
    assert best > 10


def test_a_measured_oxide_over_treo_carries_the_best_estimates_uncertainty() -> None:
    # Pr6O11/TREO for a neodymium oxide: Pr censored in one sample, so its lower, best and upper
    # values differ, and the share in u(R) must be the best estimate's.
    spec = Specification(
        lines=(Line(1, "ratio", "%", ratio_oxides=("Pr6O11",), maximum="0.01", rule="guard_band", comparison="absolute"),),
        main=frozenset({"Nd"}),
    )
    made = [
        [
            SampleInput("S1", {"Pr": Result(40.0, u=2.0), "La": Result(3.0, u=0.2), "Fe": Result(5.0, u=0.5)}),
            SampleInput("S2", {"Pr": Result(20.0, censored=True, lod=20.0), "La": Result(3.0, u=0.2), "Fe": Result(5.0, u=0.5)}),
        ]
    ]
    batched = lot_batch.assess_lots(lots=made, spec=spec)
    assert batched == _one_by_one(made, spec)
    (line,) = batched[0].lines
    assert line.lower is not None
    assert line.upper is not None
    assert line.lower < line.upper
    assert line.expanded_u is not None
    assert all(outcome is not None for outcome in _judged_together(made, spec))


def _judged_together(made: list[list[SampleInput]], spec: Specification) -> list[LotOutcome | None]:
    """The batch's own outcomes, None for a lot it hands back to assess_lot."""
    return list(lot_batch._Table(ResultTable.of_lots(list(enumerate(made))), range(len(made)), spec).outcomes())
