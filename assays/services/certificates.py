"""Certificates of analysis (and feedstock reports of analysis): sign, number, render, amend, revoke.

The flow (DESIGN.md, data flow step 5; REO-ASSAY.md §6):

1. QA signs: ``certificate_issue`` re-authenticates the signer (21 CFR 11.200: the password, and
   a TOTP code when the lab asks for one), checks the lot may be certified, takes the next number
   under a row lock (gapless per prefix and year), freezes the assessment it rests on and the
   certified data (``payload``), records the signature's meaning and releases the lot. All in one
   transaction: a refused signature leaves no number used and nothing half-written.
2. A worker renders and signs the PDF (``certificate_render``), stores it once with its SHA-256;
   from then on the database refuses any change to what was certified
   (``assays.certificate_guard``).
3. Amendment is a reissue: a new revision of the same number, which supersedes the old one and
   says what changed and why. Revocation keeps the record, says who, when and why, and returns
   the lot to hold when no live certificate is left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    NUMBER_PREFIX,
    AssessmentStatus,
    AuditAction,
    Certificate,
    CertificateBatch,
    CertificateCounter,
    CertificateKind,
    CertificateStatus,
    Flag,
    FlagStatus,
    LabProfile,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
    Partner,
    SignatureMeaning,
    WebhookEvent,
)
from assays.permissions import Capability, can
from assays.roles import Role, has_role
from assays.selectors.scoping import lot_visibility
from assays.services.audit import audit_record, audited_context, snapshot
from assays.services.lots import lot_transition
from assays.services.signing_auth import signer_reauthenticate
from assays.services.webhooks import webhook_events_for_certificate

LIVE_STATUSES = (CertificateStatus.RENDERING, CertificateStatus.ISSUED)


class CertificationRefusedError(DomainError):
    """The lot cannot be certified as asked; the message says why."""


def lab_profile() -> LabProfile:
    """The lab's certificate header and signing settings. Until a lab admin fills them in, an unsaved
    default: reading a page never writes a row."""
    return LabProfile.objects.first() or LabProfile(name="Laboratory")


def number_allocate(*, kind: CertificateKind, year: int) -> str:
    """The next number of ``kind`` in ``year``: COA-2026-0001, … Must run in the issuing transaction.

    The counter row is created if missing (a conflict-ignoring insert, so two first issuers of a
    year do not collide), then locked: a second issuer waits until the first commits or rolls
    back, so numbers are unique and a rolled-back issuance gives its number back (gapless).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a certificate number is taken inside the issuing transaction")
    prefix = NUMBER_PREFIX[kind]
    CertificateCounter.objects.bulk_create([CertificateCounter(prefix=prefix, year=year, last_value=0)], ignore_conflicts=True)
    counter = CertificateCounter.objects.select_for_update().get(prefix=prefix, year=year)
    counter.last_value = F("last_value") + 1
    counter.save(update_fields=["last_value"])
    counter.refresh_from_db(fields=["last_value"])
    return f"{prefix}-{year}-{counter.last_value:04d}"


@dataclass(frozen=True, slots=True)
class Eligibility:
    kind: CertificateKind
    assessment: LotAssessment
    meaning: SignatureMeaning


def _check_can_sign(actor: User, lot: Lot) -> None:
    if not can(actor, Capability.SIGN_CERTIFICATES):
        raise PermissionDeniedError("only QA signs certificates")
    if not Lot.objects.filter(pk=lot.pk).filter(lot_visibility(actor=actor)).exists():
        raise NotFoundError("no such lot")


def certificate_eligibility(*, actor: User, lot: Lot, concession_reason: str = "", customer: Partner | None = None) -> Eligibility:
    """Whether ``lot`` may be certified now, and as what; raises with the reason when not."""
    if lot.status == LotStatus.REJECTED:
        raise CertificationRefusedError(f"lot {lot.code} is rejected: it cannot be certified")
    if lot.assessment_stale_since is not None:
        raise CertificationRefusedError(f"lot {lot.code} has results newer than its assessment: wait for the assessment (or assess it now)")
    assessment = LotAssessment.objects.filter(lot=lot).order_by("-assessed_at", "-id").first()
    if assessment is None:
        raise CertificationRefusedError(f"lot {lot.code} has not been assessed")
    live = Certificate.objects.filter(lot=lot, status__in=LIVE_STATUSES, customer=customer)
    if live.exists():
        number = live.first()
        raise CertificationRefusedError(
            f"lot {lot.code} already has {number} for this customer: amend it (reissue) instead of issuing another"
        )
    kind = CertificateKind.REPORT if lot.kind == LotKind.FEEDSTOCK else CertificateKind.CERTIFICATE
    good = AssessmentStatus.NO_VERDICT if kind == CertificateKind.REPORT else AssessmentStatus.CONFORMING
    open_flags = list(Flag.objects.filter(lot=lot, status__in=(FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED)).values_list("kind", flat=True))
    if assessment.status == good and not open_flags and lot.status in (LotStatus.ASSESSED, LotStatus.RELEASED):
        meaning = SignatureMeaning.REPORTED if kind == CertificateKind.REPORT else SignatureMeaning.APPROVED_FOR_RELEASE
        return Eligibility(kind, assessment, meaning)
    problems = []
    if assessment.status != good:
        problems.append(f"its assessment is {assessment.get_status_display().lower()}")
    if open_flags:
        problems.append(f"it has {len(open_flags)} unresolved flag(s) ({', '.join(sorted(set(open_flags)))})")
    if lot.status not in (LotStatus.ASSESSED, LotStatus.RELEASED, LotStatus.ON_HOLD):
        problems.append(f"it is {lot.get_status_display().lower()}")
    why = "; ".join(problems) or f"it is {lot.get_status_display().lower()}"
    if not concession_reason.strip():
        raise CertificationRefusedError(
            f"lot {lot.code} cannot be certified: {why}. Only a QA manager may issue under concession, with a reason"
        )
    if not has_role(actor, Role.QA_MANAGER):
        raise PermissionDeniedError(f"lot {lot.code} cannot be certified: {why}. Only a QA manager may issue under concession")
    if lot.status not in (LotStatus.ASSESSED, LotStatus.RELEASED, LotStatus.ON_HOLD):
        raise CertificationRefusedError(f"lot {lot.code} cannot be certified: {why}")
    return Eligibility(kind, assessment, SignatureMeaning.APPROVED_UNDER_CONCESSION)


def _verification_token() -> str:
    # 256 bits from the OS's generator: unguessable, URL-safe, 43 characters.
    return secrets.token_urlsafe(32)


def _freeze(assessment: LotAssessment, *, actor: User, reason: str) -> None:
    if assessment.is_frozen:
        return
    LotAssessment.objects.filter(pk=assessment.pk).update(is_frozen=True)
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=assessment, reason=reason, before={"is_frozen": False}, after={"is_frozen": True}
    )


def _create(
    *,
    actor: User,
    lot: Lot,
    eligibility: Eligibility,
    customer: Partner | None,
    concession_reason: str,
    supersedes: Certificate | None = None,
    change_summary: str = "",
    revision_reason: str = "",
    batch: CertificateBatch | None = None,
) -> Certificate:
    """The certificate row at the moment of signing, with its frozen payload; the render follows on commit."""
    from assays.selectors.certificate_payload import certificate_payload  # the payload reads many aggregates

    now = timezone.now()
    if supersedes is None:
        number, revision = number_allocate(kind=eligibility.kind, year=now.year), 0
    else:
        number, revision = supersedes.number, supersedes.revision + 1
    certificate = Certificate(
        kind=eligibility.kind,
        number=number,
        revision=revision,
        lot=lot,
        issuing_site=lot.site,
        customer=customer,
        assessment=eligibility.assessment,
        status=CertificateStatus.RENDERING,
        issued_at=now,
        issued_by=actor,
        signer_name=actor.get_full_name() or actor.get_username(),
        signer_role=_signing_role(actor),
        signature_meaning=eligibility.meaning,
        concession_reason=concession_reason.strip() if eligibility.meaning == SignatureMeaning.APPROVED_UNDER_CONCESSION else "",
        supersedes=supersedes,
        change_summary=change_summary.strip(),
        revision_reason=revision_reason.strip(),
        verification_token=_verification_token(),
        batch=batch,
    )
    certificate.payload = certificate_payload(certificate=certificate, profile=lab_profile())
    certificate.save()
    return certificate


def _signing_role(actor: User) -> str:
    for role in (Role.QA_MANAGER, Role.QA):
        if has_role(actor, role):
            return role.value
    return ""


def _release(lot: Lot, *, actor: User, certificate: Certificate) -> None:
    """Issuing releases the lot. Released is reached only through assessed (the state machine), so
    a lot on hold certified under concession passes through assessed, with the concession as reason."""
    locked = Lot.objects.select_for_update().get(pk=lot.pk)
    if locked.status == LotStatus.RELEASED:
        return
    if locked.status == LotStatus.ON_HOLD:
        locked = lot_transition(
            actor=actor, lot=locked, to=LotStatus.ASSESSED, reason=f"concession for {certificate}: {certificate.concession_reason}"
        )
    lot_transition(actor=actor, lot=locked, to=LotStatus.RELEASED, reason=f"{certificate} issued")


def _enqueue_render(certificate_id: int) -> None:
    from assays.tasks import render_certificate

    # Robust: a broker outage must not turn a committed signature into an error page; the sweep
    # (render_pending_certificates) picks up a certificate whose message was lost.
    transaction.on_commit(lambda: render_certificate.delay(certificate_id), robust=True)


@transaction.atomic
def certificate_issue(
    *,
    actor: User,
    lot: Lot,
    password: str,
    totp_code: str = "",
    customer: Partner | None = None,
    concession_reason: str = "",
    batch: CertificateBatch | None = None,
    reauthenticated: bool = False,
) -> Certificate:
    """QA signs the lot's certificate (or a feedstock lot's report of analysis) and releases the lot.

    ``reauthenticated`` is for the bulk action only, which re-authenticates once for all its lots.
    """
    _check_can_sign(actor, lot)
    if not reauthenticated:
        signer_reauthenticate(user=actor, password=password, totp_code=totp_code)
    locked = Lot.objects.select_for_update(of=("self",)).select_related("site", "product").get(pk=lot.pk)
    if customer is not None and not locked.allocations.filter(customer=customer).exists():
        raise CertificationRefusedError(f"lot {locked.code} is not allocated to {customer.name}: allocate it first")
    eligibility = certificate_eligibility(actor=actor, lot=locked, concession_reason=concession_reason, customer=customer)
    reason = f"signed: {eligibility.meaning.label.lower()}" + (
        f" (concession: {concession_reason.strip()})" if concession_reason.strip() else ""
    )
    with audited_context(actor=actor, reason=reason, lot=locked.pk):
        certificate = _create(
            actor=actor, lot=locked, eligibility=eligibility, customer=customer, concession_reason=concession_reason, batch=batch
        )
        _freeze(eligibility.assessment, actor=actor, reason=f"certified by {certificate}")
        audit_record(actor=actor, action=AuditAction.CREATE, instance=certificate, reason=reason, after=_audit_view(certificate))
        _release(locked, actor=actor, certificate=certificate)
    _enqueue_render(certificate.pk)
    return certificate


def _audit_view(certificate: Certificate) -> dict[str, object]:
    return {
        "number": certificate.number,
        "revision": certificate.revision,
        "kind": certificate.kind,
        "lot": certificate.lot.code,
        "assessment": certificate.assessment_id,
        "customer": certificate.customer.code if certificate.customer else None,
        "signer": certificate.signer_name,
        "role": certificate.signer_role,
        "meaning": certificate.signature_meaning,
        "concession_reason": certificate.concession_reason,
        "supersedes": str(certificate.supersedes) if certificate.supersedes else None,
        "status": certificate.status,
    }


@transaction.atomic
def certificate_reissue(
    *,
    actor: User,
    certificate: Certificate,
    password: str,
    totp_code: str = "",
    reason: str,
    change_summary: str,
    concession_reason: str = "",
) -> Certificate:
    """Amend: a new revision of the same number on the lot's latest assessment, superseding ``certificate``."""
    if not reason.strip() or not change_summary.strip():
        raise DomainError("a new revision says what changed and why")
    _check_can_sign(actor, certificate.lot)
    signer_reauthenticate(user=actor, password=password, totp_code=totp_code)
    old = Certificate.objects.select_for_update(of=("self",)).select_related("lot", "customer").get(pk=certificate.pk)
    if old.status != CertificateStatus.ISSUED:
        raise CertificationRefusedError(f"{old} is {old.get_status_display().lower()}: only an issued certificate is amended")
    lot = Lot.objects.select_for_update(of=("self",)).select_related("site", "product").get(pk=old.lot_id)
    # The old revision stops being live first, so the eligibility check does not count it.
    before = snapshot(old, fields=["status"])
    old.status = CertificateStatus.SUPERSEDED
    old.save(update_fields=["status"])
    eligibility = certificate_eligibility(actor=actor, lot=lot, concession_reason=concession_reason, customer=old.customer)
    with audited_context(actor=actor, reason=reason, lot=lot.pk):
        new = _create(
            actor=actor,
            lot=lot,
            eligibility=eligibility,
            customer=old.customer,
            concession_reason=concession_reason,
            supersedes=old,
            change_summary=change_summary,
            revision_reason=reason,
        )
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=old,
            reason=f"superseded by rev {new.revision}: {reason}",
            before=before,
            after={"status": old.status},
        )
        audit_record(actor=actor, action=AuditAction.CREATE, instance=new, reason=reason, after=_audit_view(new))
        _freeze(eligibility.assessment, actor=actor, reason=f"certified by {new}")
        _release(lot, actor=actor, certificate=new)
    _enqueue_render(new.pk)
    return new


@transaction.atomic
def certificate_revoke(*, actor: User, certificate: Certificate, password: str, totp_code: str = "", reason: str) -> Certificate:
    """Withdraw a certificate (QA manager): kept, marked revoked with who, when and why; the lot goes
    back on hold when it has no other live certificate."""
    if not can(actor, Capability.REVOKE_CERTIFICATES):
        raise PermissionDeniedError("only a QA manager revokes certificates")
    if not reason.strip():
        raise DomainError("a certificate is revoked only with a reason")
    if not Lot.objects.filter(pk=certificate.lot_id).filter(lot_visibility(actor=actor)).exists():
        raise NotFoundError("no such certificate")
    signer_reauthenticate(user=actor, password=password, totp_code=totp_code)
    locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
    if locked.status not in LIVE_STATUSES:
        raise CertificationRefusedError(f"{locked} is {locked.get_status_display().lower()}: it cannot be revoked")
    before = snapshot(locked, fields=["status", "revoked_at", "revocation_reason"])
    # Only partners who were told of the document are told of its revocation.
    was_issued = locked.status == CertificateStatus.ISSUED
    with audited_context(actor=actor, reason=reason, certificate=locked.pk):
        locked.status = CertificateStatus.REVOKED
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor
        locked.revocation_reason = reason.strip()
        locked.save(update_fields=["status", "revoked_at", "revoked_by", "revocation_reason"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=locked,
            reason=reason,
            before=before,
            after=snapshot(locked, fields=["status", "revoked_at", "revocation_reason"]),
        )
        lot = Lot.objects.select_for_update().get(pk=locked.lot_id)
        still_live = Certificate.objects.filter(lot=lot, status__in=LIVE_STATUSES).exists()
        if lot.status == LotStatus.RELEASED and not still_live:
            lot_transition(actor=actor, lot=lot, to=LotStatus.ON_HOLD, reason=f"{locked} revoked: {reason.strip()}")
        if was_issued:
            webhook_events_for_certificate(certificate=locked, event=WebhookEvent.CERTIFICATE_REVOKED)
    return locked


def certified_data_json(certificate: Certificate) -> bytes:
    """The certified data as JSON: the payload the PDF was rendered from, byte for byte the attachment."""
    from assays.certificates.payload import payload_to_json

    return payload_to_json(certificate.payload).encode()


def certified_results_csv(certificate: Certificate) -> bytes:
    """The certified result table as CSV (one row per reported quantity), as attached to the PDF."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        ["certificate", "revision", "lot", "quantity", "unit", "result", "expanded_uncertainty_k2", "limit", "verdict", "accredited"]
    )
    for row in certificate.payload.get("results", []):
        writer.writerow(
            [
                certificate.number,
                certificate.revision,
                certificate.lot.code,
                row.get("quantity", ""),
                row.get("unit", ""),
                row.get("result", ""),
                row.get("uncertainty", ""),
                row.get("limit", ""),
                row.get("verdict", ""),
                "yes" if row.get("accredited") else "no",
            ]
        )
    return buffer.getvalue().encode("utf-8")


def _signing_material() -> tuple[bytes, bytes]:
    """The lab's signing key and certificate (PEM) from the settings' paths."""
    key_path, cert_path = Path(settings.LIMS_SIGNING_KEY_FILE), Path(settings.LIMS_SIGNING_CERT_FILE)
    missing = [str(path) for path in (key_path, cert_path) if not path.is_file()]
    if missing:
        raise DomainError(
            f"no signing key or certificate at {', '.join(missing)}: set LIMS_SIGNING_KEY_FILE and LIMS_SIGNING_CERT_FILE "
            "(the demo seed makes a self-signed pair)"
        )
    return key_path.read_bytes(), cert_path.read_bytes()


def certificate_render(*, certificate_id: int) -> Certificate | None:
    """Render, sign and store the PDF of a signed certificate, once.

    Idempotent: a certificate whose PDF is stored is never rendered again (a redelivered task
    finds it done). The slow part (render and sign) runs outside any transaction; the row is then
    locked and re-checked, so two workers racing store one file.
    """
    from assays.certificates.render import render_certificate_pdf
    from assays.certificates.signing import sign_pdf

    certificate = Certificate.objects.select_related("lot", "issuing_site").filter(pk=certificate_id).first()
    if certificate is None or certificate.pdf_sha256:
        return certificate
    profile = lab_profile()
    attachments = {
        f"{certificate.number}-rev{certificate.revision}-results.csv": certified_results_csv(certificate),
        f"{certificate.number}-rev{certificate.revision}-data.json": certified_data_json(certificate),
    }
    try:
        pdf = render_certificate_pdf(payload=certificate.payload, attachments=attachments)
        key_pem, cert_pem = _signing_material()
        signed = sign_pdf(
            pdf=pdf,
            key_pem=key_pem,
            cert_pem=cert_pem,
            reason=f"{certificate.get_signature_meaning_display()}: {certificate.number} rev {certificate.revision}",
            location=certificate.issuing_site.name,
            signer_name=profile.name,
        )
    except Exception as error:  # any failure is recorded on the certificate, for QA to see and retry
        Certificate.objects.filter(pk=certificate.pk, pdf_sha256="").update(render_error=f"{type(error).__name__}: {error}"[:2000])
        if certificate.batch_id:
            CertificateBatch.objects.filter(pk=certificate.batch_id).update(failed=F("failed") + 1)
        raise
    return _store(certificate_id=certificate.pk, pdf=signed)


@transaction.atomic
def _store(*, certificate_id: int, pdf: bytes) -> Certificate:
    certificate = Certificate.objects.select_for_update().get(pk=certificate_id)
    if certificate.pdf_sha256:
        return certificate  # another worker stored it first
    digest = hashlib.sha256(pdf).hexdigest()
    certificate.pdf.save(f"{certificate.number}-rev{certificate.revision}-{digest[:12]}.pdf", ContentFile(pdf), save=False)
    certificate.pdf_sha256 = digest
    certificate.pdf_size = len(pdf)
    certificate.rendered_at = timezone.now()
    certificate.render_error = ""
    # A certificate revoked while it rendered stays revoked; otherwise it is now issued.
    newly_issued = certificate.status == CertificateStatus.RENDERING
    if newly_issued:
        certificate.status = CertificateStatus.ISSUED
    with audited_context(actor=None, reason="rendered and signed", certificate=certificate.pk):
        certificate.save(update_fields=["pdf", "pdf_sha256", "pdf_size", "rendered_at", "render_error", "status"])
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            instance=certificate,
            reason="PDF rendered, signed and stored",
            after={"pdf_sha256": digest, "pdf_size": len(pdf), "status": certificate.status},
        )
        if certificate.batch_id:
            CertificateBatch.objects.filter(pk=certificate.batch_id).update(rendered=F("rendered") + 1)
        if newly_issued:
            # Partners hear of a document once it is issued (PDF stored), never while it renders.
            webhook_events_for_certificate(
                certificate=certificate,
                event=WebhookEvent.REPORT_ISSUED if certificate.kind == CertificateKind.REPORT else WebhookEvent.CERTIFICATE_ISSUED,
            )
    return certificate


def certificates_pending_render(*, older_than_seconds: float) -> list[int]:
    """Signed certificates still without their PDF after ``older_than_seconds`` (a lost message)."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    return list(
        Certificate.objects.filter(status=CertificateStatus.RENDERING, pdf_sha256="", issued_at__lt=cutoff)
        .order_by("issued_at")
        .values_list("pk", flat=True)[:200]
    )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    batch: CertificateBatch
    issued: list[Certificate]
    skipped: list[dict[str, str]]


def certificates_issue_bulk(*, actor: User, lots: Sequence[Lot], password: str, totp_code: str = "") -> BatchOutcome:
    """Certify many lots with one re-authentication: each conforming lot gets its certificate (each
    in its own transaction, so one refused lot does not undo the others); the rest are listed with why."""
    if not can(actor, Capability.SIGN_CERTIFICATES):
        raise PermissionDeniedError("only QA signs certificates")
    if not lots:
        raise DomainError("no lots chosen")
    signer_reauthenticate(user=actor, password=password, totp_code=totp_code)
    batch = CertificateBatch.objects.create(requested_by=actor, requested_at=timezone.now(), total=0)
    issued: list[Certificate] = []
    skipped: list[dict[str, str]] = []
    for lot in lots:
        try:
            issued.append(certificate_issue(actor=actor, lot=lot, password="", batch=batch, reauthenticated=True))
        except DomainError as error:
            skipped.append({"lot": lot.code, "reason": str(error)})
    CertificateBatch.objects.filter(pk=batch.pk).update(total=len(issued), skipped=skipped)
    batch.refresh_from_db()
    return BatchOutcome(batch, issued, skipped)
