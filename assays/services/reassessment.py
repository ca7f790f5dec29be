"""Reassessing a product's lots after its specification changed: a ``Reassessment`` with its
progress, its lots cut into chunks (``LIMS_REASSESS_CHUNK`` lots each), one worker message per
chunk (``assays.tasks.reassess_lots``), each chunk assessed by the bulk ``lots_assess``.

Asked for automatically when a specification version becomes active
(``assays.services.specifications``) and by hand by a QA manager or a lab admin (the
Specifications page, the API, ``manage.py reassess_product``).

Exactly once, whatever the broker does: a chunk's finish is claimed by a conditional UPDATE, and
only the claim adds its lots to the counters (F() expressions, so chunks finishing together on
several workers add up). A redelivered chunk finds its lots' fingerprints unchanged and makes no new
assessment; one whose message was lost is sent again by the sweep (``reassessments_sweep``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import OperationalError, transaction
from django.db.models import Case, F, Max, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from assays.errors import DomainError, NotFoundError, PermissionDeniedError
from assays.models import (
    AuditAction,
    Lot,
    LotKind,
    Product,
    Reassessment,
    ReassessmentChunk,
    ReassessmentStatus,
    Specification,
    SpecificationStatus,
)
from assays.permissions import Capability, can
from assays.services.assessment import FEEDSTOCK_PRODUCTS, lots_assess
from assays.services.audit import audit_record, audited_context, snapshot

logger = logging.getLogger(__name__)

_CHEMISTRY_OF_FEEDSTOCK_PRODUCT = {code: chemistry for chemistry, code in FEEDSTOCK_PRODUCTS.items()}


def may_reassess(user: User | AnonymousUser | None) -> bool:
    """QA managers (who decide what "conforming" means) and lab admins (who run the installation)."""
    return user is not None and (can(user, Capability.MANAGE_SPECS) or can(user, Capability.MANAGE_MASTER_DATA))


def chunk_size() -> int:
    return max(1, int(getattr(settings, "LIMS_REASSESS_CHUNK", 200)))


def product_lot_ids(*, product: Product) -> list[int]:
    """The lots judged by the product's specification, in id order: its own lots, and for a
    feedstock chemistry's report-only product the feedstock lots of that chemistry."""
    lots = Q(product=product)
    chemistry = _CHEMISTRY_OF_FEEDSTOCK_PRODUCT.get(product.code)
    if chemistry is not None:
        lots |= Q(product__isnull=True, kind=LotKind.FEEDSTOCK, magnet_chemistry=chemistry)
    return list(Lot.objects.filter(lots).order_by("pk").values_list("pk", flat=True))


def product_reassess(
    *,
    actor: User | AnonymousUser | None,
    reason: str,
    product_code: str | None = None,
    product: Product | None = None,
) -> Reassessment:
    """Reassess every lot of a product against its active specification, by the workers.

    ``actor`` None is the system; a person must be a QA manager or a lab admin. Refused without a
    reason or an active specification. While one reassessment of the same specification version is
    still queued or running, that one is answered instead of a second.
    """
    if actor is not None and not may_reassess(actor):
        raise PermissionDeniedError("only a QA manager or a lab admin may reassess a product's lots")
    why = (reason or "").strip()
    if not why:
        raise DomainError("a reason is required")
    if product is None:
        if not product_code:
            raise DomainError("name the product")
        product = Product.objects.filter(code=product_code).first()
        if product is None:
            raise NotFoundError(f"no product {product_code!r}")
    requester = actor if isinstance(actor, User) else None
    with transaction.atomic():
        # One request at a time per product, so that two clicks make one reassessment.
        Product.objects.select_for_update().filter(pk=product.pk).first()
        spec = Specification.objects.filter(product=product, status=SpecificationStatus.ACTIVE).select_related("product").first()
        if spec is None:
            raise DomainError(f"product {product.code} has no active specification to reassess its lots against")
        pending = (
            Reassessment.objects.filter(
                product=product, specification=spec, status__in=[ReassessmentStatus.QUEUED, ReassessmentStatus.RUNNING]
            )
            .order_by("-requested_at", "-id")
            .first()
        )
        if pending is not None:
            return pending
        return _start(product=product, spec=spec, requested_by=requester, reason=why, lot_ids=product_lot_ids(product=product))


def reassessment_on_activation(*, spec: Specification, actor: User | None) -> Reassessment | None:
    """Called by the specification service when ``spec`` becomes its product's active version,
    inside that transaction: its lots are reassessed once it commits. Nothing when the product has
    no lots yet."""
    lot_ids = product_lot_ids(product=spec.product)
    if not lot_ids:
        return None
    return _start(product=spec.product, spec=spec, requested_by=actor, reason=f"specification {spec} activated", lot_ids=lot_ids)


def _start(*, product: Product, spec: Specification, requested_by: User | None, reason: str, lot_ids: list[int]) -> Reassessment:
    now = timezone.now()
    size = chunk_size()
    finished = not lot_ids
    with audited_context(actor=requested_by, reason=reason):
        reassessment = Reassessment.objects.create(
            product=product,
            specification=spec,
            requested_by=requested_by,
            reason=reason,
            requested_at=now,
            total_lots=len(lot_ids),
            # Nothing to do: done at once.
            status=ReassessmentStatus.DONE if finished else ReassessmentStatus.QUEUED,
            started_at=now if finished else None,
            finished_at=now if finished else None,
        )
        chunks = ReassessmentChunk.objects.bulk_create(
            ReassessmentChunk(
                reassessment=reassessment,
                position=position,
                first_lot_id=part[0],
                lot_ids=part,
                lot_count=len(part),
            )
            for position, part in enumerate(_parts(lot_ids, size))
        )
        audit_record(
            actor=requested_by,
            action=AuditAction.CREATE,
            instance=reassessment,
            reason=reason,
            after={**snapshot(reassessment), "chunks": len(chunks), "chunk_size": size},
        )
    messages = [(reassessment.pk, list(chunk.lot_ids)) for chunk in chunks]
    transaction.on_commit(lambda: _enqueue(messages))
    return reassessment


def _parts(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def _enqueue(messages: list[tuple[int, list[int]]]) -> None:
    from assays.tasks import reassess_lots

    for reassessment_id, lot_ids in messages:
        reassess_lots.delay(reassessment_id, lot_ids)


@dataclass(frozen=True, slots=True)
class ChunkDone:
    lots: int
    changed: int
    failed: int
    # False: the chunk had been counted already (a redelivered message); nothing was added.
    counted: bool


def reassessment_chunk_run(*, reassessment_id: int, lot_ids: Sequence[int]) -> ChunkDone | None:
    """Assess one chunk's lots and count them, once. None when no chunk of that reassessment
    starts with those lots (a stale or forged message)."""
    ids = sorted(set(lot_ids))
    if not ids:
        return None
    chunk = (
        ReassessmentChunk.objects.select_related("reassessment", "reassessment__product", "reassessment__requested_by")
        .filter(reassessment_id=reassessment_id, first_lot_id=ids[0])
        .first()
    )
    if chunk is None or sorted(chunk.lot_ids) != ids:
        logger.warning("reassessment %s has no chunk of lots %s..%s: message ignored", reassessment_id, ids[0], ids[-1])
        return None
    if chunk.finished_at is not None:
        return ChunkDone(lots=chunk.lot_count, changed=chunk.changed_lots, failed=chunk.failed_lots, counted=False)
    reassessment = chunk.reassessment
    Reassessment.objects.filter(pk=reassessment.pk, status=ReassessmentStatus.QUEUED).update(
        status=ReassessmentStatus.RUNNING, started_at=timezone.now()
    )
    actor = reassessment.requested_by
    why = f"reassessment {reassessment.pk} of {reassessment.product.code}: {reassessment.reason}"
    try:
        with transaction.atomic():
            done = lots_assess(lot_ids=ids, actor=actor, reason=why)
            counted = _finish(chunk, changed=len(done.changed), failed=0)
        return ChunkDone(lots=len(ids), changed=len(done.changed), failed=0, counted=counted)
    except OperationalError:
        raise  # the database: the task retries the chunk with backoff
    except Exception:
        logger.exception("reassessment %s: chunk %s failed as a whole; assessing its lots one by one", reassessment.pk, chunk.position)
    # One lot's problem must not hold back the others: each lot in a savepoint of its own.
    changed = failed = 0
    with transaction.atomic():
        for lot_id in ids:
            try:
                with transaction.atomic():
                    changed += len(lots_assess(lot_ids=[lot_id], actor=actor, reason=why).changed)
            except OperationalError:
                raise
            except Exception:
                failed += 1
                logger.exception("reassessment %s: lot %s could not be assessed", reassessment.pk, lot_id)
        counted = _finish(chunk, changed=changed, failed=failed)
    return ChunkDone(lots=len(ids), changed=changed, failed=failed, counted=counted)


def _finish(chunk: ReassessmentChunk, *, changed: int, failed: int) -> bool:
    """Claim the chunk's finish and add it to the counters; the last chunk finishes the
    reassessment. Runs in the chunk's transaction, so the counts and the assessments commit together."""
    now = timezone.now()
    claimed = ReassessmentChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
        finished_at=now, changed_lots=changed, failed_lots=failed
    )
    if not claimed:
        return False
    rows = Reassessment.objects.filter(pk=chunk.reassessment_id)
    rows.update(done_lots=F("done_lots") + chunk.lot_count, changed_lots=F("changed_lots") + changed, failed_lots=F("failed_lots") + failed)
    # The UPDATE above holds the row until this commits, so chunks finishing together see each
    # other's counts and exactly one of them sees the total.
    rows.filter(done_lots=F("total_lots"), finished_at__isnull=True).update(
        status=Case(When(failed_lots=0, then=Value(ReassessmentStatus.DONE.value)), default=Value(ReassessmentStatus.FAILED.value)),
        finished_at=now,
        started_at=Coalesce(F("started_at"), Value(now)),
    )
    return True


def reassessments_sweep(*, grace_seconds: float | None = None) -> list[int]:
    """Chunks of reassessments that have made no progress for ``grace_seconds`` (their messages
    lost, a worker killed, retries exhausted) are sent again; the reassessment ids."""
    grace = dt.timedelta(seconds=grace_seconds if grace_seconds is not None else settings.LIMS_REASSESS_SWEEP_GRACE_SECONDS)
    cutoff = timezone.now() - grace
    stalled = (
        Reassessment.objects.filter(status__in=[ReassessmentStatus.QUEUED, ReassessmentStatus.RUNNING], requested_at__lt=cutoff)
        .annotate(last_progress=Max("chunks__finished_at"))
        .filter(Q(last_progress__isnull=True) | Q(last_progress__lt=cutoff))
        .values_list("pk", flat=True)
    )
    ids = list(stalled)
    messages = [
        (reassessment_id, list(lot_ids))
        for reassessment_id, lot_ids in ReassessmentChunk.objects.filter(reassessment_id__in=ids, finished_at__isnull=True)
        .order_by("reassessment_id", "position")
        .values_list("reassessment_id", "lot_ids")
    ]
    _enqueue(messages)
    return ids


def reassessment_wait(*, reassessment_id: int, timeout: float, poll: float = 0.5) -> Reassessment:
    """Poll until the reassessment finishes or ``timeout`` seconds pass; the row as last read."""
    deadline = time.monotonic() + timeout
    while True:
        reassessment = Reassessment.objects.get(pk=reassessment_id)
        if reassessment.is_finished or time.monotonic() >= deadline:
            return reassessment
        time.sleep(poll)
