"""The signer's own authenticator (TOTP), for labs that ask for a second factor when signing.

The secret is made here, kept in the session until the user proves their app holds it (password
plus a first code), then stored; it is never shown again.
"""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from assays.models import TotpDevice
from assays.services.certificates import lab_profile
from assays.services.signing_auth import ReauthenticationError, totp_enrol, totp_new_secret, totp_provisioning_uri, totp_required

_SESSION_KEY = "lims_totp_pending_secret"


@login_required
@require_http_methods(["GET", "POST"])
def totp_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    secret = request.session.get(_SESSION_KEY)
    error = ""
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "start" or not secret:
            secret = totp_new_secret()
            request.session[_SESSION_KEY] = secret
        else:
            try:
                totp_enrol(user=user, password=request.POST.get("password", ""), secret=secret, code=request.POST.get("code", ""))
            except ReauthenticationError as refused:
                error, status = str(refused), 400
            else:
                del request.session[_SESSION_KEY]
                messages.success(request, "Your authenticator is set up: signing will ask for its code.")
                return HttpResponseRedirect(reverse("web:totp_setup"))
    qr_svg = ""
    if secret:
        uri = totp_provisioning_uri(user=user, secret=secret, issuer=lab_profile().name)
        # segno writes the SVG itself from the URI: no user text reaches the markup unescaped.
        qr_svg = mark_safe(segno.make(uri, error="m").svg_inline(scale=4))  # noqa: S308
    context = {
        "enrolled": TotpDevice.objects.filter(user=user).exists(),
        "required": totp_required(),
        "pending_secret": secret,
        "qr_svg": qr_svg,
        "error": error,
    }
    return render(request, "web/account/totp.html", context, status=status)
