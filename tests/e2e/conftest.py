"""The browser every end-to-end test drives: Debian's chromium, headless and offline.

Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls from a thread
with a running loop unless told the code is in fact synchronous, which it is here. The ``page``
fixture says so for the test's duration only: set for the whole process, the variable would leak
into every subprocess a later test starts (``manage.py check --deploy`` rightly fails on it).

While that loop runs, Django keeps this thread's database connections apart from the ones it had
before (asgiref stores them per async context). So test data is created before the browser starts
(request the data fixture before ``page``), and any connection opened while the browser is up is
closed before it stops; otherwise it outlives the test and PostgreSQL refuses to drop the test
database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.conftest import CHROMIUM

RESULTS = Path(__file__).resolve().parents[2] / "test-results"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Imported here: without playwright the root conftest skips (or, in CI, fails) the test with a reason.
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    RESULTS.mkdir(exist_ok=True)
    offsite: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        context.set_default_timeout(20_000)

        def only_this_server(route: Any) -> None:
            # The lab may be offline: a page that needs another host is a bug, not a slow load.
            if route.request.url.startswith(live_server.url):
                route.continue_()
            else:
                offsite.append(route.request.url)
                route.abort()

        context.route("**/*", only_this_server)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        try:
            yield page
        finally:
            context.close()
            browser.close()
            connections.close_all()
    assert offsite == [], f"the pages asked for other hosts: {offsite}"
    assert errors == [], f"the browser reported errors: {errors}"
