"""PDF/A-3b properties of a PDF, read back with pikepdf (issue 6: "PDF/A is checked in tests").

Not a full validator (veraPDF is a Java application the project does not ship); these are the
properties a signing step or a template change can break, each checked on the file's objects:

* XMP identification ``pdfaid:part`` = 3 and ``pdfaid:conformance`` = B, in an unfiltered
  metadata stream, with the Info dictionary's ModDate and Producer agreeing with the XMP;
* an OutputIntent of subtype GTS_PDFA1 with its ICC profile;
* every font embedded: a FontFile, FontFile2 or FontFile3 on every font descriptor, including
  the descendant fonts of Type0 (composite) fonts;
* every embedded file spec has an ``/AFRelationship`` and is listed in the catalog's ``/AF``;
  its stream has a MIME ``/Subtype`` and a ``/Params /ModDate``;
* no encryption; annotations printable and not hidden, with an appearance unless zero-sized.

``pdfa_problems`` returns the problems found (an empty list for a conforming file), so a failing
test prints every problem at once.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pikepdf

FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")
AF_RELATIONSHIPS = {"/Source", "/Data", "/Alternative", "/Supplement", "/EncryptedPayload", "/FormData", "/Schema", "/Unspecified"}
# Annotation flags (PDF 32000-1 12.5.3): PDF/A needs Print set, and Invisible, Hidden, NoView clear.
FLAG_INVISIBLE, FLAG_HIDDEN, FLAG_PRINT, FLAG_NOVIEW = 1, 2, 4, 32


def pdfa_problems(pdf_bytes: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        return [
            *_identification_problems(pdf),
            *_output_intent_problems(pdf),
            *_font_problems(pdf),
            *_attachment_problems(pdf),
            *_annotation_problems(pdf),
            *(["the file is encrypted"] if pdf.is_encrypted else []),
        ]


def _identification_problems(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    if "/Metadata" not in pdf.Root:
        return ["no XMP metadata stream in the catalog"]
    if "/Filter" in pdf.Root.Metadata:
        problems.append("the XMP metadata stream is filtered (PDF/A wants it readable as is)")
    meta = pdf.open_metadata()
    if meta.get("pdfaid:part") != "3":
        problems.append(f"XMP pdfaid:part is {meta.get('pdfaid:part')!r}, not '3'")
    if meta.get("pdfaid:conformance") != "B":
        problems.append(f"XMP pdfaid:conformance is {meta.get('pdfaid:conformance')!r}, not 'B'")
    info = pdf.trailer.get("/Info")
    if info is not None:
        if "/ModDate" in info:
            info_date = _pdf_date(str(info.ModDate))
            xmp_date = _xmp_date(meta.get("xmp:ModifyDate"))
            if info_date != xmp_date:
                problems.append(f"Info /ModDate {info_date} disagrees with XMP xmp:ModifyDate {xmp_date}")
        if "/Producer" in info and str(info.Producer) != meta.get("pdf:Producer"):
            problems.append(f"Info /Producer {str(info.Producer)!r} disagrees with XMP pdf:Producer {meta.get('pdf:Producer')!r}")
    return problems


def _output_intent_problems(pdf: pikepdf.Pdf) -> list[str]:
    intents = pdf.Root.get("/OutputIntents")
    if not intents:
        return ["no OutputIntent"]
    if not any(intent.get("/S") == "/GTS_PDFA1" and isinstance(intent.get("/DestOutputProfile"), pikepdf.Stream) for intent in intents):
        return ["no GTS_PDFA1 OutputIntent with an ICC profile"]
    return []


def _font_problems(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    fonts = 0
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/Font":
            continue
        fonts += 1
        name = str(obj.get("/BaseFont", "?"))
        subtype = obj.get("/Subtype")
        if subtype == "/Type3":
            continue  # glyphs are content streams inside the font: embedded by construction
        if subtype == "/Type0":
            for descendant in obj.get("/DescendantFonts", []):
                problems += _descriptor_problems(descendant.get("/FontDescriptor"), f"{name} (descendant)")
        else:
            problems += _descriptor_problems(obj.get("/FontDescriptor"), name)
    if fonts == 0:
        problems.append("no fonts at all: the text was not laid out as text")
    return problems


def _descriptor_problems(descriptor: object, name: str) -> list[str]:
    if not isinstance(descriptor, pikepdf.Dictionary):
        return [f"font {name} has no font descriptor"]
    if not any(key in descriptor for key in FONT_FILES):
        return [f"font {name} is not embedded (no FontFile, FontFile2 or FontFile3)"]
    return []


def _attachment_problems(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    catalog_af = {item.objgen for item in pdf.Root.get("/AF", [])}
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/Filespec" or "/EF" not in obj:
            continue
        name = str(obj.get("/UF", obj.get("/F", "?")))
        relationship = obj.get("/AFRelationship")
        if relationship is None:
            problems.append(f"attachment {name} has no /AFRelationship")
        elif str(relationship) not in AF_RELATIONSHIPS:
            problems.append(f"attachment {name} has the unknown /AFRelationship {relationship}")
        if obj.objgen not in catalog_af:
            problems.append(f"attachment {name} is not in the catalog's /AF array")
        stream = obj.EF.get("/F")
        if not isinstance(stream, pikepdf.Stream):
            problems.append(f"attachment {name} has no embedded file stream")
            continue
        if "/Subtype" not in stream:
            problems.append(f"attachment {name} has no MIME type (/Subtype)")
        if "/ModDate" not in stream.get("/Params", {}):
            problems.append(f"attachment {name} has no /Params /ModDate")
    return problems


def _annotation_problems(pdf: pikepdf.Pdf) -> list[str]:
    problems = []
    for number, page in enumerate(pdf.pages, start=1):
        for annotation in page.obj.get("/Annots", []):
            subtype = str(annotation.get("/Subtype"))
            if subtype == "/Popup":
                continue
            flags = int(annotation.get("/F", 0))
            where = f"page {number} {subtype} annotation"
            if not flags & FLAG_PRINT:
                problems.append(f"{where} is not printable")
            if flags & (FLAG_INVISIBLE | FLAG_HIDDEN | FLAG_NOVIEW):
                problems.append(f"{where} is hidden")
            rect = [float(value) for value in annotation.get("/Rect", [0, 0, 0, 0])]
            zero_size = rect[0] == rect[2] and rect[1] == rect[3]
            appearance = annotation.get("/AP")
            if appearance is None and not zero_size and subtype != "/Link":
                problems.append(f"{where} has no appearance")
            if appearance is not None and set(appearance.keys()) != {"/N"}:
                problems.append(f"{where} appearance has {sorted(appearance.keys())}, PDF/A allows /N only")
    return problems


def _pdf_date(text: str) -> dt.datetime:
    """D:YYYYMMDDHHmmSS with Z or an offset (what typst and pyHanko write)."""
    match = re.fullmatch(r"D:(\d{14})(Z|[+-]\d{2}'?\d{2}'?)?", text)
    assert match, f"not a PDF date: {text!r}"
    moment = dt.datetime.strptime(match.group(1), "%Y%m%d%H%M%S")
    zone = match.group(2) or "Z"
    if zone == "Z":
        return moment.replace(tzinfo=dt.UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace("'", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    return moment.replace(tzinfo=dt.timezone(sign * offset))


def _xmp_date(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
