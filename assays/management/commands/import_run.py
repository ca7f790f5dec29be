"""``python manage.py import_run PATH [--format F] [--instrument CODE] [--method CODE] [--as USERNAME] [--dry-run] [--json]``.

Imports one instrument export, or every file of a folder (with progress on stderr), through
``assays.services.runs.run_import``: the same checks, conversion, censoring and audit trail as
an upload. Each file is its own run and its own transaction: a bad file is reported (file, line,
column) and the others still import. Exit status 0 when every file imported (or was already
imported), 1 otherwise.

``--json`` prints the summary (run id, format, counts, unmatched labels, warnings, errors): one
object for a file, a list of objects for a folder.
"""

from __future__ import annotations

import getpass
import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from assays.errors import DomainError
from assays.importers.core import ImportFormatError
from assays.importers.registry import format_names
from assays.models import Instrument, Method
from assays.selectors.scoping import visible_sites
from assays.services.runs import ImportSummary, run_import

# A batch table of 2,000 acquisitions x 70 channels is ~10 MB; far beyond that is the wrong file.
MAX_FILE_BYTES = 200 * 1024 * 1024


class Command(BaseCommand):
    help = "Import an instrument export (or every file in a folder) as runs, pending QC. The same file twice imports once."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", help="an export file, or a folder of them")
        parser.add_argument(
            "--format", choices=format_names(importable_only=True), help="the export format (default: detected from the file)"
        )
        parser.add_argument("--instrument", help="instrument code (default: the only active instrument at your sites)")
        parser.add_argument("--method", help="method code (default: the only method of the instrument's technique)")
        parser.add_argument(
            "--as", dest="username", help="the analyst importing (their role and sites are checked); default: your login name"
        )
        parser.add_argument("--batch-log", help="an Agilent BatchLog.csv whose 'Total Dil.' gives each acquisition's dilution")
        parser.add_argument(
            "--estimate-limits",
            action="store_true",
            help="where the method gives no LOD, estimate LOD/LOQ as 3 s / 10 s of the run's blanks",
        )
        parser.add_argument("--dry-run", action="store_true", help="parse, match, convert and report; write nothing")
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = _user(options["username"])
        instrument = _instrument(options["instrument"], actor=actor)
        method = _method(options["method"], instrument=instrument)
        batch_log = _read(Path(options["batch_log"])) if options["batch_log"] else None
        path = Path(options["path"])
        files = _files(path)
        summaries: list[ImportSummary] = []
        failed = 0
        progress = len(files) > 1 or path.is_dir()
        for number, file in enumerate(files, start=1):
            summary = self._import_one(file, actor=actor, instrument=instrument, method=method, batch_log=batch_log, options=options)
            summaries.append(summary)
            failed += 0 if summary.ok else 1
            if progress:
                self._progress(number, len(files), summary)
        if options["json"]:
            payload: Any = [s.as_dict() for s in summaries] if path.is_dir() else summaries[0].as_dict()
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            for summary in summaries:
                # A single file's error is the command's error message; a folder lists each one.
                self._print(summary, errors=len(files) > 1)
        if failed:
            raise CommandError(f"{failed} of {len(files)} file(s) not imported" if len(files) > 1 else summaries[0].errors[0])

    def _import_one(
        self, file: Path, *, actor: User, instrument: Instrument, method: Method, batch_log: bytes | None, options: dict[str, Any]
    ) -> ImportSummary:
        try:
            data = _read(file)
        except CommandError as error:
            return ImportSummary(file_name=file.name, sha256="", errors=[str(error)])
        try:
            return run_import(
                actor=actor,
                data=data,
                file_name=file.name,
                instrument=instrument,
                method=method,
                format=options["format"],
                dry_run=options["dry_run"],
                batch_log=batch_log,
                batch_log_name=Path(options["batch_log"]).name if options["batch_log"] else "BatchLog.csv",
                estimate_limits_from_blanks=options["estimate_limits"],
            )
        except ImportFormatError as error:
            return ImportSummary(file_name=file.name, sha256="", errors=[str(error)])
        except DomainError as error:
            # Not the file's fault (permissions, configuration): no other file would fare better.
            raise CommandError(str(error)) from error

    def _progress(self, number: int, total: int, summary: ImportSummary) -> None:
        width = 30
        done = width * number // total
        outcome = "failed" if not summary.ok else ("already imported" if summary.existing else f"{summary.values} values")
        self.stderr.write(f"[{'#' * done}{'.' * (width - done)}] {number}/{total} {summary.file_name}: {outcome}")
        self.stderr.flush()

    def _print(self, summary: ImportSummary, *, errors: bool) -> None:
        name = summary.file_name
        if not summary.ok:
            for error in summary.errors if errors else ():
                self.stderr.write(error)
            return
        if summary.existing:
            self.stdout.write(f"{name}: already imported as run {summary.run_id}; nothing written")
            return
        verb = "would import" if summary.dry_run else f"imported as run {summary.run_id}"
        line = (
            f"{name} ({summary.format}): {verb}: {summary.acquisitions} acquisitions, {summary.channels} channels, "
            f"{summary.values} values ({summary.censored} censored, {summary.below_loq} below LOQ); "
            f"{summary.matched_samples} samples matched, {summary.qc_items} QC items, {summary.unmatched_acquisitions} unmatched"
        )
        self.stdout.write(line if summary.dry_run else self.style.SUCCESS(line))
        if summary.unmatched_labels:
            shown = ", ".join(f"{label or '(empty)'} x{count}" for label, count in summary.unmatched_labels.items())
            self.stdout.write(f"  unmatched labels: {shown}")
        for warning in summary.warnings:
            self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
        if summary.dry_run:
            self.stdout.write("  dry run: nothing was written")


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CommandError(f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; is this an instrument export?")
        return path.read_bytes()
    except OSError as error:
        raise CommandError(f"{path}: {error.strerror or error}") from error


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise CommandError(f"{path}: no files to import")
        return files
    if not path.exists():
        raise CommandError(f"{path}: no such file or folder")
    return [path]


def _user(username: str | None) -> User:
    name = username or getpass.getuser()
    user = get_user_model().objects.filter(username=name, is_active=True).first()
    if user is None:
        hint = "" if username else " (name the analyst with --as USERNAME)"
        raise CommandError(f"no active user {name!r}{hint}")
    return user


def _instrument(code: str | None, *, actor: User) -> Instrument:
    if code:
        instrument = Instrument.objects.select_related("site").filter(code=code).first()
        if instrument is None:
            raise CommandError(f"no instrument {code!r}")
        return instrument
    candidates = list(Instrument.objects.filter(is_active=True, site__in=visible_sites(actor=actor)).order_by("code"))
    if len(candidates) != 1:
        known = ", ".join(i.code for i in candidates) or "none at your sites"
        raise CommandError(f"name the instrument with --instrument CODE (active instruments: {known})")
    return candidates[0]


def _method(code: str | None, *, instrument: Instrument) -> Method:
    if code:
        method = Method.objects.filter(code=code).first()
        if method is None:
            raise CommandError(f"no method {code!r}")
        return method
    candidates = list(Method.objects.filter(technique=instrument.technique, is_manual=False).order_by("code"))
    if len(candidates) != 1:
        known = ", ".join(m.code for m in candidates) or "none"
        raise CommandError(f"name the method with --method CODE ({instrument.get_technique_display()} methods: {known})")
    return candidates[0]
