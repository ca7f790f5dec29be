"""Lot assessment (DESIGN.md, data flow step 4): a lot's accepted results judged against its
specification, stored as a ``LotAssessment``, with the flags and lot states that follow.

What counts as a lot's results: for each of its samples and each element, the **latest accepted**
result of the element's **reporting channel** in a run's current QC judgement (a re-run or a
re-dilution supersedes), on the solid (mg/kg or %: a value left in solution units, for a sample
without mass or volume, cannot be used). LOI and anions come from any run (manual results). Each
result carries its own reported uncertainty where its report states one (an outside laboratory's
U and k: u = U / k), else its method channel's uncertainty model u(w) = √(a² + (b·w)²).

Idempotent by fingerprint: the same inputs (results, their QC acceptance, the spec version, the
uncertainty models) make no new assessment, so a redelivered task, the stale-lot sweep and a
re-run of the CLI all land here harmlessly.

States: a conforming (or report-only) assessment moves an open lot to "assessed"; an off-spec,
inconclusive or insufficient one raises a flag with the failing lines, puts the lot on hold and
e-mails QA; a lot leaves hold only through QA. A released lot keeps its certified (frozen)
assessment: a new one that differs is stored marked so, with a ``differs_from_certified`` flag,
and the lot's state does not change.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from assays.bulk_insert import insert_all
from assays.chemistry import assessment as core
from assays.chemistry import lot_batch
from assays.chemistry.fingerprints import inputs_fingerprint_version_1, may_be_version_1, table_fingerprints
from assays.chemistry.purity import DEFAULT_TREO_ELEMENTS
from assays.chemistry.result_table import ResultTable
from assays.errors import NotFoundError
from assays.importers.text import cyclic_gc_paused
from assays.lifecycle import check_transition
from assays.models import (
    AssessmentStatus,
    AuditAction,
    CertificateStatus,
    Flag,
    FlagKind,
    FlagStatus,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
    Specification,
    SpecificationStatus,
)
from assays.roles import Role
from assays.selectors.accepted_results import (
    Unusable,
    lots_result_table,
    notes_of,
    result_lookups,
    tables_in_parts,
)
from assays.services.audit import AuditChange, audit_record_many, audited_context, snapshot

# A feedstock lot is judged by its chemistry's report-only specification (payable content).
FEEDSTOCK_PRODUCTS = {"ndfeb": "FS-NDFEB", "smco": "FS-SMCO"}
_FLAG_OF_STATUS = {
    AssessmentStatus.OFF_SPEC: FlagKind.OFF_SPEC,
    AssessmentStatus.INCONCLUSIVE: FlagKind.INCONCLUSIVE,
    AssessmentStatus.INSUFFICIENT_DATA: FlagKind.INSUFFICIENT_DATA,
}


@dataclass(frozen=True, slots=True)
class LotResults:
    samples: list[core.SampleInput]
    notes: list[str]


@dataclass(frozen=True, slots=True)
class LotsAssessed:
    """What ``lots_assess`` did with the lots it was given."""

    # Lots that exist among those asked for (a lot deleted meanwhile is skipped).
    found: int
    # Lots given a new assessment (their inputs changed), in id order.
    changed: list[int]
    # Lots without a specification to be judged by: nothing to assess.
    unjudged: list[int]
    # Every judged lot's current assessment: the new one, or the unchanged latest.
    current: dict[int, int]
    # The new assessments, by lot.
    created: dict[int, LotAssessment]


def specification_for(lot: Lot) -> Specification | None:
    """The active specification a lot is judged by: its product's, or for a feedstock lot its
    chemistry's report-only one."""
    return specifications_for([lot]).get(lot.pk)


def _feedstock_code(lot: Lot) -> str | None:
    return FEEDSTOCK_PRODUCTS.get(lot.magnet_chemistry) if lot.product_id is None and lot.kind == LotKind.FEEDSTOCK else None


def specifications_for(lots: Sequence[Lot]) -> dict[int, Specification]:
    """``specification_for`` of many lots in one query: lot id -> its active specification (lots
    with none are left out)."""
    product_ids = {lot.product_id for lot in lots if lot.product_id is not None}
    feedstock_codes = {code for lot in lots if (code := _feedstock_code(lot))}
    if not product_ids and not feedstock_codes:
        return {}
    active = Specification.objects.filter(status=SpecificationStatus.ACTIVE).filter(
        Q(product_id__in=product_ids) | Q(product__code__in=feedstock_codes)
    )
    by_product: dict[int, Specification] = {}
    by_code: dict[str, Specification] = {}
    for spec in active.select_related("product"):
        by_product[spec.product_id] = spec
        by_code[spec.product.code] = spec
    found: dict[int, Specification] = {}
    for lot in lots:
        code = _feedstock_code(lot)
        match = by_product.get(lot.product_id) if lot.product_id is not None else (by_code.get(code) if code else None)
        if match is not None:
            found[lot.pk] = match
    return found


def lot_results(*, lot: Lot) -> LotResults:
    """Each sample's latest accepted results, as the pure assessment takes them."""
    return lots_results(lot_ids=[lot.pk])[lot.pk]


def lots_results(*, lot_ids: Collection[int]) -> dict[int, LotResults]:
    """``lot_results`` of many lots. Every lot asked for has an entry (no results: no samples)."""
    table = lots_result_table(lot_ids=lot_ids)
    return {lot_id: LotResults(table.samples(position), table.notes[position]) for position, lot_id in enumerate(table.lot_ids)}


def _spec_input(spec: Specification) -> core.Specification:
    lines = tuple(
        core.Line(
            position=line.position,
            quantity=line.quantity,
            unit=line.unit,
            element=line.element.symbol if line.element else None,
            oxide=line.oxide.formula if line.oxide else None,
            anion=line.anion or None,
            ratio_oxides=tuple(line.ratio_oxides),
            minimum=line.minimum or None,
            maximum=line.maximum or None,
            comparison=line.comparison,
            rule=line.rule,
        )
        for line in spec.lines.select_related("element", "oxide").order_by("position")
    )
    treo = DEFAULT_TREO_ELEMENTS | frozenset(spec.treo_also_counts) if spec.treo_also_counts else None
    return core.Specification(
        lines=lines,
        main=frozenset(spec.main_elements),
        ignited=spec.basis == "ignited",
        treo_includes=treo,
        required=tuple(spec.required_analytes),
    )


def _number(value: float | None) -> float | None:
    """A number for the stored JSON: NaN or infinity never leaves the service."""
    return value if value is not None and math.isfinite(value) else None


def _outcome_json(outcome: core.LotOutcome) -> dict[str, Any]:
    lines = []
    for line in outcome.lines:
        stats = line.statistics
        lines.append(
            {
                "position": line.line.position,
                "quantity": line.line.quantity,
                "label": line.line.label,
                "unit": line.line.unit,
                "minimum": line.line.minimum,
                "maximum": line.line.maximum,
                "comparison": line.line.comparison,
                "rule": line.line.rule,
                "best": _number(line.best),
                "lower": _number(line.lower),
                "upper": _number(line.upper),
                "judged_value": _number(line.judged_value),
                "censored": line.censored,
                "lod": _number(line.lod),
                "n": stats.n if stats else 0,
                "sd": _number(stats.sd) if stats else None,
                "rsd_percent": _number(stats.rsd_percent) if stats else None,
                "ci95": [stats.ci95_low, stats.ci95_high] if stats and stats.ci95_low is not None else None,
                "expanded_u": _number(line.expanded_u),
                "verdict": line.verdict.value if line.verdict else None,
                "compared_value": str(line.judgement.compared_value) if line.judgement else None,
                "reason": line.reason,
            }
        )
    return {"lines": lines, "missing": outcome.missing}


def _summary(outcome: core.LotOutcome) -> dict[str, Any]:
    """Headline best estimates, by the quantity names the CLI and the API use."""
    summary: dict[str, Any] = {}
    for line in outcome.lines:
        if line.best is None:
            continue
        if line.line.quantity == "relative_purity":
            summary["relative_purity_pct"] = line.best
        elif line.line.quantity == "treo":
            summary["treo_pct"] = line.best if line.line.unit == "%" else line.best / 10_000
        elif line.line.quantity == "main_oxide":
            summary["main_oxide_pct"] = line.best if line.line.unit == "%" else line.best / 10_000
        elif line.line.quantity == "oxide" and line.line.oxide:
            summary.setdefault("oxides_mg_kg", {})[line.line.oxide] = line.best if line.line.unit == "mg/kg" else line.best * 10_000
    return summary


def lot_assess(*, lot_id: int, actor: User | None = None, reason: str = "") -> LotAssessment | None:
    """Assess lot ``lot_id`` now; the new assessment, the unchanged latest one, or None when the
    lot has no specification to be judged by (nothing to assess) or no longer exists."""
    done = lots_assess(lot_ids=[lot_id], actor=actor, reason=reason)
    created = done.created.get(lot_id)
    if created is not None:
        return created
    current = done.current.get(lot_id)
    return LotAssessment.objects.get(pk=current) if current is not None else None


@transaction.atomic
def lots_assess(*, lot_ids: Collection[int], actor: User | None = None, reason: str = "") -> LotsAssessed:
    """Assess many lots in one transaction, as ``lot_assess`` does each: the same results, the same
    fingerprint, the same assessment, flags and lot states, with bulk reads and writes.

    The lots are locked in id order (as every writer of lots locks them), so a ``lot_assess`` of
    one of them meanwhile waits and then finds its fingerprint unchanged. Idempotent: lots whose
    inputs have not changed get no new assessment.
    """
    ids = sorted(set(lot_ids))
    if not ids:
        return LotsAssessed(found=0, changed=[], unjudged=[], current={}, created={})
    # As for an import: a chunk makes a few hundred thousand objects that live until it ends, which
    # the cyclic collector would traverse again and again for nothing (half the chunk's CPU time).
    with cyclic_gc_paused():
        return _lots_assess(ids, actor=actor, reason=reason)


def _lots_assess(ids: list[int], *, actor: User | None, reason: str) -> LotsAssessed:
    # Locks the lot rows only: a lot's product is a nullable join, which FOR UPDATE may not reach.
    lots = list(Lot.objects.select_for_update(of=("self",)).filter(pk__in=ids).select_related("product").order_by("pk"))
    why = reason or "assessment of the lot's accepted results"
    extra: dict[str, Any] = {"lot": ids[0]} if len(ids) == 1 else {"lots": len(lots)}
    with audited_context(actor=actor, reason=why, **extra):
        specs = specifications_for(lots)
        judged = [lot for lot in lots if lot.pk in specs]
        # Read after the locks are held: a concurrent assessment of one of these lots has committed.
        latest = _latest_assessments([lot.pk for lot in judged])
        lookups = result_lookups(lot_ids=[lot.pk for lot in judged])
        spec_inputs = {spec.pk: _spec_input(spec) for spec in {specs[lot.pk].pk: specs[lot.pk] for lot in judged}.values()}
        current: dict[int, int] = {}
        todo: list[_ToAssess] = []
        judged_first: list[tuple[_ToAssess, core.LotOutcome]] = []
        last: list[_ToAssess] = []
        unusable: list[Unusable] = []
        parts = _parts(judged)
        tables = tables_in_parts(parts=[[lot.pk for lot in part] for part in parts], lookups=lookups)
        for number, (part, (table, left_out)) in enumerate(zip(parts, tables, strict=True)):
            # Until the next part is asked for, the database is reading its results: nothing here
            # may query it. This part's lots are judged meanwhile, but the last part's, which
            # nothing is read behind, are judged as their assessments are written.
            unusable.extend(left_out)
            part_todo = _to_assess(part, table=table, specs=specs, latest=latest, current=current)
            todo.extend(part_todo)
            if number + 1 < len(parts):
                judged_first.extend(_judged(part_todo, spec_inputs=spec_inputs))
            else:
                last = part_todo
        certified = _certified([item.lot.pk for item in todo]) if todo else {}
        created = _store_assessments(
            itertools.chain(judged_first, _judged(last, spec_inputs=spec_inputs)),
            count=len(todo),
            notes=notes_of(unusable),
            certified=certified,
            actor=actor,
            why=why,
        )
        current.update({lot_id: assessment.pk for lot_id, assessment in created.items()})
        _follow_many(lots, created=created, certified=certified.keys(), actor=actor)
        # Nothing to judge by, or judged now: either way no longer waiting (a specification loaded
        # later reassesses its product's lots).
        _clear_stale_many(lots, actor=actor)
    return LotsAssessed(
        found=len(lots),
        changed=sorted(created),
        unjudged=[lot.pk for lot in lots if lot.pk not in specs],
        current=current,
        created=created,
    )


# A chunk's lots are read in parts when it has at least this many, each part read by the database
# while the one before is judged. Only the first part's reading is waited for, so it is small; the
# database reads a lot several times faster than Python judges one, so each later part may be larger
# than the one judged meanwhile. Measured on 2,000 lots in chunks of 200: waiting on the reads
# 0.61 s in two halves, 0.39 s in eighths 1, 3 and 4 (each part's query costs a little more).
_READ_IN_PARTS_FROM = 20
_PART_EIGHTHS = (1, 3, 4)


def _parts(lots: list[Lot]) -> list[list[Lot]]:
    if len(lots) < _READ_IN_PARTS_FROM:
        return [lots] if lots else []
    ends = [len(lots) * eighths // 8 for eighths in itertools.accumulate(_PART_EIGHTHS)]  # the last is len(lots)
    return [lots[start:end] for start, end in itertools.pairwise([0, *ends])]


def _to_assess(
    part: list[Lot],
    *,
    table: ResultTable,
    specs: Mapping[int, Specification],
    latest: Mapping[int, tuple[int, str]],
    current: dict[int, int],
) -> list[_ToAssess]:
    """The lots of ``part`` whose inputs (``table``) differ from their newest assessment's; the others'
    newest assessment goes into ``current``. No query."""
    fingerprints = table_fingerprints(table, spec_ids=[specs[lot.pk].pk for lot in part])
    todo: list[_ToAssess] = []
    for position, (lot, fingerprint) in enumerate(zip(part, fingerprints, strict=True)):
        spec = specs[lot.pk]
        newest = latest.get(lot.pk)
        if newest is not None and (
            newest[1] == fingerprint
            # Assessed before fingerprints were version 2: compared in the version it carries.
            or (may_be_version_1(newest[1]) and newest[1] == inputs_fingerprint_version_1(spec_id=spec.pk, samples=table.samples(position)))
        ):
            current[lot.pk] = newest[0]
        else:
            todo.append(_ToAssess(lot, spec, table, position, fingerprint))
    return todo


def _judged(todo: list[_ToAssess], *, spec_inputs: Mapping[int, core.Specification]) -> Iterator[tuple[_ToAssess, core.LotOutcome]]:
    """Each lot of ``todo`` (of one table) with its outcome, made as it is asked for: the lots of one
    specification judged together (lot_batch: the same outcomes as one by one). No query."""
    by_spec: dict[int, list[_ToAssess]] = defaultdict(list)
    for item in todo:
        by_spec[item.spec.pk].append(item)
    for spec_id, items in by_spec.items():
        outcomes = lot_batch.assessed_in_turn(table=items[0].table, positions=[item.position for item in items], spec=spec_inputs[spec_id])
        yield from zip(items, outcomes, strict=True)


def _latest_assessments(lot_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Lot id -> (id, fingerprint) of its newest assessment, in one query."""
    if not lot_ids:
        return {}
    newest = LotAssessment.objects.filter(lot=OuterRef("pk")).order_by("-assessed_at", "-id")
    rows = (
        Lot.objects.filter(pk__in=lot_ids)
        .annotate(newest_id=Subquery(newest.values("pk")[:1]), newest_fingerprint=Subquery(newest.values("inputs_fingerprint")[:1]))
        .filter(newest_id__isnull=False)
        .values_list("pk", "newest_id", "newest_fingerprint")
    )
    return {lot_id: (assessment_id, fingerprint) for lot_id, assessment_id, fingerprint in rows}


@dataclass(frozen=True, slots=True)
class _ToAssess:
    lot: Lot
    spec: Specification
    table: ResultTable  # of the lot's part
    position: int  # the lot's in the table
    fingerprint: str


def _store_assessments(
    judged: Iterable[tuple[_ToAssess, core.LotOutcome]],
    *,
    count: int,
    notes: Mapping[int, list[str]],
    certified: Mapping[int, tuple[str, Any]],
    actor: User | None,
    why: str,
) -> dict[int, LotAssessment]:
    """The ``count`` new assessments of ``judged`` in one write, with their audit events in another;
    each compared with its lot's certified assessment (``certified``), if it has one. ``judged`` is
    consumed as the write goes: the database stores one lot's assessment while the next is judged."""
    if not count:
        return {}
    now = timezone.now()

    def made() -> Iterator[LotAssessment]:
        # Each assessment made as the COPY asks for the next row. Nothing here may query the
        # database (the COPY holds it).
        for item, outcome in judged:
            summary = _summary(outcome)
            frozen = certified.get(item.lot.pk)
            yield LotAssessment(
                lot=item.lot,
                specification=item.spec,
                status=outcome.status.value,
                inputs_fingerprint=item.fingerprint,
                assessed_at=now,
                n_samples=outcome.n_samples,
                outcome=_outcome_json(outcome),
                summary=summary,
                reasons=[*outcome.reasons, *notes.get(item.lot.pk, [])],
                differs_from_certified=frozen is not None and (frozen[0] != outcome.status.value or frozen[1] != summary),
                assessed_by=actor,
            )

    assessments = insert_all(made(), count=count)
    events: list[AuditChange] = []
    for assessment in assessments:
        events.append(
            AuditChange(
                assessment,
                after={
                    "status": assessment.status,
                    "spec": str(assessment.specification),
                    "n_samples": assessment.n_samples,
                    "summary": assessment.summary,
                },
            )
        )
    audit_record_many(actor=actor, action=AuditAction.CREATE, changes=events, reason=why)
    return {assessment.lot_id: assessment for assessment in assessments}


def _certified(lot_ids: list[int]) -> dict[int, tuple[str, Any]]:
    """Lot id -> (status, summary) of its newest certified assessment: frozen, with a certificate
    still live (a revoked or superseded-only one no longer speaks for the lot)."""
    found: dict[int, tuple[str, Any]] = {}
    frozen = (
        LotAssessment.objects.filter(
            lot_id__in=lot_ids, is_frozen=True, certificates__status__in=(CertificateStatus.RENDERING, CertificateStatus.ISSUED)
        )
        .distinct()
        .order_by("lot_id", "-assessed_at", "-id")
    )
    for lot_id, status, summary in frozen.values_list("lot_id", "status", "summary"):
        found.setdefault(lot_id, (status, summary))
    return found


def _follow_many(lots: list[Lot], *, created: Mapping[int, LotAssessment], certified: Collection[int], actor: User | None) -> None:
    """Flags, lot states and QA's e-mail after new assessments, with the state changes written in
    one UPDATE per target state. A lot with a certified assessment (``certified``: lot ids) keeps
    its state; a differing new assessment only raises a flag."""
    moves: dict[LotStatus, list[tuple[Lot, str]]] = defaultdict(list)
    flags: list[tuple[Lot, FlagKind, LotAssessment]] = []
    for lot in lots:
        assessment = created.get(lot.pk)
        if assessment is None:
            continue
        if lot.pk in certified or lot.status == LotStatus.RELEASED:
            if assessment.differs_from_certified:
                flags.append((lot, FlagKind.DIFFERS_FROM_CERTIFIED, assessment))
            continue
        status = AssessmentStatus(assessment.status)
        why = f"assessment {assessment.pk}: {status.label}"
        if status in (AssessmentStatus.CONFORMING, AssessmentStatus.NO_VERDICT):
            if lot.status == LotStatus.OPEN:
                moves[LotStatus.ASSESSED].append((lot, why))
            continue
        flags.append((lot, _FLAG_OF_STATUS[status], assessment))
        if lot.status in (LotStatus.OPEN, LotStatus.ASSESSED):
            moves[LotStatus.ON_HOLD].append((lot, why))
    for target, moving in moves.items():
        _transition_many(moving, to=target, actor=actor)
    _raise_flags(flags, actor=actor)


def _transition_many(moving: list[tuple[Lot, str]], *, to: LotStatus, actor: User | None) -> None:
    changes = []
    for lot, why in moving:
        check_transition(current=lot.status, requested=to.value)
        changes.append(AuditChange(lot, before={"status": lot.status}, after={"status": to.value}, reason=why))
        lot.status = to
    Lot.objects.filter(pk__in=[lot.pk for lot, _ in moving]).update(status=to)
    audit_record_many(actor=actor, action=AuditAction.TRANSITION, changes=changes)


def _flag_details(assessment: LotAssessment) -> dict[str, Any]:
    failing = [line for line in assessment.outcome.get("lines", []) if line.get("verdict") not in (None, "pass")]
    return {
        "assessment": assessment.pk,
        "status": assessment.status,
        "lines": [{k: line[k] for k in ("label", "judged_value", "minimum", "maximum", "unit", "verdict", "reason")} for line in failing],
        "missing": assessment.outcome.get("missing", {}),
    }


def _raise_flags(wanted: list[tuple[Lot, FlagKind, LotAssessment]], *, actor: User | None) -> None:
    """A flag of each kind on each lot: the open one's details brought up to date, else a new one
    (and QA e-mailed once this commits)."""
    if not wanted:
        return
    # With their lots: each flag brought up to date gets an audit event, which names the flag by its lot.
    candidates = (
        Flag.objects.filter(lot_id__in={lot.pk for lot, _, _ in wanted}, kind__in={kind for _, kind, _ in wanted}, status=FlagStatus.OPEN)
        .select_related("lot")
        .order_by("raised_at", "id")
    )
    # Oldest first, so that the newest open flag of a kind is the one brought up to date.
    open_flags = {(flag.lot_id, flag.kind): flag for flag in candidates}
    updated: list[Flag] = []
    updates: list[AuditChange] = []
    new: list[Flag] = []
    news: list[tuple[Lot, LotAssessment]] = []
    now = timezone.now()
    for lot, kind, assessment in wanted:
        details = _flag_details(assessment)
        flag = open_flags.get((lot.pk, kind))
        if flag is not None:
            updates.append(AuditChange(flag, before={"details": flag.details}, after=details, reason="assessed again"))
            flag.details = details
            updated.append(flag)
            continue
        new.append(Flag(kind=kind, lot=lot, details=details, raised_at=now, raised_by=actor))
        news.append((lot, assessment))
    if updated:
        Flag.objects.bulk_update(updated, ["details"])
        audit_record_many(actor=actor, action=AuditAction.UPDATE, changes=updates)
    if new:
        Flag.objects.bulk_create(new)
        audit_record_many(
            actor=actor,
            action=AuditAction.CREATE,
            changes=[
                AuditChange(flag, after=flag.details, reason=f"lot {lot.code}: {assessment.status}")
                for flag, (lot, assessment) in zip(new, news, strict=True)
            ],
        )
        pairs = [(lot.pk, flag.pk) for flag, (lot, _) in zip(new, news, strict=True)]
        transaction.on_commit(lambda: _email_qa_many(pairs))


def _clear_stale_many(lots: list[Lot], *, actor: User | None) -> None:
    stale = [lot for lot in lots if lot.assessment_stale_since is not None]
    if not stale:
        return
    changes = [
        AuditChange(lot, before=snapshot(lot, fields=["assessment_stale_since"]), after={"assessment_stale_since": None}) for lot in stale
    ]
    Lot.objects.filter(pk__in=[lot.pk for lot in stale]).update(assessment_stale_since=None)
    for lot in stale:
        lot.assessment_stale_since = None
    audit_record_many(actor=actor, action=AuditAction.UPDATE, changes=changes, reason="assessed")


def _email_qa_many(pairs: list[tuple[int, int]]) -> None:
    """QA hears of new flags: one e-mail per list of recipients for everything one assessment run
    flagged (a reassessment chunk flags up to a few hundred lots; a message each would bury QA),
    the lot's own e-mail when it flagged one lot."""
    flags = Flag.objects.select_related("lot").filter(pk__in=[flag_id for _, flag_id in pairs])
    flagged_lots = sorted(((flag.lot, flag) for flag in flags if flag.lot is not None), key=lambda pair: (pair[0].code, pair[1].kind))
    recipients_of_site = _qa_recipients(site_ids={lot.site_id for lot, _ in flagged_lots})
    by_recipients: dict[tuple[str, ...], list[tuple[Lot, Flag]]] = defaultdict(list)
    for lot, flag in flagged_lots:
        if recipients_of_site[lot.site_id]:
            by_recipients[recipients_of_site[lot.site_id]].append((lot, flag))
    for recipients, flagged in by_recipients.items():
        if len(flagged) == 1:
            ((lot, flag),) = flagged
            subject = f"[LIMS] Lot {lot.code}: {flag.get_kind_display().lower()}"
        else:
            kinds = Counter(flag.get_kind_display().lower() for _, flag in flagged)
            subject = f"[LIMS] {len(flagged)} lots flagged: " + ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        send_mail(
            subject=subject,
            message="\n".join(_flag_text(lot, flag) for lot, flag in flagged),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=list(recipients),
            fail_silently=True,
        )


def _qa_recipients(*, site_ids: set[int]) -> dict[int, tuple[str, ...]]:
    """Per site: its QA and the QA managers (of every site), active and with an address. Two
    queries, whatever the number of sites."""
    active = User.objects.filter(is_active=True).exclude(email="")
    managers = set(active.filter(groups__name=Role.QA_MANAGER.value).values_list("email", flat=True))
    qa: dict[int, set[str]] = defaultdict(set)
    rows = active.filter(groups__name=Role.QA.value, site_memberships__site_id__in=site_ids)
    for site_id, email in rows.values_list("site_memberships__site_id", "email"):
        qa[site_id].add(email)
    return {site_id: tuple(sorted(qa[site_id] | managers)) for site_id in site_ids}


def _flag_text(lot: Lot, flag: Flag) -> str:
    lines = "\n".join(f"- {line['label']}: {line['reason']}" for line in flag.details.get("lines", []))
    missing = "\n".join(f"- sample {code} lacks {', '.join(items)}" for code, items in flag.details.get("missing", {}).items())
    return f"Lot {lot.code} is on hold: {flag.get_kind_display()}.\n\n{lines or missing}\n"


def lots_stale(*, limit: int = 500) -> list[int]:
    """Lots waiting for an assessment (their message lost, or the broker down): oldest first."""
    return list(
        Lot.objects.filter(assessment_stale_since__isnull=False).order_by("assessment_stale_since").values_list("pk", flat=True)[:limit]
    )


def lot_assess_by_code(*, code: str, actor: User | None = None) -> LotAssessment | None:
    lot = Lot.objects.filter(code=code).first()
    if lot is None:
        raise NotFoundError(f"no lot {code!r}")
    return lot_assess(lot_id=lot.pk, actor=actor, reason="assessment asked for")
