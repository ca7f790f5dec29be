"""Partners' webhooks: registering them, the events a certificate raises, and delivering them.

A partner (or a Lab admin for it) registers an https URL and the events it wants; the lab returns
the signing secret once. When a certificate of analysis or a report of analysis is issued or
revoked, one ``WebhookDelivery`` row per subscribed webhook of the partners concerned is written
in the same transaction, and a Celery task is enqueued on commit. The task POSTs the event,
signed (``assays.webhook_signature``), and records every attempt on the row; a failed attempt is
tried again later with a doubling wait, until ``LIMS_WEBHOOK_MAX_ATTEMPTS``. The database, not the
broker, is the source of truth: a delivery whose message was lost is found by the beat sweep.

Delivery is at least once: a receiver de-duplicates on ``X-LIMS-Delivery`` (docs/webhooks.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    AuditAction,
    Certificate,
    CertificateKind,
    DeliveryStatus,
    LotAllocation,
    Partner,
    PartnerWebhook,
    WebhookDelivery,
    WebhookEvent,
)
from assays.roles import Role, has_role
from assays.selectors.scoping import acting_partner
from assays.services.audit import audit_record, snapshot
from assays.webhook_signature import sign

logger = logging.getLogger(__name__)

USER_AGENT = "REO-LIMS-Webhooks/1.0"
MAX_URL = 500
MAX_DESCRIPTION = 200
MAX_ERROR = 2000
# Enough for any real integration; a partner with more is most likely registering in a loop.
MAX_ACTIVE_PER_PARTNER = 10
# A retry message may be handed over a little before its time: it still counts as due.
EARLY_SLACK = dt.timedelta(seconds=5)
_AUDITED_WEBHOOK = ["partner", "url", "events", "description", "is_active", "disabled_at"]  # never the secret
_AUDITED_DELIVERY = ["status", "attempts", "next_attempt_at", "last_status_code", "last_error"]


class WebhookRefusedError(DomainError):
    """A webhook that cannot be registered, disabled or sent as asked; the message says why."""


# --- Who ---------------------------------------------------------------------------------------------


def _check_manager(actor: User, partner: Partner) -> None:
    """A Lab admin manages any partner's webhooks; a partner user its own partner's only."""
    if has_role(actor, Role.LAB_ADMIN) or actor.is_superuser:
        return
    own = acting_partner(actor=actor)
    if own is None:
        raise PermissionDeniedError("only a Lab admin or the partner's own users manage its webhooks")
    if own.pk != partner.pk:
        # Another partner's webhooks are not told apart from ones that do not exist.
        raise NotFoundError("no such webhook")


# --- What: the URL and the events --------------------------------------------------------------------


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # Not global: loopback, private, link-local (cloud metadata), shared, reserved, unspecified.
    return not address.is_global or address.is_multicast


def _address_problem(host: str, port: int) -> str:
    """Why ``host`` may not be called (it resolves inside the lab's network, or not at all); "" if it may."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return f"the host {host} does not resolve"
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    internal = sorted({str(address) for address in addresses if _internal(address)})
    if internal:
        return f"the host {host} resolves to an address inside a private network ({', '.join(internal)}), which the lab does not call"
    return ""


def webhook_url_check(*, url: str) -> str:
    """The URL, stripped, if the lab will call it; raises naming the ``url`` field if not."""
    url = url.strip()
    if not url:
        raise WebhookRefusedError("url: give the address the lab should send events to")
    if len(url) > MAX_URL:
        raise WebhookRefusedError(f"url: at most {MAX_URL} characters")
    schemes = ["https", "http"] if settings.LIMS_WEBHOOK_ALLOW_HTTP else ["https"]
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise WebhookRefusedError("url: only https:// addresses are accepted" if schemes == ["https"] else "url: use an https:// address")
    try:
        URLValidator(schemes=schemes)(url)
        port = parts.port
    except (ValidationError, ValueError) as exc:
        raise WebhookRefusedError("url: not a valid address") from exc
    if parts.username is not None or parts.password is not None:
        raise WebhookRefusedError("url: put no user name or password in the address (the signature tells the receiver it is the lab)")
    host = parts.hostname or ""
    if not settings.LIMS_WEBHOOK_ALLOW_PRIVATE:
        problem = _address_problem(host, port or (443 if parts.scheme.lower() == "https" else 80))
        if problem:
            raise WebhookRefusedError(f"url: {problem}")
    return url


def _events_check(events: Iterable[str]) -> list[str]:
    chosen = {str(event) for event in events}
    unknown = sorted(chosen - set(WebhookEvent.values))
    if unknown or not chosen:
        raise WebhookRefusedError(
            f"events: choose one or more of {', '.join(WebhookEvent.values)}" + (f" (not {', '.join(unknown)})" if unknown else "")
        )
    return [event for event in WebhookEvent.values if event in chosen]


# --- Registering, disabling, sending again ----------------------------------------------------------


def webhook_register(
    *, actor: User, partner: Partner, url: str, events: Iterable[str], description: str = ""
) -> tuple[PartnerWebhook, str]:
    """A new webhook for ``partner``; returns it and its signing secret, which is shown this once."""
    _check_manager(actor, partner)
    url = webhook_url_check(url=url)
    chosen = _events_check(events)
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise WebhookRefusedError(f"description: at most {MAX_DESCRIPTION} characters")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Counted under the partner's row lock, so two requests at once cannot both pass the limit.
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        if PartnerWebhook.objects.filter(partner=partner, is_active=True).count() >= MAX_ACTIVE_PER_PARTNER:
            raise WebhookRefusedError(f"{partner.name} has {MAX_ACTIVE_PER_PARTNER} active webhooks: disable one first")
        webhook = PartnerWebhook.objects.create(
            partner=partner, url=url, events=chosen, secret=secret, description=description, created_by=actor
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            instance=webhook,
            reason=f"webhook registered for {partner.code}",
            after=snapshot(webhook, fields=_AUDITED_WEBHOOK),
        )
    return webhook, secret


def webhook_disable(*, actor: User, webhook: PartnerWebhook, reason: str) -> PartnerWebhook:
    """Stop calling ``webhook``, for good (register a new one to start again). Deliveries still
    waiting are marked failed: they will not be sent."""
    _check_manager(actor, webhook.partner)
    reason = reason.strip()
    if not reason:
        raise WebhookRefusedError("reason: say why the webhook is disabled")
    with transaction.atomic():
        locked = PartnerWebhook.objects.select_for_update().get(pk=webhook.pk)
        if not locked.is_active:
            raise WebhookRefusedError("this webhook is already disabled")
        before = snapshot(locked, fields=_AUDITED_WEBHOOK)
        locked.is_active = False
        locked.disabled_at = timezone.now()
        locked.disabled_by = actor
        locked.save(update_fields=["is_active", "disabled_at", "disabled_by"])
        dropped = WebhookDelivery.objects.filter(webhook=locked, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="not sent: the webhook was disabled"
        )
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=locked,
            reason=reason,
            before=before,
            after=snapshot(locked, fields=_AUDITED_WEBHOOK),
            context={"pending_deliveries_dropped": dropped},
        )
    return locked


def delivery_resendable(delivery: WebhookDelivery, *, now: dt.datetime | None = None) -> bool:
    """A failed delivery, or a pending one whose next attempt is overdue (nothing is about to send
    it: a lost message, or the embedded mode, which has no beat to retry)."""
    if delivery.status == DeliveryStatus.FAILED:
        return True
    now = now or timezone.now()
    return delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None and delivery.next_attempt_at <= now


def webhook_delivery_resend(*, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery`` again as a new series of attempts: the same event, id and body."""
    _check_manager(actor, delivery.webhook.partner)
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("webhook").get(pk=delivery.pk)
        if not locked.webhook.is_active:
            raise WebhookRefusedError("the webhook is disabled: register a new one to receive events again")
        if not delivery_resendable(locked):
            raise WebhookRefusedError(f"this delivery is {locked.get_status_display().lower()}: only a failed one is sent again")
        before = snapshot(locked, fields=_AUDITED_DELIVERY)
        locked.status = DeliveryStatus.PENDING
        locked.attempts = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "attempts", "next_attempt_at"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=locked,
            reason=f"{locked.event} {locked.event_id} sent again",
            before=before,
            after=snapshot(locked, fields=_AUDITED_DELIVERY),
        )
        _enqueue(locked.pk)
    return locked


# --- Events --------------------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _certificate_data(certificate: Certificate) -> dict[str, Any]:
    """What the certificate states about itself, and where to fetch it: nothing more."""
    from assays.selectors.certificate_payload import verification_url

    lot = certificate.lot
    supersedes = certificate.supersedes
    api = f"/api/v1/partner/certificates/{certificate.pk}/"
    return {
        "number": certificate.number,
        "revision": certificate.revision,
        "kind": certificate.kind,
        "status": certificate.status,
        "lot": lot.code,
        "product": lot.product.code if lot.product is not None else None,
        "issued_at": _iso(certificate.issued_at),
        "revoked_at": _iso(certificate.revoked_at),
        "revocation_reason": certificate.revocation_reason or None,
        "supersedes": {"number": supersedes.number, "revision": supersedes.revision} if supersedes is not None else None,
        "links": {
            "api": api,
            "pdf": f"{api}pdf/",
            "verification": verification_url(certificate.verification_token) if certificate.verification_token else None,
        },
    }


def _recipients(certificate: Certificate) -> list[int]:
    """The partners an event of ``certificate`` goes to: a report's supplier; a certificate's
    customer, or, when it names none, every customer the lot is allocated to."""
    if certificate.kind == CertificateKind.REPORT:
        return [certificate.lot.supplier_id] if certificate.lot.supplier_id is not None else []
    if certificate.customer_id is not None:
        return [certificate.customer_id]
    return list(LotAllocation.objects.filter(lot_id=certificate.lot_id).values_list("customer_id", flat=True))


def webhook_events_for_certificate(*, certificate: Certificate, event: WebhookEvent | str) -> list[WebhookDelivery]:
    """One delivery per active webhook, of the partners concerned, subscribed to ``event``; each is
    sent once the caller's transaction commits."""
    event = WebhookEvent(event)
    partners = _recipients(certificate)
    if not partners:
        return []
    # Filtered here rather than with a JSON lookup: SQLite has no "list contains" on JSON.
    hooks = [hook for hook in PartnerWebhook.objects.filter(partner_id__in=partners, is_active=True).order_by("pk") if event in hook.events]
    if not hooks:
        return []
    data = _certificate_data(certificate)
    now = timezone.now()
    deliveries = []
    for hook in hooks:
        delivery = WebhookDelivery(webhook=hook, event=event, certificate=certificate, next_attempt_at=now)
        delivery.payload = {
            "id": str(delivery.event_id),
            "event": event.value,
            "created_at": now.isoformat(),
            "data": {"certificate": data},
        }
        delivery.save()
        _enqueue(delivery.pk)
        deliveries.append(delivery)
    return deliveries


def _enqueue(delivery_id: int) -> None:
    from assays.tasks import deliver_webhook

    # Robust: a broker outage must not undo a committed certificate; the sweep sends it later.
    transaction.on_commit(lambda: deliver_webhook.delay(delivery_id), robust=True)


# --- Delivering ----------------------------------------------------------------------------------------


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The bytes POSTed, the same at every attempt: the stored payload in canonical JSON (sorted
    keys, no spaces, ASCII). Canonical because PostgreSQL's jsonb does not keep key order."""
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def retry_delay_seconds(attempt: int) -> float:
    """The wait after failed attempt number ``attempt`` (1-based): the base, doubled each time, up
    to the cap, plus up to 10 % jitter so that many deliveries failing together do not return together."""
    base = float(settings.LIMS_WEBHOOK_RETRY_BASE_SECONDS)
    cap = float(settings.LIMS_WEBHOOK_RETRY_MAX_SECONDS)
    delay = min(base * float(2 ** max(attempt - 1, 0)), cap)
    return min(delay * (1 + random.uniform(0, 0.1)), cap)  # noqa: S311 - jitter, not a secret


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as a failure: following it would send the event (and let a receiver
    steer the lab's requests) to an address nobody registered or checked."""

    def redirect_request(self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: Any) -> None:
        return None


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the delivery once: (HTTP status or None, error text or "")."""
    webhook = delivery.webhook
    try:
        # Checked again at every attempt: the host's address may have changed since registration.
        webhook_url_check(url=webhook.url)
    except DomainError as exc:
        return None, f"not sent: {str(exc).removeprefix('url: ')}"
    body = delivery_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-LIMS-Event": delivery.event,
        "X-LIMS-Delivery": str(delivery.event_id),
        "X-LIMS-Signature": sign(secret=webhook.secret, timestamp=int(time.time()), body=body),
    }
    # The scheme is http(s) only: webhook_url_check above refuses anything else (file:, ftp:).
    request = urllib.request.Request(webhook.url, data=body, headers=headers, method="POST")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=float(settings.LIMS_WEBHOOK_TIMEOUT_SECONDS)) as response:
            return int(response.status), ""
    except urllib.error.HTTPError as exc:
        with exc:
            if 300 <= exc.code < 400:
                location = exc.headers.get("Location", "?")
                return exc.code, f"HTTP {exc.code}: redirect to {location} not followed (register the final address)"
            try:
                answer = exc.read(500).decode("utf-8", "replace").strip()
            except Exception:  # the answer's body is only a hint for the log
                answer = ""
            return exc.code, f"HTTP {exc.code} {exc.reason}" + (f": {answer}" if answer else "")
    except Exception as exc:  # any failure to reach the receiver is recorded, never raised
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return None, f"{type(reason).__name__}: {reason}"


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What one call of ``webhook_delivery_attempt`` did."""

    status: str  # delivered, pending (to be tried again), failed, or skipped (not due, done or gone)
    retry_in: float | None = None  # seconds until the next attempt, when there is one


def _claim(delivery_id: int) -> tuple[WebhookDelivery, int] | None:
    """Lock the delivery, check it is due, count the attempt and mark it in flight (its next
    attempt moved past this one's timeout), so a second worker holding the same message skips it."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update(of=("self",)).select_related("webhook").filter(pk=delivery_id).first()
        if delivery is None or delivery.status != DeliveryStatus.PENDING:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_SLACK:
            return None
        if not delivery.webhook.is_active:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.last_error = "not sent: the webhook was disabled"
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return None
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + dt.timedelta(seconds=float(settings.LIMS_WEBHOOK_TIMEOUT_SECONDS) + 60)
        delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery, delivery.attempts


def _record(delivery_id: int, *, attempt: int, status_code: int | None, error: str) -> AttemptOutcome:
    now = timezone.now()
    delivered = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        # Sent again (a new series) or disabled while this attempt was on the wire: theirs is the record.
        if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.attempts != attempt:
            return AttemptOutcome("skipped")
        delivery.last_status_code = status_code if status_code is not None and 100 <= status_code <= 999 else None
        retry_in: float | None = None
        if delivered:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at, delivery.last_error = DeliveryStatus.DELIVERED, now, None, ""
        elif attempt >= int(settings.LIMS_WEBHOOK_MAX_ATTEMPTS):
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.last_error = error[:MAX_ERROR]
        else:
            retry_in = retry_delay_seconds(attempt)
            delivery.next_attempt_at = now + dt.timedelta(seconds=retry_in)
            delivery.last_error = error[:MAX_ERROR]
        delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code", "last_error"])
    return AttemptOutcome(delivery.status, retry_in)


def webhook_delivery_attempt(*, delivery_id: int) -> AttemptOutcome:
    """One attempt at a delivery, if it is due: POST, then record what happened. Never raises for
    anything the receiver or the network does; a delivery not due (or done) is left alone, so a
    redelivered or duplicated message does no harm."""
    claimed = _claim(delivery_id)
    if claimed is None:
        return AttemptOutcome("skipped")
    delivery, attempt = claimed
    status_code, error = _post(delivery)
    outcome = _record(delivery_id, attempt=attempt, status_code=status_code, error=error)
    logger.info(
        "webhook delivery %s (%s, %s) attempt %s: %s %s",
        delivery.pk,
        delivery.event,
        delivery.event_id,
        attempt,
        status_code if status_code is not None else "-",
        outcome.status,
    )
    return outcome


def webhook_deliveries_due(*, older_than_seconds: float) -> list[int]:
    """Pending deliveries whose next attempt passed more than ``older_than_seconds`` ago: their
    message was lost (broker outage, killed worker), or nothing retries them (no worker)."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=cutoff)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
