"""``python manage.py assess_lot LOT [--json]``: assess one lot now, synchronously.

Prints the lot's status and headline figures, or with ``--json`` the assessment as JSON: ``lot``,
``product``, ``spec_version``, ``status``, ``n_samples``, ``relative_purity_pct``, ``treo_pct``,
``main_oxide_pct`` (best estimates), ``oxides_mg_kg`` (oxide formula -> best estimate) and
``lines`` (each with ``quantity``, ``value``, ``limit``, ``verdict``, ``reason``), numbers at full
precision (the shape lives in ``assays.selectors.assessments``, shared with the API).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assays.errors import DomainError
from assays.selectors.assessments import assessment_json
from assays.services.assessment import lot_assess_by_code


class Command(BaseCommand):
    help = "Assess one lot against its product's active specification, now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("lot", help="lot code")
        parser.add_argument("--json", action="store_true", help="print the assessment as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            assessment = lot_assess_by_code(code=options["lot"])
        except DomainError as error:
            raise CommandError(str(error)) from error
        if assessment is None:
            raise CommandError(f"lot {options['lot']} has no active specification to be assessed against")
        data = assessment_json(assessment)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(f"{data['lot']} ({data['product'] or 'feedstock'}), spec v{data['spec_version']}: {data['status']}")
        for line in data["lines"]:
            value = "—" if line["value"] is None else f"{line['value']:.6g} {line['unit']}"
            self.stdout.write(f"  {line['label']}: {value}  {line['verdict'] or ''}  {line['reason']}")
