"""QC label patterns are master data: a lab admin edits them in the admin, nobody else does."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from assays.models import Instrument, QcLabelPattern
from tests.conftest import World
from tests.factories import InstrumentFactory

pytestmark = pytest.mark.django_db

URL = "/admin/assays/qclabelpattern/"


@pytest.fixture
def instrument(world: World) -> Instrument:
    return InstrumentFactory(code="UK1-ICPMS-01", site=world.uk_site)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(instrument: Instrument, **overrides: str) -> dict[str, str]:
    return {
        "instrument": str(instrument.pk),
        "pattern": "Deriv TracesETMaj",
        "match_kind": "exact",
        "qc_role": "ccv",
        "reference_material": "",
        "position": "0",
        "note": "drift check of the trace and major series",
        **overrides,
    }


def test_a_lab_admin_maps_a_label_to_a_qc_role(lab_admin: User, instrument: Instrument) -> None:
    client = _client(lab_admin)
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}add/").status_code == 200
    response = client.post(f"{URL}add/", _form(instrument))
    assert response.status_code == 302, response.content.decode()[:2000]
    pattern = QcLabelPattern.objects.get()
    assert (pattern.instrument, pattern.pattern, pattern.qc_role) == (instrument, "Deriv TracesETMaj", "ccv")
    assert client.get(f"{URL}{pattern.pk}/change/").status_code == 200
    # And the instrument's page lists its patterns inline.
    page = client.get(f"/admin/assays/instrument/{instrument.pk}/change/").content.decode()
    assert "Deriv TracesETMaj" in page


def test_an_invalid_regular_expression_is_a_form_error_not_a_stored_pattern(lab_admin: User, instrument: Instrument) -> None:
    response = _client(lab_admin).post(f"{URL}add/", _form(instrument, pattern="CCV(", match_kind="regex"))
    assert response.status_code == 200
    assert "invalid regular expression" in response.content.decode()
    assert not QcLabelPattern.objects.exists()


def test_a_qc_role_is_required(lab_admin: User, instrument: Instrument) -> None:
    response = _client(lab_admin).post(f"{URL}add/", _form(instrument, qc_role=""))
    assert response.status_code == 200
    assert not QcLabelPattern.objects.exists()


def test_a_technician_does_not_edit_patterns(technician: User, instrument: Instrument) -> None:
    technician.is_staff = True
    technician.save()
    client = _client(technician)
    assert client.get(URL).status_code == 403
    assert client.post(f"{URL}add/", _form(instrument)).status_code == 403
    assert not QcLabelPattern.objects.exists()
