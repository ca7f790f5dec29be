"""The lot state machine of DESIGN.md, checked transition by transition."""

from __future__ import annotations

import itertools

import pytest

from assays.lifecycle import (
    ALLOWED_TRANSITIONS,
    ASSESSED,
    ON_HOLD,
    OPEN,
    REJECTED,
    RELEASED,
    IllegalTransitionError,
    check_transition,
)

STATES = (OPEN, ASSESSED, ON_HOLD, RELEASED, REJECTED)

# Written out from DESIGN.md ("Lot states"), not derived from the code under test.
EXPECTED = {
    (OPEN, ASSESSED),  # latest assessment conforming
    (OPEN, ON_HOLD),  # off-spec, inconclusive or insufficient data
    (ASSESSED, ON_HOLD),  # a later assessment is not conforming, or QA holds it
    (ASSESSED, RELEASED),  # a certificate or report of analysis issued
    (ON_HOLD, ASSESSED),  # the flag is resolved and the lot re-assessed conforming
    (ON_HOLD, REJECTED),  # QA decision
    (RELEASED, ON_HOLD),  # only when a certificate is revoked
}
ALL_PAIRS = list(itertools.product(STATES, STATES))


def test_the_states_are_the_five_of_the_design() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(STATES) == {"open", "assessed", "on_hold", "released", "rejected"}


def test_the_table_is_exactly_the_design() -> None:
    actual = {(current, requested) for current, targets in ALLOWED_TRANSITIONS.items() for requested in targets}
    assert actual == EXPECTED


@pytest.mark.parametrize(("current", "requested"), sorted(EXPECTED), ids=[f"{a}->{b}" for a, b in sorted(EXPECTED)])
def test_an_allowed_transition_passes(current: str, requested: str) -> None:
    check_transition(current=current, requested=requested)


ILLEGAL = sorted(set(ALL_PAIRS) - EXPECTED)


@pytest.mark.parametrize(("current", "requested"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_an_illegal_transition_is_refused_with_what_is_allowed(current: str, requested: str) -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        check_transition(current=current, requested=requested)
    error = caught.value
    assert (error.current, error.requested) == (current, requested)
    allowed = sorted(b for a, b in EXPECTED if a == current)
    assert str(error) == (
        f"a lot in state '{current}' cannot become '{requested}' (allowed: {', '.join(allowed) if allowed else 'none: it is final'})"
    )


def test_no_state_moves_to_itself() -> None:
    for state in STATES:
        with pytest.raises(IllegalTransitionError):
            check_transition(current=state, requested=state)


def test_rejected_is_final_and_says_so() -> None:
    assert ALLOWED_TRANSITIONS[REJECTED] == frozenset()
    with pytest.raises(IllegalTransitionError, match=r"\(allowed: none: it is final\)$"):
        check_transition(current=REJECTED, requested=ASSESSED)


def test_messages_list_the_allowed_targets_in_a_stable_order() -> None:
    with pytest.raises(IllegalTransitionError) as caught:
        check_transition(current=OPEN, requested=RELEASED)
    assert str(caught.value) == "a lot in state 'open' cannot become 'released' (allowed: assessed, on_hold)"
    with pytest.raises(IllegalTransitionError) as caught:
        check_transition(current=RELEASED, requested=OPEN)
    assert str(caught.value) == "a lot in state 'released' cannot become 'open' (allowed: on_hold)"


@pytest.mark.parametrize(("current", "requested"), [("bogus", OPEN), (OPEN, "bogus"), (OPEN, ""), ("", ""), (OPEN, "OPEN")])
def test_unknown_states_are_refused(current: str, requested: str) -> None:
    with pytest.raises(IllegalTransitionError):
        check_transition(current=current, requested=requested)


def test_nothing_goes_back_to_open() -> None:
    assert all(OPEN not in targets for targets in ALLOWED_TRANSITIONS.values())


def test_released_is_reached_only_through_assessed() -> None:
    assert {current for current, targets in ALLOWED_TRANSITIONS.items() if RELEASED in targets} == {ASSESSED}


def test_every_state_is_reachable_from_open() -> None:
    reached, frontier = {OPEN}, [OPEN]
    while frontier:
        for target in ALLOWED_TRANSITIONS[frontier.pop()]:
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(STATES)


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ALLOWED_TRANSITIONS[OPEN] = frozenset({RELEASED})  # type: ignore[index]
    assert isinstance(ALLOWED_TRANSITIONS[OPEN], frozenset)
