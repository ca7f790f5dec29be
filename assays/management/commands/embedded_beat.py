"""``python manage.py embedded_beat [--once]``: the embedded mode's beat (``lims.embedded_beat``).

Runs the tasks of ``CELERY_BEAT_SCHEDULE`` in this process, each at its interval, until stopped
(Ctrl-C); ``--once`` runs each once and exits. ``make run`` starts it beside the web server. With a
broker configured it refuses: ``celery -A lims beat`` and the workers do this there.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from lims.embedded_beat import PeriodicTask, periodic_tasks, run_due


class Command(BaseCommand):
    help = "Run the periodic tasks in this process at their intervals (the embedded mode: no broker, no worker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every periodic task once, now, and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        from lims.celery import app

        if not app.conf.task_always_eager:
            raise CommandError("a broker is configured (CELERY_BROKER_URL): run `celery -A lims beat` and the workers instead")
        tasks = periodic_tasks(settings.CELERY_BEAT_SCHEDULE)
        # The apps' tasks modules, as a worker imports them when it starts (autodiscovery is lazy).
        app.loader.import_default_modules()
        unknown = sorted({task.task for task in tasks} - set(app.tasks))
        if unknown:
            raise CommandError(f"the beat schedule names tasks no app defines: {', '.join(unknown)}")
        verbosity = int(options["verbosity"])
        if verbosity < 2:
            # Celery logs every task that succeeds: six lines a minute beside the web server's log.
            logging.getLogger("celery.app.trace").setLevel(logging.WARNING)

        def run(task: PeriodicTask) -> None:
            # In-process, as the embedded mode runs every task; what it enqueues runs here too.
            result = app.tasks[task.task].apply(throw=True)
            if verbosity >= 2:
                self.stdout.write(f"{task.entry}: {result.result!r}")

        if not options["once"]:
            every = ", ".join(f"{task.entry} every {task.every_seconds:g} s" for task in tasks)
            self.stdout.write(f"Embedded beat: {every}. Ctrl-C stops it.")
        next_due: dict[str, float] = {}
        try:
            while True:
                wait = run_due(tasks, next_due=next_due, now=time.monotonic(), run=run)
                if options["once"]:
                    return
                # Between ticks, as Django does between requests: a connection the database
                # dropped, or past CONN_MAX_AGE, is closed here and the next tick opens a new one.
                close_old_connections()
                time.sleep(wait)
        except KeyboardInterrupt:
            self.stdout.write("Embedded beat stopped.")
