"""A refund's audit events as sentences a person reads: who (and in which role) did what, with
the amounts in the refund's currency and the marketplace's answer summarised. Used by the admin
and by the staff detail page's timeline; the raw `changes` stay available, pretty-printed."""

from __future__ import annotations

import json

from orders.money import format_money

from .models import RefundEvent
from .states import STATUS_LABELS, RefundStatus

VERBS = {
    "request": "asked for a refund",
    "approve": "approved the refund",
    "deny": "denied the refund",
    "ship": "recorded the return shipment",
    "receive": "recorded the return as received",
    "confirm": "confirmed the refund",
    "cancel": "cancelled the refund",
    "retry": "sent the refund to the marketplace again",
    "assign": "assigned the refund",
    "drift": "found that the marketplace's record differs from ours",
    "drift_resolved": "marked the difference with the marketplace as resolved",
    "outcome_unknown": "could not learn whether the marketplace refunded",
    "marketplace_status": "read the refund's status on the marketplace",
    "add_evidence": "added photos",
}

MARKETPLACE_ANSWERS = {
    "marketplace_confirmed": "the marketplace confirmed the refund",
    "marketplace_accepted": "the marketplace accepted the refund and will answer later",
    "marketplace_rejected": "the marketplace rejected the refund",
    "marketplace_failedfornow": "the marketplace could not take the refund now (tried again later)",
}


def status_label(value: str) -> str:
    try:
        return STATUS_LABELS[RefundStatus(value)]
    except ValueError:
        return value or "—"


def actor_description(event: RefundEvent) -> str:
    """The actor with their role: "bob (refund manager)", "alice (customer)", "The system
    (webhook)"."""
    actor = event.actor
    if actor is None:
        label = event.actor_label or "system"
        via = label.split(":", 1)[1].strip() if ":" in label else ""
        return f"The system ({via})" if via else "The system"
    if actor.is_staff or actor.is_superuser:
        groups = [g.name.lower() for g in actor.groups.all()]
        if actor.is_superuser:
            role = "administrator"
        elif "refund manager" in groups:
            role = "refund manager"
        elif "refund agent" in groups:
            role = "refund agent"
        else:
            role = "staff"
        return f"{event.actor_label} ({role})"
    return f"{event.actor_label} (customer)"


def _money(value, currency: str) -> str:
    try:
        return format_money(value, currency)
    except Exception:  # a value that is not a number: show it as recorded
        return str(value)


def event_sentence(event: RefundEvent) -> str:
    """One sentence for an event, e.g. "alice (refund manager) approved the refund of 20.00 USD:
    Requested → Processing."."""
    refund = event.refund
    currency = refund.currency
    changes = event.changes if isinstance(event.changes, dict) else {}
    who = actor_description(event)
    action = event.action
    if action in MARKETPLACE_ANSWERS:
        what = f"{who}: {MARKETPLACE_ANSWERS[action]}"
    else:
        what = f"{who} {VERBS.get(action, action.replace('_', ' '))}"
    if action == "request":
        total = changes.get("total", refund.total)
        what += f" of {_money(total, currency)}"
        extra = []
        if changes.get("shipping") not in (None, "", "0", "0.00"):
            extra.append(f"shipping {_money(changes['shipping'], currency)}")
        if changes.get("additional") not in (None, "", "0", "0.00"):
            extra.append(f"additional {_money(changes['additional'], currency)}")
        if extra:
            what += f" (including {', '.join(extra)})"
        if changes.get("refund_only"):
            what += ", without a return"
    elif action in ("approve", "deny", "cancel", "confirm"):
        what += f" of {_money(refund.total, currency)}"
    elif action == "receive" and "total" in changes:
        what += f"; the refund is now {_money(changes['total'], currency)}"
    elif action == "retry" and changes.get("outcome_was_unknown"):
        what += " after an unknown outcome"
    elif action == "assign" and isinstance(changes.get("assigned_to"), list | tuple):
        before, after = [*changes["assigned_to"], "", ""][:2]
        if after and not before:
            what = (
                f"{who} took the refund"
                if after == event.actor_label
                else f"{who} assigned the refund to {after}"
            )
        elif after:
            what = f"{who} reassigned the refund from {before} to {after}"
        else:
            what = f"{who} unassigned the refund (it was {before}'s)"
    elif action == "add_evidence" and isinstance(changes.get("photos"), list):
        names = [str(p.get("name", "")) for p in changes["photos"] if isinstance(p, dict)]
        count = len(changes["photos"])
        what = f"{who} added {count} photo{'' if count == 1 else 's'}"
        if any(names):
            what += f" ({', '.join(n for n in names if n)})"
    elif action == "outcome_unknown" and changes.get("attempts"):
        what += f" after {changes['attempts']} attempts"
    if event.from_status and event.to_status and event.from_status != event.to_status:
        what += f": {status_label(event.from_status)} → {status_label(event.to_status)}"
    elif not event.from_status and event.to_status:
        what += f": {status_label(event.to_status)}"
    override = changes.get("policy_override") if action == "request" else None
    if isinstance(override, dict) and override.get("note"):
        what += f", overriding the return policy: “{str(override['note']).strip()}”"
    ids = [
        f"{name.replace('_', ' ')} {pair[1]}"
        for name, pair in changes.items()
        if name in ("external_id", "external_request_id") and isinstance(pair, list | tuple)
    ]
    if ids:
        what += f" ({', '.join(ids).replace('external id', 'marketplace refund id')})"
    what = what.replace("external request id", "marketplace request id")
    sentence = what.rstrip(".") + "."
    if event.note:
        note = event.note.strip()
        label = (
            "Reason"
            if action == "deny"
            else "Marketplace said"
            if action in MARKETPLACE_ANSWERS
            else "Note"
        )
        sentence += f" {label}: “{note}”"
    return sentence


def pretty_json(data) -> str:
    """Raw data for a person to inspect: indented JSON with keys sorted, '' for nothing."""
    if data in (None, "", {}, []):
        return ""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str)
