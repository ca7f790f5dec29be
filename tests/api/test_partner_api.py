"""The partner API (/api/v1/partner/) with real keys, over data certified through the real services.

A partner key downloads exactly its partner's released data: lots it supplied or was allocated,
results and documents once its report or certificate is issued, nothing of another partner's,
and every download leaves an audit event naming the key.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from assays.models import ApiScope, AuditAction, AuditEvent, Measurement, PartnerApiKey
from assays.services.certificates import certificate_revoke
from assays.services.partner_keys import ApiKeyRefusedError, api_key_issue, api_key_revoke
from tests.conftest import World
from tests.factories import PASSWORD
from tests.partner_setup import PartnerWorld, make_partner_world, partner_key

pytestmark = pytest.mark.django_db

BASE = "/api/v1/partner"


@pytest.fixture(autouse=True)
def _signing(lab_signing: tuple[Path, Path]) -> tuple[Path, Path]:
    return lab_signing


@pytest.fixture
def pw(technician: User, qa: User, qa_manager: User, world: World) -> PartnerWorld:
    return make_partner_world(technician=technician, qa=qa, qa_manager=qa_manager, world=world)


def key_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def key_a(lab_admin: User, world: World) -> tuple[PartnerApiKey, str]:
    return partner_key(admin=lab_admin, partner=world.partner_a)


@pytest.fixture
def key_b(lab_admin: User, world: World) -> tuple[PartnerApiKey, str]:
    return partner_key(admin=lab_admin, partner=world.partner_b)


def codes(response: Any, field: str = "code") -> set[str]:
    assert response.status_code == 200, response.content
    return {row[field] for row in response.json()["results"]}


def test_lots_are_the_partners_own_with_release_state(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_a[1])
    response = client.get(f"{BASE}/lots/")
    rows = {row["code"]: row for row in response.json()["results"]}
    assert set(rows) == {pw.a_certified.code, pw.a_pending.code, pw.a_feedstock.code}
    assert rows[pw.a_certified.code]["released"] is True
    assert rows[pw.a_pending.code]["released"] is False
    assert rows[pw.a_feedstock.code]["released"] is True
    # A customer sees its allocation, not the lot's whole mass; a supplier the mass it delivered.
    assert rows[pw.a_certified.code]["allocated_kg"] == "100.0000"
    assert rows[pw.a_certified.code]["mass_kg"] is None
    assert rows[pw.a_feedstock.code]["mass_kg"] == "1200.0000"
    assert "status" not in rows[pw.a_certified.code]  # the lab's internal lot state stays inside
    assert codes(client.get(f"{BASE}/lots/", {"status": "pending"})) == {pw.a_pending.code}
    assert codes(client.get(f"{BASE}/lots/", {"status": "released"})) == {pw.a_certified.code, pw.a_feedstock.code}
    product = pw.a_certified.product
    assert product is not None
    assert codes(client.get(f"{BASE}/lots/", {"product": product.code})) == {pw.a_certified.code, pw.a_pending.code}


def test_another_partners_lot_is_404_and_absent(pw: PartnerWorld, key_b: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_b[1])
    assert codes(client.get(f"{BASE}/lots/")) == {pw.b_certified.code, pw.b_feedstock.code}
    for lot in (pw.a_certified, pw.a_feedstock, pw.a_pending):
        assert client.get(f"{BASE}/lots/{lot.code}/").status_code == 404
        assert client.get(f"{BASE}/lots/{lot.code}/results/").status_code == 404
        assert client.get(f"{BASE}/lots/{lot.code}/results.csv").status_code == 404
    for document in (pw.a_certificate, pw.a_report):
        for tail in ("", "pdf/", "data/", "data.csv", "verification/"):
            assert client.get(f"{BASE}/certificates/{document.pk}/{tail}").status_code == 404, tail
    assert codes(client.get(f"{BASE}/certificates/"), "number") == {pw.b_certificate.number}
    assert client.get(f"{BASE}/results/", {"lot": pw.a_certified.code}).status_code == 404


def test_results_only_of_released_lots_with_no_qc_detail(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_a[1])
    response = client.get(f"{BASE}/results/", {"page_size": 500})
    rows = response.json()["results"]
    assert {row["lot_code"] for row in rows} == {pw.a_certified.code, pw.a_feedstock.code}
    assert rows == sorted(rows, key=lambda row: row["measurement_id"])
    assert set(rows[0]) == {
        "measurement_id", "lot_code", "sample_code", "analyte", "element", "qualifier", "value", "unit", "basis", "lod",
        "expanded_u", "coverage_factor", "measured_at", "released_at",
    }  # fmt: skip
    pending = client.get(f"{BASE}/lots/{pw.a_pending.code}/results/")
    assert pending.status_code == 200
    assert pending.json()["results"] == []
    lot_rows = client.get(f"{BASE}/lots/{pw.a_certified.code}/results/", {"page_size": 500}).json()["results"]
    assert lot_rows == [row for row in rows if row["lot_code"] == pw.a_certified.code]
    assert lot_rows  # the certified lot has results


def test_results_csv_matches_the_json(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_a[1])
    rows = client.get(f"{BASE}/lots/{pw.a_feedstock.code}/results/", {"page_size": 500}).json()["results"]
    response = client.get(f"{BASE}/lots/{pw.a_feedstock.code}/results.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(row["measurement_id"]) for row in table] == [row["measurement_id"] for row in rows]
    assert [float(row["value"]) for row in table] == [row["value"] for row in rows]


def test_a_results_reported_uncertainty_reaches_the_partner(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    # A feedstock result typed in from the supplier's laboratory report with its U and k.
    client = key_client(key_a[1])
    first = client.get(f"{BASE}/lots/{pw.a_feedstock.code}/results/", {"page_size": 500}).json()["results"][0]
    assert (first["expanded_u"], first["coverage_factor"]) == (None, None)
    Measurement.objects.filter(pk=first["measurement_id"]).update(expanded_u=0.65, coverage_factor=2.0)
    again = client.get(f"{BASE}/lots/{pw.a_feedstock.code}/results/", {"page_size": 500}).json()["results"][0]
    assert (again["measurement_id"], again["expanded_u"], again["coverage_factor"]) == (first["measurement_id"], 0.65, 2.0)
    table = list(csv.DictReader(io.StringIO(client.get(f"{BASE}/lots/{pw.a_feedstock.code}/results.csv").content.decode())))
    assert (table[0]["expanded_u"], table[0]["coverage_factor"]) == ("0.65", "2.0")
    assert (table[1]["expanded_u"], table[1]["coverage_factor"]) == ("", "")


def test_documents_pdf_and_certified_data(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_a[1])
    listed = client.get(f"{BASE}/certificates/").json()["results"]
    assert {(row["number"], row["kind"]) for row in listed} == {(pw.a_certificate.number, "certificate"), (pw.a_report.number, "report")}
    pdf = client.get(f"{BASE}/certificates/{pw.a_certificate.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == pw.a_certificate.pdf_sha256
    data = client.get(f"{BASE}/certificates/{pw.a_certificate.pk}/data/")
    assert json.loads(data.content)["lot"]["code"] == pw.a_certified.code
    data_csv = client.get(f"{BASE}/certificates/{pw.a_report.pk}/data.csv")
    assert data_csv.status_code == 200
    assert pw.a_report.number in data_csv.content.decode()
    verification = client.get(f"{BASE}/certificates/{pw.a_certificate.pk}/verification/").json()
    assert verification["status"] == "valid"
    assert verification["pdf_sha256"] == pw.a_certificate.pdf_sha256


def test_every_download_is_audited_with_the_key(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    key, raw = key_a
    client = key_client(raw)
    before = AuditEvent.objects.filter(action=AuditAction.DOWNLOAD).count()
    for url in (
        f"{BASE}/certificates/{pw.a_certificate.pk}/pdf/",
        f"{BASE}/certificates/{pw.a_certificate.pk}/data/",
        f"{BASE}/certificates/{pw.a_certificate.pk}/data.csv",
        f"{BASE}/lots/{pw.a_certified.code}/results/",
        f"{BASE}/lots/{pw.a_certified.code}/results.csv",
        f"{BASE}/results/",
    ):
        assert client.get(url).status_code == 200, url
    events = list(AuditEvent.objects.filter(action=AuditAction.DOWNLOAD).order_by("id"))[before:]
    assert [event.context["what"] for event in events] == [
        "pdf", "certified json", "certified csv", "lot results", "lot results csv", "results",
    ]  # fmt: skip
    assert all(event.actor_label == f"api-key:{key.prefix} for PA" for event in events)
    assert events[0].object_id == str(pw.a_certificate.pk)


def test_revoked_certificate_withdraws_results_but_stays_listed(
    pw: PartnerWorld, key_a: tuple[PartnerApiKey, str], qa_manager: User
) -> None:
    client = key_client(key_a[1])
    start = timezone.now()
    certificate_revoke(actor=qa_manager, certificate=pw.a_certificate, password=PASSWORD, reason="wrong lot mass")
    lot = client.get(f"{BASE}/lots/{pw.a_certified.code}/").json()
    assert lot["released"] is False
    assert client.get(f"{BASE}/lots/{pw.a_certified.code}/results/").json()["results"] == []
    changed = client.get(f"{BASE}/certificates/", {"modified_since": start.isoformat()}).json()["results"]
    assert [(row["number"], row["status"]) for row in changed] == [(pw.a_certificate.number, "revoked")]
    assert client.get(f"{BASE}/certificates/{pw.a_certificate.pk}/verification/").json()["status"] == "revoked"
    assert codes(client.get(f"{BASE}/lots/", {"modified_since": start.isoformat()})) == {pw.a_certified.code}


def test_modified_since_and_cursor_pages_read_every_row_once(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_a[1])
    everything = [row["measurement_id"] for row in client.get(f"{BASE}/results/", {"page_size": 500}).json()["results"]]
    seen: list[int] = []
    url: str | None = f"{BASE}/results/?page_size=7"
    while url:
        page = client.get(url).json()
        seen += [row["measurement_id"] for row in page["results"]]
        url = page["next"]
    assert seen == everything
    assert len(seen) > 7
    future = (timezone.now() + dt.timedelta(minutes=5)).isoformat()
    assert client.get(f"{BASE}/results/", {"modified_since": future}).json()["results"] == []
    assert client.get(f"{BASE}/lots/", {"modified_since": future}).json()["results"] == []
    assert client.get(f"{BASE}/results/", {"modified_since": "yesterday"}).status_code == 400


def test_scopes_are_enforced(pw: PartnerWorld, lab_admin: User, world: World) -> None:
    _, raw = partner_key(admin=lab_admin, partner=world.partner_a, scopes=(ApiScope.LOTS,))
    client = key_client(raw)
    assert client.get(f"{BASE}/lots/").status_code == 200
    assert client.get(f"{BASE}/results/").status_code == 403
    assert client.get(f"{BASE}/certificates/{pw.a_certificate.pk}/pdf/").status_code == 403


def test_revoked_expired_and_malformed_keys_get_401(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str], lab_admin: User) -> None:
    key, raw = key_a
    assert key_client(raw).get(f"{BASE}/lots/").status_code == 200
    api_key_revoke(actor=lab_admin, key=key, reason="the ERP was replaced")
    for bad in (raw, raw[:-1] + ("x" if raw[-1] != "x" else "y"), "nonsense", "abcdefgh.", "a" * 300):
        response = key_client(bad).get(f"{BASE}/lots/")
        assert response.status_code == 401, bad
        assert response["WWW-Authenticate"].startswith("Api-Key")
        # A dead key is refused the same way on the lab's own API.
        assert key_client(bad).get("/api/v1/lots/").status_code == 401
    expired, raw_expired = partner_key(admin=lab_admin, partner=pw.a_certified.allocations.get().customer)
    PartnerApiKey.objects.filter(pk=expired.pk).update(expiry_date=timezone.now() - dt.timedelta(seconds=1))
    assert key_client(raw_expired).get(f"{BASE}/lots/").status_code == 401
    assert APIClient().get(f"{BASE}/lots/").status_code == 401


def test_a_live_key_opens_nothing_of_the_labs_own_api(pw: PartnerWorld, key_a: tuple[PartnerApiKey, str]) -> None:
    client = key_client(key_a[1])
    for url in ("/api/v1/lots/", "/api/v1/certificates/", f"/api/v1/certificates/{pw.a_certificate.pk}/pdf/", "/api/v1/flags/"):
        assert client.get(url).status_code == 403, url


def test_staff_and_partner_users(pw: PartnerWorld, qa: User, partner_a_user: User) -> None:
    staff = APIClient()
    staff.force_authenticate(qa)
    assert staff.get(f"{BASE}/lots/").status_code == 403
    portal = APIClient()
    portal.force_authenticate(partner_a_user)
    assert codes(portal.get(f"{BASE}/lots/")) == {pw.a_certified.code, pw.a_pending.code, pw.a_feedstock.code}


def test_per_key_throttle(pw: PartnerWorld, lab_admin: User, world: World) -> None:
    _, raw = partner_key(admin=lab_admin, partner=world.partner_a, throttle_rate="3/min")
    client = key_client(raw)
    statuses = [client.get(f"{BASE}/lots/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another key of the same partner has its own budget.
    _, other = partner_key(admin=lab_admin, partner=world.partner_a, throttle_rate="3/min")
    assert key_client(other).get(f"{BASE}/lots/").status_code == 200


def test_key_issue_is_lab_admin_only_validated_and_audited(lab_admin: User, qa_manager: User, world: World) -> None:
    with pytest.raises(Exception, match="Lab admin"):
        api_key_issue(actor=qa_manager, partner=world.partner_a, name="x", scopes=["lots"])
    refused: list[dict[str, Any]] = [
        {"scopes": []},
        {"scopes": ["write"]},
        {"name": " "},
        {"throttle_rate": "lots"},
        {"expires_at": timezone.now() - dt.timedelta(days=1)},
        {"expires_at": timezone.now() + dt.timedelta(days=800)},
    ]
    for bad in refused:
        arguments: dict[str, Any] = {"name": "ERP", "scopes": ["lots"], **bad}
        with pytest.raises(ApiKeyRefusedError):
            api_key_issue(actor=lab_admin, partner=world.partner_a, **arguments)
    key, raw = api_key_issue(actor=lab_admin, partner=world.partner_a, name="ERP", scopes=["lots", "results"])
    assert raw.startswith(key.prefix + ".")
    assert raw not in key.hashed_key
    event = AuditEvent.objects.get(entity="assays.partnerapikey", object_id=key.prefix)
    assert event.actor == lab_admin
    assert raw not in json.dumps(event.after)
    assert key.expiry_date is not None
    assert key.expiry_date > timezone.now() + dt.timedelta(days=300)
