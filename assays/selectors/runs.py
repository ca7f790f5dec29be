"""Reads of instrument runs, their instruments and methods, scoped to the acting user.

A run belongs to the site of its instrument (``Run.site``): staff see the runs of the sites they
work at, QA managers and lab admins all of them, partner users none (runs are the lab's working
records; what partners receive are released results). A run outside the scope is reported like a
missing one.

``run_grid`` reads one page of a run as acquisitions x analytes in a fixed number of queries,
whatever the size of the run, so a 2,000-acquisition batch costs the same as a 10-row one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from assays.chemistry.censoring import BELOW_LOQ
from assays.errors import NotFoundError
from assays.models import Acquisition, Analyte, ChannelRole, Instrument, Lot, Measurement, Method, MethodChannel, Qualifier, Run, Sample
from assays.roles import is_cross_site, is_staff_member
from assays.selectors.lot_detail import lot_samples
from assays.selectors.lots import lot_get
from assays.selectors.scoping import visible_sites

# A page of the grid: at 69 channels, 100 rows is about 7,000 cells, still quick to render and read.
GRID_ROWS_PER_PAGE = 100
GridShow = Literal["all", "samples", "qc", "unmatched"]
# How the grid names a result's acceptance (ResultAcceptance.state).
ACCEPTANCE_LABELS = {"accepted": "accepted", "rejected": "rejected", "redilute": "re-dilute", "excluded": "excluded"}
GRID_SHOW_CHOICES: tuple[tuple[GridShow, str], ...] = (
    ("all", "All acquisitions"),
    ("samples", "Samples"),
    ("qc", "QC items"),
    ("unmatched", "Unmatched"),
)


def sees_lab_records(actor: User | AnonymousUser) -> bool:
    return is_staff_member(actor) or bool(getattr(actor, "is_superuser", False))


def _run_scope(actor: User | AnonymousUser, prefix: str = "") -> Q:
    """A filter on Run (or on a model reaching Run through ``prefix``) for what ``actor`` may see."""
    if not sees_lab_records(actor):
        return Q(pk__in=[])
    if is_cross_site(actor):
        return Q()
    return Q(**{f"{prefix}site__in": visible_sites(actor=actor)})


def run_list(*, actor: User | AnonymousUser) -> QuerySet[Run]:
    """Runs the actor may see, newest first."""
    return Run.objects.filter(_run_scope(actor)).select_related("site", "instrument", "method", "analyst").order_by("-imported_at", "-id")


def run_get(*, actor: User | AnonymousUser, run_id: int) -> Run:
    """One visible run; an invisible one is reported exactly like a missing one."""
    run = run_list(actor=actor).filter(pk=run_id).first() if 0 < run_id < 2**63 else None
    if run is None:
        raise NotFoundError(f"no run {run_id}")
    return run


def run_get_by_sha256(*, actor: User | AnonymousUser, sha256: str) -> Run | None:
    """The visible run imported from these bytes, if any (for "already imported as run N")."""
    if len(sha256) != 64:
        return None
    return run_list(actor=actor).filter(source_sha256=sha256.lower()).first()


# --- Instruments and methods ---------------------------------------------------------------------


def instrument_list(*, actor: User | AnonymousUser) -> QuerySet[Instrument]:
    """Instruments in service at the sites the actor works at: those a run may be imported for."""
    if not sees_lab_records(actor):
        return Instrument.objects.none()
    return Instrument.objects.filter(is_active=True, site__in=visible_sites(actor=actor)).select_related("site").order_by("code")


def instrument_get(*, actor: User | AnonymousUser, code: str) -> Instrument:
    instrument = None if "\x00" in code or len(code) > 32 else instrument_list(actor=actor).filter(code=code.strip()).first()
    if instrument is None:
        raise NotFoundError(f"no instrument {code[:40]!r} in service at your sites")
    return instrument


def method_list(*, actor: User | AnonymousUser) -> QuerySet[Method]:
    """Methods are master data, the same for every site; only lab staff need them."""
    if not sees_lab_records(actor):
        return Method.objects.none()
    return Method.objects.order_by("code")


def method_get(*, actor: User | AnonymousUser, code: str) -> Method:
    method = None if "\x00" in code or len(code) > 32 else method_list(actor=actor).filter(code=code.strip()).first()
    if method is None:
        raise NotFoundError(f"no method {code[:40]!r}")
    return method


# --- Manual entry ------------------------------------------------------------------------------------


def manual_entry_samples(*, actor: User | AnonymousUser, lot_code: str) -> tuple[Lot, list[Sample]]:
    """The lot, and those of its samples the actor may enter results for: held at a site the actor
    works at. Raises ``NotFoundError`` for a lot the actor may not see."""
    lot = lot_get(actor=actor, code=lot_code)
    sites = set(visible_sites(actor=actor).values_list("pk", flat=True))
    return lot, [sample for sample in lot_samples(actor=actor, lot=lot) if sample.site_id in sites]


# --- The grid -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridColumn:
    analyte_id: int
    code: str
    role: str  # "reporting", "confirmatory", or "" when the method does not list the channel


@dataclass(frozen=True, slots=True)
class GridCell:
    value: float
    qualifier: str
    unit: str
    lod: float | None
    loq: float | None
    raw_value: float | None
    raw_unit: str
    flags: tuple[str, ...]
    # The result's acceptance under the run's current QC evaluation (accepted, rejected, redilute,
    # excluded) and why; "" for a QC item's value or a run not yet evaluated.
    acceptance: str = ""
    acceptance_reasons: tuple[str, ...] = ()
    # The uncertainty the result's report states (an outside laboratory's), in ``unit``.
    expanded_u: float | None = None
    coverage_factor: float | None = None

    @property
    def censored(self) -> bool:
        return self.qualifier == Qualifier.LESS_THAN

    @property
    def above_range(self) -> bool:
        return self.qualifier == Qualifier.GREATER_THAN

    @property
    def below_loq(self) -> bool:
        return BELOW_LOQ in self.flags

    @property
    def acceptance_note(self) -> str:
        """``QC: rejected — CCV recovery at 3 ... failed: ...``, for the cell's tooltip."""
        if not self.acceptance:
            return ""
        note = f"QC: {ACCEPTANCE_LABELS.get(self.acceptance, self.acceptance)}"
        return f"{note} — {'; '.join(self.acceptance_reasons)}" if self.acceptance_reasons else note


@dataclass(frozen=True, slots=True)
class GridRow:
    acquisition: Acquisition
    cells: list[GridCell | None]
    # The unit every value of the row shares (mg/kg for a sample, µg/L for a QC item), shown once;
    # None when the row mixes units, and then each cell says its own.
    unit: str | None

    @property
    def kind(self) -> str:
        if self.acquisition.qc_role:
            return "qc"
        return "sample" if self.acquisition.sample_id is not None else "unmatched"


@dataclass(frozen=True, slots=True)
class RunGrid:
    columns: list[GridColumn]
    rows: list[GridRow]
    page: Page[Acquisition]
    show: GridShow
    counts: dict[str, int] = field(default_factory=dict)  # acquisitions per ``show`` choice


def _show_filter(show: GridShow) -> Q:
    if show == "samples":
        return Q(sample__isnull=False, qc_role="")
    if show == "qc":
        return ~Q(qc_role="")
    if show == "unmatched":
        return Q(sample__isnull=True, qc_role="")
    return Q()


def _columns(run: Run) -> list[GridColumn]:
    """The run's channels: the method's reporting channels first, then its confirmatory ones, then
    channels the method does not list; within each, by element (atomic number), then code."""
    analyte_ids = set(Measurement.objects.filter(acquisition__run=run).values_list("analyte_id", flat=True).distinct())
    roles = dict(MethodChannel.objects.filter(method_id=run.method_id, analyte_id__in=analyte_ids).values_list("analyte_id", "role"))
    analytes = Analyte.objects.filter(pk__in=analyte_ids).select_related("element")
    order = {ChannelRole.REPORTING.value: 0, ChannelRole.CONFIRMATORY.value: 1}

    def key(analyte: Analyte) -> tuple[int, int, int, str]:
        element = analyte.element
        return (
            order.get(roles.get(analyte.pk, ""), 2),
            element.atomic_number if element is not None else 999,
            analyte.isotope_mass or 0,
            analyte.code,
        )

    return [GridColumn(analyte.pk, analyte.code, roles.get(analyte.pk, "")) for analyte in sorted(analytes, key=key)]


def run_grid(*, actor: User | AnonymousUser, run: Run, page: str | int | None = 1, show: str = "all") -> RunGrid:
    """One page of ``run`` as acquisitions (rows, in run order) x analytes (columns)."""
    show_choice: GridShow = next((choice for choice, _ in GRID_SHOW_CHOICES if choice == show), "all")
    # Re-applies the run scope through the relation, so a run handed in from elsewhere leaks nothing.
    acquisitions = Acquisition.objects.filter(run=run).filter(_run_scope(actor, prefix="run__"))
    counts = acquisitions.aggregate(
        all=Count("pk"),
        samples=Count("pk", filter=_show_filter("samples")),
        qc=Count("pk", filter=_show_filter("qc")),
        unmatched=Count("pk", filter=_show_filter("unmatched")),
    )
    shown = (
        acquisitions.filter(_show_filter(show_choice)).select_related("sample", "sample__lot", "reference_material").order_by("sequence")
    )
    # get_page turns a missing, non-numeric or out-of-range page into a valid one: never a 500.
    current = Paginator(shown, GRID_ROWS_PER_PAGE).get_page(page)
    on_page = list(current.object_list)
    columns = _columns(run) if on_page or counts["all"] else []
    position = {column.analyte_id: index for index, column in enumerate(columns)}
    cells: dict[int, list[GridCell | None]] = {acquisition.pk: [None] * len(columns) for acquisition in on_page}
    # The acceptance rides along in the same query (a LEFT JOIN on its one-to-one row).
    rows_of_values = Measurement.objects.filter(acquisition_id__in=list(cells)).values_list(
        "acquisition_id", "analyte_id", "value", "qualifier", "unit", "lod", "loq", "raw_value", "raw_unit", "flags",
        "acceptance__state", "acceptance__reasons", "expanded_u", "coverage_factor",
    )  # fmt: skip
    for row in rows_of_values:
        acquisition_id, analyte_id, value, qualifier, unit, lod, loq, raw_value, raw_unit, flags, state, reasons, expanded_u, k = row
        index = position.get(analyte_id)
        if index is None or not math.isfinite(value):
            continue
        cells[acquisition_id][index] = GridCell(
            value, qualifier, unit, lod, loq, raw_value, raw_unit, tuple(flags or ()), state or "", tuple(str(r) for r in reasons or ()),
            expanded_u, k,
        )  # fmt: skip
    rows = []
    for acquisition in on_page:
        row_cells = cells[acquisition.pk]
        units = {cell.unit for cell in row_cells if cell is not None}
        rows.append(GridRow(acquisition=acquisition, cells=row_cells, unit=units.pop() if len(units) == 1 else None))
    return RunGrid(columns=columns, rows=rows, page=current, show=show_choice, counts=counts)
