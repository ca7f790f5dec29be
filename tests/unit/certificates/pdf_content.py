"""What a rendered certificate contains, read back from the PDF's bytes: text (pypdf, through the
fonts' ToUnicode maps), attachments and link targets (pikepdf), and the QR code's modules as
drawn on the page, to compare with the QR code segno makes for the same URL."""

from __future__ import annotations

import io

import pikepdf
from pypdf import PdfReader

PAINT_OPERATORS = {"S", "s", "f", "F", "f*", "B", "B*", "b", "b*"}


def page_texts(pdf_bytes: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes)).pages]


def attachments(pdf_bytes: bytes) -> dict[str, bytes]:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        return {name: spec.get_file().read_bytes() for name, spec in pdf.attachments.items()}


def attachment_relationships(pdf_bytes: bytes) -> dict[str, str]:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        return {name: str(spec.obj.get("/AFRelationship")) for name, spec in pdf.attachments.items()}


def link_targets(pdf_bytes: bytes, *, page: int = 0) -> list[str]:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        return [
            str(annotation.A.URI)
            for annotation in pdf.pages[page].obj.get("/Annots", [])
            if annotation.get("/Subtype") == "/Link" and "/A" in annotation and "/URI" in annotation.A
        ]


def qr_modules(pdf_bytes: bytes, *, page: int = 0) -> set[tuple[int, int]]:
    """The dark modules (row, column) of the QR code drawn on ``page``.

    segno's SVG draws each row's dark runs as horizontal strokes through the module centres
    ("M4 4.5h7"); Typst keeps them as one path of ``m``/``l`` pairs in the SVG's own units (one unit
    per module, the 4-module quiet zone included), under a ``cm`` that scales them. The path with
    the most such segments on the page is the QR code.
    """
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        operations = pikepdf.parse_content_stream(pdf.pages[page])
    best: list[tuple[float, float, float]] = []
    segments: list[tuple[float, float, float]] = []
    start: tuple[float, float] | None = None
    for operands, operator in operations:
        name = str(operator)
        if name == "m":
            start = (float(operands[0]), float(operands[1]))
        elif name == "l" and start is not None:
            x2, y2 = float(operands[0]), float(operands[1])
            if y2 == start[1]:
                segments.append((start[0], x2, y2))
            start = None
        elif name in PAINT_OPERATORS or name == "n":
            if len(segments) > len(best):
                best = segments
            segments, start = [], None
    modules: set[tuple[int, int]] = set()
    for x1, x2, y in best:
        row = int(y - 0.5)
        modules.update((row, column) for column in range(round(min(x1, x2)), round(max(x1, x2))))
    return modules


def segno_modules(qr: object, *, border: int = 4) -> set[tuple[int, int]]:
    """The dark modules of a segno QR code with its quiet zone, in the same coordinates."""
    return {(row, column) for row, line in enumerate(qr.matrix_iter(scale=1, border=border)) for column, dark in enumerate(line) if dark}
