"""Shared fixtures: the personas every test uses, and the service-backed test policy.

Tests marked ``postgres``, ``redis`` or ``browser`` need the real service, and ``cjk_fonts`` the
Noto Serif CJK fonts certificates print Chinese, Japanese and Korean names with. Without them
they are skipped with the reason; with ``LIMS_REQUIRE_SERVICES=1`` (CI) they fail instead, so a
missing service can never turn into a green run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from assays.models import Partner, PartnerKind, Site
from assays.roles import Role
from tests.factories import PartnerFactory, SiteFactory, UserFactory

pytest_plugins = ["tests.plugins.append_only"]

REQUIRE_SERVICES = os.environ.get("LIMS_REQUIRE_SERVICES", "") == "1"
CHROMIUM = os.environ.get("LIMS_CHROMIUM") or shutil.which("chromium") or ""


def _missing_service_reason(marker: str) -> str | None:
    if marker == "postgres" and not settings.USES_POSTGRESQL:
        return "needs PostgreSQL: set DATABASE_URL=postgres://… (CI does)"
    if marker == "redis" and settings.CELERY_TASK_ALWAYS_EAGER:
        return "needs a Redis broker and a real worker: set CELERY_BROKER_URL"
    if marker == "browser":
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "needs the playwright package"
        if not CHROMIUM:
            return "needs Debian's chromium (apt-get install chromium) or LIMS_CHROMIUM"
    if marker == "cjk_fonts":
        from assays.certificates.render import CJK_FONT_FAMILY, certificate_font_dirs, font_families

        if CJK_FONT_FAMILY not in font_families(certificate_font_dirs()):
            return f"needs the {CJK_FONT_FAMILY} font: apt-get install fonts-noto-cjk (or LIMS_CERTIFICATE_FONT_DIRS)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker in ("postgres", "redis", "browser", "cjk_fonts"):
            if marker not in item.keywords:
                continue
            reason = _missing_service_reason(marker)
            if reason is None:
                continue
            if REQUIRE_SERVICES:
                item.add_marker(pytest.mark.usefixtures("_fail_missing_service"))
                item.user_properties.append(("missing_service", reason))
            else:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _fail_missing_service(request: pytest.FixtureRequest) -> None:
    reasons = [value for key, value in request.node.user_properties if key == "missing_service"]
    pytest.fail(f"LIMS_REQUIRE_SERVICES=1 but the service is missing: {'; '.join(reasons)}")


@pytest.fixture(autouse=True)
def _tasks_run_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks enqueued by the code under test run in-process, so a test sees their effect at once.

    Only the ``redis`` tests send to the real broker and a real worker; elsewhere a message left
    in Redis with no worker would make the test depend on timing.
    """
    if "redis" in request.keywords:
        yield
        return
    from lims.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Every persona has a password; the production hasher's deliberate slowness would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- Personas ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Two sites, two partners, and one user per role; the cast of every later test."""

    uk_site: Site
    us_site: Site
    partner_a: Partner
    partner_b: Partner


@pytest.fixture
def world(db: None) -> World:
    return World(
        uk_site=SiteFactory(code="UK1", name="Teesside recycling plant", country="GB"),
        us_site=SiteFactory(code="US1", name="Texas separation plant", country="US"),
        partner_a=PartnerFactory(code="PA", name="Partner A Magnets GmbH", kind=PartnerKind.BOTH, country="DE"),
        partner_b=PartnerFactory(code="PB", name="Partner B Motors Ltd", kind=PartnerKind.BOTH, country="JP"),
    )


@pytest.fixture
def technician(world: World) -> AbstractBaseUser:
    return UserFactory(username="tech", roles=[Role.TECHNICIAN], sites=[world.uk_site])


@pytest.fixture
def us_technician(world: World) -> AbstractBaseUser:
    return UserFactory(username="tech_us", roles=[Role.TECHNICIAN], sites=[world.us_site])


@pytest.fixture
def qa(world: World) -> AbstractBaseUser:
    return UserFactory(username="qa", roles=[Role.QA], sites=[world.uk_site])


@pytest.fixture
def qa_manager(world: World) -> AbstractBaseUser:
    return UserFactory(username="qa_manager", roles=[Role.QA_MANAGER])


@pytest.fixture
def lab_admin(world: World) -> AbstractBaseUser:
    return UserFactory(username="lab_admin", roles=[Role.LAB_ADMIN], is_staff=True)


@pytest.fixture
def partner_a_user(world: World) -> AbstractBaseUser:
    return UserFactory(username="partner_a", roles=[Role.PARTNER_USER], partner=world.partner_a)


@pytest.fixture
def partner_b_user(world: World) -> AbstractBaseUser:
    return UserFactory(username="partner_b", roles=[Role.PARTNER_USER], partner=world.partner_b)


@pytest.fixture
def anonymous() -> AnonymousUser:
    return AnonymousUser()


# --- Certificate signing ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def signing_key_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """A self-signed document-signing pair (key PEM, certificate PEM) on disk, made once per run:
    generating an RSA key is the slow part."""
    from assays.certificates.signing import generate_self_signed_pair

    key_pem, cert_pem = generate_self_signed_pair(common_name="LIMS test signing", organisation="REO LIMS tests", days=30)
    folder = tmp_path_factory.mktemp("signing")
    key_file, cert_file = folder / "lab-key.pem", folder / "lab-cert.pem"
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert_pem)
    return key_file, cert_file


@pytest.fixture
def lab_signing(settings: Any, signing_key_files: tuple[Any, Any], tmp_path: Any) -> tuple[Any, Any]:
    """Rendering works in this test: the settings point at the test pair, and stored PDFs land in
    this test's own media folder."""
    settings.LIMS_SIGNING_KEY_FILE, settings.LIMS_SIGNING_CERT_FILE = signing_key_files
    settings.MEDIA_ROOT = tmp_path / "media"
    return signing_key_files
