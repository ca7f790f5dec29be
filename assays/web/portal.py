"""The partner portal (``/portal/``): a partner user's lots, released results and documents.

Every row comes from ``assays.selectors.partner``, the one place that decides what a partner
sees, scoped to the partner the user acts for; another partner's lot or document is a 404 exactly
like one that does not exist. Lab staff are refused (403): they have the lab's pages. Every
download (a document's PDF, certified JSON or CSV, a lot's results CSV) is a "download" audit
event naming the user, as the partner API's are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from assays.api.certificate_views import document_file_name, file_download
from assays.errors import NotFoundError
from assays.models import Basis, Certificate, CertificateKind, Lot, Partner, Product
from assays.partner_exports import lot_results_csv
from assays.selectors.certificate_payload import verification_url
from assays.selectors.certificates import certificate_pdf_bytes
from assays.selectors.partner import (
    LotFilters,
    partner_document_get,
    partner_documents,
    partner_lot_get,
    partner_lots,
    partner_results,
)
from assays.selectors.scoping import acting_partner
from assays.services.certificates import certified_data_json, certified_results_csv
from assays.services.partner_downloads import download_record

# The certified payload (kilobytes of JSON a document, and its revisions') is not shown in a list.
_LIST_DEFERRED = ("payload", "supersedes__payload", "superseded_by__payload")
LOTS_PER_PAGE = 25
DOCUMENTS_PER_PAGE = 25
# Lot codes are at most 40 characters (the API's limit too); a longer one cannot be a lot.
_MAX_CODE = 40


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class PortalLotFilterForm(forms.Form):
    product = forms.ChoiceField(label="Product", required=False)
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Released or pending"), ("released", "Released"), ("pending", "Pending")],
    )
    date_from = forms.DateField(label="Lot date from", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    date_to = forms.DateField(label="Lot date to", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def __init__(self, data: Any, *, products: list[tuple[str, str]]) -> None:
        super().__init__(data)
        self.fields["product"].choices = [("", "Any product"), *products]  # type: ignore[attr-defined]

    def lot_filters(self) -> LotFilters:
        data = self.cleaned_data
        status = data.get("status") or ""
        return LotFilters(
            product=data.get("product") or None,
            released=None if not status else status == "released",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


@dataclass(frozen=True)
class DocumentRow:
    """A certificate or report with the links the portal shows beside it."""

    document: Certificate
    verification_url: str
    pdf_url: str
    json_url: str
    csv_url: str
    successor: Certificate | None


def _partner(request: HttpRequest) -> Partner:
    """The partner the signed-in user acts for; anyone else (lab staff, a user with no partner) is refused."""
    partner = acting_partner(actor=request.user)
    if partner is None:
        raise PermissionDenied("The portal is for partners' users; the laboratory's staff use the lab's pages.")
    return partner


def _wants_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def _lot(partner: Partner, code: str) -> Lot:
    if len(code) > _MAX_CODE or "\x00" in code:
        raise Http404("no such lot")
    try:
        return partner_lot_get(partner=partner, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _document(partner: Partner, pk: int) -> Certificate:
    try:
        return partner_document_get(partner=partner, pk=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _rows(documents: list[Certificate]) -> list[DocumentRow]:
    rows = []
    for document in documents:
        # select_related fetched the reverse one-to-one: None when nothing supersedes it.
        successor: Certificate | None = getattr(document, "superseded_by", None)
        rows.append(
            DocumentRow(
                document=document,
                verification_url=verification_url(document.verification_token) if document.verification_token else "",
                pdf_url=reverse("web:portal_document_pdf", args=[document.pk]),
                json_url=reverse("web:portal_document_json", args=[document.pk]),
                csv_url=reverse("web:portal_document_csv", args=[document.pk]),
                successor=successor,
            )
        )
    return rows


def _record(request: HttpRequest, *, partner: Partner, instance: Model, what: str, context: dict[str, Any] | None = None) -> None:
    download_record(
        partner=partner,
        key=None,
        user_label=request.user.get_username(),
        user_id=request.user.pk,
        instance=instance,
        what=what,
        context={"path": request.path[:300], "via": "portal", **(context or {})},
    )


# --- Pages ------------------------------------------------------------------------------------


@require_safe
@login_required
@vary_on_headers("HX-Request")
def portal_lots(request: HtmxHttpRequest) -> HttpResponse:
    partner = _partner(request)
    products = Product.objects.filter(pk__in=partner_lots(partner=partner).values("product_id")).order_by("code")
    form = PortalLotFilterForm(request.GET, products=[(p.code, f"{p.code} — {p.name}") for p in products])
    status = 200
    if form.is_valid():
        filters = form.lot_filters()
    else:
        # A value no form control sends (a typed URL): say which field, list nothing.
        filters, status = None, 400
    lots: QuerySet[Lot] = partner_lots(partner=partner, filters=filters) if filters is not None else Lot.objects.none()
    # Newest first on screen; the selector's order by id is for the API's cursor.
    page: Page[Lot] = Paginator(lots.order_by("-id"), LOTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"partner": partner, "form": form, "page": page}
    template = "portal/_lot_table.html" if _wants_partial(request) else "portal/lots.html"
    return render(request, template, context, status=status)


@require_safe
@login_required
def portal_lot(request: HttpRequest, code: str) -> HttpResponse:
    partner = _partner(request)
    lot = _lot(partner, code)
    basis = dict(Basis.choices)
    results = [{**row, "basis_label": basis.get(row["basis"], row["basis"])} for row in partner_results(partner=partner, lot=lot)]
    documents = list(partner_documents(partner=partner, lot_code=lot.code).defer(*_LIST_DEFERRED).order_by("-issued_at", "-id"))
    context = {
        "partner": partner,
        "lot": lot,
        # What the partner delivered, for its supplier; a customer sees its allocation instead.
        "show_mass": lot.supplier_id == partner.pk,
        "results": results,
        "documents": _rows(documents),
    }
    return render(request, "portal/lot.html", context)


@require_safe
@login_required
@vary_on_headers("HX-Request")
def portal_certificates(request: HtmxHttpRequest) -> HttpResponse:
    partner = _partner(request)
    kind = request.GET.get("kind", "")
    documents = partner_documents(partner=partner, kind=kind if kind in CertificateKind.values else None)
    documents = documents.defer(*_LIST_DEFERRED).order_by("-id")
    page: Page[Certificate] = Paginator(documents, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "partner": partner,
        "page": page,
        "rows": _rows(list(page.object_list)),
        "kind": kind if kind in CertificateKind.values else "",
        "kinds": CertificateKind.choices,
    }
    template = "portal/_document_table.html" if _wants_partial(request) else "portal/certificates.html"
    return render(request, template, context)


# --- Downloads --------------------------------------------------------------------------------


@require_safe
@login_required
def portal_lot_results_csv(request: HttpRequest, code: str) -> HttpResponse:
    partner = _partner(request)
    lot = _lot(partner, code)
    export = lot_results_csv(partner=partner, lot=lot)
    _record(request, partner=partner, instance=lot, what="lot results csv", context={"rows": export.rows})
    return file_download(export.body, content_type="text/csv; charset=utf-8", file_name=export.file_name)


@require_safe
@login_required
def portal_document_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(request)
    document = _document(partner, pk)
    try:
        body = certificate_pdf_bytes(document)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    _record(request, partner=partner, instance=document, what="pdf", context={"sha256": document.pdf_sha256})
    response = file_download(body, content_type="application/pdf", file_name=document_file_name(document, ".pdf"))
    response["ETag"] = f'"{document.pdf_sha256}"'
    return response


@require_safe
@login_required
def portal_document_json(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(request)
    document = _document(partner, pk)
    _record(request, partner=partner, instance=document, what="certified json")
    return file_download(
        certified_data_json(document), content_type="application/json", file_name=document_file_name(document, "-data.json")
    )


@require_safe
@login_required
def portal_document_csv(request: HttpRequest, pk: int) -> HttpResponse:
    partner = _partner(request)
    document = _document(partner, pk)
    _record(request, partner=partner, instance=document, what="certified csv")
    return file_download(
        certified_results_csv(document), content_type="text/csv; charset=utf-8", file_name=document_file_name(document, "-results.csv")
    )
