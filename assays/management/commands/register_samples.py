"""``python manage.py register_samples FILE.csv [--site CODE] [--dry-run] [--as USERNAME] [--json]``.

Registers a sample sheet (docs/import-formats.md, "Sample sheet"): all rows or none. Exits 0 with a
summary, or 1 listing every error with its line and column, having written nothing.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from assays.errors import DomainError
from assays.importers.sample_sheet import parse_sample_sheet
from assays.services.registration import RegistrationResult, samples_register_sheet

# A sheet is typed or exported by a person: anything this large is the wrong file.
MAX_FILE_BYTES = 20 * 1024 * 1024


class Command(BaseCommand):
    help = "Register the samples of a CSV sample sheet, creating the lots it names. All rows or none; the same sheet twice changes nothing."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the sample sheet (CSV; see docs/import-formats.md)")
        parser.add_argument("--site", help="site code for rows without a site (default: the installation's default site)")
        parser.add_argument("--dry-run", action="store_true", help="check everything and say what would be registered; write nothing")
        parser.add_argument(
            "--as",
            dest="username",
            help="register as this user (their role and sites are checked, and they are named in the audit trail); default: the system",
        )
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        actor = _user(options["username"])
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; is this a sample sheet?")
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror or error}") from error
        sheet = parse_sample_sheet(data, file_name=path.name)
        try:
            result = samples_register_sheet(actor=actor, sheet=sheet, site_default=options["site"], dry_run=options["dry_run"])
        except DomainError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(result.summary(), indent=2))
        else:
            self._print_summary(path.name, result)
        if result.errors:
            # The exit status is what a script checks; the list above (stderr) is for the person.
            raise CommandError(f"{len(result.errors)} error(s) in {path.name}: nothing was registered")

    def _print_summary(self, name: str, result: RegistrationResult) -> None:
        if result.ignored_columns:
            self.stdout.write(f"{name}: ignored columns: {', '.join(result.ignored_columns)}")
        if result.errors:
            for error in result.errors:
                self.stderr.write(f"{name}, {error}")
            return
        verb = "would register" if result.dry_run else "registered"
        lots = f"{len(result.created_lots)} new lot(s)"
        if result.created_lots:
            lots += f" ({', '.join(result.created_lots)})"
        unchanged = len(result.unchanged_samples)
        line = f"{name}: {verb} {len(result.created_samples)} sample(s) in {lots}; {unchanged} already registered, unchanged"
        self.stdout.write(self.style.SUCCESS(line) if result.committed else line)
        if result.dry_run:
            self.stdout.write("dry run: nothing was written")


def _user(username: str | None) -> User | None:
    if username is None:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r}")
    return user
