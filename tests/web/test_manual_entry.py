"""Results typed by hand on a lot's page (LOI, anions, an outside lab's result), saved as a run of the
manual method and validated exactly like a generic-long file."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from html import escape, unescape
from typing import Any

import pytest
from django.test import Client

from assays.errors import PermissionDeniedError
from assays.importers import generic_long
from assays.importers.core import ImportFormatError
from assays.models import AuditEvent, Basis, Instrument, Measurement, Method, Run, Technique
from assays.roles import Role
from assays.services.assessment import lots_results
from assays.services.manual_entry import CSV_COLUMNS, GRID_COLUMNS, ManualRow, manual_results_save
from assays.services.run_qc import run_evaluate
from assays.services.samples import sample_register
from tests.conftest import World
from tests.factories import LotFactory, SampleFactory, UserFactory
from tests.runs_setup import RunLab, make_run_lab

pytestmark = pytest.mark.django_db

PAGE = "/manual/FS-26-001/"


@pytest.fixture
def lab(world: World) -> RunLab:
    return make_run_lab(site=world.uk_site)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def grid(*rows: tuple[str, str, str, str, str], **extra: str) -> dict[str, Any]:
    """POST data for rows of (sample, analyte, value, lod, unit)."""
    data: dict[str, Any] = {name: [row[index] for row in rows] for index, name in enumerate(("sample", "analyte", "value", "lod", "unit"))}
    data.update(extra)
    return data


def row_errors(page: str, row: int) -> str:
    """The errors shown under a row, as text."""
    match = re.search(rf'data-errors-for="{row}">(.*?)</tr>', page, re.S)
    assert match is not None, f"no errors shown for row {row}"
    return unescape(" ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()))


# --- The page -------------------------------------------------------------------------------------


def test_the_grid_starts_with_one_row_per_sample_of_the_lot(technician, lab, world):
    # A sample of the lot held at the US site: the UK technician cannot enter results for it.
    sample_register(actor=None, code="TS-US", lot=lab.lot, site=world.us_site, sample_mass_g=Decimal("0.1"), final_volume_ml=Decimal(50))
    html = signed_in(technician).get(PAGE).content.decode()
    rows = re.findall(r'<tr data-row="(\d+)"', html)
    assert rows == [str(n) for n in range(1, len(lab.samples) + 3)]  # the lot's samples, then two empty rows
    for number, code in enumerate(sorted(lab.samples), start=1):
        assert re.search(rf'data-row="{number}".*?<option value="{code}" selected>', html, re.S)
    assert "TS-US" not in html
    assert '<option value="LOI">' in html  # the analyte suggestions
    assert '<option value="Cl-">' in html
    assert 'data-testid="add-row"' in html


def test_the_prefill_puts_one_analyte_and_unit_on_every_row(technician, lab):
    html = signed_in(technician).get(PAGE, {"analyte": "LOI", "unit": "%"}).content.decode()
    assert html.count('name="analyte" value="LOI"') == len(lab.samples) + 2 + 1  # the rows, and the prefill field itself
    assert html.count('<option value="%" selected>') >= len(lab.samples) + 2


def test_add_row_returns_the_next_row_and_a_button_for_the_one_after(technician, lab):
    response = signed_in(technician).get("/manual-row/FS-26-001/", {"n": "9"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<tr data-row="9"' in html
    assert 'aria-label="Value, row 9"' in html
    assert re.search(r'id="add-row"[^>]*hx-swap-oob="true"', html)
    assert "?n=10" in html
    for bad in ("abc", "-5", "99999999999999999999"):
        assert signed_in(technician).get("/manual-row/FS-26-001/", {"n": bad}).status_code == 200


def test_the_lot_page_links_to_manual_entry_for_those_who_import_runs(technician, qa, lab):
    link = re.compile(r'<a [^>]*href="/manual/FS-26-001/"[^>]*data-testid="enter-results"')
    assert link.search(signed_in(technician).get("/lots/FS-26-001/").content.decode())
    assert 'data-testid="enter-results"' not in signed_in(qa).get("/lots/FS-26-001/").content.decode()


# --- Saving -----------------------------------------------------------------------------------------


def test_typed_results_are_saved_as_a_run_of_the_manual_method(technician, lab):
    rows = grid(
        ("TB1", "LOI", "0.42", "", "%"),
        ("TB2", "LOI", "<", "0.05", "%"),
        ("TS1", "Cl-", "120", "", "mg/kg"),
        ("TS2", "SO4 2-", "<30", "", "mg/kg"),
        ("TS3", "", "", "", ""),  # a sample row left empty: not a result
        reference="SGS report 4711",
    )
    client = signed_in(technician)
    response = client.post(PAGE, rows)

    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/runs/{run.pk}/"
    assert (run.method.code, run.method.is_manual, run.method.technique) == ("MANUAL", True, Technique.OTHER)
    assert (run.instrument.code, run.instrument.site, run.instrument.technique) == ("MANUAL-UK1", lab.lot.site, Technique.OTHER)
    assert run.source_format == "generic-long"
    assert run.source_filename == "manual entry, lot FS-26-001 (SGS report 4711)"
    stored = {
        (m.acquisition.sample.code, m.analyte.code): (m.qualifier, m.value, m.unit, m.basis, m.lod)
        for m in Measurement.objects.filter(acquisition__run=run).select_related("acquisition__sample", "analyte")
    }
    assert stored == {
        ("TB1", "LOI"): ("=", 0.42, "%", Basis.AS_RECEIVED, None),
        ("TB2", "LOI"): ("<", 0.05, "%", Basis.AS_RECEIVED, 0.05),
        ("TS1", "Cl-"): ("=", 120.0, "mg/kg", Basis.AS_RECEIVED, None),
        ("TS2", "SO4 2-"): ("<", 30.0, "mg/kg", Basis.AS_RECEIVED, 30.0),
    }
    assert AuditEvent.objects.filter(entity="assays.run", object_id=str(run.pk), actor=technician).count() == 1

    page = client.get(response["Location"]).content.decode()
    assert "Saved 4 results for lot FS-26-001 as run" in page
    assert "&lt; LOD" in page


def test_a_solution_result_is_converted_with_the_samples_preparation(technician, lab):
    # 0.1000 g to 50 mL, DF 10: 2 mg/L = 2000 µg/L measured is 2000 · 50 · 10 / (1000 · 0.1) = 10,000 mg/kg.
    signed_in(technician).post(PAGE, grid(("TB1", "Nd", "2", "", "mg/L")))
    measurement = Measurement.objects.get()
    assert (measurement.unit, measurement.basis) == ("mg/kg", Basis.AS_RECEIVED)
    assert measurement.value == pytest.approx(10_000)
    assert (measurement.raw_value, measurement.raw_unit) == (2.0, "mg/L")


def test_an_outside_laboratorys_uncertainty_is_stored_with_its_result_and_used_for_it(technician, lab):
    # "Nd 21.8 % ± 0.65 % (k = 2)" on the solid; a solution result goes where its value goes (the
    # preparation's factor 2,500 mg/kg per mg/L, as above); LOI without U keeps its model (none).
    data = grid(("TB1", "Nd", "21.8", "", "%"), ("TB2", "Pr", "2", "", "mg/L"), ("TS1", "LOI", "0.4", "", "%"))
    data.update(expanded_u=["0.65", "0.1", ""], coverage_factor=["2", "2.5", ""])
    client = signed_in(technician)
    response = client.post(PAGE, data)
    assert response.status_code == 302
    assert "U = 0.65 % (k = 2) as reported" in client.get(response["Location"]).content.decode()  # on the run's grid
    stored = {
        m.analyte.code: (m.value, m.unit, m.expanded_u, m.coverage_factor)
        for m in Measurement.objects.select_related("analyte").filter(acquisition__run__method__is_manual=True)
    }
    assert stored["Nd"] == (21.8, "%", 0.65, 2.0)
    assert stored["Pr"][1] == "mg/kg"
    assert stored["Pr"][2] == pytest.approx(0.1 * 5_000)
    assert stored["Pr"][3] == 2.5
    assert stored["Pr"][0] == pytest.approx(2 * 5_000)
    assert stored["LOI"][2:] == (None, None)
    run_evaluate(run_id=Run.objects.get().pk)  # the manual method's "none" pack accepts them
    results = lots_results(lot_ids=[lab.lot.pk])[lab.lot.pk]
    by_sample = {sample.code: sample for sample in results.samples}
    # u = U / k, in mg/kg of the solid: 0.65 % / 2 = 3,250 mg/kg; 500 mg/kg / 2.5 = 200 mg/kg.
    assert by_sample["TB1"].elements["Nd"].u == pytest.approx(0.65 / 2 * 10_000)
    assert by_sample["TB2"].elements["Pr"].u == pytest.approx(0.1 * 5_000 / 2.5)
    assert by_sample["TS1"].loi_percent is not None
    assert by_sample["TS1"].loi_percent.u is None


def test_results_typed_without_an_uncertainty_make_the_file_they_always_made(technician, lab):
    # The U and k columns are written only when a row states them: typing the same results again
    # after this change still finds the run saved before it.
    signed_in(technician).post(PAGE, grid(("TB1", "LOI", "0.42", "", "%")))
    assert Run.objects.get().source_sha256 == hashlib.sha256(b"sample_id,analyte,value,unit,lod\nTB1,LOI,0.42,%,\n").hexdigest()


def test_an_uncertainty_without_its_coverage_factor_is_shown_on_its_cell(technician, lab):
    data = grid(("TB1", "Nd", "21.8", "", "%"), ("TB2", "Nd", "<", "20", "mg/kg"))
    data.update(expanded_u=["0.65", "5"], coverage_factor=["", "2"])
    response = signed_in(technician).post(PAGE, data)
    assert response.status_code == 400
    page = response.content.decode()
    assert row_errors(page, 1).startswith("k : an expanded uncertainty (0.65) without its coverage factor")
    assert row_errors(page, 2).startswith("U : an expanded uncertainty on a result reported as '< limit'")
    assert 'name="expanded_u" value="0.65"' in page  # what was typed is kept
    assert Run.objects.count() == 0


def test_the_same_results_typed_twice_are_one_run(technician, lab):
    client = signed_in(technician)
    rows = grid(("TB1", "LOI", "0.42", "", "%"))
    first = client.post(PAGE, rows)
    second = client.post(PAGE, rows, follow=True)
    assert Run.objects.count() == 1
    assert second.redirect_chain[-1][0] == first["Location"]
    assert "already saved as run" in second.content.decode()


def test_an_existing_manual_method_is_used_and_several_can_be_chosen(technician, lab):
    Method.objects.create(code="LOI-GRAV", name="LOI by gravimetry at 1000 °C", technique=Technique.GRAVIMETRY, is_manual=True)
    html = signed_in(technician).get(PAGE).content.decode()
    assert 'name="method" value="LOI-GRAV"' in html  # one manual method: no choice to make
    signed_in(technician).post(PAGE, grid(("TB1", "LOI", "0.42", "", "%"), method="LOI-GRAV"))
    assert Run.objects.get().method.code == "LOI-GRAV"
    assert not Method.objects.filter(code="MANUAL").exists()

    Method.objects.create(code="ANIONS-IC", name="Anions by ion chromatography", technique=Technique.ION_CHROMATOGRAPHY, is_manual=True)
    html = signed_in(technician).get(PAGE).content.decode()
    assert '<select id="manual-method" name="method">' in html
    signed_in(technician).post(PAGE, grid(("TB1", "Cl-", "80", "", "mg/kg"), method="ANIONS-IC"))
    assert Run.objects.filter(method__code="ANIONS-IC").count() == 1


def test_a_method_that_is_not_manual_is_refused(technician, lab):
    response = signed_in(technician).post(PAGE, grid(("TB1", "LOI", "0.42", "", "%"), method=lab.method.code))
    assert response.status_code == 400
    assert "is not a manual method" in response.content.decode()
    assert Run.objects.count() == 0


# --- Validation: every bad row at once, with generic-long's own words ------------------------------


BAD_ROWS = [
    (("TB1", "LOI", "abc", "", "%"), "value", "not a number"),
    (("TB1", "Xx", "1", "", "%"), "analyte", "unknown analyte"),
    (("TB1", "LOI", "1", "", ""), "unit", "no unit given"),
    (("TB1", "LOI", "1", "", "mg/L"), "unit", "mass fraction of the solid"),
    (("TB1", "LOI", "1", "", "furlongs"), "unit", "furlongs"),
    (("TB1", "LOI", "<", "", "%"), "value", "censoring sign without a number"),
    (("TB1", "LOI", "1", "-2", "%"), "lod", "negative LOD"),
    (("TB1", "LOI", "nan", "", "%"), "value", ""),
    (("TB1", "LOI", "1e400", "", "%"), "value", ""),
]


@pytest.mark.parametrize(("row", "column", "expected"), BAD_ROWS)
def test_a_bad_row_gets_the_generic_long_parsers_own_message(technician, lab, row, column, expected):
    csv = ("sample_id,analyte,value,unit,lod\n" + ",".join((row[0], row[1], row[2], row[4], row[3])) + "\n").encode()
    with pytest.raises(ImportFormatError) as parsed:
        generic_long.parse(csv, file_name="same.csv")
    assert parsed.value.column == f"'{column}'"

    response = signed_in(technician).post(PAGE, grid(("TB2", "LOI", "0.4", "", "%"), row))

    assert response.status_code == 400
    page = response.content.decode()
    assert row_errors(page, 2) == f"{column} : {parsed.value.message}"
    assert expected.lower() in parsed.value.message.lower()
    assert 'data-errors-for="1"' not in page  # the good row has none
    assert f'value="{escape(row[2])}"' in page  # what was typed is kept
    assert Run.objects.count() == 0


def test_every_bad_row_is_reported_at_once(technician, lab):
    rows = grid(
        ("TB1", "LOI", "abc", "", "%"),
        ("TB2", "LOI", "0.4", "", "%"),
        ("TL1", "Qq", "1", "", "%"),
        ("", "LOI", "1", "", "%"),
    )
    response = signed_in(technician).post(PAGE, rows)
    html = response.content.decode()
    assert response.status_code == 400
    assert "not a number" in row_errors(html, 1)
    assert "unknown analyte" in row_errors(html, 3)
    assert "choose the sample" in row_errors(html, 4)
    assert 'data-errors-for="2"' not in html
    assert re.search(r'data-testid="entry-errors".*?3 problems', html, re.S)


def test_a_repeated_sample_and_analyte_names_both_rows(technician, lab):
    rows = grid(("TB1", "LOI", "0.42", "", "%"), ("TB2", "", "", "", ""), ("TB1", "loi", "0.44", "", "%"))
    html = signed_in(technician).post(PAGE, rows).content.decode()
    assert "row 3 repeats row 1" in row_errors(html, 3)
    assert Run.objects.count() == 0


def test_a_sample_outside_the_lot_is_refused(technician, lab, world):
    SampleFactory(code="ELSEWHERE-1", lot=LotFactory(code="FS-OTHER", site=world.uk_site))
    html = signed_in(technician).post(PAGE, grid(("ELSEWHERE-1", "LOI", "1", "", "%"))).content.decode()
    assert "ELSEWHERE-1 is not a sample of lot FS-26-001" in row_errors(html, 1)
    assert Run.objects.count() == 0


def test_nothing_entered_is_an_error_not_an_empty_run(technician, lab):
    response = signed_in(technician).post(PAGE, grid(("TB1", "LOI", "", "", "%")))
    assert response.status_code == 400
    assert "nothing entered" in response.content.decode()
    assert signed_in(technician).post(PAGE, {}).status_code == 400
    assert Run.objects.count() == 0


def test_a_huge_or_ragged_post_never_breaks_the_page(technician, lab):
    response = signed_in(technician).post(PAGE, {"sample": ["TB1"] * 3, "analyte": ["LOI"], "value": ["x" * 10_000, "1"], "unit": []})
    assert response.status_code == 400
    assert Run.objects.count() == 0


def test_control_characters_never_reach_the_database(technician, lab):
    client = signed_in(technician)
    bad = client.post(PAGE, grid(("TB1\x00", "LOI\x00", "1\x00", "\x00", "%\x00")))
    assert bad.status_code == 400
    good = client.post(PAGE, grid(("TB1", "LOI", "0.42", "", "%"), reference="report\x00 no.\x07 7"))
    assert good.status_code == 302
    assert Run.objects.get().source_filename == "manual entry, lot FS-26-001 (report no. 7)"


# --- Who may ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "partner_a_user"])
def test_roles_that_do_not_import_runs_get_a_403(request, lab, persona):
    client = signed_in(request.getfixturevalue(persona))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, grid(("TB1", "LOI", "1", "", "%"))).status_code == 403
    assert client.get("/manual-row/FS-26-001/").status_code == 403
    assert Run.objects.count() == 0


def test_a_lot_at_another_site_is_not_found(us_technician, lab):
    client = signed_in(us_technician)
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, grid(("TB1", "LOI", "1", "", "%"))).status_code == 404
    assert client.get("/manual/NO-SUCH-LOT/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, lab):
    assert client.get(PAGE)["Location"].startswith("/login/?next=")


def test_the_service_refuses_an_actor_who_does_not_import(lab, world):
    qa = UserFactory(username="qa2", roles=[Role.QA], sites=[world.uk_site])
    with pytest.raises(PermissionDeniedError):
        manual_results_save(actor=qa, lot_code="FS-26-001", rows=[ManualRow(1, "TB1", "LOI", "1", "", "%")])
    assert not Instrument.objects.filter(code="MANUAL-UK1").exists()


def test_the_grid_writes_the_documented_generic_long_columns():
    assert CSV_COLUMNS[:4] == generic_long.REQUIRED_COLUMNS
    assert set(GRID_COLUMNS) <= set(generic_long.REQUIRED_COLUMNS + generic_long.OPTIONAL_COLUMNS)
