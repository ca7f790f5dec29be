"""``init_through_slots``: the same constructor as the dataclass's, the instance as frozen."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from assays.chemistry.frozen import init_through_slots


@dataclasses.dataclass(frozen=True, slots=True)
class Generated:
    value: float
    label: str
    count: int = 3
    note: str | None = None


@init_through_slots
@dataclasses.dataclass(frozen=True, slots=True)
class Fast:
    value: float
    label: str
    count: int = 3
    note: str | None = None


def test_the_constructor_takes_what_the_dataclass_takes_and_makes_the_same_instance() -> None:
    assert list(inspect.signature(Fast).parameters) == list(inspect.signature(Generated).parameters)
    for args, kwargs in (((1.5, "a"), {}), ((1.5, "a", 7), {}), ((1.5,), {"label": "b", "note": "n"}), ((), {"value": 2.0, "label": "c"})):
        fast, generated = Fast(*args, **kwargs), Generated(*args, **kwargs)
        assert dataclasses.astuple(fast) == dataclasses.astuple(generated)
    assert Fast(1.5, "a") == Fast(1.5, "a", 3, None)
    assert hash(Fast(1.5, "a")) == hash(Fast(1.5, "a"))


def test_the_instance_stays_frozen_and_a_missing_argument_is_refused() -> None:
    made = Fast(1.5, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.value = 2.0
    with pytest.raises(TypeError, match="label"):
        Fast(1.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword"):
        Fast(1.5, "a", colour="red")  # type: ignore[call-arg]


def test_a_class_it_cannot_serve_is_refused() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        value: float

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        values: list[float] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="frozen dataclasses with slots"):
        init_through_slots(Mutable)
    with pytest.raises(TypeError, match="plain fields"):
        init_through_slots(WithFactory)
