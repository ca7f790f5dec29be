"""Server-rendered pages for the lab and its partners: thin views over the selectors.

Every page needs a signed-in user, and every read goes through a selector scoped by that user, so
a lot outside the user's sites or partner answers 404 exactly like a lot that does not exist.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from assays.errors import NotFoundError
from assays.models import Lot
from assays.permissions import Capability, can
from assays.roles import is_partner_user, is_staff_member
from assays.selectors.assessments import assessment_rows, lot_assessment_latest, payable_rows, report_rows
from assays.selectors.dashboard import dashboard_counts
from assays.selectors.lot_detail import lot_detail, lot_purity_trend_chart
from assays.selectors.lot_search import lot_search
from assays.selectors.qc_pages import lot_method_control
from assays.web.forms import LotFilterForm

LOTS_PER_PAGE = 25
RECENT_LOTS_ON_DASHBOARD = 8
# Beat schedules a heartbeat every minute; a few missed beats mean the workers are down.
HEARTBEAT_STALE_AFTER_MINUTES = 5


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _is_lab_user(request: HttpRequest) -> bool:
    return is_staff_member(request.user) or bool(getattr(request.user, "is_superuser", False))


def _wants_partial(request: HtmxHttpRequest) -> bool:
    """An htmx swap of one region; a boosted link or a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


def _paginate(request: HttpRequest, lots: QuerySet[Lot]) -> Page[Lot]:
    # get_page turns a missing, non-numeric or out-of-range page into a valid one: never a 500.
    return Paginator(lots, LOTS_PER_PAGE).get_page(request.GET.get("page"))


@require_safe
@login_required
@vary_on_headers("HX-Request")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    if _is_lab_user(request):
        counts = dashboard_counts(actor=request.user)
        heartbeat_minutes: int | None = None
        if counts.last_worker_heartbeat_at is not None:
            heartbeat_minutes = max(0, int((timezone.now() - counts.last_worker_heartbeat_at).total_seconds() // 60))
        context: dict[str, object] = {
            "counts": counts,
            "heartbeat_minutes": heartbeat_minutes,
            "heartbeat_stale": heartbeat_minutes is None or heartbeat_minutes > HEARTBEAT_STALE_AFTER_MINUTES,
            # In the embedded mode tasks run in-process: no worker is expected to report.
            "tasks_run_in_process": settings.CELERY_TASK_ALWAYS_EAGER,
            "recent_lots": list(lot_search(actor=request.user)[:RECENT_LOTS_ON_DASHBOARD]),
        }
        return render(request, "web/dashboard.html", context)
    if is_partner_user(request.user):
        # A partner's start page is the portal's lot list (assays.web.portal): signing in lands there.
        return HttpResponseRedirect(reverse("web:portal"))
    return render(request, "web/no_role.html")


@require_safe
@login_required
@vary_on_headers("HX-Request")
def lot_list(request: HtmxHttpRequest) -> HttpResponse:
    form = LotFilterForm(request.GET)
    page = _paginate(request, lot_search(actor=request.user, **form.filters()))
    context = {"form": form, "page": page}
    if _wants_partial(request):
        return render(request, "web/lots/_table.html", context)
    return render(request, "web/lots/list.html", context)


@require_safe
@login_required
def lot_detail_page(request: HtmxHttpRequest, code: str) -> HttpResponse:
    try:
        detail = lot_detail(actor=request.user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    method_control = lot_method_control(actor=request.user, lot=detail.lot)
    # None for partner users too: assessments are not released to partners yet.
    assessment = lot_assessment_latest(actor=request.user, lot=detail.lot)
    context = {
        "detail": detail,
        "lot": detail.lot,
        "method_control": method_control,
        "assessment": assessment,
        "assessment_rows": assessment_rows(assessment) if assessment is not None else [],
        # A report of analysis (feedstock): its payable composition instead of verdicts.
        "payable_rows": payable_rows(assessment) if assessment is not None else [],
        "report_rows": report_rows(assessment) if assessment is not None else [],
        "purity_trend": lot_purity_trend_chart(actor=request.user, lot=detail.lot),
        # QA signs from the review page; everyone else on the lab's side may read it.
        "can_sign": can(request.user, Capability.SIGN_CERTIFICATES),
    }
    return render(request, "web/lots/detail.html", context)
