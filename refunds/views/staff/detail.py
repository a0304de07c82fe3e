"""A refund's page: the refund, its order and what is still refundable, the timeline (events as
sentences from `refunds.timeline`, outbox rows and their attempts, webhooks, raw data behind a
toggle), and the actions the user may take now (or why not, from `refunds.rules`).

While a refund is being delivered the page's status block polls `RefundLiveView` every 2 s
(htmx): it says in words what the refund waits for, from the outbox rows and their attempts, and
when anything changed it also swaps the badge, the facts, the actions and the timeline
out-of-band, so nobody reloads. It stops polling once the refund is final or needs a person.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.db.models import Q, prefetch_related_objects
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from integrations.base import OutboundKind
from integrations.registry import ADAPTERS, UnknownAdapter, adapter_class
from refunds.delivery.models import OutboundAction, OutboundState

from ... import rules, services
from ...errors import RefundError
from ...forms import DenyForm, NoteForm, ReceiveForm, ShipForm, add_refund_error
from ...models import Refund
from ...selectors import order_refundable, refund_detail_queryset
from ...states import FINAL_STATUSES, RefundStatus
from ...timeline import event_sentence, pretty_json
from ._common import StaffPermissionMixin


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # event, outbound, attempt, webhook
    title: str
    detail: str = ""
    tone: str = ""
    raw: str = ""  # pretty-printed JSON for the <details> toggle, "" for nothing


ATTEMPT_OUTCOMES = {
    "started": "being sent now",
    "accepted": "accepted (the marketplace answers later)",
    "confirmed": "confirmed by the marketplace",
    "rejected": "rejected by the marketplace",
    "unknown": "no answer (the marketplace may have acted)",
    "failed": "not delivered (it never reached the marketplace)",
    "crashed": "the worker stopped during the call (the marketplace may have acted)",
}


def _raw_body(body: str) -> str:
    """A webhook's body pretty-printed when it is JSON, as received otherwise."""
    try:
        return pretty_json(json.loads(body))
    except (TypeError, ValueError):
        return body or ""


def _timeline(refund: Refund) -> list[TimelineEntry]:
    events = list(refund.events.all())
    # The sentences name each actor's role: their groups, two queries for any number of events.
    prefetch_related_objects(events, "actor__groups")
    entries: list[TimelineEntry] = []
    for event in events:
        entries.append(
            TimelineEntry(
                event.created_at,
                "event",
                event_sentence(event),
                "",
                "event",
                pretty_json(event.changes),
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
                pretty_json({"sent": action.payload, "answer": action.response or None}),
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
                    pretty_json(attempt.response),
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
                _raw_body(hook.body),
            )
        )
    entries.sort(key=lambda e: e.when)
    return entries


# --- live state: what a refund being delivered waits for ----------------------------------

OPEN_STATES = (OutboundState.PENDING, OutboundState.IN_FLIGHT)
WHAT_IS_SENT = {
    OutboundKind.CREATE_REFUND: "the refund",
    OutboundKind.APPROVE_RETURN: "the approval of the return",
    OutboundKind.DENY_REFUND: "the denial",
    OutboundKind.CANCEL_REFUND: "the cancellation",
    OutboundKind.SEND_RETURN_SHIPMENT: "the return's tracking",
    OutboundKind.READ_STATUS: "a question about the refund's status",
}


@dataclass(frozen=True)
class LiveStatus:
    """The status block: `live` while the page should poll (the refund is being delivered),
    `text` the sentence saying what it waits for, `tone` for its colour."""

    live: bool
    text: str
    tone: str = "info"


def ago(when: dt.datetime | None, now: dt.datetime) -> str:
    """'less than a minute ago', '2 min ago', '3 h ago', '2 d ago'."""
    if when is None:
        return "some time ago"
    seconds = max(0, int((now - when).total_seconds()))
    # Minutes at the finest: the block is read out by screen readers when its text changes.
    if seconds < 60:
        return "less than a minute ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def _in(when: dt.datetime, now: dt.datetime) -> str:
    seconds = int((when - now).total_seconds())
    if seconds < 2:
        return "any moment now"
    if seconds < 60:
        return f"in {seconds} s"
    if seconds < 3600:
        return f"in {seconds // 60} min"
    return f"in {seconds // 3600} h"


def _sending(action: OutboundAction, platform: str, now: dt.datetime) -> str:
    what = WHAT_IS_SENT.get(OutboundKind(action.kind), action.get_kind_display())
    if action.state == OutboundState.IN_FLIGHT:
        return f"Sending {what} to {platform} now — attempt {action.attempts}."
    if action.attempts == 0:
        text = f"Queued to be sent to {platform}: {what} — queued {ago(action.created_at, now)}"
        if action.next_attempt_at > now + dt.timedelta(seconds=2):
            text += f", first try {_in(action.next_attempt_at, now)}"
        return text + "."
    error = f": {action.last_error}" if action.last_error else ""
    return (
        f"Sending {what} to {platform} failed for now (attempt {action.attempts}{error}); "
        f"next try {_in(action.next_attempt_at, now)}."
    )


def live_status(refund: Refund, platform: str, now: dt.datetime | None = None) -> LiveStatus:
    """What the refund waits for, in words, from its status and its outbox rows (prefetched
    with their attempts by `refund_detail_queryset`)."""
    now = now or timezone.now()
    actions = list(refund.outbound_actions.all())
    open_actions = [a for a in actions if a.state in OPEN_STATES]
    status = refund.status_enum
    # The reason itself is the alert below the block: said once.
    if refund.outcome_unknown:
        return LiveStatus(
            False,
            f"Stopped: {platform} did not answer, so a person must check it (see below).",
            "warn",
        )
    if refund.needs_attention:
        return LiveStatus(False, "Stopped: a person must act on this refund (see below).", "bad")
    if status == RefundStatus.ISSUED:  # a row still open is only catching up with it
        return LiveStatus(
            False, f"Issued: {platform} confirmed the refund {ago(refund.issued_at, now)}.", "ok"
        )
    if open_actions:
        return LiveStatus(True, _sending(open_actions[-1], platform, now), "pending")
    if status == RefundStatus.PROCESSING:
        sent = [a for a in actions if a.kind == OutboundKind.CREATE_REFUND]
        if not sent:
            return LiveStatus(True, f"Waiting for {platform} to confirm the refund.", "pending")
        last = sent[-1]
        attempts = list(last.attempt_log.all())
        when = last.completed_at or (attempts[-1].started_at if attempts else last.updated_at)
        return LiveStatus(
            True,
            f"Waiting for {platform} to confirm the refund — sent {ago(when, now)}, "
            f"attempt {last.attempts}.",
            "pending",
        )
    if status in FINAL_STATUSES:
        return LiveStatus(False, f"{refund.status_label}: nothing more to do.", "done")
    if status == RefundStatus.WAITING:
        if refund.return_tracking_id:
            return LiveStatus(
                False,
                f"The return is on its way ({refund.return_carrier} {refund.return_tracking_id}):"
                " record it as received when it arrives.",
            )
        return LiveStatus(False, "Waiting for the customer to send the goods back.")
    return LiveStatus(False, "Waiting for a decision: approve or deny the refund.")


def live_signature(refund: Refund) -> str:
    """Changes whenever anything the page shows besides the clock changes: the status, the
    flags, an event, an outbox row or attempt, a webhook."""
    parts = [
        refund.status,
        refund.needs_attention,
        refund.outcome_unknown,
        refund.has_drift,
        refund.updated_at.isoformat(),
        len(refund.events.all()),
        [
            (a.pk, a.state, a.attempts, [(t.number, t.outcome) for t in a.attempt_log.all()])
            for a in refund.outbound_actions.all()
        ],
        [(h.pk, h.state) for h in refund.webhook_events.all()],
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


# --- next and previous in the queue --------------------------------------------------------

# The queue's default view: what needs a decision (requested, or flagged), oldest first.
NEEDS_DECISION = Q(status=RefundStatus.REQUESTED) | Q(needs_attention=True)


def queue_neighbours(refund: Refund) -> tuple[int | None, int | None]:
    """The previous and next refunds around this one in the default queue's order (created,
    then id, oldest first), also when this refund itself has left the queue (just approved)."""
    queue = Refund.objects.filter(NEEDS_DECISION).exclude(pk=refund.pk)
    before = Q(created_at__lt=refund.created_at) | Q(created_at=refund.created_at, pk__lt=refund.pk)
    after = Q(created_at__gt=refund.created_at) | Q(created_at=refund.created_at, pk__gt=refund.pk)
    previous = queue.filter(before).order_by("-created_at", "-id").values_list("pk", flat=True)
    following = queue.filter(after).order_by("created_at", "id").values_list("pk", flat=True)
    return previous.first(), following.first()


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


class AssignForm(forms.Form):
    """Who works on the refund: one of the people who work on refunds, or nobody."""

    assignee = forms.ModelChoiceField(
        queryset=services.assignable_users(),
        required=False,
        empty_label="Nobody (unassigned)",
        label="Assigned to",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def _assign_form(user, refund: Refund, bound: dict | None) -> AssignForm | None:
    """The assignment form, for those who may change refunds, while the refund is not final."""
    if bound and "assign" in bound:
        return bound["assign"]
    if refund.status_enum in FINAL_STATUSES or not user.has_perm(services.ASSIGN_PERMISSION):
        return None
    return AssignForm(prefix="assign", initial={"assignee": refund.assigned_to_id})


ACTION_FORMS = {
    "approve": NoteForm,
    "deny": DenyForm,
    "ship": ShipForm,
    "receive": ReceiveForm,
    "retry": NoteForm,
    "cancel": NoteForm,
}


def _forms(refund: Refund, shown: set[str], bound: dict | None) -> dict:
    forms = {}
    # A refused form is shown with its error even when the action is no longer offered.
    for name in sorted(
        (shown | set(bound or {})) & set(ACTION_FORMS), key=list(ACTION_FORMS).index
    ):
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
    return forms


def _platform(refund: Refund) -> str:
    key = refund.order.account.adapter_key
    return ADAPTERS.get(key, (None,))[0] or key


def _live_context(refund: Refund) -> dict:
    return {
        "refund": refund,
        "live": live_status(refund, _platform(refund)),
        "signature": live_signature(refund),
    }


def _detail_context(request, refund: Refund, *, bound: dict | None = None) -> dict:
    shown, notes = _available_actions(request.user, refund)
    # A refusal already shown as the posted form's error is not repeated as a note.
    errors = {_sentence(e) for form in (bound or {}).values() for e in form.non_field_errors()}
    notes = [note for note in notes if note not in errors]
    return {
        **_live_context(refund),
        "order": refund.order,
        "timeline": _timeline(refund),
        "marketplace_label": _platform(refund),
        "forms": _forms(refund, shown, bound),
        "assign_form": _assign_form(request.user, refund, bound),
        "action_notes": notes,
    }


def _render_detail(request, refund: Refund, *, bound: dict | None = None, status: int = 200):
    refundable = order_refundable(refund.order)
    previous_pk, next_pk = queue_neighbours(refund)
    context = {
        **_detail_context(request, refund, bound=bound),
        "refundable": refundable,
        "refundable_rows": list(refundable.lines.values()),
        "capabilities": _capabilities(refund.order.account.adapter_key),
        "previous_url": reverse("staff:refund-detail", args=[previous_pk]) if previous_pk else "",
        "next_url": reverse("staff:refund-detail", args=[next_pk]) if next_pk else "",
        "admin_url": (
            reverse("admin:refunds_refund_change", args=[refund.pk])
            if request.user.is_staff
            else ""
        ),
    }
    return render(request, "staff/detail.html", context, status=status)


class RefundDetailView(StaffPermissionMixin, View):
    def get(self, request, pk: int):
        return _render_detail(request, _detail_refund(pk))


class RefundLiveView(StaffPermissionMixin, View):
    """The status block, polled by htmx while the refund is being delivered. `?v=` is the
    signature the page was drawn with: while it still matches only the block comes back (its
    clock moves on); when it differs, the badge, facts, actions and timeline come too, swapped
    out-of-band, and the block carries the new signature."""

    def get(self, request, pk: int):
        refund = _detail_refund(pk)
        if request.GET.get("v") == live_signature(refund):
            response = render(request, "staff/_detail_status.html", _live_context(refund))
        else:
            context = {**_detail_context(request, refund), "changed": True}
            response = render(request, "staff/_detail_live.html", context)
        response["Cache-Control"] = "no-store"
        return response


class RefundActionView(StaffPermissionMixin, View):
    """POST one action from the detail page. Refused: the page again with the error beside the
    field (400) and nothing changed. Done: a message and back to the detail page."""

    def post(self, request, pk: int, action: str):
        if action not in ACTION_FORMS and action != "assign":
            raise Http404("No such action")
        refund = get_object_or_404(Refund.objects.select_related("order"), pk=pk)
        if action == "assign":
            data = request.POST.copy()
            if data.get("assign-to-me"):
                data["assign-assignee"] = str(request.user.pk)
            form = AssignForm(data, prefix="assign")
        elif action == "receive":
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
            case "assign":
                return services.refund_assign(actor=user, refund=refund, assignee=data["assignee"])
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
        if action == "assign":
            who = refund.assigned_to.get_username() if refund.assigned_to else "nobody"
            return f"{refund.number} is now assigned to {who}."
        verbs = {
            "approve": "approved",
            "deny": "denied",
            "ship": "return shipment recorded",
            "receive": "return recorded",
            "retry": "sent again",
            "cancel": "cancelled",
        }
        return f"{refund.number} {verbs[action]}: now {refund.status_label}."
