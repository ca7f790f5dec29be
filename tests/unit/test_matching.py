"""Acquisition labels to samples and QC items."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assays.importers.matching import (
    DEFAULT_PATTERNS,
    AcquisitionLabel,
    LabelPattern,
    MatchKind,
    PatternError,
    QcItem,
    match_acquisitions,
    normalise_label,
    parent_labels,
)

SAMPLES = {"TS1", "TS2", "FS-26-001-A", "0"}


def _one(label: str, vendor_type: str = "", *, patterns: tuple[LabelPattern, ...] = (), samples: set[str] = SAMPLES):
    return match_acquisitions([AcquisitionLabel(label, vendor_type)], sample_codes=samples, patterns=patterns).matches[0]


def test_a_label_matches_a_sample_id_exactly_after_trimming_and_upper_casing() -> None:
    for label in ("TS1", " ts1 ", "Ts1\t", "fs-26-001-a"):
        match = _one(label)
        assert match.is_sample, label
        assert match.qc_item is None
        assert match.rule == "sample id"
    assert _one("TS1").sample_code == "TS1"
    assert _one("fs-26-001-a").sample_code == "FS-26-001-A"


def test_a_label_near_a_sample_id_is_not_a_match() -> None:
    for label in ("TS 1", "TS1A", "TS-1", "TS", "xTS1", ""):
        assert not _one(label).is_matched, label


def test_the_vendor_type_decides_calibration_blanks_and_standards_whatever_the_label() -> None:
    # The real Agilent batch calls its calibration blanks "0", the same as its anonymised samples.
    assert _one("0", "CalBlk").qc_item is QcItem.CALIBRATION_BLANK
    assert _one("0", "CalBlk").sample_code is None
    assert _one("Traces 1 ppb", "CalStd").qc_item is QcItem.CALIBRATION_STANDARD
    assert _one("TS1", "CalStd").qc_item is QcItem.CALIBRATION_STANDARD
    assert _one("Blank", "Calib Blank").qc_item is QcItem.CALIBRATION_BLANK
    assert _one("0", "Sample").sample_code == "0"


@pytest.mark.parametrize(
    ("label", "item"),
    [
        ("ICV", QcItem.ICV),
        ("icv 2", QcItem.ICV),
        ("CCV", QcItem.CCV),
        ("CCV1", QcItem.CCV),
        ("CCV-03", QcItem.CCV),
        ("ccv_4", QcItem.CCV),
        ("CCB", QcItem.CCB),
        ("CCB 12", QcItem.CCB),
        ("BLK", QcItem.METHOD_BLANK),
        ("BLK-2", QcItem.METHOD_BLANK),
        ("LCS", QcItem.LCS),
        ("LCS 1", QcItem.LCS),
    ],
)
def test_the_default_qc_names(label: str, item: QcItem) -> None:
    match = _one(label)
    assert match.qc_item is item
    assert match.sample_code is None
    assert match.rule.startswith("default pattern")


@pytest.mark.parametrize("label", ["CCVX", "ICV check", "LCSD", "BLKS", "CRM", "DUP", "SPK", "CCV 1 2"])
def test_near_misses_of_the_default_names_are_unmatched(label: str) -> None:
    assert not _one(label).is_matched


def test_a_crm_is_recognised_with_its_name() -> None:
    match = _one("CRM OREAS 465")
    assert match.qc_item is QcItem.CRM
    assert match.reference_material_name == "OREAS 465"
    assert match.reference_material_id is None


def test_a_duplicate_and_a_spike_name_their_parent_sample() -> None:
    duplicate = _one("DUP TS1")
    assert (duplicate.qc_item, duplicate.sample_code, duplicate.parent_label) == (QcItem.DUPLICATE, "TS1", "TS1")
    assert not duplicate.is_sample
    spike = _one("spk ts2")
    assert (spike.qc_item, spike.sample_code) == (QcItem.SPIKE, "TS2")


def test_a_duplicate_of_an_unregistered_sample_is_still_a_duplicate_with_a_warning() -> None:
    report = match_acquisitions([AcquisitionLabel("DUP NOPE-1"), AcquisitionLabel("DUP NOPE-1")], sample_codes=SAMPLES)
    assert [match.qc_item for match in report.matches] == [QcItem.DUPLICATE, QcItem.DUPLICATE]
    assert all(match.sample_code is None for match in report.matches)
    assert report.unmatched == {}
    assert report.warnings == ["2 duplicate/spike acquisition(s) name sample 'NOPE-1', which is not registered here"]


def test_the_labs_own_pattern_maps_the_real_batchs_drift_check_to_ccv() -> None:
    deriv = LabelPattern("Deriv TracesETMaj", MatchKind.EXACT, QcItem.CCV, source="lab")
    match = _one("Deriv TracesETMaj", "Sample", patterns=(deriv,))
    assert match.qc_item is QcItem.CCV
    assert match.rule == "lab pattern 'Deriv TracesETMaj'"
    # Case and spacing do not matter to an exact pattern; other text does.
    assert _one("deriv   tracesetmaj", patterns=(deriv,)).qc_item is QcItem.CCV
    assert not _one("Deriv TracesETMaj 2", patterns=(deriv,)).is_matched
    assert not _one("Deriv TracesETMaj").is_matched


def test_prefix_and_regex_patterns() -> None:
    prefix = LabelPattern("QC-CHK", MatchKind.PREFIX, QcItem.CCV)
    assert _one("qc-chk 7", patterns=(prefix,)).qc_item is QcItem.CCV
    assert not _one("X QC-CHK", patterns=(prefix,)).is_matched
    regex = LabelPattern(r"(?P<sample>[A-Z0-9-]+)\s+dup", MatchKind.REGEX, QcItem.DUPLICATE)
    match = _one("TS2 dup", patterns=(regex,))
    assert (match.qc_item, match.sample_code) == (QcItem.DUPLICATE, "TS2")
    # A regex must match the whole label.
    assert not _one("TS2 dup again", patterns=(regex,)).is_matched


def test_lab_patterns_come_first_in_their_order_and_before_sample_ids() -> None:
    first = LabelPattern("TS", MatchKind.PREFIX, QcItem.LCS)
    second = LabelPattern("TS1", MatchKind.EXACT, QcItem.CCV)
    assert _one("TS1", patterns=(first, second)).qc_item is QcItem.LCS
    assert _one("TS1", patterns=(second, first)).qc_item is QcItem.CCV


def test_a_crm_pattern_may_name_its_reference_material() -> None:
    pattern = LabelPattern("NIST 610", MatchKind.EXACT, QcItem.CRM, reference_material_id=42)
    assert _one("NIST 610", patterns=(pattern,)).reference_material_id == 42


def test_invalid_lab_patterns_are_refused_clearly() -> None:
    with pytest.raises(PatternError, match="invalid regular expression"):
        LabelPattern("CCV(", MatchKind.REGEX, QcItem.CCV)
    with pytest.raises(PatternError, match="named groups"):
        LabelPattern(r"(?P<lot>\d+)", MatchKind.REGEX, QcItem.CRM)
    with pytest.raises(PatternError, match="empty"):
        LabelPattern("  ", MatchKind.EXACT, QcItem.CCV)


def test_unmatched_labels_are_counted_in_run_order_and_repeats_are_normal() -> None:
    labels = [AcquisitionLabel("0")] * 3 + [AcquisitionLabel("X9"), AcquisitionLabel(" 0 "), AcquisitionLabel("TS1")]
    report = match_acquisitions(labels, sample_codes={"TS1"})
    assert report.unmatched == {"0": 4, "X9": 1}
    assert list(report.unmatched) == ["0", "X9"]
    assert (report.sample_acquisitions, report.matched_samples, report.qc_items) == (1, 1, 0)


def test_report_counts() -> None:
    labels = [
        AcquisitionLabel("0", "CalBlk"),
        AcquisitionLabel("Traces 1 ppb", "CalStd"),
        AcquisitionLabel("TS1", "Sample"),
        AcquisitionLabel("TS1", "Sample"),
        AcquisitionLabel("TS2", "Sample"),
        AcquisitionLabel("DUP TS2", "Sample"),
        AcquisitionLabel("CCV", "Sample"),
        AcquisitionLabel("0", "Sample"),
    ]
    report = match_acquisitions(labels, sample_codes={"TS1", "TS2"})
    assert report.sample_acquisitions == 3
    assert report.matched_samples == 2
    assert report.qc_items == 4
    assert report.unmatched == {"0": 1}


def test_normalise_label() -> None:
    assert normalise_label("  ab-1 ") == "AB-1"


def test_the_defaults_cover_the_documented_names() -> None:
    items = {pattern.qc_item for pattern in DEFAULT_PATTERNS}
    assert items == {
        QcItem.LOW_LEVEL_CHECK,
        QcItem.ICV,
        QcItem.CCV,
        QcItem.CCB,
        QcItem.METHOD_BLANK,
        QcItem.LCS,
        QcItem.CRM,
        QcItem.DUPLICATE,
        QcItem.SPIKE,
    }


_labels = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.lists(st.tuples(_labels, st.sampled_from(["", "Sample", "CalBlk", "CalStd", "QC"])), max_size=30))
def test_every_acquisition_is_matched_or_counted_never_dropped(rows: list[tuple[str, str]]) -> None:
    labels = [AcquisitionLabel(label, kind) for label, kind in rows]
    report = match_acquisitions(labels, sample_codes=SAMPLES)
    assert len(report.matches) == len(labels)
    matched = sum(1 for match in report.matches if match.is_matched)
    assert matched + sum(report.unmatched.values()) == len(labels)
    for label, match in zip(labels, report.matches, strict=True):
        if match.is_sample:
            assert match.sample_code == normalise_label(label.label)


_LAB_PATTERNS = (
    LabelPattern(r"RPT[\s_]+(?P<sample>.+)", MatchKind.REGEX, QcItem.DUPLICATE, source="lab"),
    LabelPattern("DUP", MatchKind.PREFIX, QcItem.CCV, source="lab"),
)
_qc_words = st.sampled_from(["DUP ", "SPK ", "dup_", "RPT ", "CCV", "CRM ", "ICV", ""])


@given(st.lists(st.tuples(_qc_words, _labels, st.sampled_from(["", "Sample", "CalBlk", "QC"])), max_size=30), st.booleans())
def test_parent_labels_hold_every_parent_the_matching_names(rows: list[tuple[str, str, str]], lab: bool) -> None:
    # The import reads the samples a batch may name from this set before matching the batch.
    labels = [AcquisitionLabel(word + label, kind) for word, label, kind in rows]
    patterns = _LAB_PATTERNS if lab else ()
    named = {match.parent_label for match in match_acquisitions(labels, sample_codes=(), patterns=patterns).matches if match.parent_label}
    assert named <= parent_labels(labels, patterns=patterns)


def test_parent_labels_are_those_of_duplicates_and_spikes_only() -> None:
    labels = [AcquisitionLabel(text, "") for text in ("DUP TS1", "SPK-TS2", "CRM OREAS 465", "TS3", "CCV 2")]
    assert parent_labels(labels) == {"TS1", "TS2"}
    # Whatever the label's own match: a vendor type decides this one, and its parent is still read.
    assert parent_labels([AcquisitionLabel("DUP TS4", "CalBlk")]) == {"TS4"}
