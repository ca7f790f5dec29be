"""What QA reads before signing a lot's certificate: every result of the lot with the run it came
from and that run's QC, the lot's genealogy and the provenance the certificate will print, and the
certificates the lot already has. Lab staff only, scoped to the actor's sites.

The results cost a fixed number of queries whatever the lot holds: one for the values (acceptance
and sample joined), one for their runs, one for the runs' current QC evaluations.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from assays.models import Certificate, LabProfile, Lot, LotAllocation, LotInput, Measurement, QcEvaluation, Qualifier, Run

# The provenance section exactly as the certificate will word it (the payload's own builder), so
# QA previews what they sign rather than a second account of it.
from assays.selectors.certificate_payload import lot_provenance
from assays.selectors.certificates import certificate_list
from assays.selectors.lot_detail import lot_allocations, lot_inputs
from assays.selectors.runs import ACCEPTANCE_LABELS, run_list


@dataclass(frozen=True, slots=True)
class ReviewCell:
    value: float
    qualifier: str
    unit: str
    lod: float | None
    acceptance: str  # accepted, rejected, redilute, excluded; "" when the run was not evaluated
    reasons: tuple[str, ...]

    @property
    def censored(self) -> bool:
        return self.qualifier == Qualifier.LESS_THAN

    @property
    def above_range(self) -> bool:
        return self.qualifier == Qualifier.GREATER_THAN

    @property
    def acceptance_note(self) -> str:
        if not self.acceptance:
            return ""
        note = f"QC: {ACCEPTANCE_LABELS.get(self.acceptance, self.acceptance)}"
        return f"{note} — {'; '.join(self.reasons)}" if self.reasons else note


@dataclass(frozen=True, slots=True)
class ReviewRow:
    sample_code: str
    label: str  # the acquisition's label in the run
    qc_role: str  # "" for the sample itself, else the QC role (a duplicate, a spike...)
    cells: list[ReviewCell | None]
    unit: str | None  # the unit every cell shares, None when they differ


@dataclass(frozen=True, slots=True)
class ReviewRun:
    """One run's results for the lot: samples (rows) x analytes (columns), with the run's QC."""

    run: Run
    evaluation: QcEvaluation | None  # the current one; None before the first evaluation
    columns: list[str]  # analyte codes
    rows: list[ReviewRow]

    @property
    def counted(self) -> int:
        return sum(1 for row in self.rows for cell in row.cells if cell is not None and cell.acceptance == "accepted")

    @property
    def not_counted(self) -> int:
        return sum(1 for row in self.rows for cell in row.cells if cell is not None and cell.acceptance not in ("", "accepted"))


def lot_review_results(*, actor: User | AnonymousUser, lot: Lot) -> list[ReviewRun]:
    """Every result measured on ``lot``'s samples in runs the actor may see, grouped by run (oldest
    first), in three queries."""
    values = (
        Measurement.objects.filter(acquisition__sample__lot=lot, acquisition__run__in=run_list(actor=actor).values("pk"))
        .order_by("acquisition__run_id", "acquisition__sequence")
        .values_list(
            "acquisition__run_id", "acquisition_id", "acquisition__sample__code", "acquisition__label", "acquisition__qc_role",
            "analyte__code", "analyte__element__atomic_number", "analyte__isotope_mass",
            "value", "qualifier", "unit", "lod", "acceptance__state", "acceptance__reasons",
        )
    )  # fmt: skip
    by_run: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    analytes: dict[int, dict[str, tuple[int, int, str]]] = defaultdict(dict)
    for run_id, acquisition_id, sample, label, qc_role, code, atomic, isotope, value, qualifier, unit, lod, state, reasons in values:
        if not math.isfinite(value):
            continue
        row = by_run[run_id].setdefault(acquisition_id, {"sample": sample, "label": label, "qc_role": qc_role, "cells": {}})
        row["cells"][code] = ReviewCell(value, qualifier, unit, lod, state or "", tuple(str(reason) for reason in reasons or ()))
        # Columns by element (atomic number), then isotope, then code, as the run grid orders them.
        analytes[run_id][code] = (atomic if atomic is not None else 999, isotope or 0, code)
    if not by_run:
        return []
    runs = {run.pk: run for run in run_list(actor=actor).filter(pk__in=list(by_run))}
    evaluations = {
        evaluation.run_id: evaluation
        for evaluation in QcEvaluation.objects.filter(run_id__in=list(runs), is_current=True).select_related("rule_pack")
    }
    blocks = []
    for run_id in sorted(runs, key=lambda pk: (runs[pk].started_at or runs[pk].imported_at, pk)):
        columns = [code for *_, code in sorted(analytes[run_id].values())]
        rows = []
        for row in by_run[run_id].values():
            cells: list[ReviewCell | None] = [row["cells"].get(code) for code in columns]
            units = {cell.unit for cell in cells if cell is not None}
            rows.append(
                ReviewRow(
                    sample_code=row["sample"],
                    label=row["label"],
                    qc_role=row["qc_role"],
                    cells=cells,
                    unit=units.pop() if len(units) == 1 else None,
                )
            )
        blocks.append(ReviewRun(run=runs[run_id], evaluation=evaluations.get(run_id), columns=columns, rows=rows))
    return blocks


@dataclass(frozen=True)
class LotReview:
    results: list[ReviewRun]
    inputs: list[LotInput]
    allocations: list[LotAllocation]
    provenance: dict[str, Any]
    certificates: list[Certificate]


def lot_review(*, actor: User | AnonymousUser, lot: Lot, profile: LabProfile) -> LotReview:
    """The review of a lot the caller got from a scoped read; every part re-applies the scope."""
    return LotReview(
        results=lot_review_results(actor=actor, lot=lot),
        inputs=list(lot_inputs(actor=actor, lot=lot)),
        allocations=list(lot_allocations(actor=actor, lot=lot)),
        provenance=lot_provenance(lot=lot, profile=profile),
        certificates=list(certificate_list(actor=actor).filter(lot=lot).order_by("-issued_at", "-id")),
    )
