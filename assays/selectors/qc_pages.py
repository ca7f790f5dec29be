"""Reads for the pages and endpoints around run QC that ``assays.selectors.run_qc`` and
``assays.selectors.control_charts`` do not cover: a check named by a run and a check id, the rule
pack versions a reviewer may judge a run by, a method's page, and a lot's method control charts.

Every function scopes through the run and method selectors, so a partner user, or a staff user
outside the run's sites, gets ``NotFoundError`` (or nothing) exactly as for a missing record.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch

from assays.errors import NotFoundError
from assays.models import (
    CalibrationNominal,
    ControlSeries,
    Lot,
    Method,
    QcCheck,
    QcStandard,
    QcStandardValue,
    ReferenceMaterial,
    RulePack,
    Run,
)
from assays.selectors.control_charts import ChartKey, ControlChart, build_charts, chart_points, lot_chart_keys
from assays.selectors.runs import method_get, method_list, run_get, sees_lab_records

# Database ids above this cannot exist, and PostgreSQL refuses to compare a bigint with them.
_MAX_ID = 2**63 - 1
# An analyte code is at most this long (Analyte.code); a longer filter cannot match.
_ANALYTE_MAX = 64


# --- Run QC review -----------------------------------------------------------------------------------


def qc_check_of_run(*, actor: User | AnonymousUser, run_id: int, check_id: int) -> QcCheck:
    """A check of any evaluation of a run the actor may see; a check of another run is missing."""
    run = run_get(actor=actor, run_id=run_id)
    check = QcCheck.objects.filter(pk=check_id, evaluation__run=run).first() if 0 < check_id <= _MAX_ID else None
    if check is None:
        raise NotFoundError(f"no QC check {check_id} in run {run_id}")
    return check


def rule_pack_versions(*, actor: User | AnonymousUser, run: Run) -> list[RulePack]:
    """Every rule pack version a run may be judged by: its method's pack first (newest version
    first), then the others. Staff only; the pack texts are not loaded."""
    if not sees_lab_records(actor):
        return []
    packs = RulePack.objects.defer("source_text", "definition").order_by("code", "-version")
    preferred = run.method.rule_pack_code
    return sorted(packs, key=lambda pack: (pack.code != preferred, pack.code, -pack.version))


def rule_pack_get(*, actor: User | AnonymousUser, rule_pack_id: int) -> RulePack:
    pack = RulePack.objects.filter(pk=rule_pack_id).first() if sees_lab_records(actor) and 0 < rule_pack_id <= _MAX_ID else None
    if pack is None:
        raise NotFoundError(f"no rule pack version {rule_pack_id}")
    return pack


# --- A method's page -----------------------------------------------------------------------------------


def _chart_order(chart: ControlChart) -> tuple[bool, str, int]:
    # Charts with a Westgard violation first: they are what the page is read for.
    return (not chart.violations, chart.key.analyte, chart.key.reference_material_id or 0)


@dataclass(frozen=True, slots=True)
class MethodPage:
    method: Method
    rule_pack: RulePack | None  # the latest version of the method's pack; None if none is loaded
    rule_pack_versions: int
    standards: list[QcStandard]  # with their values and analytes
    calibration_nominals: int
    analytes: list[str]  # every analyte with a control chart, for the filter
    analyte: str  # the filter applied; "" for every analyte
    ccv_charts: list[ControlChart]  # violations first
    crm_charts: list[ControlChart]
    materials: dict[int, str]  # reference material id -> its name and lot, for the CRM charts

    @property
    def crm_entries(self) -> list[tuple[ControlChart, str]]:
        """Each CRM chart with the name and lot of its reference material."""
        return [(chart, self.materials.get(chart.key.reference_material_id or 0, "")) for chart in self.crm_charts]

    @property
    def violating_charts(self) -> int:
        return sum(1 for chart in (*self.ccv_charts, *self.crm_charts) if chart.violations)


def method_page(*, actor: User | AnonymousUser, code: str, analyte: str = "") -> MethodPage:
    """Everything a method's page shows (staff only: ``NotFoundError`` for anyone else)."""
    method = method_get(actor=actor, code=code)
    packs = RulePack.objects.filter(code=method.rule_pack_code)
    standards = list(
        QcStandard.objects.filter(method=method)
        .prefetch_related(Prefetch("values", queryset=QcStandardValue.objects.select_related("analyte").order_by("analyte__code")))
        .order_by("kind")
    )
    points = chart_points(method=method)
    wanted = analyte.strip()[:_ANALYTE_MAX]
    keys = [key for key in points if not wanted or key.analyte == wanted]
    charts = list(build_charts(method=method, points={key: points[key] for key in keys}).values())
    material_ids = {key.reference_material_id for key in keys if key.reference_material_id is not None}
    materials = {material.pk: str(material) for material in ReferenceMaterial.objects.filter(pk__in=material_ids)} if material_ids else {}
    return MethodPage(
        method=method,
        rule_pack=packs.order_by("-version").first(),
        rule_pack_versions=packs.count(),
        standards=standards,
        calibration_nominals=CalibrationNominal.objects.filter(method=method).count(),
        analytes=sorted({key.analyte for key in points}),
        analyte=wanted,
        ccv_charts=sorted((chart for chart in charts if chart.key.series == ControlSeries.CCV), key=_chart_order),
        crm_charts=sorted((chart for chart in charts if chart.key.series == ControlSeries.CRM), key=_chart_order),
        materials=materials,
    )


# --- A lot's method control --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MethodControl:
    method: Method
    charts: list[ControlChart]  # the CCV charts of the analytes measured on the lot, violations first


def lot_method_control(*, actor: User | AnonymousUser, lot: Lot) -> list[MethodControl]:
    """For each method that measured the lot's samples, the CCV charts of the analytes it measured
    on them. Staff only (an empty list for anyone else); ``lot`` comes from a scoped selector."""
    if not sees_lab_records(actor):
        return []
    analytes_of = lot_chart_keys(lot_id=lot.pk)
    if not analytes_of:
        return []
    controls: list[MethodControl] = []
    for method in method_list(actor=actor).filter(pk__in=list(analytes_of)):
        keys = [ChartKey(code, ControlSeries.CCV.value) for code in sorted(analytes_of[method.pk])]
        points = chart_points(method=method, keys=keys)
        charts = list(build_charts(method=method, points={key: points[key] for key in keys if key in points}).values())
        if charts:
            controls.append(MethodControl(method=method, charts=sorted(charts, key=_chart_order)))
    return controls
