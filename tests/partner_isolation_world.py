"""One partner world for a whole test module, and the real object behind every URL parameter.

``shared_partner_world`` builds ``tests.partner_setup.make_partner_world`` (partner A and B with
certified and pending lots, certificates, reports) once, inside a transaction that is rolled back
when the module ends; each test runs in a savepoint inside it (pytest-django's ``db``), so a test
that writes leaves nothing for the next. Building it takes a few seconds, so the URL-walking
isolation test (hundreds of cases) and the schemathesis run build it once per module.

``PARAMETER_OBJECTS`` maps a URL parameter, named with the path segment before it, to the
object of the world it names: ``("lots", "code")`` is partner A's certified lot. A new URL whose
parameter is not in the map fails the isolation test, which asks for a line here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from assays.models import (
    CertificateBatch,
    DeliveryStatus,
    Flag,
    PartnerApiKey,
    PartnerKind,
    PartnerWebhook,
    QcCheck,
    QcEvaluation,
    Reassessment,
    Run,
    Sample,
    WebhookDelivery,
    WebhookEvent,
)
from assays.qc.evaluation import Effect
from assays.qc.packs import CheckKind
from assays.roles import Role
from assays.services.partner_keys import api_key_revoke
from assays.services.reassessment import product_reassess
from tests.conftest import World
from tests.factories import PartnerFactory, SiteFactory, UserFactory
from tests.partner_setup import PartnerWorld, make_partner_world, partner_key


@dataclass(frozen=True)
class People:
    technician: User
    qa: User
    qa_manager: User
    lab_admin: User
    partner_a_user: User
    partner_b_user: User


@dataclass(frozen=True)
class Keys:
    """Raw keys, as a partner sends them."""

    a: str
    b: str
    expired: str  # partner B's, past its expiry date
    revoked: str  # partner B's, revoked by the Lab admin
    a_record: PartnerApiKey


@dataclass(frozen=True)
class SharedWorld:
    world: World
    people: People
    pw: PartnerWorld
    keys: Keys
    run: Run
    qc_check: QcCheck
    flag: Flag
    reassessment: Reassessment
    batch: CertificateBatch
    a_sample: Sample
    a_webhook: PartnerWebhook
    a_delivery: WebhookDelivery

    def a_markers(self) -> set[str]:
        """What partner B must never read: partner A's lot and sample codes, certificate and report
        numbers, its name and its webhook's address."""
        pw = self.pw
        lots = (pw.a_certified, pw.a_pending, pw.a_feedstock)
        samples = Sample.objects.filter(lot__in=lots).values_list("code", flat=True)
        return {
            *(lot.code for lot in lots),
            *samples,
            pw.a_certificate.number,
            pw.a_report.number,
            self.world.partner_a.name,
            self.a_webhook.url,
        }


def _build(signing: tuple[Path, Path]) -> SharedWorld:
    world = World(
        uk_site=SiteFactory(code="UK1", name="Teesside recycling plant", country="GB"),
        us_site=SiteFactory(code="US1", name="Texas separation plant", country="US"),
        partner_a=PartnerFactory(code="PA", name="Partner A Magnets GmbH", kind=PartnerKind.BOTH, country="DE"),
        partner_b=PartnerFactory(code="PB", name="Partner B Motors Ltd", kind=PartnerKind.BOTH, country="JP"),
    )
    people = People(
        technician=UserFactory(username="tech", roles=[Role.TECHNICIAN], sites=[world.uk_site]),
        qa=UserFactory(username="qa", roles=[Role.QA], sites=[world.uk_site]),
        qa_manager=UserFactory(username="qa_manager", roles=[Role.QA_MANAGER]),
        lab_admin=UserFactory(username="lab_admin", roles=[Role.LAB_ADMIN], is_staff=True),
        partner_a_user=UserFactory(username="partner_a", roles=[Role.PARTNER_USER], partner=world.partner_a),
        partner_b_user=UserFactory(username="partner_b", roles=[Role.PARTNER_USER], partner=world.partner_b),
    )
    pw = make_partner_world(technician=people.technician, qa=people.qa, qa_manager=people.qa_manager, world=world)
    admin = people.lab_admin
    a_record, a_raw = partner_key(admin=admin, partner=world.partner_a)
    _b_record, b_raw = partner_key(admin=admin, partner=world.partner_b)
    expired, expired_raw = partner_key(admin=admin, partner=world.partner_b)
    PartnerApiKey.objects.filter(pk=expired.pk).update(expiry_date=timezone.now() - dt.timedelta(seconds=1))
    revoked, revoked_raw = partner_key(admin=admin, partner=world.partner_b)
    api_key_revoke(actor=admin, key=revoked, reason="the ERP was replaced")

    run = Run.objects.filter(acquisitions__sample__lot=pw.a_certified).distinct().order_by("pk").first()
    assert run is not None, "partner A's certified lot was measured in a run"
    evaluation = QcEvaluation.objects.get(run=run, is_current=True)
    # The world's method is judged by the "none" pack, which makes no check: one failed check, to waive.
    qc_check = QcCheck.objects.create(
        evaluation=evaluation, key="ccv:isolation", kind=CheckKind.CCV, label="CCV", passed=False, message="recovery 80%", effect=Effect.RUN
    )
    flag = Flag.objects.order_by("pk").first()
    assert flag is not None, "the off-spec lot raised a flag"
    a_webhook = PartnerWebhook.objects.create(
        partner=world.partner_a, url="http://127.0.0.1:9/partner-a-hook", events=[WebhookEvent.CERTIFICATE_ISSUED], secret="s" * 43
    )
    # A failed delivery: the one a partner (or the Lab admin) may send again.
    a_delivery = WebhookDelivery.objects.create(
        webhook=a_webhook,
        event=WebhookEvent.CERTIFICATE_ISSUED,
        certificate=pw.a_certificate,
        payload={"certificate": pw.a_certificate.number},
        status=DeliveryStatus.FAILED,
        attempts=8,
        last_error="connection refused",
    )
    reassessment = product_reassess(actor=people.qa_manager, product=pw.a_certified.product, reason="isolation tests")
    batch = CertificateBatch.objects.create(requested_by=people.qa, requested_at=timezone.now(), total=0)
    a_sample = Sample.objects.filter(lot=pw.a_certified).order_by("pk").first()
    assert a_sample is not None
    return SharedWorld(
        world=world,
        people=people,
        pw=pw,
        keys=Keys(a=a_raw, b=b_raw, expired=expired_raw, revoked=revoked_raw, a_record=a_record),
        run=run,
        qc_check=qc_check,
        flag=flag,
        reassessment=reassessment,
        batch=batch,
        a_sample=a_sample,
        a_webhook=a_webhook,
        a_delivery=a_delivery,
    )


@contextlib.contextmanager
def shared_partner_world(*, django_db_blocker: Any, signing: tuple[Path, Path], media_root: Path) -> Iterator[SharedWorld]:
    """The world, built in a transaction that is rolled back on exit; settings as the per-test
    fixtures of tests/conftest.py set them (fast hashing, the test signing pair, a media folder)."""
    from lims.celery import app

    key_file, cert_file = signing
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    with (
        django_db_blocker.unblock(),
        override_settings(
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            LIMS_SIGNING_KEY_FILE=key_file,
            LIMS_SIGNING_CERT_FILE=cert_file,
            MEDIA_ROOT=media_root,
        ),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield _build(signing)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            app.conf.task_always_eager = eager


# --- URL parameters -------------------------------------------------------------------------------

Filler = Callable[[SharedWorld], object]

# (the path segment before the parameter, the parameter's name) → its value in the world. The
# values are partner A's wherever the object belongs to a partner; the lab's own objects (runs,
# flags, methods, products...) are the ones A's lots went through.
PARAMETER_OBJECTS: dict[tuple[str, str], Filler] = {
    # Partner A's lots and what hangs off them.
    ("lots", "code"): lambda w: w.pw.a_certified.code,
    ("lot-results", "code"): lambda w: w.pw.a_certified.code,
    ("labels", "code"): lambda w: w.pw.a_certified.code,
    ("manual", "code"): lambda w: w.pw.a_certified.code,
    ("manual-row", "code"): lambda w: w.pw.a_certified.code,
    ("review", "code"): lambda w: w.pw.a_certified.code,
    ("lot-flags", "code"): lambda w: w.pw.a_certified.code,
    ("release-hold", "code"): lambda w: w.pw.a_certified.code,
    ("reject-lot", "code"): lambda w: w.pw.a_certified.code,
    ("samples", "code"): lambda w: w.a_sample.code,
    # Partner A's certificate of analysis.
    ("certificates", "id"): lambda w: w.pw.a_certificate.pk,
    ("certificates", "pk"): lambda w: w.pw.a_certificate.pk,
    # The public verification token of A's certificate.
    ("verify", "token"): lambda w: w.pw.a_certificate.verification_token,
    # Partner A itself, its webhook, its failed delivery, its key.
    ("partners", "code"): lambda w: w.world.partner_a.code,
    ("webhooks", "pk"): lambda w: w.a_webhook.pk,
    ("deliveries", "pk"): lambda w: w.a_delivery.pk,
    ("keys", "prefix"): lambda w: w.keys.a_record.prefix,
    # The lab's own objects that A's lots went through.
    ("runs", "id"): lambda w: w.run.pk,
    ("runs", "pk"): lambda w: w.run.pk,
    ("checks", "check_id"): lambda w: w.qc_check.pk,
    ("flags", "id"): lambda w: w.flag.pk,
    ("flags", "flag_id"): lambda w: w.flag.pk,
    ("methods", "code"): lambda w: w.run.method.code,
    ("products", "code"): lambda w: w.pw.a_certified.product.code,
    ("specifications", "code"): lambda w: w.pw.a_certified.product.code,
    ("reassess", "code"): lambda w: w.pw.a_certified.product.code,
    ("reassessments", "id"): lambda w: w.reassessment.pk,
    ("reassessments", "pk"): lambda w: w.reassessment.pk,
    ("batches", "pk"): lambda w: w.batch.pk,
}

# Parameters naming something that belongs to a partner: a URL with one of these "names A's
# objects", and partner B must get the same 404 as for an object that does not exist.
PARTNER_OWNED: frozenset[tuple[str, str]] = frozenset(
    {
        ("lots", "code"),
        ("lot-results", "code"),
        ("labels", "code"),
        ("manual", "code"),
        ("manual-row", "code"),
        ("review", "code"),
        ("lot-flags", "code"),
        ("release-hold", "code"),
        ("reject-lot", "code"),
        ("samples", "code"),
        ("certificates", "id"),
        ("certificates", "pk"),
        ("verify", "token"),
        ("partners", "code"),
        ("webhooks", "pk"),
        ("deliveries", "pk"),
        ("keys", "prefix"),
    }
)
assert set(PARAMETER_OBJECTS) >= PARTNER_OWNED, "every partner-owned parameter has its object"
