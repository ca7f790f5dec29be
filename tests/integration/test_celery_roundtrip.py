"""A task travels through the real Redis broker to a real worker process, which writes to the
real database, and the web side reads the result back from the domain table (no result backend)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from assays.models import WorkerHeartbeat
from assays.tasks import record_worker_heartbeat
from tests.celery_worker import start_worker


def _database_url_of_the_test_database() -> str:
    """The worker must write where this test reads: pytest-django's test database."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.redis
@pytest.mark.postgres
def test_a_task_round_trips_through_redis_and_a_real_worker(transactional_db: None, tmp_path: Path) -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    token = uuid.uuid4().hex
    # A queue of its own: a stale message from another run can never satisfy this test.
    queue = f"roundtrip-{token}"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_of_the_test_database(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LIMS_VAR_DIR": str(tmp_path),
    }
    worker = start_worker(queue=queue, env=env)
    try:
        record_worker_heartbeat.apply_async(kwargs={"token": token}, queue=queue)
        deadline = time.monotonic() + 60
        heartbeat = None
        while time.monotonic() < deadline and worker.poll() is None:
            heartbeat = WorkerHeartbeat.objects.filter(last_token=token).first()
            if heartbeat is not None:
                break
            time.sleep(0.25)
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert heartbeat is not None, f"the worker never wrote its heartbeat; worker output:\n{output[-4000:]}"
    assert heartbeat.hostname.startswith(queue + "@")
    assert heartbeat.beats == 1
    assert "assays.tasks.record_worker_heartbeat" in output


def test_the_heartbeat_task_upserts_one_row_per_worker(db: None) -> None:
    # apply() runs the task in-process, as the embedded mode's eager setting does for delay();
    # test_settings checks that the embedded mode is eager.
    token = uuid.uuid4().hex
    record_worker_heartbeat.apply(kwargs={"token": token})
    heartbeat = WorkerHeartbeat.objects.get(last_token=token)
    assert heartbeat.beats == 1
    record_worker_heartbeat.apply(kwargs={"token": token})
    heartbeat.refresh_from_db()
    assert heartbeat.beats == 2
