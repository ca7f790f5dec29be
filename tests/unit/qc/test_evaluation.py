"""Run QC, one rule at a time (REO-ASSAY.md §4): each check at, just inside and just outside its
window, what a failure affects, required items that are missing, waivers and the run's status.

Bracketing by CCVs and CCBs is in test_bracketing.py.
"""

from __future__ import annotations

import statistics

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assays.qc.evaluation import (
    SAMPLE,
    Check,
    CrmExpectation,
    Effect,
    InternalStandard,
    Item,
    Reading,
    RunQcInputs,
    RunVerdict,
    State,
    decide,
    evaluate_checks,
)
from assays.qc.packs import CheckKind, RulePack, parse_rule_pack, shipped_pack_texts
from tests.unit.qc.run_builders import censored, inputs_of, item, judge, of_kind, pack_of, rejected_sequences, states, the_check

RECOVERY_KINDS = [
    ("icv", CheckKind.ICV),
    ("ccv", CheckKind.CCV),
    ("lcs", CheckKind.LCS),
    ("low_level_check", CheckKind.LOW_LEVEL_CHECK),
]


# --- Recoveries: ICV, CCV, LCS, low-level check -----------------------------------------------------


@pytest.mark.parametrize(("role", "kind"), RECOVERY_KINDS, ids=[role for role, _ in RECOVERY_KINDS])
@pytest.mark.parametrize(
    ("measured", "passes"),
    [(90.0, True), (89.99, False), (110.0, True), (110.01, False), (100.0, True), (0.0, False), (-5.0, False)],
)
def test_recovery_window_is_inclusive(role: str, kind: CheckKind, measured: float, passes: bool) -> None:
    pack = pack_of(f"[{role}]\nwindow = [90, 110]")
    inputs = inputs_of([item(1, role, La=measured)], nominals={role: {"La": 100.0}})
    check = the_check(evaluate_checks(pack=pack, inputs=inputs), kind, sequence=1, analyte="La")
    assert check.passed is passes
    assert check.measured == pytest.approx(measured)
    assert (check.expected, check.low, check.high, check.unit) == (100.0, 90.0, 110.0, "%")
    assert check.effect is (Effect.BRACKET if kind is CheckKind.CCV else Effect.RUN)
    assert ("within" if passes else "outside") in check.message


@pytest.mark.parametrize(("measured", "nominal"), [(11.0, 10.0), (0.55, 0.5), (7.7, 7.0), (0.112871, 0.10261), (93.538809, 103.93201)])
def test_a_recovery_exactly_at_the_limit_passes_despite_float_rounding(measured: float, nominal: float) -> None:
    pack = pack_of("[icv]\nwindow = [90, 110]")
    inputs = inputs_of([item(1, "icv", La=measured)], nominals={"icv": {"La": nominal}})
    assert the_check(evaluate_checks(pack=pack, inputs=inputs), CheckKind.ICV).passed


def test_recovery_message_states_recovery_measured_and_nominal() -> None:
    pack = pack_of("[lcs]\nwindow = [85, 115]")
    inputs = inputs_of([item(4, "lcs", label="LCS-1", La=8.0)], nominals={"lcs": {"La": 10.0}})
    check = the_check(evaluate_checks(pack=pack, inputs=inputs), CheckKind.LCS)
    assert not check.passed
    assert check.message == "LCS recovery 80.0 % (8 of 10 µg/L), outside 85-115 %"
    assert (check.sequence, check.label, check.key) == (4, "LCS-1", "lcs:4:La")


def test_a_censored_ccv_reading_counts_as_what_it_read() -> None:
    pack = pack_of("[ccv]\nwindow = [90, 110]")
    inputs = inputs_of([item(1, "ccv", La=censored(0.0))], nominals={"ccv": {"La": 10.0}})
    assert not the_check(evaluate_checks(pack=pack, inputs=inputs), CheckKind.CCV).passed


def test_a_recovery_needs_a_reading_and_a_positive_nominal() -> None:
    pack = pack_of("[icv]\nwindow = [90, 110]")
    inputs = inputs_of(
        [item(1, "icv", La=10.0, Ce=10.0, Nd=10.0, Pr=10.0)],
        analytes=("La", "Ce", "Nd", "Sm"),
        nominals={"icv": {"La": 10.0, "Ce": 0.0, "Sm": 10.0}},
    )
    checks = evaluate_checks(pack=pack, inputs=inputs)
    # Ce: nominal 0; Nd: no nominal; Sm: no reading; Pr: not a judged analyte.
    assert [(check.analyte, check.passed) for check in checks] == [("La", True)]


def test_a_required_recovery_without_nominals_is_a_missing_check() -> None:
    pack = pack_of("[icv]\nrequired = true\nwindow = [90, 110]")
    inputs = inputs_of([item(1, "icv", La=10.0), item(2, La=1.0)])
    [check] = evaluate_checks(pack=pack, inputs=inputs)
    assert not check.passed
    assert check.effect is Effect.RUN
    assert "the method gives no nominal concentrations for its ICV standard" in check.message


def test_a_required_recovery_missing_for_one_channel_rejects_that_channel_only() -> None:
    pack = pack_of("[icv]\nrequired = true\nwindow = [90, 110]")
    inputs = inputs_of(
        [item(1, "icv", La=10.0), item(2, La=1.0, Ce=1.0)],
        analytes=("La", "Ce"),
        nominals={"icv": {"La": 10.0, "Ce": 10.0}},
    )
    checks, outcome = judge(pack, inputs)
    missing = the_check(checks, CheckKind.ICV, analyte="Ce")
    assert not missing.passed
    assert missing.effect is Effect.RUN
    assert "missing from the run for Ce: no ICV reading for this channel" in missing.message
    assert states(outcome, "La") == {2: State.ACCEPTED}
    assert states(outcome, "Ce") == {2: State.REJECTED}


# --- Blanks: CCB and method blank ----------------------------------------------------------------------

BLANK_KINDS = [("ccb", CheckKind.CCB, Effect.BRACKET), ("method_blank", CheckKind.METHOD_BLANK, Effect.RUN)]


@pytest.mark.parametrize(("role", "kind", "effect"), BLANK_KINDS, ids=[role for role, _, _ in BLANK_KINDS])
@pytest.mark.parametrize(
    ("limit", "reading", "passes"),
    [
        ("loq", Reading(0.99), True),
        ("loq", Reading(1.0), False),  # equal to the limit fails: strictly below
        ("loq", Reading(1.01), False),
        ("loq", Reading(-0.3), True),
        ("loq", Reading(5.0, censored=True), True),
        ("half_loq", Reading(0.49), True),
        ("half_loq", Reading(0.5), False),
        ("half_loq", Reading(0.99), False),
        ("half_loq", Reading(0.0, censored=True), True),
    ],
)
def test_blank_is_judged_strictly_below_its_limit(
    role: str, kind: CheckKind, effect: Effect, limit: str, reading: Reading, passes: bool
) -> None:
    pack = pack_of(f'[{role}]\nlimit = "{limit}"')
    inputs = inputs_of([item(3, role, La=reading)], loq={"La": 1.0})
    check = the_check(evaluate_checks(pack=pack, inputs=inputs), kind, sequence=3, analyte="La")
    assert check.passed is passes
    assert check.high == (1.0 if limit == "loq" else 0.5)
    assert check.effect is effect
    assert check.unit == "µg/L"
    assert ("< LOD" in check.message) is reading.censored


@pytest.mark.parametrize(("role", "kind", "effect"), BLANK_KINDS, ids=[role for role, _, _ in BLANK_KINDS])
def test_a_blank_channel_without_a_loq_is_a_failed_check(role: str, kind: CheckKind, effect: Effect) -> None:
    pack = pack_of(f"[{role}]")
    inputs = inputs_of([item(3, role, La=0.0, Ce=0.0)], analytes=("La", "Ce"), loq={"La": 1.0})
    checks = evaluate_checks(pack=pack, inputs=inputs)
    assert the_check(checks, kind, analyte="La").passed
    no_loq = the_check(checks, kind, analyte="Ce")
    assert not no_loq.passed
    assert no_loq.effect is effect
    assert "no LOQ" in no_loq.message


def test_a_failed_method_blank_rejects_that_analyte_in_the_whole_run() -> None:
    pack = pack_of("[method_blank]")
    inputs = inputs_of(
        [item(1, La=3.0, Ce=3.0), item(2, "method_blank", La=2.0, Ce=0.1), item(3, La=3.0, Ce=3.0)],
        analytes=("La", "Ce"),
        loq={"La": 1.0, "Ce": 1.0},
    )
    _, outcome = judge(pack, inputs)
    assert states(outcome, "La") == {1: State.REJECTED, 3: State.REJECTED}
    assert states(outcome, "Ce") == {1: State.ACCEPTED, 3: State.ACCEPTED}
    assert outcome.status is RunVerdict.PARTIALLY_ACCEPTED


# --- Matrix spike -----------------------------------------------------------------------------------

SPIKE_PACK = "[matrix_spike]\nwindow = [70, 130]\nmax_background_ratio = 4"


def _spike_run(unspiked: float | Reading, spiked: float | Reading, *, added: float = 10.0) -> RunQcInputs:
    return inputs_of(
        [item(1, sample_code="S1", La=unspiked, Ce=1.0), item(2, sample_code="S2", La=1.0), item(3, "spike", sample_code="S1", La=spiked)],
        analytes=("La", "Ce"),
        spike_added={"La": added, "Ce": added},
    )


@pytest.mark.parametrize(
    ("spiked", "passes"),
    [(9.0, True), (8.99, False), (15.0, True), (15.01, False), (12.0, True)],
)
def test_spike_recovery_is_spiked_minus_unspiked_over_added(spiked: float, passes: bool) -> None:
    checks = evaluate_checks(pack=pack_of(SPIKE_PACK), inputs=_spike_run(2.0, spiked))
    check = the_check(checks, CheckKind.MATRIX_SPIKE, analyte="La")
    assert check.measured == pytest.approx((spiked - 2.0) / 10.0 * 100.0)
    assert check.passed is passes
    assert check.effect is Effect.RESULTS
    assert check.affects == (1,)
    assert "Spike recovery on 1" in check.message


def test_spike_in_a_sample_holding_more_than_four_times_the_added_is_not_judged() -> None:
    assert of_kind(evaluate_checks(pack=pack_of(SPIKE_PACK), inputs=_spike_run(40.01, 45.0)), CheckKind.MATRIX_SPIKE) == []
    at_ratio = the_check(evaluate_checks(pack=pack_of(SPIKE_PACK), inputs=_spike_run(40.0, 45.0)), CheckKind.MATRIX_SPIKE)
    assert at_ratio.measured == pytest.approx(50.0)
    assert not at_ratio.passed


def test_spike_without_a_background_ratio_is_always_judged() -> None:
    pack = pack_of("[matrix_spike]\nwindow = [70, 130]")
    check = the_check(evaluate_checks(pack=pack, inputs=_spike_run(400.0, 410.0)), CheckKind.MATRIX_SPIKE)
    assert check.passed


@pytest.mark.parametrize("unspiked", [Reading(3.0, censored=True), Reading(-0.5)], ids=["censored", "negative"])
def test_a_censored_or_negative_unspiked_sample_counts_as_zero(unspiked: Reading) -> None:
    check = the_check(evaluate_checks(pack=pack_of(SPIKE_PACK), inputs=_spike_run(unspiked, 9.0)), CheckKind.MATRIX_SPIKE)
    assert check.measured == pytest.approx(90.0)


def test_a_failed_spike_rejects_the_parent_samples_analyte_only() -> None:
    _, outcome = judge(pack_of(SPIKE_PACK), _spike_run(2.0, 4.0))
    assert states(outcome, "La") == {1: State.REJECTED, 2: State.ACCEPTED}
    assert states(outcome, "Ce") == {1: State.ACCEPTED}
    assert outcome.status is RunVerdict.PARTIALLY_ACCEPTED


def test_spike_parent_is_the_nearest_earlier_acquisition_of_the_sample_else_the_first_later() -> None:
    pack = pack_of(SPIKE_PACK)
    items = [
        item(1, sample_code="S1", La=2.0),
        item(5, sample_code="S1", La=0.0),
        item(6, "spike", sample_code="S1", La=10.0),
        item(8, "spike", sample_code="S2", La=10.0),
        item(9, sample_code="S2", La=0.0),
        item(12, sample_code="S2", La=5.0),
    ]
    checks = evaluate_checks(pack=pack, inputs=inputs_of(items, spike_added={"La": 10.0}))
    assert [(check.sequence, check.affects, check.measured) for check in checks] == [(6, (5,), 100.0), (8, (9,), 100.0)]


def test_a_spike_whose_sample_is_not_in_the_run_cannot_be_judged() -> None:
    pack = pack_of(SPIKE_PACK)
    inputs = inputs_of([item(1, sample_code="S1", La=1.0), item(2, "spike", sample_code="S9", La=10.0)], spike_added={"La": 10.0})
    checks, outcome = judge(pack, inputs)
    [check] = checks
    assert not check.passed
    assert check.effect is Effect.RESULTS
    assert check.affects == ()
    assert check.key == "matrix_spike:2:*"
    assert "sample S9: the sample it was made from is not in this run" in check.message
    # Reported and counted as failed, but it speaks for no result, so it rejects none.
    assert states(outcome, "La") == {1: State.ACCEPTED}
    assert outcome.failed_checks == 1


# --- Duplicate ---------------------------------------------------------------------------------------

DUPLICATE_PACK = "[duplicate]\nmax_rpd = 20"


def _duplicate_run(first: float | Reading, second: float | Reading, *, loq: float = 1.0) -> RunQcInputs:
    return inputs_of(
        [
            item(1, sample_code="S1", La=first, Ce=50.0),
            item(2, sample_code="S2", La=50.0),
            item(3, "duplicate", sample_code="S1", La=second),
        ],
        analytes=("La", "Ce"),
        loq={"La": loq, "Ce": loq},
    )


@pytest.mark.parametrize(
    ("first", "second", "loq", "rpd", "passes"),
    [
        (110.0, 90.0, 1.0, 20.0, True),  # exactly 20 %
        (1.1, 0.9, 0.1, 20.0, True),  # 20.000000000000007 in floats: still exactly 20 %
        (90.0, 110.0, 1.0, 20.0, True),
        (111.0, 89.0, 1.0, 22.0, False),
        (100.0, 100.0, 1.0, 0.0, True),
    ],
)
def test_duplicate_rpd_is_the_difference_over_the_mean(first: float, second: float, loq: float, rpd: float, passes: bool) -> None:
    check = the_check(evaluate_checks(pack=pack_of(DUPLICATE_PACK), inputs=_duplicate_run(first, second, loq=loq)), CheckKind.DUPLICATE)
    assert check.measured == pytest.approx(rpd)
    assert check.passed is passes
    assert (check.high, check.effect, check.affects) == (20.0, Effect.RESULTS, (1,))


def test_duplicate_is_judged_only_when_the_mean_is_above_five_loq() -> None:
    pack = pack_of(DUPLICATE_PACK)
    assert of_kind(evaluate_checks(pack=pack, inputs=_duplicate_run(6.0, 4.0)), CheckKind.DUPLICATE) == []  # mean 5.0 = 5 x LOQ
    judged = the_check(evaluate_checks(pack=pack, inputs=_duplicate_run(6.0, 4.02)), CheckKind.DUPLICATE)  # mean 5.01
    assert not judged.passed


def test_duplicate_minimum_loq_multiple_comes_from_the_pack() -> None:
    pack = pack_of("[duplicate]\nmax_rpd = 20\nmin_loq_multiple = 10")
    assert of_kind(evaluate_checks(pack=pack, inputs=_duplicate_run(11.0, 9.0)), CheckKind.DUPLICATE) == []
    assert len(of_kind(evaluate_checks(pack=pack, inputs=_duplicate_run(12.0, 9.0)), CheckKind.DUPLICATE)) == 1


@pytest.mark.parametrize(("first", "second"), [(censored(100.0), 10.0), (100.0, censored(10.0))])
def test_a_censored_duplicate_pair_is_skipped(first: Reading | float, second: Reading | float) -> None:
    assert evaluate_checks(pack=pack_of(DUPLICATE_PACK), inputs=_duplicate_run(first, second)) == []


def test_a_duplicate_channel_without_a_loq_is_skipped() -> None:
    inputs = inputs_of([item(1, sample_code="S1", La=100.0), item(2, "duplicate", sample_code="S1", La=10.0)])
    assert evaluate_checks(pack=pack_of(DUPLICATE_PACK), inputs=inputs) == []


def test_a_failed_duplicate_rejects_the_parent_samples_analyte_only() -> None:
    _, outcome = judge(pack_of(DUPLICATE_PACK), _duplicate_run(150.0, 50.0))
    assert states(outcome, "La") == {1: State.REJECTED, 2: State.ACCEPTED}
    assert states(outcome, "Ce") == {1: State.ACCEPTED}
    [acceptance] = [a for a in outcome.acceptances if a.state is State.REJECTED]
    assert acceptance.reasons[0].startswith("Duplicate RPD at 3 for La failed: RPD 100.0 %")


# --- Internal standard ----------------------------------------------------------------------------------

ISTD_PACK = "[internal_standard]\nwindow = [60, 125]"


@pytest.mark.parametrize(("recovery", "passes"), [(60.0, True), (59.99, False), (125.0, True), (125.01, False)])
def test_a_reported_internal_standard_recovery_is_judged_as_reported(recovery: float, passes: bool) -> None:
    istd = {"In": InternalStandard(counts_per_second=1.0, recovery_percent=recovery)}
    blank = item(1, "calibration_blank", istd={"In": InternalStandard(1000.0)})
    checks = evaluate_checks(pack=pack_of(ISTD_PACK), inputs=inputs_of([blank, item(2, La=1.0, istd=istd)]))
    check = the_check(checks, CheckKind.INTERNAL_STANDARD, sequence=2)
    assert (check.analyte, check.measured, check.passed) == ("In", recovery, passes)
    assert "(reported)" in check.message


def test_internal_standard_counts_are_compared_with_the_latest_calibration_blank_before() -> None:
    items = [
        item(1, La=1.0, istd={"In": InternalStandard(500.0)}),  # before any blank: the first blank
        item(2, "calibration_blank", istd={"In": InternalStandard(1000.0)}),
        item(3, "calibration_blank"),  # no internal standard responses: not a reference
        item(5, La=1.0, istd={"In": InternalStandard(700.0)}),
        item(10, "calibration_blank", istd={"In": InternalStandard(2000.0)}),
        item(12, La=1.0, istd={"In": InternalStandard(1100.0), "Sc": InternalStandard(1100.0)}),
    ]
    checks = of_kind(evaluate_checks(pack=pack_of(ISTD_PACK), inputs=inputs_of(items)), CheckKind.INTERNAL_STANDARD)
    found = {(check.sequence, check.analyte): (round(check.measured or 0.0, 9), check.passed) for check in checks}
    assert found == {
        (1, "In"): (50.0, False),
        (2, "In"): (100.0, True),
        (5, "In"): (70.0, True),
        (10, "In"): (100.0, True),
        (12, "In"): (55.0, False),  # against the blank at 2 it would be 110 %
    }  # Sc at 12: no blank response for it, not judged
    assert "of the calibration blank at 10" in the_check(checks, CheckKind.INTERNAL_STANDARD, sequence=12).message
    assert "of the calibration blank at 2" in the_check(checks, CheckKind.INTERNAL_STANDARD, sequence=1).message


def test_internal_standard_without_a_blank_or_a_reported_recovery_is_not_judged() -> None:
    checks = evaluate_checks(pack=pack_of(ISTD_PACK), inputs=inputs_of([item(1, La=1.0, istd={"In": InternalStandard(700.0)})]))
    assert checks == []
    required = pack_of("[internal_standard]\nrequired = true\nwindow = [60, 125]")
    [missing] = evaluate_checks(pack=required, inputs=inputs_of([item(1, La=1.0, istd={"In": InternalStandard(None)})]))
    assert not missing.passed
    assert "no internal-standard response can be judged" in missing.message


def test_a_failed_internal_standard_in_a_sample_rejects_every_analyte_of_that_acquisition_only() -> None:
    items = [
        item(1, "calibration_blank", istd={"In": InternalStandard(1000.0)}),
        item(2, La=1.0, Ce=1.0, istd={"In": InternalStandard(900.0)}),
        item(3, La=1.0, Ce=1.0, istd={"In": InternalStandard(400.0)}),
        item(4, La=1.0, Ce=1.0),
    ]
    checks, outcome = judge(pack_of(ISTD_PACK), inputs_of(items, analytes=("La", "Ce")))
    failed = the_check(checks, CheckKind.INTERNAL_STANDARD, sequence=3)
    assert failed.effect is Effect.ACQUISITION
    assert rejected_sequences(outcome, "La") == rejected_sequences(outcome, "Ce") == {3}
    reason = next(a for a in outcome.acceptances if a.sequence == 3).reasons[0]
    assert reason.startswith("Internal standard recovery at 3 failed: In at 40.0 %")


# --- CRM -----------------------------------------------------------------------------------------------

CRM_PACK = "[crm]\nwindow = [90, 110]"
OREAS = CrmExpectation(name="OREAS 460", expected={"La": 50.0, "Ce": 20.0})


@pytest.mark.parametrize(("measured", "passes"), [(45.0, True), (44.99, False), (55.0, True), (55.01, False)])
def test_crm_recovery_against_its_certified_value(measured: float, passes: bool) -> None:
    inputs = inputs_of([item(3, "crm", crm="oreas", La=measured)], crms={"oreas": OREAS})
    check = the_check(evaluate_checks(pack=pack_of(CRM_PACK), inputs=inputs), CheckKind.CRM)
    assert check.passed is passes
    assert check.measured == pytest.approx(measured / 50.0 * 100.0)
    assert check.message.startswith("OREAS 460 recovery")
    assert check.effect is Effect.RUN


@pytest.mark.parametrize(
    ("expectations", "fragment"),
    [
        ({"oreas": CrmExpectation(name="OREAS 460", expected={"La": 50.0}, expired_on="2024-01-31")}, "had expired on 2024-01-31"),
        ({"oreas": CrmExpectation(name="OREAS 460", expected={}, problem="no digest mass")}, "OREAS 460: no digest mass"),
        ({}, "no reference material with certified values"),
    ],
    ids=["expired", "problem", "unlinked"],
)
def test_a_crm_that_cannot_verify_the_run_is_a_failed_check_rejecting_every_analyte(
    expectations: dict[str, CrmExpectation], fragment: str
) -> None:
    inputs = inputs_of([item(1, La=1.0, Ce=1.0), item(3, "crm", crm="oreas", La=50.0, Ce=20.0)], analytes=("La", "Ce"), crms=expectations)
    checks, outcome = judge(pack_of(CRM_PACK), inputs)
    [check] = checks
    assert not check.passed
    assert (check.analyte, check.effect, check.key) == (None, Effect.RUN, "crm:3:*")
    assert fragment in check.message
    assert {a.state for a in outcome.acceptances} == {State.REJECTED}
    assert outcome.status is RunVerdict.REJECTED


def test_a_failed_crm_recovery_rejects_that_analyte_in_the_whole_run() -> None:
    inputs = inputs_of(
        [item(1, La=1.0, Ce=1.0), item(3, "crm", crm="oreas", La=50.0, Ce=25.0), item(4, La=1.0, Ce=1.0)],
        analytes=("La", "Ce"),
        crms={"oreas": OREAS},
    )
    _, outcome = judge(pack_of(CRM_PACK), inputs)
    assert rejected_sequences(outcome, "Ce") == {1, 4}
    assert rejected_sequences(outcome, "La") == set()


# --- Calibration -----------------------------------------------------------------------------------

CALIBRATION = {1: {"La": 0.0, "Ce": 0.0}, 2: {"La": 1.0, "Ce": 1.0}, 3: {"La": 10.0, "Ce": 10.0}, 4: {"La": 100.0, "Ce": 100.0}}


def _calibrated_run(la: list[float], ce: list[float], *, samples: list[Item] | None = None) -> RunQcInputs:
    items = [item(1, "calibration_blank", level=1, La=la[0], Ce=ce[0])]
    items += [item(level, "calibration_standard", level=level, La=la[level - 1], Ce=ce[level - 1]) for level in range(2, len(la) + 1)]
    return inputs_of(items + (samples or []), analytes=("La", "Ce"), calibration=CALIBRATION)


def test_calibration_correlation_is_pearson_r_over_blank_and_standards() -> None:
    la = [0.02, 1.3, 9.1, 101.0]
    pack = pack_of("[calibration_correlation]\nmin_r = 0.998")
    check = the_check(
        evaluate_checks(pack=pack, inputs=_calibrated_run(la, [0.0, 1.0, 10.0, 100.0])), CheckKind.CALIBRATION_CORRELATION, analyte="La"
    )
    assert check.measured == pytest.approx(statistics.correlation([0.0, 1.0, 10.0, 100.0], la), abs=1e-12)
    assert (check.low, check.unit, check.effect, check.sequence) == (0.998, "r", Effect.RUN, None)
    assert check.key == "calibration_correlation:-:La"


def test_calibration_correlation_against_min_r() -> None:
    nominals = [0.0, 1.0, 10.0, 100.0]
    la = [0.0, 8.0, 14.0, 96.0]
    r = statistics.correlation(nominals, la)
    below = pack_of(f"[calibration_correlation]\nmin_r = {r + 1e-9!r}")
    at_or_above = pack_of(f"[calibration_correlation]\nmin_r = {r - 1e-9!r}")
    inputs = _calibrated_run(la, nominals, samples=[item(9, La=5.0, Ce=5.0)])
    assert not the_check(evaluate_checks(pack=below, inputs=inputs), CheckKind.CALIBRATION_CORRELATION, analyte="La").passed
    assert the_check(evaluate_checks(pack=at_or_above, inputs=inputs), CheckKind.CALIBRATION_CORRELATION, analyte="La").passed
    _, outcome = judge(below, inputs)
    assert states(outcome, "La") == {9: State.REJECTED}
    assert states(outcome, "Ce") == {9: State.ACCEPTED}


def test_fewer_than_three_calibration_points_is_a_missing_check_when_required() -> None:
    inputs = _calibrated_run([0.0, 1.0], [0.0, 1.0], samples=[item(9, La=0.5, Ce=0.5)])
    assert evaluate_checks(pack=pack_of("[calibration_correlation]\nmin_r = 0.998"), inputs=inputs) == []
    required = pack_of("[calibration_correlation]\nrequired = true\nmin_r = 0.998")
    checks, outcome = judge(required, inputs)
    assert {check.analyte for check in checks} == {"La", "Ce"}
    assert all(not check.passed and "fewer than 3 calibration points" in check.message for check in checks)
    assert outcome.status is RunVerdict.REJECTED


def test_calibration_correlation_of_huge_readings_fails_without_overflowing() -> None:
    # (1e200 - mean) ** 2 raises OverflowError in Python; the check must fail, not crash the run.
    required = pack_of("[calibration_correlation]\nrequired = true\nmin_r = 0.998")
    inputs = _calibrated_run([0.0, 1e200, 3e200, 1e300], [0.0, 1.0, 10.0, 100.0], samples=[item(9, La=1.0, Ce=1.0)])
    checks, outcome = judge(required, inputs)
    assert not the_check(checks, CheckKind.CALIBRATION_CORRELATION, analyte="La").passed
    assert the_check(checks, CheckKind.CALIBRATION_CORRELATION, analyte="Ce").passed
    assert states(outcome, "La") == {9: State.REJECTED}


def test_calibration_standard_recovery_uses_the_lowest_level_window_for_the_lowest_non_zero_level() -> None:
    pack = pack_of("[calibration_standard]\nwindow = [90, 110]\nlowest_level_window = [70, 130]")
    la = [0.5, 0.75, 8.5, 100.0]  # level 2: 75 % (lowest level, passes); level 3: 85 % (fails)
    checks = evaluate_checks(pack=pack, inputs=_calibrated_run(la, [0.0, 0.69, 10.0, 110.01]))
    found = {(check.sequence, check.analyte): (round(check.measured or 0.0, 6), check.passed, check.low) for check in checks}
    assert found == {
        (2, "La"): (75.0, True, 70.0),
        (3, "La"): (85.0, False, 90.0),
        (4, "La"): (100.0, True, 90.0),
        (2, "Ce"): (69.0, False, 70.0),
        (3, "Ce"): (100.0, True, 90.0),
        (4, "Ce"): (110.01, False, 90.0),
    }  # the blank (nominal 0) is not judged for recovery
    assert the_check(checks, CheckKind.CALIBRATION_STANDARD, sequence=2, analyte="La").message.startswith("Level 2 recovery 75.0 %")


def test_the_lowest_level_is_the_lowest_one_in_the_run() -> None:
    pack = pack_of("[calibration_standard]\nwindow = [90, 110]\nlowest_level_window = [70, 130]")
    items = [item(3, "calibration_standard", level=3, La=8.5), item(4, "calibration_standard", level=4, La=100.0)]
    checks = evaluate_checks(pack=pack, inputs=inputs_of(items, calibration=CALIBRATION))
    assert the_check(checks, CheckKind.CALIBRATION_STANDARD, sequence=3).passed  # level 2 absent: level 3 is the lowest


def test_a_failed_calibration_standard_rejects_that_analyte_in_the_whole_run() -> None:
    pack = pack_of("[calibration_standard]\nwindow = [90, 110]")
    inputs = _calibrated_run([0.0, 1.0, 10.0, 100.0], [0.0, 1.0, 10.0, 80.0], samples=[item(9, La=5.0, Ce=5.0), item(10, La=5.0, Ce=5.0)])
    _, outcome = judge(pack, inputs)
    assert rejected_sequences(outcome, "Ce") == {9, 10}
    assert rejected_sequences(outcome, "La") == set()


# --- Over range -------------------------------------------------------------------------------------------


def _over_range_run(*samples: Item) -> RunQcInputs:
    standards = [item(2, "calibration_standard", level=2, La=1.0), item(3, "calibration_standard", level=3, La=10.0)]
    calibration = {1: {"La": 0.0}, 2: {"La": 1.0}, 3: {"La": 10.0}, 4: {"La": 100.0}}  # level 4 not in this run
    return inputs_of([*standards, *samples], analytes=("La", "Ce"), calibration=calibration)


def test_a_sample_above_the_highest_standard_of_the_run_is_sent_for_redilution() -> None:
    inputs = _over_range_run(
        item(5, La=10.0, Ce=500.0),  # at the top standard: in range; Ce has no calibration
        item(6, La=10.01),
        item(7, La=censored(50.0)),  # censored is never over range
        item(8, La=50.0),  # level 4 (100) is not in the run
    )
    checks, outcome = judge(pack_of("[over_range]"), inputs)
    assert [(check.sequence, check.analyte, check.high) for check in checks] == [(6, "La", 10.0), (8, "La", 10.0)]
    assert all(check.effect is Effect.RESULTS and check.unit == "µg/L" for check in checks)
    assert states(outcome, "La") == {5: State.ACCEPTED, 6: State.REDILUTE, 7: State.ACCEPTED, 8: State.REDILUTE}
    assert states(outcome, "Ce") == {5: State.ACCEPTED}
    redilute = next(a for a in outcome.acceptances if a.sequence == 6)
    assert "re-dilute" in redilute.reasons[0]
    assert outcome.status is RunVerdict.PARTIALLY_ACCEPTED


def test_a_rejection_takes_precedence_over_redilution() -> None:
    pack = pack_of("[over_range]\n[icv]\nwindow = [90, 110]")
    over_range = _over_range_run(item(5, La=50.0), item(6, "icv", La=5.0))
    inputs = inputs_of(over_range.items, analytes=over_range.analytes, calibration=over_range.calibration, nominals={"icv": {"La": 10.0}})
    _, outcome = judge(pack, inputs)
    assert states(outcome, "La") == {5: State.REJECTED}


# --- Required QC items missing from the run ---------------------------------------------------------

REQUIRED_TABLES = {
    CheckKind.CALIBRATION_CORRELATION: "min_r = 0.998",
    CheckKind.CALIBRATION_STANDARD: "window = [90, 110]",
    CheckKind.ICV: "window = [90, 110]",
    CheckKind.LOW_LEVEL_CHECK: "window = [70, 130]",
    CheckKind.CCV: "window = [90, 110]",
    CheckKind.CCB: "",
    CheckKind.METHOD_BLANK: 'limit = "half_loq"',
    CheckKind.LCS: "window = [85, 115]",
    CheckKind.MATRIX_SPIKE: "window = [70, 130]",
    CheckKind.DUPLICATE: "max_rpd = 20",
    CheckKind.INTERNAL_STANDARD: "window = [60, 125]",
    CheckKind.CRM: "window = [90, 110]",
}


def test_every_table_with_a_qc_item_is_covered_by_the_missing_item_test() -> None:
    assert set(REQUIRED_TABLES) == set(CheckKind) - {CheckKind.CCV_FREQUENCY, CheckKind.OVER_RANGE}


@pytest.mark.parametrize("kind", list(REQUIRED_TABLES), ids=str)
def test_a_required_item_missing_from_the_run_is_a_failed_check_rejecting_every_analyte(kind: CheckKind) -> None:
    pack = pack_of(f"[{kind.value}]\nrequired = true\n{REQUIRED_TABLES[kind]}")
    samples = [item(1, La=1.0, Ce=2.0), item(2, La=3.0, Ce=4.0, istd={"In": InternalStandard(None)})]
    inputs = inputs_of(samples, analytes=("La", "Ce"), loq={"La": 0.1, "Ce": 0.1}, spike_added={"La": 1.0, "Ce": 1.0})
    checks, outcome = judge(pack, inputs)
    [check] = checks
    assert check.kind is kind
    assert not check.passed
    assert check.effect is Effect.RUN
    assert check.analyte is None
    assert check.message.startswith("required by the rule pack, missing from the run: ")
    assert len(outcome.acceptances) == 4
    assert all(a.state is State.REJECTED and a.reasons == (f"{kind.label} failed: {check.message}",) for a in outcome.acceptances)
    assert outcome.status is RunVerdict.REJECTED
    assert outcome.failed_checks == 1


@pytest.mark.parametrize("kind", list(REQUIRED_TABLES), ids=str)
def test_an_item_that_is_not_required_may_be_absent(kind: CheckKind) -> None:
    pack = pack_of(f"[{kind.value}]\n{REQUIRED_TABLES[kind]}")
    checks, outcome = judge(pack, inputs_of([item(1, La=1.0)]))
    assert checks == []
    assert outcome.status is RunVerdict.ACCEPTED


def test_the_missing_icv_message_names_the_item() -> None:
    [check] = evaluate_checks(pack=pack_of("[icv]\nrequired = true\nwindow = [90, 110]"), inputs=inputs_of([item(1, La=1.0)]))
    assert check.message == "required by the rule pack, missing from the run: no ICV item"
    assert check.key == "icv:-:*"


# --- Effects of whole-run checks, instrument rejections -----------------------------------------------


def test_a_failed_icv_rejects_that_analyte_in_every_sample_before_and_after_it() -> None:
    pack = pack_of("[icv]\nwindow = [90, 110]")
    items = [item(1, La=1.0, Ce=1.0), item(2, "icv", La=8.0, Ce=10.0), item(3, La=1.0, Ce=1.0)]
    _, outcome = judge(pack, inputs_of(items, analytes=("La", "Ce"), nominals={"icv": {"La": 10.0, "Ce": 10.0}}))
    assert states(outcome, "La") == {1: State.REJECTED, 3: State.REJECTED}
    assert states(outcome, "Ce") == {1: State.ACCEPTED, 3: State.ACCEPTED}
    reason = next(a for a in outcome.acceptances if a.analyte == "La").reasons
    assert reason == ("ICV recovery at 2 for La failed: ICV recovery 80.0 % (8 of 10 µg/L), outside 90-110 %",)


def test_an_acquisition_rejected_by_the_instrument_is_excluded_and_judges_nothing() -> None:
    pack = pack_of("[icv]\nrequired = true\nwindow = [90, 110]\n[method_blank]\n[internal_standard]\nwindow = [60, 125]")
    items = [
        item(1, "icv", La=10.0),
        item(2, "icv", rejected=True, La=1.0),  # would fail
        item(3, "method_blank", rejected=True, La=50.0),  # would fail
        item(4, "calibration_blank", istd={"In": InternalStandard(1000.0)}),
        item(5, La=1.0, istd={"In": InternalStandard(900.0)}),
        item(6, La=1.0, rejected=True, istd={"In": InternalStandard(10.0)}),  # would fail
    ]
    checks, outcome = judge(pack, inputs_of(items, loq={"La": 1.0}, nominals={"icv": {"La": 10.0}}))
    assert {check.sequence for check in checks} == {1, 4, 5}
    assert all(check.passed for check in checks)
    assert states(outcome, "La") == {5: State.ACCEPTED, 6: State.EXCLUDED}
    assert next(a for a in outcome.acceptances if a.sequence == 6).reasons == ("rejected by the instrument",)
    assert outcome.status is RunVerdict.PARTIALLY_ACCEPTED


def test_a_required_item_only_the_instrument_rejected_is_missing() -> None:
    pack = pack_of("[icv]\nrequired = true\nwindow = [90, 110]")
    [check] = evaluate_checks(pack=pack, inputs=inputs_of([item(1, "icv", rejected=True, La=10.0)], nominals={"icv": {"La": 10.0}}))
    assert "missing from the run" in check.message


def test_samples_without_readings_have_no_results() -> None:
    _, outcome = judge(pack_of("[over_range]"), inputs_of([item(1), item(2, La=1.0), item(3, "lcs", La=1.0)]))
    assert [(a.sequence, a.analyte) for a in outcome.acceptances] == [(2, "La")]


# --- Waivers, status, the none pack --------------------------------------------------------------------


def test_a_waived_check_counts_as_passed() -> None:
    pack = pack_of("[icv]\nwindow = [90, 110]\n[method_blank]")
    items = [item(1, "icv", La=8.0), item(2, "method_blank", La=5.0), item(3, La=1.0)]
    inputs = inputs_of(items, loq={"La": 1.0}, nominals={"icv": {"La": 10.0}})
    checks, outcome = judge(pack, inputs)
    assert states(outcome, "La") == {3: State.REJECTED}
    assert outcome.failed_checks == 2
    assert len(next(a for a in outcome.acceptances).reasons) == 2
    only_icv = decide(pack=pack, inputs=inputs, checks=checks, waived={"icv:1:La"})
    assert states(only_icv, "La") == {3: State.REJECTED}
    assert only_icv.failed_checks == 1
    both = decide(pack=pack, inputs=inputs, checks=checks, waived={"icv:1:La", "method_blank:2:La"})
    assert states(both, "La") == {3: State.ACCEPTED}
    assert both.status is RunVerdict.ACCEPTED
    assert both.failed_checks == 0
    assert [check.passed for check in checks] == [False, False]  # the stored checks are unchanged


def test_a_waived_over_range_check_accepts_the_result() -> None:
    inputs = _over_range_run(item(6, La=50.0))
    checks, outcome = judge(pack_of("[over_range]"), inputs)
    assert states(outcome, "La") == {6: State.REDILUTE}
    waived = decide(pack=pack_of("[over_range]"), inputs=inputs, checks=checks, waived={checks[0].key})
    assert states(waived, "La") == {6: State.ACCEPTED}


def test_run_status_and_note() -> None:
    pack = pack_of("[icv]\nwindow = [90, 110]")
    nominals = {"icv": {"La": 10.0, "Ce": 10.0}}
    run = [item(1, La=1.0, Ce=1.0), item(2, La=1.0, Ce=1.0)]

    _, accepted = judge(pack, inputs_of([*run, item(3, "icv", La=10.0, Ce=10.0)], analytes=("La", "Ce"), nominals=nominals))
    assert accepted.status is RunVerdict.ACCEPTED
    assert accepted.note == "Judged by t: 2 checks, 0 failed; 4 of 4 results accepted."

    _, partial = judge(pack, inputs_of([*run, item(3, "icv", La=5.0, Ce=10.0)], analytes=("La", "Ce"), nominals=nominals))
    assert partial.status is RunVerdict.PARTIALLY_ACCEPTED
    assert partial.note == "Judged by t: 2 checks, 1 failed; 2 of 4 results accepted."

    _, rejected = judge(pack, inputs_of([*run, item(3, "icv", La=5.0, Ce=5.0)], analytes=("La", "Ce"), nominals=nominals))
    assert rejected.status is RunVerdict.REJECTED
    assert rejected.failed_checks == 2


def test_a_run_without_sample_results_is_rejected_only_by_a_failed_check() -> None:
    pack = pack_of("[icv]\nwindow = [90, 110]")
    nominals = {"icv": {"La": 10.0}}
    assert judge(pack, inputs_of([item(1, "icv", La=10.0)], nominals=nominals))[1].status is RunVerdict.ACCEPTED
    assert judge(pack, inputs_of([item(1, "icv", La=1.0)], nominals=nominals))[1].status is RunVerdict.REJECTED


def test_the_none_pack_accepts_results_as_entered_and_says_so() -> None:
    none = parse_rule_pack(shipped_pack_texts()["none"])
    items = [item(1, "icv", La=1.0), item(2, La=1.0, Ce=99.0), item(3, La=5.0, rejected=True)]
    inputs = inputs_of(items, analytes=("La", "Ce"), nominals={"icv": {"La": 10.0}})
    assert evaluate_checks(pack=none, inputs=inputs) == []
    failing = Check(kind=CheckKind.ICV, passed=False, message="x", effect=Effect.RUN)
    outcome = decide(pack=none, inputs=inputs, checks=[failing])
    assert states(outcome, "La") == {2: State.ACCEPTED, 3: State.EXCLUDED}
    assert states(outcome, "Ce") == {2: State.ACCEPTED}
    assert outcome.failed_checks == 0
    assert outcome.note == "Rule pack 'none': results count as entered, no run QC."
    assert decide(pack=none, inputs=inputs_of(items[:2], analytes=("La", "Ce")), checks=[]).status is RunVerdict.ACCEPTED


def test_checks_come_in_the_panel_order_of_their_kinds() -> None:
    pack = pack_of("[crm]\nwindow = [90, 110]\n[method_blank]\n[icv]\nwindow = [90, 110]")
    items = [item(1, "crm", crm="c", La=50.0), item(2, "method_blank", La=0.0), item(3, "icv", La=10.0)]
    inputs = inputs_of(items, loq={"La": 1.0}, nominals={"icv": {"La": 10.0}}, crms={"c": OREAS})
    assert [check.kind for check in evaluate_checks(pack=pack, inputs=inputs)] == [CheckKind.ICV, CheckKind.METHOD_BLANK, CheckKind.CRM]


# --- Property: any small run -----------------------------------------------------------------------

ANALYTES = ("La", "Ce", "Nd")
ROLES = [SAMPLE, SAMPLE, SAMPLE, "calibration_blank", "calibration_standard", "icv", "low_level_check", "ccv", "ccb"]
ROLES += ["method_blank", "lcs", "crm", "duplicate", "spike"]
EVERYTHING = """
[calibration_correlation]
required = true
min_r = 0.998
[calibration_standard]
required = true
window = [90, 110]
lowest_level_window = [70, 130]
[icv]
required = true
window = [90, 110]
[low_level_check]
required = true
window = [70, 130]
[ccv]
required = true
window = [90, 110]
every_samples = 2
at_end = true
[ccb]
required = true
limit = "half_loq"
[method_blank]
required = true
[lcs]
required = true
window = [85, 115]
[matrix_spike]
required = true
window = [70, 130]
max_background_ratio = 4
[duplicate]
required = true
max_rpd = 20
[internal_standard]
required = true
window = [60, 125]
[crm]
required = true
window = [90, 110]
[over_range]
"""
PACKS: list[RulePack] = [pack_of(EVERYTHING, code="everything"), *(parse_rule_pack(text) for text in shipped_pack_texts().values())]

values = st.one_of(st.floats(min_value=-5.0, max_value=200.0), st.floats(allow_nan=False, allow_infinity=False))
readings = st.dictionaries(st.sampled_from(ANALYTES), st.builds(Reading, values, st.booleans()), max_size=3)
istds = st.dictionaries(
    st.sampled_from(["In", "Sc"]),
    st.builds(InternalStandard, st.none() | values, st.none() | st.floats(min_value=0.0, max_value=200.0)),
    max_size=2,
)
item_specs = st.tuples(
    st.sampled_from(ROLES),
    readings,
    st.none() | st.integers(min_value=1, max_value=4),
    st.sampled_from([False, False, False, True]),  # rejected by the instrument, now and then
    st.sampled_from([None, "S1", "S2"]),
    st.sampled_from([None, "crm-ok", "crm-expired", "crm-unknown"]),
    istds,
)
nominal_maps = st.dictionaries(st.sampled_from(ANALYTES), st.floats(min_value=-1.0, max_value=100.0), max_size=3)


@st.composite
def small_runs(draw: st.DrawFn) -> RunQcInputs:
    specs = draw(st.lists(item_specs, max_size=14))
    sequences = draw(st.permutations(range(1, len(specs) + 1)))
    items = [
        Item(
            sequence=sequence,
            label=draw(st.sampled_from(["", "x"])),
            role=role,
            readings=values_,
            calibration_level=level,
            rejected_by_instrument=rejected,
            sample_code=code,
            reference_material=crm,
            internal_standards=istd,
        )
        for sequence, (role, values_, level, rejected, code, crm, istd) in zip(sequences, specs, strict=True)
    ]
    return RunQcInputs(
        items=items,
        analytes=draw(st.lists(st.sampled_from(ANALYTES), unique=True, max_size=3)),
        loq=draw(st.dictionaries(st.sampled_from(ANALYTES), st.floats(min_value=0.0, max_value=10.0), max_size=3)),
        nominals={role: draw(nominal_maps) for role in ("icv", "ccv", "lcs", "low_level_check")},
        calibration={level: draw(nominal_maps) for level in draw(st.sets(st.integers(min_value=1, max_value=4)))},
        spike_added=draw(nominal_maps),
        crms={
            "crm-ok": CrmExpectation(name="ok", expected=draw(nominal_maps)),
            "crm-expired": CrmExpectation(name="old", expected={"La": 1.0}, expired_on="2020-01-01"),
        },
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs=small_runs(), pack=st.sampled_from(PACKS), waive_some=st.booleans())
def test_any_small_run_gives_unique_keys_and_one_acceptance_per_sample_reading(
    inputs: RunQcInputs, pack: RulePack, waive_some: bool
) -> None:
    checks = evaluate_checks(pack=pack, inputs=inputs)
    keys = [check.key for check in checks]
    assert len(keys) == len(set(keys))
    failing = [check.key for check in checks if not check.passed]
    outcome = decide(pack=pack, inputs=inputs, checks=checks, waived=failing[::2] if waive_some else ())
    samples = [candidate for candidate in inputs.items if candidate.role == SAMPLE and candidate.readings]
    assert len(outcome.acceptances) == sum(len(sample.readings) for sample in samples)
    assert all(a.reasons for a in outcome.acceptances if a.state is not State.ACCEPTED)
    # Waiving every failed check leaves only what the instrument itself rejected.
    cleared = decide(pack=pack, inputs=inputs, checks=checks, waived=failing)
    assert cleared.failed_checks == 0
    for acceptance in cleared.acceptances:
        rejected = next(s for s in samples if s.sequence == acceptance.sequence).rejected_by_instrument
        assert acceptance.state is (State.EXCLUDED if rejected else State.ACCEPTED)
