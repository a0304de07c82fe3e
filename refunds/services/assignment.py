"""Who works on a refund: assign it to a person, reassign it, or leave it unassigned.

Assignment changes no money and no status, but it is a change to the refund all the same: it is
made under the refund's locks, refused with a reason a person can act on, and recorded in the
audit trail with who assigned it to whom (`changes["assigned_to"]` = [before, after], by
username)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet

from ..errors import RefundError
from ..models import Refund
from ..states import FINAL_STATUSES, RefundStatus
from ._common import load_permissions, lock, record, save

# The groups whose members work on refunds (refunds.roles.GROUPS); superusers may always be
# assigned.
WORKER_GROUPS = ("Refund agent", "Refund manager")
ASSIGN_PERMISSION = "refunds.change_refund"


def assignable_users() -> QuerySet:
    """The people a refund may be assigned to: active staff in a refund group, or superusers."""
    return (
        get_user_model()
        .objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__name__in=WORKER_GROUPS) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
    )


def _name(user) -> str:
    return user.get_username() if user is not None else ""


def refund_assign(*, actor, refund: Refund, assignee, note: str = "") -> Refund:
    """Assign `refund` to `assignee` (a user, or None to unassign). Refused: an actor without
    the right to change refunds, an assignee who does not work on refunds, a refund that is
    already final, or no change at all."""
    load_permissions(actor)
    if actor is None or not (actor.is_active and actor.is_staff):
        raise RefundError("Only staff can assign refunds", code="forbidden")
    if not actor.has_perm(ASSIGN_PERMISSION):
        raise RefundError("You do not have permission to assign refunds", code="forbidden")
    if assignee is not None and not assignable_users().filter(pk=assignee.pk).exists():
        raise RefundError(
            f"{_name(assignee)} does not work on refunds: choose a refund agent or manager",
            field="assignee",
            code="invalid_assignee",
        )
    with transaction.atomic():
        _, refund = lock(refund)
        status = RefundStatus(refund.status)
        if status in FINAL_STATUSES:
            raise RefundError(
                f"{refund.number} is {status.label.lower()}: there is nothing left to work on",
                code="final",
            )
        before = refund.assigned_to
        if (before.pk if before else None) == (assignee.pk if assignee else None):
            who = f"assigned to {_name(assignee)}" if assignee else "unassigned"
            raise RefundError(f"{refund.number} is already {who}", field="assignee", code="same")
        refund.assigned_to = assignee
        save(refund, "assigned_to")
        record(
            refund,
            actor=actor,
            via="",
            action="assign",
            from_status=refund.status,
            changes={"assigned_to": [_name(before), _name(assignee)]},
            note=note,
        )
    return refund
