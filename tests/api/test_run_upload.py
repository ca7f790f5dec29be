"""POST /api/v1/runs/: an instrument export in, the import summary out (the CLI's ``--json``); GET
the runs the caller may see. With the real Agilent MassHunter batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from assays.api import views
from assays.models import Acquisition, Measurement, Run, RunStatus
from assays.services.runs import ImportSummary, run_import
from tests.conftest import World
from tests.factories import InstrumentFactory
from tests.runs_setup import AGILENT, BATCH_LOG, TIME_RESOLVED, RunLab, make_run_lab

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/runs/"


@pytest.fixture
def lab(world: World) -> RunLab:
    return make_run_lab(site=world.uk_site)


def post(client: APIClient, lab: RunLab, path: Path = AGILENT, data: bytes | None = None, **fields: Any) -> Any:
    body = {
        "file": SimpleUploadedFile(path.name, path.read_bytes() if data is None else data),
        "instrument": lab.instrument.code,
        "method": lab.method.code,
        **fields,
    }
    return client.post(RUNS, {key: value for key, value in body.items() if value is not None}, format="multipart")


def test_a_technician_imports_the_real_batch_and_gets_the_summary(client_for, lab):
    response = post(client_for("technician"), lab)

    assert response.status_code == 201, response.json()
    body = response.json()
    run = Run.objects.get()
    assert body["run_id"] == run.pk
    assert (body["existing"], body["dry_run"], body["ok"], body["errors"]) == (False, False, True, [])
    assert body["format"] == "agilent-masshunter"
    assert (body["acquisitions"], body["channels"], body["internal_standards"]) == (110, 69, 2)
    assert (body["matched_samples"], body["sample_acquisitions"], body["qc_items"]) == (6, 6, 25)
    assert body["qc_roles"] == {"calibration_blank": 2, "calibration_standard": 15, "ccv": 8}
    assert body["unmatched_labels"]["0"] == 32
    assert body["unmatched_acquisitions"] == 79
    assert body["values"] == 7146
    assert body["values"] == Measurement.objects.filter(acquisition__run=run).count()
    assert body["censored"] == Measurement.objects.filter(acquisition__run=run, qualifier="<").count() > 0
    assert body["sha256"] == run.source_sha256
    assert (body["instrument"], body["method"], body["file_name"]) == ("UK1-ICPMS-01", "REE-ICPMS", AGILENT.name)
    assert isinstance(body["warnings"], list)
    # The same summary as the service gives (the CLI's --json), field for field.
    assert set(body) == set(ImportSummary(file_name="", sha256="").as_dict())
    assert run.status == RunStatus.PENDING_QC


def test_the_same_file_twice_returns_the_existing_run_and_writes_nothing(client_for, lab):
    client = client_for("technician")
    first = post(client, lab).json()
    acquisitions = Acquisition.objects.count()

    again = post(client, lab)

    assert again.status_code == 200
    assert again.json()["existing"] is True
    assert again.json()["run_id"] == first["run_id"]
    assert f"already imported as run {first['run_id']}" in again.json()["warnings"][0]
    assert Run.objects.count() == 1
    assert Acquisition.objects.count() == acquisitions


def test_a_dry_run_summarises_and_writes_nothing(client_for, lab):
    response = post(client_for("technician"), lab, dry_run="true")
    assert response.status_code == 200
    body = response.json()
    assert (body["dry_run"], body["run_id"], body["acquisitions"], body["matched_samples"]) == (True, None, 110, 6)
    assert Run.objects.count() == 0


def test_a_batch_log_is_read_with_the_export(client_for, lab):
    log = SimpleUploadedFile(BATCH_LOG.name, BATCH_LOG.read_bytes())
    response = post(client_for("technician"), lab, batch_log=log, dry_run="true")
    assert response.status_code == 200
    assert any("batch log" in warning for warning in response.json()["warnings"])


# --- Files that cannot be imported: 400, every problem named, nothing written ------------------------


@pytest.mark.parametrize(
    ("name", "data", "fields", "expected"),
    [
        ("junk.bin", b"\x00\xff\x13\x37" * 300, {}, "junk.bin"),
        ("empty-rows.csv", b"sample_id,analyte,value,unit\n", {}, "line 2"),
        ("bad-values.csv", b"sample_id,analyte,value,unit\nTS1,LOI,abc,%\n", {}, "line 2, column 'value'"),
        (TIME_RESOLVED.name, TIME_RESOLVED.read_bytes(), {}, "time-resolved"),
        (AGILENT.name, AGILENT.read_bytes(), {"format": "generic-long"}, "line 1"),
    ],
)
@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_a_file_that_cannot_be_imported_answers_400_naming_file_line_and_column(client_for, lab, name, data, fields, expected, dry_run):
    response = post(client_for("technician"), lab, path=Path(name), data=data, dry_run=dry_run, **fields)

    assert response.status_code == 400
    body = response.json()
    assert "nothing was imported" in body["detail"]
    assert body["ok"] is False
    assert body["errors"], body
    assert all(error.startswith(name) for error in body["errors"]), body["errors"]
    assert any(expected in error for error in body["errors"]), body["errors"]
    assert body["dry_run"] is (dry_run == "true")
    assert Run.objects.count() == Acquisition.objects.count() == Measurement.objects.count() == 0


def test_a_real_import_lists_every_problem_not_only_the_first(client_for, lab):
    # Two sample names longer than any label the LIMS stores: two problems the service finds after parsing.
    long_a, long_b = "A" * 250, "B" * 250
    data = f"sample_id,analyte,value,unit\n{long_a},146Nd,1,ug/L\n{long_b},146Nd,2,ug/L\n".encode()
    response = post(client_for("technician"), lab, path=Path("long-names.csv"), data=data)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [error.split(":")[0] for error in errors] == ["long-names.csv, line 2", "long-names.csv, line 3"]
    assert Run.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"file": None}, "file"),
        ({"instrument": None}, "instrument"),
        ({"method": None}, "method"),
        ({"format": "no-such-format"}, "format"),
        ({"dry_run": "perhaps"}, "dry_run"),
        ({"instrument": "X" * 500}, "instrument"),
    ],
)
def test_a_malformed_request_names_the_field(client_for, lab, fields, field):
    response = post(client_for("technician"), lab, **fields)
    assert response.status_code == 400
    assert field in response.json()
    assert Run.objects.count() == 0


def test_an_empty_file_is_refused(client_for, lab):
    response = post(client_for("technician"), lab, path=Path("empty.csv"), data=b"")
    assert response.status_code == 400
    assert Run.objects.count() == 0


def test_a_file_too_large_is_refused_before_it_is_read(client_for, lab, monkeypatch):
    monkeypatch.setattr(views, "MAX_RUN_BYTES", 1024)
    response = post(client_for("technician"), lab)
    assert response.status_code == 400
    assert "larger than" in response.json()["detail"]


def test_an_instrument_outside_the_callers_sites_or_a_missing_method_is_not_found(client_for, lab, world):
    InstrumentFactory(code="US1-ICPMS", site=world.us_site)
    client = client_for("technician")
    assert post(client, lab, instrument="US1-ICPMS").status_code == 404
    assert post(client, lab, instrument="NOPE").status_code == 404
    assert post(client, lab, method="NOPE").status_code == 404
    assert Run.objects.count() == 0


def test_a_file_name_with_control_characters_is_cleaned_not_a_crash(client_for, lab):
    response = post(client_for("technician"), lab, path=Path("run\x00\x1b-07.csv"), data=AGILENT.read_bytes())
    assert response.status_code == 201, response.json()
    assert response.json()["file_name"] == "run-07.csv"
    assert Run.objects.get().source_filename == "run-07.csv"


@pytest.mark.parametrize("field", ["instrument", "method", "format"])
def test_a_nul_in_a_field_is_refused_naming_the_field(client_for, lab, field):
    response = post(client_for("technician"), lab, **{field: "UK1\x00"})
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "partner_a_user", "anonymous"])
def test_only_roles_that_import_runs_may_post(client_for, lab, persona):
    response = post(client_for(persona), lab)
    assert response.status_code == 403
    assert Run.objects.count() == 0


# --- Reading runs -----------------------------------------------------------------------------------


@pytest.fixture
def imported(technician, lab) -> Run:
    summary = run_import(actor=technician, data=AGILENT.read_bytes(), file_name=AGILENT.name, instrument=lab.instrument, method=lab.method)
    return Run.objects.get(pk=summary.run_id)


def test_the_run_list_is_scoped_to_the_callers_sites(client_for, imported):
    for persona, visible in (("technician", True), ("qa", True), ("qa_manager", True), ("us_technician", False)):
        response = client_for(persona).get(RUNS)
        assert response.status_code == 200
        ids = [run["id"] for run in response.json()["results"]]
        assert (imported.pk in ids) is visible, persona
    for persona in ("partner_a_user", "anonymous"):
        assert client_for(persona).get(RUNS).status_code == 403


def test_a_run_comes_with_its_summary(client_for, imported):
    response = client_for("technician").get(f"{RUNS}{imported.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["site"], body["instrument"], body["method"], body["analyst"]) == (
        imported.pk,
        "UK1",
        "UK1-ICPMS-01",
        "REE-ICPMS",
        "tech",
    )
    assert (body["source_format"], body["status"], body["source_filename"]) == ("agilent-masshunter", "pending_qc", AGILENT.name)
    assert body["summary"]["run_id"] == imported.pk
    assert body["summary"]["acquisitions"] == 110
    assert body["summary"]["unmatched_labels"]["0"] == 32


def test_a_run_outside_the_callers_sites_is_not_found(client_for, imported):
    assert client_for("us_technician").get(f"{RUNS}{imported.pk}/").status_code == 404
    assert client_for("technician").get(f"{RUNS}99999999999999999999999/").status_code == 404
    assert client_for("partner_a_user").get(f"{RUNS}{imported.pk}/").status_code == 403


def test_the_run_list_filters_by_instrument_and_status(client_for, imported):
    client = client_for("technician")
    assert [run["id"] for run in client.get(RUNS, {"instrument": "UK1-ICPMS-01"}).json()["results"]] == [imported.pk]
    assert client.get(RUNS, {"instrument": "OTHER"}).json()["results"] == []
    assert [run["id"] for run in client.get(RUNS, {"status": "pending_qc"}).json()["results"]] == [imported.pk]
    assert client.get(RUNS, {"status": "accepted"}).json()["results"] == []
    bad = client.get(RUNS, {"status": "bogus"})
    assert bad.status_code == 400
    assert "status" in bad.json()


def test_the_schema_describes_the_runs_endpoints(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    post_op = schema["paths"]["/api/v1/runs/"]["post"]
    assert {"201", "200", "400", "403", "404"} <= set(post_op["responses"])
    upload = post_op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"file", "instrument", "method", "format", "dry_run", "batch_log"} <= set(schema["components"]["schemas"][upload]["properties"])
    summary = schema["components"]["schemas"]["ImportSummary"]["properties"]
    assert {"run_id", "existing", "format", "acquisitions", "matched_samples", "unmatched_labels", "warnings", "errors"} <= set(summary)
    assert {"200", "403", "404"} <= set(schema["paths"]["/api/v1/runs/{id}/"]["get"]["responses"])
