"""QA's decisions on flags and held lots (``assays.services.flags``), over lots assessed by the real
services from an import of results: state rules, reasons, audit, roles and scope, and the rule that
a lot leaves hold only through QA and only once nothing holds it."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import transaction
from django.utils import timezone

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    AssessmentStatus,
    AuditAction,
    AuditEvent,
    Flag,
    FlagKind,
    FlagStatus,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
)
from assays.roles import Role
from assays.services.assessment import _email_qa_many
from assays.services.flags import MAX_REASON, flag_acknowledge, flag_resolve, lot_hold_release, lot_reject
from tests.assessment_setup import AssessmentLab, import_and_assess, make_assessment_lab, make_lot
from tests.concurrency import start_in_thread, wait_for_a_lock_wait
from tests.conftest import World
from tests.factories import LotFactory, MethodFactory, RunFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def held(technician: User, lab: AssessmentLab) -> Lot:
    """An off-spec lot (Fe2O3 over its maximum): on hold with one open off-spec flag."""
    lot = make_lot(lab, "ND/HOLD-1")
    assert import_and_assess(technician, lab, lot, fe=60.0).status == AssessmentStatus.OFF_SPEC
    lot.refresh_from_db()
    assert lot.status == LotStatus.ON_HOLD
    return lot


def the_flag(lot: Lot) -> Flag:
    (flag,) = Flag.objects.filter(lot=lot)
    return flag


def events(instance: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(entity=instance._meta.label_lower, object_id=str(instance.pk)).order_by("id"))


def writes_nothing(call: Callable[[], object], error: type[DomainError] = DomainError) -> DomainError:
    """Run a call that must be refused: no flag, lot or audit row may change."""
    before = (
        list(Flag.objects.order_by("pk").values()),
        list(Lot.objects.order_by("pk").values("pk", "status")),
        AuditEvent.objects.count(),
    )
    with pytest.raises(error) as caught:
        call()
    after = (
        list(Flag.objects.order_by("pk").values()),
        list(Lot.objects.order_by("pk").values("pk", "status")),
        AuditEvent.objects.count(),
    )
    assert after == before
    return caught.value


# --- Flag states ------------------------------------------------------------------------------------


def test_acknowledge_then_resolve_records_who_and_why_and_audits_each_step(qa: User, held: Lot) -> None:
    flag = the_flag(held)
    assert flag.status == FlagStatus.OPEN

    acknowledged = flag_acknowledge(actor=qa, flag=flag, reason="  Re-testing both samples  ")
    stored = Flag.objects.get(pk=flag.pk)
    assert (stored.status, stored.acknowledged_by, stored.acknowledgement_reason) == (
        FlagStatus.ACKNOWLEDGED,
        qa,
        "Re-testing both samples",
    )
    assert stored.acknowledged_at is not None
    assert acknowledged.status == FlagStatus.ACKNOWLEDGED
    *_, event = events(flag)
    assert (event.action, event.actor, event.actor_label, event.reason) == (AuditAction.TRANSITION, qa, "qa", "Re-testing both samples")
    assert event.before is not None
    assert event.after is not None
    assert (event.before["status"], event.after["status"]) == ("open", "acknowledged")
    assert (event.before["acknowledged_by_id"], event.after["acknowledged_by_id"]) == (None, qa.pk)
    assert event.context["target"] == "lot ND/HOLD-1"

    flag_resolve(actor=qa, flag=flag.pk, reason="Re-test conforms; the first digestion was contaminated")
    stored = Flag.objects.get(pk=flag.pk)
    assert (stored.status, stored.resolved_by, stored.resolution_reason) == (
        FlagStatus.RESOLVED,
        qa,
        "Re-test conforms; the first digestion was contaminated",
    )
    # The acknowledgement stays on the record beside the resolution.
    assert stored.acknowledged_by == qa
    *_, event = events(flag)
    assert (event.action, event.actor, event.reason) == (
        AuditAction.TRANSITION,
        qa,
        "Re-test conforms; the first digestion was contaminated",
    )
    assert event.before is not None
    assert event.after is not None
    assert (event.before["status"], event.after["status"], event.after["resolved_by_id"]) == ("acknowledged", "resolved", qa.pk)


def test_an_open_flag_may_be_resolved_directly(qa_manager: User, held: Lot) -> None:
    flag = flag_resolve(actor=qa_manager, flag=the_flag(held), reason="Customer accepted by concession")
    assert flag.status == FlagStatus.RESOLVED
    assert Flag.objects.get(pk=flag.pk).acknowledged_at is None


def test_resolved_is_final_and_acknowledged_is_not_repeated(qa: User, qa_manager: User, held: Lot) -> None:
    flag = the_flag(held)
    flag_acknowledge(actor=qa, flag=flag, reason="looking")
    error = writes_nothing(lambda: flag_acknowledge(actor=qa_manager, flag=flag, reason="me too"))
    assert "already acknowledged by qa" in str(error)

    flag_resolve(actor=qa, flag=flag, reason="done")
    error = writes_nothing(lambda: flag_resolve(actor=qa_manager, flag=flag, reason="again"))
    assert "already resolved" in str(error)
    assert "final" in str(error)
    error = writes_nothing(lambda: flag_acknowledge(actor=qa_manager, flag=flag, reason="late"))
    assert "resolved" in str(error)
    assert "final" in str(error)


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_decision_needs_a_reason(qa: User, held: Lot, reason: str) -> None:
    flag = the_flag(held)
    for call in (
        lambda: flag_acknowledge(actor=qa, flag=flag, reason=reason),
        lambda: flag_resolve(actor=qa, flag=flag, reason=reason),
        lambda: lot_hold_release(actor=qa, lot=held, reason=reason),
        lambda: lot_reject(actor=qa, lot=held, reason=reason),
    ):
        assert "a reason is required" in str(writes_nothing(call))


def test_a_reason_past_the_limit_is_refused(qa: User, held: Lot) -> None:
    error = writes_nothing(lambda: flag_resolve(actor=qa, flag=the_flag(held), reason="x" * (MAX_REASON + 1)))
    assert f"at most {MAX_REASON}" in str(error)


# --- Who may act, and on what -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["technician", "lab_admin", "partner_a_user", "anonymous"])
def test_only_qa_acts_on_flags_and_holds(request: pytest.FixtureRequest, held: Lot, persona: str) -> None:
    user = request.getfixturevalue(persona)
    flag = the_flag(held)
    for call in (
        lambda: flag_acknowledge(actor=user, flag=flag, reason="mine"),
        lambda: flag_resolve(actor=user, flag=flag, reason="mine"),
        lambda: lot_hold_release(actor=user, lot=held, reason="mine"),
        lambda: lot_reject(actor=user, lot=held, reason="mine"),
    ):
        assert "only QA may" in str(writes_nothing(call, PermissionDeniedError))


def test_a_superuser_is_no_qa(world: World, held: Lot) -> None:
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    writes_nothing(lambda: flag_resolve(actor=root, flag=the_flag(held), reason="admin"), PermissionDeniedError)


def test_qa_of_another_site_finds_no_such_flag_or_lot(world: World, held: Lot) -> None:
    us_qa = UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])
    flag = the_flag(held)
    assert f"no flag {flag.pk}" in str(writes_nothing(lambda: flag_resolve(actor=us_qa, flag=flag, reason="x"), NotFoundError))
    writes_nothing(lambda: flag_acknowledge(actor=us_qa, flag=flag.pk, reason="x"), NotFoundError)
    writes_nothing(lambda: lot_hold_release(actor=us_qa, lot=held, reason="x"), NotFoundError)
    writes_nothing(lambda: lot_reject(actor=us_qa, lot=held.code, reason="x"), NotFoundError)
    writes_nothing(lambda: flag_resolve(actor=us_qa, flag=10**9, reason="x"), NotFoundError)


def test_run_flags_follow_the_run_site_and_method_flags_any_qa(world: World, qa: User) -> None:
    us_qa = UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])
    uk_run = RunFactory(site=world.uk_site)
    run_flag = Flag.objects.create(kind=FlagKind.QC_FAILURE, run=uk_run, raised_at=timezone.now(), details={"failed_checks": 2})
    method_flag = Flag.objects.create(kind=FlagKind.METHOD_DRIFT, method=MethodFactory(code="DRIFTY"), raised_at=timezone.now())

    writes_nothing(lambda: flag_acknowledge(actor=us_qa, flag=run_flag, reason="not my site"), NotFoundError)
    assert flag_acknowledge(actor=qa, flag=run_flag, reason="re-running the CCV").status == FlagStatus.ACKNOWLEDGED
    assert events(run_flag)[-1].context["target"] == f"run {uk_run.pk}"
    # A method is lab-wide master data: QA of any site may act on its flag.
    assert flag_resolve(actor=us_qa, flag=method_flag, reason="recalibrated").status == FlagStatus.RESOLVED
    assert events(method_flag)[-1].context["target"] == "method DRIFTY"


# --- Leaving hold -----------------------------------------------------------------------------------


def test_a_lot_leaves_hold_only_once_its_flags_are_resolved_and_its_latest_assessment_conforms(
    qa: User, technician: User, lab: AssessmentLab, held: Lot
) -> None:
    flag = the_flag(held)
    # Both reasons at once: the open flag (named) and the off-spec assessment.
    error = str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=held, reason="looks fine")))
    assert f"lot ND/HOLD-1 stays on hold: flag {flag.pk} (off specification) is open" in error
    assert "latest assessment" in error
    assert "off specification" in error

    # Acknowledged still holds the lot.
    flag_acknowledge(actor=qa, flag=flag, reason="re-testing")
    error = str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=held, reason="looks fine")))
    assert f"flag {flag.pk} (off specification) is acknowledged" in error

    # A conforming re-test: the worker assesses it but does not release the lot; QA still must.
    newest = import_and_assess(technician, lab, held, fe=10.0)
    assert newest.status == AssessmentStatus.CONFORMING
    held.refresh_from_db()
    assert held.status == LotStatus.ON_HOLD
    error = str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=held, reason="looks fine")))
    assert f"flag {flag.pk}" in error
    assert "latest assessment" not in error

    flag_resolve(actor=qa, flag=flag, reason="re-test conforms")
    released = lot_hold_release(actor=qa, lot=held, reason="re-test conforms, flag resolved")
    assert released.status == LotStatus.ASSESSED == Lot.objects.get(pk=held.pk).status
    event = events(held)[-1]
    assert (event.action, event.actor, event.reason) == (AuditAction.TRANSITION, qa, "re-test conforms, flag resolved")
    assert (event.before, event.after) == ({"status": "on_hold"}, {"status": "assessed"})


def test_with_its_flags_resolved_an_off_spec_lot_still_stays_on_hold(qa: User, held: Lot) -> None:
    flag_resolve(actor=qa, flag=the_flag(held), reason="noted")
    error = str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=held, reason="release")))
    assert "flag" not in error
    assert "its latest assessment" in error
    assert "is off specification, not conforming" in error


def test_a_report_of_analysis_without_verdict_may_leave_hold(qa: User, held: Lot) -> None:
    flag_resolve(actor=qa, flag=the_flag(held), reason="payable content reported instead")
    LotAssessment.objects.create(
        lot=held,
        status=AssessmentStatus.NO_VERDICT,
        inputs_fingerprint=hashlib.sha256(b"no verdict").hexdigest(),
        assessed_at=timezone.now(),
    )
    assert lot_hold_release(actor=qa, lot=held.code, reason="report of analysis").status == LotStatus.ASSESSED


def test_results_newer_than_the_assessment_keep_the_lot_on_hold(qa: User, technician: User, lab: AssessmentLab, held: Lot) -> None:
    import_and_assess(technician, lab, held, fe=10.0)
    flag_resolve(actor=qa, flag=the_flag(held), reason="re-test conforms")
    Lot.objects.filter(pk=held.pk).update(assessment_stale_since=timezone.now())
    error = str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=held, reason="release")))
    assert "results changed" in error
    assert "wait for the new assessment" in error


def test_a_lot_never_assessed_cannot_leave_hold(world: World, qa: User) -> None:
    lot = LotFactory(code="HELD-BY-HAND", site=world.uk_site, kind=LotKind.FEEDSTOCK, status=LotStatus.ON_HOLD)
    assert "has not been assessed" in str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=lot, reason="release")))


@pytest.mark.parametrize("status", [LotStatus.OPEN, LotStatus.ASSESSED, LotStatus.RELEASED, LotStatus.REJECTED])
def test_only_a_lot_on_hold_is_released_or_rejected(world: World, qa: User, status: LotStatus) -> None:
    lot = LotFactory(code=f"LOT-{status}", site=world.uk_site, kind=LotKind.FEEDSTOCK, status=status)
    for call in (lambda: lot_hold_release(actor=qa, lot=lot, reason="why"), lambda: lot_reject(actor=qa, lot=lot, reason="why")):
        assert "not on hold" in str(writes_nothing(call))


def test_rejecting_is_final_and_resolves_the_lots_flags_with_the_reason(qa: User, qa_manager: User, held: Lot) -> None:
    flag = the_flag(held)
    flag_acknowledge(actor=qa, flag=flag, reason="checking the digestion")
    rejected = lot_reject(actor=qa_manager, lot=held, reason="Fe contamination confirmed by re-test")
    assert rejected.status == LotStatus.REJECTED == Lot.objects.get(pk=held.pk).status
    lot_event = events(held)[-1]
    assert (lot_event.actor, lot_event.reason, lot_event.after) == (
        qa_manager,
        "Fe contamination confirmed by re-test",
        {"status": "rejected"},
    )
    stored = Flag.objects.get(pk=flag.pk)
    assert (stored.status, stored.resolved_by, stored.resolution_reason) == (
        FlagStatus.RESOLVED,
        qa_manager,
        "lot ND/HOLD-1 rejected: Fe contamination confirmed by re-test",
    )
    assert events(flag)[-1].reason == "lot ND/HOLD-1 rejected: Fe contamination confirmed by re-test"
    assert "rejected, not on hold" in str(writes_nothing(lambda: lot_hold_release(actor=qa, lot=held, reason="undo")))


def test_a_failed_rejection_leaves_the_flags_alone(qa: User, held: Lot) -> None:
    Lot.objects.filter(pk=held.pk).update(status=LotStatus.ASSESSED)
    writes_nothing(lambda: lot_reject(actor=qa, lot=held, reason="too late"))
    assert the_flag(held).status == FlagStatus.OPEN


# --- Concurrency (PostgreSQL row locks) -------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_decision_waits_for_the_flags_row_lock_and_then_sees_the_first() -> None:
    """Deterministic: the second resolution starts while the first holds the flag's row lock.
    Without ``select_for_update`` it would read "open" and resolve the flag a second time."""
    site = SiteFactory(code="RACE")
    first = UserFactory(username="qa_first", roles=[Role.QA], sites=[site])
    second = UserFactory(username="qa_second", roles=[Role.QA], sites=[site])
    lot = LotFactory(code="RACE-LOT", site=site, kind=LotKind.FEEDSTOCK, status=LotStatus.ON_HOLD)
    flag = Flag.objects.create(kind=FlagKind.OFF_SPEC, lot=lot, raised_at=timezone.now())
    outcome: dict[str, str] = {}
    first_holds_the_lock, let_first_commit = threading.Event(), threading.Event()

    def resolve_first() -> None:
        with transaction.atomic():
            flag_resolve(actor=first, flag=flag.pk, reason="first")
            first_holds_the_lock.set()
            let_first_commit.wait(timeout=30)

    def resolve_second() -> None:
        try:
            flag_resolve(actor=second, flag=flag.pk, reason="second")
            outcome["second"] = "won"
        except DomainError as error:
            outcome["second"] = f"refused: {error}"

    holder = start_in_thread(resolve_first)
    assert first_holds_the_lock.wait(timeout=30)
    waiter = start_in_thread(resolve_second)
    try:
        # Outside any transaction here: PostgreSQL shows a transaction one snapshot of pg_stat_activity.
        wait_for_a_lock_wait(waiting_for="the second resolution")
    finally:
        let_first_commit.set()
        holder.join(timeout=30)
        waiter.join(timeout=30)
    assert outcome["second"].startswith("refused: "), outcome
    assert "already resolved (by qa_first)" in outcome["second"], outcome
    stored = Flag.objects.get(pk=flag.pk)
    assert (stored.resolved_by_id, stored.resolution_reason) == (first.pk, "first")
    assert [event.reason for event in events(flag)] == ["first"]


def test_qa_hear_of_many_new_flags_in_one_e_mail_per_list_of_recipients(world: World, qa: User, qa_manager: User) -> None:
    # A reassessment chunk flags up to a few hundred lots: QA get a digest, not a message each.
    UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])
    UserFactory(username="qa_us_quiet", roles=[Role.QA], sites=[world.us_site], email="")
    uk_lots = [LotFactory(code=f"UK-{n}", site=world.uk_site) for n in (2, 1)]
    us_lot = LotFactory(code="US-1", site=world.us_site)
    details = {"lines": [{"label": "Fe2O3", "reason": "62 mg/kg above the maximum of 50"}]}
    flags = [
        Flag.objects.create(kind=FlagKind.OFF_SPEC, lot=uk_lots[0], details=details, raised_at=timezone.now()),
        Flag.objects.create(
            kind=FlagKind.INSUFFICIENT_DATA, lot=uk_lots[1], details={"missing": {"UK-1-A": ["LOI"]}}, raised_at=timezone.now()
        ),
        Flag.objects.create(kind=FlagKind.OFF_SPEC, lot=us_lot, details=details, raised_at=timezone.now()),
    ]
    mail.outbox.clear()
    _email_qa_many([(flag.lot_id, flag.pk) for flag in flags])
    by_subject = {message.subject: message for message in mail.outbox}
    assert len(mail.outbox) == 2
    digest = by_subject["[LIMS] 2 lots flagged: 1 insufficient data, 1 off specification"]
    assert sorted(digest.to) == sorted([qa.email, qa_manager.email])
    # Lot by lot, in code order, each with what it fails or lacks.
    assert digest.body.index("Lot UK-1 is on hold") < digest.body.index("Lot UK-2 is on hold")
    assert "sample UK-1-A lacks LOI" in digest.body
    assert "Fe2O3: 62 mg/kg above the maximum of 50" in digest.body
    single = by_subject["[LIMS] Lot US-1: off specification"]
    assert sorted(single.to) == sorted(["qa_us@example.org", qa_manager.email])
    assert single.body.startswith("Lot US-1 is on hold: Off specification.")
