"""Webhooks end to end: certificates issued, reissued and revoked through the real services, events
POSTed to a real HTTP receiver on 127.0.0.1 (tests/webhook_receiver.py), signatures checked with
the receiver's own ``verify``; retries, failures, refusals and who may manage what."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from assays.errors import NotFoundError, PermissionDeniedError
from assays.models import AuditEvent, Certificate, CertificateStatus, DeliveryStatus, Lot, PartnerWebhook, WebhookDelivery, WebhookEvent
from assays.services.certificates import certificate_issue, certificate_reissue, certificate_render, certificate_revoke
from assays.services.lots import lot_allocate
from assays.services.webhooks import (
    WebhookRefusedError,
    delivery_body,
    retry_delay_seconds,
    webhook_delivery_attempt,
    webhook_delivery_resend,
    webhook_disable,
    webhook_register,
)
from assays.tasks import deliver_due_webhooks, deliver_webhook
from assays.webhook_signature import verify
from tests.celery_worker import start_worker
from tests.certificate_setup import CertificateLab, feedstock_lot, make_certificate_lab, more_conforming_lots
from tests.conftest import World
from tests.factories import PASSWORD
from tests.webhook_receiver import Received, Receiver, closed_port, running_receiver

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
ALL_EVENTS = list(WebhookEvent.values)


@pytest.fixture(autouse=True)
def _signing(lab_signing: Any) -> Any:
    return lab_signing


@pytest.fixture
def setup(technician: User, qa_manager: User, world: World) -> CertificateLab:
    return make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def register(actor: User, partner: Any, url: str, events: list[str] | None = None) -> tuple[PartnerWebhook, str]:
    return webhook_register(actor=actor, partner=partner, url=url, events=events or ALL_EVENTS, description="ERP")


def issue_rendered(qa: User, lot: Lot, capture: Any, *, customer: Any = None) -> Certificate:
    """Sign, then render as the worker does; the deliveries enqueued on commit run in-process."""
    signed = certificate_issue(actor=qa, lot=lot, password=PASSWORD, customer=customer)
    with capture(execute=True):
        rendered = certificate_render(certificate_id=signed.pk)
    assert rendered is not None
    assert rendered.status == CertificateStatus.ISSUED
    return rendered


def payload_of(request: Received) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(request.body)
    return loaded


def assert_signed(request: Received, secret: str) -> None:
    assert verify(secret=secret, header=request.headers["X-LIMS-Signature"], body=request.body, now=time.time())


def overdue(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - dt.timedelta(minutes=10))


# --- Events reach the partners concerned, signed ----------------------------------------------------


def test_an_issued_certificate_reaches_the_allocated_customer_signed_and_no_one_else(
    setup: CertificateLab, world: World, qa: User, lab_admin: User, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    hook_a, secret_a = register(lab_admin, world.partner_a, receiver.url("/a"))
    register(lab_admin, world.partner_b, receiver.url("/b"))

    certificate = issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)

    assert receiver.received("/b") == []
    [request] = receiver.received("/a")
    assert_signed(request, secret_a)
    assert not verify(secret="not-the-secret", header=request.headers["X-LIMS-Signature"], body=request.body, now=time.time())
    delivery = WebhookDelivery.objects.get(webhook=hook_a)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-LIMS-Event"] == "certificate.issued"
    assert request.headers["X-LIMS-Delivery"] == str(delivery.event_id)
    assert request.headers["User-Agent"].startswith("REO-LIMS-Webhooks/")
    assert request.body == delivery_body(delivery)
    body = payload_of(request)
    assert body["id"] == str(delivery.event_id)
    assert body["event"] == "certificate.issued"
    document = body["data"]["certificate"]
    assert document == {
        "number": certificate.number,
        "revision": 0,
        "kind": "certificate",
        "status": "issued",
        "lot": "ND-OK",
        "product": setup.conforming.product.code,
        "issued_at": certificate.issued_at.isoformat(),
        "revoked_at": None,
        "revocation_reason": None,
        "supersedes": None,
        "links": {
            "api": f"/api/v1/partner/certificates/{certificate.pk}/",
            "pdf": f"/api/v1/partner/certificates/{certificate.pk}/pdf/",
            "verification": f"{settings.LIMS_PUBLIC_BASE_URL}/verify/{certificate.verification_token}/",
        },
    }
    assert set(body) == {"id", "event", "created_at", "data"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == ("delivered", 1, 200, "")
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None
    assert delivery.certificate_id == certificate.pk


def test_a_certificate_for_a_named_customer_goes_to_that_customer_only(
    setup: CertificateLab, world: World, qa: User, lab_admin: User, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    for partner in (world.partner_a, world.partner_b):
        lot_allocate(actor=None, lot=setup.conforming, customer=partner, mass_kg=Decimal("100"), reference=partner.code)
    register(lab_admin, world.partner_a, receiver.url("/a"))
    _, secret_b = register(lab_admin, world.partner_b, receiver.url("/b"))
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks, customer=world.partner_b)
    assert receiver.received("/a") == []
    [request] = receiver.received("/b")
    assert_signed(request, secret_b)


def test_a_report_of_analysis_reaches_its_supplier_subscribed_to_report_issued(
    setup: CertificateLab,
    world: World,
    qa: User,
    technician: User,
    qa_manager: User,
    lab_admin: User,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lot = feedstock_lot(setup=setup, technician=technician, qa_manager=qa_manager, code="FS-A")
    Lot.objects.filter(pk=lot.pk).update(supplier=world.partner_a)
    lot.refresh_from_db()
    _, secret = register(lab_admin, world.partner_a, receiver.url("/reports"), ["report.issued"])
    register(lab_admin, world.partner_a, receiver.url("/coas-only"), ["certificate.issued"])
    register(lab_admin, world.partner_b, receiver.url("/b"))
    report = issue_rendered(qa, lot, django_capture_on_commit_callbacks)
    assert receiver.received("/coas-only") == []
    assert receiver.received("/b") == []
    [request] = receiver.received("/reports")
    assert_signed(request, secret)
    assert request.headers["X-LIMS-Event"] == "report.issued"
    assert payload_of(request)["data"]["certificate"]["kind"] == "report"
    assert payload_of(request)["data"]["certificate"]["number"] == report.number


def test_revocation_and_a_new_revision_are_announced(
    setup: CertificateLab,
    world: World,
    qa: User,
    qa_manager: User,
    lab_admin: User,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    _, secret = register(lab_admin, world.partner_a, receiver.url())
    first = issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)
    second = certificate_reissue(
        actor=qa, certificate=first, password=PASSWORD, reason="typo in the PO number", change_summary="PO corrected"
    )
    with django_capture_on_commit_callbacks(execute=True):
        certificate_render(certificate_id=second.pk)
    with django_capture_on_commit_callbacks(execute=True):
        certificate_revoke(actor=qa_manager, certificate=second, password=PASSWORD, reason="sample mix-up found")
    events = [payload_of(request) for request in receiver.received()]
    assert [event["event"] for event in events] == ["certificate.issued", "certificate.issued", "certificate.revoked"]
    for request in receiver.received():
        assert_signed(request, secret)
    assert events[1]["data"]["certificate"]["supersedes"] == {"number": first.number, "revision": 0}
    revoked = events[2]["data"]["certificate"]
    assert (revoked["number"], revoked["revision"], revoked["status"]) == (first.number, 1, "revoked")
    assert revoked["revocation_reason"] == "sample mix-up found"
    assert revoked["revoked_at"] is not None
    assert len({event["id"] for event in events}) == 3


def test_a_certificate_revoked_before_it_was_issued_announces_nothing(
    setup: CertificateLab,
    world: World,
    qa: User,
    qa_manager: User,
    lab_admin: User,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    register(lab_admin, world.partner_a, receiver.url())
    signed = certificate_issue(actor=qa, lot=setup.conforming, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        certificate_revoke(actor=qa_manager, certificate=signed, password=PASSWORD, reason="signed the wrong lot")
        certificate_render(certificate_id=signed.pk)
    assert receiver.received() == []
    assert not WebhookDelivery.objects.exists()


# --- Retries, failures and the log -------------------------------------------------------------------


def test_a_500_then_a_200_is_delivered_on_the_second_attempt_with_the_same_bytes(
    setup: CertificateLab, world: World, qa: User, lab_admin: User, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    _, secret = register(lab_admin, world.partner_a, receiver.url())
    receiver.script = [500]
    before = timezone.now()
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error.startswith("HTTP 500")
    assert "receiver says no" in delivery.last_error
    # The first retry waits the base (30 s) plus at most 10 % jitter.
    assert delivery.next_attempt_at is not None
    assert before + dt.timedelta(seconds=30) <= delivery.next_attempt_at <= timezone.now() + dt.timedelta(seconds=33.5)
    # Not overdue yet: the sweep leaves it to its retry message, and an early message is skipped.
    assert deliver_due_webhooks.apply().get() == []
    assert webhook_delivery_attempt(delivery_id=delivery.pk).status == "skipped"
    assert len(receiver.received()) == 1
    overdue(delivery)
    assert deliver_due_webhooks.apply().get() == [delivery.pk]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == ("delivered", 2, 200, "")
    first, second = receiver.received()
    assert first.body == second.body
    assert first.headers["X-LIMS-Delivery"] == second.headers["X-LIMS-Delivery"] == str(delivery.event_id)
    assert_signed(first, secret)
    assert_signed(second, secret)


def test_always_500_fails_after_the_maximum_attempts_then_a_resend_starts_a_new_series(
    setup: CertificateLab,
    world: World,
    qa: User,
    partner_a_user: User,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LIMS_WEBHOOK_MAX_ATTEMPTS = 3
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    register(partner_a_user, world.partner_a, receiver.url())
    receiver.default = 503
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    for _ in range(2):
        overdue(delivery)
        assert deliver_webhook.apply(args=[delivery.pk]).get() in {"pending", "failed"}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 503)
    assert delivery.next_attempt_at is None
    assert delivery.delivered_at is None
    assert len(receiver.received()) == 3
    # Failed is final: neither a stray message nor the sweep sends it again.
    assert deliver_webhook.apply(args=[delivery.pk]).get() == "skipped"
    assert deliver_due_webhooks.apply().get() == []
    assert len(receiver.received()) == 3

    receiver.default = 204
    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_resend(actor=partner_a_user, delivery=delivery)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 204)
    assert len({request.headers["X-LIMS-Delivery"] for request in receiver.received()}) == 1
    resend = AuditEvent.objects.get(entity="assays.webhookdelivery", object_id=str(delivery.pk))
    assert resend.actor == partner_a_user
    assert resend.before is not None
    assert resend.before["status"] == "failed"
    assert resend.before["attempts"] == 3
    # A delivered one is not sent again.
    with pytest.raises(WebhookRefusedError, match="delivered"):
        webhook_delivery_resend(actor=partner_a_user, delivery=delivery)


def test_eager_tasks_try_once_without_recursing_or_sleeping(
    setup: CertificateLab, world: World, qa: User, lab_admin: User, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    """The embedded mode runs tasks in the request: a failing receiver costs one attempt there."""
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    register(lab_admin, world.partner_a, receiver.url())
    receiver.default = 500
    started = time.monotonic()
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)
    assert time.monotonic() - started < 20
    assert len(receiver.received()) == 1
    assert WebhookDelivery.objects.get().status == "pending"


def test_an_unreachable_receiver_a_redirect_and_a_timeout_are_recorded_not_raised(
    setup: CertificateLab,
    world: World,
    qa: User,
    technician: User,
    lab_admin: User,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.LIMS_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver.slow_seconds = 1.5
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    down, _ = register(lab_admin, world.partner_a, f"http://127.0.0.1:{closed_port()}/hook")
    moved, _ = register(lab_admin, world.partner_a, receiver.url("/moved"))
    slow, _ = register(lab_admin, world.partner_a, receiver.url("/slow"))
    receiver.script = [(302, {"Location": receiver.url("/elsewhere")}), "slow"]
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)

    refused = WebhookDelivery.objects.get(webhook=down)
    assert (refused.status, refused.attempts, refused.last_status_code) == ("pending", 1, None)
    assert "Connection refused" in refused.last_error or "ConnectionRefusedError" in refused.last_error
    redirected = WebhookDelivery.objects.get(webhook=moved)
    assert (redirected.status, redirected.last_status_code) == ("pending", 302)
    assert "not followed" in redirected.last_error
    assert receiver.received("/elsewhere") == []
    timed_out = WebhookDelivery.objects.get(webhook=slow)
    assert (timed_out.status, timed_out.last_status_code) == ("pending", None)
    assert "timed out" in timed_out.last_error


def test_the_backoff_doubles_from_the_base_with_jitter_and_is_capped() -> None:
    for attempt, base in enumerate([30, 60, 120, 240, 480, 960, 1920], start=1):
        delays = [retry_delay_seconds(attempt) for _ in range(20)]
        assert all(base <= delay <= base * 1.1 for delay in delays), (attempt, delays)
    assert retry_delay_seconds(8) == retry_delay_seconds(30) == 3600


def test_the_sweep_is_on_the_beat_schedule() -> None:
    from lims.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["deliver-due-webhooks"]
    assert entry["task"] == "assays.tasks.deliver_due_webhooks"
    assert entry["task"] in app.tasks
    assert "assays.tasks.deliver_webhook" in app.tasks


# --- What may be registered --------------------------------------------------------------------------


def test_production_settings_call_only_public_https_addresses(tmp_path: Path) -> None:
    probe = "import django, json; django.setup(); from django.conf import settings as s; "
    probe += "print(json.dumps([s.LIMS_WEBHOOK_ALLOW_HTTP, s.LIMS_WEBHOOK_ALLOW_PRIVATE, s.LIMS_WEBHOOK_MAX_ATTEMPTS]))"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIMS_", "DATABASE_URL", "CELERY_"))}
    base.update({"DJANGO_SETTINGS_MODULE": "lims.settings", "LIMS_VAR_DIR": str(tmp_path)})
    production = {**base, "LIMS_ENV": "production", "LIMS_SECRET_KEY": "x" * 64, "LIMS_ALLOWED_HOSTS": "lims.example.org"}
    results = []
    for env in (base, production):
        run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    assert results == [[True, True, 8], [False, False, 8]]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "url: give the address"),
        ("not a url", "url: only https"),
        ("ftp://files.example.com/in", "url: only https"),
        ("http://93.184.216.34/hook", "url: only https"),
        ("https://user:secret@93.184.216.34/hook", "url: put no user name or password"),
        ("https://93.184.216.34:99999/hook", "url: not a valid address"),
        ("https://" + "a" * 500 + ".example.com/", "url: at most 500 characters"),
        ("https://127.0.0.1/hook", "private network"),
        ("https://localhost:8443/hook", "private network"),
        ("https://10.1.2.3/hook", "private network"),
        ("https://192.168.0.10/hook", "private network"),
        ("https://169.254.169.254/latest/meta-data", "private network"),
        ("https://100.64.0.1/hook", "private network"),
        ("https://[::1]/hook", "private network"),
        ("https://[::ffff:127.0.0.1]/hook", "private network"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_production_refuses_plain_http_and_private_hosts(url: str, message: str, world: World, lab_admin: User, settings: Any) -> None:
    settings.LIMS_WEBHOOK_ALLOW_HTTP = False
    settings.LIMS_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(WebhookRefusedError, match=message):
        register(lab_admin, world.partner_a, url)
    assert not PartnerWebhook.objects.exists()


def test_production_accepts_a_public_https_address(world: World, lab_admin: User, settings: Any) -> None:
    settings.LIMS_WEBHOOK_ALLOW_HTTP = False
    settings.LIMS_WEBHOOK_ALLOW_PRIVATE = False
    webhook, _ = register(lab_admin, world.partner_a, "https://93.184.216.34/lims-events")
    assert webhook.url == "https://93.184.216.34/lims-events"


def test_a_host_that_turned_private_after_registration_is_not_called(
    setup: CertificateLab,
    world: World,
    qa: User,
    lab_admin: User,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    register(lab_admin, world.partner_a, receiver.url())
    settings.LIMS_WEBHOOK_ALLOW_PRIVATE = False  # as if its DNS now pointed inside the lab
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)
    assert receiver.received() == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending"
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("not sent: the host 127.0.0.1 resolves to an address inside a private network")


@pytest.mark.parametrize(
    ("events", "description", "message"),
    [
        ([], "", "events: choose one or more"),
        (["certificate.issued", "lot.updated"], "", r"events: .*\(not lot.updated\)"),
        (ALL_EVENTS, "x" * 201, "description: at most 200"),
    ],
)
def test_events_and_description_are_checked(
    events: list[str], description: str, message: str, world: World, lab_admin: User, receiver: Receiver
) -> None:
    with pytest.raises(WebhookRefusedError, match=message):
        webhook_register(actor=lab_admin, partner=world.partner_a, url=receiver.url(), events=events, description=description)


# --- Who manages what --------------------------------------------------------------------------------


def test_who_may_register(
    world: World, lab_admin: User, partner_a_user: User, technician: User, qa_manager: User, receiver: Receiver
) -> None:
    for outsider in (technician, qa_manager):
        with pytest.raises(PermissionDeniedError):
            register(outsider, world.partner_a, receiver.url())
    with pytest.raises(NotFoundError):
        register(partner_a_user, world.partner_b, receiver.url())
    own, secret = register(partner_a_user, world.partner_a, receiver.url())
    assert own.secret == secret
    assert len(secret) == 43
    assert own.events == ALL_EVENTS
    assert own.created_by == partner_a_user
    assert register(lab_admin, world.partner_b, receiver.url())[0].partner == world.partner_b
    created = AuditEvent.objects.get(entity="assays.partnerwebhook", object_id=str(own.pk), action="create")
    assert created.actor == partner_a_user
    assert created.after is not None
    assert created.after["url"] == receiver.url()
    assert secret not in json.dumps(created.after)


def test_only_ten_active_webhooks_per_partner(world: World, lab_admin: User, receiver: Receiver) -> None:
    for index in range(10):
        register(lab_admin, world.partner_a, receiver.url(f"/{index}"))
    with pytest.raises(WebhookRefusedError, match="10 active webhooks"):
        register(lab_admin, world.partner_a, receiver.url("/eleven"))
    register(lab_admin, world.partner_b, receiver.url("/b"))


def test_disabling_stops_the_events_and_drops_what_was_waiting(
    setup: CertificateLab,
    world: World,
    qa: User,
    technician: User,
    partner_a_user: User,
    partner_b_user: User,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lots = [setup.conforming, *more_conforming_lots(setup, technician, count=1)]
    for lot in lots:
        lot_allocate(actor=None, lot=lot, customer=world.partner_a, mass_kg=Decimal("10"), reference="PO")
    webhook, _ = register(partner_a_user, world.partner_a, receiver.url())
    receiver.default = 500
    issue_rendered(qa, lots[0], django_capture_on_commit_callbacks)
    with pytest.raises(NotFoundError):
        webhook_disable(actor=partner_b_user, webhook=webhook, reason="not mine")
    with pytest.raises(WebhookRefusedError, match="reason"):
        webhook_disable(actor=partner_a_user, webhook=webhook, reason="  ")
    webhook_disable(actor=partner_a_user, webhook=webhook, reason="moving to a new ERP")
    webhook.refresh_from_db()
    assert not webhook.is_active
    assert webhook.disabled_by == partner_a_user
    assert webhook.disabled_at is not None
    waiting = WebhookDelivery.objects.get()
    assert waiting.status == "failed"
    assert "disabled" in waiting.last_error
    with pytest.raises(WebhookRefusedError, match="disabled"):
        webhook_delivery_resend(actor=partner_a_user, delivery=waiting)
    with pytest.raises(WebhookRefusedError, match="already disabled"):
        webhook_disable(actor=partner_a_user, webhook=webhook, reason="again")
    issue_rendered(qa, lots[1], django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 1
    assert len(receiver.received()) == 1
    audit = AuditEvent.objects.get(entity="assays.partnerwebhook", object_id=str(webhook.pk), action="update")
    assert audit.reason == "moving to a new ERP"
    assert audit.context["pending_deliveries_dropped"] == 1


def test_a_partner_user_cannot_resend_another_partners_delivery(
    setup: CertificateLab,
    world: World,
    qa: User,
    lab_admin: User,
    partner_b_user: User,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    lot_allocate(actor=None, lot=setup.conforming, customer=world.partner_a, mass_kg=Decimal("100"), reference="PO-1")
    register(lab_admin, world.partner_a, receiver.url())
    receiver.default = 500
    issue_rendered(qa, setup.conforming, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    overdue(delivery)
    with pytest.raises(NotFoundError):
        webhook_delivery_resend(actor=partner_b_user, delivery=delivery)
    # The lab admin may: a pending delivery whose next attempt is overdue counts as stuck.
    receiver.default = 200
    with django_capture_on_commit_callbacks(execute=True):
        webhook_delivery_resend(actor=lab_admin, delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


# --- PostgreSQL, Redis and a real worker: the retries are Celery's ---------------------------------


def _database_url_of_the_test_database() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_retries_with_backoff_until_delivered(transactional_db: None, world: World, tmp_path: Path) -> None:
    from assays.roles import Role
    from tests.factories import UserFactory

    admin = UserFactory(username="lab_admin_worker", roles=[Role.LAB_ADMIN], is_staff=True)
    queue = f"webhooks-{uuid.uuid4().hex}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_the_test_database(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LIMS_VAR_DIR": str(tmp_path),
        "LIMS_WEBHOOK_RETRY_BASE_SECONDS": "1",
    }
    with running_receiver(script=[500, 502]) as receiver:
        webhook, secret = register(admin, world.partner_a, receiver.url())
        delivery = WebhookDelivery.objects.create(
            webhook=webhook,
            event=WebhookEvent.CERTIFICATE_ISSUED,
            payload={"id": "x", "event": "certificate.issued", "data": {"certificate": {"number": "COA-TEST-0001"}}},
            next_attempt_at=timezone.now(),
        )
        worker = start_worker(queue=queue, env=env)
        try:
            deliver_webhook.apply_async(args=[delivery.pk], queue=queue)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and worker.poll() is None:
                delivery.refresh_from_db()
                if delivery.status != "pending":
                    break
                time.sleep(0.25)
        finally:
            worker.terminate()
            try:
                output, _ = worker.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                output, _ = worker.communicate()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200), output[-4000:]
        requests = receiver.received()
        assert len(requests) == 3
        for request in requests:
            assert_signed(request, secret)
        assert "Retry in" in output
