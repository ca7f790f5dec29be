"""Test-only: let Django's test flush empty the append-only audit tables.

A transactional test (pytest-django's ``transactional_db``, ``live_server``) ends with Django's
``flush``: DELETE on SQLite, TRUNCATE on PostgreSQL. The audit guard refuses both, exactly as it
must in production. So for the flush alone, and only in the test process, the guard is dropped
and re-installed inside one transaction, with the same ``assays.audit_guard`` SQL the migration
runs: if anything fails the transaction rolls back with the guard intact, and on PostgreSQL no
other connection ever sees the tables unguarded. Only the tables that were guarded before the
flush are re-guarded, so a table a migration forgot stays visibly unguarded to the tests that
check. The reference data of migration 0002 is put back afterwards, because later transactional
tests expect the elements and role groups a real installation has. Production code is untouched:
there is no switch to find. See docs/audit.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.test import TransactionTestCase

from assays import audit_guard, certificate_guard
from assays.reference_data import reference_data_ensure

_original_fixture_teardown: Callable[[TransactionTestCase], None] | None = None


def original_fixture_teardown() -> Callable[[TransactionTestCase], None]:
    """Django's own teardown, unwrapped: the guard refuses it (a test proves it)."""
    assert _original_fixture_teardown is not None, "the append_only plugin is not configured"
    return _original_fixture_teardown


def _fixture_teardown_around_guard(self: TransactionTestCase) -> None:
    flush = original_fixture_teardown()
    aliases = list(self._databases_names(include_mirrors=False))
    with contextlib.ExitStack() as stack:
        guarded: dict[str, list[str]] = {}
        for alias in aliases:
            stack.enter_context(transaction.atomic(using=alias))
            guarded[alias] = audit_guard.guarded_tables(connections[alias])
            audit_guard.uninstall(connections[alias], tables=guarded[alias])
            # Issued certificates are frozen the same way (the flush deletes them on SQLite).
            certificate_guard.uninstall(connections[alias])
        flush(self)
        for alias in aliases:
            audit_guard.install(connections[alias], tables=guarded[alias])
            certificate_guard.install(connections[alias])
        if DEFAULT_DB_ALIAS in aliases:
            reference_data_ensure()


def pytest_configure(config: pytest.Config) -> None:
    global _original_fixture_teardown
    if _original_fixture_teardown is None:
        _original_fixture_teardown = TransactionTestCase._fixture_teardown
        TransactionTestCase._fixture_teardown = _fixture_teardown_around_guard


def pytest_unconfigure(config: pytest.Config) -> None:
    global _original_fixture_teardown
    if _original_fixture_teardown is not None:
        TransactionTestCase._fixture_teardown = _original_fixture_teardown
        _original_fixture_teardown = None
