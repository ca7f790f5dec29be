"""Signing, numbering, amending and revoking certificates through the services (rendering is the
worker's and is tested with the PDF itself in test_certificate_rendering.py)."""

from __future__ import annotations

import time

import pyotp
import pytest
from django.db import IntegrityError, transaction

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    AuditEvent,
    Certificate,
    CertificateCounter,
    CertificateKind,
    CertificateStatus,
    LabProfile,
    LotAllocation,
    LotAssessment,
    LotStatus,
    Measurement,
    SignatureMeaning,
    TotpDevice,
)
from assays.services.assessment import _certified as certified_assessments
from assays.services.certificates import (
    CertificationRefusedError,
    certificate_issue,
    certificate_reissue,
    certificate_revoke,
    certificates_issue_bulk,
    number_allocate,
)
from assays.services.measurements import CertifiedDataError, measurement_delete, measurement_update
from assays.services.signing_auth import ReauthenticationError
from tests.certificate_setup import CertificateLab, feedstock_lot, make_certificate_lab, more_conforming_lots
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(technician, qa_manager, world: World) -> CertificateLab:
    return make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)


def test_qa_signs_a_conforming_lot_which_is_released_with_a_frozen_assessment(setup: CertificateLab, qa) -> None:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    assert certificate.number.startswith(f"COA-{certificate.issued_at.year}-")
    assert certificate.revision == 0
    assert certificate.kind == CertificateKind.CERTIFICATE
    assert certificate.status == CertificateStatus.RENDERING
    assert certificate.signature_meaning == SignatureMeaning.APPROVED_FOR_RELEASE
    assert certificate.signer_role == "QA"
    assert len(certificate.verification_token or "") == 43
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.RELEASED
    assessment = LotAssessment.objects.get(pk=certificate.assessment_id)
    assert assessment.is_frozen
    # The payload carries what §6 asks for, as the report rounds it.
    payload = certificate.payload
    assert payload["number"] == certificate.number
    assert payload["lot"]["code"] == setup.conforming.code
    assert payload["lot"]["quantity_kg"] == "500"
    assert {row["quantity"] for row in payload["results"]} >= {"Fe2O3", "CeO2"}
    assert any(row["censored"] and row["result"].startswith("< LOD") for row in payload["results"])
    assert payload["signatures"][0]["meaning"] == "Approved for release"
    assert payload["verification_url"].endswith(f"/verify/{certificate.verification_token}/")
    assert AuditEvent.objects.filter(entity="assays.certificate", object_id=str(certificate.pk), action="create").exists()


def test_a_wrong_password_signs_nothing_and_uses_no_number(setup: CertificateLab, qa) -> None:
    with pytest.raises(ReauthenticationError, match="password"):
        certificate_issue(actor=qa, lot=setup.conforming, password="not-my-password")
    assert not Certificate.objects.exists()
    assert not CertificateCounter.objects.filter(last_value__gt=0).exists()
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.ASSESSED


def test_numbers_are_consecutive_per_year_and_kind(setup: CertificateLab, qa, technician) -> None:
    lots = more_conforming_lots(setup, technician, count=3)
    numbers = [certificate_issue(actor=qa, lot=lot, password=PASSWORD).number for lot in lots]
    year = numbers[0].split("-")[1]
    assert numbers == [f"COA-{year}-0001", f"COA-{year}-0002", f"COA-{year}-0003"]
    with transaction.atomic():
        assert number_allocate(kind=CertificateKind.REPORT, year=2031) == "ROA-2031-0001"


def test_a_rolled_back_issuance_gives_its_number_back(setup: CertificateLab, qa) -> None:
    def sign_then_fail() -> None:
        with transaction.atomic():
            number_allocate(kind=CertificateKind.CERTIFICATE, year=2030)
            raise RuntimeError("the signing transaction failed later")

    with pytest.raises(RuntimeError):
        sign_then_fail()
    with transaction.atomic():
        assert number_allocate(kind=CertificateKind.CERTIFICATE, year=2030) == "COA-2030-0001"


def test_an_off_spec_lot_is_refused_to_qa_and_issued_under_concession_by_a_qa_manager(setup: CertificateLab, qa, qa_manager) -> None:
    with pytest.raises(CertificationRefusedError, match="off specification"):
        certificate_issue(actor=qa, lot=setup.off_spec, password=PASSWORD)
    with pytest.raises(PermissionDeniedError, match="QA manager"):
        certificate_issue(actor=qa, lot=setup.off_spec, password=PASSWORD, concession_reason="customer accepts Fe up to 120 mg/kg")
    certificate = certificate_issue(
        actor=qa_manager, lot=setup.off_spec, password=PASSWORD, concession_reason="customer accepts Fe up to 120 mg/kg"
    )
    assert certificate.signature_meaning == SignatureMeaning.APPROVED_UNDER_CONCESSION
    assert certificate.payload["concession"] == "customer accepts Fe up to 120 mg/kg"
    setup.off_spec.refresh_from_db()
    assert setup.off_spec.status == LotStatus.RELEASED
    # Released only through assessed: both transitions are in the trail, the concession as the reason.
    reasons = list(
        AuditEvent.objects.filter(entity="assays.lot", object_id=str(setup.off_spec.pk), action="transition").values_list(
            "reason", flat=True
        )
    )
    assert any("concession" in reason for reason in reasons)


def test_roles_and_sites_limit_who_signs(setup: CertificateLab, technician, lab_admin, us_technician, world: World) -> None:
    from assays.roles import Role
    from tests.factories import UserFactory

    with pytest.raises(PermissionDeniedError):
        certificate_issue(actor=technician, lot=setup.conforming, password=PASSWORD)
    with pytest.raises(PermissionDeniedError):
        certificate_issue(actor=lab_admin, lot=setup.conforming, password=PASSWORD)
    us_qa = UserFactory(username="qa_us", roles=[Role.QA], sites=[world.us_site])
    with pytest.raises(NotFoundError):
        certificate_issue(actor=us_qa, lot=setup.conforming, password=PASSWORD)


def test_a_lot_gets_one_live_certificate_per_customer(setup: CertificateLab, qa, world: World) -> None:
    certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    with pytest.raises(CertificationRefusedError, match="amend"):
        certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    with pytest.raises(CertificationRefusedError, match="not allocated"):
        certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD, customer=world.partner_a)
    LotAllocation.objects.create(lot=setup.conforming, customer=world.partner_a, mass_kg=200, reference="PO-77")
    for_customer = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD, customer=world.partner_a)
    assert for_customer.payload["customer"] == {"name": world.partner_a.name, "country": "DE", "reference": "PO-77"}
    assert for_customer.payload["lot"]["quantity_kg"] == "200"


def test_a_feedstock_lot_gets_a_report_of_analysis(setup: CertificateLab, qa, technician, qa_manager) -> None:
    lot = feedstock_lot(setup=setup, technician=technician, qa_manager=qa_manager)
    report = certificate_issue(actor=qa, lot=lot, password=PASSWORD)
    assert report.kind == CertificateKind.REPORT
    assert report.number.startswith("ROA-")
    assert report.signature_meaning == SignatureMeaning.REPORTED
    assert report.payload["title"] == "Report of analysis"
    assert all(row["verdict"] == "" for row in report.payload["results"])
    assert report.payload["decision_rule"].startswith("none")


def test_a_reissue_supersedes_with_what_changed_and_why(setup: CertificateLab, qa) -> None:
    first = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    with pytest.raises(CertificationRefusedError, match="only an issued certificate"):
        certificate_reissue(actor=qa, certificate=first, password=PASSWORD, reason="typo", change_summary="customer name")
    Certificate.objects.filter(pk=first.pk).update(status=CertificateStatus.ISSUED, pdf_sha256="a" * 64)
    with pytest.raises(DomainError, match="what changed and why"):
        certificate_reissue(actor=qa, certificate=first, password=PASSWORD, reason="", change_summary="")
    second = certificate_reissue(
        actor=qa, certificate=first, password=PASSWORD, reason="customer asked for the PO", change_summary="added the PO"
    )
    first.refresh_from_db()
    assert first.status == CertificateStatus.SUPERSEDED
    assert (second.number, second.revision, second.supersedes_id) == (first.number, 1, first.pk)
    assert second.payload["supersedes"] == {
        "number": first.number,
        "revision": 0,
        "change": "added the PO",
        "reason": "customer asked for the PO",
    }
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.RELEASED


def test_revocation_is_a_qa_manager_decision_and_puts_the_lot_back_on_hold(setup: CertificateLab, qa, qa_manager) -> None:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    with pytest.raises(PermissionDeniedError):
        certificate_revoke(actor=qa, certificate=certificate, password=PASSWORD, reason="wrong lot")
    with pytest.raises(DomainError, match="reason"):
        certificate_revoke(actor=qa_manager, certificate=certificate, password=PASSWORD, reason=" ")
    assert setup.conforming.pk in certified_assessments([setup.conforming.pk])
    revoked = certificate_revoke(actor=qa_manager, certificate=certificate, password=PASSWORD, reason="sample mix-up found")
    # A revoked certificate no longer speaks for the lot: later assessments are not held against it.
    assert certified_assessments([setup.conforming.pk]) == {}
    assert revoked.status == CertificateStatus.REVOKED
    assert revoked.revoked_by == qa_manager
    setup.conforming.refresh_from_db()
    assert setup.conforming.status == LotStatus.ON_HOLD
    with pytest.raises(CertificationRefusedError):
        certificate_revoke(actor=qa_manager, certificate=revoked, password=PASSWORD, reason="again")


def test_certified_results_cannot_be_edited_and_the_message_points_to_amendment(setup: CertificateLab, qa, technician) -> None:
    certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    measurement = Measurement.objects.filter(acquisition__sample__lot=setup.conforming).first()
    assert measurement is not None
    with pytest.raises(CertifiedDataError, match="new revision"):
        measurement_update(actor=technician, measurements=[measurement], changes={"value": 1.0}, reason="typo")
    with pytest.raises(CertifiedDataError, match="certified by COA-"):
        measurement_delete(actor=technician, measurements=[measurement], reason="typo")
    # Results of lots without a certificate still take corrections.
    other = Measurement.objects.filter(acquisition__sample__lot=setup.off_spec).first()
    assert other is not None
    measurement_update(actor=technician, measurements=[other], changes={"value": other.value}, reason="checked")


def test_the_database_refuses_to_change_a_stored_certificate(setup: CertificateLab, qa) -> None:
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    # While it renders, the worker may still store the PDF …
    Certificate.objects.filter(pk=certificate.pk).update(pdf_sha256="b" * 64, status=CertificateStatus.ISSUED)
    # … and from then on nothing certified changes, whatever the path.
    for change in ({"payload": {"number": "forged"}}, {"number": "COA-1999-0001"}, {"pdf_sha256": "c" * 64}, {"signer_name": "someone"}):
        with pytest.raises(IntegrityError, match="certificate"), transaction.atomic():
            Certificate.objects.filter(pk=certificate.pk).update(**change)
    with pytest.raises(IntegrityError, match="certificate"), transaction.atomic():
        Certificate.objects.filter(pk=certificate.pk).update(status=CertificateStatus.RENDERING)
    with pytest.raises(IntegrityError, match="certificate"), transaction.atomic():
        Certificate.objects.filter(pk=certificate.pk).delete()
    # Moving on to superseded or revoked stays possible.
    Certificate.objects.filter(pk=certificate.pk).update(status=CertificateStatus.SUPERSEDED)


def test_bulk_issuance_reauthenticates_once_and_lists_what_it_skipped(setup: CertificateLab, qa, technician) -> None:
    lots = more_conforming_lots(setup, technician, count=2)
    with pytest.raises(ReauthenticationError):
        certificates_issue_bulk(actor=qa, lots=[*lots, setup.off_spec], password="wrong")
    outcome = certificates_issue_bulk(actor=qa, lots=[*lots, setup.off_spec], password=PASSWORD)
    assert [c.lot.code for c in outcome.issued] == [lot.code for lot in lots]
    assert outcome.skipped == [{"lot": setup.off_spec.code, "reason": outcome.skipped[0]["reason"]}]
    assert "off specification" in outcome.skipped[0]["reason"]
    assert outcome.batch.total == 2
    assert Certificate.objects.filter(batch=outcome.batch).count() == 2


def test_a_lab_that_asks_for_totp_refuses_a_signature_without_a_fresh_code(setup: CertificateLab, qa) -> None:
    LabProfile.objects.update_or_create(singleton=True, defaults={"name": "Lab", "require_totp": True})
    with pytest.raises(ReauthenticationError, match="no authenticator"):
        certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    secret = pyotp.random_base32()
    TotpDevice.objects.create(user=qa, secret=secret)
    with pytest.raises(ReauthenticationError, match="authenticator code"):
        certificate_issue(
            actor=qa, lot=setup.conforming, password=PASSWORD, totp_code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
        )
    code = pyotp.TOTP(secret).now()
    certificate = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD, totp_code=code)
    assert certificate.pk is not None
    # The same code does not sign twice.
    device = TotpDevice.objects.get(user=qa)
    assert device.last_used_step >= int(time.time() // 30) - 1
