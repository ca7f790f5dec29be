"""``python manage.py reassess_product PRODUCT [--as USERNAME] [--reason TEXT] [--wait [SECONDS]]``.

Reassesses every lot of a product against its active specification, through the same service as
the Specifications page (``assays.services.reassessment``): QA managers and lab admins only. The
chunks go to the workers (in the embedded mode they run at once, in this process); ``--wait``
polls until the reassessment finishes and prints its counts.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assays.errors import DomainError
from assays.management.commands.import_run import _user
from assays.models import Reassessment
from assays.services.reassessment import product_reassess, reassessment_wait

DEFAULT_WAIT_SECONDS = 3600.0


class Command(BaseCommand):
    help = "Reassess every lot of a product against its active specification."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("product", help="product code")
        parser.add_argument("--as", dest="username", help="the QA manager or lab admin asking; default: your login name")
        parser.add_argument("--reason", default="asked for on the command line", help="why (kept in the audit trail)")
        parser.add_argument(
            "--wait",
            nargs="?",
            type=float,
            const=DEFAULT_WAIT_SECONDS,
            default=None,
            metavar="SECONDS",
            help=f"wait until it finishes (at most SECONDS, default {DEFAULT_WAIT_SECONDS:.0f})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        actor = _user(options["username"])
        try:
            reassessment = product_reassess(actor=actor, product_code=options["product"], reason=options["reason"])
        except DomainError as error:
            raise CommandError(str(error)) from error
        spec = reassessment.specification
        self.stdout.write(
            f"reassessment {reassessment.pk} of {options['product']} against {spec}: "
            f"{reassessment.total_lots} lot(s), {reassessment.chunks.count()} chunk(s)"
        )
        if options["wait"] is None:
            return
        reassessment = reassessment_wait(reassessment_id=reassessment.pk, timeout=options["wait"])
        self.stdout.write(_counts(reassessment))
        if not reassessment.is_finished:
            raise CommandError(f"not finished after {options['wait']:.0f} s (still {reassessment.status}); the workers carry on")
        if reassessment.failed_lots:
            raise CommandError(f"{reassessment.failed_lots} lot(s) could not be assessed: the worker log says why")


def _counts(reassessment: Reassessment) -> str:
    return (
        f"{reassessment.status}: {reassessment.done_lots}/{reassessment.total_lots} lots looked at, "
        f"{reassessment.changed_lots} newly assessed, {reassessment.failed_lots} failed"
    )
