"""Certificate rendering and signing against a bare Typst compile of the same template and payload.

The pure part (no database, no broker): for N certificates, each with its own number and lot,
times in the same run and interleaved, so machine noise hits all alike:

* ``render``: our ``render_certificate_pdf`` (payload check, deterministic JSON, QR code as SVG,
  Typst compile to PDF/A-3b with the CSV and JSON attachments);
* ``bare``: ``typst.compile`` of the same template with exactly the same inputs, prepared
  beforehand: the floor a renderer of this template sits on. Issue 6's target is
  render <= 1.5 x bare. ``bare (warm)`` is the same compile on a reused ``typst.Compiler``, for
  information: the floor with Typst's caches warm, which is what our renderer uses;
* ``sign``: PAdES B-B with pyHanko (RSA 3072), and ``verify``: its validation.

``bench_pure`` returns the figures so the end-to-end issuance benchmark (services, storage,
Celery workers) can reuse it and print them beside its own.

    python bench/certificate_bench.py [--quick] [--count N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typst

from assays.certificates.example import example_payload
from assays.certificates.payload import payload_to_json
from assays.certificates.render import TEMPLATE_DIR, TEMPLATE_PATH, bare_compile_arguments, compile_inputs, render_certificate_pdf
from assays.certificates.signing import generate_self_signed_pair, sign_pdf, verify_signed_pdf

FULL_COUNT = 200  # issue 6: "issue 200 certificates"
QUICK_COUNT = 10
TARGET_RATIO = 1.5
ROWS = 10  # impurity lines beyond the example's five: a typical certificate's table


@dataclass
class PureFigures:
    """Seconds per certificate for each step, and the sizes of what was made."""

    render: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    bare_warm: list[float] = field(default_factory=list)
    sign: list[float] = field(default_factory=list)
    verify: list[float] = field(default_factory=list)
    pdf_bytes: list[int] = field(default_factory=list)
    signed_bytes: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.render)

    @property
    def ratio(self) -> float:
        """Our render over the bare compile, median against median (robust to a stray pause)."""
        return statistics.median(self.render) / statistics.median(self.bare)


def certificate_inputs(index: int) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The ``index``-th benchmark certificate: payload and attachments, as issuance would pass them."""
    number = f"COA-2026-{index + 1:04d}"
    payload = example_payload(number=number, lot_code=f"ND-BENCH-{index + 1:04d}", extra_rows=ROWS)
    csv = "quantity,unit,result,expanded_uncertainty_k2\r\n" + "".join(
        f"{row['quantity']},{row['unit']},{row['result']},{row['uncertainty']}\r\n" for row in payload["results"]
    )
    return payload, {f"{number}-rev0-results.csv": csv.encode(), f"{number}-rev0-data.json": payload_to_json(payload).encode()}


FONT_DIRS_FOR_LATIN: tuple[str, ...] = ()


def bench_pure(*, count: int, key_pem: bytes, cert_pem: bytes) -> PureFigures:
    """Render, bare-compile, sign and verify ``count`` certificates (after one warm-up of each)."""
    warm_compiler = typst.Compiler(input=str(TEMPLATE_PATH), root=str(TEMPLATE_DIR), ignore_system_fonts=True)
    figures = PureFigures()
    # The bench's certificates are in Latin script: Typst's bundled fonts only, for all three. With
    # the CJK font folders a one-shot typst.compile would scan their 90 MB on every call, a cost of
    # the one-shot call that our renderer (one warm compiler) never pays, and the ratio would flatter it.
    fonts = FONT_DIRS_FOR_LATIN
    for index in range(-1, count):  # index -1 warms every path up and is not counted
        payload, attachments = certificate_inputs(max(index, 0))
        inputs = compile_inputs(payload=payload, attachments=attachments, font_dirs=fonts)
        bare_seconds, bare_pdf = _timed(
            lambda inputs=inputs: typst.compile(
                str(TEMPLATE_PATH), sys_inputs=inputs.sys_inputs, timestamp=inputs.timestamp, **bare_compile_arguments(font_dirs=fonts)
            )
        )
        warm_seconds, _ = _timed(
            lambda inputs=inputs: warm_compiler.compile(
                format="pdf", sys_inputs=inputs.sys_inputs, pdf_standards="a-3b", timestamp=inputs.timestamp
            )
        )
        render_seconds, pdf = _timed(
            lambda payload=payload, attachments=attachments: render_certificate_pdf(
                payload=payload, attachments=attachments, font_dirs=fonts
            )
        )
        if pdf != bare_pdf:
            raise AssertionError(f"certificate {index}: our render and the bare compile made different PDFs from the same inputs")
        sign_seconds, signed = _timed(
            lambda pdf=pdf: sign_pdf(
                pdf=pdf, key_pem=key_pem, cert_pem=cert_pem, reason="Approved for release", location="bench", signer_name="bench"
            )
        )
        verify_seconds, check = _timed(lambda signed=signed: verify_signed_pdf(pdf=signed, trust_cert_pem=cert_pem))
        if not check.ok:
            raise AssertionError(f"certificate {index}: the signature does not verify: {check.problem}")
        if index < 0:
            continue
        figures.render.append(render_seconds)
        figures.bare.append(bare_seconds)
        figures.bare_warm.append(warm_seconds)
        figures.sign.append(sign_seconds)
        figures.verify.append(verify_seconds)
        figures.pdf_bytes.append(len(pdf))
        figures.signed_bytes.append(len(signed))
    return figures


def print_pure(figures: PureFigures) -> None:
    print(f"certificates: {figures.count} (PDF/A-3b, {5 + ROWS} result rows, CSV + JSON attached)")
    print(f"{'step':<14}{'median ms':>11}{'mean ms':>10}{'p95 ms':>9}")
    for name, seconds in (
        ("render", figures.render),
        ("bare", figures.bare),
        ("bare (warm)", figures.bare_warm),
        ("sign", figures.sign),
        ("verify", figures.verify),
    ):
        ordered = sorted(seconds)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"{name:<14}{1000 * statistics.median(seconds):>11.1f}{1000 * statistics.mean(seconds):>10.1f}{1000 * p95:>9.1f}")
    print(
        f"size: unsigned {statistics.mean(figures.pdf_bytes) / 1024:.0f} KiB, signed {statistics.mean(figures.signed_bytes) / 1024:.0f} KiB"
    )
    verdict = "within" if figures.ratio <= TARGET_RATIO else "OVER"
    print(f"ratio render / bare compile: {figures.ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    print(f"ratio render / bare compile (warm): {statistics.median(figures.render) / statistics.median(figures.bare_warm):.2f} (no target)")
    render_and_sign = statistics.median(figures.render) + statistics.median(figures.sign)
    print(f"render + sign: {1000 * render_and_sign:.1f} ms per certificate, {1 / render_and_sign:.0f} per second on one core")


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"smoke mode: {QUICK_COUNT} certificates")
    parser.add_argument("--count", type=int, default=None, help=f"certificates to render (default {FULL_COUNT})")
    args = parser.parse_args()
    count = args.count or (QUICK_COUNT if args.quick else FULL_COUNT)
    if count < 1:
        parser.error("--count must be at least 1")
    key_pem, cert_pem = generate_self_signed_pair(common_name="Benchmark signer", organisation="Benchmark lab", days=1)
    print_pure(bench_pure(count=count, key_pem=key_pem, cert_pem=cert_pem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
