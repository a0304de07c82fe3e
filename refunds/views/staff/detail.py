"""A refund's page: the refund, its order and what is still refundable, the timeline (events,
outbox rows and their attempts, webhooks), and the actions the user may take now (or why not,
from `refunds.rules`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from integrations.registry import ADAPTERS, UnknownAdapter, adapter_class
from refunds.delivery.models import OutboundState

from ... import rules, services
from ...errors import RefundError
from ...forms import DenyForm, NoteForm, ReceiveForm, ShipForm, add_refund_error
from ...models import Refund
from ...selectors import order_refundable, refund_detail_queryset
from ._common import StaffPermissionMixin


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # event, outbound, attempt, webhook
    title: str
    detail: str = ""
    tone: str = ""
    data: object = None


ATTEMPT_OUTCOMES = {
    "unknown": "no answer (the marketplace may have acted)",
    "failed": "not delivered (it never reached the marketplace)",
    "crashed": "the worker stopped during the call (the marketplace may have acted)",
}


def _timeline(refund: Refund) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for event in refund.events.all():
        moved = (
            f" · {event.from_status or '—'} → {event.to_status}"
            if (event.from_status != event.to_status)
            else ""
        )
        entries.append(
            TimelineEntry(
                event.created_at,
                "event",
                f"{event.actor_label}: {event.action.replace('_', ' ')}{moved}",
                event.note,
                "event",
                event.changes or None,
            )
        )
    for action in refund.outbound_actions.all():
        tone = {
            OutboundState.SUCCEEDED: "ok",
            OutboundState.FAILED: "bad",
            OutboundState.DEAD: "bad",
            OutboundState.UNKNOWN: "bad",
        }.get(action.state, "pending")
        entries.append(
            TimelineEntry(
                action.created_at,
                "outbound",
                f"To {refund.order.account.name}: {action.get_kind_display()} "
                f"({action.get_state_display().lower()})",
                action.last_error,
                tone,
                action.response or None,
            )
        )
        for attempt in action.attempt_log.all():
            entries.append(
                TimelineEntry(
                    attempt.started_at,
                    "attempt",
                    f"Attempt {attempt.number} of {action.get_kind_display()} "
                    f"(key {action.idempotency_key}): "
                    f"{ATTEMPT_OUTCOMES.get(attempt.outcome, attempt.outcome)}",
                    attempt.message,
                    "ok" if attempt.outcome in ("accepted", "confirmed") else "bad",
                    attempt.response or None,
                )
            )
    for hook in refund.webhook_events.all():
        entries.append(
            TimelineEntry(
                hook.received_at,
                "webhook",
                f"Webhook from {hook.adapter_key}: {hook.name}"
                f"{' · ' + hook.topic if hook.topic else ''} ({hook.get_state_display().lower()})",
                hook.error,
                "bad" if hook.state == "failed" else "webhook",
            )
        )
    entries.sort(key=lambda e: e.when)
    return entries


def _capabilities(adapter_key: str):
    """The adapter's declared capabilities, or None while its package is not installed."""
    try:
        return adapter_class(adapter_key).capabilities
    except UnknownAdapter:
        return None


def _detail_refund(pk: int) -> Refund:
    return get_object_or_404(refund_detail_queryset(), pk=pk)


def _available_actions(user, refund: Refund) -> tuple[set[str], list[str]]:
    """Which action forms to show now, and, for the refusals a person can do something about
    (rules.EXPLAINED_CODES), why one is missing. The services decide again when it is posted."""
    decisions = rules.available(user, refund)
    shown = {action.value for action, decision in decisions.items() if decision.allowed}
    notes = [_sentence(d.reason) for d in decisions.values() if d.is_explained]
    pending = rules.marketplace_pending(refund)
    if pending:
        notes.append(pending)
    return shown, notes


def _sentence(text: str) -> str:
    return text if text.endswith(".") else f"{text}."


ACTION_FORMS = {
    "approve": NoteForm,
    "deny": DenyForm,
    "ship": ShipForm,
    "receive": ReceiveForm,
    "retry": NoteForm,
    "cancel": NoteForm,
}


def _render_detail(request, refund: Refund, *, bound: dict | None = None, status: int = 200):
    refundable = order_refundable(refund.order)
    shown, notes = _available_actions(request.user, refund)
    # A refusal already shown as the posted form's error is not repeated as a note.
    errors = {_sentence(e) for form in (bound or {}).values() for e in form.non_field_errors()}
    notes = [note for note in notes if note not in errors]
    forms = {}
    # A refused form is shown with its error even when the action is no longer offered.
    for name in sorted(shown | set(bound or {}), key=list(ACTION_FORMS).index):
        if bound and name in bound:
            forms[name] = bound[name]
        elif name == "receive":
            forms[name] = ReceiveForm(refund_lines=refund.lines.all(), prefix="receive")
        elif name == "ship":
            forms[name] = ShipForm(
                prefix="ship",
                initial={
                    "carrier": refund.return_carrier,
                    "tracking_id": refund.return_tracking_id,
                },
            )
        else:
            forms[name] = ACTION_FORMS[name](prefix=name)
    context = {
        "refund": refund,
        "order": refund.order,
        "refundable": refundable,
        "refundable_rows": list(refundable.lines.values()),
        "timeline": _timeline(refund),
        "capabilities": _capabilities(refund.order.account.adapter_key),
        "marketplace_label": ADAPTERS.get(refund.order.account.adapter_key, (None,))[0]
        or refund.order.account.adapter_key,
        "forms": forms,
        "action_notes": notes,
    }
    return render(request, "staff/detail.html", context, status=status)


class RefundDetailView(StaffPermissionMixin, View):
    def get(self, request, pk: int):
        return _render_detail(request, _detail_refund(pk))


class RefundActionView(StaffPermissionMixin, View):
    """POST one action from the detail page. Refused: the page again with the error beside the
    field (400) and nothing changed. Done: a message and back to the detail page."""

    def post(self, request, pk: int, action: str):
        if action not in ACTION_FORMS:
            raise Http404("No such action")
        refund = get_object_or_404(Refund.objects.select_related("order"), pk=pk)
        if action == "receive":
            form = ReceiveForm(
                request.POST,
                prefix="receive",
                refund_lines=refund.lines.select_related("order_line"),
            )
        else:
            form = ACTION_FORMS[action](request.POST, prefix=action)
        if form.is_valid():
            try:
                refund = self._perform(action, refund, form)
            except RefundError as exc:
                add_refund_error(form, exc)
            else:
                messages.success(request, self._done_message(action, refund))
                return HttpResponseRedirect(reverse("staff:refund-detail", args=[refund.pk]))
        messages.error(request, "Nothing was changed: see the form below.")
        detail = _detail_refund(pk)
        if action == "receive":
            # Rebind to the freshly loaded lines so the rows render with the entered values.
            form.refund_lines = list(detail.lines.all())
        return _render_detail(request, detail, bound={action: form}, status=400)

    def _perform(self, action: str, refund: Refund, form) -> Refund:
        data, user = form.cleaned_data, self.request.user
        match action:
            case "approve":
                return services.refund_approve(actor=user, refund=refund, note=data["note"])
            case "deny":
                return services.refund_deny(actor=user, refund=refund, reason=data["reason"])
            case "ship":
                return services.refund_ship(
                    actor=user,
                    refund=refund,
                    tracking_id=data["tracking_id"],
                    carrier=data["carrier"],
                )
            case "receive":
                return services.refund_receive(
                    actor=user,
                    refund=refund,
                    received=form.received(),
                    note=data["note"],
                )
            case "retry":
                return services.refund_retry(actor=user, refund=refund, note=data["note"])
            case "cancel":
                return services.refund_cancel(actor=user, refund=refund, note=data["note"])
        raise Http404("No such action")

    @staticmethod
    def _done_message(action: str, refund: Refund) -> str:
        verbs = {
            "approve": "approved",
            "deny": "denied",
            "ship": "return shipment recorded",
            "receive": "return recorded",
            "retry": "sent again",
            "cancel": "cancelled",
        }
        return f"{refund.number} {verbs[action]}: now {refund.status_label}."
