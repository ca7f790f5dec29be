"""Which registered sample, or which QC item, each acquisition of a run is.

PURE: no Django, no database. The caller passes the codes of the samples the analyst may use
and the instrument's label patterns; this module decides, in this order:

1. the vendor's own acquisition type: a calibration blank or standard is whatever its label says
   (the real Agilent batch names its calibration blanks ``0``, like its anonymised samples);
2. the lab's patterns for the instrument, in their order (e.g. ``Deriv TracesETMaj`` -> CCV);
3. a registered sample id, exactly, after trimming and upper-casing the label (ids are upper-case);
4. the default patterns: ``ICV``, ``CCV``, ``CCB``, ``BLK``, ``LCS`` (each optionally numbered:
   ``CCV 2``, ``CCV-03``), ``CRM <name>``, ``DUP <sample>``, ``SPK <sample>``.

A pattern may capture ``(?P<sample>...)`` (a duplicate or spike names its parent sample) or
``(?P<name>...)`` (a reference material by name). Everything else is unmatched and reported with
its count; several acquisitions under one unmatched label (a batch of ``0``) are normal.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from assays.errors import DomainError


class MatchKind(enum.StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"
    REGEX = "regex"


# Same values as assays.models.QcRole (the models may not be imported here).
class QcItem(enum.StrEnum):
    CALIBRATION_BLANK = "calibration_blank"
    CALIBRATION_STANDARD = "calibration_standard"
    ICV = "icv"
    LOW_LEVEL_CHECK = "low_level_check"
    CCV = "ccv"
    CCB = "ccb"
    METHOD_BLANK = "method_blank"
    LCS = "lcs"
    CRM = "crm"
    DUPLICATE = "duplicate"
    SPIKE = "spike"


class PatternError(DomainError):
    """A label pattern that cannot be used (an invalid regular expression...)."""


def normalise_label(label: str) -> str:
    """How a label is compared with a sample id: trimmed, upper-case."""
    return label.strip().upper()


def _fold(text: str) -> str:
    # Patterns compare case- and spacing-insensitively: "Deriv  TracesETMaj" is the same drift check.
    return " ".join(text.split()).upper()


@dataclass(frozen=True, slots=True)
class LabelPattern:
    pattern: str
    kind: MatchKind
    qc_item: QcItem
    reference_material_id: int | None = None  # a CRM pattern may name the material outright
    source: str = "default"  # "default", or "lab" for the instrument's own patterns

    def __post_init__(self) -> None:
        if not self.pattern.strip():
            raise PatternError("a label pattern cannot be empty")
        if self.kind is MatchKind.REGEX:
            compile_pattern(self.pattern)

    def match(self, label: str) -> dict[str, str] | None:
        """The captured groups (possibly none) when ``label`` matches, else None."""
        if self.kind is MatchKind.EXACT:
            return {} if _fold(label) == _fold(self.pattern) else None
        if self.kind is MatchKind.PREFIX:
            return {} if _fold(label).startswith(_fold(self.pattern)) else None
        found = compile_pattern(self.pattern).fullmatch(label.strip())
        if found is None:
            return None
        return {key: value.strip() for key, value in found.groupdict().items() if value is not None and value.strip()}


_COMPILED: dict[str, re.Pattern[str]] = {}


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A lab's regular expression, compiled once, case-insensitive; a clear error if it is invalid."""
    compiled = _COMPILED.get(pattern)
    if compiled is None:
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as error:
            raise PatternError(f"invalid regular expression {pattern!r}: {error}") from None
        unknown = set(compiled.groupindex) - {"sample", "name"}
        if unknown:
            raise PatternError(f"pattern {pattern!r}: named groups may be 'sample' or 'name', not {', '.join(sorted(unknown))}")
        _COMPILED[pattern] = compiled
    return compiled


_NUMBERED = r"(?:[\s_\-#]*\d+)?"
_SEP = r"[\s_\-:]+"

DEFAULT_PATTERNS: tuple[LabelPattern, ...] = (
    # Low-level checks (6020B's LLICV / LLCCV) verify the calibration near the reporting limit.
    LabelPattern(rf"LL(?:I|C)?CV{_NUMBERED}", MatchKind.REGEX, QcItem.LOW_LEVEL_CHECK),
    LabelPattern(rf"ICV{_NUMBERED}", MatchKind.REGEX, QcItem.ICV),
    LabelPattern(rf"CCV{_NUMBERED}", MatchKind.REGEX, QcItem.CCV),
    LabelPattern(rf"CCB{_NUMBERED}", MatchKind.REGEX, QcItem.CCB),
    LabelPattern(rf"BLK{_NUMBERED}", MatchKind.REGEX, QcItem.METHOD_BLANK),
    LabelPattern(rf"LCS{_NUMBERED}", MatchKind.REGEX, QcItem.LCS),
    LabelPattern(rf"CRM{_SEP}(?P<name>.+)", MatchKind.REGEX, QcItem.CRM),
    LabelPattern(rf"DUP{_SEP}(?P<sample>.+)", MatchKind.REGEX, QcItem.DUPLICATE),
    LabelPattern(rf"SPK{_SEP}(?P<sample>.+)", MatchKind.REGEX, QcItem.SPIKE),
)

# Vendor acquisition types (folded) that say what an acquisition is, whatever its label.
VENDOR_TYPES: dict[str, QcItem] = {
    # Agilent MassHunter
    "CALBLK": QcItem.CALIBRATION_BLANK,
    "CALSTD": QcItem.CALIBRATION_STANDARD,
    # PerkinElmer Syngistix / WinLab32, Thermo Qtegra and spelled out
    "CALIB BLANK": QcItem.CALIBRATION_BLANK,
    "CALIBRATION BLANK": QcItem.CALIBRATION_BLANK,
    "CAL BLANK": QcItem.CALIBRATION_BLANK,
    "CALIB STD": QcItem.CALIBRATION_STANDARD,
    "CALIB STANDARD": QcItem.CALIBRATION_STANDARD,
    "CALIBRATION STANDARD": QcItem.CALIBRATION_STANDARD,
    "CAL STD": QcItem.CALIBRATION_STANDARD,
    "BLK": QcItem.CALIBRATION_BLANK,
    "STD": QcItem.CALIBRATION_STANDARD,
}


@dataclass(frozen=True, slots=True)
class Match:
    """What one acquisition is. ``sample_code`` is set for a sample, and for a duplicate or spike
    whose parent sample is registered; ``qc_item`` is None for a plain sample."""

    sample_code: str | None = None
    qc_item: QcItem | None = None
    reference_material_id: int | None = None
    reference_material_name: str = ""
    parent_label: str = ""  # the sample a DUP/SPK names, as written (also when not registered)
    rule: str = ""  # what decided: "vendor type CalBlk", "lab pattern 'Deriv TracesETMaj'", "sample id"

    @property
    def is_sample(self) -> bool:
        return self.sample_code is not None and self.qc_item is None

    @property
    def is_matched(self) -> bool:
        return self.sample_code is not None or self.qc_item is not None


UNMATCHED = Match()


@dataclass(frozen=True, slots=True)
class AcquisitionLabel:
    label: str
    vendor_type: str = ""


@dataclass(slots=True)
class MatchReport:
    matches: list[Match]
    labels: list[AcquisitionLabel]
    warnings: list[str] = field(default_factory=list)

    @property
    def unmatched(self) -> dict[str, int]:
        """Each unmatched label (as written, trimmed) with how many acquisitions carry it, in run order."""
        counts: Counter[str] = Counter()
        for label, match in zip(self.labels, self.matches, strict=True):
            if not match.is_matched:
                counts[label.label.strip()] += 1
        return dict(counts)

    @property
    def sample_acquisitions(self) -> int:
        return sum(1 for match in self.matches if match.is_sample)

    @property
    def matched_samples(self) -> int:
        return len({match.sample_code for match in self.matches if match.is_sample})

    @property
    def qc_items(self) -> int:
        return sum(1 for match in self.matches if match.qc_item is not None)


def match_acquisitions(
    labels: Sequence[AcquisitionLabel],
    *,
    sample_codes: Collection[str],
    patterns: Sequence[LabelPattern] = (),
    default_patterns: Sequence[LabelPattern] = DEFAULT_PATTERNS,
) -> MatchReport:
    """Match every acquisition; ``sample_codes`` are normalised ids (upper-case)."""
    known = {normalise_label(code) for code in sample_codes}
    matches = [_match_one(label, known=known, patterns=patterns, default_patterns=default_patterns) for label in labels]
    warnings: list[str] = []
    missing_parents = Counter(
        match.parent_label for match in matches if match.qc_item in {QcItem.DUPLICATE, QcItem.SPIKE} and match.sample_code is None
    )
    for parent, count in missing_parents.items():
        warnings.append(f"{count} duplicate/spike acquisition(s) name sample {parent!r}, which is not registered here")
    return MatchReport(matches=matches, labels=list(labels), warnings=warnings)


def parent_labels(
    labels: Sequence[AcquisitionLabel],
    *,
    patterns: Sequence[LabelPattern] = (),
    default_patterns: Sequence[LabelPattern] = DEFAULT_PATTERNS,
) -> set[str]:
    """Every parent sample a label names through a pattern's ``sample`` group (a duplicate's or a
    spike's), whatever the label's own match turns out to be: a superset of the parents
    ``match_acquisitions`` finds, for reading the samples a batch may name before matching it.
    Only the patterns that can name a parent are tried."""
    naming = [
        pattern
        for pattern in (*patterns, *default_patterns)
        if pattern.kind is MatchKind.REGEX and "sample" in compile_pattern(pattern.pattern).groupindex
    ]
    parents: set[str] = set()
    for label in labels:
        for pattern in naming:
            groups = pattern.match(label.label)
            if groups and groups.get("sample"):
                parents.add(groups["sample"])
    return parents


def _match_one(
    acquisition: AcquisitionLabel, *, known: set[str], patterns: Sequence[LabelPattern], default_patterns: Sequence[LabelPattern]
) -> Match:
    vendor_item = VENDOR_TYPES.get(_fold(acquisition.vendor_type))
    if vendor_item is not None:
        return Match(qc_item=vendor_item, rule=f"vendor type {acquisition.vendor_type.strip()}")
    for pattern in patterns:
        found = _by_pattern(acquisition.label, pattern, known=known, rule=f"lab pattern {pattern.pattern!r}")
        if found is not None:
            return found
    code = normalise_label(acquisition.label)
    if code and code in known:
        return Match(sample_code=code, rule="sample id")
    for pattern in default_patterns:
        found = _by_pattern(acquisition.label, pattern, known=known, rule=f"default pattern {pattern.pattern!r}")
        if found is not None:
            return found
    return UNMATCHED


def _by_pattern(label: str, pattern: LabelPattern, *, known: set[str], rule: str) -> Match | None:
    groups = pattern.match(label)
    if groups is None:
        return None
    parent = groups.get("sample", "")
    parent_code = normalise_label(parent) if parent else ""
    return Match(
        sample_code=parent_code if parent_code in known else None,
        qc_item=pattern.qc_item,
        reference_material_id=pattern.reference_material_id,
        reference_material_name=groups.get("name", ""),
        parent_label=parent,
        rule=rule,
    )
