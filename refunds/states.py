"""The refund lifecycle: statuses (seed 003's vocabulary), actions, the transition table and the
permission each action needs. No ORM here: services ask this module, then write."""

from __future__ import annotations

from enum import StrEnum


class RefundStatus(StrEnum):
    REQUESTED = "REQUESTED"
    WAITING = "WAITING"
    PROCESSING = "PROCESSING"
    ISSUED = "ISSUED"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    RefundStatus.REQUESTED: "Requested",
    RefundStatus.WAITING: "Waiting for return",
    RefundStatus.PROCESSING: "Processing",
    RefundStatus.ISSUED: "Issued",
    RefundStatus.DENIED: "Denied",
    RefundStatus.CANCELLED: "Cancelled",
}

# Refunds in these statuses hold money: they count against what is still refundable.
ACTIVE_STATUSES = frozenset(
    {RefundStatus.REQUESTED, RefundStatus.WAITING, RefundStatus.PROCESSING, RefundStatus.ISSUED}
)
FINAL_STATUSES = frozenset({RefundStatus.ISSUED, RefundStatus.DENIED, RefundStatus.CANCELLED})
# How far along the lifecycle a status is; a refund never moves to a lower rank.
RANK = {
    RefundStatus.REQUESTED: 0,
    RefundStatus.WAITING: 1,
    RefundStatus.PROCESSING: 2,
    RefundStatus.ISSUED: 3,
    RefundStatus.DENIED: 3,
    RefundStatus.CANCELLED: 3,
}


class Action(StrEnum):
    REQUEST = "request"
    APPROVE = "approve"
    DENY = "deny"
    SHIP = "ship"
    RECEIVE = "receive"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    RETRY = "retry"


class Role(StrEnum):
    CUSTOMER = "customer"  # the refund's own customer
    STAFF = "staff"  # a user acting with model permissions
    SYSTEM = "system"  # the worker or a marketplace (webhook, poll)


ALLOWED_FROM: dict[Action, frozenset[RefundStatus]] = {
    Action.APPROVE: frozenset({RefundStatus.REQUESTED}),
    # Denying a PROCESSING refund is allowed only when its delivery failed for good.
    Action.DENY: frozenset({RefundStatus.REQUESTED, RefundStatus.WAITING, RefundStatus.PROCESSING}),
    Action.SHIP: frozenset({RefundStatus.WAITING}),
    Action.RECEIVE: frozenset({RefundStatus.WAITING}),
    Action.CONFIRM: frozenset({RefundStatus.PROCESSING}),
    Action.CANCEL: frozenset({RefundStatus.REQUESTED, RefundStatus.WAITING}),
    Action.RETRY: frozenset({RefundStatus.PROCESSING}),
}

# Which kinds of actor may take an action. Customers act on their own refunds only; staff need
# the permission below; the system is the worker applying a marketplace's answer.
ROLES: dict[Action, frozenset[Role]] = {
    Action.REQUEST: frozenset({Role.CUSTOMER, Role.STAFF, Role.SYSTEM}),
    Action.APPROVE: frozenset({Role.STAFF}),
    Action.DENY: frozenset({Role.STAFF, Role.SYSTEM}),
    Action.SHIP: frozenset({Role.CUSTOMER, Role.STAFF, Role.SYSTEM}),
    Action.RECEIVE: frozenset({Role.STAFF}),
    Action.CONFIRM: frozenset({Role.SYSTEM}),
    Action.CANCEL: frozenset({Role.CUSTOMER, Role.STAFF, Role.SYSTEM}),
    Action.RETRY: frozenset({Role.STAFF}),
}

STAFF_PERMISSION: dict[Action, str] = {
    Action.REQUEST: "refunds.add_refund",
    Action.APPROVE: "refunds.approve_refund",
    Action.DENY: "refunds.deny_refund",
    Action.SHIP: "refunds.change_refund",
    Action.RECEIVE: "refunds.receive_refund",
    Action.CANCEL: "refunds.cancel_refund",
    Action.RETRY: "refunds.retry_refund",
}
LARGE_REFUND_PERMISSION = "refunds.approve_large_refund"

ACTION_VERBS = {
    Action.REQUEST: "request a refund",
    Action.APPROVE: "approve",
    Action.DENY: "deny",
    Action.SHIP: "record the return shipment of",
    Action.RECEIVE: "record the return of",
    Action.CONFIRM: "confirm",
    Action.CANCEL: "cancel",
    Action.RETRY: "retry",
}


class TransitionError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_transition(action: Action, status: RefundStatus) -> None:
    allowed = ALLOWED_FROM.get(action)
    if allowed is not None and status not in allowed:
        names = ", ".join(s.label.lower() for s in sorted(allowed, key=lambda s: RANK[s]))
        raise TransitionError(
            f"Cannot {ACTION_VERBS[action]} a refund that is {status.label.lower()}; "
            f"only a refund that is {names} can be."
        )


def target_status(action: Action, status: RefundStatus, *, refund_only: bool) -> RefundStatus:
    """The status after `action`, or TransitionError with a message a person can act on."""
    check_transition(action, status)
    match action:
        case Action.APPROVE:
            return RefundStatus.PROCESSING if refund_only else RefundStatus.WAITING
        case Action.DENY:
            return RefundStatus.DENIED
        case Action.RECEIVE:
            return RefundStatus.PROCESSING
        case Action.CONFIRM:
            return RefundStatus.ISSUED
        case Action.CANCEL:
            return RefundStatus.CANCELLED
        case Action.REQUEST:
            return RefundStatus.REQUESTED
        case _:
            return status


def is_forward(current: RefundStatus, new: RefundStatus) -> bool:
    """A marketplace report may only move a refund forward, never back."""
    return RANK[new] > RANK[current]
