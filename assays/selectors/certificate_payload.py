"""The one JSON payload a certificate is rendered from: everything REO-ASSAY.md §6 and §7 ask a
certificate to state, gathered at the moment of signing and frozen on the certificate.

Numbers are shown as the report rounds them (§5: U to two significant figures, the result to the
same place; censored as ``< LOD``); the full-precision figures stay in the assessment it names.
The template only lays this out (templates/certificates/); nothing here is recomputed later.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from assays.chemistry.provenance import Edge, FeedstockShare, feedstock_shares, recycled_content
from assays.chemistry.rounding import format_decimal, round_half_even, round_with_uncertainty
from assays.models import (
    AssessmentStatus,
    Certificate,
    CertificateKind,
    LabProfile,
    Lot,
    LotAssessment,
    LotInput,
    LotKind,
    Run,
    RunStatus,
    Sample,
)
from assays.selectors.assessments import assessment_rows

SCHEMA_VERSION = 1

DECISION_RULE_WORDS = {
    "simple": "simple acceptance: the result is compared with the limit, without the uncertainty (ILAC G8 §4.2.1)",
    "guard_band": (
        "guard band with U (ILAC G8): pass when result ± U lies inside the limit, fail when result ∓ U lies outside it, "
        "otherwise inconclusive"
    ),
}
ROUNDING_WORDS = {
    "absolute": "absolute method: the unrounded result is compared with the limit (ASTM E29)",
    "rounding": "rounding method: the result is rounded to the limit's last digit, half to even, then compared (ASTM E29, GB/T 8170)",
}
REPORT_ROUNDING = "U is reported to two significant figures and the result to the same decimal place; k = 2 (about 95 % coverage)."
STATUS_STATEMENT = {
    AssessmentStatus.CONFORMING: "The lot conforms to the specification under the decision rule stated.",
    AssessmentStatus.OFF_SPEC: "The lot does NOT conform to the specification under the decision rule stated.",
    AssessmentStatus.INCONCLUSIVE: "Conformity cannot be stated: at least one result is inconclusive under the decision rule.",
    AssessmentStatus.INSUFFICIENT_DATA: "Conformity cannot be stated: required results are missing.",
    AssessmentStatus.NO_VERDICT: "Report of analysis: results and their uncertainty, with no statement of conformity.",
}


def _utc(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else None


def _kg(mass: Decimal | None) -> str:
    # Stored with four places; printed as entered ("500", not "500.0000").
    return f"{mass.normalize():f}" if mass is not None else "not stated"


def _date(day: dt.date | dt.datetime | None) -> str | None:
    if day is None:
        return None
    if isinstance(day, dt.datetime):
        return day.astimezone(dt.UTC).date().isoformat()
    return day.isoformat()


def verification_url(token: str) -> str:
    return f"{settings.LIMS_PUBLIC_BASE_URL}{reverse('verify', kwargs={'token': token})}"


def _percent(value: float | None, uncertainty: float | None = None) -> str:
    if value is None:
        return "—"
    if uncertainty is None:
        # No uncertainty to set the place by: two decimals of a percent, as the payable table shows.
        return f"{format_decimal(round_half_even(value, places=2))} %"
    shown, u = round_with_uncertainty(value=value, expanded_uncertainty=uncertainty)
    return f"{format_decimal(shown)} ± {format_decimal(u)} %" if u is not None else f"{format_decimal(shown)} %"


def _line(assessment: LotAssessment, quantity: str) -> dict[str, Any] | None:
    for line in assessment.outcome.get("lines", []):
        if line.get("quantity") == quantity and line.get("best") is not None:
            return dict(line)
    return None


def _headline(assessment: LotAssessment, quantity: str) -> str:
    line = _line(assessment, quantity)
    if line is None:
        return "not reported"
    scale = 1 / 10_000 if line.get("unit") == "mg/kg" else 1.0
    u = line.get("expanded_u")
    return _percent(line["best"] * scale, u * scale if u is not None else None)


def _results(assessment: LotAssessment, profile: LabProfile) -> list[dict[str, Any]]:
    scope = {str(item) for item in profile.accredited_scope}
    rows = []
    ordered = sorted(assessment.outcome.get("lines", []), key=lambda item: item.get("position") or 0)
    # assessment_rows rounds and words each line as the lot page shows it, in the same order.
    for row, raw in zip(assessment_rows(assessment), ordered, strict=True):
        element = _element_of(raw)
        value, _, uncertainty = row.value.partition(" ± ")
        rows.append(
            {
                "quantity": row.label,
                "unit": row.unit,
                "result": value,
                "uncertainty": uncertainty,
                "limit": row.limit.replace(">=", "≥").replace("<=", "≤"),
                "verdict": row.verdict_label if row.verdict else "",
                "censored": bool(raw.get("censored")),
                "accredited": bool(scope) and (raw.get("quantity") in scope or (element is not None and element in scope)),
            }
        )
    return rows


def _element_of(line: dict[str, Any]) -> str | None:
    label = str(line.get("label") or "")
    if line.get("quantity") in ("oxide", "element") and label:
        # Labels read "Fe2O3" or "Fe": the element symbol is the leading capital and its small letter.
        symbol = label[0] + (label[1] if len(label) > 1 and label[1].islower() else "")
        return symbol
    return None


def _samples(lot: Lot) -> list[dict[str, Any]]:
    samples = Sample.objects.filter(lot=lot).prefetch_related("custody_events").select_related("registered_by").order_by("code")
    out = []
    for sample in samples:
        received = [event.at for event in sample.custody_events.all() if event.kind == "received"]
        sampler = sample.sampled_by or "not stated"
        out.append(
            {
                "code": sample.code,
                "sampled_by": sampler,
                "sampled_at": _utc(sample.sampled_at),
                "sampling_method": sample.sampling_method or "not stated",
                "received_at": _utc(min(received)) if received else _utc(sample.registered_at),
            }
        )
    return out


def _methods_and_dates(lot: Lot) -> tuple[list[dict[str, Any]], list[str]]:
    runs = (
        Run.objects.filter(acquisitions__sample__lot=lot, status__in=(RunStatus.ACCEPTED, RunStatus.PARTIALLY_ACCEPTED))
        .select_related("method", "instrument")
        .distinct()
        .order_by("started_at", "imported_at")
    )
    methods: dict[tuple[str, str], dict[str, Any]] = {}
    dates: set[str] = set()
    for run in runs:
        key = (run.method.code, run.instrument.code)
        methods.setdefault(
            key,
            {
                "method": run.method.name,
                "code": run.method.code,
                "technique": run.method.get_technique_display(),
                "standard": run.method.standard or "in-house method",
                "instrument": f"{run.instrument.name} ({run.instrument.vendor} {run.instrument.model})".replace(" ( )", "").strip(),
                "rule_pack": run.method.rule_pack_code,
            },
        )
        day = _date(run.started_at or run.imported_at)
        if day:
            dates.add(day)
    return list(methods.values()), sorted(dates)


def lot_provenance(*, lot: Lot, profile: LabProfile) -> dict[str, Any]:
    """The provenance section as the certificate prints it (also previewed on the review page)."""
    # The whole genealogy upstream of the lot, one query per level (genealogies are shallow).
    edges: list[Edge] = []
    frontier, seen = {lot.pk}, {lot.pk}
    while frontier:
        level = list(LotInput.objects.filter(output_lot_id__in=frontier).values_list("input_lot_id", "output_lot_id", "mass_used_kg"))
        edges += [Edge(str(a), str(b), float(mass)) for a, b, mass in level]
        frontier = {a for a, _, _ in level} - seen
        seen |= frontier
    shares = feedstock_shares(lot=str(lot.pk), edges=edges)
    if not shares and lot.kind == LotKind.FEEDSTOCK:
        # A feedstock lot is its own source: its supplier and country of collection are its provenance.
        shares = {str(lot.pk): 1.0}
    roots = Lot.objects.filter(pk__in=[int(pk) for pk in shares]).select_related("supplier").order_by("code")
    latest = _latest_treo({root.pk for root in roots})
    feedstocks = []
    balance = []
    for root in roots:
        share = shares[str(root.pk)]
        treo = latest.get(root.pk)
        balance.append(FeedstockShare(root.code, share, treo / 100 if treo is not None else None, root.is_recycled))
        feedstocks.append(
            {
                "lot": root.code,
                "share_percent": format_decimal(round_half_even(100 * share, places=1)),
                "type": root.get_feedstock_type_display() if root.feedstock_type else root.get_kind_display(),
                "supplier": root.supplier.name if root.supplier else "—",
                "supplier_country": root.supplier.country if root.supplier else "",
                "country_of_collection": root.country_of_collection or "—",
                "recycled": root.is_recycled,
            }
        )
    recycled = recycled_content(feedstocks=balance)
    return {
        "feedstocks": feedstocks,
        "supplier_countries": sorted({item["supplier_country"] for item in feedstocks if item["supplier_country"]}),
        "countries_of_collection": sorted({item["country_of_collection"] for item in feedstocks if item["country_of_collection"] != "—"}),
        "country_of_separation": lot.country_of_separation or "not stated",
        "country_of_oxide_production": lot.country_of_oxide_production or "not stated",
        "recycled_content": (
            f"{format_decimal(round_half_even(recycled.percent, places=1))} % ({recycled.note})"
            if recycled.percent is not None
            else f"not determinable ({recycled.note})"
        ),
        "seller_declaration": profile.seller_declaration,
    }


def _latest_treo(lot_ids: set[int]) -> dict[int, float]:
    """Each lot's TREO (%) from its newest assessment that has one."""
    treo: dict[int, float] = {}
    for lot_id, summary in (
        LotAssessment.objects.filter(lot_id__in=lot_ids).order_by("lot_id", "-assessed_at", "-id").values_list("lot_id", "summary")
    ):
        if lot_id not in treo and isinstance(summary, dict) and summary.get("treo_pct") is not None:
            treo[lot_id] = float(summary["treo_pct"])
    return treo


def certificate_payload(*, certificate: Certificate, profile: LabProfile) -> dict[str, Any]:
    """The certified data of ``certificate`` (not yet saved: number, signer and token are set)."""
    lot = certificate.lot
    assessment = certificate.assessment
    if assessment is None:
        raise ValueError("a certificate rests on an assessment")
    spec = assessment.specification
    rules = sorted({line.get("rule") for line in assessment.outcome.get("lines", []) if line.get("rule")})
    comparisons = sorted({line.get("comparison") for line in assessment.outcome.get("lines", []) if line.get("comparison")})
    methods, analysis_dates = _methods_and_dates(lot)
    is_report = certificate.kind == CertificateKind.REPORT
    supersedes = certificate.supersedes
    allocation = lot.allocations.filter(customer=certificate.customer).first() if certificate.customer else None
    return {
        "schema": SCHEMA_VERSION,
        "kind": certificate.kind,
        "title": "Report of analysis" if is_report else "Certificate of analysis",
        "number": certificate.number,
        "revision": certificate.revision,
        "issued_at": _utc(certificate.issued_at or timezone.now()),
        "lab": {"name": profile.name, "address": profile.address, "accreditation": profile.accreditation},
        "issuing_site": {"name": certificate.issuing_site.name, "address": certificate.issuing_site.address},
        "customer": (
            {
                "name": certificate.customer.name,
                "country": certificate.customer.country,
                "reference": allocation.reference if allocation else "",
            }
            if certificate.customer
            else None
        ),
        "lot": {
            "code": lot.code,
            "kind": lot.get_kind_display(),
            "product": lot.product.name if lot.product else ("Feedstock" if lot.kind == LotKind.FEEDSTOCK else "—"),
            "product_code": lot.product.code if lot.product else (spec.product.code if spec else ""),
            "grade": (spec.grade or spec.name) if spec else "",
            "quantity_kg": _kg(allocation.mass_kg if allocation else lot.mass_kg),
            "produced_on": _date(lot.produced_on),
            "received_on": _date(lot.received_on),
        },
        "specification": {
            "name": spec.name if spec else "",
            "product": spec.product.code if spec else "",
            "version": spec.version if spec else None,
            "source": spec.source if spec else "",
            "basis": spec.get_basis_display() if spec else "",
        },
        "samples": _samples(lot),
        "analysis_dates": analysis_dates,
        "methods": methods,
        "results": _results(assessment, profile),
        "summary": {
            "treo": _headline(assessment, "treo"),
            "relative_purity": _headline(assessment, "relative_purity"),
            "absolute_content": _headline(assessment, "main_oxide"),
            "n_samples": assessment.n_samples,
            "status": assessment.status,
            "statement": STATUS_STATEMENT.get(AssessmentStatus(assessment.status), ""),
        },
        "accreditation_note": (
            "Results marked ✱ are inside the laboratory's accreditation scope."
            if profile.accredited_scope
            else "No result is stated as accredited."
        ),
        "decision_rule": "; ".join(DECISION_RULE_WORDS.get(rule, rule) for rule in rules)
        if not is_report
        else "none: no statement of conformity",
        "rounding_rule": " ".join([*(ROUNDING_WORDS.get(c, c) for c in comparisons if not is_report), REPORT_ROUNDING]),
        "concession": certificate.concession_reason or None,
        "provenance": lot_provenance(lot=lot, profile=profile),
        "signatures": [
            {
                "name": certificate.signer_name,
                "role": certificate.signer_role,
                "meaning": certificate.get_signature_meaning_display(),
                "signed_at": _utc(certificate.issued_at),
            }
        ],
        "supersedes": (
            {
                "number": supersedes.number,
                "revision": supersedes.revision,
                "change": certificate.change_summary,
                "reason": certificate.revision_reason,
            }
            if supersedes
            else None
        ),
        "verification_url": verification_url(certificate.verification_token or ""),
        "assessment_id": assessment.pk,
    }
