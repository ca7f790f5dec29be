"""POST /api/v1/samples/: a sample sheet as JSON rows or a CSV upload, all rows or none."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assays.models import AuditEvent, CustodyEvent, Lot, PartnerKind, Sample
from tests.conftest import World
from tests.factories import PartnerFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/samples/"
HEADER = "sample_id,lot,lot_kind,product,supplier,sample_mass_g,final_volume_ml,dilution_factor,site"


def row(sample_id: str, lot: str = "F-API", **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sample_id": sample_id,
        "lot": lot,
        "lot_kind": "feedstock",
        "product": "",
        "supplier": "SUPP",
        "sample_mass_g": "0.1002",
        "final_volume_ml": 50,
        "dilution_factor": 10,
        "site": "UK1",
    }
    values.update(overrides)
    return values


def counts() -> tuple[int, int, int, int]:
    return (Lot.objects.count(), Sample.objects.count(), CustodyEvent.objects.count(), AuditEvent.objects.count())


@pytest.fixture
def master(world: World) -> World:
    ProductFactory(code="ND-OX", name="Neodymium oxide")
    PartnerFactory(code="SUPP", name="A supplier", kind=PartnerKind.SUPPLIER, country="CN")
    return world


def post_json(client, payload: object, query: str = ""):
    return client.post(URL + query, data=json.dumps(payload), content_type="application/json")


def post_csv(client, text: str, query: str = "", name: str = "sheet.csv"):
    upload = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(URL + query, data={"file": upload}, format="multipart")


def test_a_technician_registers_json_rows(master, client_for):
    response = post_json(client_for("technician"), [row("A-1"), row("A-2"), row("P-1", "P-API", lot_kind="product", product="ND-OX")])
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["committed"] is True
    assert body["dry_run"] is False
    assert body["rows"] == 3
    assert body["created_lots"] == ["F-API", "P-API"]
    assert body["created_samples"] == ["A-1", "A-2", "P-1"]
    assert body["unchanged_samples"] == []
    assert body["errors"] == []
    assert Sample.objects.get(code="A-1").registered_by.username == "tech"
    # The new samples are readable through the same endpoint.
    listed = client_for("technician").get(URL, {"lot": "F-API"}).json()["results"]
    assert [sample["code"] for sample in listed] == ["A-1", "A-2"]


def test_rows_carry_who_sampled_when_and_how_and_the_samples_answer_them(master, client_for):
    sampled = row("S-1", sampled_by="A. Surveyor", sampled_at="2026-04-29T07:30+02:00", sampling_method="ISO 3082 increments")
    response = post_json(client_for("technician"), [sampled, row("S-2")])
    assert response.status_code == 201, response.content
    listed = {sample["code"]: sample for sample in client_for("technician").get(URL, {"lot": "F-API"}).json()["results"]}
    assert (listed["S-1"]["sampled_by"], listed["S-1"]["sampling_method"]) == ("A. Surveyor", "ISO 3082 increments")
    assert dt.datetime.fromisoformat(listed["S-1"]["sampled_at"]) == dt.datetime(2026, 4, 29, 5, 30, tzinfo=dt.UTC)
    assert (listed["S-2"]["sampled_by"], listed["S-2"]["sampled_at"], listed["S-2"]["sampling_method"]) == ("", None, "")
    refused = post_json(client_for("technician"), [row("S-3", sampled_at="2026-04-29 07:30")])
    assert refused.status_code == 400
    assert [(error["line"], error["column"]) for error in refused.json()["errors"]] == [(1, "sampled_at")]


def test_a_technician_uploads_a_csv_sheet(master, client_for):
    text = "\n".join([HEADER + ",colour", "C-1,F-CSV,feedstock,,SUPP,0.1,50,10,UK1,red", "C-2,F-CSV,feedstock,,SUPP,0.1,50,10,UK1,blue"])
    response = post_csv(client_for("technician"), text)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["created_lots"], body["created_samples"], body["ignored_columns"]) == (["F-CSV"], ["C-1", "C-2"], ["colour"])


def test_the_same_sheet_twice_answers_200_and_changes_nothing(master, client_for):
    client = client_for("technician")
    assert post_json(client, [row("A-1"), row("A-2")]).status_code == 201
    before = counts()
    again = post_json(client, [row("A-1"), row("A-2")])
    assert again.status_code == 200
    assert (again.json()["created_samples"], again.json()["unchanged_samples"]) == ([], ["A-1", "A-2"])
    assert counts() == before


def test_a_dry_run_answers_200_with_what_it_would_do_and_writes_nothing(master, client_for):
    before = counts()
    response = post_json(client_for("technician"), [row("A-1")], "?dry_run=1")
    assert response.status_code == 200
    body = response.json()
    assert (body["dry_run"], body["committed"], body["created_samples"], body["created_lots"]) == (True, False, ["A-1"], ["F-API"])
    assert counts() == before
    text = HEADER + "\nC-1,F-CSV,feedstock,,SUPP,0.1,50,10,UK1\n"
    assert post_csv(client_for("technician"), text, "?dry_run=true").json()["created_samples"] == ["C-1"]
    assert counts() == before


def test_every_error_comes_back_with_line_and_column_and_nothing_is_written(master, client_for):
    payload = [
        row("A-1"),
        row("bad id"),
        row("A-3", sample_mass_g=0),
        row("A-4", supplier="NOBODY"),
        row("A-1", lot="F-OTHER"),
    ]
    before = counts()
    response = post_json(client_for("technician"), payload)
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "4 error(s): nothing was registered"
    assert body["committed"] is False
    assert [(error["line"], error["column"]) for error in body["errors"]] == [
        (2, "sample_id"),
        (3, "sample_mass_g"),
        (4, "supplier"),
        (5, "sample_id"),
    ]
    assert body["errors"][3]["message"] == "sample id 'A-1' is already on line 1"
    assert (body["created_lots"], body["created_samples"]) == ([], [])
    assert counts() == before


def test_csv_errors_name_the_files_lines(master, client_for):
    text = "\n".join([HEADER, "C-1,F-CSV,feedstock,,SUPP,0.1,50,10,UK1", "", "C-3,F-CSV,powder,,SUPP,0.1,50,10,UK1"])
    response = post_csv(client_for("technician"), text)
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 4, "column": "lot_kind", "message": "'powder' is not a lot kind: use feedstock, intermediate, product"}
    ]


def test_the_site_parameter_is_the_default_for_rows_without_one(master, client_for):
    response = post_json(client_for("technician"), [row("A-1", site="")], "?site=UK1")
    assert response.status_code == 201
    assert Sample.objects.get(code="A-1").site.code == "UK1"


def test_a_uk_technician_cannot_register_into_us1(master, client_for):
    before = counts()
    response = post_json(client_for("technician"), [row("A-1", site="US1")])
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"line": 1, "column": "site", "message": "you do not register samples at site US1: it is not one of your sites"}
    ]
    assert counts() == before
    assert post_json(client_for("us_technician"), [row("A-1", site="US1")]).status_code == 201


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "partner_a_user", "partner_b_user", "anonymous"])
def test_only_technicians_may_register(master, client_for, persona):
    before = counts()
    client = client_for(persona)
    assert post_json(client, [row("A-1")]).status_code == 403
    assert post_csv(client, HEADER + "\nC-1,F-CSV,feedstock,,SUPP,0.1,50,10,UK1\n").status_code == 403
    assert counts() == before


@pytest.mark.parametrize("persona", ["qa", "partner_a_user"])
def test_reading_the_samples_is_unchanged_for_other_personas(master, client_for, persona):
    assert client_for(persona).get(URL).status_code == 200


@pytest.mark.parametrize(
    ("send", "status", "says"),
    [
        (lambda c: c.post(URL, data="{not json", content_type="application/json"), 400, "JSON parse error"),
        (lambda c: post_json(c, {"sample_id": "A-1"}), 400, "expected a list of sample rows"),
        (lambda c: post_json(c, []), 400, "the sheet holds no rows"),
        (lambda c: post_json(c, ["A-1"]), 400, "expected an object with the column names as keys"),
        (lambda c: c.post(URL, data={"other": "x"}, format="multipart"), 400, "multipart field 'file'"),
        (lambda c: c.post(URL, data="a,b", content_type="text/csv"), 415, "Unsupported media type"),
        (lambda c: post_json(c, [row("A-1")], "?dry_run=perhaps"), 400, "Must be a valid boolean"),
        (lambda c: post_json(c, [row("A-1", site="")], "?site=" + "X" * 17), 400, "no more than 16"),
        (lambda c: post_csv(c, "\x00\x01binary"), 400, "binary file"),
    ],
)
def test_malformed_requests_answer_4xx_never_500(master, client_for, send, status, says):
    before = counts()
    response = send(client_for("technician"))
    assert response.status_code == status, response.content
    assert says in response.content.decode()
    assert counts() == before


def test_an_oversized_upload_is_refused(master, client_for, monkeypatch):
    monkeypatch.setattr("assays.api.views.MAX_SHEET_BYTES", 100)
    response = post_csv(client_for("technician"), HEADER + "\n" + "C-1,F-CSV,feedstock,,SUPP,0.1,50,10,UK1\n" * 5)
    assert response.status_code == 400
    assert "larger than" in response.json()["detail"]
