"""What a partner sees: the one place the partner API and the portal ask.

A supplier sees the lots it supplied; a customer the product lots allocated to it (a partner of
both kinds, both). A lot's data reaches the partner only once it is *released to that partner*:

- to its supplier, when a report of analysis of the lot is issued (and neither superseded nor
  revoked);
- to a customer, when a certificate of analysis of the lot is issued for that customer, or for no
  customer in particular.

Released data is the document (its metadata, the signed PDF, the certified JSON and CSV) and the
lot's accepted sample results measured before the document was issued: a run imported after
the certificate is not what the certificate certifies, so it is not shown until a new revision
is. No QC detail (runs, checks, control samples, rejected values, instrument numbers) leaves.

Nothing here knows about keys or sessions: callers resolve the partner first
(``assays.api.partner_auth``), and the selectors scope every row to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Col
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.db.models.lookups import GreaterThan, LessThan

from assays.errors import NotFoundError
from assays.models import (
    Certificate,
    CertificateKind,
    CertificateStatus,
    Lot,
    LotAllocation,
    Measurement,
    Partner,
    ResultAcceptance,
)

# What a partner may hold of a certificate: once issued, it stays listed through supersession and
# revocation (the partner must learn of both); a certificate still being rendered is not issued.
PARTNER_DOCUMENT_STATUSES = (CertificateStatus.ISSUED, CertificateStatus.SUPERSEDED, CertificateStatus.REVOKED)


@dataclass(frozen=True, slots=True)
class LotFilters:
    product: str | None = None
    released: bool | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    modified_since: dt.datetime | None = None


def _addressed_to(partner: Partner) -> Q:
    """A filter on Certificate: reports to the lot's supplier, certificates of analysis to a
    customer the lot was allocated to (issued for it, or for no customer in particular)."""
    addressed = Q(pk__in=[])
    if partner.is_supplier:
        addressed |= Q(kind=CertificateKind.REPORT, lot__supplier=partner)
    if partner.is_customer:
        allocated = LotAllocation.objects.filter(lot=OuterRef("lot_id"), customer=partner)
        addressed |= Q(kind=CertificateKind.CERTIFICATE) & (Q(customer=partner) | Q(customer__isnull=True)) & Q(Exists(allocated))
    return addressed


def _documents_for(*, partner: Partner, lot_ref: Any) -> QuerySet[Certificate]:
    """Certificates of the lot ``lot_ref`` points at that are addressed to ``partner``."""
    return Certificate.objects.filter(_addressed_to(partner), lot=lot_ref)


def _live_issued_at(*, partner: Partner, lot_ref: Any) -> Subquery:
    """When the lot's live document for the partner was issued (None: not released to it)."""
    live = _documents_for(partner=partner, lot_ref=lot_ref).filter(status=CertificateStatus.ISSUED).order_by("-issued_at")
    return Subquery(live.values("issued_at")[:1], output_field=DateTimeField())


def _lot_scope(*, partner: Partner, lot_path: str = "") -> Q:
    """A filter on Lot, or on a model reaching it through ``lot_path`` ("…__lot"), for the partner's lots."""
    prefix = f"{lot_path}__" if lot_path else ""
    scope = Q(pk__in=[])
    if partner.is_supplier:
        scope |= Q(**{f"{prefix}supplier": partner})
    if partner.is_customer:
        lot_id = OuterRef(f"{lot_path}_id" if lot_path else "pk")
        scope |= Q(Exists(LotAllocation.objects.filter(lot=lot_id, customer=partner)))
    return scope


def partner_lots(*, partner: Partner, filters: LotFilters | None = None) -> QuerySet[Lot]:
    """The partner's lots, oldest first by id (a stable order for cursors), each annotated with
    ``released_at`` (None: nothing released yet), ``released``, ``allocated_kg`` and
    ``order_reference`` (a customer's allocation), ``lot_date`` and ``modified_at``."""
    filters = filters or LotFilters()
    own_allocation = LotAllocation.objects.filter(lot=OuterRef("pk"), customer=partner)
    documents = _documents_for(partner=partner, lot_ref=OuterRef("pk")).filter(status__in=PARTNER_DOCUMENT_STATUSES)
    # The latest moment the partner's view of the lot changed: made, allocated, a document issued,
    # superseded (its successor's issue) or revoked.
    last_document_change = Subquery(
        documents.annotate(changed=Greatest(F("issued_at"), Coalesce(F("revoked_at"), F("issued_at"))))
        .order_by("-changed")
        .values("changed")[:1],
        output_field=DateTimeField(),
    )
    lots = (
        Lot.objects.filter(_lot_scope(partner=partner))
        .select_related("product")
        .annotate(
            released_at=_live_issued_at(partner=partner, lot_ref=OuterRef("pk")),
            allocated_kg=Subquery(own_allocation.values("mass_kg")[:1]),
            order_reference=Subquery(own_allocation.values("reference")[:1]),
            allocated_at=Subquery(own_allocation.values("allocated_at")[:1], output_field=DateTimeField()),
            lot_date=Coalesce(F("produced_on"), F("received_on"), TruncDate("created_at")),
        )
        .annotate(
            released=Case(When(released_at__isnull=False, then=Value(True)), default=Value(False), output_field=BooleanField()),
            modified_at=Greatest(
                F("created_at"),
                Coalesce(F("allocated_at"), F("created_at")),
                Coalesce(last_document_change, F("created_at")),
            ),
        )
        .order_by("id")
    )
    if filters.product:
        lots = lots.filter(product__code=filters.product)
    if filters.released is not None:
        lots = lots.filter(released_at__isnull=not filters.released)
    if filters.date_from is not None:
        lots = lots.filter(lot_date__gte=filters.date_from)
    if filters.date_to is not None:
        lots = lots.filter(lot_date__lte=filters.date_to)
    if filters.modified_since is not None:
        lots = lots.filter(modified_at__gte=filters.modified_since)
    return lots


def partner_lot_get(*, partner: Partner, code: str) -> Lot:
    lot = partner_lots(partner=partner).filter(code=code).first()
    if lot is None:
        raise NotFoundError(f"no lot {code!r}")
    return lot


# The result fields a partner gets: what a report prints of one sample's value, nothing of the
# run that produced it (no raw instrument value, RSD, flags or QC state).
RESULT_FIELDS = (
    "measurement_id",
    "lot_code",
    "sample_code",
    "analyte",
    "element",
    "qualifier",
    "value",
    "unit",
    "basis",
    "lod",
    # The uncertainty the result's report states (an outside laboratory's U and k), else empty.
    "expanded_u",
    "coverage_factor",
    "measured_at",
    "released_at",
)


def partner_results(
    *, partner: Partner, lot: Lot | None = None, modified_since: dt.datetime | None = None
) -> QuerySet[ResultAcceptance, dict[str, Any]]:
    """Accepted sample results of the partner's released lots, by measurement id (stable for a
    cursor), as plain rows of ``RESULT_FIELDS``. ``modified_since``: results released since then."""
    lot_ref = OuterRef("measurement__acquisition__sample__lot_id")
    rows = ResultAcceptance.objects.filter(
        state="accepted",
        evaluation__is_current=True,
        measurement__acquisition__qc_role="",
        measurement__acquisition__sample__isnull=False,
    )
    if lot is not None:
        rows = rows.filter(measurement__acquisition__sample__lot_id=lot.pk)
    rows = rows.filter(_lot_scope(partner=partner, lot_path="measurement__acquisition__sample__lot"))
    rows = (
        rows.annotate(released_at=_live_issued_at(partner=partner, lot_ref=lot_ref))
        # Released, and measured before the release: results imported afterwards are not certified.
        # (Not released is a NULL release time, which no import time is before: no separate test,
        # whose copy of the subquery PostgreSQL would plan and run once more for every row.)
        .filter(measurement__acquisition__run__imported_at__lte=F("released_at"))
    )
    if modified_since is not None:
        rows = rows.filter(released_at__gte=modified_since)
    return rows.order_by("measurement_id").values(
        "measurement_id",
        "released_at",
        lot_code=F("measurement__acquisition__sample__lot__code"),
        sample_code=F("measurement__acquisition__sample__code"),
        analyte=F("measurement__analyte__code"),
        element=F("measurement__analyte__element__symbol"),
        qualifier=F("measurement__qualifier"),
        value=F("measurement__value"),
        unit=F("measurement__unit"),
        basis=F("measurement__basis"),
        lod=F("measurement__lod"),
        expanded_u=F("measurement__expanded_u"),
        coverage_factor=F("measurement__coverage_factor"),
        measured_at=Coalesce(F("measurement__acquisition__acquired_at"), F("measurement__acquisition__run__imported_at")),
    )


def partner_results_past(
    rows: QuerySet[ResultAcceptance, dict[str, Any]], *, position: Any, descending: bool
) -> QuerySet[ResultAcceptance, dict[str, Any]]:
    """``rows`` (of ``partner_results``) past a cursor's position in ``measurement_id``, with the
    bound written on the measurement's own id as well.

    A cursor bounds the acceptance's ``measurement_id``; PostgreSQL carries an equality across the
    join to the measurement but not an inequality, so it merge-joins the measurements from the
    very first one and a page deep in a sync reads every measurement before it (80 ms at a million
    results, growing with the table). The ORM writes ``measurement__id`` as the acceptance's own
    column, so the bound names the joined table's column itself.
    """
    table = Measurement._meta.db_table
    alias = next(alias for alias, join in rows.query.alias_map.items() if join.table_name == table)
    bound = LessThan if descending else GreaterThan
    return rows.filter(bound(Col(alias, Measurement._meta.pk), position))


def partner_documents(
    *,
    partner: Partner,
    kind: str | None = None,
    lot_code: str | None = None,
    status: str | None = None,
    modified_since: dt.datetime | None = None,
) -> QuerySet[Certificate]:
    """Certificates and reports addressed to the partner once issued, by id (stable for a cursor).
    ``modified_since``: issued, superseded or revoked since then."""
    documents = (
        Certificate.objects.filter(_addressed_to(partner), status__in=PARTNER_DOCUMENT_STATUSES)
        .select_related("lot", "lot__product", "customer", "supersedes", "superseded_by")
        .order_by("id")
    )
    if kind:
        documents = documents.filter(kind=kind)
    if lot_code:
        documents = documents.filter(lot__code=lot_code)
    if status:
        documents = documents.filter(status=status)
    if modified_since is not None:
        documents = documents.filter(
            Q(issued_at__gte=modified_since) | Q(revoked_at__gte=modified_since) | Q(superseded_by__issued_at__gte=modified_since)
        )
    return documents


def document_rows(documents: QuerySet[Certificate]) -> QuerySet[Certificate, dict[str, Any]]:
    """What a partner is shown of each document, as plain rows: no certified payload (kilobytes
    of JSON a document) and no model objects, which were most of a list page's time."""
    rows = documents.select_related(None).values(
        "id",
        "kind",
        "number",
        "revision",
        "status",
        "issued_at",
        "signer_name",
        "signer_role",
        "signature_meaning",
        "revoked_at",
        "revocation_reason",
        "pdf_sha256",
        "verification_token",
        lot_code=F("lot__code"),
        product_code=F("lot__product__code"),
        supersedes_pk=F("supersedes_id"),
        supersedes_number=F("supersedes__number"),
        supersedes_revision=F("supersedes__revision"),
        successor_pk=F("superseded_by__id"),
        successor_number=F("superseded_by__number"),
        successor_revision=F("superseded_by__revision"),
    )
    return cast("QuerySet[Certificate, dict[str, Any]]", rows)


def partner_document_get(*, partner: Partner, pk: int) -> Certificate:
    document = partner_documents(partner=partner).filter(pk=pk).first()
    if document is None:
        raise NotFoundError("no such certificate or report")
    return document
