"""A signer enrols their own authenticator: password plus a first code, then signing asks for codes."""

from __future__ import annotations

import pyotp
import pytest
from django.test import Client
from django.urls import reverse

from assays.models import AuditEvent, TotpDevice
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_enrolment_needs_the_password_and_a_code_from_the_app(client: Client, qa) -> None:
    client.force_login(qa)
    url = reverse("web:totp_setup")
    assert "No authenticator" in client.get(url).content.decode()
    page = client.post(url, {"action": "start"})
    assert page.status_code == 200
    secret = client.session["lims_totp_pending_secret"]
    assert "<svg" in page.content.decode()
    wrong = client.post(url, {"action": "confirm", "password": "nope", "code": pyotp.TOTP(secret).now()})
    assert wrong.status_code == 400
    assert not TotpDevice.objects.filter(user=qa).exists()
    bad_code = client.post(url, {"action": "confirm", "password": PASSWORD, "code": "12345x"})
    assert bad_code.status_code == 400
    done = client.post(url, {"action": "confirm", "password": PASSWORD, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    device = TotpDevice.objects.get(user=qa)
    assert device.secret == secret
    assert "lims_totp_pending_secret" not in client.session
    event = AuditEvent.objects.get(entity="assays.totpdevice", object_id=str(device.pk))
    assert secret not in str(event.after)
    assert "An authenticator is set up" in client.get(url).content.decode()


def test_the_page_needs_a_signed_in_user(client: Client) -> None:
    response = client.get(reverse("web:totp_setup"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
