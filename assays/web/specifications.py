"""The Specifications pages: products with their active specification, a product's lines and its
reassessments with a progress bar that htmx polls while one runs (lab staff only).

QA managers and lab admins see a "Reassess all lots" form; the service decides, and a refusal that
gets through anyway (a page left open, a crafted request) comes back as its message.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from assays.errors import DomainError, NotFoundError
from assays.selectors.reassessments import product_specification, reassessment_get, specification_overview
from assays.services.reassessment import may_reassess, product_reassess
from assays.web.views import HtmxHttpRequest, _wants_partial

# A reason is a sentence or a paragraph; far longer is a paste gone wrong.
MAX_REASON = 2000


@require_safe
@login_required
def specification_list(request: HtmxHttpRequest) -> HttpResponse:
    try:
        rows = specification_overview(actor=request.user)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    return render(request, "web/specifications/list.html", {"rows": rows})


@require_safe
@login_required
def specification_product(request: HtmxHttpRequest, code: str) -> HttpResponse:
    try:
        page = product_specification(actor=request.user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    context = {"page": page, "product": page.product, "can_reassess": may_reassess(request.user), "max_reason": MAX_REASON}
    return render(request, "web/specifications/product.html", context)


@require_safe
@login_required
@vary_on_headers("HX-Request")
def reassessment_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One reassessment's progress row: what the page polls every second while it runs. Once it
    has finished the row comes back without its trigger, and the polling stops."""
    try:
        reassessment = reassessment_get(actor=request.user, reassessment_id=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    if not _wants_partial(request):
        return HttpResponseRedirect(reverse("web:specification_product", args=[reassessment.product.code]))
    return render(request, "web/specifications/_reassessment_row.html", {"reassessment": reassessment})


@require_POST
@login_required
def reassess_product(request: HtmxHttpRequest, code: str) -> HttpResponse:
    try:
        page = product_specification(actor=request.user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    reason = request.POST.get("reason", "").strip()
    target = reverse("web:specification_product", args=[page.product.code])
    if len(reason) > MAX_REASON:
        messages.error(request, f"The reason is longer than {MAX_REASON} characters.")
        return HttpResponseRedirect(target)
    try:
        reassessment = product_reassess(actor=request.user, product=page.product, reason=reason)
    except DomainError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(target)
    messages.info(request, f"Reassessment {reassessment.pk} of {reassessment.total_lots} lot(s) is under way.")
    return HttpResponseRedirect(target)
