"""Runs on the web: upload an export, read its preview, confirm it, read the run's page.

With the real Agilent MassHunter batch (110 acquisitions, 69 channels): what the preview says
before anything is written, what Confirm stores, the acquisitions x analytes grid with censored
values shown as "< LOD", and every way a request can go wrong answering a page, never a 500.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assays.models import Acquisition, AuditEvent, Measurement, Run, RunStatus
from assays.roles import Role
from assays.selectors.runs import GRID_ROWS_PER_PAGE, run_grid
from assays.services.runs import run_import
from assays.web.uploads import PendingImport
from tests.conftest import World
from tests.factories import InstrumentFactory, UserFactory
from tests.runs_setup import AGILENT, BATCH_LOG, QTEGRA_OES, TIME_RESOLVED, RunLab, make_run_lab

pytestmark = pytest.mark.django_db

UPLOAD = "/runs/import/"
PREVIEW = "/runs/import/preview/"
CONFIRM = "/runs/import/confirm/"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path / "media"


@pytest.fixture
def lab(world: World) -> RunLab:
    return make_run_lab(site=world.uk_site)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, lab: RunLab, path: Path = AGILENT, **extra: Any) -> Any:
    data = {"instrument": lab.instrument.code, "method": lab.method.code, "file": SimpleUploadedFile(path.name, path.read_bytes()), **extra}
    return client.post(UPLOAD, data)


def token_of(response: Any) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    location = urlsplit(str(response["Location"]))
    assert location.path == PREVIEW
    return parse_qs(location.query)["token"][0]


def shown(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', html, re.S)
    assert match is not None, f"no {name} on the page"
    return " ".join(str(match.group(1)).split())


def test_the_paths_are_the_named_routes():
    assert (reverse("web:run_upload"), reverse("web:run_preview"), reverse("web:run_confirm")) == (UPLOAD, PREVIEW, CONFIRM)
    assert reverse("web:run_list") == "/runs/"


# --- Upload, preview, confirm ----------------------------------------------------------------------


def test_the_upload_page_offers_the_instruments_of_the_technicians_sites_only(technician, lab, world):
    InstrumentFactory(code="US1-ICPMS", site=world.us_site)
    InstrumentFactory(code="UK1-RETIRED", site=world.uk_site, is_active=False)
    html = signed_in(technician).get(UPLOAD).content.decode()
    assert 'data-testid="dropzone"' in html
    assert 'value="UK1-ICPMS-01"' in html
    assert "US1-ICPMS" not in html
    assert "UK1-RETIRED" not in html
    assert 'value="REE-ICPMS"' in html
    assert 'value="agilent-masshunter"' in html  # the format override
    assert "js/upload.js" in html


def test_the_upload_page_says_when_no_instrument_is_in_service(technician, world):
    html = signed_in(technician).get(UPLOAD).content.decode()
    assert 'data-testid="no-instruments"' in html


def test_a_technician_previews_the_real_batch_and_nothing_is_written(technician, lab, media):
    client = signed_in(technician)
    token = token_of(upload(client, lab))
    stored = list((media / "uploads").iterdir())
    assert [path.name for path in stored] == [PendingImport.from_token(token, user_id=technician.pk).sha256]

    response = client.get(PREVIEW, {"token": token})

    assert response.status_code == 200
    html = response.content.decode()
    assert shown(html, "preview-format") == "agilent-masshunter"
    assert shown(html, "count-acquisitions") == "110"
    assert shown(html, "count-matched") == "6"
    assert shown(html, "count-unmatched") == str(110 - 6 - 25)  # 15 CalStd + 2 CalBlk + 8 drift checks are QC
    assert 'data-testid="preview-ready"' in html
    matched = html.split('data-testid="matched-samples"')[1].split("</table>")[0]
    for code in ("TS1", "TS2", "TS3", "TB1", "TB2", "TL1"):
        assert f'<td class="code">{code}</td>' in matched
    assert "FS-26-001" in matched
    unmatched = html.split('data-testid="unmatched-labels"')[1].split("</table>")[0]
    # The 34 acquisitions named 0, less the 2 calibration blanks.
    assert re.search(r'<td class="code">0</td><td class="num">32</td>', unmatched)
    acquisitions = html.split('data-testid="preview-acquisitions"')[1].split("</table>")[0]
    assert acquisitions.count("<tr") == 111  # the header and the 110 acquisitions
    assert "lab pattern &#x27;Deriv TracesETMaj&#x27;" in acquisitions
    assert 'data-testid="confirm-form"' in html
    assert 'data-testid="preview-warnings"' in html  # e.g. the channels the method does not list
    assert Run.objects.count() == 0
    assert Acquisition.objects.count() == 0


def test_confirm_imports_the_previewed_file_and_opens_the_run(technician, lab, media):
    client = signed_in(technician)
    token = token_of(upload(client, lab))

    response = client.post(CONFIRM, {"token": token})

    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:run_detail", args=[run.pk])
    assert (run.instrument, run.method, run.analyst, run.status) == (lab.instrument, lab.method, technician, RunStatus.PENDING_QC)
    assert run.source_filename == AGILENT.name
    assert run.acquisitions.count() == 110
    assert Measurement.objects.filter(acquisition__run=run).count() == run.import_summary["values"]
    assert AuditEvent.objects.filter(entity="assays.run", object_id=str(run.pk), actor=technician).count() == 1
    assert list((media / "uploads").iterdir()) == [], "the kept upload is removed once imported"

    page = client.get(response["Location"])
    html = page.content.decode()
    assert "Imported run" in html
    assert shown(html, "run-id") == str(run.pk)
    assert AGILENT.name in shown(html, "run-file")
    assert run.source_sha256[:12] in html


def test_a_confirm_twice_imports_once(technician, lab):
    client = signed_in(technician)
    token = token_of(upload(client, lab))
    client.post(CONFIRM, {"token": token})
    # The kept file is gone after the first: the second says so instead of importing again.
    second = client.post(CONFIRM, {"token": token}, follow=True)
    assert Run.objects.count() == 1
    assert "upload the file again" in second.content.decode()


def test_a_file_already_imported_says_so_with_a_link_and_offers_no_confirm(technician, lab):
    existing = run_import(actor=technician, data=AGILENT.read_bytes(), file_name="first.csv", instrument=lab.instrument, method=lab.method)
    client = signed_in(technician)
    html = client.get(PREVIEW, {"token": token_of(upload(client, lab))}).content.decode()
    assert f"Already imported as run {existing.run_id}" in html
    assert f'href="/runs/{existing.run_id}/"' in html
    assert 'data-testid="confirm-form"' not in html
    assert Run.objects.count() == 1


def test_the_batch_log_rides_along_to_the_preview(technician, lab):
    client = signed_in(technician)
    log = SimpleUploadedFile(BATCH_LOG.name, BATCH_LOG.read_bytes())
    token = token_of(upload(client, lab, batch_log=log))
    html = client.get(PREVIEW, {"token": token}).content.decode()
    assert "batch log" in html
    assert BATCH_LOG.name in html
    # The 7700's log lists other acquisitions than this batch: the preview says it found no dilutions.
    assert "the batch log gives no dilution" in html


# --- Files that cannot be imported ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        (TIME_RESOLVED, None, "time-resolved"),
        (QTEGRA_OES, None, "intensities"),
        (Path("junk.csv"), b"\x00\x01\x02\xff\xfe" * 400, "junk.csv"),
        (Path("header-only.csv"), b"sample_id,analyte,value,unit\n", "line 2"),
    ],
)
def test_a_file_that_cannot_be_imported_shows_why_and_offers_no_confirm(technician, lab, path, content, expected):
    client = signed_in(technician)
    data = content if content is not None else path.read_bytes()
    form = {"instrument": lab.instrument.code, "method": lab.method.code, "file": SimpleUploadedFile(path.name, data)}
    token = token_of(client.post(UPLOAD, form))

    response = client.get(PREVIEW, {"token": token})

    assert response.status_code == 200
    html = response.content.decode()
    errors = html.split('data-testid="preview-errors"')[1].split("</div>")[0]
    assert path.name in errors, "each error names the file"
    assert expected in errors.lower() or expected in errors
    assert 'data-testid="confirm-form"' not in html
    # Confirm anyway (a crafted post): nothing is imported, and the preview says why.
    confirm = client.post(CONFIRM, {"token": token}, follow=True)
    assert confirm.status_code == 200
    assert "Nothing was imported" in confirm.content.decode()
    assert Run.objects.count() == 0


def test_a_wrong_format_forced_is_a_clear_error_naming_the_line(technician, lab):
    client = signed_in(technician)
    html = client.get(PREVIEW, {"token": token_of(upload(client, lab, format="generic-long"))}).content.decode()
    errors = shown(html, "preview-errors")
    assert "nothing can be imported" in errors
    assert AGILENT.name in html.split('data-testid="preview-errors"')[1]
    assert "line 1" in html.split('data-testid="preview-errors"')[1]
    assert Run.objects.count() == 0


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"file": SimpleUploadedFile("empty.csv", b"")}, "file"),
        ({}, "file"),
        ({"method": ""}, "method"),
        ({"instrument": ""}, "instrument"),
        ({"format": "no-such-format"}, "format"),
    ],
)
def test_an_incomplete_upload_form_comes_back_with_the_error_on_its_field(technician, lab, form, field):
    data: dict[str, Any] = {"instrument": lab.instrument.code, "method": lab.method.code, "file": SimpleUploadedFile("a.csv", b"x")}
    data.update(form)
    if not form:
        del data["file"]
    response = signed_in(technician).post(UPLOAD, data)
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in response.content.decode()


def test_an_instrument_at_another_site_is_not_found(technician, lab, world):
    InstrumentFactory(code="US1-ICPMS", site=world.us_site)
    client = signed_in(technician)
    for code in ("US1-ICPMS", "NO-SUCH-INSTRUMENT"):
        form = {"instrument": code, "method": lab.method.code, "file": SimpleUploadedFile("a.csv", b"x")}
        assert client.post(UPLOAD, form).status_code == 404
    assert not (Path(lab.instrument.site.code) / "uploads").exists()


def test_an_instrument_taken_out_of_service_after_the_upload_is_not_found(technician, lab):
    client = signed_in(technician)
    token = token_of(upload(client, lab))
    lab.instrument.is_active = False
    lab.instrument.save()
    assert client.get(PREVIEW, {"token": token}).status_code == 404
    assert client.post(CONFIRM, {"token": token}).status_code == 404
    assert Run.objects.count() == 0


@pytest.mark.parametrize("token", ["", "garbage", "a" * 5000, "\x00"])
def test_a_forged_token_sends_back_to_the_upload_page(technician, lab, token):
    client = signed_in(technician)
    for response in (client.get(PREVIEW, {"token": token}), client.post(CONFIRM, {"token": token})):
        assert response.status_code == 302
        assert response["Location"] == UPLOAD
    assert Run.objects.count() == 0


def test_another_users_token_is_refused(technician, lab, world):
    colleague = UserFactory(username="tech2", roles=[Role.TECHNICIAN], sites=[world.uk_site])
    token = token_of(upload(signed_in(technician), lab))
    response = signed_in(colleague).post(CONFIRM, {"token": token}, follow=True)
    assert "not yours" in response.content.decode()
    assert Run.objects.count() == 0


def test_a_file_name_is_a_label_never_a_path(technician, lab, media):
    client = signed_in(technician)
    form = {
        "instrument": lab.instrument.code,
        "method": lab.method.code,
        "file": SimpleUploadedFile("..\\..\\batch\x00\x07 07.csv", AGILENT.read_bytes()),
    }
    token = token_of(client.post(UPLOAD, form))
    client.post(CONFIRM, {"token": token})
    run = Run.objects.get()
    assert run.source_filename == "batch 07.csv"
    assert not (media.parent / "batch 07.csv").exists()


# --- Who may ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "partner_a_user"])
def test_roles_that_do_not_import_get_a_403_page(request, lab, persona):
    client = signed_in(request.getfixturevalue(persona))
    assert client.get(UPLOAD).status_code == 403
    assert upload(client, lab).status_code == 403
    assert client.get(PREVIEW, {"token": "x"}).status_code == 403
    assert client.post(CONFIRM, {"token": "x"}).status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, lab):
    for path in (UPLOAD, "/runs/", "/runs/1/", PREVIEW):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('login')}?next=")


# --- The run page and its grid ---------------------------------------------------------------------


@pytest.fixture
def imported(technician, lab) -> Run:
    summary = run_import(actor=technician, data=AGILENT.read_bytes(), file_name=AGILENT.name, instrument=lab.instrument, method=lab.method)
    return Run.objects.get(pk=summary.run_id)


def grid_rows(html: str) -> list[str]:
    body = html.split('data-testid="run-grid"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"<tr [^>]*>", body)


def header_cells(html: str) -> list[str]:
    head = html.split('data-testid="run-grid"')[1].split("</thead>")[0]
    return [" ".join(cell.split()) for cell in re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", head, re.S)]


def test_the_run_page_shows_the_header_and_a_grid_of_acquisitions_by_analyte(technician, imported):
    html = signed_in(technician).get(f"/runs/{imported.pk}/").content.decode()
    facts = html.split('data-testid="run-facts"')[1].split("</dl>")[0]
    for expected in ("UK1-ICPMS-01", "REE-ICPMS", "tech", AGILENT.name, imported.source_sha256[:12], "Pending QC"):
        assert expected in facts
    summary = html.split('data-testid="run-summary"')[1].split("</dl>")[0]
    assert "110" in summary
    assert "6 (" in summary  # samples matched
    columns = header_cells(html)
    assert columns[:4] == ["#", "Label", "Is", "Unit"]
    # The method's reporting channels first (by atomic number), then its confirmatory one, then the rest.
    assert columns[4:9] == ["23Na [He]", "56Fe [He]", "139La [No Gas]", "146Nd [No Gas]", "57Fe [He]"]
    assert len(columns) == 4 + 69
    rows = grid_rows(html)
    assert len(rows) == GRID_ROWS_PER_PAGE
    assert shown(html, "grid-count").startswith("Acquisitions 1\u2013100 of 110 · 69 channels")


def test_censored_values_read_less_than_lod_with_the_limit_in_the_tooltip(technician, imported):
    censored = Measurement.objects.filter(acquisition__run=imported, qualifier="<").select_related("acquisition", "analyte")
    assert censored.exists()
    sample_cell = censored.filter(acquisition__sample__isnull=False).first()
    assert sample_cell is not None
    html = signed_in(technician).get(f"/runs/{imported.pk}/?show=samples").content.decode()
    row = html.split(f'data-sequence="{sample_cell.acquisition.sequence}"')[1].split("</tr>")[0]
    assert re.search(r'<td class="num cell-censored" title="below the LOD of [0-9.]+ mg/kg[^"]*">&lt; LOD</td>', row)
    assert '<td class="muted nowrap">mg/kg</td>' in row


def test_unmatched_acquisitions_are_listed_and_filterable(technician, imported):
    client = signed_in(technician)
    html = client.get(f"/runs/{imported.pk}/", {"show": "unmatched"}).content.decode()
    rows = grid_rows(html)
    assert len(rows) == imported.acquisitions.filter(sample__isnull=True, qc_role="").count() == 79
    assert all('data-kind="unmatched"' in row for row in rows)
    assert "Unmatched" in html
    qc = client.get(f"/runs/{imported.pk}/", {"show": "qc"}).content.decode()
    assert len(grid_rows(qc)) == 25
    assert "CCV" in qc
    assert "Calibration standard" in qc
    samples = client.get(f"/runs/{imported.pk}/", {"show": "samples"}).content.decode()
    assert len(grid_rows(samples)) == 6
    assert 'href="/lots/FS-26-001/"' in samples


def test_the_grid_pages_with_htmx_returning_the_grid_alone(technician, imported):
    response = signed_in(technician).get(f"/runs/{imported.pk}/", {"page": "2"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="run-grid">')
    assert len(grid_rows(html)) == 10
    assert [int(n) for n in re.findall(r'data-sequence="(\d+)"', html)] == list(range(101, 111))
    assert response["Vary"].count("HX-Request") == 1


@pytest.mark.parametrize("query", [{"page": "abc"}, {"page": "-1"}, {"page": "99999"}, {"show": "nonsense"}, {"show": "\x00"}])
def test_a_tampered_grid_query_never_breaks_the_page(technician, imported, query):
    assert signed_in(technician).get(f"/runs/{imported.pk}/", query).status_code == 200


def test_the_grid_costs_a_fixed_number_of_queries(technician, imported, lab):
    small = run_import(
        actor=technician,
        data=b"sample_id,analyte,value,unit\nTS1,LOI,1.2,%\n",
        file_name="small.csv",
        instrument=lab.instrument,
        method=lab.method,
    )
    small_run = Run.objects.get(pk=small.run_id)

    def queries(run: Run) -> int:
        with CaptureQueriesContext(connection) as captured:
            grid = run_grid(actor=technician, run=run)
            for row in grid.rows:
                acquisition = row.acquisition
                _ = (acquisition.sample and acquisition.sample.lot.code, acquisition.get_qc_role_display())
        return len(captured)

    assert queries(imported) == queries(small_run)


def test_a_run_outside_the_users_sites_is_not_found(us_technician, imported):
    assert signed_in(us_technician).get(f"/runs/{imported.pk}/").status_code == 404
    assert signed_in(us_technician).get("/runs/999999999999999999999/").status_code == 404


def test_a_partner_user_does_not_see_runs(partner_a_user, imported):
    assert signed_in(partner_a_user).get(f"/runs/{imported.pk}/").status_code == 403
    assert signed_in(partner_a_user).get("/runs/").status_code == 403


def test_the_run_list_shows_the_runs_of_the_users_sites(technician, us_technician, qa_manager, imported):
    html = signed_in(technician).get("/runs/").content.decode()
    assert f'href="/runs/{imported.pk}/"' in html
    assert 'data-testid="import-run"' in html
    assert f'href="/runs/{imported.pk}/"' not in signed_in(us_technician).get("/runs/").content.decode()
    cross = signed_in(qa_manager).get("/runs/").content.decode()
    assert f'href="/runs/{imported.pk}/"' in cross
    assert 'data-testid="import-run"' not in cross  # QA reviews runs, does not import them


def test_staff_navigation_has_runs(technician, qa):
    for user in (technician, qa):
        html = signed_in(user).get("/runs/").content.decode()
        nav = html.split('aria-label="Main"')[1].split("</nav>")[0]
        assert re.search(r'<a href="/runs/" aria-current="page">Runs</a>', nav)
