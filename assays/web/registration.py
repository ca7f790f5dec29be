"""Registering samples from the web: one sample by form, or a sample sheet pasted or uploaded, shown
as a preview (what will be created, what is already there, every error on its line) before a
Confirm registers it. Labels for a lot's samples, to print on A4 label sheets.

Both forms end in the same service as the API and the CLI (``samples_register_sheet``), through
the same sheet parser, so a row is judged identically wherever it comes from.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from assays.errors import NotFoundError
from assays.importers.core import ImportFormatError
from assays.importers.sample_sheet import (
    KNOWN_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    SheetError,
    parse_sample_sheet,
    sheet_from_records,
)
from assays.importers.text import decode_export
from assays.models import LotKind, Sample, SampleType
from assays.permissions import Capability, can
from assays.roles import is_staff_member
from assays.selectors.lot_detail import lot_samples
from assays.selectors.lots import lot_get
from assays.selectors.registration import RegistrationChoices, registration_choices
from assays.services.registration import Outcome, RegistrationResult, samples_register_sheet
from assays.web.views import HtmxHttpRequest, _wants_partial

# A sheet is typed or exported by a person; far larger is the wrong file.
MAX_SHEET_BYTES = 10 * 1024 * 1024
# Avery L7160 and its equivalents: 3 x 7 labels of 63.5 x 38.1 mm on A4, the commonest sheet.
LABELS_PER_SHEET = 21
# QR error correction M (15 %): survives a smudged label; boost off, so a given id always gives the
# same symbol (and a test can re-encode it).
QR_ERROR = "m"


def _registrar(request: HttpRequest) -> User:
    """The signed-in user, if their role registers samples; 403 otherwise."""
    user = request.user
    if not isinstance(user, User) or not can(user, Capability.REGISTER_SAMPLES):
        raise PermissionDenied("Your role does not register samples.")
    return user


# --- Forms -------------------------------------------------------------------------------------------
# Every field is optional here: the sheet parser checks the values, with the same messages as for a
# CSV row, and the errors come back onto the fields they name.


def _site_choices(choices: RegistrationChoices) -> list[tuple[str, str]]:
    return [(site.code, f"{site.code} — {site.name}") for site in choices.sites]


def _set_choices(field: forms.Field, options: list[tuple[str, str]]) -> None:
    if not isinstance(field, forms.ChoiceField):  # pragma: no cover - the forms below declare them
        raise TypeError(f"{field!r} is not a choice field")
    field.choices = options


class SampleForm(forms.Form):
    sample_id = forms.CharField(label="Sample ID", max_length=200, required=False)
    lot = forms.CharField(label="Lot", max_length=200, required=False, help_text="A new lot code creates the lot.")
    lot_kind = forms.ChoiceField(label="Lot kind", choices=LotKind.choices, required=False)
    product = forms.CharField(label="Product", max_length=200, required=False, help_text="Product lots only.")
    supplier = forms.ChoiceField(label="Supplier", required=False)
    site = forms.ChoiceField(label="Site", required=False)
    sample_type = forms.ChoiceField(label="Sample type", choices=SampleType.choices, required=False)
    sample_mass_g = forms.CharField(label="Mass (g)", max_length=40, required=False)
    final_volume_ml = forms.CharField(label="Final volume (mL)", max_length=40, required=False)
    dilution_factor = forms.CharField(label="Dilution factor", max_length=40, required=False, initial="1")
    # Who took the sample, when and how: its certificate prints them (ISO/IEC 17025 §7.8.2).
    sampled_by = forms.CharField(label="Sampled by", max_length=200, required=False, help_text="A person or a company's staff.")
    sampled_at = forms.CharField(
        label="Sampled at", max_length=60, required=False, help_text="With its UTC offset: 2026-04-29T07:30+02:00, or …Z for UTC."
    )
    sampling_method = forms.CharField(label="Sampling method", max_length=300, required=False, help_text="The plan or standard.")
    notes = forms.CharField(label="Notes", max_length=2000, required=False)

    def __init__(self, *args: Any, choices: RegistrationChoices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sampled_at"].widget.attrs["placeholder"] = "2026-04-29T07:30+02:00"
        suppliers = [(partner.code, f"{partner.code} — {partner.name}") for partner in choices.suppliers]
        _set_choices(self.fields["supplier"], [("", "—"), *suppliers])
        _set_choices(self.fields["site"], _site_choices(choices))
        self.fields["product"].widget.attrs["list"] = "product-codes"
        for name in ("sample_id", "lot", "product"):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    def record(self) -> dict[str, str]:
        return {column: str(self.cleaned_data.get(column) or "") for column in KNOWN_COLUMNS if column in self.fields}


class SheetForm(forms.Form):
    sheet_text = forms.CharField(
        label="Paste the sheet",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "placeholder": ",".join(REQUIRED_COLUMNS)}),
    )
    sheet_file = forms.FileField(label="or upload a CSV file", required=False)
    site = forms.ChoiceField(label="Site for rows without one", required=False)

    def __init__(self, *args: Any, choices: RegistrationChoices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _set_choices(self.fields["site"], _site_choices(choices))


class ConfirmForm(forms.Form):
    sheet_text = forms.CharField(required=True, strip=False, widget=forms.HiddenInput)
    site = forms.CharField(required=False, widget=forms.HiddenInput)
    file_name = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)


# --- The preview ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLine:
    line: int
    values: dict[str, str]
    outcome: str
    errors: list[SheetError]
    new_lot: bool


@dataclass(frozen=True)
class Preview:
    result: RegistrationResult
    lines: list[PreviewLine]
    sheet_errors: list[SheetError]  # not on a data line: the header, the sheet as a whole
    confirm: ConfirmForm | None  # None when there is nothing to confirm

    def _count(self, outcome: Outcome) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def new_rows(self) -> int:
        return self._count(Outcome.CREATE)

    @property
    def unchanged_rows(self) -> int:
        return self._count(Outcome.UNCHANGED)

    @property
    def error_rows(self) -> int:
        return self._count(Outcome.ERROR)


def _preview(result: RegistrationResult, *, text: str, site: str) -> Preview:
    by_line: dict[int | None, list[SheetError]] = defaultdict(list)
    for error in result.errors:
        by_line[error.line].append(error)
    data_lines = {sheet_line.line for sheet_line in result.sheet.lines}
    new_lots = set(result.created_lots)
    lines = [
        PreviewLine(
            line=sheet_line.line,
            values=dict(sheet_line.values),
            outcome=str(result.outcomes.get(sheet_line.line, Outcome.ERROR)),
            errors=by_line.get(sheet_line.line, []),
            new_lot=sheet_line.values.get("lot", "") in new_lots,
        )
        for sheet_line in result.sheet.lines
    ]
    sheet_errors = [error for error in result.errors if error.line not in data_lines]
    confirm = None
    if result.ok and result.created_samples and text:
        confirm = ConfirmForm(initial={"sheet_text": text, "site": site, "file_name": result.sheet.file_name})
    return Preview(result=result, lines=lines, sheet_errors=sheet_errors, confirm=confirm)


def _page(
    request: HttpRequest,
    *,
    choices: RegistrationChoices,
    sample_form: SampleForm | None = None,
    sheet_form: SheetForm | None = None,
    preview: Preview | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "choices": choices,
        "sample_form": sample_form or SampleForm(choices=choices, initial={"site": choices.default_site_code}),
        "sheet_form": sheet_form or SheetForm(choices=choices, initial={"site": choices.default_site_code}),
        "preview": preview,
        "required_columns": REQUIRED_COLUMNS,
        "optional_columns": OPTIONAL_COLUMNS,
    }
    return render(request, "web/registration/register.html", context, status=status)


def _redirect_after(lot_codes: set[str]) -> HttpResponseRedirect:
    """To the lot's page when the samples went into one lot, else back to the registration page."""
    if len(lot_codes) == 1:
        return HttpResponseRedirect(reverse("web:lot_detail", args=[next(iter(lot_codes))]))
    return HttpResponseRedirect(reverse("web:register_samples"))


def _announce(request: HttpRequest, result: RegistrationResult) -> None:
    parts = [f"Registered {len(result.created_samples)} sample{'s' if len(result.created_samples) != 1 else ''}"]
    if result.created_lots:
        parts.append(f"created lot{'s' if len(result.created_lots) != 1 else ''} {', '.join(result.created_lots)}")
    if result.unchanged_samples:
        parts.append(f"{len(result.unchanged_samples)} already registered, left unchanged")
    messages.success(request, "; ".join(parts) + ".")


# --- Views ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def register_samples(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST: register the one sample of the form."""
    actor = _registrar(request)
    choices = registration_choices(actor=actor)
    if request.method != "POST":
        return _page(request, choices=choices, sample_form=SampleForm(choices=choices, initial=_initial_from_lot(request, actor, choices)))
    form = SampleForm(request.POST, choices=choices)
    if not form.is_valid():
        return _page(request, choices=choices, sample_form=form, status=400)
    record = form.record()
    sheet = sheet_from_records([record], file_name="registration form")
    result = samples_register_sheet(actor=actor, sheet=sheet, site_default=record["site"] or None, reason="registered in the web form")
    if result.errors:
        for error in result.errors:
            form.add_error(error.column if error.column in form.fields else None, error.message)
        return _page(request, choices=choices, sample_form=form, status=400)
    if result.unchanged_samples:
        messages.info(request, f"Sample {result.unchanged_samples[0]} was already registered exactly like this: nothing changed.")
    else:
        _announce(request, result)
    return _redirect_after({row.lot for row in sheet.rows})


def _initial_from_lot(request: HttpRequest, actor: User, choices: RegistrationChoices) -> dict[str, str]:
    """``?lot=CODE`` (the lot page's link) fills in the lot's own columns."""
    initial = {"site": choices.default_site_code, "dilution_factor": "1"}
    code = request.GET.get("lot", "")
    if not code:
        return initial
    try:
        lot = lot_get(actor=actor, code=code[:40])
    except NotFoundError:
        return initial
    initial.update(
        lot=lot.code,
        lot_kind=lot.kind,
        product=lot.product.code if lot.product is not None else "",
        supplier=lot.supplier.code if lot.supplier is not None else "",
    )
    if any(site.pk == lot.site_id for site in choices.sites):
        initial["site"] = lot.site.code
    return initial


@login_required
@require_POST
def preview_sheet(request: HtmxHttpRequest) -> HttpResponse:
    """A dry run of the pasted or uploaded sheet: the preview table, and Confirm if all is well."""
    actor = _registrar(request)
    choices = registration_choices(actor=actor)
    form = SheetForm(request.POST, request.FILES, choices=choices)
    data, file_name = b"", "pasted sheet"
    if form.is_valid():
        upload = form.cleaned_data.get("sheet_file")
        if upload is not None:
            if upload.size is not None and upload.size > MAX_SHEET_BYTES:
                form.add_error("sheet_file", f"The file is larger than {MAX_SHEET_BYTES // (1024 * 1024)} MB: is it a sample sheet?")
            else:
                data, file_name = upload.read(), upload.name or "upload.csv"
        elif form.cleaned_data.get("sheet_text", "").strip():
            data = form.cleaned_data["sheet_text"].encode("utf-8")
        else:
            form.add_error(None, "Paste a sample sheet or choose a file.")
    if not form.is_valid():
        if _wants_partial(request):
            return render(request, "web/registration/_sheet_errors.html", {"sheet_form": form})
        return _page(request, choices=choices, sheet_form=form, status=400)
    site = form.cleaned_data.get("site") or ""
    sheet = parse_sample_sheet(data, file_name=file_name)
    result = samples_register_sheet(actor=actor, sheet=sheet, site_default=site or None, dry_run=True)
    try:
        # Confirm posts the text back: an upload's bytes become text once, here.
        text = decode_export(data, file_name=file_name)
    except ImportFormatError:
        text = ""
    preview = _preview(result, text=text, site=site)
    if _wants_partial(request):
        return render(request, "web/registration/_preview.html", {"preview": preview})
    return _page(request, choices=choices, sheet_form=form, preview=preview)


@login_required
@require_POST
def confirm_sheet(request: HttpRequest) -> HttpResponse:
    """Register the previewed sheet. Checked again from scratch: the database may have moved on."""
    actor = _registrar(request)
    choices = registration_choices(actor=actor)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing to register: preview a sheet first.")
        return HttpResponseRedirect(reverse("web:register_samples"))
    text, site = form.cleaned_data["sheet_text"], form.cleaned_data.get("site") or ""
    file_name = form.cleaned_data.get("file_name") or "pasted sheet"
    sheet = parse_sample_sheet(text.encode("utf-8"), file_name=file_name)
    result = samples_register_sheet(actor=actor, sheet=sheet, site_default=site or None, reason=f"sample sheet {file_name}")
    if result.errors:
        preview = _preview(result, text=text, site=site)
        return _page(
            request,
            choices=choices,
            sheet_form=SheetForm(choices=choices, initial={"sheet_text": text, "site": site}),
            preview=preview,
            status=400,
        )
    _announce(request, result)
    created = set(result.created_samples)
    return _redirect_after({row.lot for row in sheet.rows if row.sample_id in created})


@require_safe
@login_required
def sheet_template(request: HttpRequest) -> HttpResponse:
    """A CSV with the header and one example row, to start a sheet from."""
    _registrar(request)
    example = ["S-0001", "LOT-0001", "feedstock", "", "", "0.1002", "50", "10", "", "routine", "", "", "", "", ""]
    body = ",".join(KNOWN_COLUMNS) + "\r\n" + ",".join(example) + "\r\n"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="sample-sheet.csv"'
    return response


# --- Labels ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    sample: Sample | None  # None: a blank cell (a label already used on a partial sheet)
    qr_svg: SafeString


def qr_svg(text: str) -> SafeString:
    """The QR code of ``text`` as inline SVG, sized by CSS (viewBox, no width or height)."""
    symbol = segno.make(text, error=QR_ERROR, micro=False, boost_error=False)
    # Safe: segno writes the SVG itself and the sample id it encodes holds [A-Z0-9._-] only.
    return mark_safe(symbol.svg_inline(scale=1, border=2, omitsize=True, svgclass="qr", lineclass=None))  # noqa: S308


@require_safe
@login_required
def lot_labels(request: HttpRequest, code: str) -> HttpResponse:
    """The lot's samples as labels on A4 sheets (3 x 7), to print. ``?start=N`` begins at the Nth
    label of the first sheet, so a partly used sheet can go back in the printer."""
    user = request.user
    if not (is_staff_member(user) or getattr(user, "is_superuser", False)):
        raise PermissionDenied("Samples are the laboratory's records.")
    try:
        lot = lot_get(actor=user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    samples = list(lot_samples(actor=user, lot=lot))
    try:
        start = min(max(int(request.GET.get("start", "1")), 1), LABELS_PER_SHEET)
    except ValueError:
        start = 1
    cells = [Label(sample=None, qr_svg=mark_safe("")) for _ in range(start - 1)]
    cells += [Label(sample=sample, qr_svg=qr_svg(sample.code)) for sample in samples]
    sheets = [cells[index : index + LABELS_PER_SHEET] for index in range(0, len(cells), LABELS_PER_SHEET)]
    context = {"lot": lot, "samples": samples, "sheets": sheets, "start": start, "positions": range(1, LABELS_PER_SHEET + 1)}
    return render(request, "web/registration/labels.html", context)
