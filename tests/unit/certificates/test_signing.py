"""PAdES B-B signing with pyHanko (issue 6, §4): the signature validates against the lab's
certificate, the signed file is still PDF/A-3b, and one changed byte breaks it. One key pair and
one signed certificate per module (RSA key generation is the slow part)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pikepdf
import pytest
from asn1crypto import cms  # type: ignore[import-untyped]

from assays.certificates.example import example_payload
from assays.certificates.payload import payload_to_json
from assays.certificates.render import render_certificate_pdf
from assays.certificates.signing import SigningError, generate_self_signed_pair, sign_pdf, verify_signed_pdf
from tests.unit.certificates.pdf_content import attachments
from tests.unit.certificates.pdfa_checks import pdfa_problems

PAYLOAD = example_payload()
ATTACHMENTS = {"COA-2026-0001-rev0-data.json": payload_to_json(PAYLOAD).encode()}
REASON = "Approved for release: COA-2026-0001 rev 0"


@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes]:
    return generate_self_signed_pair(common_name="QA release signing", organisation="Rare Earth Recovery Laboratory", days=30)


@pytest.fixture(scope="module")
def unsigned() -> bytes:
    return render_certificate_pdf(payload=PAYLOAD, attachments=ATTACHMENTS)


@pytest.fixture(scope="module")
def signed(unsigned: bytes, pair: tuple[bytes, bytes]) -> bytes:
    key_pem, cert_pem = pair
    return sign_pdf(pdf=unsigned, key_pem=key_pem, cert_pem=cert_pem, reason=REASON, location="Freiberg", signer_name="RERL QA")


def _signature_field(pdf: bytes) -> dict[str, Any]:
    """The one signature field's widget and signature dictionary, as plain values."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        (field,) = document.Root.AcroForm.Fields
        value = field.V
        return {
            "rect": [float(number) for number in field.Rect],
            "flags": int(field.F),
            "subfilter": str(value.SubFilter),
            "reason": str(value.Reason),
            "location": str(value.Location),
            "name": str(value.Name),
            "contents": bytes(value.Contents),
        }


def test_the_signature_validates_against_the_lab_certificate(signed: bytes, pair: tuple[bytes, bytes]) -> None:
    check = verify_signed_pdf(pdf=signed, trust_cert_pem=pair[1])
    assert check.ok, check.problem
    assert (check.intact, check.valid, check.trusted, check.covers_whole_file, check.problem) == (True, True, True, True, "")
    assert check.signer_subject == "Organization: Rare Earth Recovery Laboratory, Common Name: QA release signing"
    assert check.signing_time is not None
    assert abs(check.signing_time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_the_signature_is_pades_baseline_b_in_an_invisible_field(signed: bytes) -> None:
    signature = _signature_field(signed)
    assert signature["subfilter"] == "/ETSI.CAdES.detached"
    assert (signature["reason"], signature["location"], signature["name"]) == (REASON, "Freiberg", "RERL QA")
    # Zero-size widget, Print flag set: invisible, and still what PDF/A allows without an appearance.
    assert signature["rect"] == [0, 0, 0, 0]
    assert signature["flags"] & 4
    # The CMS: signed attributes with the signing certificate (ESS v2), and no signing-time
    # attribute, which PAdES forbids (the time is in /M); no timestamp token (that would be B-T).
    content = cms.ContentInfo.load(signature["contents"].rstrip(b"\x00"))
    signer_info = content["content"]["signer_infos"][0]
    attributes = {attribute["type"].native for attribute in signer_info["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= attributes
    assert "signing_time" not in attributes
    assert not signer_info["unsigned_attrs"].native


def test_signing_appends_an_incremental_update_and_the_file_stays_pdfa(signed: bytes, unsigned: bytes) -> None:
    assert signed.startswith(unsigned)
    assert pdfa_problems(signed) == []
    assert attachments(signed) == ATTACHMENTS


def test_one_changed_byte_in_the_signed_range_breaks_the_signature(signed: bytes, unsigned: bytes, pair: tuple[bytes, bytes]) -> None:
    # A letter of the lot code in the document's XMP (plain text, so the file still parses) ...
    position = signed.index(b"Certificate of analysis COA-2026-0001")
    tampered = signed[:position] + b"c" + signed[position + 1 :]
    check = verify_signed_pdf(pdf=tampered, trust_cert_pem=pair[1])
    assert not check.ok
    assert not check.intact
    assert "changed" in check.problem
    # ... and a byte in the middle of the compressed page content.
    middle = len(unsigned) // 2
    flipped = signed[:middle] + bytes([signed[middle] ^ 0x01]) + signed[middle + 1 :]
    check = verify_signed_pdf(pdf=flipped, trust_cert_pem=pair[1])
    assert not check.ok
    assert not check.intact


def test_another_certificate_is_not_trusted(signed: bytes) -> None:
    _, stranger = generate_self_signed_pair(common_name="QA release signing", organisation="Rare Earth Recovery Laboratory", days=30)
    check = verify_signed_pdf(pdf=signed, trust_cert_pem=stranger)
    assert check.intact
    assert not check.trusted
    assert not check.ok
    assert "does not chain" in check.problem


def test_bytes_appended_after_signing_are_noticed(signed: bytes, pair: tuple[bytes, bytes]) -> None:
    with pikepdf.open(io.BytesIO(signed)) as document:
        document.docinfo["/Title"] = "Something else"
        buffer = io.BytesIO()
        document.save(buffer)
    rewritten = verify_signed_pdf(pdf=buffer.getvalue(), trust_cert_pem=pair[1])
    assert not rewritten.ok
    appended = verify_signed_pdf(pdf=signed + b"%% a comment\n", trust_cert_pem=pair[1])
    assert not appended.ok


@pytest.mark.parametrize(
    ("pdf", "problem"),
    [(b"not a pdf at all", "could not be read"), (None, "expected one signature, found 0")],
)
def test_unsigned_or_broken_files_are_reported_never_raised(
    pdf: bytes | None, problem: str, unsigned: bytes, pair: tuple[bytes, bytes]
) -> None:
    check = verify_signed_pdf(pdf=pdf if pdf is not None else unsigned, trust_cert_pem=pair[1])
    assert not check.ok
    assert not check.intact
    assert problem in check.problem


def test_a_key_that_is_not_the_certificates_is_refused(unsigned: bytes, pair: tuple[bytes, bytes]) -> None:
    other_key, _ = generate_self_signed_pair(common_name="Someone", organisation="Elsewhere", days=1)
    with pytest.raises(SigningError, match="does not belong"):
        sign_pdf(pdf=unsigned, key_pem=other_key, cert_pem=pair[1], reason=REASON, location="x", signer_name="x")


@pytest.mark.parametrize(
    ("key", "cert", "pdf", "words"),
    [
        (b"junk", None, None, "key_pem is not a usable private key"),
        (None, b"junk", None, "cert_pem is not a PEM or DER certificate"),
        (None, b"", None, "cert_pem holds no certificate"),
        (None, None, b"%PDF-1.7 broken", "could not sign the PDF"),
    ],
)
def test_bad_signing_material_is_refused_with_the_reason(
    key: bytes | None, cert: bytes | None, pdf: bytes | None, words: str, unsigned: bytes, pair: tuple[bytes, bytes]
) -> None:
    with pytest.raises(SigningError, match=words):
        sign_pdf(
            pdf=pdf if pdf is not None else unsigned,
            key_pem=key if key is not None else pair[0],
            cert_pem=cert if cert is not None else pair[1],
            reason=REASON,
            location="x",
            signer_name="x",
        )


def test_an_expired_certificate_is_refused(unsigned: bytes, pair: tuple[bytes, bytes]) -> None:
    with pytest.raises(SigningError, match="renew it"):
        sign_pdf(
            pdf=unsigned,
            key_pem=pair[0],
            cert_pem=pair[1],
            reason=REASON,
            location="x",
            signer_name="x",
            now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31),
        )


def test_the_demo_pair_is_a_document_signing_certificate(pair: tuple[bytes, bytes]) -> None:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificate(pair[1])
    assert certificate.subject == certificate.issuer  # self-signed: the demo says so
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    assert not usage.key_cert_sign
    assert certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value[0].dotted_string == "1.3.6.1.5.5.7.3.36"
    with pytest.raises(SigningError):
        generate_self_signed_pair(common_name="x", organisation="y", days=0)


@pytest.mark.parametrize(("trust", "problem"), [(b"junk", "trust_cert_pem is not a PEM"), (b"", "trust_cert_pem holds no certificate")])
def test_unusable_trust_material_is_reported_not_raised(signed: bytes, trust: bytes, problem: str) -> None:
    check = verify_signed_pdf(pdf=signed, trust_cert_pem=trust)
    assert not check.ok
    assert problem in check.problem
