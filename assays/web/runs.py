"""Instrument runs on the web: the list, the import (upload, preview, confirm) and a run's page.

The import is the API's and the CLI's: ``run_import``, first as a dry run for the preview, then
for real on Confirm. Between the two the file waits under MEDIA_ROOT, named by its SHA-256, and
the preview's choices travel in a signed token bound to the user (``assays.web.uploads``), so
Confirm imports exactly what was previewed. The preview page is a GET of that token: reloading it
checks the file again and writes nothing.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.file_names import clean_file_name
from assays.importers import registry
from assays.importers.core import ImportFormatError
from assays.models import Instrument, Method, QcRole, Run, Sample
from assays.permissions import Capability, can
from assays.roles import is_staff_member
from assays.selectors.runs import (
    GRID_SHOW_CHOICES,
    instrument_get,
    instrument_list,
    method_get,
    method_list,
    run_get,
    run_grid,
    run_list,
)
from assays.selectors.samples import sample_list
from assays.services import runs as run_service
from assays.services.runs import ImportSummary, run_import
from assays.web.run_qc import qc_review
from assays.web.uploads import PendingImport, UploadExpiredError, discard_upload, read_upload, store_upload
from assays.web.views import HtmxHttpRequest, _wants_partial

RUNS_PER_PAGE = 25
# A batch of 2,000 acquisitions x 60 channels is a few MB; far larger is the wrong file.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_BATCH_LOG_BYTES = 5 * 1024 * 1024
# The preview lists acquisitions up to this many; the counts above it cover the rest.
PREVIEW_ACQUISITIONS = 300
# The run page's QC panel: an htmx request aimed at it gets the panel alone.
QC_PANEL_ID = "qc-panel"


def _lab_user(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not (is_staff_member(user) or user.is_superuser):
        raise PermissionDenied("Runs are the laboratory's records.")
    return user


def _importer(request: HttpRequest) -> User:
    """The signed-in user, if their role imports runs; 403 otherwise."""
    user = request.user
    if not isinstance(user, User) or not can(user, Capability.IMPORT_RUNS):
        raise PermissionDenied("Your role does not import instrument runs.")
    return user


# --- Forms ---------------------------------------------------------------------------------------


def _format_choices() -> list[tuple[str, str]]:
    return [("", "Detect from the file"), *((info.name, info.name) for info in registry.FORMATS if info.importable)]


class RunUploadForm(forms.Form):
    instrument = forms.ChoiceField(label="Instrument")
    method = forms.ChoiceField(label="Method")
    file = forms.FileField(label="Export file", allow_empty_file=False)
    format = forms.ChoiceField(label="Format", required=False, help_text="Only if detection picks the wrong one.")
    batch_log = forms.FileField(
        label="Batch log (optional)",
        required=False,
        allow_empty_file=False,
        help_text="Agilent BatchLog.csv from the .b folder: dilution factors per acquisition.",
    )

    def __init__(self, *args: Any, instruments: list[Instrument], methods: list[Method], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instrument"].choices = [  # type: ignore[attr-defined]
            ("", "Choose an instrument"),
            *((i.code, f"{i.code} — {i.name} ({i.site.code})") for i in instruments),
        ]
        self.fields["method"].choices = [("", "Choose a method"), *((m.code, f"{m.code} — {m.name}") for m in methods)]  # type: ignore[attr-defined]
        self.fields["format"].choices = _format_choices()  # type: ignore[attr-defined]
        self.fields["file"].widget.attrs.update({"class": "dropzone-input", "data-dropzone-input": ""})

    def clean_file(self) -> Any:
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: is it an instrument export?")
        return upload

    def clean_batch_log(self) -> Any:
        upload = self.cleaned_data.get("batch_log")
        if upload is not None and upload.size is not None and upload.size > MAX_BATCH_LOG_BYTES:
            raise forms.ValidationError(f"A batch log is smaller than {MAX_BATCH_LOG_BYTES // (1024 * 1024)} MB: is it the right file?")
        return upload


# --- The list ------------------------------------------------------------------------------------


@require_safe
@login_required
@vary_on_headers("HX-Request")
def run_list_page(request: HtmxHttpRequest) -> HttpResponse:
    actor = _lab_user(request)
    # get_page turns a missing, non-numeric or out-of-range page into a valid one: never a 500.
    page = Paginator(run_list(actor=actor), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "can_import": can(actor, Capability.IMPORT_RUNS)}
    if _wants_partial(request):
        return render(request, "web/runs/_table.html", context)
    return render(request, "web/runs/list.html", context)


# --- Upload, preview, confirm ---------------------------------------------------------------------


def _upload_page(request: HttpRequest, form: RunUploadForm, *, status: int = 200) -> HttpResponse:
    formats = [info for info in registry.FORMATS if info.importable]
    has_instruments = len(form.fields["instrument"].choices) > 1  # type: ignore[attr-defined]
    return render(request, "web/runs/upload.html", {"form": form, "formats": formats, "has_instruments": has_instruments}, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def run_upload(request: HttpRequest) -> HttpResponse:
    """GET: the form. POST: keep the file and show its preview (a dry run)."""
    actor = _importer(request)
    instruments = list(instrument_list(actor=actor))
    methods = list(method_list(actor=actor))
    if request.method != "POST":
        # A single instrument or method is chosen already: one click fewer for the small lab.
        initial = {
            "instrument": instruments[0].code if len(instruments) == 1 else "",
            "method": methods[0].code if len(methods) == 1 else "",
        }
        return _upload_page(request, RunUploadForm(instruments=instruments, methods=methods, initial=initial))
    code = request.POST.get("instrument", "")
    if code:
        try:
            instrument_get(actor=actor, code=code)  # not one of the actor's: 404, like a missing one
        except NotFoundError as exc:
            raise Http404(str(exc)) from exc
    form = RunUploadForm(request.POST, request.FILES, instruments=instruments, methods=methods)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload, log = form.cleaned_data["file"], form.cleaned_data.get("batch_log")
    pending = PendingImport(
        user_id=actor.pk,
        sha256=store_upload(upload.read()),
        file_name=clean_file_name(upload.name),
        instrument=form.cleaned_data["instrument"],
        method=form.cleaned_data["method"],
        format=form.cleaned_data.get("format") or "",
        batch_log_sha256=store_upload(log.read()) if log is not None else "",
        batch_log_name=clean_file_name(log.name, default="BatchLog.csv") if log is not None else "",
    )
    return HttpResponseRedirect(reverse("web:run_preview") + "?" + urlencode({"token": pending.token()}))


@dataclass(frozen=True)
class PreviewAcquisition:
    sequence: int
    label: str
    vendor_type: str
    sample: Sample | None
    sample_code: str  # matched (or a duplicate's parent) even when not loaded
    qc_role: str
    rule: str
    values: int
    rejected: bool


@dataclass(frozen=True)
class MatchedSample:
    sample: Sample
    acquisitions: int
    values: int


@dataclass(frozen=True)
class Preview:
    pending: PendingImport
    instrument: Instrument
    method: Method
    summary: ImportSummary | None
    refusal: str  # a DomainError that stopped the dry run before it could summarise
    acquisitions: list[PreviewAcquisition]
    matched: list[MatchedSample]
    existing_run: Run | None

    @property
    def can_confirm(self) -> bool:
        summary = self.summary
        return summary is not None and summary.ok and not summary.existing and not self.refusal

    @property
    def qc_roles(self) -> list[tuple[str, int]]:
        roles = dict(QcRole.choices)
        return [(str(roles.get(role, role)), count) for role, count in (self.summary.qc_roles if self.summary else {}).items()]

    @property
    def more_acquisitions(self) -> int:
        return max(0, (self.summary.acquisitions if self.summary else 0) - len(self.acquisitions))


def _pending(actor: User, token: str) -> tuple[PendingImport, bytes, bytes | None]:
    pending = PendingImport.from_token(token, user_id=actor.pk)
    data = read_upload(pending.sha256)
    log = read_upload(pending.batch_log_sha256) if pending.batch_log_sha256 else None
    return pending, data, log


def _instrument_and_method(actor: User, pending: PendingImport) -> tuple[Instrument, Method]:
    try:
        return instrument_get(actor=actor, code=pending.instrument), method_get(actor=actor, code=pending.method)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _acquisition_table(
    actor: User, instrument: Instrument, data: bytes, pending: PendingImport
) -> tuple[list[PreviewAcquisition], list[MatchedSample]]:
    """Each acquisition and what it matched, for the preview table.

    The summary counts; the table needs the match of each acquisition, which the import service
    computes but does not return, so the file is parsed again and matched by the same function.
    """
    parsed = registry.parse(data, file_name=pending.file_name, format=pending.format or None)
    report = run_service.run_match_acquisitions(parsed=parsed, actor=actor, instrument=instrument)
    codes = {match.sample_code for match in report.matches if match.sample_code}
    samples = {sample.code: sample for sample in sample_list(actor=actor).filter(code__in=codes)}
    rows: list[PreviewAcquisition] = []
    per_sample: Counter[str] = Counter()
    values_per_sample: Counter[str] = Counter()
    for acquisition, match in zip(parsed.acquisitions, report.matches, strict=True):
        values = sum(1 for value in acquisition.values if value.value is not None)
        if match.is_sample and match.sample_code:
            per_sample[match.sample_code] += 1
            values_per_sample[match.sample_code] += values
        if len(rows) < PREVIEW_ACQUISITIONS:
            rows.append(
                PreviewAcquisition(
                    sequence=acquisition.sequence,
                    label=acquisition.label,
                    vendor_type=acquisition.vendor_type,
                    sample=samples.get(match.sample_code or ""),
                    sample_code=match.sample_code or "",
                    qc_role=QcRole(match.qc_item.value).label if match.qc_item is not None else "",
                    rule=match.rule,
                    values=values,
                    rejected=acquisition.rejected_by_instrument,
                )
            )
    matched = [
        MatchedSample(sample=samples[code], acquisitions=count, values=values_per_sample[code])
        for code, count in sorted(per_sample.items())
        if code in samples
    ]
    return rows, matched


@require_safe
@login_required
def run_preview(request: HttpRequest) -> HttpResponse:
    """The dry run of an uploaded file: what would be imported, matched, refused, and why."""
    actor = _importer(request)
    try:
        pending, data, log = _pending(actor, request.GET.get("token", ""))
    except UploadExpiredError as exc:
        messages.error(request, f"{str(exc).capitalize()}: upload the file again.")
        return HttpResponseRedirect(reverse("web:run_upload"))
    instrument, method = _instrument_and_method(actor, pending)
    summary: ImportSummary | None = None
    refusal = ""
    try:
        summary = run_import(
            actor=actor,
            data=data,
            file_name=pending.file_name,
            instrument=instrument,
            method=method,
            format=pending.format or None,
            dry_run=True,
            batch_log=log,
            batch_log_name=pending.batch_log_name or "BatchLog.csv",
        )
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc
    except DomainError as exc:
        refusal = str(exc)
    acquisitions: list[PreviewAcquisition] = []
    matched: list[MatchedSample] = []
    if summary is not None and summary.ok and not summary.existing:
        # On a DomainError the summary above already says what is wrong with the file.
        with contextlib.suppress(DomainError):
            acquisitions, matched = _acquisition_table(actor, instrument, data, pending)
    existing_run = None
    if summary is not None and summary.existing and summary.run_id is not None:
        existing_run = run_list(actor=actor).filter(pk=summary.run_id).first()
    preview = Preview(
        pending=pending,
        instrument=instrument,
        method=method,
        summary=summary,
        refusal=refusal,
        acquisitions=acquisitions,
        matched=matched,
        existing_run=existing_run,
    )
    return render(request, "web/runs/preview.html", {"preview": preview, "token": request.GET.get("token", "")})


@require_POST
@login_required
def run_confirm(request: HttpRequest) -> HttpResponse:
    """Import the previewed file for real. Checked again from scratch: the database may have moved on."""
    actor = _importer(request)
    token = request.POST.get("token", "")
    try:
        pending, data, log = _pending(actor, token)
    except UploadExpiredError as exc:
        messages.error(request, f"{str(exc).capitalize()}: upload the file again.")
        return HttpResponseRedirect(reverse("web:run_upload"))
    instrument, method = _instrument_and_method(actor, pending)
    back_to_preview = HttpResponseRedirect(reverse("web:run_preview") + "?" + urlencode({"token": token}))
    try:
        summary = run_import(
            actor=actor,
            data=data,
            file_name=pending.file_name,
            instrument=instrument,
            method=method,
            format=pending.format or None,
            batch_log=log,
            batch_log_name=pending.batch_log_name or "BatchLog.csv",
        )
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc
    except (ImportFormatError, DomainError) as exc:
        # The preview lists every problem; the message says why nothing was imported.
        messages.error(request, f"Nothing was imported: {exc}")
        return back_to_preview
    discard_upload(pending.sha256)
    if pending.batch_log_sha256:
        discard_upload(pending.batch_log_sha256)
    assert summary.run_id is not None  # a real import that did not raise has a run
    if summary.existing:
        messages.info(request, f"This file was already imported as run {summary.run_id}: nothing was written.")
    else:
        messages.success(
            request,
            f"Imported run {summary.run_id}: {summary.acquisitions} acquisitions, {summary.values} values, "
            f"{summary.matched_samples} sample{'s' if summary.matched_samples != 1 else ''} matched. Run QC is pending.",
        )
    return HttpResponseRedirect(reverse("web:run_detail", args=[summary.run_id]))


# --- A run's page -----------------------------------------------------------------------------------


@require_safe
@login_required
@vary_on_headers("HX-Request", "HX-Target")
def run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    actor = _lab_user(request)
    try:
        run = run_get(actor=actor, run_id=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    partial = _wants_partial(request)
    qc = None
    if not partial or request.htmx.target == QC_PANEL_ID:
        try:
            qc = qc_review(actor=actor, run=run, show_all=request.GET.get("qc") == "all")
        except NotFoundError as exc:
            raise Http404(str(exc)) from exc
    if partial and qc is not None:
        return render(request, "web/runs/_qc_panel.html", {"run": run, "qc": qc})
    grid = run_grid(actor=actor, run=run, page=request.GET.get("page"), show=request.GET.get("show", "all"))
    context = {"run": run, "grid": grid, "summary": run.import_summary or {}, "show_choices": GRID_SHOW_CHOICES, "qc": qc}
    if partial:
        return render(request, "web/runs/_grid.html", context)
    return render(request, "web/runs/detail.html", context)
