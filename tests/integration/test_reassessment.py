"""Reassessing a product's lots after a specification change: the bulk service judges each lot
exactly as the per-lot one does, is idempotent, covers every lot exactly once in chunks, counts its
progress, starts by itself when a version becomes active, and is refused to whoever may not ask."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    AuditEvent,
    Flag,
    FlagKind,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
    Product,
    Reassessment,
    ReassessmentChunk,
    ReassessmentStatus,
)
from assays.reference_data import reference_data_ensure
from assays.services.assessment import lot_assess, lots_assess, lots_results
from assays.services.reassessment import product_reassess, reassessment_chunk_run, reassessments_sweep
from assays.services.run_qc import run_evaluate
from assays.services.runs import run_import
from assays.services.specifications import specification_load
from tests.assessment_setup import PRODUCT, SPEC, AssessmentLab, import_and_assess, make_assessment_lab, make_lot, results_csv
from tests.conftest import World
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

# Version 2 of the product's specification: a tighter iron limit, which the lots with Fe 10 and
# 11 mg/kg (Fe2O3 about 15 mg/kg) fail.
SPEC_V2 = {**SPEC, "lines": [dict(line, max="12") if line.get("oxide") == "Fe2O3" else line for line in SPEC["lines"]]}


@pytest.fixture
def lab(world: World, qa_manager: User) -> AssessmentLab:
    return make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)


def _assessed_lots(technician: User, lab: AssessmentLab, count: int, *, prefix: str = "RA") -> list[Lot]:
    lots = []
    for index in range(count):
        lot = make_lot(lab, f"{prefix}-{index:02d}", samples=2)
        import_and_assess(technician, lab, lot, fe=10.0 + index)
        lots.append(lot)
    return lots


def _load_v2(qa_manager: User, *, execute: bool) -> None:
    with TestCase.captureOnCommitCallbacks(execute=execute):
        specification_load(actor=qa_manager, data=dict(SPEC_V2), file_name="spec-v2.json")


def _import_unassessed(technician: User, lab: AssessmentLab, lot: Lot, *, loi: float | None = 0.3, fe: float = 10.0) -> None:
    """Import and judge the lot's results, but lose the message that would assess it."""
    with TestCase.captureOnCommitCallbacks(execute=False):
        run_import(
            actor=technician,
            data=results_csv(lot, fe=fe, loi=loi),
            file_name=f"{lot.code}.csv",
            instrument=lab.instrument,
            method=lab.method,
        )
    run_id = lot.samples.order_by("code")[0].acquisitions.get().run_id
    with TestCase.captureOnCommitCallbacks(execute=False):
        run_evaluate(run_id=run_id)


def _state(lots: list[Lot]) -> dict[str, Any]:
    """Everything an assessment decides about each lot, without ids and times."""
    state: dict[str, Any] = {}
    for lot in lots:
        fresh = Lot.objects.get(pk=lot.pk)
        newest = LotAssessment.objects.filter(lot=lot).order_by("-assessed_at", "-id").first()
        flags = sorted(
            (flag.kind, flag.status, {key: value for key, value in flag.details.items() if key != "assessment"})
            for flag in Flag.objects.filter(lot=lot)
        )
        state[lot.code] = {
            "lot": (fresh.status, fresh.assessment_stale_since is None),
            "assessments": LotAssessment.objects.filter(lot=lot).count(),
            "newest": None
            if newest is None
            else (
                newest.specification_id,
                newest.status,
                newest.inputs_fingerprint,
                newest.n_samples,
                newest.outcome,
                newest.summary,
                newest.reasons,
                newest.differs_from_certified,
            ),
            "flags": [(kind, status, sorted(details.items(), key=lambda item: item[0])) for kind, status, details in flags],
            # The lot's audit events (their reasons name assessment ids, which differ between runs).
            "audit": sorted(
                (action, json.dumps(after, sort_keys=True))
                for action, after in AuditEvent.objects.filter(entity="assays.lot", object_id=str(lot.pk)).values_list("action", "after")
            ),
        }
    return state


@pytest.fixture
def varied_lots(world: World, technician: User, qa_manager: User, lab: AssessmentLab) -> list[Lot]:
    """Lots in every situation an assessment meets, with version 2 of the spec active and nothing
    reassessed yet: conforming before and off-spec now, never assessed, lacking LOI, with no
    results at all, released with a certified assessment, and a feedstock lot with no spec."""
    conforming = _assessed_lots(technician, lab, 2, prefix="OK")
    fresh = make_lot(lab, "NEW-01", samples=2)
    _import_unassessed(technician, lab, fresh, fe=5.0)
    no_loi = make_lot(lab, "NOLOI-01", samples=1)
    _import_unassessed(technician, lab, no_loi, loi=None)
    empty = make_lot(lab, "EMPTY-01", samples=1)
    released = make_lot(lab, "REL-01", samples=1)
    certified = import_and_assess(technician, lab, released, fe=3.0)
    LotAssessment.objects.filter(pk=certified.pk).update(is_frozen=True)
    Lot.objects.filter(pk=released.pk).update(status=LotStatus.RELEASED)
    feedstock = Lot.objects.get(pk=LotFactory(code="FS-NONE", site=world.uk_site, kind=LotKind.FEEDSTOCK).pk)
    Lot.objects.filter(pk=feedstock.pk).update(assessment_stale_since=timezone.now())
    _load_v2(qa_manager, execute=False)
    return [*conforming, fresh, no_loi, empty, released, feedstock]


def test_the_bulk_service_judges_every_lot_as_the_per_lot_service_does(varied_lots: list[Lot]) -> None:
    with transaction.atomic():
        per_lot = [lot_assess(lot_id=lot.pk, reason="compare") for lot in varied_lots]
        expected = _state(varied_lots)
        transaction.set_rollback(True)
    assert sum(assessment is not None for assessment in per_lot) == len(varied_lots) - 1  # the feedstock lot has no spec
    done = lots_assess(lot_ids=[lot.pk for lot in reversed(varied_lots)], reason="compare")
    assert _state(varied_lots) == expected
    codes = {lot.pk: lot.code for lot in varied_lots}
    assert sorted(codes[pk] for pk in done.changed) == sorted(lot.code for lot in varied_lots[:-1])
    assert [codes[pk] for pk in done.unjudged] == ["FS-NONE"]
    statuses = {codes[pk]: assessment.status for pk, assessment in done.created.items()}
    assert statuses == {
        "OK-00": "off_spec",
        "OK-01": "off_spec",
        "NEW-01": "conforming",
        "NOLOI-01": "insufficient_data",
        "EMPTY-01": "insufficient_data",
        "REL-01": "conforming",
    }
    # What follows, as lot_assess does it: the off-spec lots on hold with a flag naming Fe2O3, the
    # released lot untouched (its certified assessment agrees), the stale mark cleared.
    lots = {lot.code: lot for lot in Lot.objects.filter(pk__in=codes)}
    assert lots["OK-00"].status == LotStatus.ON_HOLD
    assert [line["label"] for line in Flag.objects.get(lot=lots["OK-00"], kind=FlagKind.OFF_SPEC).details["lines"]] == ["Fe2O3"]
    assert lots["NEW-01"].status == LotStatus.ASSESSED
    assert lots["REL-01"].status == LotStatus.RELEASED
    assert lots["FS-NONE"].assessment_stale_since is None


def test_bulk_results_are_the_per_lot_results(varied_lots: list[Lot]) -> None:
    from assays.services.assessment import lot_results

    bulk = lots_results(lot_ids=[lot.pk for lot in varied_lots])
    assert set(bulk) == {lot.pk for lot in varied_lots}
    for lot in varied_lots:
        assert bulk[lot.pk] == lot_results(lot=lot)
    assert bulk[varied_lots[0].pk].samples
    assert not bulk[varied_lots[-1].pk].samples


def test_the_bulk_service_is_idempotent(varied_lots: list[Lot]) -> None:
    ids = [lot.pk for lot in varied_lots]
    first = lots_assess(lot_ids=ids)
    count, events = LotAssessment.objects.count(), AuditEvent.objects.count()
    again = lots_assess(lot_ids=ids)
    assert again.changed == []
    assert again.created == {}
    assert again.current == first.current
    assert (LotAssessment.objects.count(), AuditEvent.objects.count()) == (count, events)
    # And lot_assess agrees: nothing new, the same current assessment.
    again_one = lot_assess(lot_id=ids[0])
    assert again_one is not None
    assert again_one.pk == first.current[ids[0]]
    assert lots_assess(lot_ids=[]).found == 0


def test_a_changed_spec_reassesses_every_lot_in_chunks_exactly_once(
    technician: User, qa_manager: User, lab: AssessmentLab, settings: Any
) -> None:
    settings.LIMS_REASSESS_CHUNK = 2
    lots = _assessed_lots(technician, lab, 5)
    other = _assessed_lots(technician, lab, 1, prefix="OTHER")  # same product: part of it
    assert {a.status for a in LotAssessment.objects.all()} == {"conforming"}
    mail.outbox.clear()
    _load_v2(qa_manager, execute=True)
    reassessment = Reassessment.objects.get()
    assert reassessment.requested_by == qa_manager
    assert reassessment.reason == f"specification {PRODUCT} v2 activated"
    assert (reassessment.specification.version, reassessment.total_lots) == (2, 6)
    chunks = list(reassessment.chunks.order_by("position"))
    assert [chunk.lot_count for chunk in chunks] == [2, 2, 2]
    covered = [lot_id for chunk in chunks for lot_id in chunk.lot_ids]
    assert covered == sorted(lot.pk for lot in [*lots, *other])  # every lot once, in id order
    assert (reassessment.status, reassessment.done_lots, reassessment.changed_lots, reassessment.failed_lots) == ("done", 6, 6, 0)
    assert reassessment.started_at is not None
    assert reassessment.finished_at is not None
    assert all(chunk.finished_at is not None and chunk.changed_lots == 2 for chunk in chunks)
    for lot in lots:
        newest = LotAssessment.objects.filter(lot=lot).latest("assessed_at")
        assert (newest.specification.version, newest.status) == (2, "off_spec")
        assert Lot.objects.get(pk=lot.pk).status == LotStatus.ON_HOLD
    assert LotAssessment.objects.count() == 12
    # QA hears of every new flag: one e-mail per chunk, naming its lots and their failing lines.
    assert len(mail.outbox) == 3
    named = []
    for message in mail.outbox:
        assert message.subject == "[LIMS] 2 lots flagged: 2 off specification"
        named.append([line.split(" is on hold")[0].removeprefix("Lot ") for line in message.body.splitlines() if " is on hold" in line])
        assert message.body.count("Fe2O3") == 2
    in_chunks = [sorted(Lot.objects.filter(pk__in=chunk.lot_ids).values_list("code", flat=True)) for chunk in chunks]
    assert sorted(named) == sorted(in_chunks)
    # The audit trail says who asked for the new assessments and why.
    event = AuditEvent.objects.filter(entity="assays.lotassessment").latest("id")
    assert event.actor == qa_manager
    assert f"reassessment {reassessment.pk}" in event.reason
    assert AuditEvent.objects.filter(entity="assays.reassessment", object_id=str(reassessment.pk), action="create").exists()


def test_a_redelivered_chunk_makes_no_assessment_and_counts_nothing(
    technician: User, qa_manager: User, lab: AssessmentLab, settings: Any
) -> None:
    settings.LIMS_REASSESS_CHUNK = 2
    _assessed_lots(technician, lab, 3)
    _load_v2(qa_manager, execute=True)
    reassessment = Reassessment.objects.get()
    chunk = reassessment.chunks.get(position=0)
    count = LotAssessment.objects.count()
    again = reassessment_chunk_run(reassessment_id=reassessment.pk, lot_ids=list(reversed(chunk.lot_ids)))
    assert again is not None
    assert not again.counted
    # Even a chunk that was never marked finished (its commit lost the race with the redelivery)
    # makes nothing new: the fingerprints are unchanged.
    ReassessmentChunk.objects.filter(pk=chunk.pk).update(finished_at=None)
    Reassessment.objects.filter(pk=reassessment.pk).update(done_lots=1, changed_lots=1, status="running", finished_at=None)
    rerun = reassessment_chunk_run(reassessment_id=reassessment.pk, lot_ids=chunk.lot_ids)
    assert rerun is not None
    assert (rerun.counted, rerun.changed) == (True, 0)
    assert LotAssessment.objects.count() == count
    reassessment.refresh_from_db()
    assert (reassessment.done_lots, reassessment.status) == (3, "done")
    # A message naming lots that are not a chunk of it is ignored.
    assert reassessment_chunk_run(reassessment_id=reassessment.pk, lot_ids=[chunk.lot_ids[1]]) is None
    assert reassessment_chunk_run(reassessment_id=reassessment.pk, lot_ids=[]) is None


def test_progress_is_counted_chunk_by_chunk(technician: User, qa_manager: User, lab: AssessmentLab, settings: Any) -> None:
    settings.LIMS_REASSESS_CHUNK = 2
    _assessed_lots(technician, lab, 3)
    _load_v2(qa_manager, execute=False)  # the messages are lost: the chunks run by hand below
    reassessment = Reassessment.objects.get()
    assert (reassessment.status, reassessment.done_lots, reassessment.percent_done) == ("queued", 0, 0)
    first, second = reassessment.chunks.order_by("position")
    done = reassessment_chunk_run(reassessment_id=reassessment.pk, lot_ids=first.lot_ids)
    assert done is not None
    assert (done.lots, done.changed, done.failed, done.counted) == (2, 2, 0, True)
    reassessment.refresh_from_db()
    assert (reassessment.status, reassessment.done_lots, reassessment.changed_lots, reassessment.percent_done) == ("running", 2, 2, 66)
    assert reassessment.started_at is not None
    assert reassessment.finished_at is None
    reassessment_chunk_run(reassessment_id=reassessment.pk, lot_ids=second.lot_ids)
    reassessment.refresh_from_db()
    assert (reassessment.status, reassessment.done_lots, reassessment.changed_lots, reassessment.percent_done) == ("done", 3, 3, 100)


def test_the_sweep_sends_again_the_chunks_of_a_stalled_reassessment(
    technician: User, qa_manager: User, lab: AssessmentLab, settings: Any
) -> None:
    settings.LIMS_REASSESS_CHUNK = 2
    _assessed_lots(technician, lab, 3)
    _load_v2(qa_manager, execute=False)
    reassessment = Reassessment.objects.get()
    assert reassessments_sweep(grace_seconds=3600) == []  # too recent
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert reassessments_sweep(grace_seconds=0) == [reassessment.pk]
    reassessment.refresh_from_db()
    assert (reassessment.status, reassessment.done_lots) == ("done", 3)
    assert reassessments_sweep(grace_seconds=0) == []


def test_a_qa_manager_or_lab_admin_may_ask_for_a_reassessment_and_others_may_not(
    world: World, technician: User, qa: User, qa_manager: User, lab_admin: User, partner_a_user: User, lab: AssessmentLab
) -> None:
    _assessed_lots(technician, lab, 1)
    for refused in (technician, qa, partner_a_user):
        with pytest.raises(PermissionDeniedError):
            product_reassess(actor=refused, product_code=PRODUCT, reason="why not")
    assert not Reassessment.objects.exists()
    with pytest.raises(DomainError, match="reason"):
        product_reassess(actor=qa_manager, product_code=PRODUCT, reason="  ")
    with pytest.raises(NotFoundError):
        product_reassess(actor=qa_manager, product_code="NO-SUCH", reason="check")
    Product.objects.create(code="NOSPEC", name="no spec yet")
    with pytest.raises(DomainError, match="no active specification"):
        product_reassess(actor=qa_manager, product_code="NOSPEC", reason="check")
    with TestCase.captureOnCommitCallbacks(execute=False):
        asked = product_reassess(actor=lab_admin, product_code=PRODUCT, reason="new uncertainty models")
        # A second click while the first is queued answers the first.
        assert product_reassess(actor=qa_manager, product_code=PRODUCT, reason="again") == asked
    assert (asked.requested_by, asked.status, asked.total_lots) == (lab_admin, "queued", 1)
    # The system (None) may: it is how an activation asks.
    with TestCase.captureOnCommitCallbacks(execute=True):
        ReassessmentChunk.objects.filter(reassessment=asked).update(finished_at=timezone.now())
        Reassessment.objects.filter(pk=asked.pk).update(status="done", done_lots=1, finished_at=timezone.now())
        by_system = product_reassess(actor=None, product_code=PRODUCT, reason="nightly")
    by_system.refresh_from_db()
    assert (by_system.requested_by, by_system.status, by_system.changed_lots) == (None, "done", 0)  # unchanged inputs


def test_an_activation_of_a_product_without_lots_asks_for_nothing(qa_manager: User, lab: AssessmentLab) -> None:
    _load_v2(qa_manager, execute=True)
    assert not Reassessment.objects.exists()


def test_the_cli_reassesses_a_product_and_waits(transactional_db: None, world: World, technician: User, qa_manager: User) -> None:
    # Committed for real, as on the command line: the embedded mode runs the chunks as it commits.
    reference_data_ensure()
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
    _assessed_lots(technician, lab, 2)
    out = io.StringIO()
    call_command("reassess_product", PRODUCT, "--as", "qa_manager", "--reason", "audit finding", "--wait", "30", stdout=out)
    printed = out.getvalue()
    assert "2 lot(s), 1 chunk(s)" in printed
    assert "done: 2/2 lots looked at, 0 newly assessed, 0 failed" in printed
    assert Reassessment.objects.get().reason == "audit finding"
    with pytest.raises(CommandError, match="QA manager or a lab admin"):
        call_command("reassess_product", PRODUCT, "--as", "tech", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no product"):
        call_command("reassess_product", "NOPE", "--as", "qa_manager", stdout=io.StringIO())


@pytest.mark.postgres
def test_a_concurrent_lot_assess_waits_for_the_chunk_and_makes_nothing_twice(
    transactional_db: None, world: World, technician: User, qa_manager: User
) -> None:
    """The chunk holds its lots; lot_assess of one of them waits, then finds its fingerprint
    unchanged: one new assessment per lot, whoever comes second."""
    from tests.concurrency import start_in_thread, wait_for_a_lock_wait

    reference_data_ensure()
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
    lots = _assessed_lots(technician, lab, 2)
    with TestCase.captureOnCommitCallbacks(execute=False):
        specification_load(actor=qa_manager, data=dict(SPEC_V2), file_name="spec-v2.json")
    errors: list[BaseException] = []
    holding, release = threading.Event(), threading.Event()

    def chunk() -> None:
        try:
            with transaction.atomic():
                lots_assess(lot_ids=[lot.pk for lot in lots])
                holding.set()
                release.wait(timeout=60)
        except BaseException as error:
            errors.append(error)
            holding.set()

    def assess_one() -> None:
        try:
            lot_assess(lot_id=lots[1].pk)
        except BaseException as error:
            errors.append(error)

    first = start_in_thread(chunk)
    assert holding.wait(timeout=60)
    second = start_in_thread(assess_one)
    try:
        wait_for_a_lock_wait(waiting_for="lot_assess")
    finally:
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert not errors, errors
    assert [LotAssessment.objects.filter(lot=lot, specification__version=2).count() for lot in lots] == [1, 1]


@pytest.mark.postgres
def test_a_lot_that_cannot_be_assessed_is_counted_failed_and_the_rest_of_its_chunk_is_done(
    technician: User, qa_manager: User, lab: AssessmentLab, settings: Any
) -> None:
    """A result no assessment can use (a NaN stored by hand: PostgreSQL takes it, the chemistry
    refuses it) fails its chunk as a whole; the chunk is then assessed lot by lot, the bad lot is
    counted failed, and the reassessment ends "failed" with the others assessed."""
    from assays.models import Measurement

    settings.LIMS_REASSESS_CHUNK = 3
    good, bad, other = _assessed_lots(technician, lab, 3)
    Measurement.objects.filter(acquisition__sample__lot=bad, analyte__code="La").update(value=float("nan"))
    _load_v2(qa_manager, execute=True)
    reassessment = Reassessment.objects.get()
    assert (reassessment.status, reassessment.done_lots, reassessment.changed_lots, reassessment.failed_lots) == ("failed", 3, 2, 1)
    assert reassessment.finished_at is not None
    assert LotAssessment.objects.filter(lot__in=[good, other], specification__version=2).count() == 2
    assert not LotAssessment.objects.filter(lot=bad, specification__version=2).exists()
    assert reassessment.chunks.get().failed_lots == 1


@pytest.mark.postgres
def test_the_row_history_of_copied_assessments_names_the_reassessment(
    transactional_db: None, world: World, technician: User, qa_manager: User, settings: Any
) -> None:
    """The assessments a chunk writes with COPY are in pghistory's row history, with the chunk's
    context (who asked, why), as rows written by INSERT are. Committed for real: in one test
    transaction an earlier context would lend them its own."""
    from django.apps import apps

    settings.LIMS_REASSESS_CHUNK = 2
    reference_data_ensure()
    lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
    lots = _assessed_lots(technician, lab, 3)
    specification_load(actor=qa_manager, data=dict(SPEC_V2), file_name="spec-v2.json")
    reassessment = Reassessment.objects.get()
    assert reassessment.status == "done"
    new = list(LotAssessment.objects.filter(lot__in=lots, specification__version=2))
    assert len(new) == 3
    events = apps.get_model("assays", "LotAssessmentEvent").objects.filter(pgh_obj_id__in=[a.pk for a in new], pgh_label="insert")
    assert sorted(event.pgh_obj_id for event in events) == sorted(a.pk for a in new)
    for event in events.select_related("pgh_context"):
        assert event.status == "off_spec"
        assert event.outcome == LotAssessment.objects.get(pk=event.pgh_obj_id).outcome
        assert event.pgh_context is not None
        assert event.pgh_context.metadata["user"] == qa_manager.pk
        assert event.pgh_context.metadata["reason"].startswith(f"reassessment {reassessment.pk} of {PRODUCT}")


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_processes_a_reassessment_through_redis(
    transactional_db: None, world: World, technician: User, qa_manager: User, tmp_path: Path, settings: Any
) -> None:
    from lims.celery import app
    from tests.celery_worker import ROOT
    from tests.integration.test_celery_roundtrip import _database_url_of_the_test_database

    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    settings.LIMS_REASSESS_CHUNK = 2
    reference_data_ensure()
    queue = f"reassess-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_the_test_database(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LIMS_CELERY_QUEUE": queue,
        "LIMS_VAR_DIR": str(tmp_path),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "lims", "worker", "--pool=solo", "--queues", queue, "--hostname", f"{queue}@%h",
         "--without-gossip", "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    reassessment = None
    try:
        lab = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site)
        lots = [make_lot(lab, f"RW-{index}", samples=1) for index in range(3)]
        for lot in lots:
            run_import(actor=technician, data=results_csv(lot), file_name=f"{lot.code}.csv", instrument=lab.instrument, method=lab.method)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and worker.poll() is None:
            if LotAssessment.objects.filter(lot__in=lots).count() == len(lots):
                break
            time.sleep(0.1)
        specification_load(actor=qa_manager, data=dict(SPEC_V2), file_name="spec-v2.json")
        while time.monotonic() < deadline and worker.poll() is None:
            reassessment = Reassessment.objects.filter(product=lab.product).first()
            if reassessment is not None and reassessment.is_finished:
                break
            time.sleep(0.1)
    finally:
        app.conf.task_default_queue = default_queue
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert reassessment is not None, f"no reassessment; worker output:\n{output[-4000:]}"
    assert reassessment.is_finished, f"not finished; worker output:\n{output[-4000:]}"
    assert (reassessment.status, reassessment.total_lots, reassessment.done_lots, reassessment.changed_lots) == (
        ReassessmentStatus.DONE,
        3,
        3,
        3,
    )
    assert output.count("assays.tasks.reassess_lots") >= 2  # two chunks
    assert {LotAssessment.objects.filter(lot=lot).latest("assessed_at").status for lot in lots} == {"off_spec"}
