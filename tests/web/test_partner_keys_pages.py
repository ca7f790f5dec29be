"""The Lab admin's partner pages (/partners/, /partners/<code>/keys/): a key issued there is shown
once and opens the partner API, revoking it shuts the API with 401, both are audited, and nobody
but a Lab admin reaches the pages."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from assays.models import ApiScope, AuditAction, AuditEvent, PartnerApiKey
from tests.conftest import World
from tests.factories import UserFactory
from tests.partner_setup import PartnerWorld, make_partner_world, partner_key

pytestmark = pytest.mark.django_db

PARTNERS = "/partners/"
KEYS_A = "/partners/PA/keys/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def key_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def revoke_url(code: str, key: PartnerApiKey) -> str:
    return f"/partners/{code}/keys/{key.prefix}/revoke/"


def issue(client: Client, **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "name": "PA ERP",
        "scopes": [ApiScope.LOTS, ApiScope.RESULTS],
        "expires_on": (timezone.now() + dt.timedelta(days=90)).date().isoformat(),
        "throttle_rate": "100/min",
    }
    data.update(overrides)
    return client.post(KEYS_A, data)


def raw_key_on(response: Any) -> str:
    found = re.search(r'data-testid="raw-key">([^<]+)</code>', response.content.decode())
    assert found is not None, response.content.decode()[:2000]
    return html.unescape(found.group(1))


def field_errors(response: Any, field: str) -> str:
    found = re.search(rf'data-testid="{field}-errors">(.*?)</ul>', response.content.decode(), re.S)
    return found.group(1) if found else ""


# --- Issuing ------------------------------------------------------------------------------------


def test_a_key_issued_on_the_page_is_shown_once_and_opens_the_partner_api(
    lab_signing: tuple[Path, Path], technician: User, qa: User, qa_manager: User, world: World, lab_admin: User
) -> None:
    pw: PartnerWorld = make_partner_world(technician=technician, qa=qa, qa_manager=qa_manager, world=world)
    client = signed_in(lab_admin)

    response = issue(client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = raw_key_on(response)
    key = PartnerApiKey.objects.get(partner=world.partner_a)
    assert raw.startswith(f"{key.prefix}.")
    assert key.is_valid(raw)
    assert (key.name, key.scopes, key.throttle_rate, key.created_by) == ("PA ERP", ["lots", "results"], "100/min", lab_admin)
    assert key.expiry_date is not None
    assert key.expiry_date.time() == dt.time(23, 59, 59)

    # The key opens the partner's own lots, within its scopes.
    api = key_client(raw)
    lots = api.get("/api/v1/partner/lots/")
    assert lots.status_code == 200
    assert {row["code"] for row in lots.json()["results"]} == {pw.a_certified.code, pw.a_pending.code, pw.a_feedstock.code}
    assert api.get("/api/v1/partner/certificates/").status_code == 403  # no "certificates" scope

    # Never again: not on the keys page, not in the audit trail.
    again = client.get(KEYS_A).content.decode()
    assert key.prefix in again
    assert raw not in again
    assert raw.split(".", 1)[1] not in again
    event = AuditEvent.objects.get(action=AuditAction.CREATE, entity="assays.partnerapikey", object_id=key.prefix)
    assert event.actor_id == lab_admin.pk
    assert raw.split(".", 1)[1] not in json.dumps([event.before, event.after, event.context, event.reason])


def test_the_keys_page_lists_each_key_with_its_facts(world: World, lab_admin: User) -> None:
    live, _ = partner_key(admin=lab_admin, partner=world.partner_a, scopes=(ApiScope.LOTS,), throttle_rate="5/s")
    expired, _ = partner_key(admin=lab_admin, partner=world.partner_a)
    PartnerApiKey.objects.filter(pk=expired.pk).update(expiry_date=timezone.now() - dt.timedelta(days=1))
    other, _ = partner_key(admin=lab_admin, partner=world.partner_b)

    page = signed_in(lab_admin).get(KEYS_A).content.decode()
    rows = dict(re.findall(r'data-testid="key-row" data-prefix="(\w+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {live.prefix, expired.prefix}  # not partner B's
    assert "lots" in rows[live.prefix]
    assert "5/s" in rows[live.prefix]
    assert "Active" in rows[live.prefix]
    assert "never" in rows[live.prefix]  # last used
    assert "Expired" in rows[expired.prefix]
    assert other.prefix not in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 51}, "name", "at most 50"),
        ({"scopes": []}, "scopes", "required"),
        ({"scopes": ["lots", "admin"]}, "scopes", "not one of the available choices"),
        ({"expires_on": "2001-01-01"}, "expires_on", "must be in the future"),
        ({"expires_on": "2999-01-01"}, "expires_on", "at most 730 days"),
        ({"expires_on": "soon"}, "expires_on", "valid date"),
        ({"throttle_rate": "fast"}, "throttle_rate", "requests/period"),
    ],
)
def test_a_refused_key_is_a_400_naming_the_field_and_issues_nothing(
    world: World, lab_admin: User, overrides: dict[str, Any], field: str, message: str
) -> None:
    response = issue(signed_in(lab_admin), **overrides)
    assert response.status_code == 400
    assert message in html.unescape(field_errors(response, field))
    assert 'data-testid="raw-key"' not in response.content.decode()
    assert not PartnerApiKey.objects.exists()


# --- Revoking -----------------------------------------------------------------------------------


def test_revoking_a_key_with_a_reason_shuts_the_api_with_401(world: World, lab_admin: User) -> None:
    key, raw = partner_key(admin=lab_admin, partner=world.partner_a)
    assert key_client(raw).get("/api/v1/partner/lots/").status_code == 200
    client = signed_in(lab_admin)

    refused = client.post(revoke_url("PA", key), {"reason": "  "})
    assert refused.status_code == 400
    assert "give a reason" in refused.content.decode()
    assert key_client(raw).get("/api/v1/partner/lots/").status_code == 200

    response = client.post(revoke_url("PA", key), {"reason": "laptop stolen"}, follow=True)
    assert response.redirect_chain == [(KEYS_A, 302)]
    assert "revoked" in response.content.decode()
    assert "laptop stolen" in response.content.decode()
    assert key_client(raw).get("/api/v1/partner/lots/").status_code == 401
    key.refresh_from_db()
    assert (key.revoked, key.revoked_by, key.revocation_reason) == (True, lab_admin, "laptop stolen")
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, entity="assays.partnerapikey", object_id=key.prefix)
    assert event.reason == "laptop stolen"
    assert event.actor_id == lab_admin.pk

    twice = client.post(revoke_url("PA", key), {"reason": "again"})
    assert twice.status_code == 400
    assert "already revoked" in twice.content.decode()


def test_a_key_is_revoked_only_under_its_own_partner(world: World, lab_admin: User) -> None:
    b_key, raw = partner_key(admin=lab_admin, partner=world.partner_b)
    client = signed_in(lab_admin)
    assert client.post(revoke_url("PA", b_key), {"reason": "wrong partner"}).status_code == 404
    assert client.post("/partners/PA/keys/NOPREFIX/revoke/", {"reason": "x"}).status_code == 404
    assert client.get("/partners/NOPE/keys/").status_code == 404
    assert client.get(revoke_url("PB", b_key)).status_code == 405  # a POST only
    b_key.refresh_from_db()
    assert not b_key.revoked
    assert key_client(raw).get("/api/v1/partner/lots/").status_code == 200


# --- Who may ------------------------------------------------------------------------------------


def test_only_a_lab_admin_reaches_the_partner_pages(
    world: World, lab_admin: User, technician: User, qa_manager: User, partner_a_user: User
) -> None:
    key, _raw = partner_key(admin=lab_admin, partner=world.partner_a)
    for user, status in ((technician, 403), (qa_manager, 403), (partner_a_user, 404)):
        client = signed_in(user)
        assert client.get(PARTNERS).status_code == status, user.username
        assert client.get(KEYS_A).status_code == status, user.username
        assert issue(client).status_code == status, user.username
        assert client.post(revoke_url("PA", key), {"reason": "not mine to revoke"}).status_code == status, user.username
    for url in (PARTNERS, KEYS_A):
        response = Client().get(url)
        assert (response.status_code, response["Location"].split("?")[0]) == (302, "/login/"), url
    assert PartnerApiKey.objects.count() == 1
    key.refresh_from_db()
    assert not key.revoked
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    assert signed_in(superuser).get(KEYS_A).status_code == 200
    # The frame offers the page to Lab admins only.
    assert 'href="/partners/"' in signed_in(lab_admin).get("/").content.decode()
    assert 'href="/partners/"' not in signed_in(technician).get("/").content.decode()


def test_the_partner_list_shows_every_partners_keys_in_constant_queries(world: World, lab_admin: User) -> None:
    client = signed_in(lab_admin)
    client.get(PARTNERS)
    with CaptureQueriesContext(connection) as none:
        client.get(PARTNERS)
    keys = [partner_key(admin=lab_admin, partner=partner)[0] for partner in (world.partner_a, world.partner_b) for _ in range(3)]
    with CaptureQueriesContext(connection) as six:
        page = client.get(PARTNERS).content.decode()
    assert len(six) == len(none)
    rows = dict(re.findall(r'data-testid="partner-row" data-partner="(\w+)">(.*?)</tr>', page, re.S))
    assert set(rows) == {"PA", "PB"}
    for key in keys:
        assert key.prefix in rows[key.partner.code]
    assert 'href="/partners/PA/keys/"' in page
    assert 'href="/partners/PA/webhooks/"' in page


# --- The admin ----------------------------------------------------------------------------------


def test_the_admin_lists_keys_and_never_edits_them(world: World, lab_admin: User) -> None:
    key, _ = partner_key(admin=lab_admin, partner=world.partner_a)
    client = signed_in(lab_admin)
    listing = client.get(reverse("admin:assays_partnerapikey_changelist"), {"revoked__exact": "0"})
    assert listing.status_code == 200
    assert key.prefix in listing.content.decode()
    assert 'href="/partners/PA/keys/"' in listing.content.decode()
    change = reverse("admin:assays_partnerapikey_change", args=[key.pk])
    assert client.get(change).status_code == 200
    assert client.post(change, {"name": "renamed", "revoked": "on"}).status_code == 403
    # "Add" leads to the Partners pages' issue form, where the key is shown once.
    add = client.get(reverse("admin:assays_partnerapikey_add"))
    assert (add.status_code, add["Location"]) == (302, "/partners/")
    key.refresh_from_db()
    assert (key.name, key.revoked) == ("PA ERP", False)
    # The library's own key model (unused) is not offered.
    assert client.get("/admin/rest_framework_api_key/apikey/").status_code == 404


def test_the_admin_revokes_selected_keys_with_a_reason_through_the_service(world: World, lab_admin: User) -> None:
    key, raw = partner_key(admin=lab_admin, partner=world.partner_a)
    other, _ = partner_key(admin=lab_admin, partner=world.partner_b)
    client = signed_in(lab_admin)
    changelist = reverse("admin:assays_partnerapikey_changelist")
    chosen = {"action": "revoke_keys", "_selected_action": [key.pk]}
    asked = client.post(changelist, chosen)
    assert asked.status_code == 200
    assert "Why?" in asked.content.decode()
    # No reason: asked again, nothing revoked.
    again = client.post(changelist, {**chosen, "confirmed": "1", "reason": " "})
    assert "Say why" in again.content.decode()
    key.refresh_from_db()
    assert not key.revoked
    done = client.post(changelist, {**chosen, "confirmed": "1", "reason": "contract ended"})
    assert done.status_code == 302
    key.refresh_from_db()
    other.refresh_from_db()
    assert (key.revoked, key.revoked_by, key.revocation_reason, other.revoked) == (True, lab_admin, "contract ended", False)
    assert AuditEvent.objects.filter(entity="assays.partnerapikey", object_id=key.prefix, reason="contract ended").exists()
    assert APIClient().get("/api/v1/partner/lots/", HTTP_AUTHORIZATION=f"Api-Key {raw}").status_code == 401


def test_the_form_as_served_issues_a_key_with_its_defaults(world: World, lab_admin: User) -> None:
    # What a browser sends when only the name is typed: the prefilled expiry and the checked scopes.
    client = signed_in(lab_admin)
    form = client.get(KEYS_A).content.decode()
    expiry = re.search(r'<input type="date" name="expires_on" value="([0-9-]+)"', form)
    assert expiry is not None, "the expiry is prefilled in the date input's own format"
    assert dt.date.fromisoformat(expiry.group(1)) == (timezone.now() + dt.timedelta(days=365)).date()
    scopes = re.findall(r'<input type="checkbox" name="scopes" value="(\w+)"[^>]* checked', form)
    assert sorted(scopes) == sorted(ApiScope.values)
    response = client.post(KEYS_A, {"name": "Defaults", "scopes": scopes, "expires_on": expiry.group(1), "throttle_rate": ""})
    assert response.status_code == 200
    assert raw_key_on(response)
    assert PartnerApiKey.objects.get().throttle_rate == ""
