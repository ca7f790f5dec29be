"""The embedded mode's beat: which periodic task runs when (lims/embedded_beat.py)."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings

from lims.embedded_beat import PeriodicTask, periodic_tasks, run_due

TASKS = [PeriodicTask("minute", "t.minute", 60.0), PeriodicTask("five", "t.five", 300.0)]


def test_the_projects_schedule_is_read_entry_by_entry() -> None:
    tasks = periodic_tasks(settings.CELERY_BEAT_SCHEDULE)
    assert [task.entry for task in tasks] == list(settings.CELERY_BEAT_SCHEDULE)
    assessing = next(task for task in tasks if task.entry == "assess-stale-lots")
    assert (assessing.task, assessing.every_seconds) == ("assays.tasks.assess_stale_lots", 60.0)


@pytest.mark.parametrize("every", [0, -5, "*/5", None, True])
def test_a_schedule_it_cannot_keep_is_refused_not_skipped(every: object) -> None:
    with pytest.raises(ValueError, match="intervals in seconds"):
        periodic_tasks({"odd": {"task": "t.odd", "schedule": every}})


def test_every_task_runs_at_once_then_each_at_its_interval() -> None:
    ran: list[str] = []
    next_due: dict[str, float] = {}
    assert run_due(TASKS, next_due=next_due, now=1000.0, run=lambda task: ran.append(task.entry)) == 60.0
    assert ran == ["minute", "five"]
    assert run_due(TASKS, next_due=next_due, now=1030.0, run=lambda task: ran.append(task.entry)) == 30.0
    assert ran == ["minute", "five"]
    assert run_due(TASKS, next_due=next_due, now=1060.0, run=lambda task: ran.append(task.entry)) == 60.0
    assert ran == ["minute", "five", "minute"]
    # Fallen behind by an hour (the machine slept): each runs once, then keeps its interval.
    assert run_due(TASKS, next_due=next_due, now=4660.0, run=lambda task: ran.append(task.entry)) == 60.0
    assert ran == ["minute", "five", "minute", "minute", "five"]
    assert next_due == {"minute": 4720.0, "five": 4960.0}


def test_a_task_that_fails_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    def run(task: PeriodicTask) -> None:
        if task.entry == "minute":
            raise RuntimeError("database is locked")
        ran.append(task.entry)

    next_due: dict[str, float] = {}
    with caplog.at_level(logging.ERROR, logger="lims.embedded_beat"):
        run_due(TASKS, next_due=next_due, now=0.0, run=run)
    assert ran == ["five"]
    assert next_due["minute"] == 60.0  # tried again at its next time, not in a tight loop
    assert "minute (t.minute) failed" in caplog.text
    assert "database is locked" in caplog.text
