"""The embedded mode's beat: the periodic tasks of ``CELERY_BEAT_SCHEDULE`` run in one process, in
order, each at its interval, with no broker and no worker.

In the embedded mode a task runs where it is enqueued, so nothing waits on a queue; what the beat
sweeps up still happens there: a lot whose assessment failed stays stale, a webhook delivery that
failed waits for its retry, a certificate waits for its rendering. ``manage.py embedded_beat``
(started by ``make run`` beside the web server) runs this loop; with a broker configured, the real
``celery beat`` does the same job and the command refuses to run.

PURE scheduling: what to run when. Running a task is the caller's ``run``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PeriodicTask:
    entry: str  # the schedule's key ("assess-stale-lots")
    task: str  # the task's registered name
    every_seconds: float


def periodic_tasks(schedule: Mapping[str, Mapping[str, Any]]) -> list[PeriodicTask]:
    """The entries of a Celery beat schedule whose interval is a number of seconds (the only kind
    this project's schedule has; a crontab entry is refused rather than silently never run)."""
    tasks = []
    for entry, spec in schedule.items():
        every = spec.get("schedule")
        if isinstance(every, bool) or not isinstance(every, int | float) or every <= 0:
            raise ValueError(f"beat entry {entry!r}: the embedded beat runs intervals in seconds, not {every!r}")
        tasks.append(PeriodicTask(entry=entry, task=str(spec["task"]), every_seconds=float(every)))
    return tasks


def run_due(tasks: list[PeriodicTask], *, next_due: dict[str, float], now: float, run: Callable[[PeriodicTask], None]) -> float:
    """Run every task that is due at ``now`` (one never run is due), in schedule order, and set its
    next time one interval later; a task that fails is logged and does not stop the others.
    Returns the seconds until the next one is due.

    The next time counts from ``now``, not from the missed one: a loop that fell behind (the
    laptop slept) runs each task once, not once per interval missed.
    """
    for task in tasks:
        if next_due.get(task.entry, now) <= now:
            try:
                run(task)
            except Exception:
                logger.exception("embedded beat: %s (%s) failed", task.entry, task.task)
            next_due[task.entry] = now + task.every_seconds
    return max(0.0, min(next_due[task.entry] for task in tasks) - now) if tasks else 60.0
