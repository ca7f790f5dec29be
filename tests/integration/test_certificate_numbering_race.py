"""Fifty QA signatures at once on PostgreSQL: fifty distinct, consecutive numbers and no error."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User

from assays.models import Certificate, Lot
from assays.services.certificates import certificate_issue
from tests.certificate_setup import make_certificate_lab, more_conforming_lots
from tests.concurrency import start_in_thread
from tests.conftest import World
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 50


def test_fifty_parallel_issuances_get_fifty_consecutive_numbers(technician: User, qa: User, qa_manager: User, world: World) -> None:
    setup = make_certificate_lab(technician=technician, qa_manager=qa_manager, site=world.uk_site)
    lots = [setup.conforming, *more_conforming_lots(setup, technician, count=PARALLEL - 1)]
    barrier = threading.Barrier(PARALLEL)
    errors: list[BaseException] = []

    def sign(lot: Lot) -> None:
        try:
            barrier.wait(timeout=60)
            certificate_issue(actor=qa, lot=lot, password=PASSWORD)
        except BaseException as error:  # every failure is reported by the assertion below
            errors.append(error)

    threads = [start_in_thread(lambda lot=lot: sign(lot)) for lot in lots]
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    numbers = sorted(Certificate.objects.values_list("number", flat=True))
    year = numbers[0].split("-")[1]
    assert numbers == [f"COA-{year}-{index:04d}" for index in range(1, PARALLEL + 1)]
    assert Certificate.objects.filter(lot__in=lots).count() == PARALLEL
