"""Bracketing (REO-ASSAY.md §4): a result counts only if the nearest CCV before it and the nearest
CCV after it both pass for that analyte, and likewise for CCBs; plus the CCV frequency, the closing
CCV, waivers, and the real Agilent batch whose drift check fails for La, Na and Fe.
"""

from __future__ import annotations

import pytest

from assays.importers.registry import parse
from assays.qc.evaluation import (
    SAMPLE,
    Check,
    Effect,
    InternalStandard,
    Item,
    Outcome,
    Reading,
    RunQcInputs,
    RunVerdict,
    State,
    decide,
    evaluate_checks,
)
from assays.qc.packs import CheckKind, RulePack
from assays.qc.standards_table import ChannelRef, assign_channels, parse_standards_table
from tests.unit.qc.run_builders import (
    FIXTURES,
    censored,
    inputs_of,
    item,
    judge,
    of_kind,
    pack_of,
    rejected_sequences,
    states,
    the_check,
)

CCV = "[ccv]\nwindow = [90, 110]"
NOMINALS = {"ccv": {"La": 10.0, "Ce": 10.0}}
PASS, FAIL = 10.0, 8.5  # 100 % and 85 % of the nominal


def _ccv_run(*items: Item) -> RunQcInputs:
    return inputs_of(items, analytes=("La", "Ce"), loq={"La": 1.0, "Ce": 1.0}, nominals=NOMINALS)


def _samples(*sequences: int) -> list[Item]:
    return [item(sequence, label=f"S{sequence}", La=1.0, Ce=1.0) for sequence in sequences]


def _three_ccvs(middle_la: float, *, last: tuple[Item, ...] = ()) -> RunQcInputs:
    """Samples 1-2, CCV 3, samples 4-5, CCV 6, samples 7-8, CCV 9, samples 10-11 (plus ``last``)."""
    return _ccv_run(
        *_samples(1, 2),
        item(3, "ccv", La=PASS, Ce=PASS),
        *_samples(4, 5),
        item(6, "ccv", La=middle_la, Ce=PASS),
        *_samples(7, 8),
        item(9, "ccv", La=PASS, Ce=PASS),
        *_samples(10, 11),
        *last,
    )


# --- CCV brackets ------------------------------------------------------------------------------------


def test_a_failed_ccv_rejects_the_samples_on_both_sides_for_that_analyte_only() -> None:
    checks, outcome = judge(pack_of(CCV), _three_ccvs(FAIL))
    failed = the_check(checks, CheckKind.CCV, sequence=6, analyte="La")
    assert not failed.passed
    assert failed.effect is Effect.BRACKET
    assert rejected_sequences(outcome, "La") == {4, 5, 7, 8}
    assert rejected_sequences(outcome, "Ce") == set()
    assert outcome.status is RunVerdict.PARTIALLY_ACCEPTED
    reasons = next(a for a in outcome.acceptances if (a.sequence, a.analyte) == (4, "La")).reasons
    assert reasons == ("CCV recovery at 6 for La failed: CCV recovery 85.0 % (8.5 of 10 µg/L), outside 90-110 %",)


def test_passing_ccvs_accept_every_sample() -> None:
    _, outcome = judge(pack_of(CCV), _three_ccvs(PASS))
    assert {a.state for a in outcome.acceptances} == {State.ACCEPTED}
    assert len(outcome.acceptances) == 8 * 2
    assert outcome.status is RunVerdict.ACCEPTED


def test_samples_before_the_first_ccv_are_opened_by_the_calibration_and_closed_by_that_ccv() -> None:
    inputs = _ccv_run(*_samples(1, 2), item(3, "ccv", La=FAIL, Ce=PASS), *_samples(4, 5), item(6, "ccv", La=PASS, Ce=PASS))
    _, outcome = judge(pack_of(CCV), inputs)
    assert rejected_sequences(outcome, "La") == {1, 2, 4, 5}
    assert rejected_sequences(outcome, "Ce") == set()


def test_consecutive_failed_ccvs_reject_everything_back_to_the_last_passing_one() -> None:
    inputs = _ccv_run(
        item(1, "ccv", La=PASS, Ce=PASS),
        *_samples(2, 3),
        item(4, "ccv", La=FAIL, Ce=PASS),
        *_samples(5, 6),
        item(7, "ccv", La=12.0, Ce=PASS),
        *_samples(8, 9),
        item(10, "ccv", La=PASS, Ce=PASS),
        *_samples(11, 12),
    )
    _, outcome = judge(pack_of(CCV), inputs)
    assert rejected_sequences(outcome, "La") == {2, 3, 5, 6, 8, 9}
    reasons = next(a for a in outcome.acceptances if (a.sequence, a.analyte) == (5, "La")).reasons
    assert [reason.split(" failed")[0] for reason in reasons] == ["CCV recovery at 4 for La", "CCV recovery at 7 for La"]


def test_samples_after_the_last_ccv_are_accepted_when_no_closing_ccv_is_asked() -> None:
    checks, outcome = judge(pack_of(CCV), _three_ccvs(PASS))
    assert of_kind(checks, CheckKind.CCV_FREQUENCY) == []
    assert states(outcome, "La")[10] is State.ACCEPTED
    assert states(outcome, "La")[11] is State.ACCEPTED


def test_samples_after_the_last_ccv_are_rejected_when_the_pack_asks_for_a_closing_ccv() -> None:
    checks, outcome = judge(pack_of(CCV + "\nat_end = true"), _three_ccvs(PASS))
    closing = the_check(checks, CheckKind.CCV_FREQUENCY)
    assert not closing.passed
    assert closing.key == "ccv_frequency:closing CCV:*"
    assert (closing.effect, closing.affects, closing.analyte) == (Effect.RESULTS, (10, 11), None)
    assert "no CCV after the last sample: 2 sample(s) after the CCV at 9" in closing.message
    assert rejected_sequences(outcome, "La") == rejected_sequences(outcome, "Ce") == {10, 11}


def test_a_run_ending_with_a_ccv_needs_no_closing_check() -> None:
    inputs = _three_ccvs(PASS, last=(item(12, "ccv", La=PASS, Ce=PASS), item(13, "ccb", La=0.0), item(14)))
    checks, outcome = judge(pack_of(CCV + "\nat_end = true"), inputs)
    assert of_kind(checks, CheckKind.CCV_FREQUENCY) == []  # a QC item or an empty acquisition after it is no sample
    assert outcome.status is RunVerdict.ACCEPTED


def test_a_waived_closing_check_accepts_the_samples_after_the_last_ccv() -> None:
    pack = pack_of(CCV + "\nat_end = true")
    inputs = _three_ccvs(PASS)
    checks = evaluate_checks(pack=pack, inputs=inputs)
    outcome = decide(pack=pack, inputs=inputs, checks=checks, waived={"ccv_frequency:closing CCV:*"})
    assert outcome.status is RunVerdict.ACCEPTED


def test_a_ccv_without_a_reading_for_an_analyte_does_not_bracket_it() -> None:
    inputs = _ccv_run(
        item(3, "ccv", La=PASS, Ce=PASS),
        *_samples(4, 5),
        item(6, "ccv", La=PASS),  # no Ce reading
        *_samples(7, 8),
        item(9, "ccv", La=PASS, Ce=FAIL),
    )
    checks, outcome = judge(pack_of(CCV), inputs)
    assert [check.sequence for check in of_kind(checks, CheckKind.CCV) if check.analyte == "Ce"] == [3, 9]
    assert rejected_sequences(outcome, "Ce") == {4, 5, 7, 8}  # the CCV at 6 does not close 4-5 for Ce
    assert rejected_sequences(outcome, "La") == set()


def test_a_ccv_rejected_by_the_instrument_does_not_bracket() -> None:
    inputs = _three_ccvs(PASS)
    rejected_ccv = item(6, "ccv", rejected=True, La=FAIL, Ce=FAIL)
    inputs = _ccv_run(*(rejected_ccv if candidate.sequence == 6 else candidate for candidate in inputs.items))
    checks, outcome = judge(pack_of(CCV), inputs)
    assert {check.sequence for check in checks} == {3, 9}
    assert outcome.status is RunVerdict.ACCEPTED


# --- CCB brackets, independent of CCVs ----------------------------------------------------------------

CCV_AND_CCB = CCV + "\n[ccb]"


def test_ccbs_bracket_independently_of_ccvs() -> None:
    inputs = _ccv_run(
        item(3, "ccv", La=PASS, Ce=PASS),
        item(4, "ccb", La=0.1, Ce=0.1),
        *_samples(5, 6),
        item(7, "ccv", La=PASS, Ce=PASS),
        item(8, "ccb", La=2.0, Ce=0.1),  # La not below the LOQ
        *_samples(9, 10),
        item(11, "ccv", La=PASS, Ce=FAIL),
        item(12, "ccb", La=0.1, Ce=0.1),
        *_samples(13, 14),
    )
    checks, outcome = judge(pack_of(CCV_AND_CCB), inputs)
    assert the_check(checks, CheckKind.CCB, sequence=8, analyte="La").effect is Effect.BRACKET
    assert rejected_sequences(outcome, "La") == {5, 6, 9, 10}  # by the CCB at 8; the CCVs pass for La
    assert rejected_sequences(outcome, "Ce") == {9, 10, 13, 14}  # by the CCV at 11; the CCBs pass for Ce
    la_reasons = next(a for a in outcome.acceptances if (a.sequence, a.analyte) == (9, "La")).reasons
    assert la_reasons == ("Calibration blank (CCB) at 8 for La failed: 2 µg/L, not below the limit 1 µg/L (loq)",)


def test_a_sample_failed_by_both_a_ccv_and_a_ccb_gives_both_reasons() -> None:
    inputs = _ccv_run(item(1, "ccv", La=FAIL, Ce=PASS), item(2, "ccb", La=censored(), Ce=1.0), *_samples(3))
    _, outcome = judge(pack_of(CCV_AND_CCB), inputs)
    reasons = {a.analyte: [reason.split(" at ")[0] for reason in a.reasons] for a in outcome.acceptances}
    assert reasons == {"La": ["CCV recovery"], "Ce": ["Calibration blank (CCB)"]}


# --- Internal standard inside a CCV or CCB --------------------------------------------------------------

ISTD = "\n[internal_standard]\nwindow = [60, 125]"


def test_a_failed_internal_standard_in_a_ccv_fails_that_ccv_for_every_analyte() -> None:
    low_istd = {"In": InternalStandard(None, recovery_percent=50.0)}
    inputs = _ccv_run(
        item(3, "ccv", La=PASS, Ce=PASS),
        *_samples(4, 5),
        item(6, "ccv", La=PASS, Ce=PASS, istd=low_istd),
        *_samples(7, 8),
        item(9, "ccv", La=PASS, Ce=PASS),
    )
    checks, outcome = judge(pack_of(CCV + ISTD), inputs)
    assert the_check(checks, CheckKind.CCV, sequence=6, analyte="La").passed  # its recovery itself is fine
    assert rejected_sequences(outcome, "La") == rejected_sequences(outcome, "Ce") == {4, 5, 7, 8}
    reasons = next(a for a in outcome.acceptances if (a.sequence, a.analyte) == (7, "Ce")).reasons
    assert reasons == ("internal standard failed in the CCV at 6",)
    # Waiving the CCV's recovery changes nothing: its internal standard still failed.
    checks_of_6 = [check.key for check in checks if check.sequence == 6 and check.kind is CheckKind.CCV]
    assert len(checks_of_6) == 2
    recovery_waived = decide(pack=pack_of(CCV + ISTD), inputs=inputs, checks=checks, waived=checks_of_6)
    assert rejected_sequences(recovery_waived, "La") == rejected_sequences(recovery_waived, "Ce") == {4, 5, 7, 8}
    # Waiving the internal-standard check restores the bracket.
    waived = decide(pack=pack_of(CCV + ISTD), inputs=inputs, checks=checks, waived={"internal_standard:6:In"})
    assert waived.status is RunVerdict.ACCEPTED


def test_a_failed_internal_standard_in_a_ccb_fails_that_ccb() -> None:
    inputs = _ccv_run(
        item(2, "ccb", La=0.1, Ce=0.1),
        *_samples(3),
        item(4, "ccb", La=0.1, Ce=0.1, istd={"In": InternalStandard(None, recovery_percent=130.0)}),
        *_samples(5),
    )
    _, outcome = judge(pack_of("[ccb]" + ISTD), inputs)
    assert rejected_sequences(outcome, "La") == rejected_sequences(outcome, "Ce") == {3, 5}
    assert next(a for a in outcome.acceptances if a.sequence == 5).reasons == ("internal standard failed in the CCB at 4",)


# --- CCV frequency ------------------------------------------------------------------------------------


def test_samples_past_the_allowed_number_since_the_last_ccv_are_rejected() -> None:
    inputs = _ccv_run(
        item(1, "ccv", La=PASS, Ce=PASS),
        *_samples(2, 3, 4, 5, 6),
        item(7, "ccv", La=PASS, Ce=PASS),
        *_samples(8, 9, 10),
        item(11, "ccv", La=PASS, Ce=PASS),
    )
    checks, outcome = judge(pack_of(CCV + "\nevery_samples = 3"), inputs)
    frequency = the_check(checks, CheckKind.CCV_FREQUENCY)
    assert (frequency.sequence, frequency.affects, frequency.measured, frequency.high) == (5, (5, 6), 5.0, 3.0)
    assert frequency.effect is Effect.RESULTS
    assert frequency.message == (
        "5 samples between the CCV at 1 and the CCV at 7; the pack asks for a CCV every 3: samples 5 (S5) to 6 (S6) are not bracketed"
    )
    assert rejected_sequences(outcome, "La") == rejected_sequences(outcome, "Ce") == {5, 6}


def test_ccv_frequency_counts_from_the_calibration_and_to_the_end_of_the_run() -> None:
    inputs = _ccv_run(*_samples(1, 2, 3), item(4, "ccv", La=PASS, Ce=PASS), *_samples(5, 6, 7))
    checks, outcome = judge(pack_of(CCV + "\nevery_samples = 2"), inputs)
    frequency = sorted(of_kind(checks, CheckKind.CCV_FREQUENCY), key=lambda check: check.sequence or 0)
    assert [check.affects for check in frequency] == [(3,), (7,)]
    assert "between the calibration and the CCV at 4" in frequency[0].message
    assert "between the CCV at 4 and the end of the run" in frequency[1].message
    assert rejected_sequences(outcome, "La") == {3, 7}


def test_a_recalibration_restarts_the_ccv_count() -> None:
    inputs = _ccv_run(
        *_samples(1, 2),
        item(3, "calibration_blank", calibration_level=1, La=0.0),
        item(4, "calibration_standard", calibration_level=2, La=1.0),
        *_samples(5, 6),
        item(7, "ccv", La=PASS, Ce=PASS),
    )
    checks, outcome = judge(pack_of(CCV + "\nevery_samples = 2"), inputs)
    assert of_kind(checks, CheckKind.CCV_FREQUENCY) == []
    assert rejected_sequences(outcome, "La") == set()
    without = _ccv_run(*_samples(1, 2, 5, 6), item(7, "ccv", La=PASS, Ce=PASS))
    checks, _ = judge(pack_of(CCV + "\nevery_samples = 2"), without)
    assert [check.affects for check in of_kind(checks, CheckKind.CCV_FREQUENCY)] == [(5, 6)]


def test_ccv_frequency_counts_measured_samples_only() -> None:
    inputs = _ccv_run(
        item(1, "ccv", La=PASS, Ce=PASS),
        *_samples(2, 3),
        item(4),  # no readings: a rinse, not a sample
        item(5, "ccb", La=0.0),
        item(6, label="S6", rejected=True, La=1.0),  # the instrument rejected it
        item(7, "ccv", La=PASS, Ce=PASS),
    )
    checks, _ = judge(pack_of(CCV + "\nevery_samples = 2"), inputs)
    assert of_kind(checks, CheckKind.CCV_FREQUENCY) == []


def test_a_ccv_rejected_by_the_instrument_does_not_restart_the_count() -> None:
    inputs = _ccv_run(
        item(1, "ccv", La=PASS, Ce=PASS),
        *_samples(2, 3),
        item(4, "ccv", rejected=True, La=PASS, Ce=PASS),
        *_samples(5, 6),
        item(7, "ccv", La=PASS, Ce=PASS),
    )
    checks, _ = judge(pack_of(CCV + "\nevery_samples = 3"), inputs)
    assert the_check(checks, CheckKind.CCV_FREQUENCY).affects == (6,)


# --- Waivers ----------------------------------------------------------------------------------------------


def test_waiving_a_failed_ccv_restores_its_bracket() -> None:
    pack = pack_of(CCV)
    inputs = _three_ccvs(FAIL)
    checks = evaluate_checks(pack=pack, inputs=inputs)
    outcome = decide(pack=pack, inputs=inputs, checks=checks, waived={"ccv:6:La"})
    assert rejected_sequences(outcome, "La") == set()
    assert outcome.status is RunVerdict.ACCEPTED
    assert outcome.failed_checks == 0
    assert decide(pack=pack, inputs=inputs, checks=checks, waived={"ccv:6:Ce"}).failed_checks == 1  # another key: no effect


# --- The real Agilent batch -------------------------------------------------------------------------------

LA, NA, FE = "139La [No Gas]", "23Na [He]", "56Fe [He]"
DRIFT_CHECK = "Deriv TracesETMaj"
REAL_PACK = pack_of("[ccv]\nrequired = true\nwindow = [90, 110]")


@pytest.fixture(scope="module")
def real_batch() -> RunQcInputs:
    batch = parse((FIXTURES / "agilent_masshunter_batch_full_semicolon.csv").read_bytes(), file_name="User_Raw.csv")
    analytes = [channel for channel in batch.channels if not channel.is_internal_standard]
    table = parse_standards_table((FIXTURES / "agilent_masshunter_batch_full_standards.csv").read_bytes(), file_name="User_Std.csv")
    calibration = assign_channels(table, channels=[ChannelRef(code=channel.code, element=channel.element) for channel in analytes])
    # The drift check holds level 4 of the trace series and level 13 of the major series.
    ccv_nominals = {channel.code: calibration[4].get(channel.code, calibration[13].get(channel.code, 0.0)) for channel in analytes}
    roles = {"CalStd": "calibration_standard", "CalBlk": "calibration_blank"}
    items = [
        Item(
            sequence=acquisition.sequence,
            label=acquisition.label,
            role="ccv" if acquisition.label == DRIFT_CHECK else roles.get(acquisition.vendor_type, SAMPLE),
            readings={
                batch.channels[value.channel].code: Reading(value.value, censored=value.qualifier != "=")
                for value in acquisition.values
                if value.value is not None
            },
            calibration_level=acquisition.calibration_level,
            rejected_by_instrument=acquisition.rejected_by_instrument,
        )
        for acquisition in batch.acquisitions
    ]
    return RunQcInputs(
        items=items, analytes=[channel.code for channel in analytes], nominals={"ccv": ccv_nominals}, calibration=calibration
    )


def _judged(inputs: RunQcInputs, pack: RulePack = REAL_PACK, waived: frozenset[str] = frozenset()) -> tuple[list[Check], Outcome]:
    checks = evaluate_checks(pack=pack, inputs=inputs)
    return checks, decide(pack=pack, inputs=inputs, checks=checks, waived=waived)


def _sample_sequences(inputs: RunQcInputs, analyte: str) -> set[int]:
    return {candidate.sequence for candidate in inputs.items if candidate.role == SAMPLE and analyte in candidate.readings}


def test_real_batch_drift_check_sequences(real_batch: RunQcInputs) -> None:
    assert [candidate.sequence for candidate in real_batch.items if candidate.role == "ccv"] == [18, 31, 45, 59, 73, 87, 101, 107]
    assert real_batch.nominals["ccv"][LA] == 0.10261
    assert real_batch.nominals["ccv"][NA] == 102.73652
    assert real_batch.nominals["ccv"][FE] == 103.93201


@pytest.mark.parametrize(
    ("analyte", "sequence", "recovery"),
    [(LA, 101, 77.3), (LA, 107, 73.7), (NA, 59, 113.8), (FE, 59, 110.9)],
)
def test_real_batch_ccv_failures(real_batch: RunQcInputs, analyte: str, sequence: int, recovery: float) -> None:
    checks, _ = _judged(real_batch)
    check = the_check(checks, CheckKind.CCV, sequence=sequence, analyte=analyte)
    assert check.measured == pytest.approx(recovery, abs=0.05)
    assert not check.passed


def test_real_batch_la_is_rejected_for_the_samples_after_87(real_batch: RunQcInputs) -> None:
    _, outcome = _judged(real_batch)
    expected = {sequence for sequence in _sample_sequences(real_batch, LA) if sequence > 87}
    assert expected  # the batch does have samples there
    assert rejected_sequences(outcome, LA) == expected


@pytest.mark.parametrize("analyte", [NA, FE])
def test_real_batch_na_and_fe_are_rejected_around_59_and_after_87(real_batch: RunQcInputs, analyte: str) -> None:
    _, outcome = _judged(real_batch)
    samples = _sample_sequences(real_batch, analyte)
    expected = {sequence for sequence in samples if 45 < sequence < 73 or sequence > 87}
    assert rejected_sequences(outcome, analyte) == expected
    assert {a.state for a in outcome.acceptances if a.analyte == analyte and a.sequence not in expected} == {State.ACCEPTED}
    assert outcome.status is RunVerdict.PARTIALLY_ACCEPTED


def test_real_batch_waiving_the_ccv_at_59_restores_its_bracket(real_batch: RunQcInputs) -> None:
    _, outcome = _judged(real_batch, waived=frozenset({f"ccv:59:{NA}"}))
    expected = {sequence for sequence in _sample_sequences(real_batch, NA) if sequence > 87}
    assert rejected_sequences(outcome, NA) == expected
    # Fe's CCV at 59 is a check of its own and still fails.
    assert rejected_sequences(outcome, FE) == {s for s in _sample_sequences(real_batch, FE) if 45 < s < 73 or s > 87}


def test_real_batch_keys_are_unique_and_every_sample_reading_has_an_acceptance(real_batch: RunQcInputs) -> None:
    checks, outcome = _judged(real_batch)
    assert len({check.key for check in checks}) == len(checks)
    samples = [candidate for candidate in real_batch.items if candidate.role == SAMPLE and candidate.readings]
    assert len(outcome.acceptances) == sum(len(sample.readings) for sample in samples)
