"""PAdES signature of a certificate PDF (pyHanko), its validation, and the demo's self-signed key pair.

PURE: no Django, no database; keys and certificates come in as PEM bytes.

* ``sign_pdf``: PAdES baseline B-B (ETSI EN 319 142-1): a CAdES detached CMS with signed
  attributes (content type, message digest, ESS signing-certificate-v2), SubFilter
  ``ETSI.CAdES.detached``, the signing time in the signature dictionary's /M (PAdES forbids the
  CMS signing-time attribute); no timestamp, no revocation data (those would be B-T / B-LT).
  The field is invisible (zero-size widget, Print flag set) and written as an incremental update,
  so the PDF/A-3b document underneath is unchanged; pyHanko updates the Info dictionary and the XMP
  ModifyDate/Producer together, as PDF/A requires them to agree.
* ``verify_signed_pdf``: whether the file's one signature is intact (the signed bytes hash to the
  signed digest), valid (the CMS signature verifies), trusted (the signer chains to the given
  certificate) and covers the whole file (nothing appended after signing).
* ``generate_self_signed_pair``: for the demo only, a self-signed RSA certificate; a lab signs
  with a certificate its customers can check against a CA they trust.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from typing import Any, Final

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from assays.errors import DomainError

SIGNATURE_FIELD: Final = "Signature1"
DIGEST_ALGORITHM: Final = "sha256"
# RSA 3072: accepted by every PDF reader a customer may open the certificate in, and above the
# 2030 floor of ETSI TS 119 312 / BSI TR-02102.
DEMO_KEY_BITS: Final = 3072
# id-kp-documentSigning (RFC 9336): what the certificate is for.
DOCUMENT_SIGNING_EKU: Final = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class SigningError(DomainError):
    """The PDF could not be signed with this key and certificate (the message says why)."""


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What the verification of a signed PDF found. ``ok`` only when everything holds."""

    intact: bool  # the signed byte ranges hash to the digest the signer signed
    valid: bool  # the signature over that digest verifies with the signer's public key
    trusted: bool  # the signer's certificate chains to the trust certificate given
    covers_whole_file: bool  # no bytes were appended after signing (an incremental update)
    signer_subject: str
    signing_time: dt.datetime | None  # as the signer claims it (/M); a B-B signature has no timestamp
    problem: str  # why not, in words; "" when ok

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def sign_pdf(
    *,
    pdf: bytes,
    key_pem: bytes,
    cert_pem: bytes,
    chain_pem: bytes = b"",
    reason: str,
    location: str,
    signer_name: str,
    key_passphrase: bytes | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """``pdf`` with a PAdES B-B signature appended as an incremental update.

    ``cert_pem`` holds the signer's certificate (first) and may hold its chain; ``chain_pem`` may
    hold more intermediates. The chain is embedded so a verifier needs only the root. ``now`` is
    the moment the certificate's validity is checked at (tests); the signing time is the clock's.
    """
    certificates = _load_certificates(cert_pem, "cert_pem")
    if not certificates:
        raise SigningError("cert_pem holds no certificate")
    certificates += _load_certificates(chain_pem, "chain_pem")
    signing_cert = certificates[0]
    private_key = _private_key(key_pem, key_passphrase)
    _check_pair(private_key=private_key, cert=signing_cert)
    _check_validity(signing_cert, now or dt.datetime.now(dt.UTC))
    signer = _ParsedKeySigner(
        private_key=private_key,
        signing_cert=signing_cert,
        signing_key=translate_pyca_cryptography_key_to_asn1(private_key),
        cert_registry=_certificate_store(certificates),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm=DIGEST_ALGORITHM,
        reason=reason,
        location=location,
        name=signer_name,
        use_pades_lta=False,
        embed_validation_info=False,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=True)
        output = signers.sign_pdf(writer, metadata, signer=signer, new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD))
    except (PdfError, PyHankoSigningError, ValueError, KeyError, TypeError) as error:
        raise SigningError(f"could not sign the PDF: {type(error).__name__}: {error}") from error
    signed: bytes = output.getvalue()
    return signed


def verify_signed_pdf(*, pdf: bytes, trust_cert_pem: bytes) -> SignatureCheck:
    """Check the one signature of ``pdf`` against ``trust_cert_pem`` (the lab's certificate or its
    CA). Never raises for a bad file: a damaged or foreign PDF is reported as not intact."""
    try:
        trust_roots = _load_certificates(trust_cert_pem, "trust_cert_pem")
    except SigningError as error:
        return _failed(str(error))
    if not trust_roots:
        return _failed("trust_cert_pem holds no certificate")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_regular_signatures
        if len(signatures) != 1:
            return _failed(f"expected one signature, found {len(signatures)}")
        # Offline on purpose: a B-B signature carries no revocation data, and a verification page
        # must not make outgoing requests an uploader controls.
        context = ValidationContext(trust_roots=trust_roots, allow_fetching=False)
        status: PdfSignatureStatus = validate_pdf_signature(signatures[0], context)
    # The file is untrusted input (an upload on the verification page): whatever the parser or the
    # validator trips over means "not verified", never a crash.
    except Exception as error:
        return _failed(f"the PDF or its signature could not be read: {type(error).__name__}: {error}")
    covers_whole_file = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    problems = []
    # pyHanko judges trust only for a signature that verifies: name the first thing that failed.
    if not status.intact:
        problems.append("the signed content was changed")
    elif not status.valid:
        problems.append("the signature does not verify")
    elif not status.trusted:
        problems.append("the signer's certificate does not chain to the trusted certificate")
    if not covers_whole_file:
        problems.append("bytes were added after signing")
    return SignatureCheck(
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        covers_whole_file=covers_whole_file,
        signer_subject=status.signing_cert.subject.human_friendly,
        signing_time=status.signer_reported_dt,
        problem="; ".join(problems),
    )


def generate_self_signed_pair(*, common_name: str, organisation: str, days: int) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM) for document signing, self-signed: the demo's, not a lab's."""
    if not common_name.strip() or not organisation.strip():
        raise SigningError("a signing certificate names its holder and organisation")
    if days < 1:
        raise SigningError(f"a certificate valid for {days} days is not valid at all")
    key = rsa.generate_private_key(public_exponent=65537, key_size=DEMO_KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # A minute of slack: a worker whose clock runs a little behind still finds it valid.
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: the signer stands behind the content
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING_EKU]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


def _certificate_store(certificates: list[asn1_x509.Certificate]) -> SimpleCertificateStore:
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # pyhanko-certvalidator leaves __init__ unannotated
    for certificate in certificates:
        store.register(certificate)
    return store


def _failed(problem: str) -> SignatureCheck:
    return SignatureCheck(
        intact=False, valid=False, trusted=False, covers_whole_file=False, signer_subject="", signing_time=None, problem=problem
    )


def _load_certificates(pem: bytes, what: str) -> list[asn1_x509.Certificate]:
    if not pem.strip():
        return []
    try:
        return list(load_certs_from_pemder_data(pem))
    except (ValueError, TypeError) as error:
        raise SigningError(f"{what} is not a PEM or DER certificate: {error}") from None


class _ParsedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner re-parses its key for every signature it makes (two per PDF: a dry
    run sizes the signature), and cryptography checks an RSA key's primes on every parse, about
    90 ms for 3072 bits. This one signs with the key parsed once (``_private_key`` caches it)."""

    def __init__(self, *, private_key: SigningKey, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        key = self._private_key
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)  # any other mechanism: pyHanko's own way


@functools.lru_cache(maxsize=8)
def _private_key(key_pem: bytes, passphrase: bytes | None) -> SigningKey:
    # Cached per process: a worker signing a batch parses (and checks) the lab's key once.
    load = serialization.load_pem_private_key if b"-----BEGIN" in key_pem else serialization.load_der_private_key
    try:
        key = load(key_pem, password=passphrase)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise SigningError(f"key_pem is not a usable private key: {error}") from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise SigningError(f"a certificate is signed with an RSA or EC key, not {type(key).__name__}")
    return key


def _check_pair(*, private_key: SigningKey, cert: asn1_x509.Certificate) -> None:
    # A key that does not match the certificate would give a signature no one can verify; say so
    # now rather than after the certificate was issued.
    certified = x509.load_der_x509_certificate(cert.dump()).public_key()
    as_der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private_key.public_key().public_bytes(*as_der) != certified.public_bytes(*as_der):
        raise SigningError("the private key does not belong to the signing certificate")


def _check_validity(cert: asn1_x509.Certificate, now: dt.datetime) -> None:
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    if not not_before <= now <= not_after:
        raise SigningError(
            f"the signing certificate is valid from {not_before:%Y-%m-%d %H:%M} to {not_after:%Y-%m-%d %H:%M} UTC, not now: renew it"
        )
