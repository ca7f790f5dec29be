"""Schemathesis over the project's OpenAPI schema (drf-spectacular), through the WSGI app.

Every operation of the schema, twice: with partner A's API key and with a QA manager's session.
Over the partner world of ``tests.partner_isolation_world`` (built once for the module), so the
path parameters are half the time real rows (A's lot, certificate, the run A's lot went through)
and half the time whatever Schemathesis makes up. Valid requests (positive) and invalid ones
(negative), each bounded and derandomised so a run is short and repeatable. Checks: no 5xx, and
every answer is documented (status code, content type, body against its schema).

Unsafe operations run too: the QA manager's POSTs may reject a lot or release a hold in this
test's own savepoint; they must never 5xx either.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.partner_isolation_world import PARAMETER_OBJECTS, SharedWorld, shared_partner_world

pytestmark = pytest.mark.django_db

# The schema as `manage.py spectacular` writes it, made when the tests are collected.
RAW_SCHEMA: dict[str, Any] = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
SCHEMA = schemathesis.openapi.from_dict(RAW_SCHEMA)
OPERATIONS = sorted((result.ok() for result in SCHEMA.get_all_operations()), key=lambda operation: operation.label)
assert len(OPERATIONS) > 30, "the schema lists the API's operations"


def _negatable(operation: Any) -> bool:
    """Whether an invalid request can be made from the schema: a query parameter, a body, or a typed
    path parameter (an unconstrained string, the only input of e.g. GET /lots/{code}/, cannot be)."""
    raw = RAW_SCHEMA["paths"][operation.path][operation.method.lower()]
    parameters = raw.get("parameters", [])
    return (
        "requestBody" in raw
        or any(parameter["in"] == "query" for parameter in parameters)
        or any(parameter["in"] == "path" and parameter["schema"].get("type") != "string" for parameter in parameters)
    )


# Who calls: partner A's key and a QA manager everywhere; a technician on the writes too, since
# registering samples and importing runs (the two uploads) are a technician's and refused to QA.
def _credentials(operation: Any) -> list[str]:
    return ["partner_key", "staff_session", *(["technician_session"] if operation.method.upper() != "GET" else [])]


CASES = [
    pytest.param(operation, credential, mode, id=f"{operation.label}-{credential}-{mode.value}")
    for operation in OPERATIONS
    for credential in _credentials(operation)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _negatable(operation)
]


def status_code_documented(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """``status_code_conformance``, but for one answer of the HTTP layer: a negative case's raw
    multipart body goes to the app with no Content-Type (Schemathesis has no boundary to declare,
    though its report shows one), and a body of no media type is DRF's 415 on any endpoint that
    reads one: right, and not per operation."""
    if response.status_code == 415 and response.json().get("detail") == 'Unsupported media type "" in request.':
        return None
    return status_code_conformance(ctx, response, case)


CHECKS = [not_a_server_error, status_code_documented, content_type_conformance, response_schema_conformance]
# Per operation, credential and mode: enough to reach every branch of a parameter's schema once or
# twice, few enough that the whole file runs in a couple of minutes.
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}


class _Request(WSGIRequest):
    # As Django's test client does: the session's CSRF token is not the subject here.
    _dont_enforce_csrf_checks = True


class _Handler(WSGIHandler):
    request_class = _Request


APP = _Handler()


@contextlib.contextmanager
def _connection_kept() -> Iterator[None]:
    """The app runs in this thread, on the test's connection and inside its transaction: Django's
    end-of-request connection check must not close it (the test client disconnects it the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def shared(
    django_db_setup: None, django_db_blocker: Any, signing_key_files: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SharedWorld, dict[str, str]]]:
    media = tmp_path_factory.mktemp("schemathesis-media")
    with shared_partner_world(django_db_blocker=django_db_blocker, signing=signing_key_files, media_root=media) as world:
        sessions = {}
        for name, user in (("staff_session", world.people.qa_manager), ("technician_session", world.people.technician)):
            client = Client()
            client.force_login(user)
            sessions[name] = client.cookies[settings.SESSION_COOKIE_NAME].value
        yield world, sessions


def _real_path_parameters(path: str, world: SharedWorld) -> dict[str, Any]:
    """The world's object for each path parameter ({code} after lots/ is A's certified lot...)."""
    values: dict[str, Any] = {}
    segments = [segment for segment in path.split("/") if segment]
    for index, segment in enumerate(segments):
        if segment.startswith("{") and index > 0:
            name = segment.strip("{}")
            filler = PARAMETER_OBJECTS.get((segments[index - 1], name))
            assert filler is not None, f"{path}: add ({segments[index - 1]!r}, {name!r}) to PARAMETER_OBJECTS"
            values[name] = filler(world)
    return values


@pytest.mark.parametrize(("operation", "credential", "mode"), CASES)
def test_the_api_answers_as_documented(
    operation: Any, credential: str, mode: GenerationMode, shared: tuple[SharedWorld, dict[str, str]], settings: Any
) -> None:
    world, sessions = shared
    # Hundreds of calls with one key in a few seconds: the per-key rate is not under test here.
    settings.LIMS_PARTNER_API_RATE = "1000000/min"
    # The WSGI client keeps the cookies answers set (csrftoken); the session is sent as a cookie too.
    headers, cookies = {}, {}
    if credential == "partner_key":
        headers = {"Authorization": f"Api-Key {world.keys.a}"}
    else:
        cookies = {settings.SESSION_COOKIE_NAME: sessions[credential]}
    strategy = operation.as_strategy(generation_mode=mode)
    real = _real_path_parameters(operation.path, world)
    if real:
        strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode, path_parameters=real))

    @hypothesis_settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(app=APP, headers=headers, cookies=cookies, checks=CHECKS)

    with _connection_kept():
        call()
