"""After a run is judged: its CCV and CRM recoveries join their control charts, and a Westgard
violation among its points raises a ``method_drift`` flag on the method (one per run, analyte
and chart, so a re-judgement does not raise it twice)."""

from __future__ import annotations

from django.utils import timezone

from assays.models import AuditAction, ControlSeries, Flag, FlagKind, QcEvaluation, Run
from assays.qc.packs import CheckKind
from assays.selectors.control_charts import ChartKey, build_charts, chart_points
from assays.services.audit import audit_record


def control_charts_update(*, run: Run, evaluation: QcEvaluation) -> list[Flag]:
    """Judge the charts this evaluation added points to; returns the flags raised."""
    keys = {
        ChartKey(
            code, ControlSeries.CCV.value if kind == CheckKind.CCV else ControlSeries.CRM.value, material if kind == CheckKind.CRM else None
        )
        for kind, code, material in evaluation.checks.filter(
            kind__in=[CheckKind.CCV.value, CheckKind.CRM.value], analyte__isnull=False, measured__isnull=False, acquisition__isnull=False
        ).values_list("kind", "analyte__code", "acquisition__reference_material_id")
    }
    if not keys:
        return []
    raised: list[Flag] = []
    for key, chart in build_charts(method=run.method, points=chart_points(method=run.method, keys=keys)).items():
        mine = [violation for violation in chart.violations if chart.points[violation.index].evaluation_id == evaluation.pk]
        if not mine:
            continue
        already = Flag.objects.filter(
            method=run.method, kind=FlagKind.METHOD_DRIFT, details__run=run.pk, details__analyte=key.analyte, details__series=key.series
        ).exists()
        if already:
            continue
        rules = sorted({violation.rule.value for violation in mine})
        details = {
            "run": run.pk,
            "evaluation": evaluation.pk,
            "analyte": key.analyte,
            "series": key.series,
            "reference_material": key.reference_material_id,
            "rules": rules,
            "messages": [violation.message for violation in mine],
            "baseline": chart.baseline_source,
        }
        flag = Flag.objects.create(kind=FlagKind.METHOD_DRIFT, method=run.method, details=details, raised_at=timezone.now())
        audit_record(
            actor=None,
            action=AuditAction.CREATE,
            instance=flag,
            reason=f"Westgard {', '.join(rules)} on {chart.title}",
            after=details,
        )
        raised.append(flag)
    return raised
