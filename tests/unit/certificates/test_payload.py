"""The certificate payload (REO-ASSAY.md §5 to §7): strict parsing with the field named, numbers
rounded once per §5, deterministic JSON. Pure: no database, no rendering."""

from __future__ import annotations

import copy
import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest

from assays.certificates.example import example_payload
from assays.certificates.payload import (
    CertificatePayload,
    PayloadError,
    censored_text,
    payload_from_mapping,
    payload_to_dict,
    payload_to_json,
    result_row,
    result_texts,
    validate_payload,
)


def _broken(change: Any) -> dict[str, Any]:
    payload = copy.deepcopy(example_payload())
    change(payload)
    return payload


def _field_error(payload: dict[str, Any]) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        payload_from_mapping(payload)
    return caught.value


def test_the_example_parses_into_typed_dataclasses() -> None:
    payload = payload_from_mapping(example_payload())
    assert isinstance(payload, CertificatePayload)
    assert payload.number == "COA-2026-0001"
    assert payload.results[3].censored
    assert payload.results[3].result == "< LOD 0.50"
    assert payload.provenance.feedstocks[0].share_percent == "62.5"
    assert payload.issued.isoformat() == "2026-05-04T09:15:00+00:00"


@pytest.mark.parametrize(
    ("path", "remove"),
    [
        ("number", lambda p: p.pop("number")),
        ("lot.code", lambda p: p["lot"].pop("code")),
        ("results[1].verdict", lambda p: p["results"][1].pop("verdict")),
        ("provenance.seller_declaration", lambda p: p["provenance"].pop("seller_declaration")),
        ("signatures[0].meaning", lambda p: p["signatures"][0].pop("meaning")),
        ("verification_url", lambda p: p.pop("verification_url")),
    ],
)
def test_a_missing_field_is_refused_by_name(path: str, remove: Any) -> None:
    error = _field_error(_broken(remove))
    assert error.field == path
    assert str(error) == f"certificate payload: {path}: missing"


@pytest.mark.parametrize(
    ("path", "change", "words"),
    [
        ("revision", lambda p: p.update(revision="0"), "expected a whole number, got text"),
        ("revision", lambda p: p.update(revision=True), "expected a whole number, got a boolean"),
        ("summary.n_samples", lambda p: p["summary"].update(n_samples=-1), "must not be negative"),
        ("results[0].result", lambda p: p["results"][0].update(result=99.62), "expected text, got the number 99.62"),
        ("results[0].accredited", lambda p: p["results"][0].update(accredited="yes"), "expected true or false"),
        ("samples", lambda p: p.update(samples={"code": "S1"}), "expected a list, got an object"),
        ("customer", lambda p: p.update(customer="Magnetwerk"), "expected an object, got text"),
        ("lot.code", lambda p: p["lot"].update(code="  "), "must not be empty"),
        ("lot.produced_on", lambda p: p["lot"].update(produced_on="28.04.2026"), "not a date"),
        ("issued_at", lambda p: p.update(issued_at="2026-05-04T09:15:00"), "not a UTC time"),
        ("analysis_dates[2]", lambda p: p["analysis_dates"].append("yesterday"), "not a date"),
        ("lab.name", lambda p: p["lab"].update(name="Lab\x00"), "control character U+0000"),
        ("verification_url", lambda p: p.update(verification_url="javascript:alert(1)"), "http(s) URL"),
        ("kind", lambda p: p.update(kind="invoice"), "must be one of certificate, report"),
        ("schema", lambda p: p.update(schema=2), "prints schema 1"),
        ("results", lambda p: p.update(results=[]), "at least one quantity"),
        ("signatures", lambda p: p.update(signatures=[]), "at least one signature"),
        ("concession", lambda p: p.update(concession=" "), "states its reason"),
    ],
)
def test_a_wrong_field_is_refused_by_name(path: str, change: Any, words: str) -> None:
    error = _field_error(_broken(change))
    assert error.field == path
    assert words in error.problem


def test_an_unknown_field_is_refused_so_template_and_payload_cannot_drift() -> None:
    error = _field_error(_broken(lambda p: p["lot"].update(colour="grey")))
    assert (error.field, error.problem) == ("lot.colour", "unexpected field")
    assert _field_error(_broken(lambda p: p.update(extra=1))).field == "extra"


def test_a_censored_row_must_read_less_than_lod_without_u() -> None:
    error = _field_error(_broken(lambda p: p["results"][3].update(result="0.25")))
    assert error.field == "results[3].result"
    assert "< LOD" in error.problem
    error = _field_error(_broken(lambda p: p["results"][3].update(uncertainty="0.1")))
    assert error.field == "results[3].result"


def test_a_report_of_analysis_states_no_verdict_and_no_concession() -> None:
    report = example_payload(kind="report", number="ROA-2026-0007")
    assert all(row["verdict"] == "" for row in report["results"])
    report["results"][0]["verdict"] = "pass"
    assert _field_error(report).field == "results[0].verdict"
    report = example_payload(kind="report", number="ROA-2026-0007")
    report["concession"] = "customer agreed"
    assert _field_error(report).field == "concession"


def test_a_revision_names_what_it_supersedes() -> None:
    assert payload_from_mapping(example_payload(revision=1)).supersedes is not None
    without = example_payload(revision=1)
    without["supersedes"] = None
    assert _field_error(without).field == "supersedes"
    first = example_payload()
    first["supersedes"] = example_payload(revision=1)["supersedes"]
    assert _field_error(first).field == "supersedes"
    backwards = example_payload(revision=2)
    backwards["supersedes"]["revision"] = 2
    assert _field_error(backwards).field == "supersedes.revision"
    assert _field_error(_broken(lambda p: p.update(revision=1, supersedes={"number": "COA-2026-0001", "revision": 0}))).field == (
        "supersedes.change"
    )


def test_result_texts_round_u_to_two_figures_and_the_value_to_its_place_half_even() -> None:
    assert result_texts(value=99.6237, expanded_uncertainty=0.1184) == ("99.62", "0.12")
    # An exact 5 rounds to even (ASTM E29), for U and for the value: 6.25 -> 6.2, 42.45 -> 42.4.
    assert result_texts(value=42.45, expanded_uncertainty=6.25) == ("42.4", "6.2")
    assert result_texts(value=1234.5, expanded_uncertainty=86.25) == ("1234", "86")
    # U carrying into a new digit: 0.0996 -> 0.10, the value to two places.
    assert result_texts(value=Decimal("12.3456"), expanded_uncertainty=Decimal("0.0996")) == ("12.35", "0.10")
    # No U: the value as given, unrounded (the caller says to which place).
    assert result_texts(value="99.9", expanded_uncertainty=None) == ("99.9", "")


def test_censored_results_show_less_than_the_lod_to_two_figures() -> None:
    assert censored_text(0.4987) == "< LOD 0.50"
    assert censored_text(Decimal("12.5")) == "< LOD 12"
    assert censored_text(None) == "< LOD"
    row = result_row(quantity="Dy2O3", unit="mg/kg", value=None, expanded_uncertainty=None, censored=True, lod=0.021)
    assert (row.result, row.uncertainty, row.censored) == ("< LOD 0.021", "", True)
    with pytest.raises(PayloadError, match="needs a value"):
        result_row(quantity="Fe2O3", unit="mg/kg", value=None, expanded_uncertainty=None)


def test_json_is_deterministic_sorted_and_round_trips() -> None:
    payload = example_payload()
    shuffled = dict(reversed(list(payload.items())))
    text = payload_to_json(payload)
    assert payload_to_json(shuffled) == text
    assert text.endswith("}\n")
    assert "≥ 99.5" in text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert payload_to_json(payload_from_mapping(data)) == text
    assert payload_to_dict(payload_from_mapping(data)) == data


def test_a_dataclass_built_in_python_is_checked_like_json() -> None:
    good = payload_from_mapping(example_payload())
    assert validate_payload(good) == good
    bad_row = dataclasses.replace(good.results[0], result=99.62)
    bad = dataclasses.replace(good, results=(bad_row, *good.results[1:]))
    with pytest.raises(PayloadError) as caught:
        validate_payload(bad)
    assert caught.value.field == "results[0].result"
    with pytest.raises(PayloadError, match="expected an object"):
        validate_payload([1, 2])
