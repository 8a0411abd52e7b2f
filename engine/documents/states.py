"""The order state machine, written down once: statuses, transitions, and what each status allows.

Every path that changes a purchase document asks this module first: a shop's
status change and return (API), a SAP invoice, credit note or cancellation,
a 1C order, return or status. A refusal is an `InvalidTransition` (a status
change) or an `InvalidCorrection` (an operation), so each source reports it
the way it reports any other refused document.

    placed ──► paid ──► fulfilled ──► returned
      │          │          │
      └──────────┴──────────┴──► cancelled

``returned`` is reached by a status change or by corrections that take back
every line; ``cancelled`` and ``returned`` are final. A correction (return or
credit note) has no status of its own and allows nothing.
"""
from __future__ import annotations

from engine.documents.errors import InvalidCorrection, InvalidTransition

STATUSES = ("placed", "paid", "fulfilled", "cancelled", "returned")

# Which status may follow which. A status may always be repeated (no-op).
TRANSITIONS: dict[str, frozenset[str]] = {
    "placed": frozenset({"paid", "fulfilled", "cancelled"}),
    "paid": frozenset({"fulfilled", "cancelled", "returned"}),
    "fulfilled": frozenset({"returned", "cancelled"}),
    "cancelled": frozenset(),
    "returned": frozenset(),
}

# Operations on a stored order, by the status it is in. "correct" is a return or
# credit note: only goods paid for or delivered come back (a placed order is
# cancelled instead), and a correction that takes everything back makes the
# order returned, so "correct" is allowed exactly where "returned" may follow.
# "redeem" is spending points on it; "revise" is a newer revision of its lines from
# its source (1C's НомерВерсии): a final order keeps the lines it ended with.
OPERATIONS: dict[str, frozenset[str]] = {
    "placed": frozenset({"redeem", "revise"}),
    "paid": frozenset({"correct", "redeem", "revise"}),
    "fulfilled": frozenset({"correct", "redeem", "revise"}),
    "cancelled": frozenset(),
    "returned": frozenset(),
}

_VERB = {"correct": "take a return or credit note", "redeem": "be paid with points",
         "revise": "take new lines"}


def can_become(current: str, status: str) -> bool:
    return status == current or status in TRANSITIONS.get(current, frozenset())


def allows(document, operation: str) -> bool:
    if document.document_type == "correction":
        return False
    return operation in OPERATIONS.get(document.status, frozenset())


def check_transition(document, status: str) -> None:
    """Refuse a status change the machine does not allow (repeating a status is a no-op)."""
    if document.document_type == "correction":
        raise InvalidTransition("a correction has no status of its own")
    if status not in STATUSES:
        raise InvalidTransition(f"{status!r} is not an order status")
    if not can_become(document.status, status):
        raise InvalidTransition(
            f"order {document.external_id} is {document.status}; it cannot become {status}")


def check_operation(document, operation: str, error: type[Exception] = InvalidCorrection) -> None:
    """Refuse (with ``error``) an operation the document's status does not allow."""
    if allows(document, operation):
        return
    if document.document_type == "correction":
        raise error(f"{document.external_id} is a correction; it cannot {_VERB[operation]}")
    raise error(f"order {document.external_id} is {document.status}; it cannot {_VERB[operation]}")
