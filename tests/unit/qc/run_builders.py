"""Small builders for the run-QC tests: a pack from a few TOML lines, items, inputs, a verdict."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from assays.qc.evaluation import (
    SAMPLE,
    Check,
    CrmExpectation,
    InternalStandard,
    Item,
    Outcome,
    Reading,
    RunQcInputs,
    State,
    decide,
    evaluate_checks,
)
from assays.qc.packs import CheckKind, RulePack, parse_rule_pack

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "instruments"


def pack_of(tables: str, *, code: str = "t") -> RulePack:
    """A pack with only the given tables (TOML text)."""
    return parse_rule_pack(f'code = "{code}"\n{tables}', source="test.toml")


def item(
    sequence: int,
    role: str = SAMPLE,
    /,
    *,
    label: str = "",
    level: int | None = None,
    rejected: bool = False,
    sample_code: str | None = None,
    crm: str | None = None,
    istd: Mapping[str, InternalStandard] | None = None,
    **values: float | Reading,
) -> Item:
    """An acquisition; keyword values are analyte readings (a float is an uncensored reading)."""
    readings = {analyte: value if isinstance(value, Reading) else Reading(value) for analyte, value in values.items()}
    return Item(
        sequence=sequence,
        label=label,
        role=role,
        readings=readings,
        calibration_level=level,
        rejected_by_instrument=rejected,
        sample_code=sample_code,
        reference_material=crm,
        internal_standards=dict(istd or {}),
    )


def censored(value: float = 0.0) -> Reading:
    return Reading(value, censored=True)


def inputs_of(
    items: Iterable[Item],
    *,
    analytes: Sequence[str] = ("La",),
    loq: Mapping[str, float] | None = None,
    nominals: Mapping[str, Mapping[str, float]] | None = None,
    calibration: Mapping[int, Mapping[str, float]] | None = None,
    spike_added: Mapping[str, float] | None = None,
    crms: Mapping[str, CrmExpectation] | None = None,
) -> RunQcInputs:
    return RunQcInputs(
        items=list(items),
        analytes=list(analytes),
        loq=dict(loq or {}),
        nominals=dict(nominals or {}),
        calibration=dict(calibration or {}),
        spike_added=dict(spike_added or {}),
        crms=dict(crms or {}),
    )


def judge(pack: RulePack, inputs: RunQcInputs, *, waived: Collection[str] = ()) -> tuple[list[Check], Outcome]:
    checks = evaluate_checks(pack=pack, inputs=inputs)
    return checks, decide(pack=pack, inputs=inputs, checks=checks, waived=waived)


def of_kind(checks: Iterable[Check], kind: CheckKind) -> list[Check]:
    return [check for check in checks if check.kind is kind]


def the_check(checks: Iterable[Check], kind: CheckKind, *, sequence: int | None = None, analyte: str | None = None) -> Check:
    """The one check of that kind (at that sequence, for that analyte); fails the test otherwise."""
    found = [
        check
        for check in checks
        if check.kind is kind and (sequence is None or check.sequence == sequence) and (analyte is None or check.analyte == analyte)
    ]
    assert len(found) == 1, f"expected one {kind} check at {sequence} for {analyte}, got {found}"
    return found[0]


def states(outcome: Outcome, analyte: str) -> dict[int, State]:
    """sequence -> state of that analyte's results."""
    return {acceptance.sequence: acceptance.state for acceptance in outcome.acceptances if acceptance.analyte == analyte}


def rejected_sequences(outcome: Outcome, analyte: str) -> set[int]:
    return {sequence for sequence, state in states(outcome, analyte).items() if state is State.REJECTED}
