"""QA's certificate pages: review a lot and sign its certificate (or a feedstock lot's report of
analysis), a certificate's page with its PDF, amendment and revocation, the list, and bulk issuance.

Signing is a POST that re-authenticates (password, and a TOTP code when the lab asks for one) and
calls the service, which decides who may sign what; the pages only hide the forms from those the
service would refuse, and say why. A refusal that gets through anyway (a page left open, a
crafted request) comes back on the form with the service's message: a wrong password or a
missing right as 403, anything else the domain refuses as 400; a record outside the user's scope
is a 404 before any service is asked. Nothing is changed by a refused signature.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    Certificate,
    CertificateBatch,
    CertificateKind,
    CertificateStatus,
    Lot,
    LotKind,
    Partner,
    SignatureMeaning,
    TotpDevice,
)
from assays.permissions import Capability, can
from assays.roles import is_staff_member
from assays.selectors.assessments import assessment_rows, lot_assessment_latest, payable_rows, report_rows
from assays.selectors.certificate_payload import verification_url
from assays.selectors.certificates import (
    certificate_batch_get,
    certificate_eligible_lots,
    certificate_get,
    certificate_list,
    certificate_pdf_bytes,
)
from assays.selectors.lot_review import LotReview, lot_review
from assays.selectors.qa_dashboard import qa_lot_get, qa_lot_queryset
from assays.services.certificates import (
    CertificationRefusedError,
    certificate_eligibility,
    certificate_issue,
    certificate_reissue,
    certificate_revoke,
    certificates_issue_bulk,
    lab_profile,
)
from assays.services.signing_auth import totp_required

# A reason is a sentence or a paragraph; far longer is a paste gone wrong.
MAX_REASON = 2000
CERTIFICATES_PER_PAGE = 25
ELIGIBLE_LOTS_PER_PAGE = 100
# One bulk action signs at most this many lots: each is its own transaction and render.
MAX_BULK_LOTS = 500
LIVE_STATUSES = frozenset({CertificateStatus.RENDERING, CertificateStatus.ISSUED})

SIGNING_MEANING_WORDS = {
    SignatureMeaning.APPROVED_FOR_RELEASE: (
        "By signing you approve this lot for release: the certificate states that it conforms to its specification, "
        "and the lot is released."
    ),
    SignatureMeaning.APPROVED_UNDER_CONCESSION: (
        "By signing you approve this lot for release under concession: it does not meet the conditions for a certificate, "
        "the certificate prints your reason, and the lot is released."
    ),
    SignatureMeaning.REPORTED: (
        "By signing you confirm that you reviewed these results and report them, with no statement of conformity; the lot is released."
    ),
}


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _is_lab(user: User | AnonymousUser) -> bool:
    return is_staff_member(user) or bool(getattr(user, "is_superuser", False))


def _wants_partial(request: HtmxHttpRequest) -> bool:
    """An htmx swap of one region; a boosted link or a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


# --- Forms ------------------------------------------------------------------------------------------


class SignatureForm(forms.Form):
    """Re-authentication at the moment of signing (21 CFR 11.200)."""

    password = forms.CharField(
        label="Your password", strip=False, max_length=4096, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    totp_code = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}),
    )


def _reason_field(label: str, *, required: bool = True, placeholder: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MAX_REASON, "placeholder": placeholder}),
    )


class IssueForm(SignatureForm):
    customer = forms.ChoiceField(label="Customer", required=False)
    concession_reason = _reason_field(
        "Concession reason", required=False, placeholder="Why the lot may be released although it does not conform"
    )

    def __init__(self, data: Any = None, *, customers: list[tuple[str, str]]) -> None:
        super().__init__(data)
        field = self.fields["customer"]
        assert isinstance(field, forms.ChoiceField)  # declared so above
        field.choices = customers


class AmendForm(SignatureForm):
    reason = _reason_field("Why a new revision", placeholder="e.g. customer reference was missing")
    change_summary = _reason_field("What changed", placeholder="e.g. customer order reference added")
    concession_reason = _reason_field("Concession reason (only if the lot does not conform)", required=False)


class RevokeForm(SignatureForm):
    reason = _reason_field("Why it is revoked", placeholder="e.g. sample mix-up found after issue")


class CertificateFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *CertificateStatus.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *CertificateKind.choices])

    def filters(self) -> dict[str, str]:
        """The valid filters only: a tampered value drops that one filter, never the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data[name] for name in ("status", "kind") if data.get(name)}


def _refusal(action: Callable[[], Certificate]) -> tuple[Certificate | None, str, int]:
    """Run a signing service: (certificate, "", 200), or (None, message, status) when refused."""
    try:
        return action(), "", 200
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except PermissionDeniedError as exc:  # a wrong password or code too (ReauthenticationError)
        return None, _sentence(exc), 403
    except DomainError as exc:
        return None, _sentence(exc), 400


def _sentence(exc: Exception) -> str:
    text = str(exc).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


# --- The lot review and issuing ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssueState:
    """What the issue form offers this user for this lot, and why not when it offers nothing."""

    is_report: bool
    can_sign: bool
    why_no_form: str  # why this user sees no form ("" when they do)
    eligible: bool
    not_eligible_because: str  # the service's reason ("" when eligible)
    concession_allowed: bool  # the lot is not eligible and this user may issue under concession
    needs_manager: bool  # the lot is not eligible, a concession could cure it, and only a QA manager grants one
    meaning: str  # the signature's meaning in words

    @property
    def title(self) -> str:
        return "Issue report of analysis" if self.is_report else "Issue certificate"


def _customer_options(review: LotReview) -> list[tuple[str, str]]:
    """The form's customers: the lot's allocations (and none, the lot as a whole), less those that
    already have a live certificate (they are amended, not issued again)."""
    live = {certificate.customer_id for certificate in review.certificates if certificate.status in LIVE_STATUSES}
    options: list[tuple[str, str]] = []
    if None not in live:
        options.append(("", "No customer: the lot as a whole"))
    seen: set[int] = set()
    for allocation in review.allocations:
        customer = allocation.customer
        if customer.pk in live or customer.pk in seen:
            continue
        seen.add(customer.pk)
        reference = f", ref. {allocation.reference}" if allocation.reference else ""
        options.append((str(customer.pk), f"{customer.name} ({customer.code}): {allocation.mass_kg.normalize():f} kg{reference}"))
    return options


def _chosen_customer(review: LotReview, value: str) -> Partner | None:
    for allocation in review.allocations:
        if str(allocation.customer_id) == value:
            return allocation.customer
    return None


def _issue_state(actor: User | AnonymousUser, lot: Lot, review: LotReview, options: list[tuple[str, str]]) -> IssueState:
    is_report = lot.kind == LotKind.FEEDSTOCK
    can_sign = can(actor, Capability.SIGN_CERTIFICATES)
    plain = SignatureMeaning.REPORTED if is_report else SignatureMeaning.APPROVED_FOR_RELEASE
    if not options:
        because = "every customer of this lot already has a live certificate: amend it (a new revision) from its page"
        return IssueState(is_report, can_sign, "", False, because, False, False, SIGNING_MEANING_WORDS[plain])
    # Conformity does not depend on the customer: ask as for the first one the form offers.
    customer = _chosen_customer(review, options[0][0])
    assert isinstance(actor, User)  # login_required
    try:
        eligibility = certificate_eligibility(actor=actor, lot=lot, customer=customer)
    except CertificationRefusedError as refused:
        because, concession, needs_manager = str(refused), False, False
        try:
            # Would a concession cure it, and may this user grant one? (The service answers both.)
            certificate_eligibility(actor=actor, lot=lot, customer=customer, concession_reason="preview")
            concession = can_sign
        except PermissionDeniedError:
            needs_manager = True
        except DomainError:
            pass
        meaning = SIGNING_MEANING_WORDS[SignatureMeaning.APPROVED_UNDER_CONCESSION if concession else plain]
        why = "" if can_sign else "Your role does not sign certificates: QA does."
        return IssueState(is_report, can_sign, why, False, because, concession, needs_manager, meaning)
    why = "" if can_sign else "Your role does not sign certificates: QA does."
    return IssueState(is_report, can_sign, why, True, "", False, False, SIGNING_MEANING_WORDS[eligibility.meaning])


def _visible_lot(request: HttpRequest, code: str) -> Lot:
    try:
        return qa_lot_get(actor=request.user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _signer_context(user: User | AnonymousUser) -> dict[str, Any]:
    required = totp_required()
    return {
        "totp_required": required,
        "totp_missing": required and isinstance(user, User) and not TotpDevice.objects.filter(user=user).exists(),
    }


@require_http_methods(["GET", "POST"])
@login_required
def lot_review_page(request: HttpRequest, code: str) -> HttpResponse:
    """Everything QA checks before signing, and the form that signs."""
    lot = _visible_lot(request, code)
    review = lot_review(actor=request.user, lot=lot, profile=lab_profile())
    options = _customer_options(review)
    form = IssueForm(customers=options)
    error, status = "", 200
    if request.method == "POST":
        if not can(request.user, Capability.SIGN_CERTIFICATES):
            raise PermissionDenied("Only QA signs certificates.")
        form = IssueForm(request.POST, customers=options)
        if not form.is_valid():
            error, status = "The certificate was not signed: correct the form.", 400
        else:
            data = form.cleaned_data
            assert isinstance(request.user, User)  # login_required
            user = request.user
            certificate, error, status = _refusal(
                lambda: certificate_issue(
                    actor=user,
                    lot=lot,
                    password=data["password"],
                    totp_code=data["totp_code"],
                    customer=_chosen_customer(review, data["customer"]),
                    concession_reason=data["concession_reason"],
                )
            )
            if certificate is not None:
                messages.success(
                    request,
                    f"Signed {certificate.number} rev {certificate.revision} ({certificate.get_signature_meaning_display().lower()}): "
                    f"lot {lot.code} is released. The PDF is being produced.",
                )
                return HttpResponseRedirect(reverse("web:certificate_detail", args=[certificate.pk]))
            error = f"Nothing was signed: {error[:1].lower()}{error[1:]}"
    assessment = lot_assessment_latest(actor=request.user, lot=lot)
    context = {
        "lot": lot,
        "review": review,
        "assessment": assessment,
        "assessment_rows": assessment_rows(assessment) if assessment is not None else [],
        "payable_rows": payable_rows(assessment) if assessment is not None else [],
        "report_rows": report_rows(assessment) if assessment is not None else [],
        "issue": _issue_state(request.user, lot, review, options),
        "form": form,
        "issue_error": error,
        **_signer_context(request.user),
    }
    return render(request, "web/certificates/review.html", context, status=status)


# --- A certificate's page ---------------------------------------------------------------------------


def _visible_certificate(request: HttpRequest, pk: int) -> Certificate:
    certificate = certificate_get(actor=request.user, pk=pk)
    if certificate is None:
        raise Http404("no such certificate")
    return certificate


def _why_no_forms(user: User | AnonymousUser, certificate: Certificate) -> str:
    if not can(user, Capability.SIGN_CERTIFICATES):
        return "Your role does not amend or revoke certificates: QA amends them and a QA manager revokes them."
    if certificate.status == CertificateStatus.SUPERSEDED:
        return "This revision is superseded: amend or revoke the current one."
    if certificate.status == CertificateStatus.REVOKED:
        return "This certificate is revoked: it cannot be amended or revoked again."
    return ""


def _document_context(request: HttpRequest, certificate: Certificate) -> dict[str, Any]:
    return {
        "certificate": certificate,
        "can_retry": can(request.user, Capability.SIGN_CERTIFICATES) and certificate.status == CertificateStatus.RENDERING,
    }


def _detail(
    request: HttpRequest,
    certificate: Certificate,
    *,
    amend_form: AmendForm | None = None,
    revoke_form: RevokeForm | None = None,
    amend_error: str = "",
    revoke_error: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    url = str(certificate.payload.get("verification_url") or verification_url(certificate.verification_token or ""))
    context = {
        **_document_context(request, certificate),
        "successor": certificate_list(actor=user).filter(supersedes=certificate).first(),
        # The QR code on the PDF encodes exactly the payload's URL; the page shows the same.
        "verification_url": url if certificate.verification_token else "",
        "can_amend": can(user, Capability.SIGN_CERTIFICATES) and certificate.status == CertificateStatus.ISSUED,
        "can_revoke": can(user, Capability.REVOKE_CERTIFICATES) and certificate.status in LIVE_STATUSES,
        "why_no_forms": _why_no_forms(user, certificate),
        "offers_concession": certificate.signature_meaning == SignatureMeaning.APPROVED_UNDER_CONCESSION,
        "amend_form": amend_form or AmendForm(prefix="amend"),
        "revoke_form": revoke_form or RevokeForm(prefix="revoke"),
        "amend_error": amend_error,
        "revoke_error": revoke_error,
        **_signer_context(user),
    }
    return render(request, "web/certificates/detail.html", context, status=status)


@require_safe
@login_required
@vary_on_headers("HX-Request")
def certificate_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    certificate = _visible_certificate(request, pk)
    if _wants_partial(request):
        # The document part polls itself while the worker renders. Once the PDF is stored the
        # answer no longer polls, and asks htmx to reload the page: its status, forms and links
        # all change with it.
        response = render(request, "web/certificates/_document.html", _document_context(request, certificate))
        if certificate.status != CertificateStatus.RENDERING:
            response["HX-Refresh"] = "true"
        return response
    return _detail(request, certificate)


@require_safe
@login_required
def certificate_pdf(request: HttpRequest, pk: int) -> FileResponse:
    certificate = _visible_certificate(request, pk)
    try:
        body = certificate_pdf_bytes(certificate)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    return FileResponse(
        io.BytesIO(body), as_attachment=True, filename=f"{certificate.number}-rev{certificate.revision}.pdf", content_type="application/pdf"
    )


@require_POST
@login_required
def certificate_amend(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = _visible_certificate(request, pk)
    if not can(request.user, Capability.SIGN_CERTIFICATES):
        raise PermissionDenied("Only QA amends certificates.")
    form = AmendForm(request.POST, prefix="amend")
    if not form.is_valid():
        return _detail(request, certificate, amend_form=form, amend_error="No new revision: correct the form.", status=400)
    data = form.cleaned_data
    assert isinstance(request.user, User)  # login_required
    user = request.user
    new, error, status = _refusal(
        lambda: certificate_reissue(
            actor=user,
            certificate=certificate,
            password=data["password"],
            totp_code=data["totp_code"],
            reason=data["reason"],
            change_summary=data["change_summary"],
            concession_reason=data["concession_reason"],
        )
    )
    if new is None:
        certificate.refresh_from_db()
        return _detail(request, certificate, amend_form=form, amend_error=f"No new revision: {error}", status=status)
    messages.success(
        request, f"Signed {new.number} rev {new.revision}; it supersedes rev {certificate.revision}. The PDF is being produced."
    )
    return HttpResponseRedirect(reverse("web:certificate_detail", args=[new.pk]))


@require_POST
@login_required
def certificate_revoke_page(request: HttpRequest, pk: int) -> HttpResponse:
    certificate = _visible_certificate(request, pk)
    if not can(request.user, Capability.REVOKE_CERTIFICATES):
        raise PermissionDenied("Only a QA manager revokes certificates.")
    form = RevokeForm(request.POST, prefix="revoke")
    if not form.is_valid():
        return _detail(request, certificate, revoke_form=form, revoke_error="Not revoked: correct the form.", status=400)
    data = form.cleaned_data
    assert isinstance(request.user, User)  # login_required
    user = request.user
    revoked, error, status = _refusal(
        lambda: certificate_revoke(
            actor=user, certificate=certificate, password=data["password"], totp_code=data["totp_code"], reason=data["reason"]
        )
    )
    if revoked is None:
        certificate.refresh_from_db()
        return _detail(request, certificate, revoke_form=form, revoke_error=f"Not revoked: {error}", status=status)
    revoked.lot.refresh_from_db()
    messages.success(
        request, f"Revoked {revoked.number} rev {revoked.revision}. Lot {revoked.lot.code} is {revoked.lot.get_status_display().lower()}."
    )
    return HttpResponseRedirect(reverse("web:certificate_detail", args=[revoked.pk]))


@require_POST
@login_required
def certificate_retry_render(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the worker again for a certificate whose rendering failed (the sweep also retries)."""
    from assays.tasks import render_certificate

    certificate = _visible_certificate(request, pk)
    if not can(request.user, Capability.SIGN_CERTIFICATES):
        raise PermissionDenied("Only QA asks for a certificate to be rendered again.")
    if certificate.status != CertificateStatus.RENDERING or certificate.pdf_sha256:
        messages.error(request, f"{certificate.number} rev {certificate.revision} is already rendered.")
    else:
        # Robust: a broker outage (or, in the embedded mode, a render failing in-process) is
        # recorded on the certificate, not turned into an error page.
        transaction.on_commit(lambda: render_certificate.delay(certificate.pk), robust=True)
        messages.info(request, f"Asked for {certificate.number} rev {certificate.revision} to be rendered again.")
    return HttpResponseRedirect(reverse("web:certificate_detail", args=[certificate.pk]))


# --- The list and bulk issuance ---------------------------------------------------------------------


@require_safe
@login_required
@vary_on_headers("HX-Request")
def certificate_list_page(request: HtmxHttpRequest) -> HttpResponse:
    if not _is_lab(request.user):
        raise PermissionDenied("Certificates are the laboratory's; partners receive theirs through the partner portal.")
    form = CertificateFilterForm(request.GET)
    certificates = certificate_list(actor=request.user).filter(**form.filters())
    # get_page turns a missing, non-numeric or out-of-range page into a valid one: never a 500.
    page = Paginator(certificates, CERTIFICATES_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "can_sign": can(request.user, Capability.SIGN_CERTIFICATES)}
    if _wants_partial(request):
        return render(request, "web/certificates/_table.html", context)
    return render(request, "web/certificates/list.html", context)


def _chosen_lots(request: HttpRequest) -> tuple[list[Lot], str]:
    """The lots ticked, in the order listed; an error instead when the choice is not usable."""
    raw = request.POST.getlist("lot")
    if not raw:
        return [], "Choose at least one lot."
    if len(raw) > MAX_BULK_LOTS:
        return [], f"Choose at most {MAX_BULK_LOTS} lots at once."
    if not all(value.isdigit() and len(value) <= 18 for value in raw):
        return [], "Choose the lots from the list."
    wanted = list(dict.fromkeys(int(value) for value in raw))
    lots = {lot.pk: lot for lot in qa_lot_queryset(actor=request.user).filter(pk__in=wanted)}
    if len(lots) != len(wanted):
        return [], "Some of the chosen lots are not yours to certify: choose the lots from the list."
    return [lots[pk] for pk in wanted], ""


@require_http_methods(["GET", "POST"])
@login_required
def certificate_bulk(request: HttpRequest) -> HttpResponse:
    """Certify many eligible lots with one re-authentication."""
    if not _is_lab(request.user) or not can(request.user, Capability.SIGN_CERTIFICATES):
        raise PermissionDenied("Only QA signs certificates.")
    form = SignatureForm()
    error, status = "", 200
    chosen: set[int] = set()
    if request.method == "POST":
        form = SignatureForm(request.POST)
        lots, error = _chosen_lots(request)
        chosen = {lot.pk for lot in lots}
        if error or not form.is_valid():
            error, status = f"Nothing was signed: {error or 'correct the form.'}", 400
        else:
            assert isinstance(request.user, User)  # login_required
            user, data = request.user, form.cleaned_data
            try:
                outcome = certificates_issue_bulk(actor=user, lots=lots, password=data["password"], totp_code=data["totp_code"])
            except NotFoundError as exc:
                raise Http404(str(exc)) from exc
            except PermissionDeniedError as exc:
                error, status = f"Nothing was signed: {_sentence(exc)}", 403
            except DomainError as exc:
                error, status = f"Nothing was signed: {_sentence(exc)}", 400
            else:
                skipped = f"; {len(outcome.skipped)} skipped" if outcome.skipped else ""
                messages.success(request, f"Signed {len(outcome.issued)} certificate(s){skipped}. The PDFs are being produced.")
                return HttpResponseRedirect(reverse("web:certificate_batch", args=[outcome.batch.pk]))
    page = Paginator(certificate_eligible_lots(actor=request.user), ELIGIBLE_LOTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "form": form, "bulk_error": error, "chosen": chosen, **_signer_context(request.user)}
    return render(request, "web/certificates/bulk.html", context, status=status)


@dataclass(frozen=True)
class BatchProgress:
    batch: CertificateBatch
    certificates: list[Certificate]

    @property
    def failed(self) -> list[Certificate]:
        return [c for c in self.certificates if c.status == CertificateStatus.RENDERING and c.render_error]

    @property
    def pending(self) -> int:
        return sum(1 for c in self.certificates if c.status == CertificateStatus.RENDERING and not c.render_error)

    @property
    def done(self) -> bool:
        return self.pending == 0


@require_safe
@login_required
@vary_on_headers("HX-Request")
def certificate_batch(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    batch = certificate_batch_get(actor=request.user, pk=pk)
    if batch is None:
        raise Http404("no such batch")
    certificates = list(certificate_list(actor=request.user).filter(batch=batch).order_by("number", "revision"))
    context = {"progress": BatchProgress(batch, certificates)}
    if _wants_partial(request):
        return render(request, "web/certificates/_batch_progress.html", context)
    return render(request, "web/certificates/batch.html", context)
