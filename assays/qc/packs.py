"""Rule packs: which QC checks a method's runs must pass, with their windows and frequencies.

A pack is data: a TOML text (the shipped ones are in ``rule_packs/``; a lab admin's edit is a new
version stored in the database). Each table names one check; a check whose table is absent is not
applied. ``required = true`` means the run must contain the QC item: a required item the run lacks
is a failed check of its own, stated as such (domain doc §4). ``judges_results = false`` (the
``none`` pack) means results count as entered and the run says so.

Windows are recoveries in percent, inclusive at both ends: 90-110 % passes at 90.0 and at 110.0.
"""

from __future__ import annotations

import enum
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assays.errors import DomainError

SHIPPED_PACKS_DIR = Path(__file__).resolve().parent / "rule_packs"


class RulePackError(DomainError):
    """A rule pack that cannot be used, with the table and key at fault."""


class CheckKind(enum.StrEnum):
    """Every kind of check a run can be judged by, in the order the QC panel lists them."""

    CALIBRATION_CORRELATION = "calibration_correlation"
    CALIBRATION_STANDARD = "calibration_standard"
    ICV = "icv"
    LOW_LEVEL_CHECK = "low_level_check"
    CCV = "ccv"
    CCV_FREQUENCY = "ccv_frequency"
    CCB = "ccb"
    METHOD_BLANK = "method_blank"
    LCS = "lcs"
    MATRIX_SPIKE = "matrix_spike"
    DUPLICATE = "duplicate"
    INTERNAL_STANDARD = "internal_standard"
    CRM = "crm"
    OVER_RANGE = "over_range"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    CheckKind.CALIBRATION_CORRELATION: "Calibration correlation",
    CheckKind.CALIBRATION_STANDARD: "Calibration standard recovery",
    CheckKind.ICV: "ICV recovery",
    CheckKind.LOW_LEVEL_CHECK: "Low-level check recovery",
    CheckKind.CCV: "CCV recovery",
    CheckKind.CCV_FREQUENCY: "CCV frequency",
    CheckKind.CCB: "Calibration blank (CCB)",
    CheckKind.METHOD_BLANK: "Method blank",
    CheckKind.LCS: "LCS recovery",
    CheckKind.MATRIX_SPIKE: "Matrix spike recovery",
    CheckKind.DUPLICATE: "Duplicate RPD",
    CheckKind.INTERNAL_STANDARD: "Internal standard recovery",
    CheckKind.CRM: "CRM recovery",
    CheckKind.OVER_RANGE: "Over range",
}

# The tables a pack may hold, and the keys each accepts beyond ``required``.
_RECOVERY_KINDS = {CheckKind.ICV, CheckKind.LOW_LEVEL_CHECK, CheckKind.CCV, CheckKind.LCS, CheckKind.CRM, CheckKind.INTERNAL_STANDARD}
_KEYS: dict[CheckKind, set[str]] = {
    CheckKind.CALIBRATION_CORRELATION: {"min_r"},
    CheckKind.CALIBRATION_STANDARD: {"window", "lowest_level_window"},
    CheckKind.ICV: {"window"},
    CheckKind.LOW_LEVEL_CHECK: {"window"},
    CheckKind.CCV: {"window", "every_samples", "at_end"},
    CheckKind.CCB: {"limit"},
    CheckKind.METHOD_BLANK: {"limit"},
    CheckKind.LCS: {"window"},
    CheckKind.MATRIX_SPIKE: {"window", "max_background_ratio"},
    CheckKind.DUPLICATE: {"max_rpd", "min_loq_multiple"},
    CheckKind.INTERNAL_STANDARD: {"window"},
    CheckKind.CRM: {"window"},
    CheckKind.OVER_RANGE: set(),
}
_WINDOW_KEYS = {"window", "lowest_level_window"}
_TOP_LEVEL = {"code", "title", "reference", "judges_results"}


class BlankLimit(enum.StrEnum):
    LOQ = "loq"
    HALF_LOQ = "half_loq"

    def of(self, loq: float) -> float:
        return loq / 2 if self is BlankLimit.HALF_LOQ else loq


def at_limit(value: float, limit: float) -> bool:
    """Equal to the limit but for the rounding error of the arithmetic that computed it."""
    return math.isclose(value, limit, rel_tol=1e-9)


@dataclass(frozen=True, slots=True)
class Window:
    """An inclusive range, in percent for recoveries."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        # A recovery is computed (measured / expected * 100), and 11.0 of 10.0 comes out as
        # 110.00000000000001: a value within float error of a limit is at the limit, so inside.
        return (self.low <= value or at_limit(value, self.low)) and (value <= self.high or at_limit(value, self.high))

    def __str__(self) -> str:
        return f"{self.low:g}-{self.high:g} %"


@dataclass(frozen=True, slots=True)
class CheckRule:
    kind: CheckKind
    required: bool = False
    window: Window | None = None
    lowest_level_window: Window | None = None  # calibration standards: the lowest non-blank level
    every_samples: int | None = None  # CCV: at most this many samples between two checks
    at_end: bool = False  # CCV: a check must follow the last sample
    blank_limit: BlankLimit = BlankLimit.LOQ
    min_r: float | None = None
    max_rpd: float | None = None
    min_loq_multiple: float = 5.0
    max_background_ratio: float | None = None


@dataclass(frozen=True, slots=True)
class RulePack:
    code: str
    title: str
    reference: str = ""
    judges_results: bool = True
    rules: Mapping[CheckKind, CheckRule] = field(default_factory=dict)

    def rule(self, kind: CheckKind) -> CheckRule | None:
        return self.rules.get(kind)

    def as_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready form (stored beside the source text, shown on the run page)."""
        rules: dict[str, Any] = {}
        for kind, rule in self.rules.items():
            entry: dict[str, Any] = {"required": rule.required}
            for name in ("window", "lowest_level_window"):
                window = getattr(rule, name)
                if window is not None:
                    entry[name] = [window.low, window.high]
            for name in ("every_samples", "min_r", "max_rpd", "max_background_ratio"):
                if getattr(rule, name) is not None:
                    entry[name] = getattr(rule, name)
            if rule.at_end:
                entry["at_end"] = True
            if kind in {CheckKind.CCB, CheckKind.METHOD_BLANK}:
                entry["limit"] = rule.blank_limit.value
            if kind is CheckKind.DUPLICATE:
                entry["min_loq_multiple"] = rule.min_loq_multiple
            rules[kind.value] = entry
        return {"code": self.code, "title": self.title, "reference": self.reference, "judges_results": self.judges_results, "checks": rules}


def parse_rule_pack(text: str, *, source: str = "rule pack") -> RulePack:
    """Read and validate a pack's TOML text; every mistake names the table and key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RulePackError(f"{source}: not valid TOML: {error}") from error
    for key, value in data.items():
        if key not in _TOP_LEVEL and not isinstance(value, dict):
            raise RulePackError(f"{source}: unknown key {key!r} (known: {', '.join(sorted(_TOP_LEVEL))}, and one table per check)")
    code = data.get("code")
    if not isinstance(code, str) or not code.strip() or code != code.strip() or " " in code:
        raise RulePackError(f"{source}: 'code' must be a short name without spaces, e.g. \"epa-200.8\"")
    title = data.get("title", code)
    reference = data.get("reference", "")
    judges = data.get("judges_results", True)
    if not isinstance(title, str) or not isinstance(reference, str):
        raise RulePackError(f"{source}: 'title' and 'reference' must be text")
    if not isinstance(judges, bool):
        raise RulePackError(f"{source}: 'judges_results' must be true or false")
    rules: dict[CheckKind, CheckRule] = {}
    for key, table in data.items():
        if not isinstance(table, dict):
            continue
        try:
            kind = CheckKind(key)
        except ValueError:
            known = ", ".join(k.value for k in _KEYS)
            raise RulePackError(f"{source}: unknown check [{key}] (known: {known})") from None
        if kind not in _KEYS:
            raise RulePackError(f"{source}: [{key}] is derived from [ccv], not a table of its own")
        rules[kind] = _rule(kind, table, source=source)
    if not judges and rules:
        raise RulePackError(f"{source}: a pack with judges_results = false cannot name checks")
    return RulePack(code=code, title=title, reference=reference, judges_results=judges, rules=rules)


def _rule(kind: CheckKind, table: dict[str, Any], *, source: str) -> CheckRule:
    where = f"{source}: [{kind.value}]"
    unknown = set(table) - _KEYS[kind] - {"required"}
    if unknown:
        allowed = ", ".join(sorted(_KEYS[kind] | {"required"}))
        raise RulePackError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {allowed})")
    required = table.get("required", False)
    if not isinstance(required, bool):
        raise RulePackError(f"{where} required: must be true or false")
    values: dict[str, Any] = {"kind": kind, "required": required}
    for name in _WINDOW_KEYS & set(table):
        values[name] = _window(table[name], where=f"{where} {name}")
    needs_window = kind in _RECOVERY_KINDS or kind in {CheckKind.CALIBRATION_STANDARD, CheckKind.MATRIX_SPIKE}
    if needs_window and "window" not in values:
        raise RulePackError(f"{where}: needs a window, e.g. window = [90, 110]")
    if "every_samples" in table:
        every = table["every_samples"]
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise RulePackError(f"{where} every_samples: must be a whole number of samples >= 1")
        values["every_samples"] = every
    if "at_end" in table:
        if not isinstance(table["at_end"], bool):
            raise RulePackError(f"{where} at_end: must be true or false")
        values["at_end"] = table["at_end"]
    if "limit" in table:
        try:
            values["blank_limit"] = BlankLimit(table["limit"])
        except ValueError:
            raise RulePackError(f'{where} limit: must be "loq" or "half_loq"') from None
    if kind is CheckKind.CALIBRATION_CORRELATION:
        values["min_r"] = _number(table.get("min_r"), where=f"{where} min_r", low=0.0, high=1.0)
    if kind is CheckKind.DUPLICATE:
        values["max_rpd"] = _number(table.get("max_rpd"), where=f"{where} max_rpd", low=0.0)
        if "min_loq_multiple" in table:
            values["min_loq_multiple"] = _number(table["min_loq_multiple"], where=f"{where} min_loq_multiple", low=0.0)
    if "max_background_ratio" in table:
        values["max_background_ratio"] = _number(table["max_background_ratio"], where=f"{where} max_background_ratio", low=0.0)
    return CheckRule(**values)


def _number(value: object, *, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RulePackError(f"{where}: must be a number")
    number = float(value)
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else f">= {low:g}"
        raise RulePackError(f"{where}: must be {bounds}, not {number:g}")
    return number


def _window(value: object, *, where: str) -> Window:
    if not isinstance(value, list) or len(value) != 2:
        raise RulePackError(f"{where}: must be [low, high] in percent, e.g. [90, 110]")
    low = _number(value[0], where=where, low=0.0)
    high = _number(value[1], where=where, low=0.0)
    if low > high:
        raise RulePackError(f"{where}: low ({low:g}) is above high ({high:g})")
    return Window(low, high)


def shipped_pack_texts() -> dict[str, str]:
    """The packs shipped with the code, by code: what a fresh installation loads."""
    texts: dict[str, str] = {}
    for path in sorted(SHIPPED_PACKS_DIR.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        pack = parse_rule_pack(text, source=path.name)
        if pack.code in texts:
            raise RulePackError(f"{path.name}: a second pack with code {pack.code!r}")
        texts[pack.code] = text
    return texts
