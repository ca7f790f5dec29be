"""The Register samples page (one-sample form, sheet preview with htmx, confirm) and the labels page."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
import segno
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from assays.importers.sample_sheet import parse_sample_sheet
from assays.models import AuditEvent, CustodyEvent, Lot, LotKind, PartnerKind, Sample
from assays.services.lots import lot_create
from assays.services.samples import sample_register
from tests.conftest import World
from tests.factories import PartnerFactory, ProductFactory

REGISTER = "/samples/register/"
PREVIEW = "/samples/register/preview/"
CONFIRM = "/samples/register/confirm/"
HEADER = "sample_id,lot,lot_kind,product,supplier,sample_mass_g,final_volume_ml,dilution_factor,site"
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_page_paths_are_the_named_routes():
    assert (reverse("web:register_samples"), reverse("web:preview_sheet"), reverse("web:confirm_sheet")) == (REGISTER, PREVIEW, CONFIRM)
    assert reverse("web:lot_labels", args=["A/B"]) == "/labels/A/B/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def counts() -> tuple[int, int, int, int]:
    return (Lot.objects.count(), Sample.objects.count(), CustodyEvent.objects.count(), AuditEvent.objects.count())


@pytest.fixture
def master(world: World) -> World:
    ProductFactory(code="ND-OX", name="Neodymium oxide")
    PartnerFactory(code="SUPP", name="A supplier", kind=PartnerKind.SUPPLIER, country="CN")
    return world


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "sample_id": "w-1",
        "lot": "F-WEB",
        "lot_kind": "feedstock",
        "product": "",
        "supplier": "SUPP",
        "site": "UK1",
        "sample_type": "routine",
        "sample_mass_g": "0.1002",
        "final_volume_ml": "50",
        "dilution_factor": "10",
        "notes": "",
    }
    data.update(overrides)
    return data


def preview_rows(html: str) -> dict[int, str]:
    """{line: outcome} of the preview table."""
    return {int(line): outcome for line, outcome in re.findall(r'data-line="(\d+)" data-outcome="(\w+)"', html)}


def line_errors(html: str, line: int) -> list[str]:
    block = re.search(rf'data-errors-for="{line}">(.*?)</tr>', html, re.S)
    assert block is not None, f"no errors shown under line {line}"
    return [unescape(re.sub(r"<[^>]+>", "", item)) for item in re.findall(r"<li>(.*?)</li>", block.group(1), re.S)]


# --- Who sees the page ------------------------------------------------------------------------------


def test_a_technician_gets_the_page_and_the_nav_entry(master, technician):
    response = signed_in(technician).get(REGISTER)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<a href="/samples/register/" aria-current="page">Register samples</a>' in html
    assert 'data-testid="sample-form"' in html
    assert 'data-testid="sheet-form"' in html
    assert 'hx-post="/samples/register/preview/"' in html
    # The site select offers the technician's own sites only.
    assert re.findall(r'<option value="(\w+)"[^>]*>\w+ — ', html.split('name="site"')[1].split("</select>")[0]) == ["UK1"]


@pytest.mark.parametrize("persona", ["qa", "qa_manager", "lab_admin", "partner_a_user"])
def test_other_roles_get_403_and_no_nav_entry(master, request, persona):
    client = signed_in(request.getfixturevalue(persona))
    for path in (REGISTER, "/samples/register/template.csv"):
        assert client.get(path).status_code == 403
    for path in (PREVIEW, CONFIRM, REGISTER):
        assert client.post(path, {"sheet_text": HEADER + "\nA,B,feedstock,,,0.1,50,1,UK1"}).status_code == 403
    assert "Register samples" not in client.get("/").content.decode()


def test_an_anonymous_visitor_is_sent_to_sign_in(master, client):
    for path in (REGISTER, "/labels/ANY/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    assert client.post(CONFIRM, {"sheet_text": "x"}).status_code == 302
    assert Sample.objects.count() == 0


def test_the_lot_page_links_to_registration_and_labels_for_those_who_may(master, technician, qa):
    lot = lot_create(actor=None, code="F/LINK 1", site=master.uk_site, kind=LotKind.FEEDSTOCK)
    sample_register(actor=None, code="L-1", lot=lot)
    tech_html = signed_in(technician).get(reverse("web:lot_detail", args=[lot.code])).content.decode()
    assert 'href="/samples/register/?lot=F%2FLINK%201" data-testid="register-samples"' in tech_html
    assert 'href="/labels/F/LINK%201/" data-testid="print-labels"' in tech_html
    qa_html = signed_in(qa).get(reverse("web:lot_detail", args=[lot.code])).content.decode()
    assert 'data-testid="register-samples"' not in qa_html
    assert 'data-testid="print-labels"' in qa_html


def test_the_lot_link_fills_in_the_lots_columns(master, technician):
    lot_create(actor=None, code="P-FILL", site=master.uk_site, kind=LotKind.PRODUCT, product=ProductFactory(code="ND-OX"))
    html = signed_in(technician).get(REGISTER, {"lot": "P-FILL"}).content.decode()
    assert 'name="lot" value="P-FILL"' in html
    assert 'name="product" value="ND-OX"' in html
    assert '<option value="product" selected>' in html
    # A lot the user may not see fills in nothing.
    lot_create(actor=None, code="F-US-HIDDEN", site=master.us_site, kind=LotKind.FEEDSTOCK)
    assert 'value="F-US-HIDDEN"' not in signed_in(technician).get(REGISTER, {"lot": "F-US-HIDDEN"}).content.decode()


# --- One sample ------------------------------------------------------------------------------------------


def test_the_form_registers_one_sample_creating_its_lot_and_goes_to_the_lot(master, technician):
    client = signed_in(technician)
    response = client.post(REGISTER, form_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("web:lot_detail", args=["F-WEB"])
    sample = Sample.objects.get(code="W-1")
    assert (sample.lot.code, sample.lot.supplier.code, sample.site.code, sample.sample_mass_g) == (
        "F-WEB",
        "SUPP",
        "UK1",
        Decimal("0.1002"),
    )
    page = client.get(response["Location"]).content.decode()
    assert "Registered 1 sample; created lot F-WEB." in page
    # The same form again changes nothing and says so.
    before = counts()
    again = client.post(REGISTER, form_data(), follow=True)
    assert "Sample W-1 was already registered exactly like this: nothing changed." in again.content.decode()
    assert counts() == before


def test_the_form_takes_who_sampled_when_and_how_and_the_lot_page_shows_them(master, technician):
    client = signed_in(technician)
    response = client.post(
        REGISTER,
        form_data(sampled_by="J. Weber (production)", sampled_at="2026-04-29T07:30+02:00", sampling_method="ISO 3082 increments"),
    )
    assert response.status_code == 302
    sample = Sample.objects.get(code="W-1")
    assert (sample.sampled_by, sample.sampling_method) == ("J. Weber (production)", "ISO 3082 increments")
    assert sample.sampled_at.isoformat() == "2026-04-29T05:30:00+00:00"
    page = client.get(response["Location"]).content.decode()
    (cell,) = re.findall(r'<td data-testid="sampled">(.*?)</td>', page, flags=re.S)
    assert "29 Apr 2026 05:30" in cell
    assert "J. Weber (production)" in cell
    assert "ISO 3082 increments" in cell


def test_a_sampling_time_without_its_offset_comes_back_on_its_field(master, technician):
    before = counts()
    response = signed_in(technician).post(REGISTER, form_data(sampled_at="2026-04-29T07:30"))
    assert response.status_code == 400
    errors = re.search(r'data-testid="error-sampled_at">(.*?)</ul>', response.content.decode(), flags=re.S)
    assert errors is not None
    assert "has no UTC offset" in unescape(errors.group(1))
    assert counts() == before


def test_form_errors_come_back_on_their_fields_and_nothing_is_written(master, technician):
    sample_register(actor=None, code="TAKEN", lot=lot_create(actor=None, code="F-T", site=master.uk_site, kind=LotKind.FEEDSTOCK))
    before = counts()
    response = signed_in(technician).post(
        REGISTER, form_data(sample_id="bad id", sample_mass_g="-1", dilution_factor="0.5", lot_kind="product", product="")
    )
    assert response.status_code == 400
    html = response.content.decode()
    for field, says in [
        ("sample_id", "use 1-40 letters"),
        ("sample_mass_g", "must be more than 0 g"),
        ("dilution_factor", "must be at least 1"),
        ("product", "a product lot names its product"),
    ]:
        errors = re.search(rf'data-testid="error-{field}">(.*?)</ul>', html, re.S)
        assert errors is not None, field
        assert says in unescape(errors.group(1))
    assert 'name="sample_id" value="bad id"' in html  # what was typed stays
    assert counts() == before
    # A database refusal lands on its field too.
    response = signed_in(technician).post(REGISTER, form_data(sample_id="TAKEN"))
    assert response.status_code == 400
    assert "already registered with lot &#x27;F-T&#x27;" in response.content.decode()


def test_a_uk_technician_cannot_pick_us1_in_the_form(master, technician):
    response = signed_in(technician).post(REGISTER, form_data(site="US1"))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert Sample.objects.count() == 0


# --- Sheet: preview and confirm ---------------------------------------------------------------------


SHEET = "\n".join(
    [
        HEADER + ",colour",
        "S-1,F-SHEET,feedstock,,SUPP,0.1,50,10,UK1,red",
        "S-2,F-SHEET,feedstock,,SUPP,0.1,50,10,UK1,red",
        "P-1,P-SHEET,product,ND-OX,,0.2,100,100,UK1,blue",
    ]
)


def test_the_htmx_preview_shows_the_rows_new_lots_and_a_confirm_button_and_writes_nothing(master, technician):
    before = counts()
    response = signed_in(technician).post(PREVIEW, {"sheet_text": SHEET, "site": "UK1"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the fragment only
    assert preview_rows(html) == {2: "create", 3: "create", 4: "create"}
    assert re.search(
        r'data-testid="new-lots">Lots to be created: <span class="code">F-SHEET</span>, <span class="code">P-SHEET</span>', html
    )
    assert "<code>colour</code>" in html.split('data-testid="ignored-columns"')[1]
    assert "Confirm: register 3 samples" in html
    assert counts() == before


def test_the_preview_highlights_every_error_on_its_line_and_offers_no_confirm(master, technician):
    sheet = "\n".join(
        [
            HEADER,
            "S-1,F-SHEET,feedstock,,SUPP,0.1,50,10,UK1",
            "S-1,F-SHEET,feedstock,,SUPP,0,50,10,UK1",
            "S-3,F-SHEET,feedstock,,NOBODY,0.1,50,10,US1",
        ]
    )
    html = signed_in(technician).post(PREVIEW, {"sheet_text": sheet, "site": "UK1"}, **HTMX).content.decode()
    assert preview_rows(html) == {2: "create", 3: "error", 4: "error"}
    assert line_errors(html, 3) == ["sample_id: sample id 'S-1' is already on line 2", "sample_mass_g: '0': must be more than 0 g"]
    assert line_errors(html, 4) == [
        "supplier: lot 'F-SHEET' has supplier 'SUPP' on line 2 but 'NOBODY' here; all rows of one lot describe it the same way"
    ]
    assert "3 errors: nothing will be registered." in html
    assert 'data-testid="confirm-form"' not in html


def test_sheet_errors_not_on_a_row_are_listed_above_the_table(master, technician):
    html = signed_in(technician).post(PREVIEW, {"sheet_text": "sample_id,lot\nA,B\n", "site": "UK1"}, **HTMX).content.decode()
    assert "line 1, column lot_kind: missing required column &#x27;lot_kind&#x27;" in html
    assert 'data-testid="confirm-form"' not in html


def test_an_empty_preview_request_says_what_is_missing(master, technician):
    response = signed_in(technician).post(PREVIEW, {"sheet_text": "  ", "site": "UK1"}, **HTMX)
    assert response.status_code == 200
    assert "Paste a sample sheet or choose a file." in response.content.decode()
    plain = signed_in(technician).post(PREVIEW, {"sheet_text": "", "site": "UK1"})
    assert plain.status_code == 400
    assert "Paste a sample sheet or choose a file." in plain.content.decode()


def test_an_uploaded_file_previews_and_confirms_without_javascript(master, technician):
    client = signed_in(technician)
    upload = SimpleUploadedFile("lab sheet.csv", SHEET.replace("\n", "\r\n").encode("utf-16"), content_type="text/csv")
    response = client.post(PREVIEW, {"sheet_file": upload, "site": "UK1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html  # no htmx: the whole page, with the preview in it
    assert preview_rows(html) == {2: "create", 3: "create", 4: "create"}
    assert 'Preview: <span class="code">lab sheet.csv</span>' in html
    # Confirm posts the decoded text back; the samples are written only now.
    text = unescape(re.search(r'name="sheet_text" value="([^"]*)"', html, re.S).group(1))
    assert Sample.objects.count() == 0
    done = client.post(CONFIRM, {"sheet_text": text, "site": "UK1", "file_name": "lab sheet.csv"})
    assert done.status_code == 302
    assert done["Location"] == REGISTER  # two lots: back to the registration page
    assert sorted(Sample.objects.values_list("code", flat=True)) == ["P-1", "S-1", "S-2"]
    assert "Registered 3 samples; created lots F-SHEET, P-SHEET." in client.get(REGISTER).content.decode()
    event = AuditEvent.objects.filter(entity="assays.sample").first()
    assert (event.reason, event.context["sample_sheet"]) == ("sample sheet lab sheet.csv", "lab sheet.csv")


def test_confirming_a_sheet_into_one_lot_goes_to_the_lot_and_a_second_confirm_changes_nothing(master, technician):
    client = signed_in(technician)
    sheet = HEADER + "\nS-1,F-ONE,feedstock,,SUPP,0.1,50,10,\nS-2,F-ONE,feedstock,,SUPP,0.1,50,10,\n"
    done = client.post(CONFIRM, {"sheet_text": sheet, "site": "UK1"})
    assert done["Location"] == reverse("web:lot_detail", args=["F-ONE"])
    assert Sample.objects.filter(lot__code="F-ONE", site__code="UK1").count() == 2
    before = counts()
    again = client.post(CONFIRM, {"sheet_text": sheet, "site": "UK1"})
    assert again.status_code == 302
    assert counts() == before
    html = client.post(PREVIEW, {"sheet_text": sheet, "site": "UK1"}, **HTMX).content.decode()
    assert preview_rows(html) == {2: "unchanged", 3: "unchanged"}
    assert "Nothing to register" in html


def test_a_confirm_checks_again_and_shows_what_changed_since_the_preview(master, technician):
    client = signed_in(technician)
    sheet = HEADER + "\nS-1,F-RACE,feedstock,,SUPP,0.1,50,10,UK1\n"
    assert 'data-testid="confirm-form"' in client.post(PREVIEW, {"sheet_text": sheet, "site": "UK1"}, **HTMX).content.decode()
    # Meanwhile someone registers S-1 in another lot.
    sample_register(actor=None, code="S-1", lot=lot_create(actor=None, code="F-ELSE", site=master.uk_site, kind=LotKind.FEEDSTOCK))
    before = counts()
    response = client.post(CONFIRM, {"sheet_text": sheet, "site": "UK1"})
    assert response.status_code == 400
    html = response.content.decode()
    assert line_errors(html, 2) == ["lot: sample 'S-1' is already registered with lot 'F-ELSE'"]
    assert counts() == before


def test_a_confirm_without_a_sheet_goes_back_to_the_page(master, technician):
    response = signed_in(technician).post(CONFIRM, {})
    assert response.status_code == 302
    assert response["Location"] == REGISTER


def test_the_template_download_is_a_valid_sheet_header(master, technician):
    response = signed_in(technician).get("/samples/register/template.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    parsed = parse_sample_sheet(response.content)
    assert parsed.errors == []
    assert parsed.ignored_columns == []
    assert [row.sample_id for row in parsed.rows] == ["S-0001"]


# --- Labels ------------------------------------------------------------------------------------------


def label_svgs(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="label" data-sample="([^"]+)">\s*(<svg.*?</svg>)', html, re.S))


def path_data(svg: str) -> str:
    match = re.search(r'<path[^>]* d="([^"]+)"', svg)
    assert match is not None, svg
    return match.group(1)


@pytest.fixture
def labelled(master) -> Lot:
    lot = lot_create(actor=None, code="F-LABEL", site=master.uk_site, kind=LotKind.FEEDSTOCK)
    for code in ("LB-001", "LB-002", "LB-003.DUP"):
        sample_register(actor=None, code=code, lot=lot)
    return lot


def test_each_label_is_the_sample_id_in_text_and_in_its_qr_code(labelled, technician):
    response = signed_in(technician).get(reverse("web:lot_labels", args=[labelled.code]))
    assert response.status_code == 200
    html = response.content.decode()
    svgs = label_svgs(html)
    assert sorted(svgs) == ["LB-001", "LB-002", "LB-003.DUP"]
    for code, svg in svgs.items():
        # Re-encoded independently: the symbol on the label is the QR code of exactly this id.
        expected = segno.make(code, error="m", micro=False, boost_error=False)
        assert path_data(svg) == path_data(expected.svg_inline(scale=1, border=2, omitsize=True))
        assert re.search(rf'<div class="label-id[^"]*">{re.escape(code)}</div>', html)
    # Another id's symbol differs, so the comparison above means something.
    assert path_data(svgs["LB-001"]) != path_data(svgs["LB-002"])
    stylesheet = finders.find("css/lims.css")
    assert isinstance(stylesheet, str)
    assert "@media print" in Path(stylesheet).read_text(encoding="utf-8")


def test_labels_start_at_a_chosen_position_and_fill_a4_sheets_of_21(master, technician):
    lot = lot_create(actor=None, code="F-MANY", site=master.uk_site, kind=LotKind.FEEDSTOCK)
    for index in range(20):
        sample_register(actor=None, code=f"M-{index:02d}", lot=lot)
    html = signed_in(technician).get(reverse("web:lot_labels", args=[lot.code]), {"start": "5"}).content.decode()
    sheets = html.split('data-testid="label-sheet"')[1:]
    assert len(sheets) == 2  # 4 blanks + 20 labels = 24 cells: 21 on the first sheet, 3 on the second
    assert sheets[0].count("label-blank") == 4
    assert sheets[0].count('data-testid="label"') == 17
    assert sheets[1].count('data-testid="label"') == 3
    # A nonsense start is clamped, never an error.
    for start in ("0", "-3", "99", "x"):
        assert signed_in(technician).get(reverse("web:lot_labels", args=[lot.code]), {"start": start}).status_code == 200


def test_another_sites_lot_has_no_labels_page(labelled, us_technician, partner_a_user):
    assert signed_in(us_technician).get(reverse("web:lot_labels", args=[labelled.code])).status_code == 404
    assert signed_in(us_technician).get(reverse("web:lot_labels", args=["NO-SUCH-LOT"])).status_code == 404
    assert signed_in(partner_a_user).get(reverse("web:lot_labels", args=[labelled.code])).status_code == 403


def test_qa_may_print_labels_too(labelled, qa):
    assert signed_in(qa).get(reverse("web:lot_labels", args=[labelled.code])).status_code == 200
