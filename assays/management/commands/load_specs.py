"""``python manage.py load_specs FILE.json [FILE ...] [--as USERNAME] [--draft]``.

Loads specification files (docs/specifications.md; the shipped catalogue is in
``assays/spec_catalogue/``) through ``assays.services.specifications``: each specification whose
content differs from its product's latest version becomes the next version, active unless
``--draft``. All or nothing: every file is validated first and every problem reported (file,
field path); then all are loaded in one transaction, so one refusal loads none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from assays.errors import DomainError
from assays.management.commands.import_run import _user
from assays.services.specifications import specification_load_definition
from assays.spec_schema import SpecDefinition, SpecError, parse_spec_file

# A specification is a few kilobytes; a file far beyond that is the wrong file.
MAX_FILE_BYTES = 5 * 1024 * 1024


class Command(BaseCommand):
    help = "Load specification files (JSON: one specification or a list); an unchanged one makes no new version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="FILE", help="specification files (JSON)")
        parser.add_argument("--as", dest="username", help="the QA manager loading them; default: your login name")
        parser.add_argument("--draft", action="store_true", help="store new versions as drafts; the active versions stay active")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = _user(options["username"])
        # (label for messages and the audit trail, specification), in the order given.
        specs: list[tuple[str, SpecDefinition]] = []
        errors: list[str] = []
        for path in options["paths"]:
            if not path.is_file():
                errors.append(f"{path}: no such file")
                continue
            if path.stat().st_size > MAX_FILE_BYTES:
                errors.append(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB: not a specification file")
                continue
            data = path.read_bytes()
            try:
                parsed = parse_spec_file(data, file_name=path.name)
            except SpecError as error:
                errors.append(str(error))
                continue
            is_list = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"[")
            specs += [(f"{path.name}[{index}]" if is_list else path.name, spec) for index, spec in enumerate(parsed)]
        seen: dict[str, str] = {}
        for label, spec in specs:
            if spec.product in seen:
                errors.append(f"{label}: product {spec.product} is also specified in {seen[spec.product]}: load one of them")
            seen.setdefault(spec.product, label)
        if errors:
            raise CommandError("\n".join(errors))

        report: list[str] = []
        try:
            with transaction.atomic():
                for label, spec in specs:
                    result = specification_load_definition(actor=actor, definition=spec, file_name=label, activate=not options["draft"])
                    version = result.specification.version
                    if result.created:
                        state = "" if result.activated else " (draft)"
                        report.append(f"{spec.product}: version {version} created{state}")
                    elif result.activated:
                        report.append(f"{spec.product}: unchanged, version {version} activated")
                    else:
                        report.append(f"{spec.product}: unchanged (version {version})")
        except DomainError as error:
            raise CommandError(f"{error}\nnothing was loaded") from error
        for line in report:
            self.stdout.write(line)
