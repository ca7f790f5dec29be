"""A method's page: its rule pack, its QC standards and its control charts (staff only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from assays.errors import NotFoundError
from assays.selectors.qc_pages import method_page
from assays.web.views import HtmxHttpRequest, _wants_partial


@require_safe
@login_required
@vary_on_headers("HX-Request")
def method_detail(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """Anyone but lab staff gets a 404, as for a method that does not exist."""
    try:
        page = method_page(actor=request.user, code=code, analyte=request.GET.get("analyte", ""))
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    context = {"page": page, "method": page.method}
    if _wants_partial(request):
        return render(request, "web/methods/_charts.html", context)
    return render(request, "web/methods/detail.html", context)
