"""Specifications as data: the JSON a QA manager writes, validated into frozen dataclasses.

A specification file holds one specification object or a list of them (docs/specifications.md)::

    {"product": "ND2O3", "name": "...", "grade": "4N", "source": "GB/T 5240-1992 Table 2, Nd2O3-04",
     "main": ["Nd"], "basis": "as_received",
     "lines": [{"quantity": "relative_purity", "min": "99.99", "unit": "%"},
               {"quantity": "oxide", "element": "Fe", "oxide": "Fe2O3", "max": "0.0005", "unit": "%"}]}

Limits are strings of decimal digits as written: the rounding method compares at the limit's last
written digit (domain doc §5), and a JSON number would lose it (99.90 reads as 99.9), so a number
is refused. Every problem is reported at once, each naming the file and the field's path
(``lines[3].min``; ``[1].lines[3].min`` in a file holding a list).

The canonical form (defaults filled in, keys sorted, no whitespace) and its SHA-256 recognise a
specification loaded twice, whatever the key order or layout of the file. The canonical form is
itself a valid specification object.

Pure: no Django. The database references (the product, the Oxide rows) are checked by
``assays.services.specifications``.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from assays.chemistry.elements import ELEMENTS
from assays.chemistry.oxides import parse_oxide
from assays.errors import DomainError

CATALOGUE_DIR = Path(__file__).resolve().parent / "spec_catalogue"


class Quantity(enum.StrEnum):
    """What a line limits; the same values as ``assays.models.SpecQuantity``."""

    OXIDE = "oxide"
    ELEMENT = "element"
    SUM_RE_IMPURITIES = "sum_re_impurities"
    SUM_NON_RE = "sum_non_re"
    TREO = "treo"
    RELATIVE_PURITY = "relative_purity"
    MAIN_OXIDE = "main_oxide"
    RATIO = "ratio"
    LOI = "loi"
    ANION = "anion"


class Comparison(enum.StrEnum):
    """The "method" of a line: compare the unrounded value, or round it to the limit's last digit."""

    ABSOLUTE = "absolute"
    ROUNDING = "rounding"


class DecisionRule(enum.StrEnum):
    SIMPLE = "simple"
    GUARD_BAND = "guard_band"


class Unit(enum.StrEnum):
    PERCENT = "%"
    MG_KG = "mg/kg"


class Basis(enum.StrEnum):
    AS_RECEIVED = "as_received"
    IGNITED = "ignited"


LOI = "LOI"
ANIONS: tuple[str, ...] = ("Cl-", "SO4 2-")
# Beyond La-Lu and Y, what a specification may count towards TREO (domain doc §2).
TREO_EXTRAS: tuple[str, ...] = ("Sc", "Th", "U")

# The field lengths of the database columns, so a long text is a clear error here, not a database one.
MAX_PRODUCT = 32
MAX_NAME = 200
MAX_GRADE = 40
MAX_SOURCE = 200
MAX_LIMIT = 32

_PERCENT_ONLY = frozenset({Unit.PERCENT})
_EITHER_UNIT = frozenset({Unit.PERCENT, Unit.MG_KG})
UNITS_BY_QUANTITY: Mapping[Quantity, frozenset[Unit]] = {
    Quantity.RELATIVE_PURITY: _PERCENT_ONLY,
    Quantity.TREO: _PERCENT_ONLY,
    Quantity.MAIN_OXIDE: _PERCENT_ONLY,
    Quantity.RATIO: _PERCENT_ONLY,
    Quantity.LOI: _PERCENT_ONLY,
    Quantity.OXIDE: _EITHER_UNIT,
    Quantity.ELEMENT: _EITHER_UNIT,
    Quantity.ANION: _EITHER_UNIT,
    Quantity.SUM_RE_IMPURITIES: _EITHER_UNIT,
    Quantity.SUM_NON_RE: _EITHER_UNIT,
}
# The quantities computed from the main component set: meaningless without one (a feedstock).
NEEDS_MAIN = frozenset({Quantity.RELATIVE_PURITY, Quantity.MAIN_OXIDE, Quantity.SUM_RE_IMPURITIES})

_SPEC_REQUIRED = ("product", "source", "main", "basis", "lines")
_SPEC_OPTIONAL = ("name", "grade", "effective_from", "treo_also_counts", "required_analytes")
_LINE_COMMON = ("quantity", "min", "max", "unit", "method", "rule", "source")
# The keys that name what a line is about, by quantity; all of them are required where allowed.
_LINE_TARGET_KEYS: Mapping[Quantity, tuple[str, ...]] = {
    Quantity.OXIDE: ("element", "oxide"),
    Quantity.ELEMENT: ("element",),
    Quantity.RATIO: ("oxides",),
    Quantity.ANION: ("anion",),
}
_ALL_TARGET_KEYS = ("element", "oxide", "oxides", "anion")

_DECIMAL = re.compile(r"\d+(?:\.\d+)?")
_LIMIT_CEILING = {Unit.PERCENT: Decimal(100), Unit.MG_KG: Decimal(1_000_000)}


class SpecError(DomainError):
    """A specification that cannot be loaded: every problem, each with the file and the field's path."""

    def __init__(self, file_name: str, problems: Sequence[tuple[str, str]]) -> None:
        self.file_name = file_name
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        super().__init__("\n".join(f"{file_name}: {path}: {message}" if path else f"{file_name}: {message}" for path, message in problems))


@dataclass(frozen=True, slots=True)
class SpecLine:
    """One line as loaded: defaults filled in, ``source`` inherited from the specification when the
    line names none. ``minimum``/``maximum`` are the limits as written; both None: report only."""

    quantity: Quantity
    unit: Unit
    comparison: Comparison
    rule: DecisionRule
    source: str
    minimum: str | None = None
    maximum: str | None = None
    element: str | None = None
    oxide: str | None = None
    ratio_oxides: tuple[str, ...] = ()
    anion: str | None = None

    @property
    def report_only(self) -> bool:
        """No limit: the value is reported without a verdict (a feedstock's payable content)."""
        return self.minimum is None and self.maximum is None

    @property
    def target(self) -> str:
        """What the line is about, for messages: ``Fe2O3``, ``Pr6O11+Nd2O3 / TREO``, ``Cl-``, ``treo``."""
        if self.quantity == Quantity.RATIO:
            return f"{'+'.join(self.ratio_oxides)} / TREO"
        return self.oxide or self.element or self.anion or self.quantity.value

    def canonical(self) -> dict[str, Any]:
        """The line as a specification file writes it, every default made explicit."""
        data: dict[str, Any] = {
            "quantity": self.quantity.value,
            "unit": self.unit.value,
            "method": self.comparison.value,
            "rule": self.rule.value,
            "source": self.source,
        }
        if self.minimum is not None:
            data["min"] = self.minimum
        if self.maximum is not None:
            data["max"] = self.maximum
        if self.element is not None:
            data["element"] = self.element
        if self.oxide is not None:
            data["oxide"] = self.oxide
        if self.quantity == Quantity.RATIO:
            data["oxides"] = list(self.ratio_oxides)
        if self.anion is not None:
            data["anion"] = self.anion
        return data


@dataclass(frozen=True, slots=True)
class SpecDefinition:
    """A validated specification, ready to be stored as a new version of its product's specification."""

    product: str
    source: str
    main: tuple[str, ...]
    basis: Basis
    lines: tuple[SpecLine, ...]
    required_analytes: tuple[str, ...]
    name: str = ""
    grade: str = ""
    treo_also_counts: tuple[str, ...] = ()
    effective_from: dt.date | None = None
    # The oxide formulas the lines name (line oxides and ratio oxides), for the database look-up.
    oxide_formulas: tuple[str, ...] = field(default=(), compare=False)

    def canonical(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "product": self.product,
            "name": self.name,
            "grade": self.grade,
            "source": self.source,
            "main": list(self.main),
            "basis": self.basis.value,
            "treo_also_counts": list(self.treo_also_counts),
            "required_analytes": list(self.required_analytes),
            "lines": [line.canonical() for line in self.lines],
        }
        if self.effective_from is not None:
            data["effective_from"] = self.effective_from.isoformat()
        return data

    def canonical_json(self) -> str:
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def content_sha256(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


# --- Reading JSON ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _WrittenNumber:
    """A JSON number, kept as written so that the message can quote it."""

    text: str


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it held twice (json keeps the last one silently)."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    result = _JsonObject()
    seen: list[str] = []
    for key, value in pairs:
        if key in result and key not in seen:
            seen.append(key)
        result[key] = value
    result.duplicates = tuple(seen)
    return result


def _decode(data: bytes | str, *, file_name: str) -> Any:
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    try:
        return json.loads(
            text,
            object_pairs_hook=_object_pairs,
            parse_float=_WrittenNumber,
            parse_int=_WrittenNumber,
            parse_constant=_WrittenNumber,
        )
    except json.JSONDecodeError as error:
        raise SpecError(file_name, [("", f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})")]) from error


def parse_spec_file(data: bytes | str, *, file_name: str) -> tuple[SpecDefinition, ...]:
    """Every specification of a file (one object, or a list of them); all problems at once."""
    try:
        document = _decode(data, file_name=file_name)
    except UnicodeDecodeError as error:
        raise SpecError(file_name, [("", f"not UTF-8 text ({error.reason} at byte {error.start})")]) from error
    if isinstance(document, Mapping):
        return (parse_spec(document, file_name=file_name),)
    if not isinstance(document, list):
        raise SpecError(file_name, [("", "a specification file holds one specification object or a list of them")])
    if not document:
        raise SpecError(file_name, [("", "the list holds no specification")])
    problems: list[tuple[str, str]] = []
    specs: list[SpecDefinition] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(document):
        where = f"[{index}]"
        parser = _Parser(where)
        spec = parser.spec(item)
        problems += parser.problems
        if spec is None:
            continue
        if spec.product in first_index:
            problems.append((f"{where}.product", f"{spec.product} is also specified at [{first_index[spec.product]}]: one per file"))
            continue
        first_index[spec.product] = index
        specs.append(spec)
    if problems:
        raise SpecError(file_name, problems)
    return tuple(specs)


def parse_spec(data: Mapping[str, Any] | bytes | str, *, file_name: str) -> SpecDefinition:
    """One specification: a decoded JSON object, or the bytes of a file holding exactly one."""
    if isinstance(data, bytes | str):
        specs = parse_spec_file(data, file_name=file_name)
        if len(specs) != 1:
            raise SpecError(file_name, [("", f"holds {len(specs)} specifications; load one at a time here (or use manage.py load_specs)")])
        return specs[0]
    parser = _Parser("")
    spec = parser.spec(data)
    if parser.problems or spec is None:
        raise SpecError(file_name, parser.problems or [("", "not a specification")])
    return spec


def catalogue_files() -> tuple[Path, ...]:
    """The shipped specification files, one per product family."""
    return tuple(sorted(CATALOGUE_DIR.glob("*.json")))


def catalogue() -> dict[str, tuple[str, SpecDefinition]]:
    """Every shipped specification by product code, with the file it comes from (``spec_catalogue/x.json``)."""
    specs: dict[str, tuple[str, SpecDefinition]] = {}
    for path in catalogue_files():
        file_name = f"{CATALOGUE_DIR.name}/{path.name}"
        for spec in parse_spec_file(path.read_bytes(), file_name=file_name):
            if spec.product in specs:
                raise SpecError(file_name, [("product", f"{spec.product} is also in {specs[spec.product][0]}")])
            specs[spec.product] = (file_name, spec)
    return specs


# --- Validation --------------------------------------------------------------------------------


def _child(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _describe(value: Any) -> str:
    if isinstance(value, _WrittenNumber):
        return f"the number {value.text}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, _WrittenNumber | int | float | Decimal) and not isinstance(value, bool)


class _Parser:
    """Collects every problem, each with its path; returns None for a part that is invalid."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[tuple[str, str]] = []

    def path(self, *parts: str) -> str:
        text = self.where
        for part in parts:
            text = f"{text}{part}" if part.startswith("[") or not text else f"{text}.{part}"
        return text

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def _keys(self, data: Mapping[str, Any], *, prefix: str, known: Iterable[str], required: Iterable[str]) -> None:
        """Unknown, repeated and missing keys of one object; ``prefix`` is the object's own path."""
        known_keys = tuple(known)
        for key in getattr(data, "duplicates", ()):
            self.problem(_child(prefix, key), f"{key!r} is given twice")
        for key in data:
            if key not in known_keys:
                self.problem(_child(prefix, key), f"unknown key {key!r} (known: {', '.join(known_keys)})")
        for key in required:
            if key not in data:
                self.problem(_child(prefix, key), "missing")

    def text(self, value: Any, *, path: str, max_length: int, required: bool) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be a text, not {_describe(value)}")
            return None
        text = value.strip()
        if required and not text:
            self.problem(path, "must not be empty")
            return None
        if len(text) > max_length:
            self.problem(path, f"is {len(text)} characters long; at most {max_length}")
            return None
        return text

    def choice(self, value: Any, *, path: str, choices: type[enum.StrEnum]) -> Any:
        allowed = [member.value for member in choices]
        if not isinstance(value, str) or value not in allowed:
            self.problem(path, f"{_describe(value)} is not one of {', '.join(repr(a) for a in allowed)}")
            return None
        return choices(value)

    def string_list(self, value: Any, *, path: str) -> list[str] | None:
        if not isinstance(value, list):
            self.problem(path, f"must be a list of texts, not {_describe(value)}")
            return None
        good = True
        seen: set[str] = set()
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(f"{path}[{index}]", f"must be a text, not {_describe(item)}")
                good = False
            elif item in seen:
                self.problem(f"{path}[{index}]", f"{item!r} is listed twice")
                good = False
            else:
                seen.add(item)
        return list(value) if good else None

    def element_symbol(self, value: Any, *, path: str) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"must be an element symbol, not {_describe(value)}")
            return None
        if value not in ELEMENTS:
            self.problem(path, f"{value!r} is not a known element symbol")
            return None
        return value

    def oxide_formula(self, value: Any, *, path: str) -> tuple[str, str] | None:
        """(formula, its metal) or None; a formula that does not parse has no oxide factor."""
        if not isinstance(value, str):
            self.problem(path, f"must be an oxide formula such as 'Fe2O3', not {_describe(value)}")
            return None
        try:
            parsed = parse_oxide(value)
        except ValueError as error:
            self.problem(path, f"{error}: no oxide factor can be computed from it")
            return None
        return parsed.formula, parsed.element

    def limit(self, value: Any, *, path: str) -> str | None:
        if _is_number(value):
            written = value.text if isinstance(value, _WrittenNumber) else repr(value)
            self.problem(
                path,
                f'write the limit as a string ("{written}"), not a JSON number: a number loses its written digits '
                "(99.90 would read as 99.9), and the rounding method compares at the limit's last digit",
            )
            return None
        if not isinstance(value, str):
            self.problem(path, f'must be a decimal number written as a string, such as "99.9", not {_describe(value)}')
            return None
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            self.problem(path, f'{value!r} is not a decimal number such as "99.9" or "0.0005" (digits, at most one point, no sign)')
            return None
        if len(text) > MAX_LIMIT:
            self.problem(path, f"is {len(text)} characters long; at most {MAX_LIMIT}")
            return None
        return text

    # -- the specification --------------------------------------------------------------------

    def spec(self, data: Any) -> SpecDefinition | None:
        if not isinstance(data, Mapping):
            self.problem(self.where, f"a specification is a JSON object, not {_describe(data)}")
            return None
        start = len(self.problems)
        self._keys(data, prefix=self.where, known=(*_SPEC_REQUIRED, *_SPEC_OPTIONAL), required=_SPEC_REQUIRED)
        product = (
            self.text(data["product"], path=self.path("product"), max_length=MAX_PRODUCT, required=True) if "product" in data else None
        )
        source = self.text(data["source"], path=self.path("source"), max_length=MAX_SOURCE, required=True) if "source" in data else None
        name = self.text(data.get("name", ""), path=self.path("name"), max_length=MAX_NAME, required=False)
        grade = self.text(data.get("grade", ""), path=self.path("grade"), max_length=MAX_GRADE, required=False)
        basis = self.choice(data["basis"], path=self.path("basis"), choices=Basis) if "basis" in data else None
        effective_from = self._date(data["effective_from"], path=self.path("effective_from")) if "effective_from" in data else None
        main = self._main(data["main"]) if "main" in data else None
        treo_also_counts = self._treo_also_counts(data.get("treo_also_counts", []))
        lines = self._lines(data["lines"], main=main, default_source=source or "") if "lines" in data else None
        required_analytes = (
            self._required_analytes(data.get("required_analytes"), lines=lines, basis=basis)
            if lines is not None and basis is not None
            else None
        )
        # A part that is None was reported; the checks also narrow the types.
        if len(self.problems) > start or product is None or source is None or name is None or grade is None or basis is None:
            return None
        if main is None or lines is None or treo_also_counts is None or required_analytes is None:
            return None
        formulas: list[str] = []
        for line in lines:
            for formula in (line.oxide, *line.ratio_oxides):
                if formula is not None and formula not in formulas:
                    formulas.append(formula)
        return SpecDefinition(
            product=product,
            name=name,
            grade=grade,
            source=source,
            main=tuple(main),
            basis=basis,
            treo_also_counts=tuple(treo_also_counts),
            required_analytes=tuple(required_analytes),
            effective_from=effective_from,
            lines=tuple(lines),
            oxide_formulas=tuple(formulas),
        )

    def _date(self, value: Any, *, path: str) -> dt.date | None:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.problem(path, f'{_describe(value)} is not a date written "YYYY-MM-DD"')
        return None

    def _main(self, value: Any) -> list[str] | None:
        path = self.path("main")
        symbols = self.string_list(value, path=path)
        if symbols is None:
            return None
        good = True
        for index, symbol in enumerate(symbols):
            if self.element_symbol(symbol, path=f"{path}[{index}]") is None:
                good = False
            elif not ELEMENTS[symbol].is_rare_earth:
                self.problem(f"{path}[{index}]", f"{symbol} is not a rare earth: the main component set is made of rare earths")
                good = False
        return symbols if good else None

    def _treo_also_counts(self, value: Any) -> list[str] | None:
        path = self.path("treo_also_counts")
        symbols = self.string_list(value, path=path)
        if symbols is None:
            return None
        good = True
        for index, symbol in enumerate(symbols):
            if symbol not in TREO_EXTRAS:
                self.problem(
                    f"{path}[{index}]", f"{symbol!r}: only {', '.join(TREO_EXTRAS)} may be added to TREO (La-Lu and Y always count)"
                )
                good = False
        return symbols if good else None

    def _lines(self, value: Any, *, main: Sequence[str] | None, default_source: str) -> list[SpecLine] | None:
        path = self.path("lines")
        if not isinstance(value, list):
            self.problem(path, f"must be a list of lines, not {_describe(value)}")
            return None
        if not value:
            self.problem(path, "a specification has at least one line")
            return None
        lines: list[SpecLine | None] = [
            self._line(item, index=index, main=main, default_source=default_source) for index, item in enumerate(value)
        ]
        valid = [line for line in lines if line is not None]
        if len(valid) != len(lines):
            return None
        first: dict[tuple[Any, ...], int] = {}
        for index, line in enumerate(valid):
            key = (line.quantity, line.element, line.oxide, tuple(sorted(line.ratio_oxides)), line.anion)
            if key in first:
                self.problem(self.path("lines", f"[{index}]"), f"repeats lines[{first[key]}] ({line.target}): one line per quantity")
            else:
                first[key] = index
        return valid

    def _line(self, data: Any, *, index: int, main: Sequence[str] | None, default_source: str) -> SpecLine | None:
        base = f"lines[{index}]"

        def at(key: str) -> str:
            return self.path(base, key)

        if not isinstance(data, Mapping):
            self.problem(self.path(base), f"a line is a JSON object, not {_describe(data)}")
            return None
        start = len(self.problems)
        quantity = self.choice(data["quantity"], path=at("quantity"), choices=Quantity) if "quantity" in data else None
        # With an unknown quantity, only the keys no line may have are refused.
        targets = _LINE_TARGET_KEYS.get(quantity, ()) if quantity is not None else _ALL_TARGET_KEYS
        required = ("quantity", "unit", *(key for key in targets if quantity is not None and key != "oxide"))
        self._keys(data, prefix=self.path(base), known=(*_LINE_COMMON, *targets), required=required)
        # (An invalid main set was reported already: None here.)
        if quantity is not None and quantity in NEEDS_MAIN and main is not None and not main:
            self.problem(at("quantity"), f"a {quantity.value} line needs the main component set ('main'), which is empty")
        unit = self.choice(data["unit"], path=at("unit"), choices=Unit) if "unit" in data else None
        if quantity is not None and unit is not None and unit not in UNITS_BY_QUANTITY[quantity]:
            allowed = " or ".join(repr(u.value) for u in sorted(UNITS_BY_QUANTITY[quantity]))
            self.problem(at("unit"), f"a {quantity.value} line is in {allowed}, not {unit.value!r}")
        minimum = self.limit(data["min"], path=at("min")) if "min" in data else None
        maximum = self.limit(data["max"], path=at("max")) if "max" in data else None
        for key, limit in (("min", minimum), ("max", maximum)):
            if limit is not None and unit is not None and Decimal(limit) > _LIMIT_CEILING[unit]:
                self.problem(at(key), f"{limit} {unit.value} is more than the whole sample ({_LIMIT_CEILING[unit]} {unit.value})")
        if minimum is not None and maximum is not None and Decimal(minimum) > Decimal(maximum):
            self.problem(at("min"), f"the minimum {minimum} is above the maximum {maximum}")
        rule = self.choice(data["rule"], path=at("rule"), choices=DecisionRule) if "rule" in data else DecisionRule.SIMPLE
        # A guard band compares the unrounded value (domain doc §5): it is the default there.
        default_method = Comparison.ABSOLUTE if rule == DecisionRule.GUARD_BAND else Comparison.ROUNDING
        comparison = self.choice(data["method"], path=at("method"), choices=Comparison) if "method" in data else default_method
        if rule == DecisionRule.GUARD_BAND and comparison == Comparison.ROUNDING:
            self.problem(at("method"), "a guard_band line compares the unrounded value: its method is 'absolute'")
        source = self.text(data["source"], path=at("source"), max_length=MAX_SOURCE, required=True) if "source" in data else default_source

        element = oxide = anion = None
        ratio_oxides: tuple[str, ...] = ()
        if quantity in (Quantity.OXIDE, Quantity.ELEMENT) and "element" in data:
            element = self.element_symbol(data["element"], path=at("element"))
        if quantity == Quantity.OXIDE and "oxide" in data:
            parsed = self.oxide_formula(data["oxide"], path=at("oxide"))
            if parsed is not None:
                oxide, metal = parsed
                if element is not None and metal != element:
                    self.problem(at("oxide"), f"{oxide} is an oxide of {metal}, not of {element}")
        if quantity == Quantity.OXIDE and "oxide" not in data:
            self.problem(
                at("oxide"), "missing: an oxide line names the oxide its element is reported as (without one there is no oxide factor)"
            )
        if quantity == Quantity.RATIO and "oxides" in data:
            ratio_oxides = self._ratio_oxides(data["oxides"], path=at("oxides")) or ()
        if quantity == Quantity.ANION and "anion" in data:
            if data["anion"] in ANIONS:
                anion = data["anion"]
            else:
                self.problem(at("anion"), f"{_describe(data['anion'])} is not one of {', '.join(repr(a) for a in ANIONS)}")
        if len(self.problems) > start or quantity is None or unit is None or rule is None or comparison is None or source is None:
            return None
        return SpecLine(
            quantity=quantity,
            unit=unit,
            comparison=comparison,
            rule=rule,
            source=source,
            minimum=minimum,
            maximum=maximum,
            element=element,
            oxide=oxide,
            ratio_oxides=ratio_oxides,
            anion=anion,
        )

    def _ratio_oxides(self, value: Any, *, path: str) -> tuple[str, ...] | None:
        formulas = self.string_list(value, path=path)
        if formulas is None:
            return None
        if not formulas:
            self.problem(path, "a ratio line names at least one oxide (the numerator; the denominator is TREO)")
            return None
        good = True
        metals: dict[str, int] = {}
        for index, formula in enumerate(formulas):
            parsed = self.oxide_formula(formula, path=f"{path}[{index}]")
            if parsed is None:
                good = False
                continue
            metal = parsed[1]
            if not ELEMENTS[metal].is_rare_earth:
                self.problem(f"{path}[{index}]", f"{formula} is not a rare-earth oxide: a ratio is a share of TREO")
                good = False
            elif metal in metals:
                self.problem(f"{path}[{index}]", f"{metal} is already in the ratio as {formulas[metals[metal]]}")
                good = False
            else:
                metals[metal] = index
        return tuple(formulas) if good else None

    def _required_analytes(self, value: Any, *, lines: Sequence[SpecLine], basis: Basis) -> list[str] | None:
        named = analytes_named(lines, basis=basis)
        if value is None:
            return named
        path = self.path("required_analytes")
        analytes = self.string_list(value, path=path)
        if analytes is None:
            return None
        good = True
        for index, analyte in enumerate(analytes):
            if analyte not in ELEMENTS and analyte != LOI and analyte not in ANIONS:
                self.problem(f"{path}[{index}]", f"{analyte!r} is neither an element symbol nor {LOI!r} nor an anion ({', '.join(ANIONS)})")
                good = False
        missing = [analyte for analyte in named if analyte not in analytes]
        if missing:
            why = " (an ignited basis divides by 1 - LOI)" if basis == Basis.IGNITED and LOI in missing else ""
            self.problem(path, f"leaves out {', '.join(missing)}, which the lines need{why}")
            good = False
        return analytes if good else None


def analytes_named(lines: Iterable[SpecLine], *, basis: Basis) -> list[str]:
    """The default required analytes: the elements the lines name (an element or oxide line's
    element, a ratio's oxides' elements), LOI for a loi line or an ignited basis, each anion line's
    anion; in the order the lines name them."""
    named: list[str] = []

    def add(analyte: str) -> None:
        if analyte not in named:
            named.append(analyte)

    for line in lines:
        if line.element is not None:
            add(line.element)
        for formula in line.ratio_oxides:
            add(parse_oxide(formula).element)
        if line.quantity == Quantity.LOI:
            add(LOI)
        if line.anion is not None:
            add(line.anion)
    if basis == Basis.IGNITED:
        add(LOI)
    return named
