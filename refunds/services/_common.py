"""What every refund service shares: the locks (order first, then refund), the actor's decision
from `refunds.rules`, the audit event and the small savers."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from django.db.models import QuerySet

from orders.models import Order

from .. import notifications
from ..errors import RefundError
from ..models import Refund, RefundEvent
from ..prepared import prepared_get, prepared_insert, prepared_update
from ..rules import Decision
from ..states import Action, RefundStatus, Role, target_status

SYSTEM = None  # the actor for the worker and the marketplaces


def actor_label(actor, via: str) -> str:
    if actor is None:
        return f"system: {via}" if via else "system"
    return actor.get_username()


def allow(decision: Decision) -> Role:
    """The role the actor acts in, or the decision's refusal as RefundError."""
    if not decision.allowed:
        raise RefundError(decision.reason, code=decision.code)
    assert decision.role is not None
    return decision.role


def _order_for_update(order_id) -> QuerySet:
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "account")
        .filter(pk=order_id)
    )


def _refund_for_update(refund_id) -> QuerySet:
    return Refund.objects.select_for_update().filter(pk=refund_id)


def lock_order(order_id: int) -> Order:
    """Lock the order's row only (`of=self`): without it PostgreSQL would also lock the joined
    customer and marketplace account rows, and every writer of any order of that account would
    queue behind one another. Compiled once per thread (`refunds.prepared`)."""
    return prepared_get("services.lock_order", Order, _order_for_update, order_id)


def lock(refund: Refund) -> tuple[Order, Refund]:
    """Lock the order first, then the refund: every writer takes them in this order. A refund
    never moves to another order, so the caller's `order_id` names the order to lock (a refund
    not loaded from the database costs one read first)."""
    order_id = refund.order_id or Refund.objects.values_list("order_id", flat=True).get(
        pk=refund.pk
    )
    order = lock_order(order_id)
    refund = prepared_get("services.lock_refund", Refund, _refund_for_update, refund.pk)
    if refund.order_id != order.pk:  # only an instance whose order_id was changed in memory
        raise ValueError(f"Refund {refund.pk} is not on order {order_id}")
    refund.order = order
    return order, refund


def load_permissions(actor) -> None:
    """Read a staff actor's permissions (two queries, cached on the user object) before any lock
    is taken, so that the permission checks made under the lock cost nothing. Customers' and
    superusers' checks read no permissions, so nothing is loaded for them."""
    if actor is not None and actor.is_active and actor.is_staff and not actor.is_superuser:
        actor.get_all_permissions()


def next_status(action: Action, refund: Refund) -> RefundStatus:
    """The status after an action that `rules.decide` allowed."""
    return target_status(action, RefundStatus(refund.status), refund_only=refund.refund_only)


def record(
    refund: Refund,
    *,
    actor,
    via: str,
    action: str,
    from_status: str,
    changes: Mapping | None = None,
    note: str = "",
) -> RefundEvent:
    event = RefundEvent(
        refund=refund,
        actor=actor,
        actor_label=actor_label(actor, via),
        action=action,
        from_status=from_status,
        to_status=refund.status,
        changes=dict(changes or {}),
        note=note,
    )
    prepared_insert(event)  # RefundEvent.objects.create, as one prepared INSERT
    if from_status != refund.status:
        refund_id, old, new = refund.pk, from_status, refund.status
        transaction.on_commit(lambda: notifications.status_changed(refund_id, old, new))
    return event


def save(refund: Refund, *fields: str) -> None:
    """`refund.save(update_fields=[*fields, "updated_at"])`, as one prepared UPDATE."""
    prepared_update(refund, [*fields, "updated_at"])


def platform_knows(refund: Refund) -> bool:
    return bool(refund.external_id or refund.external_request_id)


def clean_text(value: str, field: str, *, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise RefundError("This field is required", field=field)
    if len(value) > max_length:
        raise RefundError(f"At most {max_length} characters", field=field)
    return value


def mark_drift(refund: Refund, *, note: str, via: str) -> None:
    """Flag a locked refund as drifting from its marketplace, with the audit event."""
    refund.has_drift, refund.drift_note = True, note
    save(refund, "has_drift", "drift_note")
    record(refund, actor=SYSTEM, via=via, action="drift", from_status=refund.status, note=note)
