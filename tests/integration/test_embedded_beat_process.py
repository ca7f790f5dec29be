"""``make run``'s embedded beat as it starts on a fresh machine: its own process, the embedded mode
(SQLite, no broker), every periodic task of the schedule run once without an error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.integration.test_settings import embedded_env

ROOT = Path(__file__).resolve().parents[2]


def test_a_fresh_embedded_installation_runs_every_periodic_task(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    done = subprocess.run([*manage, "embedded_beat", "--once", "-v", "2"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "failed" not in done.stderr, done.stderr  # a task that fails is logged, and the run goes on
    ran = [line.split(":", 1)[0] for line in done.stdout.splitlines()]
    assert ran == list(settings.CELERY_BEAT_SCHEDULE)
    assert (tmp_path / "var" / "lims.sqlite3").exists()  # the embedded database, not the suite's
