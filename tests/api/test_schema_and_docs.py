"""The OpenAPI schema is valid with no warning (what CI runs), is served, and the docs page works offline."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db

API_PATHS = {"/api/v1/lots/", "/api/v1/lots/{code}/", "/api/v1/samples/", "/api/v1/samples/{code}/"}


def test_the_schema_validates_with_no_warning(tmp_path: Path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    assert set(schema["paths"]) >= API_PATHS


def test_the_schema_is_served_as_openapi_3_to_anyone(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= API_PATHS
    lot_list = schema["paths"]["/api/v1/lots/"]["get"]
    assert {"status", "kind", "site", "product", "cursor", "page_size"} <= {parameter["name"] for parameter in lot_list["parameters"]}
    assert {"200", "400", "403"} <= set(lot_list["responses"])
    assert {"200", "403", "404"} <= set(schema["paths"]["/api/v1/lots/{code}/"]["get"]["responses"])
    detail = schema["components"]["schemas"]["LotDetail"]["properties"]
    assert {"samples", "inputs", "allocations", "supplier"} <= set(detail)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def test_the_docs_page_uses_only_local_static_files(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assets = _Assets()
    assets.feed(page)
    scripts = [url for url in assets.urls if url.endswith(".js")]
    assert scripts, "the Swagger UI bundle should be referenced"
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    for url in assets.urls:
        assert not url.startswith(("http://", "https://", "//")), url
        assert url.startswith(static_prefix), url
        # Served by this installation: the file is really there for the static files finders.
        assert finders.find(url.removeprefix(static_prefix)), url
    for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert cdn not in page
