"""Typing results by hand for a lot's samples: a grid, one result per row, saved as a run.

One row per sample of the lot to start with (``?analyte=LOI&unit=%`` fills every row, for the
common "LOI of every sample" case); "Add row" appends more through htmx. The rows go to
``manual_results_save``, which validates them with the generic-long parser and imports them like
a file; errors come back on the rows they belong to.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from assays.chemistry.units import SOLID_UNIT
from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.importers.analytes import NAMED_ANALYTES
from assays.importers.channel_labels import ATOMIC_NUMBERS
from assays.models import Lot, Method, Sample
from assays.permissions import Capability, can
from assays.selectors.runs import manual_entry_samples, method_list
from assays.services.manual_entry import MAX_ROWS, ManualRow, RowError, manual_results_save

# Solid units first: LOI, anions and an outside lab's certificate report on the solid.
UNITS: tuple[str, ...] = ("%", SOLID_UNIT, "µg/g", "g/kg", "µg/kg", "mg/L", "µg/L", "ng/L")
ANALYTE_SUGGESTIONS: tuple[str, ...] = (*NAMED_ANALYTES, *sorted(ATOMIC_NUMBERS, key=lambda symbol: ATOMIC_NUMBERS[symbol]))
EXTRA_ROWS = 2  # empty rows below the lot's samples
_MAX_TEXT = 100


@dataclass(frozen=True)
class GridRow:
    row: ManualRow
    errors: dict[str, list[str]]  # by column ("" for the row as a whole)


def _entrant(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not can(user, Capability.IMPORT_RUNS):
        raise PermissionDenied("Your role does not enter results.")
    return user


def _lot_and_samples(actor: User, code: str) -> tuple[Lot, list[Sample]]:
    try:
        return manual_entry_samples(actor=actor, lot_code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _manual_methods(actor: User) -> list[Method]:
    return list(method_list(actor=actor).filter(is_manual=True))


def _posted_rows(request: HttpRequest) -> list[ManualRow]:
    names = ("sample", "analyte", "value", "lod", "unit", "expanded_u", "coverage_factor")
    columns = {name: request.POST.getlist(name)[: MAX_ROWS * 2] for name in names}
    count = max((len(values) for values in columns.values()), default=0)

    def cell(name: str, index: int) -> str:
        values = columns[name]
        return values[index][: _MAX_TEXT * 2] if index < len(values) else ""

    return [
        ManualRow(
            number=index + 1,
            sample=cell("sample", index),
            analyte=cell("analyte", index),
            value=cell("value", index),
            lod=cell("lod", index),
            unit=cell("unit", index),
            expanded_u=cell("expanded_u", index),
            coverage_factor=cell("coverage_factor", index),
        )
        for index in range(count)
    ]


def _grid(rows: list[ManualRow], errors: list[RowError]) -> tuple[list[GridRow], list[RowError]]:
    by_row: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    general: list[RowError] = []
    for error in errors:
        if error.row is None:
            general.append(error)
        else:
            by_row[error.row][error.column or ""].append(error.message)
    return [GridRow(row=row, errors=dict(by_row.get(row.number, {}))) for row in rows], general


def _page(
    request: HttpRequest,
    *,
    lot: Lot,
    samples: list[Sample],
    rows: list[GridRow],
    general: list[RowError],
    methods: list[Method],
    chosen_method: str,
    reference: str,
    status: int = 200,
) -> HttpResponse:
    context = {
        "lot": lot,
        "samples": samples,
        "rows": rows,
        "general_errors": general,
        "error_count": sum(len(messages_) for row in rows for messages_ in row.errors.values()) + len(general),
        "methods": methods,
        "chosen_method": chosen_method,
        "reference": reference,
        "units": UNITS,
        "analytes": ANALYTE_SUGGESTIONS,
        "next_row": len(rows) + 1,
        "fill_analyte": request.GET.get("analyte", "")[:_MAX_TEXT],
        "fill_unit": request.GET.get("unit", "")[:_MAX_TEXT],
    }
    return render(request, "web/manual/entry.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def manual_entry(request: HttpRequest, code: str) -> HttpResponse:
    actor = _entrant(request)
    lot, samples = _lot_and_samples(actor, code)
    methods = _manual_methods(actor)
    if request.method != "POST":
        analyte = request.GET.get("analyte", "")[:_MAX_TEXT]
        unit = request.GET.get("unit", "")[:_MAX_TEXT]
        starting = [ManualRow(number=index + 1, sample=sample.code, analyte=analyte, unit=unit) for index, sample in enumerate(samples)]
        starting += [ManualRow(number=len(starting) + extra + 1, analyte=analyte, unit=unit) for extra in range(EXTRA_ROWS)]
        rows, _ = _grid(starting, [])
        return _page(
            request,
            lot=lot,
            samples=samples,
            rows=rows,
            general=[],
            methods=methods,
            chosen_method=methods[0].code if methods else "",
            reference="",
        )

    posted = _posted_rows(request)
    reference = request.POST.get("reference", "")[:200]
    chosen = request.POST.get("method", "")
    method = next((candidate for candidate in methods if candidate.code == chosen), None)
    errors: list[RowError] = []
    result = None
    if chosen and method is None:
        errors.append(RowError(None, None, f"{chosen[:40]!r} is not a manual method"))
    else:
        try:
            result = manual_results_save(actor=actor, lot_code=lot.code, rows=posted, method=method, reference=reference)
        except PermissionDeniedError as exc:
            raise PermissionDenied(str(exc)) from exc
        except NotFoundError as exc:
            raise Http404(str(exc)) from exc
        except DomainError as exc:
            errors.append(RowError(None, None, str(exc)))
    if result is not None and result.ok and result.summary is not None and result.run_id is not None:
        summary = result.summary
        if summary.existing:
            messages.info(request, f"These results were already saved as run {summary.run_id}: nothing new was written.")
        else:
            messages.success(
                request,
                f"Saved {summary.values} result{'s' if summary.values != 1 else ''} for lot {lot.code} as run {summary.run_id}.",
            )
        return HttpResponseRedirect(reverse("web:run_detail", args=[result.run_id]))
    if result is not None:
        errors.extend(result.errors)
    rows, general = _grid(posted or [ManualRow(number=1)], errors)
    return _page(
        request,
        lot=lot,
        samples=samples,
        rows=rows,
        general=general,
        methods=methods,
        chosen_method=chosen,
        reference=reference,
        status=400,
    )


@require_safe
@login_required
def manual_entry_row(request: HttpRequest, code: str) -> HttpResponse:
    """One more empty row (htmx); it carries the next "Add row" button, numbered one further."""
    actor = _entrant(request)
    lot, samples = _lot_and_samples(actor, code)
    try:
        number = min(max(int(request.GET.get("n", "1")), 1), MAX_ROWS * 2)
    except ValueError:
        number = 1
    row = GridRow(row=ManualRow(number=number), errors={})
    context = {
        "lot": lot,
        "samples": samples,
        "grid_row": row,
        "units": UNITS,
        "next_row": number + 1,
        "oob": True,
    }
    return render(request, "web/manual/_row.html", context)
