"""A complete example payload: an Nd2O3 product lot with one censored impurity and recycled feedstock.

Shared by the tests and the benchmark (and handy to look at a certificate without a database:
``python -m assays.certificates.example out.pdf``). Built through ``result_row`` so the numbers are
rounded exactly as a real certificate's (REO-ASSAY.md §5).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from assays.certificates.payload import (
    KIND_CERTIFICATE,
    KIND_REPORT,
    SCHEMA_VERSION,
    payload_to_dict,
    result_row,
)


def example_payload(
    *,
    number: str = "COA-2026-0001",
    revision: int = 0,
    kind: str = KIND_CERTIFICATE,
    lot_code: str = "ND-2026-0142",
    extra_rows: int = 0,
) -> dict[str, Any]:
    """The example as JSON data (what a service freezes on the certificate); ``extra_rows`` adds
    impurity lines, to make the table run over onto more pages."""
    is_report = kind == KIND_REPORT
    verdict = "" if is_report else "pass"
    rows = [
        result_row(
            quantity="Nd2O3 / TREO (relative purity)",
            unit="%",
            value=99.6237,
            expanded_uncertainty=0.1184,
            limit="" if is_report else "≥ 99.5",
            verdict=verdict,
            accredited=True,
        ),
        result_row(
            quantity="TREO", unit="%", value=99.4512, expanded_uncertainty=0.2051, limit="" if is_report else "≥ 99.0", verdict=verdict
        ),
        result_row(
            quantity="Pr6O11", unit="mg/kg", value=1234.5, expanded_uncertainty=86.25, limit="" if is_report else "≤ 2000", verdict=verdict
        ),
        result_row(
            quantity="Dy2O3",
            unit="mg/kg",
            value=None,
            expanded_uncertainty=None,
            limit="" if is_report else "≤ 50",
            verdict=verdict,
            censored=True,
            lod=0.4987,
            accredited=True,
        ),
        result_row(
            quantity="Fe2O3", unit="mg/kg", value=42.45, expanded_uncertainty=6.25, limit="" if is_report else "≤ 100", verdict=verdict
        ),
    ]
    rows += [
        result_row(
            quantity=f"Impurity {index + 1}",
            unit="mg/kg",
            value=10 + index / 7,
            expanded_uncertainty=1.5,
            limit="" if is_report else "≤ 100",
            verdict=verdict,
        )
        for index in range(extra_rows)
    ]
    supersedes = (
        {
            "number": number,
            "revision": revision - 1,
            "change": "Fe2O3 result corrected from 64 to 42 mg/kg",
            "reason": "transcription error in the run import, found at review",
        }
        if revision > 0
        else None
    )
    payload: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "kind": kind,
        "title": "Report of analysis" if is_report else "Certificate of analysis",
        "number": number,
        "revision": revision,
        "issued_at": "2026-05-04 09:15 UTC",
        "lab": {
            "name": "Rare Earth Recovery Laboratory",
            "address": "Industriestraße 12\n09599 Freiberg, Germany",
            "accreditation": "ISO/IEC 17025:2017 accredited testing laboratory, D-PL-00000-01-00",
        },
        "issuing_site": {"name": "Freiberg plant laboratory", "address": "Industriestraße 12, 09599 Freiberg"},
        "customer": {"name": "Magnetwerk Nord GmbH", "country": "DE", "reference": "PO 4500123456"},
        "lot": {
            "code": lot_code,
            "kind": "Feedstock" if is_report else "Product",
            "product": "Neodymium oxide",
            "product_code": "ND2O3-995",
            "grade": "99.5 %",
            "quantity_kg": "500",
            "produced_on": "2026-04-28",
            "received_on": None,
        },
        "specification": {
            "name": "Nd2O3 99.5 % (customer specification)",
            "product": "ND2O3-995",
            "version": 3,
            "source": "customer specification MWN-RM-017 rev C",
            "basis": "as received",
        },
        "samples": [
            {
                "code": f"{lot_code}-S{index}",
                "sampled_by": "J. Weber (production)",
                "sampled_at": f"2026-04-29 {7 + index:02d}:30 UTC",
                "sampling_method": "grab sample, one per drum (SOP-SMP-004)",
                "received_at": f"2026-04-29 1{index}:05 UTC",
            }
            for index in range(1, 4)
        ],
        "analysis_dates": ["2026-04-30", "2026-05-02"],
        "methods": [
            {
                "method": "REO impurities by ICP-MS",
                "code": "ICPMS-REO-01",
                "technique": "ICP-MS",
                "standard": "GB/T 18115.1-2020 (adapted)",
                "instrument": "ICP-MS 1 (PerkinElmer NexION 2000)",
                "rule_pack": "ICP-MS run QC v2",
            }
        ],
        "results": [dataclasses.asdict(row) for row in rows],
        "summary": {
            "treo": "99.45 ± 0.21 %",
            "relative_purity": "99.62 ± 0.12 %",
            "absolute_content": "99.08 ± 0.24 %",
            "n_samples": 3,
            "status": "no_verdict" if is_report else "conforming",
            "statement": (
                "Report of analysis: results and their uncertainty, with no statement of conformity."
                if is_report
                else "The lot conforms to the specification under the decision rule stated."
            ),
        },
        "accreditation_note": "Results marked ✱ are inside the laboratory's accreditation scope.",
        "decision_rule": (
            "none: no statement of conformity"
            if is_report
            else "guard band with U (ILAC G8): pass when result ± U lies inside the limit, fail when result ∓ U lies outside it, "
            "otherwise inconclusive"
        ),
        "rounding_rule": (
            "rounding method: the result is rounded to the limit's last digit, half to even, then compared (ASTM E29, GB/T 8170). "
            "U is reported to two significant figures and the result to the same decimal place; k = 2 (about 95 % coverage)."
        ),
        "concession": None,
        "provenance": {
            "feedstocks": [
                {
                    "lot": "FS-2026-0031",
                    "share_percent": "62.5",
                    "type": "NdFeB swarf",
                    "supplier": "Recycling Partner Sp. z o.o.",
                    "supplier_country": "PL",
                    "country_of_collection": "PL",
                    "recycled": True,
                },
                {
                    "lot": "FS-2026-0040",
                    "share_percent": "37.5",
                    "type": "End-of-life magnets",
                    "supplier": "Magnet Returns B.V.",
                    "supplier_country": "NL",
                    "country_of_collection": "NL",
                    "recycled": True,
                },
            ],
            "supplier_countries": ["NL", "PL"],
            "countries_of_collection": ["NL", "PL"],
            "country_of_separation": "DE",
            "country_of_oxide_production": "DE",
            "recycled_content": "100 % (mass balance, TREO basis)",
            "seller_declaration": (
                "The seller declares that the rare-earth content of this lot was recovered from the recycled feedstock "
                "listed above and was separated and converted to oxide in Germany."
            ),
        },
        "signatures": [
            {
                "name": "Dr. Anna Schmidt",
                "role": "QA manager",
                "meaning": "Approved for release",
                "signed_at": "2026-05-04 09:15 UTC",
            }
        ],
        "supersedes": supersedes,
        "verification_url": "https://lims.example.org/verify/9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "assessment_id": 42,
    }
    # Checked here so a broken example fails where it is built, not inside a test's render.
    return payload_to_dict(payload)


def main(argv: list[str]) -> int:
    from assays.certificates.render import render_certificate_pdf

    if len(argv) != 2:
        print("usage: python -m assays.certificates.example OUT.pdf", file=sys.stderr)
        return 2
    Path(argv[1]).write_bytes(render_certificate_pdf(payload=example_payload(), attachments={}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
