"""Running a piece of a test in another thread with its own database connection (race tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def start_in_thread(target: Callable[[], None]) -> threading.Thread:
    """Start ``target`` in a thread that closes its own connections when done, so none outlives
    the test (PostgreSQL would refuse to drop the test database)."""

    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread
