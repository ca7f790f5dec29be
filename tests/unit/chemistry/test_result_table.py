"""``ResultTable``: lots' results as columns give back exactly the ``SampleInput``s they were made
of (each mapping in its order), and ``table_fingerprints`` gives every lot the digest
``inputs_fingerprint`` gives its ``SampleInput``s."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assays.chemistry.assessment import SampleInput
from assays.chemistry.fingerprints import inputs_fingerprint, table_fingerprints
from assays.chemistry.purity import Result
from assays.chemistry.result_table import Kind, ResultTable

# Values a fingerprint must tell apart by their bits: zeros of both signs, subnormals, large ones.
values = st.sampled_from([0.0, -0.0, 5e-324, 1e300]) | st.floats(min_value=-10, max_value=1e6, allow_nan=False)
limits = st.none() | st.floats(min_value=0, max_value=50, allow_nan=False)
results = st.builds(Result, value=values, censored=st.just(False), lod=limits, u=limits) | st.floats(0, 5).map(
    lambda lod: Result(value=lod, censored=True, lod=lod)
)
# Keys of several lengths, and codes with characters of several bytes (the encoding counts bytes).
symbols = st.sampled_from(["La", "Y", "Pr", "Fe", "Th", "B"])
anion_names = st.sampled_from(["Cl-", "SO4 2-", "F-"])
codes = st.sampled_from(["S1", "ND-26-0001-S1", "Ü-2", "样品-3", "S"])


@st.composite
def sample_inputs(draw: st.DrawFn, code: str) -> SampleInput:
    # Dictionaries in the drawn order: a SampleInput's order is the order its results came in.
    elements = {symbol: draw(results) for symbol in draw(st.lists(symbols, unique=True))}
    anions = {name: draw(results) for name in draw(st.lists(anion_names, unique=True))}
    return SampleInput(code, elements, anions, draw(st.none() | results))


@st.composite
def lots(draw: st.DrawFn) -> list[tuple[int, list[SampleInput]]]:
    made = []
    for lot_id in range(draw(st.integers(min_value=0, max_value=5))):
        names = draw(st.lists(codes, unique=True, max_size=4))
        made.append((100 + lot_id, [draw(sample_inputs(f"{name}-{lot_id}")) for name in sorted(names)]))
    return made


def _ordered(samples: list[SampleInput]) -> list[tuple[object, ...]]:
    """A lot's samples with each mapping's order made visible (== on dicts ignores it)."""
    return [(s.code, list(s.elements.items()), list(s.anions.items()), s.loi_percent) for s in samples]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(made=lots())
def test_a_table_gives_back_each_lots_samples_in_their_order(made: list[tuple[int, list[SampleInput]]]) -> None:
    table = ResultTable.of_lots(made)
    assert table.lot_ids == [lot_id for lot_id, _ in made]
    for position, (_, samples) in enumerate(made):
        assert _ordered(table.samples(position)) == _ordered(samples)
        assert table.sample_count(position) == len(samples)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(made=lots(), spec_id=st.integers(min_value=1, max_value=10**9))
def test_the_tables_fingerprints_are_inputs_fingerprint_of_each_lot(made: list[tuple[int, list[SampleInput]]], spec_id: int) -> None:
    table = ResultTable.of_lots(made)
    spec_ids = [spec_id + position for position in range(len(made))]
    expected = [inputs_fingerprint(spec_id=spec, samples=samples) for spec, (_, samples) in zip(spec_ids, made, strict=True)]
    assert table_fingerprints(table, spec_ids=spec_ids) == expected


def test_the_fingerprint_tells_apart_what_inputs_fingerprint_tells_apart() -> None:
    # The same lot but for one bit of one value, or a LOD present or not: different digests; and a
    # lot without samples has the digest of no samples.
    base = SampleInput("S1", {"Fe": Result(1.0, lod=0.1)}, {"Cl-": Result(0.0)}, Result(0.2))
    variants = [
        base,
        SampleInput("S1", {"Fe": Result(1.0, lod=None)}, {"Cl-": Result(0.0)}, Result(0.2)),
        SampleInput("S1", {"Fe": Result(1.0, lod=0.1)}, {"Cl-": Result(-0.0)}, Result(0.2)),
        SampleInput("S1", {"Fe": Result(1.0, lod=0.1)}, {"Cl-": Result(0.0)}, None),
    ]
    made = [(index, [sample]) for index, sample in enumerate(variants)] + [(9, [])]
    digests = table_fingerprints(ResultTable.of_lots(made), spec_ids=[1] * len(made))
    assert len(set(digests)) == len(digests)
    assert digests[-1] == inputs_fingerprint(spec_id=1, samples=[])


def test_a_tables_keys_say_which_mapping_their_results_belong_to() -> None:
    table = ResultTable.of_lots([(1, [SampleInput("S1", {"Fe": Result(1.0)}, {"Cl-": Result(2.0)}, Result(0.5))])])
    assert dict(zip(table.keys, table.kinds, strict=True)) == {"Fe": Kind.ELEMENT, "Cl-": Kind.ANION, "LOI": Kind.LOI}
    (sample,) = table.samples(0)
    assert (sample.elements, sample.anions, sample.loi_percent) == ({"Fe": Result(1.0)}, {"Cl-": Result(2.0)}, Result(0.5))
