"""Filters narrow within the caller's scope, cursor pagination walks every row once, and no query string,
however malformed, gets past a 400 (in particular not to PostgreSQL, which refuses NUL bytes)."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from assays.services.lots import lot_transition
from tests.api.conftest import ALL_LOTS

pytestmark = pytest.mark.django_db


def _codes(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["code"] for row in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind=product", {"P-UK-SPLIT", "P-US-B", "P-UK-TRADED"}),
        ("kind=feedstock", {"F-UK-A", "F-US-B"}),
        ("site=US1", {"F-US-B", "I-US-1", "P-US-B"}),
        ("product=NDPR-OX", {"P-UK-SPLIT", "P-UK-TRADED"}),
        ("kind=product&site=UK1", {"P-UK-SPLIT", "P-UK-TRADED"}),
        ("site=NOWHERE", set()),
        ("status=open", ALL_LOTS),
        ("unknown_parameter=ignored", ALL_LOTS),
        # An empty filter means "any", as an HTML form sends it.
        ("status=&kind=&site=&product=", ALL_LOTS),
    ],
)
def test_lot_filters(plant, client_for, query, expected):
    assert set(_codes(client_for("lab_admin").get(f"/api/v1/lots/?{query}"))) == expected


def test_status_filter_follows_the_state_machine(plant, client_for):
    lot_transition(actor=None, lot=plant.split, to="on_hold", reason="off-spec Fe")
    client = client_for("qa_manager")
    assert _codes(client.get("/api/v1/lots/?status=on_hold")) == ["P-UK-SPLIT"]
    assert "P-UK-SPLIT" not in _codes(client.get("/api/v1/lots/?status=open"))


def test_filters_never_widen_the_scope(plant, client_for):
    as_b = client_for("partner_b_user")
    assert set(_codes(as_b.get("/api/v1/lots/?site=UK1"))) == {"P-UK-SPLIT", "P-UK-TRADED"}
    assert _codes(as_b.get("/api/v1/samples/?lot=F-UK-A")) == []
    assert _codes(client_for("technician").get("/api/v1/lots/?site=US1")) == []


def test_sample_filters(plant, client_for):
    client = client_for("qa_manager")
    assert _codes(client.get("/api/v1/samples/?lot=F-UK-A")) == ["S-FA-1", "S-FA-US"]
    assert _codes(client.get("/api/v1/samples/?lot=P-UK-SPLIT&status=registered")) == ["S-SPLIT-1"]
    assert _codes(client.get("/api/v1/samples/?status=complete")) == []


def test_cursor_pagination_walks_every_lot_once_newest_first(plant, client_for, world):
    client = client_for("lab_admin")
    seen: list[str] = []
    url: str | None = "/api/v1/lots/?page_size=2"
    pages = 0
    while url is not None:
        body = client.get(url).json()
        assert len(body["results"]) <= 2
        seen += [row["code"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(ALL_LOTS)
    assert seen[0] == "P-UK-TRADED"  # the last lot the plant created
    assert seen[-1] == "F-UK-A"


def test_cursor_pagination_goes_back_too(plant, client_for):
    client = client_for("qa_manager")
    first = client.get("/api/v1/samples/?page_size=3").json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()
    assert [row["code"] for row in back["results"]] == [row["code"] for row in first["results"]]


def _cursor(raw: str) -> str:
    return quote(base64.b64encode(raw.encode()).decode())


MALFORMED_LOT_QUERIES = [
    "status=bogus",
    "kind=ore",
    "site=%00",
    "site=UK1%00",
    "product=%00",
    "site=" + "X" * 41,
    "page_size=0",
    "page_size=-5",
    "page_size=ten",
    "page_size=" + "9" * 5000,
    "cursor=!!!not-base64",
    "cursor=" + quote("é"),
    "cursor=" + _cursor("o=-1"),
    "cursor=" + _cursor("r=maybe"),
    "cursor=" + _cursor("p=not-a-time"),
    "cursor=" + _cursor("p=2026-01-01 00:00:00"),  # naive: no time zone
    "cursor=" + _cursor("p=2026-13-45T99:00:00%2B00:00"),
    "cursor=" + _cursor("p=%00"),
]


@pytest.mark.parametrize("query", MALFORMED_LOT_QUERIES)
def test_malformed_lot_queries_answer_400_naming_the_parameter(plant, client_for, query):
    response = client_for("lab_admin").get(f"/api/v1/lots/?{query}")
    assert response.status_code == 400, response.content
    parameter = query.split("=", 1)[0]
    assert parameter in response.json()


MALFORMED_SAMPLE_QUERIES = [
    "lot=%00",
    "lot=" + "L" * 41,
    "status=lost",
    "cursor=" + _cursor("p=%00"),
    "cursor=" + _cursor("p=S-FA-1%00"),
]


@pytest.mark.parametrize("query", MALFORMED_SAMPLE_QUERIES)
def test_malformed_sample_queries_answer_400(plant, client_for, query):
    response = client_for("partner_b_user").get(f"/api/v1/samples/?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=", 1)[0] in response.json()


def test_a_well_formed_hand_made_cursor_is_accepted(plant, client_for):
    # An aware timestamp in the future: every lot is older, so the page is the whole list.
    response = client_for("lab_admin").get("/api/v1/lots/?cursor=" + _cursor("p=2999-01-01 00:00:00%2B00:00"))
    assert set(_codes(response)) == ALL_LOTS


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lots/%00/",
        "/api/v1/lots/P-UK-SPLIT%00/",
        "/api/v1/lots/" + "X" * 200 + "/",
        "/api/v1/lots/%E2%82%AC/",
        "/api/v1/samples/%00/",
        "/api/v1/samples/" + "S" * 200 + "/",
        "/api/v1/samples/%F0%9F%A7%AA/",
    ],
)
def test_odd_codes_in_the_path_answer_404(plant, client_for, path):
    response = client_for("lab_admin").get(path)
    assert response.status_code == 404
    assert "detail" in response.json()
