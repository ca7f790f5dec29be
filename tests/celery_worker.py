"""A real Celery worker process for the tests that need one (PostgreSQL + Redis only)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_worker(*, queue: str, env: Mapping[str, str]) -> subprocess.Popen[str]:
    """``celery -A lims worker`` consuming only ``queue`` (a test's own), one task at a time, its
    output kept for the failure message. The caller stops it (terminate, then wait)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "lims",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
