"""Issuing and revoking partners' API keys: a Lab admin's act, audited.

The key itself is returned once, by ``api_key_issue``, and never stored: only its SHA-512
(djangorestframework-api-key). A lost key is revoked and a new one issued.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import cast

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from assays.errors import DomainError, PermissionDeniedError
from assays.models import ApiScope, AuditAction, Partner, PartnerApiKey
from assays.roles import Role, has_role
from assays.services.audit import audit_record, snapshot

# A key that never expires is a key nobody remembers: at most two years, one by default.
MAX_LIFETIME = dt.timedelta(days=730)
DEFAULT_LIFETIME = dt.timedelta(days=365)
# DRF's rate notation, as PartnerRateThrottle parses it: "600/min", "10/s", "50000/day".
RATE_PATTERN = re.compile(r"[1-9][0-9]{0,6}/(s|sec|second|m|min|minute|h|hour|d|day)")
_AUDITED_FIELDS = ["name", "prefix", "partner", "scopes", "throttle_rate", "expiry_date", "revoked", "revoked_at", "revocation_reason"]


class ApiKeyRefusedError(DomainError):
    """An API key that cannot be issued or revoked as asked; the message says why."""


def _check_lab_admin(actor: User) -> None:
    if not (has_role(actor, Role.LAB_ADMIN) or actor.is_superuser):
        raise PermissionDeniedError("only a Lab admin issues and revokes partner API keys")


def api_key_issue(
    *,
    actor: User,
    partner: Partner,
    name: str,
    scopes: Iterable[str],
    expires_at: dt.datetime | None = None,
    throttle_rate: str = "",
) -> tuple[PartnerApiKey, str]:
    """A new key for ``partner``; returns the record and the key, which is shown this once."""
    _check_lab_admin(actor)
    name = name.strip()
    if not name or len(name) > 50:
        raise ApiKeyRefusedError("name: give the key a name of 1 to 50 characters (what system uses it)")
    wanted = sorted(set(scopes))
    unknown = [scope for scope in wanted if scope not in ApiScope.values]
    if unknown or not wanted:
        raise ApiKeyRefusedError(
            f"scopes: choose one or more of {', '.join(ApiScope.values)}" + (f" (not {', '.join(unknown)})" if unknown else "")
        )
    now = timezone.now()
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if timezone.is_naive(expires_at):
        raise ApiKeyRefusedError("expires_at: give a time with its zone")
    if expires_at <= now:
        raise ApiKeyRefusedError("expires_at: the expiry must be in the future")
    if expires_at > now + MAX_LIFETIME:
        raise ApiKeyRefusedError(f"expires_at: a key lives at most {MAX_LIFETIME.days} days")
    throttle_rate = throttle_rate.strip()
    if throttle_rate and not RATE_PATTERN.fullmatch(throttle_rate):
        raise ApiKeyRefusedError("throttle_rate: write it as requests/period, e.g. 600/min, 20/s or 50000/day")
    with transaction.atomic():
        created, raw = PartnerApiKey.objects.create_key(
            partner=partner, name=name, scopes=wanted, expiry_date=expires_at, throttle_rate=throttle_rate, created_by=actor
        )
        key = cast(PartnerApiKey, created)
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            instance=key,
            object_id=key.prefix,
            reason=f"API key issued to {partner.code}",
            after=snapshot(key, fields=_AUDITED_FIELDS),
        )
    return key, raw


def api_key_revoke(*, actor: User, key: PartnerApiKey, reason: str) -> PartnerApiKey:
    """Revoke ``key`` for good: every request with it is refused with 401 from now on."""
    _check_lab_admin(actor)
    if not reason.strip():
        raise ApiKeyRefusedError("reason: say why the key is revoked")
    with transaction.atomic():
        locked: PartnerApiKey = PartnerApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked:
            raise ApiKeyRefusedError(f"the key {locked.prefix}… is already revoked")
        before = snapshot(locked, fields=_AUDITED_FIELDS)
        locked.revoked = True
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor
        locked.revocation_reason = reason.strip()
        locked.save(update_fields=["revoked", "revoked_at", "revoked_by", "revocation_reason"])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            instance=locked,
            object_id=locked.prefix,
            reason=reason.strip(),
            before=before,
            after=snapshot(locked, fields=_AUDITED_FIELDS),
        )
    return locked
