"""``python manage.py assess_lot LOT [--json]``: assess one lot now, synchronously.

Prints the lot's status and headline figures, or with ``--json`` the assessment as JSON: ``lot``,
``product``, ``spec_version``, ``status``, ``n_samples``, ``relative_purity_pct``, ``treo_pct``,
``main_oxide_pct`` (best estimates), ``oxides_mg_kg`` (oxide formula -> best estimate) and
``lines`` (each with ``quantity``, ``value``, ``limit``, ``verdict``, ``reason``), numbers at full
precision.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from assays.errors import DomainError
from assays.models import LotAssessment
from assays.services.assessment import lot_assess_by_code


def assessment_json(assessment: LotAssessment) -> dict[str, Any]:
    spec = assessment.specification
    summary = assessment.summary
    lines = []
    for line in assessment.outcome.get("lines", []):
        limit = None
        if line.get("minimum") or line.get("maximum"):
            limit = {"min": line.get("minimum"), "max": line.get("maximum"), "unit": line.get("unit")}
        lines.append(
            {
                "quantity": line["quantity"],
                "label": line["label"],
                "value": line["best"],
                "judged_value": line["judged_value"],
                "censored": line["censored"],
                "unit": line["unit"],
                "expanded_u": line["expanded_u"],
                "limit": limit,
                "verdict": line["verdict"],
                "reason": line["reason"],
            }
        )
    return {
        "lot": assessment.lot.code,
        "product": assessment.lot.product.code if assessment.lot.product else None,
        "spec_version": spec.version if spec else None,
        "status": assessment.status,
        "n_samples": assessment.n_samples,
        "relative_purity_pct": summary.get("relative_purity_pct"),
        "treo_pct": summary.get("treo_pct"),
        "main_oxide_pct": summary.get("main_oxide_pct"),
        "oxides_mg_kg": summary.get("oxides_mg_kg", {}),
        "lines": lines,
        "reasons": assessment.reasons,
        "assessed_at": assessment.assessed_at.isoformat(),
    }


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
