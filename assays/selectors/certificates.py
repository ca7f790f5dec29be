"""Reads of certificates: scoped to the actor for staff pages and the API; by token alone for the
public verification page (the token is the secret the QR code carries)."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from assays.errors import NotFoundError
from assays.models import (
    AssessmentStatus,
    Certificate,
    CertificateBatch,
    CertificateStatus,
    Flag,
    FlagStatus,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
)
from assays.permissions import READ_LOTS, can_any
from assays.roles import is_cross_site, is_partner_user
from assays.selectors.scoping import lot_visibility

logger = logging.getLogger(__name__)

# secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def certificate_list(*, actor: User | AnonymousUser) -> QuerySet[Certificate]:
    """Certificates of the lots the actor sees, newest first. Partners get theirs in the partner
    issue; until then none, as if there were none."""
    if not can_any(actor, READ_LOTS) or is_partner_user(actor):
        return Certificate.objects.none()
    lots = Lot.objects.filter(lot_visibility(actor=actor)).values("pk")
    return (
        Certificate.objects.filter(lot__in=lots)
        .select_related("lot", "lot__product", "customer", "issued_by", "supersedes", "issuing_site")
        .order_by("-issued_at", "-id")
    )


def certificate_get(*, actor: User | AnonymousUser, pk: int) -> Certificate | None:
    return certificate_list(actor=actor).filter(pk=pk).first()


@dataclass(frozen=True)
class VerificationView:
    certificate: Certificate
    status: str  # "valid", "superseded", "revoked", "pending"
    status_text: str
    superseded_by: Certificate | None


def certificate_for_verification(*, token: str) -> VerificationView | None:
    """What the public page may say about the certificate carrying ``token``; None when unknown."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    certificate = (
        Certificate.objects.filter(verification_token=token).select_related("lot", "lot__product", "issuing_site", "customer").first()
    )
    if certificate is None:
        return None
    successor = Certificate.objects.filter(supersedes=certificate).first()
    if certificate.status == CertificateStatus.REVOKED:
        when = certificate.revoked_at.strftime("%Y-%m-%d %H:%M UTC") if certificate.revoked_at else ""
        return VerificationView(certificate, "revoked", f"Revoked on {when}: the issuer withdrew it", successor)
    if certificate.status == CertificateStatus.SUPERSEDED:
        text = f"Superseded by {successor.number} rev {successor.revision}" if successor else "Superseded"
        return VerificationView(certificate, "superseded", text, successor)
    if certificate.status == CertificateStatus.RENDERING:
        return VerificationView(certificate, "pending", "Signed; the document is being produced", successor)
    return VerificationView(certificate, "valid", "Valid: issued and neither superseded nor revoked", successor)


# --- Bulk issuance -----------------------------------------------------------------------------------

# Rendering or issued: a lot with one of these is already certified (amend it instead).
_LIVE = (CertificateStatus.RENDERING, CertificateStatus.ISSUED)


def certificate_eligible_lots(*, actor: User | AnonymousUser) -> QuerySet[Lot]:
    """Lots of the actor's sites that bulk issuance may certify, longest waiting first: assessed (or
    released), a latest assessment that is conforming (no verdict for a feedstock lot's report) and
    not stale, no unresolved flag, no live certificate. The service checks each again as it signs;
    this is the list QA chooses from."""
    if not can_any(actor, READ_LOTS) or is_partner_user(actor):
        return Lot.objects.none()
    latest = LotAssessment.objects.filter(lot=OuterRef("pk")).order_by("-assessed_at", "-id")
    return (
        Lot.objects.filter(lot_visibility(actor=actor))
        .filter(status__in=(LotStatus.ASSESSED, LotStatus.RELEASED), assessment_stale_since__isnull=True)
        .annotate(
            latest_assessment_status=Subquery(latest.values("status")[:1]),
            latest_assessed_at=Subquery(latest.values("assessed_at")[:1]),
        )
        .filter(
            Q(kind=LotKind.FEEDSTOCK, latest_assessment_status=AssessmentStatus.NO_VERDICT)
            | (~Q(kind=LotKind.FEEDSTOCK) & Q(latest_assessment_status=AssessmentStatus.CONFORMING))
        )
        .exclude(Exists(Certificate.objects.filter(lot=OuterRef("pk"), status__in=_LIVE)))
        .exclude(Exists(Flag.objects.filter(lot=OuterRef("pk"), status__in=(FlagStatus.OPEN, FlagStatus.ACKNOWLEDGED))))
        .select_related("site", "product")
        .order_by("latest_assessed_at", "code")
    )


def certificate_batch_get(*, actor: User | AnonymousUser, pk: int) -> CertificateBatch | None:
    """A bulk issuance, for the one who asked for it and for cross-site staff (QA managers, lab
    admins); None for anyone else. Its certificates are listed through ``certificate_list``."""
    if not can_any(actor, READ_LOTS) or is_partner_user(actor):
        return None
    batches = CertificateBatch.objects.select_related("requested_by")
    if not is_cross_site(actor):
        batches = batches.filter(requested_by_id=actor.pk)
    return batches.filter(pk=pk).first()


def certificate_pdf_bytes(certificate: Certificate) -> bytes:
    """The stored, signed PDF of ``certificate``, byte for byte as issued.

    Raises NotFoundError while it is being made, and when the stored file cannot be read or no
    longer matches its recorded SHA-256: a file that is not the one issued is never handed out
    (and never regenerated either: the laboratory must look into it).
    """
    name = f"{certificate.number} rev {certificate.revision}"
    if not certificate.pdf_sha256 or not certificate.pdf:
        raise NotFoundError(f"{name} is signed but its PDF is not made yet: try again shortly")
    try:
        with certificate.pdf.open("rb") as stored:
            body: bytes = stored.read()
    except (OSError, ValueError) as error:  # ValueError: no file name recorded
        logger.error("certificate %s: stored PDF unreadable: %s", name, error)
        raise NotFoundError(f"the stored PDF of {name} cannot be read: report this to the laboratory") from None
    if hashlib.sha256(body).hexdigest() != certificate.pdf_sha256:
        logger.error("certificate %s: stored PDF does not match its SHA-256", name)
        raise NotFoundError(f"the stored PDF of {name} does not match its recorded SHA-256: report this to the laboratory")
    return body
