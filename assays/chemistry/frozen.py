"""A faster ``__init__`` for the frozen, slotted dataclasses an assessment makes by the hundred thousand.

PURE: no Django, no database. A frozen dataclass's generated ``__init__`` sets each field through
``object.__setattr__`` (to get past its own refusal), which is two thirds of the cost of making one;
a reassessment makes a ``LineJudgement``, a ``LotStatistics`` and a ``LineOutcome`` per line of every
lot. ``init_through_slots`` gives such a class an ``__init__`` with the same parameters (names,
order, defaults) that sets the fields through the slots' own descriptors, which is what
``object.__setattr__`` does for a slot. The instances stay frozen to everyone else.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

_C = TypeVar("_C", bound=type)


def init_through_slots(cls: _C) -> _C:
    """Replace the ``__init__`` of a frozen, slotted dataclass (applied above ``@dataclass``)."""
    fields = dataclasses.fields(cls)
    if not (cls.__dataclass_params__.frozen and "__slots__" in cls.__dict__):  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: init_through_slots is for frozen dataclasses with slots")
    if any(field.default_factory is not dataclasses.MISSING or not field.init for field in fields):
        raise TypeError(f"{cls.__name__}: init_through_slots takes plain fields with plain defaults only")
    namespace: dict[str, Any] = {}
    parameters, body = [], []
    for field in fields:
        namespace[f"_set_{field.name}"] = cls.__dict__[field.name].__set__
        if field.default is dataclasses.MISSING:
            parameters.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            parameters.append(f"{field.name}=_default_{field.name}")
        body.append(f"    _set_{field.name}(self, {field.name})")
    # Written as source and compiled, as dataclasses writes its own __init__: a loop over the
    # setters at each call costs more than the object.__setattr__ calls it would replace.
    source = f"def __init__(self, {', '.join(parameters)}):\n" + "\n".join(body) + "\n"
    exec(source, namespace)  # noqa: S102 (the source is made here from the class's own field names)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    return cls
