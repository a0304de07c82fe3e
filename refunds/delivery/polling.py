"""Polling and reconciliation for one marketplace account (run by beat through
`refunds.delivery.tasks.poll_account`).

1. Refunds in PROCESSING that the platform already took (their create action succeeded) are
   asked for their status when the adapter has a status API (Noventiq order status, Shoplazza
   refund records...); the answer goes through `refund_apply_marketplace_result`.
2. The platform's refund list (`adapter.list_refunds`, e.g. LLZW): refunds customers opened on
   the shop are imported as REQUESTED (source marketplace) through `refund_request(actor=None,
   external_id=...)`; status changes go through `refund_apply_remote_status`; a different amount,
   or a refund that exists only on the platform and is already past REQUESTED, is flagged as
   drift for staff.

Everything here is idempotent: running a poll twice, or two polls at once, changes nothing more
(refund_request returns the existing refund for an external id under the order lock, and the
services never move a refund backwards).
"""

from __future__ import annotations

import logging
from collections import Counter

from integrations.base import (
    Accepted,
    Confirmed,
    MarketplaceAdapter,
    MarketplaceError,
    OutboundKind,
    Rejected,
)
from integrations.registry import adapter_class
from orders.models import MarketplaceAccount
from orders.money import format_money
from refunds.errors import RefundError
from refunds.models import ReasonCode, Refund
from refunds.services import (
    refund_apply_marketplace_result,
    refund_apply_remote_status,
    refund_flag_drift,
    refund_request,
)
from refunds.states import RefundStatus

from .adapters import account_adapter
from .mirror import order_mirror
from .models import OutboundAction, OutboundState
from .payloads import refund_data

logger = logging.getLogger(__name__)


def has_status_api(adapter_cls) -> bool:
    return adapter_cls._read_refund_status is not MarketplaceAdapter._read_refund_status


def has_refund_list(adapter_cls) -> bool:
    return adapter_cls.list_refunds is not MarketplaceAdapter.list_refunds


def account_poll(account_id: int) -> dict:

    account = MarketplaceAccount.objects.filter(pk=account_id, is_enabled=True).first()
    if account is None:
        return {}

    adapter_cls = adapter_class(account.adapter_key)
    adapter = account_adapter(account)
    stats: Counter = Counter()
    if has_status_api(adapter_cls):
        processing_statuses_read(account, adapter, stats)
    if has_refund_list(adapter_cls):
        remote_refunds_reconcile(account, adapter, stats)
    return dict(stats)


def processing_statuses_read(account, adapter, stats: Counter) -> None:

    via = f"{account.adapter_key} poll"
    refunds = Refund.objects.filter(order__account=account, status=RefundStatus.PROCESSING)
    for refund in refunds.select_related("order__customer"):
        sent = (
            OutboundAction.objects.filter(refund=refund, kind=OutboundKind.CREATE_REFUND)
            .order_by("-created_at", "-id")
            .first()
        )
        # Only refunds the platform has taken: otherwise the outbox is still delivering them.
        if sent is None or sent.state != OutboundState.SUCCEEDED:
            continue
        result = adapter.read_refund_status(
            refund_data(refund, idempotency_key=sent.idempotency_key)
        )
        stats[f"status_{type(result).__name__.lower()}"] += 1
        if isinstance(result, Confirmed | Rejected) or (
            isinstance(result, Accepted) and (result.external_id or result.external_request_id)
        ):
            refund_apply_marketplace_result(
                refund=refund, result=result, kind=OutboundKind.READ_STATUS, via=via
            )


def _reason_code(text: str) -> str:
    return text if text in ReasonCode.values else ReasonCode.OTHER


def remote_refunds_reconcile(account, adapter, stats: Counter) -> None:

    via = f"{account.adapter_key} poll"
    try:
        remote_refunds = adapter.list_refunds()
    except MarketplaceError as exc:
        logger.warning("listing refunds of %s failed: %s", account.name, exc.message)
        stats["list_failed"] += 1
        return
    for remote in remote_refunds:
        refund = _find_refund(account, remote)
        imported = False
        if refund is not None and refund.external_id and refund.external_id != remote.external_id:
            # Found by our key, under another id: the platform holds a second refund made with
            # this refund's key (a duplicate payment). Its status is not this refund's.
            refund_flag_drift(
                refund=refund,
                via=via,
                note=f"{account.name} holds a second refund {remote.external_id} "
                f"({_money(remote.amount, remote.currency or refund.currency)}, {remote.status}) "
                "made "
                f"with this refund's key {remote.idempotency_key}, besides {refund.external_id}: "
                "check it for a double payment",
            )
            stats["drift_second_refund"] += 1
            continue
        if refund is None and remote.idempotency_key:
            # Made by Refund Desk (it bears our key) but matching none of our refunds: never
            # imported as a new request (approving it would pay again); staff must look.
            _flag_unmatched(account, remote, via)
            stats["drift_unmatched"] += 1
            continue
        if refund is None:
            try:
                # Refund Desk's order, else the platform's (when it has an order API), mirrored.
                order = order_mirror(account, remote.order_external_number, adapter=adapter)
            except MarketplaceError as exc:
                logger.warning(
                    "%s: reading order %s failed: %s",
                    account.name,
                    remote.order_external_number,
                    exc.message,
                )
                order = None
            if order is None:
                logger.warning(
                    "%s: refund %s is for unknown order %s",
                    account.name,
                    remote.external_id,
                    remote.order_external_number,
                )
                stats["unknown_order"] += 1
                continue
            if remote.status in (RefundStatus.CANCELLED, RefundStatus.DENIED):
                stats["ignored_closed"] += 1
                continue
            try:
                refund = refund_request(
                    actor=None,
                    order=order,
                    reason_code=_reason_code(remote.reason),
                    refund_only=remote.refund_only,
                    amount=remote.amount,
                    customer_explanation=remote.reason,
                    via=via,
                    external_id=remote.external_id,
                    requester_name=remote.requester,
                )
            except RefundError as exc:
                logger.warning(
                    "%s: cannot import refund %s: %s", account.name, remote.external_id, exc.message
                )
                stats["import_refused"] += 1
                continue
            imported = True
            stats["imported"] += 1
            if remote.status != RefundStatus.REQUESTED:
                refund_flag_drift(
                    refund=refund,
                    via=via,
                    note=f"{account.name} shows refund {remote.external_id} as {remote.status}; "
                    "it reached that status without Refund Desk",
                )
        if remote.amount is not None and remote.amount != refund.total:
            refund_flag_drift(
                refund=refund,
                via=via,
                note=f"{account.name} shows {_money(remote.amount, refund.currency)} for refund "
                f"{remote.external_id}, Refund Desk has {_money(refund.total, refund.currency)}",
            )
            stats["drift_amount"] += 1
        if refund.status == RefundStatus.PROCESSING and remote.status in _OUR_MONEY_ANSWERS:
            # Our own refund, whose money we asked for: its result goes through the result
            # service (ISSUED completes it; DENIED or CANCELLED needs a person, never a silent
            # DENIED), as the status read above and the webhooks do.
            _apply_result(refund, remote, account, via, stats)
            continue
        if remote.status and remote.status != refund.status:
            refund_apply_remote_status(
                refund=refund,
                status=remote.status,
                via=via,
                response_reason=remote.response_reason,
                tracking_id=remote.tracking_id,
                carrier=remote.carrier,
            )
            stats["status_applied" if not imported else "imported_status"] += 1
    stats["listed"] += len(remote_refunds)


_OUR_MONEY_ANSWERS = (RefundStatus.ISSUED, RefundStatus.DENIED, RefundStatus.CANCELLED)


def _apply_result(refund, remote, account, via: str, stats: Counter) -> None:
    if remote.status == RefundStatus.ISSUED:
        result = Confirmed(external_id=remote.external_id, message=f"{account.name} issued it")
    elif refund.needs_attention and not refund.outcome_unknown:
        return  # already before a person (the status read above words it the adapter's way)
    else:
        why = f": {remote.response_reason}" if remote.response_reason else ""
        result = Rejected(
            code=f"refund_{remote.status.lower()}",
            message=f"refund {remote.external_id} is {remote.status.lower()} on the platform{why}",
        )
    refund_apply_marketplace_result(
        refund=refund, result=result, kind=OutboundKind.READ_STATUS, via=via
    )
    stats[f"result_{type(result).__name__.lower()}"] += 1


def _money(amount, currency: str) -> str:
    """An amount a platform reported, as staff read it (its currency's decimals and code)."""
    if amount is None:
        return "no amount"
    return format_money(amount, currency) if currency else str(amount)


def _flag_unmatched(account, remote, via: str) -> None:

    note = (
        f"{account.name} holds refund {remote.external_id} "
        f"({_money(remote.amount, remote.currency)}, {remote.status}) bearing Refund Desk's key "
        f"{remote.idempotency_key}, which matches no refund here: check it for a double payment"
    )
    latest = (
        Refund.objects.filter(
            order__account=account, order__external_number=remote.order_external_number
        )
        .order_by("-created_at", "-id")
        .first()
    )
    logger.error("%s: %s (order %s)", account.name, note, remote.order_external_number)
    if latest is not None:
        refund_flag_drift(refund=latest, via=via, note=note)


def _find_refund(account, remote):
    if remote.external_id:
        found = Refund.objects.filter(
            order__account=account, external_id=remote.external_id
        ).first()
        if found is not None:
            return found
    if remote.idempotency_key:
        action = (
            OutboundAction.objects.filter(account=account, idempotency_key=remote.idempotency_key)
            .select_related("refund")
            .first()
        )
        if action is not None:
            return action.refund
    return None
