"""The partner API's lists page the same rows however they are walked, at a cost that does not grow
with the page: the results' cursor bound is written twice (``partner_results_past``) and the
certificate list reads only the columns it shows (bench/api_bench.py measures both at size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.conftest import World
from tests.partner_setup import PartnerWorld, make_partner_world, partner_key

pytestmark = pytest.mark.django_db

BASE = "/api/v1/partner"


@pytest.fixture(autouse=True)
def _signing(lab_signing: tuple[Path, Path]) -> tuple[Path, Path]:
    return lab_signing


@pytest.fixture
def pw(technician: User, qa: User, qa_manager: User, world: World) -> PartnerWorld:
    return make_partner_world(technician=technician, qa=qa, qa_manager=qa_manager, world=world)


@pytest.fixture
def client_a(pw: PartnerWorld, lab_admin: User, world: World) -> APIClient:
    _, raw = partner_key(admin=lab_admin, partner=world.partner_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


def _get(client: APIClient, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def _queries(client: APIClient, url: str) -> int:
    _get(client, url)  # the key's once-a-minute last-used stamp is not the page's cost
    with CaptureQueriesContext(connection) as captured:
        _get(client, url)
    return len(captured.captured_queries)


def test_results_walked_forward_and_back_in_small_pages_are_the_whole_list(client_a: APIClient) -> None:
    everything = _get(client_a, f"{BASE}/results/", {"page_size": 500})["results"]
    assert len(everything) > 8  # several pages of 4 below
    forward: list[dict[str, Any]] = []
    body = _get(client_a, f"{BASE}/results/", {"page_size": 4})
    pages = [body]
    while True:
        forward += body["results"]
        if not body["next"]:
            break
        body = _get(client_a, body["next"])
        pages.append(body)
    assert forward == everything
    # And back from the last page by the previous links (the cursor bound the other way).
    backward: list[dict[str, Any]] = list(pages[-1]["results"])
    body = pages[-1]
    while body["previous"]:
        body = _get(client_a, body["previous"])
        backward = body["results"] + backward
    assert backward == everything


def test_a_results_page_costs_the_same_queries_whatever_its_size_or_position(client_a: APIClient) -> None:
    first = _get(client_a, f"{BASE}/results/", {"page_size": 3})
    assert first["next"]
    counts = {
        _queries(client_a, f"{BASE}/results/?page_size=1"),
        _queries(client_a, f"{BASE}/results/?page_size=500"),
        _queries(client_a, first["next"]),  # a page past a cursor
    }
    assert len(counts) == 1, counts


def test_the_certificate_list_costs_the_same_queries_whatever_its_size(client_a: APIClient, pw: PartnerWorld) -> None:
    documents = _get(client_a, f"{BASE}/certificates/")["results"]
    assert {row["number"] for row in documents} == {pw.a_certificate.number, pw.a_report.number}
    # Every column the list shows is read with the page (none left to a query per row).
    assert _queries(client_a, f"{BASE}/certificates/?page_size=1") == _queries(client_a, f"{BASE}/certificates/?page_size=500")
    row = next(row for row in documents if row["id"] == pw.a_certificate.pk)
    assert row["signature_meaning"] == pw.a_certificate.get_signature_meaning_display()
    assert row["links"]["self"] == f"{BASE}/certificates/{pw.a_certificate.pk}/"
    assert row["links"]["verification_page"].endswith(f"/verify/{pw.a_certificate.verification_token}/")
