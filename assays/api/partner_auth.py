"""Who is calling the partner API: an API key (``Authorization: Api-Key <key>``) or a signed-in
partner user, resolved to one ``PartnerAccess`` that names the partner on the request.

A key that is unknown, revoked or expired is refused with 401 whatever the endpoint, so a
client learns at once that its key is dead rather than reading an empty list. A key names a
partner and nothing else: it holds no user, no staff role, and the staff endpoints refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from assays.models import ApiScope, Partner, PartnerApiKey
from assays.roles import is_partner_user
from assays.selectors.scoping import acting_partner

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

KEYWORD = "Api-Key"
ALL_SCOPES = frozenset(ApiScope.values)
# last_used_at is a hint for the lab ("is this key still in use?"), not a log: one write a minute at most.
_LAST_USED_EVERY_SECONDS = 60


class ApiKeyRefused(AuthenticationFailed):
    """Answered 401 with a WWW-Authenticate header on every endpoint (``assays.api.errors``)."""


class KeyPrincipal:
    """``request.user`` for a call made with a key: authenticated, in no role, acting for its partner."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_superuser = False
    is_staff = False
    pk = None
    id = None

    def __init__(self, key: PartnerApiKey) -> None:
        self.key = key
        self.username = f"api-key:{key.prefix}"
        # The role cache of assays.roles: a key holds no role, so no query for groups is made.
        self._lims_roles: frozenset[Any] = frozenset()

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False


class PartnerApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[KeyPrincipal, PartnerApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() != KEYWORD.lower():
            return None
        if len(header) != 2:
            raise ApiKeyRefused(f"send the key as 'Authorization: {KEYWORD} <key>'")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise ApiKeyRefused("unknown, revoked or expired API key") from None
        return self._principal(raw)

    def _principal(self, raw: str) -> tuple[KeyPrincipal, PartnerApiKey]:
        prefix, dot, _secret = raw.partition(".")
        # A well-formed key is <8 characters>.<32 characters>; anything else cannot match a stored one.
        if not dot or len(prefix) != 8 or len(raw) > 100 or "\x00" in raw:
            raise ApiKeyRefused("unknown, revoked or expired API key")
        # The library's get_from_key, with the partner read in the same query.
        key = PartnerApiKey.objects.select_related("partner").filter(prefix=prefix, revoked=False).first()
        if key is None or not key.is_valid(raw) or key.has_expired:
            raise ApiKeyRefused("unknown, revoked or expired API key")
        self._touch(key)
        return KeyPrincipal(key), key

    @staticmethod
    def _touch(key: PartnerApiKey) -> None:
        if cache.add(f"partner-key-used:{key.prefix}", 1, timeout=_LAST_USED_EVERY_SECONDS):
            PartnerApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="partner API"'


@dataclass(frozen=True, slots=True)
class PartnerAccess:
    """The partner a request acts for, by which credential, with which read scopes."""

    partner: Partner
    scopes: frozenset[str]
    key: PartnerApiKey | None
    username: str


def partner_access(request: Request) -> PartnerAccess | None:
    """The partner behind the request, or None when the caller is not a partner (staff, anonymous)."""
    cached: PartnerAccess | None = getattr(request, "_lims_partner_access", None)
    if cached is not None:
        return cached
    access: PartnerAccess | None = None
    if isinstance(request.auth, PartnerApiKey):
        key = request.auth
        access = PartnerAccess(partner=key.partner, scopes=frozenset(key.scopes) & ALL_SCOPES, key=key, username="")
    elif request.user.is_authenticated and is_partner_user(request.user):
        partner = acting_partner(actor=request.user)
        if partner is not None:
            # A signed-in partner user reads everything its partner may (the portal's own pages).
            access = PartnerAccess(partner=partner, scopes=ALL_SCOPES, key=None, username=request.user.get_username())
    setattr(request, "_lims_partner_access", access)  # noqa: B010 - a per-request cache
    return access


class HasPartnerScope(BasePermission):
    """A partner (by key or signed in) whose key holds the view's ``partner_scope``."""

    message = "This needs a partner API key (or a partner user's sign-in) with the right scope."

    def has_permission(self, request: Request, view: APIView) -> bool:
        access = partner_access(request)
        if access is None:
            return False
        scope: str | None = getattr(view, "partner_scope", None)
        if scope is None:
            raise TypeError(f"{type(view).__name__} must declare partner_scope")
        if scope not in access.scopes:
            self.message = f"This key lacks the '{scope}' scope."
            return False
        return True


class PartnerRateThrottle(SimpleRateThrottle):
    """Per key (or per partner user): the key's own rate, else ``LIMS_PARTNER_API_RATE``."""

    scope = "partner"

    def __init__(self) -> None:
        # The rate depends on the key, known only per request (allow_request).
        self.rate = settings.LIMS_PARTNER_API_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def allow_request(self, request: Request, view: APIView) -> bool:
        access = partner_access(request)
        if access is not None and access.key is not None and access.key.throttle_rate:
            self.rate = access.key.throttle_rate
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        access = partner_access(request)
        if access is None:
            return None
        ident = f"key:{access.key.prefix}" if access.key is not None else f"user:{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PartnerApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """The key in the OpenAPI schema: an ``Authorization`` header, ``Api-Key <key>``."""

    target_class = PartnerApiKeyAuthentication
    name = "partnerApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": f"A partner's key, sent as `{KEYWORD} <key>`. Read-only; the partner API (/api/v1/partner/) only.",
        }
