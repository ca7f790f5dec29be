"""An assessment's inputs fingerprint: it changes with any input and with nothing else, and it stays
the same from one release to the next (version 1 as it was written, version 2 as it is)."""

from __future__ import annotations

import hashlib
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from assays.chemistry.assessment import SampleInput
from assays.chemistry.fingerprints import inputs_fingerprint, inputs_fingerprint_version_1, may_be_version_1
from assays.chemistry.purity import Result

SAMPLES = [
    SampleInput(
        code="ND-7-1",
        elements={"Pr": Result(12.5, u=0.8), "La": Result(0.05, censored=True, lod=0.05)},
        anions={"Cl-": Result(31.0)},
        loi_percent=Result(0.3),
    ),
    SampleInput(code="ND-7-2", elements={"La": Result(0.2, lod=0.05, u=0.02)}, anions={}, loi_percent=None),
]


def test_version_1_is_the_json_text_it_always_hashed() -> None:
    # The text version 1 wrote for these samples (sorted keys, json's default separators): lots
    # assessed before version 2 keep their fingerprint, so nothing is assessed again for nothing.
    text = (
        '{"samples": [{"anions": {"Cl-": [31.0, false, null, null]}, "code": "ND-7-1", '
        '"elements": {"La": [0.05, true, 0.05, null], "Pr": [12.5, false, null, 0.8]}, "loi": [0.3, false]}, '
        '{"anions": {}, "code": "ND-7-2", "elements": {"La": [0.2, false, 0.05, 0.02]}, "loi": null}], "spec": 41}'
    )
    assert inputs_fingerprint_version_1(spec_id=41, samples=SAMPLES) == hashlib.sha256(text.encode()).hexdigest()
    # LOI with a known u carries it.
    with_u = [replace(SAMPLES[0], loi_percent=Result(0.3, u=0.01)), SAMPLES[1]]
    assert (
        inputs_fingerprint_version_1(spec_id=41, samples=with_u)
        == hashlib.sha256(text.replace('"loi": [0.3, false]', '"loi": [0.3, false, 0.01]').encode()).hexdigest()
    )


def test_version_2_is_pinned_and_told_apart_from_version_1() -> None:
    fingerprint = inputs_fingerprint(spec_id=41, samples=SAMPLES)
    # Pinned: a change to the encoding would make every lot look changed, so it must be a new version.
    assert fingerprint == "1F18CD68C5E80A86A610287DE0DA7C0F298CCD31CBEAA6121732DF2D592725ED"
    assert len(fingerprint) == 64
    assert fingerprint == fingerprint.upper()
    assert not may_be_version_1(fingerprint)
    assert may_be_version_1(inputs_fingerprint_version_1(spec_id=41, samples=SAMPLES))
    assert may_be_version_1("0123456789" * 6 + "0123")  # no letter: either version, checked as both


def test_the_order_results_came_in_does_not_matter() -> None:
    reordered = [replace(SAMPLES[0], elements=dict(reversed(list(SAMPLES[0].elements.items())))), SAMPLES[1]]
    assert inputs_fingerprint(spec_id=41, samples=reordered) == inputs_fingerprint(spec_id=41, samples=SAMPLES)


# One change to one input, of every kind a lot's inputs can change by.
CHANGES = {
    "spec version": lambda spec, samples: (spec + 1, samples),
    "a value": lambda spec, samples: (spec, [_element(samples, "Pr", Result(12.500000000000002, u=0.8)), samples[1]]),
    "censored": lambda spec, samples: (spec, [_element(samples, "Pr", Result(12.5, censored=True, u=0.8)), samples[1]]),
    "an LOD now known": lambda spec, samples: (spec, [_element(samples, "Pr", Result(12.5, lod=0.05, u=0.8)), samples[1]]),
    "a u now unknown": lambda spec, samples: (spec, [_element(samples, "Pr", Result(12.5)), samples[1]]),
    "a u changed": lambda spec, samples: (spec, [_element(samples, "Pr", Result(12.5, u=0.9)), samples[1]]),
    "-0.0 for 0.0": lambda spec, samples: (spec, [_element(samples, "Sm", Result(-0.0)), samples[1]]),
    "a result added": lambda spec, samples: (spec, [_element(samples, "Sm", Result(0.0)), samples[1]]),
    "a result dropped": lambda spec, samples: (spec, [replace(samples[0], elements={"La": samples[0].elements["La"]}), samples[1]]),
    "an element read as an anion": lambda spec, samples: (spec, [_as_anion(samples[0], "Pr"), samples[1]]),
    "LOI not measured": lambda spec, samples: (spec, [replace(samples[0], loi_percent=None), samples[1]]),
    "LOI changed": lambda spec, samples: (spec, [replace(samples[0], loi_percent=Result(0.31)), samples[1]]),
    "a sample renamed": lambda spec, samples: (spec, [replace(samples[0], code="ND-7-3"), samples[1]]),
    "a sample dropped": lambda spec, samples: (spec, samples[:1]),
    "a key renamed": lambda spec, samples: (spec, [replace(samples[0], anions={"Cl": Result(31.0)}), samples[1]]),
}


def _as_anion(sample: SampleInput, key: str) -> SampleInput:
    elements = dict(sample.elements)
    return replace(sample, elements=elements, anions={**sample.anions, key: elements.pop(key)})


def _element(samples: list[SampleInput], key: str, result: Result) -> SampleInput:
    return replace(samples[0], elements={**samples[0].elements, key: result})


def test_any_one_change_of_input_changes_it() -> None:
    seen = {inputs_fingerprint(spec_id=41, samples=SAMPLES)}
    for change in CHANGES.values():
        spec, samples = change(41, SAMPLES)
        seen.add(inputs_fingerprint(spec_id=spec, samples=samples))
    assert len(seen) == len(CHANGES) + 1


keys = st.sampled_from(["La", "Ce", "Pr", "Fe", "Cl-", "LOI", "a", "aa", ""])
results = st.builds(
    Result,
    value=st.floats(min_value=0, max_value=1e6),
    censored=st.booleans(),
    lod=st.none() | st.floats(min_value=0, max_value=10),
    u=st.none() | st.floats(min_value=0, max_value=10),
)
sample_inputs = st.builds(
    SampleInput,
    code=st.text(max_size=6),
    elements=st.dictionaries(keys, results, max_size=4),
    anions=st.dictionaries(keys, results, max_size=2),
    loi_percent=st.none() | results,
)


lots = st.tuples(st.integers(1, 3), st.lists(sample_inputs, max_size=3))


@given(first=lots, other=lots, data=st.data())
def test_two_fingerprints_agree_exactly_when_the_inputs_do(
    first: tuple[int, list[SampleInput]], other: tuple[int, list[SampleInput]], data: st.DataObject
) -> None:
    # The encoding is unambiguous: codes and keys of any text (one may be the other's prefix, or
    # empty), results moved between kinds, LOI or none. Half the time the same inputs, rebuilt.
    second = data.draw(st.sampled_from([other, (first[0], [replace(sample, elements=dict(sample.elements)) for sample in first[1]])]))
    same = first[0] == second[0] and _as_data(first[1]) == _as_data(second[1])
    assert (inputs_fingerprint(spec_id=first[0], samples=first[1]) == inputs_fingerprint(spec_id=second[0], samples=second[1])) == same


def _as_data(samples: list[SampleInput]) -> list[object]:
    # Floats compared by their bits: -0.0 and 0.0 are different inputs.
    def bits(result: Result | None) -> object:
        return None if result is None else (result.value.hex(), result.censored, _hex(result.lod), _hex(result.u))

    return [
        (
            sample.code,
            sorted((key, bits(result)) for key, result in sample.elements.items()),
            sorted((key, bits(result)) for key, result in sample.anions.items()),
            bits(sample.loi_percent),
        )
        for sample in samples
    ]


def _hex(value: float | None) -> str | None:
    return None if value is None else value.hex()
