"""The only writers of refunds.

Each action is one transaction: lock the order then the refund (always in that order), ask
`refunds.rules` whether the actor may act now (the transition, the role, maker-checker, the
approval limit...), check the money, save with `update_fields`, append a RefundEvent and, when
the marketplace must hear of it, write an outbox row. A refused action raises RefundError and
writes nothing. Work that leaves the database (HTTP, e-mail) happens only after commit.

- `requests`: opening a refund;
- `assignment`: who works on a refund (assign, reassign, unassign);
- `decisions`: what people decide (approve, deny, ship, receive, cancel, retry, resolve drift);
- `marketplace`: what the marketplaces report (results, statuses, unknown outcomes, drift);
- `evidence`: the photos a customer attaches to a refund;
- `_common`: the locks, the audit event and the savers they share.
"""

from ._common import SYSTEM
from .assignment import ASSIGN_PERMISSION, assignable_users, refund_assign
from .decisions import (
    Received,
    refund_approve,
    refund_cancel,
    refund_deny,
    refund_receive,
    refund_resolve_drift,
    refund_retry,
    refund_ship,
)
from .evidence import refund_add_evidence
from .marketplace import (
    order_line_record_cancellation,
    refund_apply_marketplace_result,
    refund_apply_remote_status,
    refund_flag_drift,
    refund_mark_outcome_unknown,
    refunds_flag_stale_processing,
)
from .requests import refund_request

__all__ = [
    "ASSIGN_PERMISSION",
    "SYSTEM",
    "Received",
    "assignable_users",
    "order_line_record_cancellation",
    "refund_add_evidence",
    "refund_apply_marketplace_result",
    "refund_apply_remote_status",
    "refund_approve",
    "refund_assign",
    "refund_cancel",
    "refund_deny",
    "refund_flag_drift",
    "refund_mark_outcome_unknown",
    "refund_receive",
    "refund_request",
    "refund_resolve_drift",
    "refund_retry",
    "refund_ship",
    "refunds_flag_stale_processing",
]
