"""QA's pages: the QA dashboard (lots in the order QA works them, run and method flags), a flag's
page, and the decisions: acknowledge or resolve a flag, release a lot from hold or reject it.

The services decide who may do what (QA within their sites, a reason always); the pages only hide
the forms from those the service would refuse and say why. Reads go through the lab-only selectors
of ``assays.selectors.qa_dashboard``, so a flag or lot outside the user's scope (or any, for a
partner user) is a 404 before any service is asked; a role that may not decide gets a 403.

Each decision is a POST. From htmx it answers the updated partial: the lot's flag panel when the
form came from one (``panel=lot``), else the flag itself; a refusal comes back inside that partial
(200, so htmx swaps it in). Without JavaScript it redirects back with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import Flag, Lot, LotStatus
from assays.permissions import Capability, can
from assays.roles import is_staff_member
from assays.selectors.qa_dashboard import (
    FLAG_FILTER_CHOICES,
    QaFilters,
    flag_get,
    flag_summary,
    qa_dashboard,
    qa_filter_choices,
    qa_lot_get,
)
from assays.services.flags import MAX_REASON, flag_acknowledge, flag_resolve, lot_hold_release, lot_reject


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class QaFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    product = forms.ChoiceField(required=False)
    site = forms.ChoiceField(required=False)
    flags = forms.ChoiceField(choices=FLAG_FILTER_CHOICES, required=False)

    def __init__(self, data: Any, *, products: list[tuple[str, str]], sites: list[tuple[str, str]]) -> None:
        super().__init__(data)
        choices = {
            "status": [("", "Any status"), *LotStatus.choices],
            "product": [("", "Any product"), *((code, f"{code} — {name}") for code, name in products)],
            "site": [("", "Any site"), *((code, f"{code} — {name}") for code, name in sites)],
        }
        for name, options in choices.items():
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)  # declared so above
            field.choices = options

    def filters(self) -> QaFilters:
        """The valid filters only: a tampered value drops that one filter, never the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return QaFilters(
            status=data.get("status", ""), product=data.get("product", ""), site=data.get("site", ""), flags=data.get("flags", "")
        )


def _is_lab(user: User | AnonymousUser) -> bool:
    return is_staff_member(user) or bool(getattr(user, "is_superuser", False))


def _wants_partial(request: HtmxHttpRequest) -> bool:
    """An htmx swap of one region; a boosted link or a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request


@require_safe
@login_required
@vary_on_headers("HX-Request")
def qa_dashboard_page(request: HtmxHttpRequest) -> HttpResponse:
    if not _is_lab(request.user):
        raise PermissionDenied("The QA dashboard is the laboratory's.")
    products, sites = qa_filter_choices(actor=request.user)
    form = QaFilterForm(request.GET, products=products, sites=sites)
    dashboard = qa_dashboard(actor=request.user, filters=form.filters(), page=request.GET.get("page"))
    context = {"form": form, "dashboard": dashboard, "can_act": can(request.user, Capability.ACT_ON_FLAGS)}
    if _wants_partial(request):
        return render(request, "web/qa/_lots.html", context)
    return render(request, "web/qa/dashboard.html", context)


def _visible_flag(request: HttpRequest, flag_id: int) -> Flag:
    try:
        return flag_get(actor=request.user, flag_id=flag_id)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _visible_lot(request: HttpRequest, code: str) -> Lot:
    try:
        return qa_lot_get(actor=request.user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


@require_safe
@login_required
def qa_flag_detail(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = _visible_flag(request, flag_id)
    context = {
        "flag": flag,
        "summary": flag_summary(flag),
        "can_act": can(request.user, Capability.ACT_ON_FLAGS),
    }
    return render(request, "web/qa/flag_detail.html", context)


@require_safe
@login_required
@vary_on_headers("HX-Request")
def qa_lot_flags(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """The lot's flag panel: alone for htmx (the lot page and the QA dashboard load it so), as a
    page of its own without JavaScript."""
    lot = _visible_lot(request, code)
    return render(request, "web/lots/_flags.html" if _wants_partial(request) else "web/qa/lot_flags.html", {"lot": lot})


# --- The decisions ----------------------------------------------------------------------------------


def _posted_reason(request: HttpRequest) -> str:
    """The reason as typed, bounded before it reaches anything; the service refuses an empty one."""
    return request.POST.get("reason", "")[: MAX_REASON + 1]


def _safe_next(request: HttpRequest, fallback: str) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return wanted
    return fallback


def _decide(request: HttpRequest, action: Callable[[], object], *, done: str, refused: str) -> tuple[str, str]:
    """Run a decision; (notice, error) for the page. A 404 or 403 from the service stays one."""
    try:
        action()
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc
    except DomainError as exc:
        return "", f"{refused}: {exc}."
    return done, ""


def _answer(request: HtmxHttpRequest, *, notice: str, error: str, partial: str, context: dict[str, Any], fallback: str) -> HttpResponse:
    if _wants_partial(request):
        return render(request, partial, {**context, "flag_notice": notice, "flag_error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return HttpResponseRedirect(_safe_next(request, fallback))


def _flag_decision(request: HtmxHttpRequest, flag_id: int, *, resolve: bool) -> HttpResponse:
    flag = _visible_flag(request, flag_id)
    reason = _posted_reason(request)
    if resolve:
        notice, error = _decide(
            request,
            lambda: flag_resolve(actor=request.user, flag=flag, reason=reason),
            done=f"Resolved flag {flag.pk} ({flag.get_kind_display().lower()}).",
            refused="The flag was not resolved",
        )
    else:
        notice, error = _decide(
            request,
            lambda: flag_acknowledge(actor=request.user, flag=flag, reason=reason),
            done=f"Acknowledged flag {flag.pk} ({flag.get_kind_display().lower()}).",
            refused="The flag was not acknowledged",
        )
    fallback = reverse("web:qa_flag_detail", args=[flag.pk])
    if request.POST.get("panel") == "lot" and flag.lot is not None:
        return _answer(request, notice=notice, error=error, partial="web/lots/_flags.html", context={"lot": flag.lot}, fallback=fallback)
    fresh = _visible_flag(request, flag_id)
    context = {"flag": fresh, "can_act": can(request.user, Capability.ACT_ON_FLAGS)}
    return _answer(request, notice=notice, error=error, partial="web/qa/_flag.html", context=context, fallback=fallback)


@require_POST
@login_required
def qa_flag_acknowledge(request: HtmxHttpRequest, flag_id: int) -> HttpResponse:
    return _flag_decision(request, flag_id, resolve=False)


@require_POST
@login_required
def qa_flag_resolve(request: HtmxHttpRequest, flag_id: int) -> HttpResponse:
    return _flag_decision(request, flag_id, resolve=True)


def _lot_decision(request: HtmxHttpRequest, code: str, *, reject: bool) -> HttpResponse:
    lot = _visible_lot(request, code)
    reason = _posted_reason(request)
    if reject:
        notice, error = _decide(
            request,
            lambda: lot_reject(actor=request.user, lot=lot, reason=reason),
            done=f"Rejected lot {lot.code}: final.",
            refused=f"Lot {lot.code} was not rejected",
        )
    else:
        notice, error = _decide(
            request,
            lambda: lot_hold_release(actor=request.user, lot=lot, reason=reason),
            done=f"Released lot {lot.code} from hold: it is assessed again.",
            refused=f"Lot {lot.code} was not released from hold",
        )
    lot.refresh_from_db()
    fallback = reverse("web:lot_detail", args=[lot.code])
    return _answer(request, notice=notice, error=error, partial="web/lots/_flags.html", context={"lot": lot}, fallback=fallback)


@require_POST
@login_required
def qa_lot_release(request: HtmxHttpRequest, code: str) -> HttpResponse:
    return _lot_decision(request, code, reject=False)


@require_POST
@login_required
def qa_lot_reject(request: HtmxHttpRequest, code: str) -> HttpResponse:
    return _lot_decision(request, code, reject=True)
