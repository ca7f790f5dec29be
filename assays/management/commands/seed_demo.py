"""``python manage.py seed_demo``: load the demonstration data set (assays.services.demo)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from assays.errors import DomainError
from assays.services.demo import DemoCredential, demo_seed


class Command(BaseCommand):
    help = "Load a realistic demo (two plants, suppliers, lots, genealogy, samples, one user per role). Safe to run again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even when LIMS_ENV=production; new users then get random passwords, printed once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = demo_seed(allow_production=options["allow_production"])
        except DomainError as error:
            raise CommandError(str(error)) from error
        if result.created_anything:
            summary = ", ".join(f"{count} {what}" for what, count in sorted(result.created.items()) if count)
            self.stdout.write(self.style.SUCCESS(f"Demo data created: {summary}."))
        else:
            self.stdout.write("Demo data already present: nothing to do.")
        for note in result.notes:
            self.stdout.write(self.style.WARNING(note))
        self.stdout.write("")
        self.stdout.write(credentials_table(result.credentials))
        if settings.IS_PRODUCTION:
            self.stdout.write(self.style.WARNING("Store these passwords now: they are not shown again."))
        else:
            self.stdout.write(self.style.WARNING("Fixed demo passwords: for a development installation only."))


def credentials_table(credentials: list[DemoCredential]) -> str:
    """A plain-text table, so that it can be copied from a terminal or a log."""
    header = ("username", "role", "site/partner", "password")
    rows = [(c.username, c.role, c.scope, c.password if c.password is not None else f"({c.note})") for c in credentials]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
