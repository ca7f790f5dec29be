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


def wait_for_a_lock_wait(*, waiting_for: str, timeout: float = 10.0) -> None:
    """Until another backend of this PostgreSQL database is blocked on a lock; fails the test,
    saying what never waited (``waiting_for``), after ``timeout`` seconds."""
    import pytest

    pause = threading.Event()
    waited = 0.0
    while waited < timeout:
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            (blocked,) = cursor.fetchone()
        if blocked:
            return
        pause.wait(0.05)
        waited += 0.05
    pytest.fail(f"{waiting_for} never waited for the other transaction's lock")
