"""What an actor may do to a refund now: the one rule that the services enforce (under their
lock, refusing with the reason) and that every screen shows (the action, or why it is missing).

It reads only what is already loaded: the actor (a staff actor's permissions are cached on the
user object: `services._common.load_permissions`), the refund, and its order with the order's
customer and account. It makes no query of its own, so a service can ask it while it holds the
locks and a page can ask it for every refund it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from integrations.registry import UnknownAdapter, adapter_class
from orders.models import Order
from orders.money import format_money, quantize

from .models import Refund, RefundSource
from .states import (
    LARGE_REFUND_PERMISSION,
    ROLES,
    STAFF_PERMISSION,
    Action,
    RefundStatus,
    Role,
    TransitionError,
    check_transition,
)

# The actions a person takes from a refund's page, in the order the page shows them.
SCREEN_ACTIONS = (
    Action.APPROVE,
    Action.DENY,
    Action.SHIP,
    Action.RECEIVE,
    Action.RETRY,
    Action.CANCEL,
)
# Refusals a screen explains where the action would be: they are about this person (maker-checker,
# the approval limit) or about the refund's delivery (outcome unknown). A missing permission and
# the wrong stage of the lifecycle are not explained: the status shown says it.
EXPLAINED_CODES = frozenset({"maker_checker", "approval_limit", "outcome_unknown"})


@dataclass(frozen=True)
class Decision:
    """Whether the action is allowed; if not, why (a message a person can act on) and a code
    (RefundError.code, the API's error code). When allowed, `role` is the role the actor acts
    in."""

    allowed: bool
    reason: str = ""
    code: str = ""
    role: Role | None = None

    @property
    def is_explained(self) -> bool:
        return not self.allowed and self.code in EXPLAINED_CODES


def _refused(reason: str, code: str = "refused") -> Decision:
    return Decision(allowed=False, reason=reason, code=code)


def is_owner(actor: Any, order: Order) -> bool:
    return actor is not None and order.customer.user_id == actor.pk


def decide_role(actor: Any, action: Action, order: Order) -> Decision:
    """Whether the actor may take `action` on the order's refunds at all, and in which role (the
    worker and the marketplaces are `actor=None`, the system)."""
    if actor is None:
        if Role.SYSTEM in ROLES[action]:
            return Decision(allowed=True, role=Role.SYSTEM)
        return _refused(f"Only a person can {action.value} a refund", "forbidden")
    if not actor.is_active:
        return _refused("This account is disabled", "forbidden")
    if staff_may(actor, action):
        return Decision(allowed=True, role=Role.STAFF)
    if Role.CUSTOMER in ROLES[action] and is_owner(actor, order):
        return Decision(allowed=True, role=Role.CUSTOMER)
    return _refused(f"You do not have permission to {action.value} this refund", "forbidden")


def staff_may(actor: Any, action: Action) -> bool:
    """Whether a staff actor may take `action` on some refunds at all (their role and permission,
    before any refund's own rules): what a list offers as a bulk action."""
    permission = STAFF_PERMISSION.get(action)
    return bool(
        actor is not None
        and actor.is_active
        and actor.is_staff
        and Role.STAFF in ROLES[action]
        and permission
        and actor.has_perm(permission)
    )


def decide(actor: Any, refund: Refund, action: Action) -> Decision:
    """Whether the actor may take `action` on the refund now. Checked in this order: the role,
    the lifecycle (states.ALLOWED_FROM), then the action's own rules below. Money (what is still
    refundable) and the input (a reason, received units) are the services' to check."""
    decision = decide_role(actor, action, refund.order)
    if not decision.allowed:
        return decision
    try:
        check_transition(action, RefundStatus(refund.status))
    except TransitionError as exc:
        return _refused(exc.message, "invalid_transition")
    check = _ACTION_RULES.get(action)
    refusal = check(actor, refund, decision.role) if check else None
    return refusal or decision


def available(
    actor: Any, refund: Refund, actions: Iterable[Action] = SCREEN_ACTIONS
) -> dict[Action, Decision]:
    """Every screen action's decision for the actor on this refund."""
    return {action: decide(actor, refund, action) for action in actions}


def marketplace_pending(refund: Refund) -> str:
    """What the refund waits for when nobody can act on it: its marketplace's answer."""
    if refund.status == RefundStatus.PROCESSING and not refund.needs_attention:
        return f"Waiting for {refund.order.account.name} to confirm the refund."
    return ""


# --- the actions' own rules (after the role and the lifecycle) -------------------------------


def _approve(actor: Any, refund: Refund, role: Role | None) -> Decision | None:
    if refund.requested_by_id == actor.pk:
        return _refused(
            "You requested this refund, so someone else must approve it", "maker_checker"
        )
    limit = quantize(settings.REFUND_APPROVAL_LIMIT, refund.currency)
    if refund.total > limit and not actor.has_perm(LARGE_REFUND_PERMISSION):
        return _refused(
            f"Refunds above {format_money(limit, refund.currency)} need a refund manager's "
            f"approval (this one is {format_money(refund.total, refund.currency)})",
            "approval_limit",
        )
    return None


def _deny(actor: Any, refund: Refund, role: Role | None) -> Decision | None:
    if refund.status == RefundStatus.PROCESSING and not refund.needs_attention:
        return _refused(
            "This refund is being processed by the marketplace; it can be denied only if the "
            "marketplace refused it",
            "invalid_transition",
        )
    if refund.outcome_unknown:
        name = refund.order.account.name
        return _refused(
            f"It cannot be denied while the outcome is unknown: {name} may have paid this "
            f"refund (sending it got no answer). Check it on {name} first (Retry asks again "
            "with the same key, so it cannot be paid twice)",
            "outcome_unknown",
        )
    return None


def _ship(actor: Any, refund: Refund, role: Role | None) -> Decision | None:
    if refund.refund_only:
        return _refused("This refund needs no return shipment: the customer keeps the goods")
    return None


def _cancel(actor: Any, refund: Refund, role: Role | None) -> Decision | None:
    if (
        role is Role.CUSTOMER
        and refund.source == RefundSource.STAFF
        and refund.requested_by_id != actor.pk
    ):
        return _refused("Only staff can cancel a refund that staff opened", "forbidden")
    if refund.external_id or refund.external_request_id:  # the marketplace holds it already
        try:
            adapter = adapter_class(refund.order.account.adapter_key)
        except UnknownAdapter:
            return None
        if not adapter.capabilities.cancel_after_creation:
            return _refused(
                f"{adapter.label} refunds cannot be cancelled once the marketplace has them; "
                "deny it instead if it must not be paid",
                "unsupported",
            )
    return None


def _retry(actor: Any, refund: Refund, role: Role | None) -> Decision | None:
    if not refund.needs_attention:
        return _refused("Only a refund whose delivery failed can be retried")
    return None


_ACTION_RULES: dict[Action, Callable[[Any, Refund, Role | None], Decision | None]] = {
    Action.APPROVE: _approve,
    Action.DENY: _deny,
    Action.SHIP: _ship,
    Action.CANCEL: _cancel,
    Action.RETRY: _retry,
}
