"""Control charts (SPC): the CCV and CRM recoveries of a method, per analyte, over time.

A chart's points are the recoveries of its checks in the current judgement of every run of the
method, in the order they were measured. Its baseline (mean and s) comes from the lab's baseline
period for that chart (``ControlBaseline``) or, until one is set, from its first
``LIMS_SPC_BASELINE_POINTS`` points; Westgard rules judge the points after the baseline.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q

from assays.models import ControlBaseline, ControlSeries, Measurement, Method, QcCheck
from assays.qc.packs import CheckKind
from assays.selectors.runs import method_get
from assays.stats.control_charts import Baseline, Violation, baseline_from, westgard_violations

_SERIES_KIND = {ControlSeries.CCV: CheckKind.CCV, ControlSeries.CRM: CheckKind.CRM}


@dataclass(frozen=True, slots=True)
class ChartKey:
    analyte: str
    series: str  # ControlSeries value
    reference_material_id: int | None = None

    @property
    def slug(self) -> str:
        return f"{self.series}-{self.reference_material_id or 0}-{self.analyte}"


@dataclass(frozen=True, slots=True)
class ControlPoint:
    value: float  # recovery, %
    run_id: int
    evaluation_id: int
    sequence: int | None
    label: str
    measured_at: dt.datetime | None

    @property
    def name(self) -> str:
        when = f" · {self.measured_at:%Y-%m-%d %H:%M}" if self.measured_at else ""
        return f"Run {self.run_id} · {self.sequence} {self.label}{when}"


@dataclass(slots=True)
class ControlChart:
    method: Method
    key: ChartKey
    title: str
    points: list[ControlPoint]
    baseline: Baseline | None
    baseline_source: str
    judged_from: int  # index of the first point Westgard rules judge
    violations: list[Violation] = field(default_factory=list)


def _order(point: ControlPoint) -> tuple[dt.datetime, int, int]:
    moment = point.measured_at or dt.datetime.min.replace(tzinfo=dt.UTC)
    return (moment, point.run_id, point.sequence or 0)


def chart_points(*, method: Method, keys: Iterable[ChartKey] | None = None) -> dict[ChartKey, list[ControlPoint]]:
    """Every chart of the method (or only ``keys``), its points in measurement order."""
    rows = QcCheck.objects.filter(
        evaluation__is_current=True,
        evaluation__run__method=method,
        kind__in=[CheckKind.CCV.value, CheckKind.CRM.value],
        analyte__isnull=False,
        measured__isnull=False,
        acquisition__isnull=False,
    )
    wanted = list(keys) if keys is not None else None
    if wanted is not None:
        rows = rows.filter(analyte__code__in={key.analyte for key in wanted})
    charts: dict[ChartKey, list[ControlPoint]] = defaultdict(list)
    for value, kind, code, material, run_id, evaluation_id, sequence, label, acquired_at, imported_at in rows.values_list(
        "measured", "kind", "analyte__code", "acquisition__reference_material_id", "evaluation__run_id", "evaluation_id",
        "acquisition__sequence", "acquisition__label", "acquisition__acquired_at", "evaluation__run__imported_at",
    ):  # fmt: skip
        if value is None:
            continue
        series = ControlSeries.CCV if kind == CheckKind.CCV else ControlSeries.CRM
        key = ChartKey(code, series.value, material if series == ControlSeries.CRM else None)
        if wanted is not None and key not in wanted:
            continue
        charts[key].append(ControlPoint(value, run_id, evaluation_id, sequence, label, acquired_at or imported_at))
    for points in charts.values():
        points.sort(key=_order)
    return dict(charts)


def build_charts(*, method: Method, points: Mapping[ChartKey, list[ControlPoint]]) -> dict[ChartKey, ControlChart]:
    """The charts of ``points`` with their baselines and the Westgard violations of the points after
    them. The lab's baseline periods of the method are read in one query, whatever the charts."""
    lab_baselines: dict[ChartKey, ControlBaseline] = {}
    for baseline in ControlBaseline.objects.filter(method=method).select_related("analyte").order_by("set_at"):
        # Ordered oldest first: the latest period set for a chart wins.
        lab_baselines[ChartKey(baseline.analyte.code, baseline.series, baseline.reference_material_id)] = baseline
    return {key: _chart(method=method, key=key, points=chart, lab_baseline=lab_baselines.get(key)) for key, chart in points.items()}


def build_chart(*, method: Method, key: ChartKey, points: list[ControlPoint]) -> ControlChart:
    """One chart (``build_charts`` for several: one baseline query for all)."""
    return build_charts(method=method, points={key: points})[key]


def _chart(*, method: Method, key: ChartKey, points: list[ControlPoint], lab_baseline: ControlBaseline | None) -> ControlChart:
    series_label = "CCV recovery" if key.series == ControlSeries.CCV else "CRM recovery"
    title = f"{method.code} · {key.analyte} · {series_label}"
    baseline: Baseline | None
    if lab_baseline is not None:
        period = [p.value for p in points if p.measured_at and lab_baseline.starts_at <= p.measured_at <= lab_baseline.ends_at]
        baseline = baseline_from(values=period)
        source = f"baseline period {lab_baseline.starts_at:%Y-%m-%d} to {lab_baseline.ends_at:%Y-%m-%d} ({len(period)} points)"
        judged_from = next((i for i, p in enumerate(points) if p.measured_at and p.measured_at > lab_baseline.ends_at), len(points))
    else:
        needed = settings.LIMS_SPC_BASELINE_POINTS
        baseline = baseline_from(values=[p.value for p in points[:needed]]) if len(points) >= needed else None
        source = f"first {needed} points" if baseline is not None else f"no baseline yet (needs {needed} points, has {len(points)})"
        judged_from = needed
    violations: list[Violation] = []
    if baseline is not None and judged_from < len(points):
        violations = westgard_violations(
            values=[p.value for p in points], baseline=baseline, start=judged_from, point_names=[p.name for p in points]
        )
    return ControlChart(method, key, title, points, baseline, source, judged_from, violations)


def method_charts(*, actor: User | AnonymousUser, method_code: str, analytes: Iterable[str] | None = None) -> list[ControlChart]:
    """Every chart of a method the actor may see (staff), optionally only for some analytes."""
    method = method_get(actor=actor, code=method_code)
    points = chart_points(method=method)
    if analytes is not None:
        wanted = set(analytes)
        points = {key: value for key, value in points.items() if key.analyte in wanted}
    charts = build_charts(method=method, points=points)
    return [charts[key] for key in sorted(charts, key=lambda k: (k.series, k.analyte, k.reference_material_id or 0))]


def lot_chart_keys(*, lot_id: int) -> dict[int, set[str]]:
    """method id -> analytes measured on the lot's samples (its charts worth showing on the lot page)."""
    found: dict[int, set[str]] = defaultdict(set)
    for method_id, code in (
        Measurement.objects.filter(Q(acquisition__sample__lot_id=lot_id), acquisition__qc_role="")
        .values_list("acquisition__run__method_id", "analyte__code")
        .distinct()
    ):
        found[method_id].add(code)
    return dict(found)
