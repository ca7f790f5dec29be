"""Rendering a certificate with Typst (issue 6, §3): PDF/A-3b, attachments byte for byte, the
content §6 asks for, the QR code to the verification URL, bundled fonts, same payload same bytes.
Each PDF is rendered once per module; every check reads the PDF's own bytes back."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pikepdf
import pytest

from assays.certificates.example import example_payload
from assays.certificates.payload import PayloadError, payload_to_json
from assays.certificates.render import (
    BUNDLED_FONT_FAMILIES,
    CJK_FONT_FAMILY,
    DEBIAN_CJK_FONT_DIR,
    FONT_DIRS_VARIABLE,
    CertificateRenderError,
    certificate_font_dirs,
    font_families,
    qr_code,
    render_certificate_pdf,
)
from tests.unit.certificates.pdf_content import (
    attachment_relationships,
    attachments,
    link_targets,
    page_texts,
    qr_modules,
    segno_modules,
)
from tests.unit.certificates.pdfa_checks import pdfa_problems

PAYLOAD = example_payload(extra_rows=30)  # long enough to run over onto a further page
# CRLF line ends, a BOM-less UTF-8 "±" and a trailing newline: attached bytes must not be touched.
CSV = "certificate,quantity,result,expanded_uncertainty_k2\r\nCOA-2026-0001,Nd2O3,99.62,0.12\r\nCOA-2026-0001,Fe2O3 ±,42.4,6.2\r\n".encode()
ATTACHMENTS = {"COA-2026-0001-rev0-results.csv": CSV, "COA-2026-0001-rev0-data.json": payload_to_json(PAYLOAD).encode()}


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return render_certificate_pdf(payload=PAYLOAD, attachments=ATTACHMENTS)


@pytest.fixture(scope="module")
def texts(pdf: bytes) -> list[str]:
    return page_texts(pdf)


def test_the_pdf_is_pdfa_3b(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    assert pdfa_problems(pdf) == []


def test_the_attachments_are_embedded_byte_for_byte_with_their_relationship(pdf: bytes) -> None:
    assert attachments(pdf) == ATTACHMENTS
    assert attachment_relationships(pdf) == {"COA-2026-0001-rev0-results.csv": "/Data", "COA-2026-0001-rev0-data.json": "/Source"}


def test_every_page_names_the_certificate_and_counts_pages(texts: list[str]) -> None:
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert "COA-2026-0001 rev 0" in text
        assert f"Page {number} of {len(texts)}" in text
    assert "— End of report COA-2026-0001 rev 0 —" in texts[-1]
    assert all("End of report" not in text for text in texts[:-1])


def test_the_content_of_section_6_is_printed(texts: list[str]) -> None:
    text = re.sub(r"\s+", " ", " ".join(texts))
    for expected in (
        "Certificate of analysis",
        "No. COA-2026-0001 · revision 0",
        "Rare Earth Recovery Laboratory",
        "D-PL-00000-01-00",
        "Issued 2026-05-04 09:15 UTC",
        "Magnetwerk Nord GmbH",
        "ND-2026-0142",
        "Nd2O3 99.5 % (customer specification) · version 3",
        "Quantity (kg) 500",
        "J. Weber (production)",
        "2026-04-29 11:05 UTC",
        "Dates of analysis: 2026-04-30, 2026-05-02",
        "PerkinElmer",
        "ICP-MS run QC v2",
        "99.62 0.12 ≥ 99.5 pass ✱",  # result, U (k = 2), limit, verdict, accredited
        "1234 86 ≤ 2000 pass",
        "99.45 ± 0.21 %",  # TREO
        "guard band with U (ILAC G8)",
        "half to even",
        "FS-2026-0031 62.5 NdFeB swarf",
        "Country of separation DE",
        "100 % (mass balance, TREO basis)",
        "The seller declares",
        "Dr. Anna Schmidt QA manager Approved for release 2026-05-04 09:15 UTC",
    ):
        assert expected in text, expected


def test_a_censored_result_reads_less_than_lod(texts: list[str]) -> None:
    text = " ".join(texts)
    assert re.search(r"Dy2O3 mg/kg < LOD 0\.50 ≤ 50 pass", text)


def test_the_qr_code_drawn_encodes_the_verification_url(pdf: bytes) -> None:
    url = PAYLOAD["verification_url"]
    drawn = qr_modules(pdf)
    assert drawn == segno_modules(qr_code(url))
    assert drawn != segno_modules(qr_code(url + "0"))  # the comparison would notice another URL
    assert url in link_targets(pdf)


def _font_names(pdf: bytes) -> set[str]:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return {
            str(obj.BaseFont).split("+")[-1]
            for obj in document.objects
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") == "/Font"
        }


def test_a_latin_certificate_uses_and_embeds_only_typst_bundled_fonts(pdf: bytes) -> None:
    names = _font_names(pdf)
    assert names
    assert all(name.startswith(("LibertinusSerif", "DejaVuSansMono")) for name in names), names


@pytest.mark.cjk_fonts
def test_having_the_cjk_fonts_changes_no_byte_of_a_certificate_that_does_not_need_them(pdf: bytes) -> None:
    assert CJK_FONT_FAMILY in font_families(certificate_font_dirs())
    assert render_certificate_pdf(payload=PAYLOAD, attachments=ATTACHMENTS, font_dirs=()) == pdf


@pytest.mark.cjk_fonts
def test_a_chinese_japanese_or_korean_name_is_printed_in_noto_serif_cjk_and_reads_back() -> None:
    payload = example_payload()
    name = "包头稀土研究院 (信越化学工業株式会社, 한국희토류)"
    payload["customer"]["name"] = name
    pdf = render_certificate_pdf(payload=payload, attachments={})
    assert pdfa_problems(pdf) == []
    assert name in page_texts(pdf)[0]  # a ToUnicode map: searchable and copyable, not only drawn
    assert any(font.startswith("NotoSerifCJK") for font in _font_names(pdf)), _font_names(pdf)
    # The same bytes again: the CJK font is as deterministic as the bundled ones.
    assert render_certificate_pdf(payload=payload, attachments={}) == pdf


def test_the_same_payload_gives_the_same_bytes_and_the_issue_time_dates_the_pdf(pdf: bytes) -> None:
    assert render_certificate_pdf(payload=PAYLOAD, attachments=ATTACHMENTS) == pdf
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert str(document.docinfo.CreationDate) == "D:20260504091500Z"
        assert document.open_metadata().get("xmp:CreateDate") == "2026-05-04T09:15:00+00:00"
    later = dict(PAYLOAD, issued_at="2026-05-04 09:16 UTC")
    assert render_certificate_pdf(payload=later, attachments=ATTACHMENTS) != pdf


def test_a_report_of_analysis_has_no_verdict_column() -> None:
    report = example_payload(kind="report", number="ROA-2026-0003")
    text = " ".join(page_texts(render_certificate_pdf(payload=report, attachments={})))
    assert "Report of analysis" in text
    assert "ROA-2026-0003 rev 0" in text
    assert "Verdict" not in text
    assert " pass" not in text
    assert "End of report ROA-2026-0003 rev 0" in text


def test_a_revision_says_what_it_supersedes_and_a_concession_is_printed() -> None:
    revision = example_payload(revision=1)
    revision["concession"] = "Fe2O3 above the internal target; accepted by the customer on 2026-05-03."
    rendered = render_certificate_pdf(payload=revision, attachments={})
    text = re.sub(r"\s+", " ", " ".join(page_texts(rendered)))
    assert "Supersedes COA-2026-0001 rev 0" in text
    assert "What changed: Fe2O3 result corrected from 64 to 42 mg/kg" in text
    assert "Why: transcription error in the run import" in text
    assert "Released under concession Fe2O3 above the internal target" in text
    assert pdfa_problems(rendered) == []


def test_a_payload_missing_a_field_is_refused_before_rendering() -> None:
    broken = example_payload()
    del broken["lot"]["grade"]
    with pytest.raises(PayloadError, match=r"lot\.grade: missing"):
        render_certificate_pdf(payload=broken, attachments={})


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("results.bin", b"x", "MIME type"),
        ("../results.csv", b"x", "plain file name"),
        ("results.csv", b"\xff\xfe", "not UTF-8 text"),
        ("results.csv", "text", "expected bytes"),
    ],
)
def test_bad_attachments_are_refused_with_the_reason(name: str, content: object, words: str) -> None:
    with pytest.raises(CertificateRenderError, match=re.escape(words)):
        render_certificate_pdf(payload=PAYLOAD, attachments={name: content})  # type: ignore[dict-item]


def test_without_the_cjk_fonts_a_cjk_name_is_refused_saying_which_fonts_to_install() -> None:
    payload = example_payload()
    payload["customer"]["name"] = "包头稀土"
    with pytest.raises(CertificateRenderError, match="could not be displayed") as refused:
        render_certificate_pdf(payload=payload, attachments={}, font_dirs=())
    assert "包" in str(refused.value)
    assert "fonts-noto-cjk" in str(refused.value)
    assert FONT_DIRS_VARIABLE in str(refused.value)


def test_text_no_font_can_print_is_refused_not_printed_blank() -> None:
    payload = example_payload()
    payload["customer"]["name"] = "राष्ट्रीय दुर्लभ पृथ्वी"  # Devanagari: in none of the fonts, CJK or not
    with pytest.raises(CertificateRenderError, match="could not be displayed") as refused:
        render_certificate_pdf(payload=payload, attachments={})
    assert "the fonts are Libertinus Serif, DejaVu Sans Mono" in str(refused.value)


def test_the_font_folders_come_from_the_setting_else_from_debians_cjk_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FONT_DIRS_VARIABLE, os.pathsep.join([str(tmp_path), "", "/opt/fonts"]))
    assert certificate_font_dirs() == (str(tmp_path), "/opt/fonts")
    monkeypatch.setenv(FONT_DIRS_VARIABLE, "")
    assert certificate_font_dirs() == ()  # set but empty: the bundled fonts only
    monkeypatch.delenv(FONT_DIRS_VARIABLE)
    assert certificate_font_dirs() == ((DEBIAN_CJK_FONT_DIR,) if os.path.isdir(DEBIAN_CJK_FONT_DIR) else ())
    # A folder without the CJK font leaves the template the bundled families, which it always has.
    assert font_families((str(tmp_path),)) == BUNDLED_FONT_FAMILIES
