"""Partner isolation over EVERY URL of the project: partner B never reads partner A's data.

The cases are the project's URL patterns, walked from ``django.urls.get_resolver()`` when the
tests are collected (the API, the web pages, the portal, the admin), so a new endpoint is
covered the day it is added. Each pattern is made a concrete URL with partner A's objects (or
the lab objects A's lots went through) for its parameters, from
``tests.partner_isolation_world.PARAMETER_OBJECTS``; a parameter missing there FAILS its case,
never skips it.

The rules, per class of URL ("A" and "B" are the partners' signed-in users everywhere, and their
API keys as well on /api/ URLs; "refused" is 401, 403, 404, 405 or a redirect to a login page):

* Nothing answers 5xx, and no answer to B (whatever its status) holds partner A's lot or sample
  codes, certificate or report numbers, name or webhook address, except what B itself put in
  the URL.
* A URL naming a partner's object (lot, sample, certificate, partner, webhook, delivery, key):
  when A itself may read it (2xx, or a redirect elsewhere than to the login), B gets exactly
  404, as for an object that does not exist; when A is refused too (a staff-only URL), B is
  refused. On the partner API (/api/v1/partner/) and the portal (/portal/), A must be able to
  read such a URL: otherwise the case would prove nothing, and the mapping is wrong.
* A URL naming only the lab's own objects (run, QC check, flag, method, product,
  reassessment, batch), and a URL with no parameter (a list, a form): B is refused wherever A
  is; where a partner may read it, B reads its own, with none of A's data in it.
* Anonymous: refused everywhere, except the pages in ``PUBLIC`` (each with its reason).
* A dead key (expired, revoked): 401 on every /api/ URL.
* Unsafe methods: on /api/ URLs POST, PUT, PATCH and DELETE (empty body) never give B or
  anonymous a 2xx; on web URLs an anonymous POST anywhere outside ``PUBLIC`` is refused. A
  request of B's to a URL naming A's objects is refused, and where A's own same request is not
  (A may act there, or is told its empty form is wrong), B's is exactly 404: an object of A's
  is never checked, validated or acted on for B.
* The world (``tests.partner_isolation_world``) is built once for the module and rolled back
  at its end; each case runs in a savepoint of its own, so a write in one leaves nothing behind.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.http import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

from assays.models import Certificate, Lot, Partner, PartnerApiKey, PartnerWebhook, Sample, WebhookDelivery
from tests.partner_isolation_world import PARAMETER_OBJECTS, PARTNER_OWNED, SharedWorld, shared_partner_world

pytestmark = pytest.mark.django_db

# --- The URL patterns, at collection time ---------------------------------------------------------

_ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
_REGEX_PARAMETER = re.compile(r"\(\?P<(?P<name>\w+)>")
# What reverse() leaves unquoted in a path.
_SAFE = "/~:@!$&'()*+,;="


@dataclass(frozen=True)
class Endpoint:
    chain: tuple[URLResolver | URLPattern, ...]

    @property
    def pattern(self) -> URLPattern:
        last = self.chain[-1]
        assert isinstance(last, URLPattern)
        return last

    @property
    def route(self) -> str:
        return "".join(_text(node.pattern) for node in self.chain)

    @property
    def namespace(self) -> str:
        return ":".join(node.namespace for node in self.chain if isinstance(node, URLResolver) and node.namespace)

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def is_admin(self) -> bool:
        return self.namespace == "admin"

    def parameters(self) -> list[tuple[str, str]]:
        """(the path segment before it, its name) for every parameter, in order."""
        found = []
        route = self.route
        for match in re.finditer(r"<(?:[^>:]+:)?(\w+)>|\(\?P<(\w+)>", route):
            before = [part for part in route[: match.start()].strip("^").split("/") if part]
            found.append((before[-1] if before else "", match.group(1) or match.group(2)))
        return found

    def __str__(self) -> str:
        return self.route or "/"


def _text(pattern: Any) -> str:
    if isinstance(pattern, RegexPattern):
        return pattern.regex.pattern.lstrip("^").rstrip("$")
    return str(pattern)


def _walk(resolver: URLResolver, chain: tuple[URLResolver | URLPattern, ...] = ()) -> Iterator[Endpoint]:
    for node in resolver.url_patterns:
        if isinstance(node, URLResolver):
            yield from _walk(node, (*chain, node))
        else:
            yield Endpoint((*chain, node))


ENDPOINTS = list(_walk(get_resolver()))
API_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint.is_api]
assert len(ENDPOINTS) > 80, "the resolver walk found the project's URLs"
assert len(API_ENDPOINTS) > 30, "the resolver walk found the API"

# Anonymous may read these, and only these; partner B too (they name nobody's data but the token's).
PUBLIC: dict[str, str] = {
    "verify": "the QR code on a certificate: anyone holding the token may check the certificate",
    "login": "the sign-in form",
    "logout": "signing out (GET is 405; POST signs out whoever is signed in, nobody here)",
    "api-schema": "the OpenAPI schema: the API's shape, no data (SERVE_PERMISSIONS AllowAny)",
    "api-docs": "the Swagger UI page over the schema, no data",
    "admin:login": "the admin's sign-in form",
    "admin:logout": "signing out of the admin: with nobody signed in, a redirect to the admin's index (itself refused)",
}
LOGIN_PATHS = ("/login/", "/admin/login/")
REFUSED = {401, 403, 404, 405}


def _name(endpoint: Endpoint) -> str:
    name = endpoint.pattern.name or ""
    return f"{endpoint.namespace}:{name}" if endpoint.namespace and name else name


# --- The world, once per module -------------------------------------------------------------------


@dataclass(frozen=True)
class Sessions:
    world: SharedWorld
    a_session: str
    b_session: str


@pytest.fixture(scope="module")
def sessions(
    django_db_setup: None, django_db_blocker: Any, signing_key_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sessions]:
    """The world and both partner users' sessions, made once: a test only sets the cookie."""
    media = tmp_path_factory.mktemp("isolation-media")
    with shared_partner_world(django_db_blocker=django_db_blocker, signing=signing_key_files, media_root=media) as world:
        cookies = []
        for user in (world.people.partner_a_user, world.people.partner_b_user):
            client = Client()
            client.force_login(user)
            cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
        yield Sessions(world=world, a_session=cookies[0], b_session=cookies[1])


@pytest.fixture
def shared(sessions: Sessions) -> SharedWorld:
    return sessions.world


def _session_client(session_key: str) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return client


def _key_client(raw: str) -> Client:
    return Client(headers={"Authorization": f"Api-Key {raw}"})


class Callers:
    """Who calls: each client made on first use (most cases need only some of them)."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    @functools.cached_property
    def a_session(self) -> Client:
        return _session_client(self._sessions.a_session)

    @functools.cached_property
    def b_session(self) -> Client:
        return _session_client(self._sessions.b_session)

    @functools.cached_property
    def a_key(self) -> Client:
        return _key_client(self._sessions.world.keys.a)

    @functools.cached_property
    def b_key(self) -> Client:
        return _key_client(self._sessions.world.keys.b)

    @functools.cached_property
    def expired_key(self) -> Client:
        return _key_client(self._sessions.world.keys.expired)

    @functools.cached_property
    def revoked_key(self) -> Client:
        return _key_client(self._sessions.world.keys.revoked)

    @functools.cached_property
    def anonymous(self) -> Client:
        return Client()


@pytest.fixture
def callers(sessions: Sessions, db: None) -> Callers:
    return Callers(sessions)


# --- Building a URL ---------------------------------------------------------------------------------

# The admin's own parameters. Its gate (a signed-in Django-staff user) runs before any lookup,
# so these need only make a URL that resolves where the pattern says.
_ADMIN_OWNED: dict[type[Model], Any] = {
    Lot: lambda w: w.pw.a_certified.pk,
    Sample: lambda w: w.a_sample.pk,
    Certificate: lambda w: w.pw.a_certificate.pk,
    Partner: lambda w: w.world.partner_a.pk,
    PartnerApiKey: lambda w: w.keys.a_record.pk,
    PartnerWebhook: lambda w: w.a_webhook.pk,
    WebhookDelivery: lambda w: w.a_delivery.pk,
}


def _admin_value(endpoint: Endpoint, name: str, world: SharedWorld) -> object:
    model_admin = getattr(endpoint.pattern.callback, "model_admin", None)
    if name == "object_id" and model_admin is not None:
        model = model_admin.model
        if model in _ADMIN_OWNED:
            return _ADMIN_OWNED[model](world)
        first = model._default_manager.order_by("pk").first()
        return first.pk if first is not None else 0
    if name == "object_id":  # admin/r/<content_type_id>/<object_id>/: "view on site"
        return world.pw.a_certified.pk
    if name == "content_type_id":
        return ContentType.objects.get_for_model(Lot).pk
    if name == "app_label":
        return "assays"
    if name == "url":  # the catch-all: any path no other admin pattern takes
        return "no-such-page/"
    if name == "id":  # auth's "change this user's password" page
        return world.people.partner_a_user.pk
    raise KeyError(name)


def _values(endpoint: Endpoint, world: SharedWorld) -> dict[str, object]:
    values: dict[str, object] = {}
    missing = []
    for segment, name in endpoint.parameters():
        filler = PARAMETER_OBJECTS.get((segment, name))
        if filler is not None:
            values[name] = filler(world)
            continue
        if endpoint.is_admin:
            try:
                values[name] = _admin_value(endpoint, name, world)
                continue
            except KeyError:
                pass
        missing.append(f"({segment!r}, {name!r})")
    if missing:
        pytest.fail(
            f"{endpoint} ({_name(endpoint)}): no object for parameter {', '.join(missing)}. Add it to PARAMETER_OBJECTS "
            "(and to PARTNER_OWNED if it names a partner's object) in tests/partner_isolation_world.py, so that this URL "
            "is tested for partner isolation."
        )
    return values


def _piece(pattern: Any, values: dict[str, object]) -> str:
    if isinstance(pattern, RoutePattern):

        def fill(match: re.Match[str]) -> str:
            return str(pattern.converters[match["name"]].to_url(values[match["name"]]))

        return _ROUTE_PARAMETER.sub(fill, str(pattern))
    assert isinstance(pattern, RegexPattern), pattern
    for template, names in normalize(pattern.regex.pattern):
        if set(names) <= set(values):
            return template % {name: values[name] for name in names}
    raise AssertionError(f"cannot fill {pattern.regex.pattern} with {sorted(values)}")


def concrete_url(endpoint: Endpoint, world: SharedWorld) -> str:
    values = _values(endpoint, world)
    url = "/" + quote("".join(_piece(node.pattern, values) for node in endpoint.chain), safe=_SAFE)
    match = resolve(url)
    assert match.func is endpoint.pattern.callback, f"{url} resolves to {match.route!r}, not to {endpoint}: a shadowed pattern?"
    return url


def names_partner_objects(endpoint: Endpoint) -> bool:
    return any(parameter in PARTNER_OWNED for parameter in endpoint.parameters())


# --- Reading an answer --------------------------------------------------------------------------------


def body(response: HttpResponseBase) -> bytes:
    if response.streaming:
        content = b"".join(response.streaming_content)
        response.close()
        return content
    return bytes(response.content)


def to_login(response: HttpResponseBase) -> bool:
    return response.status_code in {301, 302, 303, 307, 308} and urlsplit(response["Location"]).path in LOGIN_PATHS


def refused(response: HttpResponseBase) -> bool:
    return response.status_code in REFUSED or to_login(response)


def readable(response: HttpResponseBase) -> bool:
    """A 2xx, or a redirect elsewhere than to a login page (a page moved, a form's next step)."""
    return 200 <= response.status_code < 300 or (300 <= response.status_code < 400 and not to_login(response))


def describe(who: str, method: str, url: str, response: HttpResponseBase) -> str:
    where = f" → {response['Location']}" if response.has_header("Location") else ""
    return f"{who} {method} {url}: {response.status_code}{where}"


def assert_no_a_data(who: str, method: str, url: str, response: HttpResponseBase, world: SharedWorld) -> None:
    assert response.status_code < 500, describe(who, method, url, response)
    content = body(response)
    in_url = unquote(url)
    leaked = sorted(marker for marker in world.a_markers() if marker not in in_url and marker.encode() in content)
    assert not leaked, f"{describe(who, method, url, response)} carries partner A's data: {leaked}"


def _pairs(endpoint: Endpoint, callers: Callers) -> list[tuple[str, Client, Client]]:
    """(how, A's client, B's client): signed-in users everywhere, keys on the API too."""
    pairs = [("session", callers.a_session, callers.b_session)]
    if endpoint.is_api:
        pairs.append(("key", callers.a_key, callers.b_key))
    return pairs


def _is_public(endpoint: Endpoint) -> bool:
    return _name(endpoint) in PUBLIC


# --- The tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_partner_b_never_reads_partner_a(endpoint: Endpoint, shared: SharedWorld, callers: Callers) -> None:
    url = concrete_url(endpoint, shared)
    if _is_public(endpoint):
        # Public by design (PUBLIC says why): B reads it as anyone does.
        assert callers.b_session.get(url).status_code in {200, 302, 405}, url
        return
    owned = names_partner_objects(endpoint)
    for how, a_client, b_client in _pairs(endpoint, callers):
        b = b_client.get(url)
        assert_no_a_data(f"partner B ({how})", "GET", url, b, shared)
        a = a_client.get(url)
        assert a.status_code < 500, describe(f"partner A ({how})", "GET", url, a)
        body(a)
        partner_surface = endpoint.route.startswith(("api/v1/partner/", "portal/"))
        if owned and partner_surface and a.status_code != 405:
            assert readable(a), f"{describe(f'partner A ({how})', 'GET', url, a)}: A cannot read its own object, so the case proves nothing"
        if readable(a) and owned:
            assert b.status_code == 404, f"{describe(f'partner B ({how})', 'GET', url, b)}: A's object must be a plain 404 to B"
        elif refused(a):
            assert refused(b), f"{describe(f'partner B ({how})', 'GET', url, b)}: partner A is refused here, B must be too"


@pytest.mark.parametrize("endpoint", API_ENDPOINTS, ids=str)
def test_dead_keys_get_401_on_every_api_url(endpoint: Endpoint, shared: SharedWorld, callers: Callers) -> None:
    url = concrete_url(endpoint, shared)
    for who, client in (("expired key", callers.expired_key), ("revoked key", callers.revoked_key)):
        response = client.get(url)
        assert response.status_code == 401, describe(who, "GET", url, response)
        assert response["WWW-Authenticate"].startswith("Api-Key"), describe(who, "GET", url, response)
        assert_no_a_data(who, "GET", url, response, shared)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_anonymous_gets_nothing_but_the_public_pages(endpoint: Endpoint, shared: SharedWorld, callers: Callers) -> None:
    url = concrete_url(endpoint, shared)
    response = callers.anonymous.get(url)
    if _is_public(endpoint):
        assert response.status_code in {200, 302, 405}, describe("anonymous", "GET", url, response)
        body(response)
        return
    assert refused(response), describe("anonymous", "GET", url, response)
    assert_no_a_data("anonymous", "GET", url, response, shared)


UNSAFE = ("post", "put", "patch", "delete")


def _assert_b_refused_where_a_acts(
    endpoint: Endpoint, url: str, method: str, how: str, a_client: Client, b: HttpResponseBase, world: SharedWorld
) -> None:
    """On A's objects, B's request (made first) is refused; where A's own request is not, B's is a 404."""
    if not names_partner_objects(endpoint):
        return
    assert refused(b), f"{describe(f'partner B ({how})', method, url, b)}: B may not act on A's objects"
    a = getattr(a_client, method.lower())(url, content_type="application/json")
    assert a.status_code < 500, describe(f"partner A ({how})", method, url, a)
    if not refused(a):
        assert b.status_code == 404, f"{describe(f'partner B ({how})', method, url, b)}: A may act here, so B must get 404"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_unsafe_methods_are_refused_to_b_and_anonymous(endpoint: Endpoint, shared: SharedWorld, callers: Callers) -> None:
    url = concrete_url(endpoint, shared)
    if endpoint.is_api:
        for method in UNSAFE:
            response = getattr(callers.anonymous, method)(url, content_type="application/json")
            assert not 200 <= response.status_code < 300, describe("anonymous", method.upper(), url, response)
            assert_no_a_data("anonymous", method.upper(), url, response, shared)
            for how, a_client, b_client in _pairs(endpoint, callers):
                response = getattr(b_client, method)(url, content_type="application/json")
                assert not 200 <= response.status_code < 300, describe(f"partner B ({how})", method.upper(), url, response)
                assert_no_a_data(f"partner B ({how})", method.upper(), url, response, shared)
                _assert_b_refused_where_a_acts(endpoint, url, method.upper(), how, a_client, response, shared)
        return
    if _is_public(endpoint):
        return
    # Web forms: POST, as a browser sends them (the test client does not ask for the CSRF token).
    response = callers.anonymous.post(url)
    assert refused(response), describe("anonymous", "POST", url, response)
    assert_no_a_data("anonymous", "POST", url, response, shared)
    response = callers.b_session.post(url)
    assert_no_a_data("partner B (session)", "POST", url, response, shared)
    _assert_b_refused_where_a_acts(endpoint, url, "POST", "session", callers.a_session, response, shared)


def test_the_checks_see_a_data_where_it_is(shared: SharedWorld, callers: Callers) -> None:
    """The marker check is not blind: A's own lists carry the markers B's must not."""
    pw = shared.pw
    lots = body(callers.a_key.get("/api/v1/partner/lots/"))
    assert all(code.encode() in lots for code in (pw.a_certified.code, pw.a_pending.code, pw.a_feedstock.code))
    documents = body(callers.a_session.get("/portal/certificates/"))
    assert pw.a_certificate.number.encode() in documents
    assert pw.a_report.number.encode() in documents
    b_lots = callers.b_key.get("/api/v1/partner/lots/")
    assert pw.b_certified.code.encode() in body(b_lots)
    with pytest.raises(AssertionError, match="carries partner A's data"):
        assert_no_a_data("partner A", "GET", "/api/v1/partner/lots/", callers.a_key.get("/api/v1/partner/lots/"), shared)
