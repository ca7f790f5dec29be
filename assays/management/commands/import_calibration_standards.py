"""``python manage.py import_calibration_standards METHOD FILE [--as USERNAME]``.

Replaces a method's calibration nominals by a standards table (rows = the method's channels in
order, or named outright; columns = calibration levels 1..N), as labs keep beside their batch.
A lab admin's change: validated whole before anything is written, and audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assays.errors import DomainError
from assays.management.commands.import_run import _user
from assays.models import Method
from assays.services.qc_setup import calibration_standards_import


class Command(BaseCommand):
    help = "Load a method's calibration standard concentrations (per channel and level) from a standards table."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("method", help="method code")
        parser.add_argument("path", type=Path, help="the standards table (CSV: element or channel, then one column per level)")
        parser.add_argument("--as", dest="username", help="the lab admin making the change; default: your login name")

    def handle(self, *args: Any, **options: Any) -> None:
        method = Method.objects.filter(code=options["method"]).first()
        if method is None:
            raise CommandError(f"no method {options['method']!r}")
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        actor = _user(options["username"])
        try:
            stored = calibration_standards_import(actor=actor, method=method, data=path.read_bytes(), file_name=path.name)
        except DomainError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{method.code}: {stored} calibration nominals from {path.name}")
