"""Reading partners' webhooks and their delivery logs, scoped to who asks.

A partner user sees its own partner's; a Lab admin any partner's. Anyone else, and a partner user
asking about another partner, gets "not found": the two are not told apart.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from assays.errors import NotFoundError, PermissionDeniedError
from assays.models import DeliveryStatus, Partner, PartnerWebhook, WebhookDelivery
from assays.roles import Role, has_role, is_partner_user
from assays.selectors.scoping import acting_partner


def is_webhook_admin(actor: User | AnonymousUser) -> bool:
    """Lab admins (and superusers) manage every partner's webhooks."""
    return has_role(actor, Role.LAB_ADMIN) or bool(getattr(actor, "is_superuser", False))


def webhook_partner_own(*, actor: User | AnonymousUser) -> Partner:
    """The partner whose webhooks a partner user manages (the portal page)."""
    partner = acting_partner(actor=actor)
    if partner is None:
        raise NotFoundError("no such page")
    return partner


def webhook_partner_get(*, actor: User | AnonymousUser, code: str) -> Partner:
    """A partner by code, for a Lab admin (the lab's page)."""
    if not is_webhook_admin(actor):
        if is_partner_user(actor) or not actor.is_authenticated:
            raise NotFoundError("no such partner")
        raise PermissionDeniedError("only a Lab admin manages partners' webhooks")
    partner = Partner.objects.filter(code=code).first()
    if partner is None:
        raise NotFoundError("no such partner")
    return partner


def webhooks_of(*, partner: Partner) -> QuerySet[PartnerWebhook]:
    return PartnerWebhook.objects.filter(partner=partner).select_related("created_by", "disabled_by").order_by("-is_active", "-created_at")


def webhook_of(*, partner: Partner, pk: int) -> PartnerWebhook:
    webhook = PartnerWebhook.objects.select_related("partner").filter(partner=partner, pk=pk).first()
    if webhook is None:
        raise NotFoundError("no such webhook")
    return webhook


def deliveries_of(*, partner: Partner, status: str = "") -> QuerySet[WebhookDelivery]:
    """The partner's delivery log, newest first; ``status`` one of DeliveryStatus or "" for all."""
    deliveries = WebhookDelivery.objects.filter(webhook__partner=partner).select_related("webhook", "certificate")
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-id")


def delivery_of(*, partner: Partner, pk: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.select_related("webhook", "webhook__partner").filter(webhook__partner=partner, pk=pk).first()
    if delivery is None:
        raise NotFoundError("no such delivery")
    return delivery
