"""Render a certificate payload to PDF/A-3b with Typst: layout in the template, data from the payload.

PURE: no Django, no database. ``render_certificate_pdf`` checks the payload, writes it as
deterministic JSON, draws the QR code to the verification URL (segno, SVG) and compiles
templates/certificates/certificate.typ with:

* ``pdf_standards="a-3b"``: Typst (krilla) writes the XMP ``pdfaid`` part 3 / conformance B, an
  sRGB OutputIntent, embeds and subsets every font, and refuses what PDF/A forbids (a glyph no
  font has is an error, never a blank box);
* the files to attach (certified results as CSV and JSON) passed as text and attached by the
  template with ``pdf.attach(name, bytes, relationship:, mime-type:, description:)``: each file
  spec gets its ``/AFRelationship`` and lands in the catalog's ``/AF`` array, as PDF/A-3 asks;
* Typst's bundled fonts only (``ignore_system_fonts``): Libertinus Serif, with DejaVu Sans Mono
  for the symbols it lacks (✱, ✓). A font lookup on the host would make two machines print
  different bytes, or one of them fail;
* the payload's issue time as the PDF's creation date, so the same payload gives the same bytes.

Limits: attachments must be UTF-8 text (they travel to Typst through ``sys.inputs``, which holds
strings; CSV and JSON are); text in a script the bundled fonts do not cover (CJK, Arabic...) is
refused with the character named rather than printed wrong.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import segno
import typst

from assays.certificates.payload import CertificatePayload, payload_to_json, validate_payload
from assays.errors import DomainError

TEMPLATE_DIR: Final = Path(__file__).resolve().parents[2] / "templates" / "certificates"
TEMPLATE_PATH: Final = TEMPLATE_DIR / "certificate.typ"
PDF_STANDARD: Final = "a-3b"
# Medium error correction: the code survives a fold or a smudge on a printed copy, and a URL of
# this length still fits a small version.
QR_ERROR_LEVEL: Final = "m"

# Extension -> (MIME type, PDF/A-3 AFRelationship, description). "source": the JSON is the very
# payload the page was rendered from; "data": the CSV is the table's data in another form.
ATTACHMENT_TYPES: Final[Mapping[str, tuple[str, str, str]]] = {
    ".json": ("application/json", "source", "certified data as JSON, the payload this document was rendered from"),
    ".csv": ("text/csv", "data", "certified results as CSV"),
    ".txt": ("text/plain", "supplement", "text"),
    ".xml": ("application/xml", "data", "certified data as XML"),
}
MAX_ATTACHMENT_NAME: Final = 120


class CertificateRenderError(DomainError):
    """The payload is valid but could not be printed (e.g. a character no bundled font has)."""


@dataclass(frozen=True, slots=True)
class CompileInputs:
    """Exactly what Typst is given: the same for our render and for the benchmark's bare compile."""

    sys_inputs: dict[str, str]
    timestamp: dt.datetime


def qr_code(url: str) -> segno.QRCode:
    """The QR code printed on a certificate (tests decode the PDF's drawing against this)."""
    return segno.make(url, error=QR_ERROR_LEVEL, micro=False, boost_error=False)


def qr_svg(url: str) -> str:
    buffer = io.BytesIO()
    # Plain black modules on no background, no XML declaration: Typst draws it as vectors.
    qr_code(url).save(buffer, kind="svg", xmldecl=False, svgclass=None, lineclass=None, scale=1, border=4, dark="#000")
    return buffer.getvalue().decode("utf-8")


def compile_inputs(*, payload: CertificatePayload | Mapping[str, Any], attachments: Mapping[str, bytes]) -> CompileInputs:
    """Check the payload and the attachments and turn them into Typst's inputs."""
    checked = validate_payload(payload)
    files = []
    for name, content in sorted(attachments.items()):
        mime, relationship, description = _attachment_type(name)
        if not isinstance(content, bytes):
            raise CertificateRenderError(f"attachment {name!r}: expected bytes, got {type(content).__name__}")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CertificateRenderError(f"attachment {name!r} is not UTF-8 text ({error.reason} at byte {error.start})") from None
        files.append({"name": name, "mime": mime, "relationship": relationship, "description": description, "text": text})
    return CompileInputs(
        sys_inputs={
            "payload": payload_to_json(checked, validate=False),  # checked just above
            "qr": qr_svg(checked.verification_url),
            "attachments": json.dumps(files, ensure_ascii=False, sort_keys=True),
        },
        timestamp=checked.issued,
    )


def bare_compile_arguments() -> dict[str, Any]:
    """The arguments a plain ``typst.compile`` needs to print this template as we do (the bench)."""
    return {"root": str(TEMPLATE_DIR), "ignore_system_fonts": True, "pdf_standards": PDF_STANDARD}


def render_certificate_pdf(*, payload: CertificatePayload | Mapping[str, Any], attachments: Mapping[str, bytes]) -> bytes:
    """The certificate as PDF/A-3b bytes with ``attachments`` ({file name: bytes}) embedded.

    Raises ``PayloadError`` (naming the field) for a payload that is not fit to print and
    ``CertificateRenderError`` when Typst cannot print it. Typst's warnings are errors here: an
    archival document is not issued with a layout problem nobody looked at.
    """
    inputs = compile_inputs(payload=payload, attachments=attachments)
    with _COMPILER_LOCK:
        compiler = _compiler()
        try:
            pdf, warnings = compiler.compile_with_warnings(
                format="pdf", sys_inputs=inputs.sys_inputs, pdf_standards=PDF_STANDARD, timestamp=inputs.timestamp
            )
        except typst.TypstError as error:
            raise CertificateRenderError(_describe(error)) from None
    if warnings:
        raise CertificateRenderError("; ".join(_describe(warning) for warning in warnings))
    if not isinstance(pdf, bytes):  # one document in, one PDF out; a list would be per-page images
        raise CertificateRenderError(f"Typst returned {type(pdf).__name__}, not the PDF's bytes")
    return pdf


def _attachment_type(name: str) -> tuple[str, str, str]:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_ATTACHMENT_NAME:
        raise CertificateRenderError(f"attachment name {name!r}: 1 to {MAX_ATTACHMENT_NAME} characters")
    if any(character in name for character in "/\\") or any(ord(character) < 32 for character in name):
        raise CertificateRenderError(f"attachment name {name!r}: a plain file name, without folders or control characters")
    suffix = Path(name).suffix.lower()
    if suffix not in ATTACHMENT_TYPES:
        raise CertificateRenderError(f"attachment {name!r}: PDF/A-3 needs its MIME type; known types are {', '.join(ATTACHMENT_TYPES)}")
    return ATTACHMENT_TYPES[suffix]


def _describe(diagnostic: typst.TypstError | typst.TypstWarning) -> str:
    hints = "".join(f" (hint: {hint})" for hint in diagnostic.hints)
    return f"certificate template: {diagnostic.message}{hints}"


# One compiler per process, reused: its font book and parsed template stay warm (the bundled fonts
# are decompressed once, not per certificate). Typst's compiler is not documented as thread-safe,
# hence the lock; the pid check keeps a forked worker (Celery prefork) from using its parent's.
_COMPILER_LOCK = threading.Lock()
_COMPILERS: dict[int, typst.Compiler] = {}


def _compiler() -> typst.Compiler:
    pid = os.getpid()
    compiler = _COMPILERS.get(pid)
    if compiler is None:
        _COMPILERS.clear()
        compiler = typst.Compiler(input=str(TEMPLATE_PATH), root=str(TEMPLATE_DIR), ignore_system_fonts=True)
        _COMPILERS[pid] = compiler
    return compiler
