"""Conformity of one result with one specification limit, and of a lot with all its lines.

PURE: no Django, no database. REO-ASSAY.md §3 and §5 (ISO/IEC 17025:2017 7.8.6, ILAC G8,
ASTM E29 / GB/T 8170):

* a limit is met at the limit itself: a minimum passes when value >= limit, a maximum when
  value <= limit;
* each line names its **comparison method**: ``absolute`` compares the unrounded value,
  ``rounding`` first rounds the value (half to even) to the limit's last written digit. At 4N
  purity this decides the verdict: 99.98951 % against "99.99" fails absolutely and passes by
  rounding;
* each line names its **decision rule**: ``simple`` acceptance compares the value with the limit;
  ``guard_band`` (ILAC G8, with the expanded uncertainty U) passes when value ± U lies inside the
  limit, fails when value ∓ U lies outside, and is otherwise inconclusive. A guard band compares
  the unrounded value, so a guard-band line with the rounding method is refused when the
  specification is validated (``validate_line_rule``), not discovered at judgement time;
* a censored result ("< LOD") against a maximum passes when the LOD is at or below the limit
  (every value it may hide is too), whatever the rule; above the limit it is **not
  determinable**: the measurement cannot tell. A lot with a not-determinable line is
  inconclusive, never conforming.

Numbers are compared as exact Decimals (floats through their shortest form, ``exact_decimal``),
so a value equal to its limit as written is seen as equal.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from enum import StrEnum
from typing import TypeVar

from assays.chemistry.frozen import init_through_slots
from assays.chemistry.rounding import (
    Number,
    check_places,
    exact_decimal,
    format_decimal,
    limit_decimal,
    limit_places,
    round_exact_half_even,
    with_unit,
)
from assays.errors import DomainError

_E = TypeVar("_E", bound=StrEnum)


class DecisionError(DomainError):
    """A line that cannot be judged as asked: guard band without U, guard band with rounding..."""


class Bound(StrEnum):
    MIN = "min"
    MAX = "max"


class Comparison(StrEnum):
    ABSOLUTE = "absolute"  # compare the unrounded value
    ROUNDING = "rounding"  # round the value to the limit's last written digit, then compare


class DecisionRule(StrEnum):
    SIMPLE = "simple"  # simple acceptance: the value against the limit
    GUARD_BAND = "guard_band"  # ILAC G8: value ± U against the limit, three states


class Verdict(StrEnum):
    PASS = "pass"  # noqa: S105 (a verdict, not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # guard band: the limit lies within value ± U
    NOT_DETERMINABLE = "not_determinable"  # censored result whose LOD is above a maximum


class LotStatus(StrEnum):
    """What ``combine`` decides; the same values as the assessment status in the models.

    ``insufficient_data`` (a required analyte missing) is decided by the caller before any line is
    judged, and ``no_verdict`` belongs to reports of analysis; neither comes out of ``combine``.
    """

    CONFORMING = "conforming"
    OFF_SPEC = "off_spec"
    INCONCLUSIVE = "inconclusive"


@init_through_slots
@dataclass(frozen=True, slots=True)
class LineJudgement:
    """The verdict of one line and what it was based on, for the certificate and the audit trail.

    ``compared_value`` is the number actually compared with the limit: the value rounded to the
    limit's last digit for the rounding method, the exact value otherwise, and the LOD for a
    censored result against a maximum. ``reason`` says it in plain English.
    """

    verdict: Verdict
    compared_value: Decimal
    limit: Decimal
    bound: Bound
    comparison: Comparison
    rule: DecisionRule
    expanded_uncertainty: Decimal | None
    reason: str
    censored: bool = False


def validate_line_rule(*, comparison: Comparison | str, rule: DecisionRule | str) -> None:
    """Refuse a combination of comparison method and decision rule that has no meaning.

    A guard band is built from the unrounded value and its uncertainty (REO-ASSAY.md §5): rounding
    the value first would move it by up to half a digit of the limit, which U does not cover.
    Called when a specification is validated, and again by ``judge_line``.
    """
    method = _member(Comparison, comparison, "comparison method")
    decision_rule = _member(DecisionRule, rule, "decision rule")
    if decision_rule is DecisionRule.GUARD_BAND and method is not Comparison.ABSOLUTE:
        raise DecisionError(
            "a guard-band line must use the absolute comparison method (the unrounded value against the limit), not the rounding method"
        )


def judge_line(
    *,
    value: float | Decimal,
    limit: Decimal | str,
    bound: Bound | str,
    comparison: Comparison | str,
    rule: DecisionRule | str,
    expanded_uncertainty: float | Decimal | None = None,
    censored: bool = False,
    lod: float | Decimal | None = None,
    unit: str = "",
) -> LineJudgement:
    """The verdict of one result against one limit of a specification line.

    ``comparison`` and ``rule`` have no defaults: every specification line states both (7.8.6
    requires the decision rule to be named) and a default would decide silently for a line that
    forgot to.

    ``censored`` with ``bound`` MAX: ``value`` is ignored and ``lod`` decides (required). The line
    passes when the LOD, compared by the line's method (rounded to the limit's digit for the
    rounding method: rounding never moves a smaller number above a larger one), is at or below
    the limit, whatever the rule; otherwise it is not determinable. U is not needed then.

    ``censored`` with ``bound`` MIN (unusual: a minimum on something below its detection limit):
    ``value`` is judged as given, so the caller passes the value of the censoring convention it
    applies (0, LOD/2 or LOD; for a worst case against a minimum, 0). The judgement says so.

    Guard band: U is required and must be >= 0; with U = 0 it is simple acceptance by the
    absolute method.
    """
    return limit_judge(limit=limit, bound=bound, comparison=comparison, rule=rule, unit=unit).judge(
        value, expanded_uncertainty, censored=censored, lod=lod
    )


def limit_judge(
    *, limit: Decimal | str, bound: Bound | str, comparison: Comparison | str, rule: DecisionRule | str, unit: str = ""
) -> LimitJudge:
    """What judging against one limit needs, worked out once: ``judge_line`` without the per-value
    work, for a caller that judges many values against the same limit (a reassessment judges a
    line of every lot). The same checks as ``judge_line``, which is this and ``LimitJudge.judge``."""
    # The cache is keyed by the limit's text: Decimal("99.9") == Decimal("99.90"), but they round
    # to different digits. A Decimal's str keeps its exponent; a float is refused here.
    text = limit if isinstance(limit, str) else str(limit_decimal(limit))
    return _limit_judge(text, _member(Bound, bound, "bound"), _member(Comparison, comparison, "comparison method"),
                        _member(DecisionRule, rule, "decision rule"), unit)  # fmt: skip


# Cached: a lot assessment judges every line of every lot, against the same few limits; what a
# limit is (its Decimal, its last digit, its wording) is worked out once per line.
@functools.lru_cache(maxsize=1024)
def _limit_judge(limit: str, bound: Bound, comparison: Comparison, rule: DecisionRule, unit: str) -> LimitJudge:
    validate_line_rule(comparison=comparison, rule=rule)
    limit_number = limit_decimal(limit)
    places = limit_places(limit_number)
    if comparison is Comparison.ROUNDING:
        check_places(places)  # the digit the rounding method rounds to: checked once, not at every rounding
    name = "minimum" if bound is Bound.MIN else "maximum"
    return LimitJudge(bound, comparison, rule, limit_number, places, unit, f"the {name} {_show(limit_number, unit)}")


def combine(verdicts: Iterable[Verdict | str]) -> LotStatus:
    """The status of a lot from the verdicts of its lines.

    Any fail -> off_spec (a definite failure outweighs lines that could not be decided); else any
    inconclusive or not determinable -> inconclusive: a line the measurement could not decide
    makes the lot inconclusive, never conforming (REO-ASSAY.md §5); else conforming.

    No verdicts at all is refused: a lot judged on nothing is not conforming, and which status it
    has instead (insufficient data, report of analysis) is the caller's decision.
    """
    seen = {_member(Verdict, verdict, "verdict") for verdict in verdicts}
    if not seen:
        raise DecisionError("no line verdicts to combine into a lot status")
    if Verdict.FAIL in seen:
        return LotStatus.OFF_SPEC
    if Verdict.INCONCLUSIVE in seen or Verdict.NOT_DETERMINABLE in seen:
        return LotStatus.INCONCLUSIVE
    return LotStatus.CONFORMING


@dataclass(frozen=True, slots=True)
class LimitJudge:
    """One limit of a specification line, worked out (``limit_judge``): judges values against it."""

    bound: Bound
    comparison: Comparison
    rule: DecisionRule
    limit: Decimal
    places: int  # of the limit's last written digit
    unit: str
    limit_text: str  # "the minimum 99.9 %"

    def judge(
        self,
        value: float | Decimal,
        expanded_uncertainty: float | Decimal | None = None,
        *,
        censored: bool = False,
        lod: float | Decimal | None = None,
    ) -> LineJudgement:
        """The verdict of ``value`` against this limit: ``judge_line``'s (see there)."""
        number = _exact(value, "value")
        uncertainty = None if expanded_uncertainty is None else _exact(expanded_uncertainty, "expanded uncertainty")
        if uncertainty is not None and uncertainty < 0:
            raise DecisionError(f"an expanded uncertainty cannot be negative ({expanded_uncertainty!r})")
        if censored and self.bound is Bound.MAX:
            if lod is None:
                raise DecisionError("a censored result needs its LOD to be judged against a maximum")
            return _judge_censored_against_maximum(self, _exact(lod, "LOD"), uncertainty)
        if self.rule is DecisionRule.GUARD_BAND:
            if uncertainty is None:
                raise DecisionError("a guard-band line needs the expanded uncertainty U of the result")
            judgement = _judge_guard_band(self, number, uncertainty)
        else:
            judgement = _judge_simple(self, number, uncertainty)
        if censored:
            note = f"; censored result judged at the value given ({_show(number, self.unit)}, the caller's censoring convention)"
            return _replace_reason(judgement, judgement.reason + note, censored=True)
        return judgement

    def judgement(
        self, verdict: Verdict, compared: Decimal, reason: str, uncertainty: Decimal | None, *, censored: bool = False
    ) -> LineJudgement:
        return LineJudgement(verdict, compared, self.limit, self.bound, self.comparison, self.rule, uncertainty, reason, censored)


def _within(line: LimitJudge, number: Decimal) -> bool:
    # At the limit passes, for both bounds.
    return number >= line.limit if line.bound is Bound.MIN else number <= line.limit


def _judge_simple(line: LimitJudge, number: Decimal, uncertainty: Decimal | None) -> LineJudgement:
    compared = round_exact_half_even(number, places=line.places) if line.comparison is Comparison.ROUNDING else number
    passed = _within(line, compared)
    verdict = Verdict.PASS if passed else Verdict.FAIL
    relation = _relation(line.bound, passed=passed)
    shown = _show(number, line.unit)
    if line.comparison is Comparison.ROUNDING:
        shown = f"{shown} rounded to {_show(compared, line.unit)}"
    return line.judgement(verdict, compared, f"{shown} {relation} {line.limit_text}: {verdict.value}", uncertainty)


def _judge_guard_band(line: LimitJudge, number: Decimal, uncertainty: Decimal) -> LineJudgement:
    low, high = _exact_sum(number, -uncertainty), _exact_sum(number, uncertainty)
    # The end of value ± U nearest the limit decides a pass, the farthest one a fail.
    worst, best = (low, high) if line.bound is Bound.MIN else (high, low)
    interval = f"{_show(number, line.unit)} ± U {_show(uncertainty, line.unit)} = [{format_decimal(low)}, {format_decimal(high)}]"
    if _within(line, worst):
        verdict = Verdict.PASS
        reason = f"{interval} lies inside {line.limit_text}: pass"
    elif not _within(line, best):
        verdict = Verdict.FAIL
        reason = f"{interval} lies outside {line.limit_text}: fail"
    else:
        verdict = Verdict.INCONCLUSIVE
        reason = f"{interval} contains {line.limit_text}: inconclusive"
    return line.judgement(verdict, number, reason, uncertainty)


def _judge_censored_against_maximum(line: LimitJudge, lod: Decimal, uncertainty: Decimal | None) -> LineJudgement:
    if lod < 0:
        raise DecisionError(f"a detection limit cannot be negative ({format_decimal(lod)})")
    compared = round_exact_half_even(lod, places=line.places) if line.comparison is Comparison.ROUNDING else lod
    shown = f"< LOD {_show(lod, line.unit)}"
    if line.comparison is Comparison.ROUNDING and compared != lod:
        shown = f"{shown} (rounded to the limit's last digit: {_show(compared, line.unit)})"
    if compared <= line.limit:
        return line.judgement(Verdict.PASS, compared, f"{shown} is at or below {line.limit_text}: pass", uncertainty, censored=True)
    reason = f"{shown} is above {line.limit_text}: not determinable"
    return line.judgement(Verdict.NOT_DETERMINABLE, compared, reason, uncertainty, censored=True)


def _relation(bound: Bound, *, passed: bool) -> str:
    if bound is Bound.MIN:
        return ">=" if passed else "<"
    return "<=" if passed else ">"


def _replace_reason(judgement: LineJudgement, reason: str, *, censored: bool) -> LineJudgement:
    return LineJudgement(
        verdict=judgement.verdict,
        compared_value=judgement.compared_value,
        limit=judgement.limit,
        bound=judgement.bound,
        comparison=judgement.comparison,
        rule=judgement.rule,
        expanded_uncertainty=judgement.expanded_uncertainty,
        reason=reason,
        censored=censored,
    )


def _exact_sum(left: Decimal, right: Decimal) -> Decimal:
    # value ± U without the default context's 28-digit rounding: enough digits to span both
    # numbers, so the guard band's ends are exact and a value exactly U inside the limit passes.
    exponents = [number.as_tuple().exponent for number in (left, right)]
    smallest = min(exponent for exponent in exponents if isinstance(exponent, int))
    largest = max(left.adjusted(), right.adjusted())
    with localcontext(Context(prec=max(largest - smallest + 2, 1))):
        return left + right


def _exact(number: Number, name: str) -> Decimal:
    if isinstance(number, str):
        # Text is for limits, written as the specification has them; a result is a number.
        raise DecisionError(f"the {name} must be a number, not the text {number!r}")
    return exact_decimal(number)


def _show(number: Decimal, unit: str) -> str:
    return with_unit(format_decimal(number), unit)


def _member(kind: type[_E], given: _E | str, name: str) -> _E:
    if type(given) is kind:  # the common case, with no lookup: every line of every lot comes here
        return given
    # Text as a specification stores it: the enum's own table of values, without Enum.__call__'s
    # machinery (an assessment judges every line of every lot).
    member = kind._value2member_map_.get(given) if isinstance(given, str) else None
    if member is not None:
        return member  # type: ignore[return-value]  # the table holds members of ``kind``
    try:
        return kind(given)
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise DecisionError(f"unknown {name} {given!r}; known: {known}") from None
