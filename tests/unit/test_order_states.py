"""The order state machine as written down in `engine.documents.states` (pure logic)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.documents import states
from engine.documents.errors import InvalidCorrection, InvalidTransition


def order(status, document_type="order"):
    return SimpleNamespace(status=status, document_type=document_type, external_id="O-1")


def test_the_tables_name_every_status_and_only_known_ones():
    assert set(states.TRANSITIONS) == set(states.OPERATIONS) == set(states.STATUSES)
    assert set().union(*states.TRANSITIONS.values()) <= set(states.STATUSES)


def test_a_return_is_taken_exactly_where_the_order_may_become_returned():
    # A correction that takes everything back sets `returned`: it must be a transition allowed there.
    for status in states.STATUSES:
        assert states.allows(order(status), "correct") == ("returned" in states.TRANSITIONS[status]), status


@pytest.mark.parametrize("status", ["cancelled", "returned"])
def test_a_final_order_allows_nothing(status):
    assert not states.TRANSITIONS[status]
    for operation in ("correct", "redeem", "revise"):
        assert not states.allows(order(status), operation)
    with pytest.raises(InvalidCorrection):
        states.check_operation(order(status), "correct")
    with pytest.raises(InvalidTransition):
        states.check_transition(order(status), "fulfilled")
    states.check_transition(order(status), status)  # repeating a status is a no-op


def test_a_correction_has_no_status_and_takes_no_operation():
    with pytest.raises(InvalidTransition):
        states.check_transition(order("fulfilled", "correction"), "cancelled")
    assert not any(states.allows(order("fulfilled", "correction"), op) for op in ("correct", "redeem", "revise"))
