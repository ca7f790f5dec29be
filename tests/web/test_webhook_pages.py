"""The webhook pages: /portal/webhooks/ for a partner's users, /partners/<code>/webhooks/ for Lab admins,
and the two models in the Django admin (read-only). Deliveries go to a real receiver on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from assays.models import AuditEvent, PartnerWebhook, WebhookDelivery, WebhookEvent
from assays.services.certificates import certificate_issue, certificate_render
from assays.services.lots import lot_allocate
from assays.services.webhooks import webhook_register
from tests.certificate_setup import CertificateLab, make_certificate_lab
from tests.conftest import World
from tests.factories import PASSWORD
from tests.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.django_db
PORTAL = "/portal/webhooks/"


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def part(html: str, testid: str) -> str:
    after = html.split(f'data-testid="{testid}"', 1)[1]
    return after.split("</section>", 1)[0]


@pytest.fixture
def receiver() -> Any:
    with running_receiver() as running:
        yield running


@pytest.fixture
def hooks(world: World, lab_admin: User, receiver: Receiver) -> tuple[PartnerWebhook, PartnerWebhook]:
    a, _ = webhook_register(actor=lab_admin, partner=world.partner_a, url=receiver.url("/a"), events=WebhookEvent.values)
    b, _ = webhook_register(actor=lab_admin, partner=world.partner_b, url=receiver.url("/b"), events=WebhookEvent.values)
    return a, b


@pytest.fixture
def failed_delivery(
    lab_signing: Any,
    technician: User,
    qa: User,
    qa_manager: User,
    world: World,
    hooks: tuple[PartnerWebhook, PartnerWebhook],
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> WebhookDelivery:
    """A certificate for partner A whose one delivery failed (the receiver answered 500, once allowed)."""
    settings.LIMS_WEBHOOK_MAX_ATTEMPTS = 1
    setup: CertificateLab = make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    receiver.script = [500]
    signed = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        certificate_render(certificate_id=signed.pk)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.webhook == hooks[0]
    return delivery


# --- The portal ------------------------------------------------------------------------------------


def test_a_partner_user_sees_its_own_webhooks_only(partner_a_user: User, hooks: tuple[PartnerWebhook, PartnerWebhook]) -> None:
    response = signed_in(partner_a_user).get(PORTAL)
    assert response.status_code == 200
    html = response.content.decode()
    table = part(html, "webhooks")
    assert hooks[0].url in table
    assert hooks[1].url not in table
    assert hooks[0].secret not in html
    assert "Partner A Magnets GmbH" in html
    assert '<a href="/portal/webhooks/" aria-current="page">Webhooks</a>' in html


def test_registering_shows_the_secret_once(partner_a_user: User, world: World, receiver: Receiver) -> None:
    client = signed_in(partner_a_user)
    response = client.post(PORTAL, {"url": receiver.url("/mine"), "events": ["certificate.issued", "report.issued"], "description": "ERP"})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    webhook = PartnerWebhook.objects.get(partner=world.partner_a)
    assert webhook.events == ["certificate.issued", "report.issued"]
    assert webhook.created_by == partner_a_user
    assert webhook.secret in part(response.content.decode(), "new-secret")
    again = client.get(PORTAL).content.decode()
    assert webhook.url in again
    assert webhook.secret not in again


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"url": "", "events": ["certificate.issued"]}, "url", "This field is required"),
        ({"url": "http://127.0.0.1:9/x", "events": []}, "events", "This field is required"),
        ({"url": "http://127.0.0.1:9/x", "events": ["lot.updated"]}, "events", "Select a valid choice"),
        ({"url": "ftp://example.com/x", "events": ["certificate.issued"]}, "url", "Use an https:// address"),
        ({"url": "https://user:pw@example.com/x", "events": ["certificate.issued"]}, "url", "Put no user name or password"),
    ],
)
def test_a_bad_registration_is_a_400_naming_the_field(
    data: dict[str, Any], field: str, message: str, partner_a_user: User, world: World
) -> None:
    response = signed_in(partner_a_user).post(PORTAL, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in part(html, f"{field}-errors")
    assert "Not registered" in part(html, "register-error")
    assert not PartnerWebhook.objects.exists()


def test_the_https_only_setting_shows_on_the_form(partner_a_user: User, settings: Any) -> None:
    settings.LIMS_WEBHOOK_ALLOW_HTTP = False
    response = signed_in(partner_a_user).post(PORTAL, {"url": "http://93.184.216.34/x", "events": ["certificate.issued"]})
    assert response.status_code == 400
    assert "Only https:// addresses are accepted" in part(response.content.decode(), "url-errors")


def test_a_partner_user_cannot_touch_another_partners_webhooks(
    partner_a_user: User, hooks: tuple[PartnerWebhook, PartnerWebhook], world: World
) -> None:
    client = signed_in(partner_a_user)
    other = hooks[1]
    assert client.post(f"{PORTAL}{other.pk}/disable/", {"reason": "not mine"}).status_code == 404
    other.refresh_from_db()
    assert other.is_active
    # The lab's page is not theirs, for their own partner or another.
    assert client.get("/partners/PB/webhooks/").status_code == 404
    assert client.get("/partners/PA/webhooks/").status_code == 404
    assert client.post("/partners/PB/webhooks/", {"url": "http://127.0.0.1:9/x", "events": ["certificate.issued"]}).status_code == 404
    assert PartnerWebhook.objects.filter(partner=world.partner_b).count() == 1


def test_disabling_needs_a_reason_and_is_audited(partner_a_user: User, hooks: tuple[PartnerWebhook, PartnerWebhook]) -> None:
    client = signed_in(partner_a_user)
    own = hooks[0]
    refused = client.post(f"{PORTAL}{own.pk}/disable/", {"reason": ""})
    assert refused.status_code == 400
    assert "say why" in part(refused.content.decode(), "disable-error")
    response = client.post(f"{PORTAL}{own.pk}/disable/", {"reason": "replaced"}, follow=True)
    assert response.redirect_chain == [(PORTAL, 302)]
    assert "Disabled the webhook" in response.content.decode()
    own.refresh_from_db()
    assert not own.is_active
    assert AuditEvent.objects.filter(entity="assays.partnerwebhook", object_id=str(own.pk), action="update", reason="replaced").exists()
    again = client.post(f"{PORTAL}{own.pk}/disable/", {"reason": "twice"})
    assert again.status_code == 400
    assert "already disabled" in part(again.content.decode(), "disable-error")


def test_the_log_shows_a_failed_delivery_which_its_partner_sends_again(
    partner_a_user: User,
    partner_b_user: User,
    failed_delivery: WebhookDelivery,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = signed_in(partner_a_user)
    log = part(client.get(PORTAL).content.decode(), "delivery-log")
    assert "Failed" in log
    assert ">500<" in log
    assert "certificate.issued" in log
    assert 'data-testid="resend-form"' in log
    assert failed_delivery.certificate is not None
    assert failed_delivery.certificate.number in log
    # Partner B sees none of it and cannot send it.
    other = signed_in(partner_b_user)
    assert 'data-testid="delivery-row"' not in other.get(PORTAL).content.decode()
    assert other.post(f"{PORTAL}deliveries/{failed_delivery.pk}/resend/").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{PORTAL}deliveries/{failed_delivery.pk}/resend/")
    assert response.status_code == 302
    failed_delivery.refresh_from_db()
    assert (failed_delivery.status, failed_delivery.attempts, failed_delivery.last_status_code) == ("delivered", 1, 200)
    log = part(client.get(PORTAL).content.decode(), "delivery-log")
    assert "Delivered" in log
    assert 'data-testid="resend-form"' not in log
    refused = client.post(f"{PORTAL}deliveries/{failed_delivery.pk}/resend/")
    assert refused.status_code == 400
    assert "only a failed one" in part(refused.content.decode(), "log-error")


def test_the_log_filters_by_status_and_htmx_gets_the_table_alone(partner_a_user: User, failed_delivery: WebhookDelivery) -> None:
    client = signed_in(partner_a_user)
    assert 'data-testid="delivery-row"' in client.get(PORTAL, {"status": "failed"}).content.decode()
    assert 'data-testid="delivery-row"' not in client.get(PORTAL, {"status": "delivered"}).content.decode()
    # A bad filter or page is ignored, never a 500.
    assert client.get(PORTAL, {"status": "nonsense", "page": "x"}).status_code == 200
    partial = client.get(PORTAL, {"status": "failed"}, headers={"HX-Request": "true"}).content.decode()
    assert 'id="delivery-table"' in partial
    assert "<html" not in partial


def test_staff_and_anonymous_have_no_portal_page(lab_admin: User, technician: User) -> None:
    assert signed_in(lab_admin).get(PORTAL).status_code == 404
    assert signed_in(technician).get(PORTAL).status_code == 404
    response = Client().get(PORTAL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- The lab's page ------------------------------------------------------------------------------------


def test_a_lab_admin_manages_any_partners_webhooks(
    lab_admin: User, world: World, hooks: tuple[PartnerWebhook, PartnerWebhook], receiver: Receiver
) -> None:
    client = signed_in(lab_admin)
    page = client.get("/partners/PB/webhooks/").content.decode()
    assert hooks[1].url in part(page, "webhooks")
    assert hooks[0].url not in part(page, "webhooks")
    created = client.post("/partners/PB/webhooks/", {"url": receiver.url("/b2"), "events": ["certificate.revoked"]})
    assert created.status_code == 201
    webhook = PartnerWebhook.objects.get(url=receiver.url("/b2"))
    assert webhook.partner == world.partner_b
    assert webhook.secret in created.content.decode()
    response = client.post(f"/partners/PB/webhooks/{webhook.pk}/disable/", {"reason": "asked by partner B"})
    assert response.status_code == 302
    assert response["Location"] == "/partners/PB/webhooks/"
    # A webhook of partner A is not found through partner B's page.
    assert client.post(f"/partners/PB/webhooks/{hooks[0].pk}/disable/", {"reason": "x"}).status_code == 404
    assert client.get("/partners/NOPE/webhooks/").status_code == 404


def test_other_staff_are_refused_the_lab_page(technician: User, qa_manager: User, hooks: Any) -> None:
    assert signed_in(technician).get("/partners/PA/webhooks/").status_code == 403
    assert (
        signed_in(qa_manager).post("/partners/PA/webhooks/", {"url": "http://127.0.0.1:9/", "events": ["report.issued"]}).status_code == 403
    )


def test_a_refusal_of_the_service_is_a_400_on_the_form(partner_a_user: User, world: World, receiver: Receiver) -> None:
    client = signed_in(partner_a_user)
    for index in range(10):
        assert client.post(PORTAL, {"url": receiver.url(f"/{index}"), "events": ["report.issued"]}).status_code == 201
    response = client.post(PORTAL, {"url": receiver.url("/eleven"), "events": ["report.issued"]})
    assert response.status_code == 400
    assert "has 10 active webhooks: disable one first." in part(response.content.decode(), "register-error")
    assert PartnerWebhook.objects.filter(partner=world.partner_a).count() == 10


# --- The admin -------------------------------------------------------------------------------------------


def test_the_admin_lists_webhooks_without_their_secret_and_deliveries_read_only(lab_admin: User, failed_delivery: WebhookDelivery) -> None:
    client = signed_in(lab_admin)
    webhook = failed_delivery.webhook
    for url in ("/admin/assays/partnerwebhook/", f"/admin/assays/partnerwebhook/{webhook.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert webhook.secret not in response.content.decode()
    assert client.get("/admin/assays/webhookdelivery/").status_code == 200
    assert client.get(f"/admin/assays/webhookdelivery/{failed_delivery.pk}/change/").status_code == 200
    assert client.post(f"/admin/assays/webhookdelivery/{failed_delivery.pk}/change/", {"status": "delivered"}).status_code == 403
    assert client.get("/admin/assays/webhookdelivery/add/").status_code == 403
    assert client.get("/admin/assays/partnerwebhook/add/").status_code == 403
    failed_delivery.refresh_from_db()
    assert failed_delivery.status == "failed"
