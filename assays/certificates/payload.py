"""The one JSON payload a certificate (or report) of analysis is rendered from, typed and checked.

PURE: no Django, no database. REO-ASSAY.md §5 to §7 say what a certificate states; this module says
in which shape. The Typst template (templates/certificates/certificate.typ) only lays out what is
here, so everything printed is decided before rendering: numbers arrive as the text the report
shows (§5 rounding already applied, see ``result_texts`` and ``censored_text``), never as floats
a template would have to format. The same JSON, byte for byte, is attached to the PDF.

``payload_from_mapping`` is strict: a missing field, an unknown field, a wrong type or an
inconsistent value is refused with a ``PayloadError`` naming the field ("results[2].verdict"),
because a certificate printed from a half-filled payload cannot be recalled once issued.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import types
import typing
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Final

from assays.chemistry.rounding import Number, exact_decimal, format_decimal, round_with_uncertainty
from assays.errors import DomainError

SCHEMA_VERSION: Final = 1
KIND_CERTIFICATE: Final = "certificate"
KIND_REPORT: Final = "report"
KINDS: Final = (KIND_CERTIFICATE, KIND_REPORT)
# How a moment is printed on a certificate: to the minute, always UTC (21 CFR 11.50 asks for date
# and time; a time zone nobody states is a question nobody can answer later).
UTC_FORMATS: Final = ("%Y-%m-%d %H:%M UTC", "%Y-%m-%d %H:%M:%S UTC")
CENSORED_PREFIX: Final = "< LOD"


class PayloadError(DomainError, ValueError):
    """A payload that cannot be printed: ``field`` is its path ("lot.code", "results[0].unit")."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"certificate payload: {field}: {problem}")


# --- The payload ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LabHeader:
    name: str
    address: str
    accreditation: str  # e.g. "ISO/IEC 17025:2017, DAkkS D-PL-12345-01-00"; "" when not accredited

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("name",)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuingSite:
    name: str
    address: str

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("name",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    name: str
    country: str
    reference: str  # the customer's order or allocation reference, "" when none

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("name",)


@dataclass(frozen=True, slots=True, kw_only=True)
class LotInfo:
    code: str
    kind: str  # "Product", "Feedstock"... as the lab words it
    product: str
    product_code: str
    grade: str
    quantity_kg: str  # as entered ("500"), or "not stated"
    produced_on: str | None  # ISO date
    received_on: str | None  # ISO date: the receipt date of a feedstock lot

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("code", "quantity_kg")
    DATES: ClassVar[tuple[str, ...]] = ("produced_on", "received_on")


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecificationInfo:
    name: str
    product: str
    version: int | None
    source: str  # where the limits come from (a standard, a customer's spec, "plant default")
    basis: str  # "as received", "dry basis"...


@dataclass(frozen=True, slots=True, kw_only=True)
class SampleInfo:
    code: str
    sampled_by: str
    sampled_at: str | None  # "YYYY-MM-DD HH:MM UTC"
    sampling_method: str
    received_at: str | None  # "YYYY-MM-DD HH:MM UTC": receipt at the laboratory

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("code", "sampled_by")
    MOMENTS: ClassVar[tuple[str, ...]] = ("sampled_at", "received_at")


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodInfo:
    method: str
    code: str
    technique: str  # "ICP-MS"
    standard: str  # the written method, or "in-house method"
    instrument: str
    rule_pack: str  # the run QC rules the results passed

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("method", "technique", "instrument")


@dataclass(frozen=True, slots=True, kw_only=True)
class ResultRow:
    """One reported quantity, as printed: texts already rounded per §5 (``result_texts``)."""

    quantity: str  # "Nd2O3", "TREO", "Relative purity"
    unit: str
    result: str  # "99.62", or "< LOD 0.50" when every sample was below its detection limit
    uncertainty: str  # expanded U (k = 2) to two significant figures, "" when none is reported
    limit: str  # "≥ 99.5", "≤ 0.05", "" without a limit
    verdict: str  # "pass" / "fail" / "inconclusive" as the lab words it; always "" on a report
    censored: bool
    accredited: bool  # inside the lab's accreditation scope

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("quantity", "result")


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    treo: str  # "99.80 ± 0.21 %"
    relative_purity: str
    absolute_content: str
    n_samples: int
    status: str
    statement: str  # the statement of conformity, in words


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedstockInfo:
    lot: str
    share_percent: str  # mass share of the product through the genealogy, as printed
    type: str
    supplier: str
    supplier_country: str
    country_of_collection: str
    recycled: bool

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("lot", "share_percent")


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    feedstocks: tuple[FeedstockInfo, ...]
    supplier_countries: tuple[str, ...]
    countries_of_collection: tuple[str, ...]
    country_of_separation: str
    country_of_oxide_production: str
    recycled_content: str  # "62.5 % (mass balance, TREO basis)" or "not determinable (...)"
    seller_declaration: str  # the lab's configured declaration text


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """An electronic signature as 21 CFR 11.50 wants it printed: name, role, meaning, time."""

    name: str
    role: str
    meaning: str  # "Approved for release"
    signed_at: str  # "YYYY-MM-DD HH:MM UTC"

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("name", "role", "meaning", "signed_at")
    MOMENTS: ClassVar[tuple[str, ...]] = ("signed_at",)


@dataclass(frozen=True, slots=True, kw_only=True)
class Supersedes:
    number: str
    revision: int
    change: str  # what changed
    reason: str  # why

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("number", "change", "reason")


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificatePayload:
    schema: int
    kind: str  # "certificate" or "report" (of analysis: payable composition, no verdict)
    title: str
    number: str
    revision: int
    issued_at: str  # "YYYY-MM-DD HH:MM UTC"; also the PDF's creation date (same payload, same bytes)
    lab: LabHeader
    issuing_site: IssuingSite
    customer: Customer | None
    lot: LotInfo
    specification: SpecificationInfo
    samples: tuple[SampleInfo, ...]
    analysis_dates: tuple[str, ...]  # ISO dates
    methods: tuple[MethodInfo, ...]
    results: tuple[ResultRow, ...]
    summary: Summary
    accreditation_note: str
    decision_rule: str  # in words (ISO/IEC 17025 7.8.6)
    rounding_rule: str  # in words (ASTM E29 / GB/T 8170)
    concession: str | None  # a QA manager's written reason for releasing under concession
    provenance: Provenance
    signatures: tuple[Signature, ...]
    supersedes: Supersedes | None
    verification_url: str
    assessment_id: int | None

    REQUIRED_TEXT: ClassVar[tuple[str, ...]] = ("title", "number", "issued_at", "decision_rule", "rounding_rule", "verification_url")
    MOMENTS: ClassVar[tuple[str, ...]] = ("issued_at",)

    @property
    def issued(self) -> dt.datetime:
        """``issued_at`` as an aware UTC datetime (the payload was checked, so it parses)."""
        moment = parse_utc(self.issued_at)
        assert moment is not None
        return moment


# --- Texts as the report shows them (REO-ASSAY.md §5) ---------------------------------------


def result_texts(*, value: Number, expanded_uncertainty: Number | None) -> tuple[str, str]:
    """(result, U) texts: U (k = 2) to two significant figures, the result to U's decimal place.

    Without a U the value is printed as given: the caller rounds it to the place it means
    (``rounding.round_half_even``), since inventing significant figures would claim a precision.
    """
    shown, shown_u = round_with_uncertainty(value=value, expanded_uncertainty=expanded_uncertainty)
    return format_decimal(shown), format_decimal(shown_u) if shown_u is not None else ""


def censored_text(lod: Number | None) -> str:
    """A result below its detection limit: "< LOD 0.50", the LOD to two significant figures.

    Never the LOD/2 best estimate, which would read as a measured value.
    """
    if lod is None:
        return CENSORED_PREFIX
    # Two significant figures, as an uncertainty is reported: the LOD is its own rounding unit.
    shown, _ = round_with_uncertainty(value=lod, expanded_uncertainty=abs(exact_decimal(lod)))
    return f"{CENSORED_PREFIX} {format_decimal(shown)}"


def result_row(
    *,
    quantity: str,
    unit: str,
    value: Number | None,
    expanded_uncertainty: Number | None,
    limit: str = "",
    verdict: str = "",
    accredited: bool = False,
    censored: bool = False,
    lod: Number | None = None,
) -> ResultRow:
    """A table row from full-precision numbers, rounded once, here, for display (§5)."""
    if censored:
        result, uncertainty = censored_text(lod), ""
    elif value is None:
        raise PayloadError("result", f"{quantity}: a row needs a value unless it is censored")
    else:
        result, uncertainty = result_texts(value=value, expanded_uncertainty=expanded_uncertainty)
    return ResultRow(
        quantity=quantity,
        unit=unit,
        result=result,
        uncertainty=uncertainty,
        limit=limit,
        verdict=verdict,
        censored=censored,
        accredited=accredited,
    )


# --- Parsing, checking, serialising -----------------------------------------------------------


def payload_from_mapping(data: Mapping[str, Any]) -> CertificatePayload:
    """The payload in ``data`` (parsed JSON), checked; ``PayloadError`` names the first bad field."""
    payload = _parse_dataclass(CertificatePayload, data, "payload")
    assert isinstance(payload, CertificatePayload)
    _check_consistency(payload)
    return payload


def validate_payload(payload: CertificatePayload | Mapping[str, Any]) -> CertificatePayload:
    """``payload`` checked, whether it came as JSON data or was built in Python.

    A dataclass built in Python gets the same checks through a round trip: its constructor checks
    no types, and a float or a None where text belongs must not reach the template.
    """
    if isinstance(payload, CertificatePayload):
        return payload_from_mapping(payload_to_dict(payload, validate=False))
    if not isinstance(payload, Mapping):
        raise PayloadError("payload", f"expected an object, got {type(payload).__name__}")
    return payload_from_mapping(payload)


def payload_to_dict(payload: CertificatePayload | Mapping[str, Any], *, validate: bool = True) -> dict[str, Any]:
    """The payload as plain JSON data (lists, dicts, str, int, bool, None)."""
    checked = validate_payload(payload) if validate else payload
    plain: dict[str, Any] = _plain(dataclasses.asdict(checked) if isinstance(checked, CertificatePayload) else dict(checked))
    return plain


def payload_to_json(payload: CertificatePayload | Mapping[str, Any], *, validate: bool = True) -> str:
    """The payload as deterministic JSON text: checked, keys sorted, UTF-8 characters kept, 2-space
    indent and a final newline. Equal payloads give equal text, so the attachment's bytes and the
    PDF rendered from them do not depend on dict order. ``validate=False`` only for a payload that
    ``validate_payload`` just returned."""
    return json.dumps(payload_to_dict(payload, validate=validate), sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def parse_utc(text: str | None) -> dt.datetime | None:
    """ "2026-05-01 10:30 UTC" as an aware datetime; None for None; ValueError when malformed."""
    if text is None:
        return None
    for pattern in UTC_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a UTC time written as YYYY-MM-DD HH:MM UTC")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _parse_dataclass(cls: type, data: object, path: str) -> object:
    if not isinstance(data, Mapping):
        raise PayloadError(path, f"expected an object, got {_json_type(data)}")
    hints = _hints(cls)
    names = [item.name for item in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        raise PayloadError(f"{path}.{unknown[0]}" if path != "payload" else str(unknown[0]), "unexpected field")
    values: dict[str, object] = {}
    for name in names:
        where = name if path == "payload" else f"{path}.{name}"
        if name not in data:
            raise PayloadError(where, "missing")
        values[name] = _parse_value(hints[name], data[name], where)
    for name in getattr(cls, "REQUIRED_TEXT", ()):
        text = values[name]
        if isinstance(text, str) and not text.strip():
            raise PayloadError(name if path == "payload" else f"{path}.{name}", "must not be empty")
    for name in getattr(cls, "MOMENTS", ()):
        try:
            parse_utc(typing.cast(str | None, values[name]))
        except ValueError as error:
            raise PayloadError(name if path == "payload" else f"{path}.{name}", str(error)) from None
    for name in getattr(cls, "DATES", ()):
        _check_date(typing.cast(str | None, values[name]), name if path == "payload" else f"{path}.{name}")
    return cls(**values)


def _parse_value(hint: Any, value: object, path: str) -> object:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if value is None:
            return None
        assert len(options) == 1, f"{path}: only optional types are supported"
        return _parse_value(options[0], value, path)
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise PayloadError(path, f"expected a list, got {_json_type(value)}")
        return tuple(_parse_value(item_hint, item, f"{path}[{index}]") for index, item in enumerate(value))
    if dataclasses.is_dataclass(hint):
        return _parse_dataclass(typing.cast(type, hint), value, path)
    if hint is str:
        if not isinstance(value, str):
            raise PayloadError(path, f"expected text, got {_json_type(value)}")
        _check_text(value, path)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise PayloadError(path, f"expected true or false, got {_json_type(value)}")
        return value
    if hint is int:
        # bool is an int to Python, and a float would be a number the template has to format.
        if isinstance(value, bool) or not isinstance(value, int):
            raise PayloadError(path, f"expected a whole number, got {_json_type(value)}")
        if value < 0:
            raise PayloadError(path, f"must not be negative, got {value}")
        return value
    raise AssertionError(f"{path}: unsupported type {hint!r}")  # a programming error in this module


def _check_text(text: str, path: str) -> None:
    # Line breaks and tabs lay out; other control characters would print as nothing (or break the
    # PDF/A text), and a certificate must print every character it was given.
    for character in text:
        if character not in "\n\t" and unicodedata.category(character) in ("Cc", "Cs"):
            raise PayloadError(path, f"contains the control character U+{ord(character):04X}")


def _check_date(text: str | None, path: str) -> None:
    if text is None:
        return
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise PayloadError(path, f"{text!r} is not a date written as YYYY-MM-DD") from None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _check_consistency(payload: CertificatePayload) -> None:
    """Rules across fields: the ones a reader of the printed certificate relies on."""
    if payload.schema != SCHEMA_VERSION:
        raise PayloadError("schema", f"this renderer prints schema {SCHEMA_VERSION}, not {payload.schema}")
    if payload.kind not in KINDS:
        raise PayloadError("kind", f"must be one of {', '.join(KINDS)}, not {payload.kind!r}")
    url = payload.verification_url
    if not url.startswith(("https://", "http://")) or any(character.isspace() for character in url):
        raise PayloadError("verification_url", f"must be an http(s) URL without spaces, not {url!r}")
    for index, day in enumerate(payload.analysis_dates):
        _check_date(day, f"analysis_dates[{index}]")
    if not payload.results:
        raise PayloadError("results", "a certificate reports at least one quantity")
    if not payload.signatures:
        raise PayloadError("signatures", "a certificate is released by at least one signature (21 CFR 11.50)")
    for index, row in enumerate(payload.results):
        if row.censored and (not row.result.startswith(CENSORED_PREFIX) or row.uncertainty):
            raise PayloadError(f"results[{index}].result", f"a censored result is shown as '{CENSORED_PREFIX} <LOD>' without U")
        if payload.kind == KIND_REPORT and row.verdict:
            raise PayloadError(f"results[{index}].verdict", "a report of analysis states no verdict")
    if payload.kind == KIND_REPORT and payload.concession is not None:
        raise PayloadError("concession", "a report of analysis releases nothing, so it has no concession")
    if payload.concession is not None and not payload.concession.strip():
        raise PayloadError("concession", "a concession states its reason (or is null)")
    supersedes = payload.supersedes
    if payload.revision > 0 and supersedes is None:
        raise PayloadError("supersedes", f"revision {payload.revision} must say which issue it supersedes, what changed and why")
    if supersedes is not None:
        if payload.revision == 0:
            raise PayloadError("supersedes", "a first issue (revision 0) supersedes nothing")
        if supersedes.number == payload.number and supersedes.revision >= payload.revision:
            raise PayloadError("supersedes.revision", f"revision {payload.revision} cannot supersede revision {supersedes.revision}")
