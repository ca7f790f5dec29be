"""pghistory's context (who, which request or task, why) on PostgreSQL, and nothing elsewhere.

pghistory injects its context into SQL as a PostgreSQL session variable; on SQLite that SQL would
fail, and there are no history triggers to read it anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pghistory
from django.db import connection
from django.http import HttpRequest, HttpResponse
from pghistory.middleware import HistoryMiddleware


@contextlib.contextmanager
def history_context(**metadata: Any) -> Iterator[None]:
    if connection.vendor != "postgresql":
        yield
        return
    with pghistory.context(**metadata):
        yield


class HistoryContextMiddleware(HistoryMiddleware):
    """pghistory's middleware, applied only where the database is PostgreSQL."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if connection.vendor != "postgresql":
            response: HttpResponse = self.get_response(request)
            return response
        tracked: HttpResponse = super().__call__(request)  # type: ignore[no-untyped-call]
        return tracked
