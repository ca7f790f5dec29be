"""Lot assessment end to end: an import is judged, its lots are assessed against their active
specification (through the task the judgement enqueues), flagged, put on hold and QA e-mailed;
an unchanged input makes no new assessment; a released lot's certified assessment stays frozen."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from assays.chemistry.fingerprints import inputs_fingerprint, inputs_fingerprint_version_1, may_be_version_1
from assays.chemistry.purity import model_uncertainty
from assays.models import (
    Analyte,
    AuditEvent,
    Certificate,
    Flag,
    FlagKind,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
    MethodChannel,
    Oxide,
    WorkerHeartbeat,
)
from assays.reference_data import reference_data_ensure
from assays.services.assessment import lot_assess, lots_results
from assays.services.runs import run_import
from tests.assessment_setup import make_assessment_lab, make_lot, results_csv
from tests.conftest import World
from tests.factories import LotFactory

pytestmark = pytest.mark.django_db

SPEC = {
    "product": "ND2O3-T",
    "name": "Test neodymium oxide",
    "source": "plant default",
    "main": ["Nd"],
    "basis": "as_received",
    "lines": [
        {"quantity": "relative_purity", "min": "99.9", "unit": "%"},
        {"quantity": "oxide", "element": "Fe", "oxide": "Fe2O3", "max": "50", "unit": "mg/kg"},
        {"quantity": "loi", "max": "1", "unit": "%"},
    ],
    "required_analytes": ["La", "Ce", "Pr", "Fe", "LOI"],
}


@pytest.fixture
def lab(world: World, qa_manager: User) -> dict[str, Any]:
    made = make_assessment_lab(qa_manager=qa_manager, site=world.uk_site, spec=SPEC, method_code="IMP-T", instrument_code="UK1-T")
    return {"product": made.product, "method": made.method, "instrument": made.instrument, "setup": made}


def _lot(world: World, lab: dict[str, Any], code: str, samples: int = 2) -> Lot:
    return make_lot(lab["setup"], code, samples=samples)


def _results(lot: Lot, *, fe: float = 10.0, loi: float | None = 0.3) -> bytes:
    return results_csv(lot, fe=fe, loi=loi)


def _import(technician: User, lab: dict[str, Any], data: bytes) -> None:
    """Import, and let the commit's tasks run (judgement, then the lots' assessment) as a worker would."""
    name = hashlib.sha256(data).hexdigest()[:12] + ".csv"
    with TestCase.captureOnCommitCallbacks(execute=True):
        run_import(actor=technician, data=data, file_name=name, instrument=lab["instrument"], method=lab["method"])


def _fe2o3(w_fe: float) -> float:
    return w_fe * Oxide.objects.get(formula="Fe2O3").factor


def test_an_import_is_judged_then_its_lot_assessed_conforming_with_statistics(world: World, technician: User, lab: dict[str, Any]) -> None:
    lot = _lot(world, lab, "ND-OK")
    _import(technician, lab, _results(lot))
    assessment = LotAssessment.objects.get(lot=lot)
    assert assessment.status == "conforming", assessment.reasons
    assert assessment.n_samples == 2
    assert (assessment.specification.product.code, assessment.specification.version) == ("ND2O3-T", 1)
    lines = {line["label"]: line for line in assessment.outcome["lines"]}
    fe = lines["Fe2O3"]
    # Independently: Fe 10 and 11 mg/kg -> Fe2O3 per sample, mean, s, U = 2 sqrt(u_meas^2 + s^2/n).
    values = [_fe2o3(10.0), _fe2o3(11.0)]
    mean = sum(values) / 2
    assert fe["best"] == pytest.approx(mean)
    s = abs(values[0] - values[1]) / 2**0.5
    factor = Oxide.objects.get(formula="Fe2O3").factor
    u_meas = (model_uncertainty(value=10.0, a=0.5, b=0.05) + model_uncertainty(value=11.0, a=0.5, b=0.05)) / 2 * factor
    assert fe["expanded_u"] == pytest.approx(2 * (u_meas**2 + s**2 / 2) ** 0.5)
    assert fe["verdict"] == "pass"
    # Relative purity by difference: only the rare-earth impurities (La2O3, CeO2 at LOD/2, Pr6O11) count.
    purity = lines["relative_purity"]
    assert 99.99 < purity["best"] < 100
    assert purity["judged_value"] == purity["upper"] <= purity["best"] <= purity["lower"]  # worst case: censored Ce at its LOD
    lot.refresh_from_db()
    assert (lot.status, lot.assessment_stale_since) == (LotStatus.ASSESSED, None)
    assert not Flag.objects.filter(lot=lot).exists()
    # Same inputs: no new assessment.
    assert lot_assess(lot_id=lot.pk) == assessment
    assert LotAssessment.objects.filter(lot=lot).count() == 1


def test_a_lot_assessed_under_a_version_1_fingerprint_is_assessed_again_only_if_its_inputs_changed(
    world: World, technician: User, lab: dict[str, Any]
) -> None:
    lot = _lot(world, lab, "ND-FP1")
    _import(technician, lab, _results(lot))
    written = LotAssessment.objects.get(lot=lot)
    samples = lots_results(lot_ids=[lot.pk])[lot.pk].samples
    spec_id = written.specification_id
    assert written.inputs_fingerprint == inputs_fingerprint(spec_id=spec_id, samples=samples)
    assert not may_be_version_1(written.inputs_fingerprint)

    def assessed_before_version_2(fingerprint: str) -> LotAssessment:
        return LotAssessment.objects.create(
            lot=lot,
            specification=written.specification,
            status=written.status,
            inputs_fingerprint=fingerprint,
            assessed_at=timezone.now(),
            outcome=written.outcome,
            summary=written.summary,
        )

    # The same inputs, fingerprinted as before version 2: unchanged, nothing new.
    same = assessed_before_version_2(inputs_fingerprint_version_1(spec_id=spec_id, samples=samples))
    assert lot_assess(lot_id=lot.pk) == same
    # Other inputs (one sample fewer) in version 1: assessed again, now in version 2.
    assessed_before_version_2(inputs_fingerprint_version_1(spec_id=spec_id, samples=samples[:1]))
    again = lot_assess(lot_id=lot.pk)
    assert again is not None
    assert again.pk > same.pk
    assert again.inputs_fingerprint == written.inputs_fingerprint
    assert LotAssessment.objects.filter(lot=lot).count() == 4


def test_an_off_spec_lot_is_flagged_with_its_failing_line_put_on_hold_and_qa_emailed(
    world: World, technician: User, qa: User, lab: dict[str, Any]
) -> None:
    User.objects.filter(pk=qa.pk).update(email="qa@plant.example")
    lot = _lot(world, lab, "ND-FE")
    _import(technician, lab, _results(lot, fe=60.0))
    assessment = LotAssessment.objects.get(lot=lot)
    assert assessment.status == "off_spec"
    flag = Flag.objects.get(lot=lot, kind=FlagKind.OFF_SPEC)
    [line] = flag.details["lines"]
    assert (line["label"], line["verdict"], line["maximum"]) == ("Fe2O3", "fail", "50")
    assert line["judged_value"] == pytest.approx((_fe2o3(60.0) + _fe2o3(61.0)) / 2)
    lot.refresh_from_db()
    assert lot.status == LotStatus.ON_HOLD
    [message] = mail.outbox
    # QA of the lot's site and the QA managers (of every site); not QA elsewhere, not technicians.
    assert sorted(message.to) == sorted(["qa@plant.example", User.objects.get(username="qa_manager").email])
    assert "ND-FE" in message.subject
    assert "Fe2O3" in message.body
    assert AuditEvent.objects.filter(entity="assays.lot", object_id=str(lot.pk), action="transition", after={"status": "on_hold"}).exists()


def test_a_required_analyte_missing_makes_the_lot_insufficient_never_zero(world: World, technician: User, lab: dict[str, Any]) -> None:
    lot = _lot(world, lab, "ND-NOLOI")
    _import(technician, lab, _results(lot, loi=None))
    assessment = LotAssessment.objects.get(lot=lot)
    assert assessment.status == "insufficient_data"
    assert assessment.outcome["missing"] == {"ND-NOLOI-S1": ["LOI"], "ND-NOLOI-S2": ["LOI"]}
    assert Flag.objects.get(lot=lot, kind=FlagKind.INSUFFICIENT_DATA).details["missing"]["ND-NOLOI-S1"] == ["LOI"]
    lot.refresh_from_db()
    assert lot.status == LotStatus.ON_HOLD


def test_a_released_lot_keeps_its_certified_assessment_and_a_differing_one_raises_a_flag(
    world: World, technician: User, lab: dict[str, Any]
) -> None:
    lot = _lot(world, lab, "ND-REL", samples=1)
    _import(technician, lab, _results(lot))
    certified = LotAssessment.objects.get(lot=lot)
    LotAssessment.objects.filter(pk=certified.pk).update(is_frozen=True)
    Lot.objects.filter(pk=lot.pk).update(status=LotStatus.RELEASED)
    # The certificate that rests on it, still live (being rendered).
    Certificate.objects.create(number="COA-2026-0099", lot=lot, issuing_site=lot.site, assessment=certified, issued_at=timezone.now())
    # A re-run with more iron: the newest accepted result supersedes.
    _import(technician, lab, _results(lot, fe=80.0))
    newest = LotAssessment.objects.filter(lot=lot).latest("assessed_at")
    assert newest.pk != certified.pk
    assert (newest.status, newest.differs_from_certified) == ("off_spec", True)
    certified.refresh_from_db()
    assert (certified.status, certified.is_frozen) == ("conforming", True)
    assert Flag.objects.filter(lot=lot, kind=FlagKind.DIFFERS_FROM_CERTIFIED).count() == 1
    lot.refresh_from_db()
    assert lot.status == LotStatus.RELEASED


def test_the_minute_sweep_assesses_lots_left_stale_and_the_cli_prints_json(
    world: World, technician: User, lab: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    lot = _lot(world, lab, "ND-LOST", samples=1)
    data = _results(lot)
    # The judgement's message to assess the lot is lost: only the stale mark remains.
    with django_capture_on_commit_callbacks(execute=False):
        run_import(actor=technician, data=data, file_name="lost.csv", instrument=lab["instrument"], method=lab["method"])
    from assays.services.run_qc import run_evaluate

    run_id = lot.samples.get().acquisitions.get().run_id
    with django_capture_on_commit_callbacks(execute=False):
        run_evaluate(run_id=run_id)
    lot.refresh_from_db()
    assert lot.assessment_stale_since is not None
    assert not LotAssessment.objects.filter(lot=lot).exists()
    from assays.tasks import assess_stale_lots

    # In the embedded mode (no broker, no worker) the embedded beat runs that sweep: once here.
    call_command("embedded_beat", "--once", stdout=io.StringIO())
    assert LotAssessment.objects.get(lot=lot).status == "conforming"
    assert Lot.objects.get(pk=lot.pk).assessment_stale_since is None
    assert WorkerHeartbeat.objects.exists()  # the schedule's other tasks ran too
    assert assess_stale_lots.apply().get() == []  # nothing left stale

    out = io.StringIO()
    call_command("assess_lot", "ND-LOST", "--json", stdout=out)
    printed = json.loads(out.getvalue())
    assert (printed["lot"], printed["product"], printed["spec_version"], printed["status"], printed["n_samples"]) == (
        "ND-LOST",
        "ND2O3-T",
        1,
        "conforming",
        1,
    )
    assert printed["relative_purity_pct"] == pytest.approx(LotAssessment.objects.get(lot=lot).summary["relative_purity_pct"])
    assert printed["oxides_mg_kg"]["Fe2O3"] == pytest.approx(_fe2o3(10.0))
    assert {line["quantity"] for line in printed["lines"]} == {"relative_purity", "oxide", "loi"}
    assert all({"quantity", "value", "limit", "verdict"} <= set(line) for line in printed["lines"])


def test_the_embedded_beat_refuses_where_a_broker_and_real_workers_do_its_job() -> None:
    from django.core.management.base import CommandError

    from lims.celery import app

    app.conf.task_always_eager = False
    try:
        with pytest.raises(CommandError, match="celery -A lims beat"):
            call_command("embedded_beat", "--once", stdout=io.StringIO())
    finally:
        app.conf.task_always_eager = True  # as every test but the Redis ones has it (conftest)
    assert not WorkerHeartbeat.objects.exists()


def test_a_lot_without_a_specification_is_not_assessed(world: World, technician: User, lab: dict[str, Any]) -> None:
    lot = LotFactory(code="FS-NOSPEC", site=world.uk_site, kind=LotKind.FEEDSTOCK)
    Lot.objects.filter(pk=lot.pk).update(assessment_stale_since=timezone.now())
    assert lot_assess(lot_id=lot.pk) is None
    assert not LotAssessment.objects.filter(lot=lot).exists()
    # Nothing to judge by: the stale mark is cleared, or the minute sweep would retry it forever.
    assert Lot.objects.get(pk=lot.pk).assessment_stale_since is None
    assert lot_assess(lot_id=10**9) is None


@pytest.mark.redis
@pytest.mark.postgres
def test_through_redis_and_a_real_worker_an_imports_lot_assessment_appears(
    transactional_db: None, world: World, technician: User, lab: dict[str, Any], tmp_path: Path
) -> None:
    """The stack mode end to end: the import commits, its judgement and then its lot's assessment
    run in a separate worker process fed by Redis, and the assessment appears in the database."""
    from django.conf import settings

    from lims.celery import app
    from tests.celery_worker import ROOT
    from tests.integration.test_celery_roundtrip import _database_url_of_the_test_database

    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    reference_data_ensure()  # a transactional test starts from a flushed database
    queue = f"assess-{uuid.uuid4().hex}"  # a queue of its own: no stale message can answer
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
    try:
        lot = _lot(world, lab, "ND-STACK", samples=1)
        started = time.monotonic()
        run_import(actor=technician, data=_results(lot), file_name="stack.csv", instrument=lab["instrument"], method=lab["method"])
        deadline = started + 90
        assessment = None
        while time.monotonic() < deadline and worker.poll() is None:
            assessment = LotAssessment.objects.filter(lot=lot).first()
            if assessment is not None:
                break
            time.sleep(0.1)
        latency = time.monotonic() - started
    finally:
        app.conf.task_default_queue = default_queue
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert assessment is not None, f"no assessment appeared; worker output:\n{output[-4000:]}"
    assert assessment.status == "conforming"
    assert "assays.tasks.evaluate_run" in output
    assert "assays.tasks.assess_lot" in output
    print(f"import commit -> assessment visible: {latency:.2f} s")


def test_loi_carries_the_uncertainty_of_its_method_channel_in_percent(world: World, technician: User, lab: dict[str, Any]) -> None:
    # LOI is reported in %; its channel's model, like every channel's, has a in mg/kg and b relative.
    lot = _lot(world, lab, "ND-LOI-U")
    _import(technician, lab, _results(lot, loi=0.3))
    [without] = {sample.loi_percent.u for sample in lots_results(lot_ids=[lot.pk])[lot.pk].samples if sample.loi_percent}
    assert without is None  # no channel for LOI in the method: unknown, never zero
    loi = Analyte.objects.get(code="LOI")
    MethodChannel.objects.create(method=lab["method"], analyte=loi, unit="%", uncertainty_a=300.0, uncertainty_b=0.05)
    samples = lots_results(lot_ids=[lot.pk])[lot.pk].samples
    expected = model_uncertainty(value=0.3 * 10_000, a=300.0, b=0.05) / 10_000  # in mg/kg, then as %
    assert [sample.loi_percent.u for sample in samples if sample.loi_percent] == [pytest.approx(expected), pytest.approx(expected)]
    # The LOI line's U follows: both samples read 0.3 %, so no spread, U = 2 u.
    before = LotAssessment.objects.get(lot=lot)
    assert next(line for line in before.outcome["lines"] if line["quantity"] == "loi")["expanded_u"] is None
    after = lot_assess(lot_id=lot.pk)
    assert after is not None
    assert after.pk != before.pk  # the inputs changed: a new assessment
    assert next(line for line in after.outcome["lines"] if line["quantity"] == "loi")["expanded_u"] == pytest.approx(2 * expected)
