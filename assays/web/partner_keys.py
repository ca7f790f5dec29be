"""Partners' API keys, for Lab admins: ``/partners/`` and ``/partners/<code>/keys/``.

Issuing and revoking go through ``assays.services.partner_keys``, which checks the role and
audits both. The key itself is shown once, on the page that answers the issuing POST: never
stored, never put in a URL, a message or a log, and that page is not cached. A partner user
asking for these pages gets a 404 (as for any lab page), other staff a 403.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from assays.errors import NotFoundError, PermissionDeniedError
from assays.models import ApiScope, Partner, PartnerApiKey
from assays.selectors.partner_keys import partner_for_keys, partner_key_get, partner_keys, partners_with_keys
from assays.services.partner_keys import DEFAULT_LIFETIME, ApiKeyRefusedError, api_key_issue, api_key_revoke

MAX_REASON = 2000
# The service names the field its refusal is about ("expires_at: …"); the form calls some of them otherwise.
_FORM_FIELD = {"name": "name", "scopes": "scopes", "expires_at": "expires_on", "throttle_rate": "throttle_rate"}


class IssueForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": "What system uses it, e.g. SAP ERP production", "autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes", choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, initial=ApiScope.values
    )
    expires_on = forms.DateField(
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The key stops working at the end of this day (UTC).",
    )
    throttle_rate = forms.CharField(
        label="Rate limit",
        required=False,
        max_length=16,
        widget=forms.TextInput(attrs={"placeholder": "e.g. 600/min", "autocomplete": "off"}),
        help_text="Requests per period; blank: the laboratory's default.",
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=MAX_REASON)


@dataclass(frozen=True)
class KeyRow:
    key: PartnerApiKey
    state: str  # active, expired or revoked
    revoke_url: str


def _partner(request: HttpRequest, code: str) -> Partner:
    try:
        return partner_for_keys(actor=request.user, code=code)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc


def _state(key: PartnerApiKey, now: dt.datetime) -> str:
    if key.revoked:
        return "revoked"
    if key.expiry_date is not None and key.expiry_date <= now:
        return "expired"
    return "active"


def _rows(partner: Partner, keys: Any) -> list[KeyRow]:
    now = timezone.now()
    return [
        KeyRow(key=key, state=_state(key, now), revoke_url=reverse("web:partner_key_revoke", args=[partner.code, key.prefix]))
        for key in keys
    ]


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def _keys_page(
    request: HttpRequest,
    partner: Partner,
    *,
    form: IssueForm | None = None,
    revoke_error: str = "",
    status: int = 200,
) -> HttpResponse:
    if form is None:
        form = IssueForm(initial={"expires_on": (timezone.now() + DEFAULT_LIFETIME).date()})
    context = {
        "partner": partner,
        "rows": _rows(partner, partner_keys(partner=partner)),
        "form": form,
        "revoke_error": revoke_error,
    }
    return render(request, "web/partners/keys.html", context, status=status)


@require_safe
@login_required
def partner_list(request: HttpRequest) -> HttpResponse:
    try:
        partners = list(partners_with_keys(actor=request.user))
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc
    now = timezone.now()
    rows = [(partner, [(key, _state(key, now)) for key in partner.api_keys.all()]) for partner in partners]
    return render(request, "web/partners/list.html", {"rows": rows})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def partner_keys_page(request: HttpRequest, code: str) -> HttpResponse:
    partner = _partner(request, code)
    if request.method != "POST":
        return _keys_page(request, partner)
    form = IssueForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, partner, form=form, status=400)
    data = form.cleaned_data
    assert isinstance(request.user, User)  # login_required
    try:
        key, raw = api_key_issue(
            actor=request.user,
            partner=partner,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=_end_of_day(data["expires_on"]),
            throttle_rate=data["throttle_rate"],
        )
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc
    except ApiKeyRefusedError as exc:
        field, _, message = str(exc).partition(": ")
        form.add_error(_FORM_FIELD.get(field), message if field in _FORM_FIELD else str(exc))
        return _keys_page(request, partner, form=form, status=400)
    # The one response that carries the key (never_cache above: no copy is kept on the way).
    return render(request, "web/partners/key_issued.html", {"partner": partner, "key": key, "raw_key": raw})


@require_POST
@login_required
def partner_key_revoke(request: HttpRequest, code: str, prefix: str) -> HttpResponse:
    partner = _partner(request, code)
    try:
        key = partner_key_get(partner=partner, prefix=prefix)
    except NotFoundError as exc:
        raise Http404(str(exc)) from exc
    form = RevokeForm(request.POST)
    if not form.is_valid():
        return _keys_page(request, partner, revoke_error=f"Key {key.prefix}… not revoked: give a reason.", status=400)
    assert isinstance(request.user, User)  # login_required
    try:
        api_key_revoke(actor=request.user, key=key, reason=form.cleaned_data["reason"])
    except PermissionDeniedError as exc:
        raise PermissionDenied(str(exc)) from exc
    except ApiKeyRefusedError as exc:
        return _keys_page(request, partner, revoke_error=f"Key {key.prefix}… not revoked: {exc}", status=400)
    messages.success(request, f"Key {key.prefix}… ({key.name}) revoked: every request with it is now refused.")
    return HttpResponseRedirect(reverse("web:partner_keys", args=[partner.code]))
