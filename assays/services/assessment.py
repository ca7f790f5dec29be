"""Lot assessment (DESIGN.md, data flow step 4): a lot's accepted results judged against its
specification, stored as a ``LotAssessment``, with the flags and lot states that follow.

What counts as a lot's results: for each of its samples and each element, the **latest accepted**
result of the element's **reporting channel** in a run's current QC judgement (a re-run or a
re-dilution supersedes), on the solid (mg/kg or %: a value left in solution units, for a sample
without mass or volume, cannot be used). LOI and anions come from any run (manual results). Each
result carries its method channel's uncertainty model u(w) = √(a² + (b·w)²).

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

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from assays.chemistry import assessment as core
from assays.chemistry.purity import DEFAULT_TREO_ELEMENTS, Result, model_uncertainty
from assays.errors import NotFoundError
from assays.importers.analytes import LOI, NAMED_ANALYTES
from assays.lifecycle import check_transition
from assays.models import (
    AssessmentStatus,
    AuditAction,
    Basis,
    ChannelRole,
    Flag,
    FlagKind,
    FlagStatus,
    Lot,
    LotAssessment,
    LotKind,
    LotStatus,
    MethodChannel,
    Qualifier,
    ResultAcceptance,
    Specification,
    SpecificationStatus,
)
from assays.roles import Role
from assays.services.audit import audit_record, audited_context, snapshot

_MG_KG_PER = {"mg/kg": 1.0, "µg/g": 1.0, "%": 10_000.0, "g/kg": 1_000.0, "µg/kg": 0.001}
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
    measurement_ids: list[int]
    notes: list[str]


def specification_for(lot: Lot) -> Specification | None:
    """The active specification a lot is judged by: its product's, or for a feedstock lot its
    chemistry's report-only one."""
    if lot.product_id is not None:
        return Specification.objects.filter(product_id=lot.product_id, status=SpecificationStatus.ACTIVE).first()
    code = FEEDSTOCK_PRODUCTS.get(lot.magnet_chemistry)
    if lot.kind == LotKind.FEEDSTOCK and code:
        return Specification.objects.filter(product__code=code, status=SpecificationStatus.ACTIVE).first()
    return None


def lot_results(*, lot: Lot) -> LotResults:
    """Each sample's latest accepted results, as the pure assessment takes them."""
    rows = (
        ResultAcceptance.objects.filter(
            state="accepted",
            evaluation__is_current=True,
            measurement__acquisition__sample__lot=lot,
            measurement__acquisition__qc_role="",
        )
        .order_by("measurement__acquisition__run__imported_at", "measurement__acquisition__run_id", "measurement__acquisition__sequence")
        .values_list(
            "measurement_id",
            "measurement__acquisition__sample__code",
            "measurement__acquisition__run__method_id",
            "measurement__analyte_id",
            "measurement__analyte__element__symbol",
            "measurement__analyte__name",
            "measurement__value",
            "measurement__qualifier",
            "measurement__unit",
            "measurement__basis",
            "measurement__lod",
            "measurement__acquisition__run__method__is_manual",
        )
    )
    channels = {
        (channel.method_id, channel.analyte_id): channel
        for channel in MethodChannel.objects.filter(method__runs__acquisitions__sample__lot=lot).distinct()
    }
    latest: dict[tuple[str, str], tuple[int, Result]] = {}
    notes: list[str] = []
    for pk, sample, method_id, analyte_id, symbol, name, value, qualifier, unit, basis, lod, manual in rows:
        channel = channels.get((method_id, analyte_id))
        key = symbol or name
        if not key:
            continue
        if symbol and not manual and (channel is None or channel.role != ChannelRole.REPORTING):
            # Confirmatory isotopes and channels outside the method never feed a lot value; a
            # result typed in (an outside laboratory's report) has no channel and counts as given.
            continue
        if basis == Basis.SOLUTION or unit not in _MG_KG_PER:
            notes.append(f"sample {sample}: a {key} result in {unit} ({basis}) cannot be used (no mass or volume)")
            continue
        # Into mg/kg of the solid; LOI stays in %.
        scale = _MG_KG_PER[unit] / (_MG_KG_PER["%"] if key == LOI else 1.0)
        censored = qualifier == Qualifier.LESS_THAN
        amount = value * scale
        limit = lod * scale if lod is not None else None
        u = None
        if channel is not None and not censored and key != LOI:
            u = model_uncertainty(value=amount, a=channel.uncertainty_a, b=channel.uncertainty_b)
        # Rows come oldest first: a later accepted result of the same element supersedes.
        latest[(sample, key)] = (pk, Result(amount, censored=censored, lod=limit, u=u))
    by_sample: dict[str, dict[str, tuple[int, Result]]] = defaultdict(dict)
    for (sample, key), entry in latest.items():
        by_sample[sample][key] = entry
    samples = []
    ids: list[int] = []
    for code in sorted(by_sample):
        entries = by_sample[code]
        ids += [pk for pk, _ in entries.values()]
        elements = {key: result for key, (_, result) in entries.items() if key not in NAMED_ANALYTES}
        anions = {key: result for key, (_, result) in entries.items() if key in NAMED_ANALYTES and key != LOI}
        loi = entries.get(LOI)
        samples.append(core.SampleInput(code, elements, anions, loi[1] if loi else None))
    return LotResults(samples, sorted(ids), notes)


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


def _fingerprint(spec: Specification, results: LotResults) -> str:
    """What the assessment depends on: the spec version and every input result as used."""
    payload: dict[str, Any] = {
        "spec": spec.pk,
        "samples": [
            {
                "code": sample.code,
                "elements": {k: [r.value, r.censored, r.lod, r.u] for k, r in sorted(sample.elements.items())},
                "anions": {k: [r.value, r.censored, r.lod, r.u] for k, r in sorted(sample.anions.items())},
                "loi": None if sample.loi_percent is None else [sample.loi_percent.value, sample.loi_percent.censored],
            }
            for sample in results.samples
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


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


@transaction.atomic
def lot_assess(*, lot_id: int, actor: User | None = None, reason: str = "") -> LotAssessment | None:
    """Assess lot ``lot_id`` now; the new assessment, the unchanged latest one, or None when the
    lot has no specification to be judged by (nothing to assess) or no longer exists."""
    # Locks the lot row only: its product is a nullable join, which FOR UPDATE may not reach.
    lot = Lot.objects.select_for_update(of=("self",)).filter(pk=lot_id).select_related("product").first()
    if lot is None:
        return None
    spec = specification_for(lot)
    if spec is None:
        # Nothing to judge by; a specification loaded later reassesses its product's lots.
        _clear_stale(lot, actor=actor)
        return None
    results = lot_results(lot=lot)
    fingerprint = _fingerprint(spec, results)
    latest = LotAssessment.objects.filter(lot=lot).order_by("-assessed_at", "-id").first()
    if latest is not None and latest.inputs_fingerprint == fingerprint:
        _clear_stale(lot, actor=actor)
        return latest
    outcome = core.assess_lot(samples=results.samples, spec=_spec_input(spec))
    certified = LotAssessment.objects.filter(lot=lot, is_frozen=True).order_by("-assessed_at").first()
    summary = _summary(outcome)
    differs = certified is not None and (certified.status != outcome.status.value or certified.summary != summary)
    why = reason or "assessment of the lot's accepted results"
    with audited_context(actor=actor, reason=why, lot=lot.pk):
        assessment = LotAssessment.objects.create(
            lot=lot,
            specification=spec,
            status=outcome.status.value,
            inputs_fingerprint=fingerprint,
            assessed_at=timezone.now(),
            n_samples=outcome.n_samples,
            outcome=_outcome_json(outcome),
            summary=summary,
            reasons=[*outcome.reasons, *results.notes],
            differs_from_certified=differs,
            assessed_by=actor,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            instance=assessment,
            reason=why,
            after={"status": assessment.status, "spec": str(spec), "n_samples": outcome.n_samples, "summary": summary},
        )
        _follow(lot, assessment=assessment, actor=actor, certified=certified is not None)
        _clear_stale(lot, actor=actor)
    return assessment


def _clear_stale(lot: Lot, *, actor: User | None) -> None:
    if lot.assessment_stale_since is None:
        return
    before = snapshot(lot, fields=["assessment_stale_since"])
    lot.assessment_stale_since = None
    lot.save(update_fields=["assessment_stale_since"])
    audit_record(
        actor=actor, action=AuditAction.UPDATE, instance=lot, reason="assessed", before=before, after={"assessment_stale_since": None}
    )


def _follow(lot: Lot, *, assessment: LotAssessment, actor: User | None, certified: bool) -> None:
    """Flags, lot state and QA's e-mail after a new assessment."""
    if certified or lot.status == LotStatus.RELEASED:
        if assessment.differs_from_certified:
            _raise_flag(lot, FlagKind.DIFFERS_FROM_CERTIFIED, assessment=assessment, actor=actor)
        return
    status = AssessmentStatus(assessment.status)
    if status in (AssessmentStatus.CONFORMING, AssessmentStatus.NO_VERDICT):
        if lot.status == LotStatus.OPEN:
            _transition(lot, LotStatus.ASSESSED, actor=actor, reason=f"assessment {assessment.pk}: {status.label}")
        return
    kind = _FLAG_OF_STATUS[status]
    _raise_flag(lot, kind, assessment=assessment, actor=actor)
    if lot.status in (LotStatus.OPEN, LotStatus.ASSESSED):
        _transition(lot, LotStatus.ON_HOLD, actor=actor, reason=f"assessment {assessment.pk}: {status.label}")


def _transition(lot: Lot, to: LotStatus, *, actor: User | None, reason: str) -> None:
    check_transition(current=lot.status, requested=to.value)
    before = snapshot(lot, fields=["status"])
    lot.status = to
    lot.save(update_fields=["status"])
    audit_record(actor=actor, action=AuditAction.TRANSITION, instance=lot, reason=reason, before=before, after={"status": to.value})


def _raise_flag(lot: Lot, kind: FlagKind, *, assessment: LotAssessment, actor: User | None) -> Flag:
    failing = [line for line in assessment.outcome.get("lines", []) if line.get("verdict") not in (None, "pass")]
    details = {
        "assessment": assessment.pk,
        "status": assessment.status,
        "lines": [{k: line[k] for k in ("label", "judged_value", "minimum", "maximum", "unit", "verdict", "reason")} for line in failing],
        "missing": assessment.outcome.get("missing", {}),
    }
    flag = Flag.objects.filter(lot=lot, kind=kind, status=FlagStatus.OPEN).first()
    if flag is not None:
        before = snapshot(flag, fields=["details"])
        flag.details = details
        flag.save(update_fields=["details"])
        audit_record(actor=actor, action=AuditAction.UPDATE, instance=flag, reason="assessed again", before=before, after=details)
        return flag
    flag = Flag.objects.create(kind=kind, lot=lot, details=details, raised_at=timezone.now(), raised_by=actor)
    audit_record(actor=actor, action=AuditAction.CREATE, instance=flag, reason=f"lot {lot.code}: {assessment.status}", after=details)
    transaction.on_commit(lambda: _email_qa(lot_id=lot.pk, flag_id=flag.pk))
    return flag


def _email_qa(*, lot_id: int, flag_id: int) -> None:
    """QA of the lot's site (and QA managers) hear of a new flag; the console backend in the demo."""
    flag = Flag.objects.select_related("lot", "lot__site").filter(pk=flag_id).first()
    if flag is None or flag.lot is None:
        return
    recipients = sorted(
        set(
            User.objects.filter(is_active=True, groups__name=Role.QA.value, site_memberships__site=flag.lot.site)
            .exclude(email="")
            .values_list("email", flat=True)
        )
        | set(User.objects.filter(is_active=True, groups__name=Role.QA_MANAGER.value).exclude(email="").values_list("email", flat=True))
    )
    if not recipients:
        return
    lines = "\n".join(f"- {line['label']}: {line['reason']}" for line in flag.details.get("lines", []))
    missing = "\n".join(f"- sample {code} lacks {', '.join(items)}" for code, items in flag.details.get("missing", {}).items())
    send_mail(
        subject=f"[LIMS] Lot {flag.lot.code}: {flag.get_kind_display().lower()}",
        message=f"Lot {flag.lot.code} is on hold: {flag.get_kind_display()}.\n\n{lines or missing}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
        fail_silently=True,
    )


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
