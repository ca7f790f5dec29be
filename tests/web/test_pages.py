"""The web UI shell: sign-in, the dashboard's real counts, the lot list and the lot page, each
scoped to the persona looking at it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assays.models import (
    CustodyEventKind,
    Flag,
    FlagKind,
    FlagStatus,
    Lot,
    LotKind,
    LotStatus,
    Run,
    RunStatus,
    SampleStatus,
    WorkerHeartbeat,
)
from assays.selectors.dashboard import dashboard_counts
from assays.services.lots import lot_allocate, lot_create, lot_input_add
from assays.services.samples import custody_event_record, sample_register
from tests.factories import (
    PASSWORD,
    InstrumentFactory,
    LotFactory,
    MethodFactory,
    ProductFactory,
    SampleFactory,
    UserFactory,
)

# Literal paths: reversing at import time would load the whole URLconf during collection.
DASHBOARD = "/"
LOTS = "/lots/"


def test_the_page_paths_are_the_named_routes():
    assert (reverse("web:dashboard"), reverse("web:lot_list"), reverse("login")) == (DASHBOARD, LOTS, "/login/")


def lot_url(code: str) -> str:
    return reverse("web:lot_detail", args=[code])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_lot_codes(html: str) -> set[str]:
    """The lot codes a lot table links to."""
    return set(re.findall(r'<a class="code" href="/lots/[^"]+/">([^<]+)</a>', html))


def shown_count(html: str, section: str, status: str) -> int:
    """The number the dashboard prints for ``status`` in one of its breakdowns."""
    block = re.search(rf'data-testid="{section}">(.*?)</ul>', html, re.S)
    assert block is not None, f"no {section} breakdown on the page"
    row = re.search(rf'data-status="{status}">.*?data-testid="count">(\d+)<', block.group(1), re.S)
    assert row is not None, f"no {status} row in {section}"
    return int(row.group(1))


def tile_value(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">.*?class="tile-value[^"]*">\s*(.*?)\s*</div>', html, re.S)
    assert match is not None, f"no {testid} tile"
    return " ".join(match.group(1).split())


# --- Sign-in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DASHBOARD, LOTS, "/lots/ANY-LOT/"])
def test_an_anonymous_visitor_is_sent_to_the_login_page(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={path}"


def test_the_login_form_signs_a_technician_in_and_lands_on_the_dashboard(client, technician):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()

    response = client.post(reverse("login"), {"username": "tech", "password": PASSWORD}, follow=True)

    assert response.redirect_chain == [(DASHBOARD, 302)]
    html = response.content.decode()
    assert "Laboratory dashboard" in html
    assert "tech" in html
    assert "Technician" in html
    assert "UK1" in html


def test_a_wrong_password_keeps_the_user_out_with_a_message(client, technician):
    response = client.post(reverse("login"), {"username": "tech", "password": "wrong-password-1"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get(DASHBOARD).status_code == 302


def test_signing_out_is_a_post_and_ends_the_session(technician):
    client = signed_in(technician)
    html = client.get(DASHBOARD).content.decode()
    assert re.search(r'<form method="post" action="/logout/">\s*<input type="hidden" name="csrfmiddlewaretoken"', html)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(DASHBOARD).status_code == 302


def test_the_frame_names_the_user_their_roles_and_sites(qa_manager, partner_a_user):
    html = signed_in(qa_manager).get(DASHBOARD).content.decode()
    assert "QA manager" in html
    assert "All sites" in html
    partner_html = signed_in(partner_a_user).get(DASHBOARD, follow=True).content.decode()  # the portal
    assert "Partner user" in partner_html
    assert "Partner A Magnets GmbH" in partner_html


# --- Dashboard ----------------------------------------------------------------------------------


@dataclass
class Floor:
    uk_on_hold: Lot
    us_rejected: Lot


@pytest.fixture
def floor(world, technician) -> Floor:
    """Lots, samples, runs and flags in several states at both sites."""
    uk, us = world.uk_site, world.us_site
    uk_open = [LotFactory(site=uk, status=LotStatus.OPEN) for _ in range(2)]
    uk_on_hold = LotFactory(site=uk, status=LotStatus.ON_HOLD)
    LotFactory(site=uk, status=LotStatus.RELEASED)
    us_open = LotFactory(site=us, status=LotStatus.OPEN)
    us_rejected = LotFactory(site=us, status=LotStatus.REJECTED)

    for _ in range(3):
        SampleFactory(lot=uk_open[0], status=SampleStatus.REGISTERED)
    SampleFactory(lot=uk_open[1], status=SampleStatus.IN_ANALYSIS)
    SampleFactory(lot=us_open, status=SampleStatus.COMPLETE)
    SampleFactory(lot=us_rejected, status=SampleStatus.COMPLETE)

    method = MethodFactory()
    runs: dict[str, Run] = {}
    for name, site, status in [
        ("uk_pending_1", uk, RunStatus.PENDING_QC),
        ("uk_pending_2", uk, RunStatus.PENDING_QC),
        ("uk_accepted", uk, RunStatus.ACCEPTED),
        ("us_pending", us, RunStatus.PENDING_QC),
    ]:
        runs[name] = Run.objects.create(
            site=site,
            instrument=InstrumentFactory(site=site),
            method=method,
            analyst=technician,
            source_filename=f"{name}.csv",
            source_sha256=f"{len(runs):064x}",
            status=status,
        )

    now = timezone.now()
    Flag.objects.create(kind=FlagKind.OFF_SPEC, lot=uk_on_hold, raised_at=now)
    Flag.objects.create(kind=FlagKind.QC_FAILURE, run=runs["uk_accepted"], raised_at=now)
    Flag.objects.create(kind=FlagKind.METHOD_DRIFT, method=method, raised_at=now)
    Flag.objects.create(kind=FlagKind.OFF_SPEC, lot=us_rejected, raised_at=now)
    Flag.objects.create(
        kind=FlagKind.INCONCLUSIVE,
        lot=uk_open[0],
        raised_at=now,
        status=FlagStatus.RESOLVED,
        resolved_at=now,
        resolved_by=technician,
        resolution_reason="re-run conforming",
    )
    return Floor(uk_on_hold=uk_on_hold, us_rejected=us_rejected)


def test_the_dashboard_counts_only_the_technicians_site(technician, floor):
    response = signed_in(technician).get(DASHBOARD)
    html = response.content.decode()

    assert {status: shown_count(html, "lots-by-status", status) for status in LotStatus.values} == {
        "open": 2,
        "assessed": 0,
        "on_hold": 1,
        "released": 1,
        "rejected": 0,  # the US lot is not the UK technician's business
    }
    assert {status: shown_count(html, "samples-by-status", status) for status in SampleStatus.values} == {
        "registered": 3,
        "received": 0,
        "in_analysis": 1,
        "complete": 0,
        "disposed": 0,
    }
    assert tile_value(html, "runs-awaiting-review") == "2"
    # UK lot flag + UK run flag + the lab-wide method flag; the resolved and the US ones are not open or not theirs.
    assert tile_value(html, "open-flags") == "3"
    assert tile_value(html, "lots-total") == "4"


def test_the_dashboard_counts_every_site_for_the_qa_manager(qa_manager, floor):
    html = signed_in(qa_manager).get(DASHBOARD).content.decode()

    assert shown_count(html, "lots-by-status", "rejected") == 1
    assert shown_count(html, "lots-by-status", "open") == 3
    assert shown_count(html, "samples-by-status", "complete") == 2
    assert tile_value(html, "runs-awaiting-review") == "3"
    assert tile_value(html, "open-flags") == "4"


def test_the_dashboard_selector_scopes_the_us_lot_to_the_people_who_see_it(technician, us_technician, qa_manager, floor):
    def rejected(actor) -> int:
        return next(item.count for item in dashboard_counts(actor=actor).lots_by_status if item.value == "rejected")

    assert rejected(technician) == 0
    assert rejected(us_technician) == 1
    assert rejected(qa_manager) == 1
    assert dashboard_counts(actor=us_technician).runs_awaiting_review == 1


def test_partners_count_no_runs_or_flags(partner_a_user, floor):
    counts = dashboard_counts(actor=partner_a_user)
    assert counts.runs_awaiting_review == 0
    assert counts.open_flags == 0
    assert counts.lots_total == 0


def test_the_dashboard_says_when_no_worker_has_reported(technician):
    html = signed_in(technician).get(DASHBOARD).content.decode()
    assert "No worker has reported" in tile_value(html, "worker-heartbeat")


def test_the_dashboard_says_how_long_ago_the_last_worker_heartbeat_was(technician):
    now = timezone.now()
    WorkerHeartbeat.objects.create(hostname="celery@old", last_seen_at=now - dt.timedelta(minutes=42))
    WorkerHeartbeat.objects.create(hostname="celery@recent", last_seen_at=now - dt.timedelta(minutes=7, seconds=10))

    html = signed_in(technician).get(DASHBOARD).content.decode()

    assert tile_value(html, "worker-heartbeat") == "Last worker heartbeat 7 minutes ago"


def test_a_partner_user_gets_a_page_of_their_own_lots(world, partner_a_user):
    LotFactory(code="FROM-A", site=world.uk_site, supplier=world.partner_a)
    LotFactory(site=world.uk_site, supplier=world.partner_b)

    # Their start page is the partner portal's lot list (tests/web/test_portal.py).
    response = signed_in(partner_a_user).get(DASHBOARD, follow=True)

    assert response.redirect_chain == [("/portal/", 302)]
    assert next(t.name for t in response.templates) == "portal/lots.html"
    assert set(re.findall(r'href="/portal/lots/([^"]+)/"', response.content.decode())) == {"FROM-A"}


def test_a_user_without_a_role_sees_no_data(world):
    LotFactory(site=world.uk_site)
    user = UserFactory(username="nobody")
    html = signed_in(user).get(DASHBOARD).content.decode()
    assert "no laboratory or partner role" in html
    assert signed_in(user).get(LOTS).status_code == 200
    assert page_lot_codes(signed_in(user).get(LOTS).content.decode()) == set()


# --- Lot list -----------------------------------------------------------------------------------


@pytest.fixture
def spread(world):
    """One lot per site, one supplied by partner A, one product allocated to partner B."""
    product = ProductFactory(code="NDPR-OX")
    lots = {
        "uk": LotFactory(code="UK-FEED-1", site=world.uk_site),
        "us": LotFactory(code="US-FEED-1", site=world.us_site),
        "from_a": LotFactory(code="UK-FEED-A", site=world.uk_site, supplier=world.partner_a),
        "for_b": LotFactory(code="US-PROD-B", site=world.us_site, kind=LotKind.PRODUCT, product=product, status=LotStatus.RELEASED),
    }
    lot_allocate(actor=None, lot=lots["for_b"], customer=world.partner_b, mass_kg=Decimal("100"))
    return lots


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("technician", {"UK-FEED-1", "UK-FEED-A"}),
        ("us_technician", {"US-FEED-1", "US-PROD-B"}),
        ("qa_manager", {"UK-FEED-1", "UK-FEED-A", "US-FEED-1", "US-PROD-B"}),
        ("partner_a_user", {"UK-FEED-A"}),
        ("partner_b_user", {"US-PROD-B"}),
    ],
)
def test_the_lot_list_shows_each_persona_only_their_lots(request, spread, persona, expected):
    user = request.getfixturevalue(persona)
    html = signed_in(user).get(LOTS).content.decode()
    assert page_lot_codes(html) == expected


def test_the_lot_list_filters_by_status_and_kind(qa_manager, spread):
    client = signed_in(qa_manager)
    assert page_lot_codes(client.get(LOTS, {"status": "released"}).content.decode()) == {"US-PROD-B"}
    assert page_lot_codes(client.get(LOTS, {"kind": "feedstock", "q": "uk-"}).content.decode()) == {"UK-FEED-1", "UK-FEED-A"}
    assert page_lot_codes(client.get(LOTS, {"status": "open", "kind": "product"}).content.decode()) == set()


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"kind": "<script>"}, {"page": "x"}, {"page": "-4"}, {"q": "z" * 500}])
def test_a_tampered_filter_never_breaks_the_lot_list(technician, spread, query):
    response = signed_in(technician).get(LOTS, query)
    assert response.status_code == 200
    if "q" not in query:
        # The bad filter is dropped; the page still lists the user's lots.
        assert page_lot_codes(response.content.decode()) == {"UK-FEED-1", "UK-FEED-A"}


def test_an_htmx_filter_request_returns_the_table_partial_only(technician, spread):
    client = signed_in(technician)

    partial = client.get(LOTS, {"q": "FEED-A"}, HTTP_HX_REQUEST="true")
    full = client.get(LOTS, {"q": "FEED-A"})

    html = partial.content.decode()
    assert html.lstrip().startswith('<div id="lot-table">')
    assert "<html" not in html
    assert "<nav" not in html.split('class="pager"')[0]
    assert page_lot_codes(html) == {"UK-FEED-A"}
    assert "<html" in full.content.decode()
    # Browsers and caches must not serve one for the other.
    assert "HX-Request" in partial["Vary"]
    assert "HX-Request" in full["Vary"]


def test_a_history_restore_gets_the_whole_page(technician, spread):
    response = signed_in(technician).get(LOTS, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.content.decode()


def test_the_lot_list_pages_through_many_lots_keeping_its_filters(world, technician):
    for n in range(30):
        LotFactory(code=f"BULK-{n:02d}", site=world.uk_site)
    LotFactory(code="OTHER-1", site=world.uk_site)
    client = signed_in(technician)

    first = client.get(LOTS, {"q": "BULK"}).content.decode()
    second = client.get(LOTS, {"q": "BULK", "page": "2"}).content.decode()

    assert len(page_lot_codes(first)) == 25
    assert len(page_lot_codes(second)) == 5
    assert page_lot_codes(first) | page_lot_codes(second) == {f"BULK-{n:02d}" for n in range(30)}
    assert "Lots 1\N{EN DASH}25 of 30" in first
    assert 'href="/lots/?q=BULK&amp;page=2"' in first


# --- Lot page -----------------------------------------------------------------------------------


@dataclass
class Plant:
    feed: Lot
    swarf: Lot
    product: Lot
    downstream: Lot
    us_feed: Lot


@pytest.fixture
def plant(world, technician) -> Plant:
    """Two feedstock lots (one from partner A) refined into a product lot split between both
    partners, with samples and a shipment; built through the services, as the lab would."""
    uk, us = world.uk_site, world.us_site
    product = ProductFactory(code="NDPR-OX", name="NdPr oxide 99.5%")
    feed = lot_create(
        actor=technician,
        code="FS-2024-001",
        site=uk,
        kind=LotKind.FEEDSTOCK,
        mass_kg=Decimal("1200"),
        supplier=world.partner_a,
        feedstock_type="end_of_life_magnets",
        magnet_chemistry="ndfeb",
        is_recycled=True,
        country_of_collection="de",
    )
    swarf = lot_create(actor=technician, code="FS-2024-002", site=uk, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("800"))
    product_lot = lot_create(
        actor=technician,
        code="PR-2024-017",
        site=uk,
        kind=LotKind.PRODUCT,
        product=product,
        mass_kg=Decimal("500"),
        is_recycled=True,
        country_of_collection="DE",
        country_of_separation="GB",
        country_of_oxide_production="GB",
    )
    downstream = lot_create(actor=technician, code="PR-2024-018", site=uk, kind=LotKind.PRODUCT, product=product, mass_kg=Decimal("50"))
    us_feed = lot_create(actor=None, code="US-FS-9", site=us, kind=LotKind.FEEDSTOCK, mass_kg=Decimal("100"))
    lot_input_add(actor=technician, input_lot=feed, output_lot=product_lot, mass_used_kg=Decimal("612.5"))
    lot_input_add(actor=technician, input_lot=swarf, output_lot=product_lot, mass_used_kg=Decimal("250"))
    lot_input_add(actor=None, input_lot=us_feed, output_lot=product_lot, mass_used_kg=Decimal("40"))
    lot_input_add(actor=technician, input_lot=product_lot, output_lot=downstream, mass_used_kg=Decimal("20"))
    lot_allocate(actor=technician, lot=product_lot, customer=world.partner_a, mass_kg=Decimal("300"), reference="PO-A-7781")
    lot_allocate(actor=technician, lot=product_lot, customer=world.partner_b, mass_kg=Decimal("150"), reference="PO-B-0042")
    s1 = sample_register(
        actor=technician,
        code="pr17-a",
        lot=product_lot,
        sample_mass_g=Decimal("0.1002"),
        final_volume_ml=Decimal("50"),
        dilution_factor=Decimal("20"),
    )
    sample_register(actor=technician, code="PR17-B", lot=product_lot, sample_type="duplicate", sample_mass_g=Decimal("0.0998"))
    custody_event_record(
        actor=technician, sample=s1, kind=CustodyEventKind.SHIPPED, to_site=us, carrier_reference="DHL 123", note="for ICP-OES"
    )
    return Plant(feed=feed, swarf=swarf, product=product_lot, downstream=downstream, us_feed=us_feed)


def test_the_lot_page_shows_facts_samples_genealogy_allocations_and_custody(technician, plant):
    response = signed_in(technician).get(lot_url("PR-2024-017"))
    assert response.status_code == 200
    html = response.content.decode()

    assert "NdPr oxide 99.5%" in html
    provenance = re.search(r'data-testid="provenance">(.*?)</dl>', html, re.S).group(1)
    assert re.findall(r'<dd class="code">(\w+|—)</dd>', provenance) == ["DE", "GB", "GB"]

    samples = re.search(r'data-testid="samples">(.*?)</table>', html, re.S).group(1)
    assert "PR17-A" in samples
    assert "PR17-B" in samples
    assert "0.1002" in samples
    assert "Duplicate" in samples
    assert ">20<" in samples

    inputs = re.search(r'data-testid="inputs">(.*?)</table>', html, re.S).group(1)
    assert '<a class="code" href="/lots/FS-2024-001/">FS-2024-001</a>' in inputs
    assert "612.5" in inputs
    assert "250" in inputs
    # A lot of another site: its code and mass are this lot's provenance, but it is not a link for a UK technician.
    assert '<span class="code">US-FS-9</span>' in inputs
    assert 'href="/lots/US-FS-9/"' not in inputs
    outputs = re.search(r'data-testid="outputs">(.*?)</table>', html, re.S).group(1)
    assert "PR-2024-018" in outputs

    allocations = re.search(r'data-testid="allocations">(.*?)</table>', html, re.S).group(1)
    assert "Partner A Magnets GmbH" in allocations
    assert "PO-A-7781" in allocations
    assert "Partner B Motors Ltd" in allocations
    assert "PO-B-0042" in allocations

    custody = re.search(r'data-testid="custody">(.*?)</table>', html, re.S).group(1)
    assert custody.count("Registered") == 2
    assert "Shipped" in custody
    assert "US1 — Texas separation plant" in custody
    assert "DHL 123" in custody


def test_a_partner_sees_its_own_allocation_but_not_the_labs_records(partner_a_user, plant):
    html = signed_in(partner_a_user).get(lot_url("PR-2024-017")).content.decode()

    assert "PO-A-7781" in html
    assert "PO-B-0042" not in html
    assert "Partner B Motors Ltd" not in html
    assert "PR17-A" not in html
    assert 'data-testid="custody"' not in html
    inputs = re.search(r'data-testid="inputs">(.*?)</table>', html, re.S).group(1)
    # Partner A supplied FS-2024-001; the other inputs are other suppliers' business.
    assert "FS-2024-001" in inputs
    assert "FS-2024-002" not in inputs
    assert "US-FS-9" not in inputs


@pytest.mark.parametrize(
    ("persona", "code"),
    [
        ("technician", "US-FS-9"),  # another site
        ("us_technician", "PR-2024-017"),
        ("partner_b_user", "FS-2024-001"),  # supplied by partner A
        ("partner_a_user", "FS-2024-002"),  # nobody's partner lot
        ("technician", "NO-SUCH-LOT"),
    ],
)
def test_a_lot_the_user_cannot_see_is_not_found(request, plant, persona, code):
    response = signed_in(request.getfixturevalue(persona)).get(lot_url(code))
    assert response.status_code == 404
    assert code not in response.content.decode() or code == "NO-SUCH-LOT"


@pytest.mark.parametrize("path", ["/lots/%00/", "/lots/FS%00-1/", "/lots/" + "X" * 5000 + "/", "/lots/%E2%82%AC/", "/lots/%FF/"])
def test_a_malformed_lot_code_is_not_found_rather_than_an_error(technician, path):
    client = signed_in(technician)
    client.raise_request_exception = False
    assert client.get(path).status_code == 404


def test_a_lot_code_with_a_slash_round_trips(world, technician):
    LotFactory(code="FS/2024 #3", site=world.uk_site)
    client = signed_in(technician)
    html = client.get(LOTS).content.decode()
    (href,) = re.findall(r'href="(/lots/FS[^"]+)"', html)
    assert client.get(href).status_code == 200


def test_the_lot_page_costs_a_fixed_number_of_queries(world, technician, plant, django_assert_max_num_queries):
    client = signed_in(technician)
    with CaptureQueriesContext(connection) as small:
        assert client.get(lot_url("PR-2024-017")).status_code == 200

    # Ten times the samples, custody events, inputs and allocations: the same queries.
    for n in range(20):
        sample = sample_register(actor=technician, code=f"EXTRA-{n}", lot=plant.product)
        custody_event_record(actor=technician, sample=sample, kind=CustodyEventKind.RECEIVED, to_location="Store")
        extra = lot_create(actor=technician, code=f"FS-EXTRA-{n}", site=world.uk_site, kind=LotKind.FEEDSTOCK, supplier=world.partner_a)
        lot_input_add(actor=technician, input_lot=extra, output_lot=plant.product, mass_used_kg=Decimal("1"))
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(lot_url("PR-2024-017"))
    assert response.content.decode().count("EXTRA-") >= 40
    assert len(small.captured_queries) <= 14


# --- Offline: no external assets ----------------------------------------------------------------


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def test_no_page_loads_anything_from_another_host(client, technician, partner_a_user, plant):
    pages = [("anonymous", client, reverse("login"))]
    for user in (technician, partner_a_user):
        c = signed_in(user)
        pages += [(user.username, c, DASHBOARD), (user.username, c, LOTS), (user.username, c, lot_url("PR-2024-017"))]
    pages.append(("technician", signed_in(technician), "/lots/NO-SUCH-LOT/"))

    seen: set[str] = set()
    for who, c, path in pages:
        html = c.get(path, follow=True).content.decode()  # a partner's start page redirects to the portal
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), f"{path} as {who} references another host"
        collector = _AssetCollector()
        collector.feed(html)
        assert collector.urls, f"{path} loads no stylesheet or script"
        seen.update(collector.urls)

    assert {"/static/css/lims.css", "/static/vendor/htmx/htmx.min.js"} <= seen
    for url in seen:
        assert finders.find(url.removeprefix("/static/")), f"{url} is referenced but not vendored"


def test_the_vendored_htmx_is_version_2_with_its_licence():
    source = Path(finders.find("vendor/htmx/htmx.min.js")).read_text(encoding="utf-8")
    assert 'version:"2.' in source.replace(" ", "")
    assert "Zero-Clause BSD" in Path(finders.find("vendor/htmx/LICENSE")).read_text(encoding="utf-8")


def test_the_shared_pager_links_keep_the_query_and_swap_their_own_region():
    from django.core.paginator import Paginator
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    page = Paginator(list(range(60)), 20).page(2)
    request = RequestFactory().get("/runs/", {"q": "ND", "page": "2"})
    html = render_to_string("_pager_nav.html", {"page": page, "target": "#run-table"}, request=request)
    assert 'href="/runs/?q=ND&amp;page=1" hx-get="/runs/?q=ND&amp;page=1" hx-target="#run-table"' in html
    assert 'href="/runs/?q=ND&amp;page=3"' in html
    assert "Page 2 of 3" in html
    # Links to another URL than the page's own (a log shown inside a webhook's page).
    elsewhere = render_to_string(
        "_pager_nav.html",
        {"page": page, "target": "#delivery-table", "pager_base": "/webhooks/3/deliveries/"},
        request=request,
    )
    assert (
        'href="/webhooks/3/deliveries/?q=ND&amp;page=3" hx-get="/webhooks/3/deliveries/?q=ND&amp;page=3" hx-target="#delivery-table"'
        in elsewhere
    )
    first = render_to_string("_pager_nav.html", {"page": Paginator(list(range(60)), 20).page(1), "target": "#run-table"}, request=request)
    assert "<span>← Previous</span>" in first  # nothing before the first page
