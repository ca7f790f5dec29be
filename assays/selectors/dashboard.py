"""Reads for the lab dashboard: real counts, scoped to the sites the acting user sees."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Max, Q, QuerySet, TextChoices

from assays.models import Flag, FlagStatus, Lot, LotStatus, Run, RunStatus, Sample, SampleStatus, WorkerHeartbeat
from assays.roles import is_staff_member
from assays.selectors.samples import sample_list
from assays.selectors.scoping import lot_visibility, visible_sites


@dataclass(frozen=True)
class StatusCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class DashboardCounts:
    lots_by_status: list[StatusCount]
    samples_by_status: list[StatusCount]
    runs_awaiting_review: int
    open_flags: int
    last_worker_heartbeat_at: dt.datetime | None

    @property
    def lots_total(self) -> int:
        return sum(item.count for item in self.lots_by_status)

    @property
    def samples_total(self) -> int:
        return sum(item.count for item in self.samples_by_status)


def _is_lab_user(actor: User | AnonymousUser) -> bool:
    return is_staff_member(actor) or bool(getattr(actor, "is_superuser", False))


def _by_status(queryset: QuerySet[Lot] | QuerySet[Sample], choices: type[TextChoices]) -> list[StatusCount]:
    """Every status of ``choices`` in their declared order, zero included, so the dashboard's
    rows never shift about as states empty and fill."""
    # Counting distinct keys: a partner's scope joins allocations, which can repeat a row.
    rows = queryset.order_by().values("status").annotate(n=Count("pk", distinct=True))
    counts = {row["status"]: row["n"] for row in rows}
    return [StatusCount(value=str(choice.value), label=str(choice.label), count=counts.get(choice.value, 0)) for choice in choices]


def worker_heartbeat_latest() -> dt.datetime | None:
    """When any Celery worker last answered; operational data, the same for every user."""
    latest: dt.datetime | None = WorkerHeartbeat.objects.aggregate(latest=Max("last_seen_at"))["latest"]
    return latest


def dashboard_counts(*, actor: User | AnonymousUser) -> DashboardCounts:
    lots = Lot.objects.filter(lot_visibility(actor=actor))
    samples = sample_list(actor=actor)
    if _is_lab_user(actor):
        sites = visible_sites(actor=actor)
        runs_awaiting_review = Run.objects.filter(status=RunStatus.PENDING_QC, site__in=sites).count()
        # A method is lab-wide master data (not tied to a site), so a flag on one concerns every
        # site that runs it; flags on lots and runs follow the site of their record.
        open_flags = (
            Flag.objects.filter(status=FlagStatus.OPEN)
            .filter(Q(lot__site__in=sites) | Q(run__site__in=sites) | Q(method__isnull=False))
            .count()
        )
    else:
        # Runs and flags are the lab's internal work: nobody outside the lab staff counts them.
        runs_awaiting_review = 0
        open_flags = 0
    return DashboardCounts(
        lots_by_status=_by_status(lots, LotStatus),
        samples_by_status=_by_status(samples, SampleStatus),
        runs_awaiting_review=runs_awaiting_review,
        open_flags=open_flags,
        last_worker_heartbeat_at=worker_heartbeat_latest(),
    )
