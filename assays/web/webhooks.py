"""Webhook pages: a partner's users at /portal/webhooks/, Lab admins at /partners/<code>/webhooks/.

One page per partner: its webhooks (register, with the secret shown once; disable), and the
delivery log (status, attempts, last answer; send a failed one again). The services decide who may
do what; the pages map their refusals: another partner's webhook or delivery is a 404, exactly
like one that does not exist, a missing right a 403, anything else refused a 400 on the form.
"""

from __future__ import annotations

import json
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
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import DeliveryStatus, Partner, PartnerWebhook, WebhookDelivery, WebhookEvent
from assays.selectors.webhooks import (
    deliveries_of,
    delivery_of,
    webhook_of,
    webhook_partner_get,
    webhook_partner_own,
    webhooks_of,
)
from assays.services.webhooks import (
    MAX_DESCRIPTION,
    MAX_URL,
    delivery_resendable,
    webhook_delivery_resend,
    webhook_disable,
    webhook_register,
)

DELIVERIES_PER_PAGE = 25
MAX_REASON = 2000
# The badge colours the other pages use: done (green), waiting (violet), given up (red).
_BADGE = {DeliveryStatus.DELIVERED: "accepted", DeliveryStatus.PENDING: "pending_qc", DeliveryStatus.FAILED: "rejected"}


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class RegisterForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=MAX_URL,
        widget=forms.TextInput(attrs={"placeholder": "https://erp.example.com/lims-events", "inputmode": "url", "autocomplete": "off"}),
    )
    events = forms.MultipleChoiceField(
        label="Events", choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, initial=WebhookEvent.values
    )
    description = forms.CharField(label="Description", required=False, max_length=MAX_DESCRIPTION)


class DisableForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=MAX_REASON, widget=forms.TextInput(attrs={"placeholder": "Why it is disabled"}))


class LogFilter(forms.Form):
    status = forms.ChoiceField(label="Status", required=False, choices=[("", "All"), *DeliveryStatus.choices])


@dataclass(frozen=True)
class Scope:
    """Whose webhooks the page shows, and through which door: the portal or the lab's page."""

    partner: Partner
    lab: bool

    def url(self, name: str, *args: int) -> str:
        if self.lab:
            return reverse(f"web:partner_{name}", args=[self.partner.code, *args])
        return reverse(f"web:portal_{name}", args=list(args))


@dataclass(frozen=True)
class WebhookRow:
    webhook: PartnerWebhook
    event_labels: list[str]
    disable_url: str


@dataclass(frozen=True)
class DeliveryRow:
    delivery: WebhookDelivery
    badge: str
    resend_url: str  # "" when it cannot be sent again
    payload: str


def _portal_scope(request: HttpRequest) -> Scope:
    try:
        return Scope(partner=webhook_partner_own(actor=request.user), lab=False)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc


def _lab_scope(request: HttpRequest, code: str) -> Scope:
    try:
        return Scope(partner=webhook_partner_get(actor=request.user, code=code), lab=True)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _refusal_status(exc: DomainError) -> int:
    if isinstance(exc, NotFoundError):
        raise Http404(str(exc)) from exc
    return 403 if isinstance(exc, PermissionDeniedError) else 400


def _log(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    log_filter = LogFilter(request.GET)
    status = log_filter.cleaned_data.get("status", "") if log_filter.is_valid() else ""
    page = Paginator(deliveries_of(partner=scope.partner, status=status), DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        DeliveryRow(
            delivery=delivery,
            badge=_BADGE.get(DeliveryStatus(delivery.status), "outline"),
            resend_url=scope.url("webhook_resend", delivery.pk)
            if delivery.webhook.is_active and delivery_resendable(delivery, now=now)
            else "",
            payload=json.dumps(delivery.payload, indent=2, sort_keys=True),
        )
        for delivery in page.object_list
    ]
    return {"log_filter": log_filter, "page": page, "rows": rows, "log_url": scope.url("webhooks")}


def _page(request: HtmxHttpRequest, scope: Scope, *, form: RegisterForm | None = None, status: int = 200, **extra: Any) -> HttpResponse:
    labels = dict(WebhookEvent.choices)
    context = {
        "scope": scope,
        "partner": scope.partner,
        "webhooks": [
            WebhookRow(
                webhook=webhook,
                event_labels=[labels.get(event, event) for event in webhook.events],
                disable_url=scope.url("webhook_disable", webhook.pk),
            )
            for webhook in webhooks_of(partner=scope.partner)
        ],
        "form": form or RegisterForm(),
        "disable_form": DisableForm(),
        **_log(request, scope),
        **extra,
    }
    if request.method == "GET" and request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        return render(request, "web/webhooks/_deliveries.html", context)
    return render(request, "web/webhooks/page.html", context, status=status)


def _register(request: HtmxHttpRequest, scope: Scope) -> HttpResponse:
    form = RegisterForm(request.POST)
    if not form.is_valid():
        return _page(request, scope, form=form, status=400, register_error="Not registered: correct the form.")
    data = form.cleaned_data
    assert isinstance(request.user, User)  # login_required
    try:
        webhook, secret = webhook_register(
            actor=request.user, partner=scope.partner, url=data["url"], events=data["events"], description=data["description"]
        )
    except DomainError as exc:
        status = _refusal_status(exc)
        field, sep, message = str(exc).partition(": ")
        if sep and field in form.fields:
            form.add_error(field, _sentence(message))
            return _page(request, scope, form=form, status=status, register_error="Not registered: correct the form.")
        return _page(request, scope, form=form, status=status, register_error=f"Not registered: {_sentence(str(exc))}")
    response = _page(request, scope, new_webhook=webhook, new_secret=secret, status=201)
    # The secret is on this page only: no cache may keep a copy.
    response["Cache-Control"] = "no-store"
    return response


def _webhooks(request: HtmxHttpRequest, scope: Scope) -> HttpResponse:
    if request.method == "POST":
        return _register(request, scope)
    return _page(request, scope)


def _disable(request: HtmxHttpRequest, scope: Scope, pk: int) -> HttpResponse:
    try:
        webhook = webhook_of(partner=scope.partner, pk=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    form = DisableForm(request.POST)
    if not form.is_valid():
        return _page(request, scope, status=400, disable_error="Not disabled: say why.", disable_pk=pk)
    assert isinstance(request.user, User)  # login_required
    try:
        webhook_disable(actor=request.user, webhook=webhook, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        status = _refusal_status(exc)
        return _page(request, scope, status=status, disable_error=f"Not disabled: {_sentence(str(exc))}", disable_pk=pk)
    messages.success(request, f"Disabled the webhook to {webhook.url}. Nothing more is sent to it.")
    return HttpResponseRedirect(scope.url("webhooks"))


def _resend(request: HtmxHttpRequest, scope: Scope, pk: int) -> HttpResponse:
    try:
        delivery = delivery_of(partner=scope.partner, pk=pk)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    assert isinstance(request.user, User)  # login_required
    try:
        sent = webhook_delivery_resend(actor=request.user, delivery=delivery)
    except DomainError as exc:
        status = _refusal_status(exc)
        return _page(request, scope, status=status, log_error=f"Not sent again: {_sentence(str(exc))}")
    sent.refresh_from_db()
    messages.success(request, f"Sent {sent.event} {sent.event_id} again: {sent.get_status_display().lower()}.")
    return HttpResponseRedirect(scope.url("webhooks"))


# --- The portal: a partner user, its own partner ----------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@vary_on_headers("HX-Request")
def portal_webhooks(request: HtmxHttpRequest) -> HttpResponse:
    return _webhooks(request, _portal_scope(request))


@require_POST
@login_required
def portal_webhook_disable(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _disable(request, _portal_scope(request), pk)


@require_POST
@login_required
def portal_webhook_resend(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _resend(request, _portal_scope(request), pk)


# --- The lab: a Lab admin, any partner ----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@vary_on_headers("HX-Request")
def partner_webhooks(request: HtmxHttpRequest, code: str) -> HttpResponse:
    return _webhooks(request, _lab_scope(request, code))


@require_POST
@login_required
def partner_webhook_disable(request: HtmxHttpRequest, code: str, pk: int) -> HttpResponse:
    return _disable(request, _lab_scope(request, code), pk)


@require_POST
@login_required
def partner_webhook_resend(request: HtmxHttpRequest, code: str, pk: int) -> HttpResponse:
    return _resend(request, _lab_scope(request, code), pk)
