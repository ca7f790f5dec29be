"""Rule packs: the shipped TOML files, validation messages that name the table and key, as_dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assays.qc import packs
from assays.qc.packs import (
    SHIPPED_PACKS_DIR,
    BlankLimit,
    CheckKind,
    CheckRule,
    RulePack,
    RulePackError,
    Window,
    parse_rule_pack,
    shipped_pack_texts,
)

SHIPPED_FILES = sorted(SHIPPED_PACKS_DIR.glob("*.toml"))


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(element) for element in value) + "]"
    raise TypeError(value)


def _toml_from_dict(data: dict[str, Any]) -> str:
    """Writes as_dict() back as a pack text (tomllib reads only)."""
    lines = [f"{key} = {_toml_value(data[key])}" for key in ("code", "title", "reference", "judges_results")]
    for kind, entry in data["checks"].items():
        lines.append(f"[{kind}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
    return "\n".join(lines) + "\n"


# --- Shipped packs ---------------------------------------------------------------------------------


def test_the_four_shipped_packs_are_there() -> None:
    assert {path.stem for path in SHIPPED_FILES} == {"epa-200.8", "epa-6020b", "none", "plant-default"}


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.name)
def test_every_shipped_pack_parses_and_is_named_by_its_file(path: Path) -> None:
    pack = parse_rule_pack(path.read_text(encoding="utf-8"), source=path.name)
    assert pack.code == path.stem
    assert pack.title
    if pack.judges_results:
        assert CheckKind.CCV in pack.rules
        assert CheckKind.OVER_RANGE in pack.rules
    else:
        assert pack.rules == {}


def test_shipped_pack_texts_are_keyed_by_code_and_hold_the_file_text() -> None:
    texts = shipped_pack_texts()
    assert set(texts) == {path.stem for path in SHIPPED_FILES}
    for path in SHIPPED_FILES:
        assert texts[path.stem] == path.read_text(encoding="utf-8")


def test_epa_200_8_holds_the_domain_doc_defaults() -> None:
    pack = parse_rule_pack(shipped_pack_texts()["epa-200.8"])
    ccv = pack.rule(CheckKind.CCV)
    assert ccv == CheckRule(kind=CheckKind.CCV, required=True, window=Window(90.0, 110.0), every_samples=10, at_end=True)
    assert pack.rules[CheckKind.LCS].window == Window(85.0, 115.0)
    assert pack.rules[CheckKind.MATRIX_SPIKE].window == Window(70.0, 130.0)
    assert pack.rules[CheckKind.MATRIX_SPIKE].max_background_ratio == 4.0
    assert pack.rules[CheckKind.DUPLICATE].max_rpd == 20.0
    assert pack.rules[CheckKind.DUPLICATE].min_loq_multiple == 5.0
    assert pack.rules[CheckKind.INTERNAL_STANDARD].window == Window(60.0, 125.0)
    assert pack.rules[CheckKind.CALIBRATION_CORRELATION].min_r == 0.998
    assert pack.rules[CheckKind.CCB].blank_limit is BlankLimit.LOQ
    assert pack.rule(CheckKind.LOW_LEVEL_CHECK) is None


def test_epa_6020b_differs_from_200_8_where_the_methods_differ() -> None:
    pack = parse_rule_pack(shipped_pack_texts()["epa-6020b"])
    assert pack.rules[CheckKind.LCS].window == Window(80.0, 120.0)
    assert pack.rules[CheckKind.MATRIX_SPIKE].window == Window(75.0, 125.0)
    assert pack.rules[CheckKind.INTERNAL_STANDARD].window == Window(70.0, 120.0)


def test_none_pack_does_not_judge_results() -> None:
    pack = parse_rule_pack(shipped_pack_texts()["none"])
    assert pack.judges_results is False
    assert pack.rules == {}


def test_a_second_pack_with_the_same_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.toml").write_text('code = "same"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('code = "same"\n', encoding="utf-8")
    monkeypatch.setattr(packs, "SHIPPED_PACKS_DIR", tmp_path)
    with pytest.raises(RulePackError, match=r"b\.toml: a second pack with code 'same'"):
        shipped_pack_texts()


# --- Parsing: defaults -------------------------------------------------------------------------------


def test_a_minimal_pack_takes_the_defaults() -> None:
    pack = parse_rule_pack('code = "mini"\n[ccb]\n[duplicate]\nmax_rpd = 15\n')
    assert pack.title == "mini"
    assert pack.reference == ""
    assert pack.judges_results is True
    assert pack.rules[CheckKind.CCB] == CheckRule(kind=CheckKind.CCB, required=False, blank_limit=BlankLimit.LOQ)
    duplicate = pack.rules[CheckKind.DUPLICATE]
    assert (duplicate.max_rpd, duplicate.min_loq_multiple, duplicate.required) == (15.0, 5.0, False)


def test_a_check_whose_table_is_absent_is_not_applied() -> None:
    pack = parse_rule_pack('code = "x"\n[icv]\nwindow = [90, 110]\n')
    assert set(pack.rules) == {CheckKind.ICV}
    assert pack.rule(CheckKind.CCV) is None


def test_half_loq_limit_and_integer_windows_become_floats() -> None:
    pack = parse_rule_pack('code = "x"\n[method_blank]\nlimit = "half_loq"\n[lcs]\nwindow = [85, 115]\n')
    assert pack.rules[CheckKind.METHOD_BLANK].blank_limit is BlankLimit.HALF_LOQ
    window = pack.rules[CheckKind.LCS].window
    assert window == Window(85.0, 115.0)
    assert window is not None
    assert isinstance(window.low, float)


def test_blank_limit_of_a_loq() -> None:
    assert BlankLimit.LOQ.of(0.4) == 0.4
    assert BlankLimit.HALF_LOQ.of(0.4) == 0.2


def test_window_is_inclusive_at_both_ends() -> None:
    window = Window(90.0, 110.0)
    assert window.contains(90.0)
    assert window.contains(110.0)
    assert window.contains(100.0)
    assert not window.contains(89.99)
    assert not window.contains(110.01)
    assert not window.contains(float("nan"))
    assert str(window) == "90-110 %"


def test_window_counts_a_computed_recovery_at_the_limit_as_inside() -> None:
    # 11.0 of 10.0 in floating point is 110.00000000000001 %: still exactly 110 %.
    assert 11.0 / 10.0 * 100.0 > 110.0
    assert Window(90.0, 110.0).contains(11.0 / 10.0 * 100.0)
    assert Window(90.0, 110.0).contains(0.09234900000000001 / 0.10261 * 100.0)  # 89.99999999999999-ish
    assert not Window(90.0, 110.0).contains(110.000001)


# --- Parsing: errors name the table and the key ------------------------------------------------------

ERRORS: list[tuple[str, str, tuple[str, ...]]] = [
    ("invalid toml", 'code = "x"\n[ccv\nwindow = [90, 110]\n', ("not valid TOML",)),
    ("missing code", "[icv]\nwindow = [90, 110]\n", ("'code'",)),
    ("empty code", 'code = ""\n', ("'code'",)),
    ("code with a space", 'code = "epa 200.8"\n', ("'code'",)),
    ("code padded", 'code = " epa"\n', ("'code'",)),
    ("code not text", "code = 5\n", ("'code'",)),
    ("title not text", 'code = "x"\ntitle = 5\n', ("'title'",)),
    ("judges_results not a boolean", 'code = "x"\njudges_results = "no"\n', ("'judges_results'",)),
    ("unknown top-level key", 'code = "x"\ncolour = "red"\n', ("unknown key 'colour'",)),
    ("unknown table", 'code = "x"\n[ccv_every]\nwindow = [90, 110]\n', ("unknown check [ccv_every]",)),
    ("derived table", 'code = "x"\n[ccv_frequency]\n', ("[ccv_frequency]", "derived from [ccv]")),
    ("unknown key in a table", 'code = "x"\n[ccv]\nwindow = [90, 110]\nevery = 10\n', ("[ccv]", "every")),
    (
        "key of another table",
        'code = "x"\n[ccv]\nwindow = [90, 110]\nlowest_level_window = [70, 130]\n',
        ("[ccv]", "lowest_level_window"),
    ),
    ("window reversed", 'code = "x"\n[ccv]\nwindow = [110, 90]\n', ("[ccv] window", "low (110) is above high (90)")),
    ("window not a number", 'code = "x"\n[ccv]\nwindow = ["90", 110]\n', ("[ccv] window", "must be a number")),
    ("window a boolean", 'code = "x"\n[icv]\nwindow = [true, 110]\n', ("[icv] window", "must be a number")),
    ("window three items", 'code = "x"\n[ccv]\nwindow = [90, 100, 110]\n', ("[ccv] window", "[low, high]")),
    ("window one number", 'code = "x"\n[lcs]\nwindow = 90\n', ("[lcs] window", "[low, high]")),
    ("window nan", 'code = "x"\n[lcs]\nwindow = [nan, 110]\n', ("[lcs] window", "must be a number")),
    ("window infinite", 'code = "x"\n[lcs]\nwindow = [90, inf]\n', ("[lcs] window", "must be a number")),
    ("window negative", 'code = "x"\n[lcs]\nwindow = [-5, 110]\n', ("[lcs] window", ">= 0")),
    (
        "lowest level window reversed",
        'code = "x"\n[calibration_standard]\nwindow = [90, 110]\nlowest_level_window = [130, 70]\n',
        ("[calibration_standard] lowest_level_window", "above high"),
    ),
    ("window missing", 'code = "x"\n[icv]\nrequired = true\n', ("[icv]", "needs a window")),
    ("spike window missing", 'code = "x"\n[matrix_spike]\n', ("[matrix_spike]", "needs a window")),
    ("every_samples zero", 'code = "x"\n[ccv]\nwindow = [90, 110]\nevery_samples = 0\n', ("[ccv] every_samples",)),
    ("every_samples true", 'code = "x"\n[ccv]\nwindow = [90, 110]\nevery_samples = true\n', ("[ccv] every_samples",)),
    ("every_samples fraction", 'code = "x"\n[ccv]\nwindow = [90, 110]\nevery_samples = 1.5\n', ("[ccv] every_samples",)),
    ("every_samples text", 'code = "x"\n[ccv]\nwindow = [90, 110]\nevery_samples = "10"\n', ("[ccv] every_samples",)),
    ("at_end not a boolean", 'code = "x"\n[ccv]\nwindow = [90, 110]\nat_end = 1\n', ("[ccv] at_end",)),
    ("required not a boolean", 'code = "x"\n[ccb]\nrequired = "yes"\n', ("[ccb] required",)),
    ("unknown blank limit", 'code = "x"\n[ccb]\nlimit = "lod"\n', ("[ccb] limit", "half_loq")),
    ("min_r missing", 'code = "x"\n[calibration_correlation]\n', ("[calibration_correlation] min_r", "must be a number")),
    ("min_r above 1", 'code = "x"\n[calibration_correlation]\nmin_r = 1.5\n', ("[calibration_correlation] min_r", "between 0 and 1")),
    ("max_rpd missing", 'code = "x"\n[duplicate]\n', ("[duplicate] max_rpd",)),
    ("max_rpd negative", 'code = "x"\n[duplicate]\nmax_rpd = -1\n', ("[duplicate] max_rpd", ">= 0")),
    (
        "min_loq_multiple text",
        'code = "x"\n[duplicate]\nmax_rpd = 20\nmin_loq_multiple = "5"\n',
        ("[duplicate] min_loq_multiple", "must be a number"),
    ),
    (
        "max_background_ratio negative",
        'code = "x"\n[matrix_spike]\nwindow = [70, 130]\nmax_background_ratio = -4\n',
        ("[matrix_spike] max_background_ratio",),
    ),
    ("over_range takes no window", 'code = "x"\n[over_range]\nwindow = [0, 100]\n', ("[over_range]", "window")),
    ("array of tables", 'code = "x"\n[[ccv]]\nwindow = [90, 110]\n', ("'ccv'",)),
    (
        "judges_results false with checks",
        'code = "x"\njudges_results = false\n[ccv]\nwindow = [90, 110]\n',
        ("judges_results = false", "cannot name checks"),
    ),
]


@pytest.mark.parametrize(("text", "fragments"), [(text, fragments) for _, text, fragments in ERRORS], ids=[e[0] for e in ERRORS])
def test_a_bad_pack_is_refused_with_the_table_and_key_named(text: str, fragments: tuple[str, ...]) -> None:
    with pytest.raises(RulePackError) as raised:
        parse_rule_pack(text, source="lab.toml")
    message = str(raised.value)
    assert message.startswith("lab.toml: "), message
    for fragment in fragments:
        assert fragment in message, message


# --- as_dict -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda path: path.name)
def test_as_dict_is_json_ready_and_round_trips_to_the_same_pack(path: Path) -> None:
    pack = parse_rule_pack(path.read_text(encoding="utf-8"))
    data = json.loads(json.dumps(pack.as_dict()))
    assert parse_rule_pack(_toml_from_dict(data)) == pack


def test_as_dict_holds_windows_limits_and_frequencies() -> None:
    data = parse_rule_pack(shipped_pack_texts()["plant-default"]).as_dict()
    checks = data["checks"]
    assert data["code"] == "plant-default"
    assert data["judges_results"] is True
    assert checks["calibration_standard"] == {"required": False, "window": [90.0, 110.0], "lowest_level_window": [70.0, 130.0]}
    assert checks["ccv"] == {"required": True, "window": [90.0, 110.0], "every_samples": 10, "at_end": True}
    assert checks["ccb"] == {"required": False, "limit": "loq"}
    assert checks["duplicate"] == {"required": False, "max_rpd": 20.0, "min_loq_multiple": 5.0}
    assert checks["matrix_spike"]["max_background_ratio"] == 4.0
    assert checks["calibration_correlation"] == {"required": True, "min_r": 0.998}
    assert checks["over_range"] == {"required": False}


def test_as_dict_of_a_hand_built_pack() -> None:
    pack = RulePack(
        code="h",
        title="Hand",
        rules={CheckKind.CCB: CheckRule(kind=CheckKind.CCB, required=True, blank_limit=BlankLimit.HALF_LOQ)},
    )
    assert pack.as_dict() == {
        "code": "h",
        "title": "Hand",
        "reference": "",
        "judges_results": True,
        "checks": {"ccb": {"required": True, "limit": "half_loq"}},
    }
