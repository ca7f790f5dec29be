"""Transactional tests end with Django's flush, which the audit guard refuses; the test plugin
tests/plugins/append_only.py steps the guard aside for that flush alone (docs/audit.md).

The first two tests are a pair: one writes audit events and must flush cleanly at teardown; the
next one (pytest runs a module in order) finds the tables empty and the guard back in place.
Each holds on its own too, and the last two drive the teardown directly, so nothing rests on order.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test import TransactionTestCase

from assays import audit_guard
from assays.models import AuditAction, AuditEvent, Element, Lot, LotKind, Site
from assays.roles import Role
from assays.services.audit import audit_record
from assays.services.lots import lot_create
from assays.services.samples import sample_register
from tests.plugins.append_only import original_fixture_teardown

pytestmark = pytest.mark.django_db(transaction=True)


def _write_audit_events(site, actor) -> None:
    lot = lot_create(actor=actor, code="FS-TEARDOWN", site=site, kind=LotKind.FEEDSTOCK, reason="delivery")
    sample_register(actor=actor, code="S-TEARDOWN", lot=lot, reason="routine")


def _assert_guard_in_place_and_refusing() -> None:
    assert audit_guard.guarded_tables(connection) == list(audit_guard.GUARDED_TABLES)
    lot = Lot.objects.create(code="FS-PROBE", site=Site.objects.get(is_default=True), kind=LotKind.FEEDSTOCK)
    with transaction.atomic():
        event = audit_record(actor=None, action=AuditAction.CREATE, instance=lot, reason="probe")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "probe"


def _assert_reference_data_present() -> None:
    assert Element.objects.filter(symbol="Nd").exists()
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}


def test_a_transactional_test_that_writes_audit_events_flushes_cleanly(world, technician):
    _write_audit_events(world.uk_site, technician)

    assert AuditEvent.objects.filter(entity__in=["assays.lot", "assays.sample", "assays.custodyevent"]).count() == 3


def test_after_the_flush_the_guard_is_back_and_the_reference_data_too():
    assert not AuditEvent.objects.exists()
    _assert_reference_data_present()
    _assert_guard_in_place_and_refusing()


def test_djangos_own_flush_is_refused_by_the_guard(world, technician):
    """What production gets from ``manage.py flush``: nothing deleted, audit trail intact."""
    _write_audit_events(world.uk_site, technician)

    with pytest.raises(CommandError) as refused:
        original_fixture_teardown()(TransactionTestCase())

    assert "append-only" in str(refused.value.__cause__)
    assert AuditEvent.objects.count() == 3
    assert Lot.objects.filter(code="FS-TEARDOWN").exists()


def test_the_wrapped_teardown_empties_the_audit_tables_then_restores_guard_and_reference_data(world, technician):
    _write_audit_events(world.uk_site, technician)

    TransactionTestCase()._fixture_teardown()

    assert not AuditEvent.objects.exists()
    assert not Lot.objects.exists()
    _assert_reference_data_present()
    _assert_guard_in_place_and_refusing()
