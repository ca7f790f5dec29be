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
* Typst's bundled fonts (``ignore_system_fonts``): Libertinus Serif, with DejaVu Sans Mono for
  the symbols it lacks (✱, ✓), and for Chinese, Japanese and Korean text (a customer's or a
  supplier's name and address) Noto Serif CJK, taken from the font folders the installation
  names (``certificate_font_dirs``: Debian's fonts-noto-cjk by default), never from a lookup of
  whatever the host has. The template names each family it may use and falls back to no other,
  so a machine without the CJK fonts prints every other certificate byte for byte as one with
  them, and refuses a CJK name (saying which fonts to install) rather than printing it wrong;
* the payload's issue time as the PDF's creation date, so the same payload gives the same bytes.

Limits: attachments must be UTF-8 text (they travel to Typst through ``sys.inputs``, which holds
strings; CSV and JSON are); text in a script none of those fonts covers (Arabic, Devanagari...)
is refused with the character named rather than printed wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
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

# The template's fonts, in the order it tries them for each character: the bundled two, then the
# CJK family where the installation has it. Simplified Chinese glyph forms for every Han
# character (the face has the Japanese kana and the Korean hangul too): one face, whatever the
# language, so one certificate never mixes two designs of the same character.
BUNDLED_FONT_FAMILIES: Final = ("Libertinus Serif", "DejaVu Sans Mono")
CJK_FONT_FAMILY: Final = "Noto Serif CJK SC"
# os.pathsep-separated folders of further fonts; set but empty: none (Typst's bundled fonts only).
FONT_DIRS_VARIABLE: Final = "LIMS_CERTIFICATE_FONT_DIRS"
# Where Debian's fonts-noto-cjk puts Noto Serif CJK (.ci/run installs it): the default.
DEBIAN_CJK_FONT_DIR: Final = "/usr/share/fonts/opentype/noto"
CJK_FONT_HINT: Final = (
    f"Chinese, Japanese and Korean text needs the {CJK_FONT_FAMILY} font: install Debian's fonts-noto-cjk,"
    f" or name a folder holding NotoSerifCJK-Regular.ttc and NotoSerifCJK-Bold.ttc in {FONT_DIRS_VARIABLE}"
)


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


def certificate_font_dirs() -> tuple[str, ...]:
    """The folders the renderer takes fonts from besides Typst's bundled ones: those named in
    ``LIMS_CERTIFICATE_FONT_DIRS`` when it is set (empty: none), else Debian's fonts-noto-cjk
    folder when this machine has it."""
    configured = os.environ.get(FONT_DIRS_VARIABLE)
    if configured is not None:
        return tuple(folder for folder in configured.split(os.pathsep) if folder)
    return (DEBIAN_CJK_FONT_DIR,) if os.path.isdir(DEBIAN_CJK_FONT_DIR) else ()


def _folders(font_dirs: Sequence[str] | None) -> tuple[str, ...]:
    """The font folders a call names, else the installation's (``certificate_font_dirs``)."""
    return certificate_font_dirs() if font_dirs is None else tuple(font_dirs)


@functools.lru_cache(maxsize=16)
def font_families(font_dirs: tuple[str, ...]) -> tuple[str, ...]:
    """The families the template uses with ``font_dirs``: the bundled ones, then the CJK one when
    the folders hold it (naming a family Typst does not have is a warning, an error here)."""
    found = set(typst.Fonts(include_system_fonts=False, include_embedded_fonts=True, font_paths=list(font_dirs)).families())
    missing = [family for family in BUNDLED_FONT_FAMILIES if family not in found]
    if missing:  # a Typst release that stopped bundling them: the template would print nothing
        raise CertificateRenderError(f"Typst no longer bundles the font {', '.join(missing)}")
    return (*BUNDLED_FONT_FAMILIES, CJK_FONT_FAMILY) if CJK_FONT_FAMILY in found else BUNDLED_FONT_FAMILIES


def compile_inputs(
    *, payload: CertificatePayload | Mapping[str, Any], attachments: Mapping[str, bytes], font_dirs: Sequence[str] | None = None
) -> CompileInputs:
    """Check the payload and the attachments and turn them into Typst's inputs (``font_dirs``:
    ``certificate_font_dirs()`` unless given)."""
    folders = _folders(font_dirs)
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
            "fonts": json.dumps(font_families(folders)),
        },
        timestamp=checked.issued,
    )


def bare_compile_arguments(*, font_dirs: Sequence[str] | None = None) -> dict[str, Any]:
    """The arguments a plain ``typst.compile`` needs to print this template as we do (the bench)."""
    folders = _folders(font_dirs)
    return {"root": str(TEMPLATE_DIR), "ignore_system_fonts": True, "font_paths": list(folders), "pdf_standards": PDF_STANDARD}


def render_certificate_pdf(
    *, payload: CertificatePayload | Mapping[str, Any], attachments: Mapping[str, bytes], font_dirs: Sequence[str] | None = None
) -> bytes:
    """The certificate as PDF/A-3b bytes with ``attachments`` ({file name: bytes}) embedded.

    ``font_dirs``: the folders of fonts beyond the bundled ones, ``certificate_font_dirs()``
    unless given. Raises ``PayloadError`` (naming the field) for a payload that is not fit to print
    and ``CertificateRenderError`` when Typst cannot print it. Typst's warnings are errors here: an
    archival document is not issued with a layout problem nobody looked at.
    """
    folders = _folders(font_dirs)
    inputs = compile_inputs(payload=payload, attachments=attachments, font_dirs=folders)
    with _COMPILER_LOCK:
        compiler = _compiler(folders)
        try:
            pdf, warnings = compiler.compile_with_warnings(
                format="pdf", sys_inputs=inputs.sys_inputs, pdf_standards=PDF_STANDARD, timestamp=inputs.timestamp
            )
        except typst.TypstError as error:
            raise CertificateRenderError(_describe(error, font_dirs=folders)) from None
    if warnings:
        raise CertificateRenderError("; ".join(_describe(warning, font_dirs=folders) for warning in warnings))
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


def _describe(diagnostic: typst.TypstError | typst.TypstWarning, *, font_dirs: tuple[str, ...]) -> str:
    hints = [*diagnostic.hints]
    # A character no font prints: say which fonts there are, and for want of the CJK one, how to get it.
    if "could not be displayed" in diagnostic.message:
        families = font_families(font_dirs)
        hints.append(f"the fonts are {', '.join(families)}")
        if CJK_FONT_FAMILY not in families:
            hints.append(CJK_FONT_HINT)
    return f"certificate template: {diagnostic.message}" + "".join(f" (hint: {hint})" for hint in hints)


# One compiler per process and set of font folders, reused: its font book and parsed template stay
# warm (the fonts are decompressed once, not per certificate). Typst's compiler is not documented
# as thread-safe, hence the lock; the pid keeps a forked worker (Celery prefork) from using its
# parent's.
_COMPILER_LOCK = threading.Lock()
_COMPILERS: dict[tuple[int, tuple[str, ...]], typst.Compiler] = {}


def _compiler(font_dirs: tuple[str, ...]) -> typst.Compiler:
    key = (os.getpid(), font_dirs)
    compiler = _COMPILERS.get(key)
    if compiler is None:
        if any(pid != key[0] for pid, _ in _COMPILERS):
            _COMPILERS.clear()
        compiler = typst.Compiler(input=str(TEMPLATE_PATH), root=str(TEMPLATE_DIR), ignore_system_fonts=True, font_paths=list(font_dirs))
        _COMPILERS[key] = compiler
    return compiler
