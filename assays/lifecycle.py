"""The lot state machine of DESIGN.md, pure. Only ``assays.services.lots`` applies it."""

from __future__ import annotations

from types import MappingProxyType

from assays.errors import DomainError

OPEN, ASSESSED, ON_HOLD, RELEASED, REJECTED = "open", "assessed", "on_hold", "released", "rejected"

# open: registered, collecting results. assessed: latest assessment conforming. on_hold: off-spec,
# inconclusive or insufficient data, with an open flag. released: a certificate or report issued.
# rejected: a QA decision, final. Released goes back on hold only when its certificate is revoked.
ALLOWED_TRANSITIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        OPEN: frozenset({ASSESSED, ON_HOLD}),
        ASSESSED: frozenset({ON_HOLD, RELEASED}),
        ON_HOLD: frozenset({ASSESSED, REJECTED}),
        RELEASED: frozenset({ON_HOLD}),
        REJECTED: frozenset(),
    }
)


class IllegalTransitionError(DomainError, ValueError):
    """A state change the lot state machine does not allow."""

    def __init__(self, *, current: str, requested: str) -> None:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS.get(current, frozenset()))) or "none: it is final"
        super().__init__(f"a lot in state '{current}' cannot become '{requested}' (allowed: {allowed})")
        self.current = current
        self.requested = requested


def check_transition(*, current: str, requested: str) -> None:
    if requested not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(current=current, requested=requested)
