"""`manage.py seed_demo`: demo data for `make run`. Idempotent: a second run adds nothing.

One marketplace account per platform pointing at the sandbox, about 200 orders over the last 60
days (through `order_upsert`), refunds in every status for every marketplace (through the refund
services, so the audit trail exists; those a person asked for as "Arrived damaged" with a photo),
the staff users agent@ and manager@, and the customers alice@ and bob@ with orders and refunds of
their own. Every password is "refund-desk-demo".
When the sandbox answers, the orders are loaded into each simulator and the simulators are told
where to send webhooks.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from integrations.base import Confirmed, OutboundKind, Rejected
from integrations.registry import adapter_class
from orders.models import Customer, MarketplaceAccount, Order, ReturnPolicy
from orders.services import order_upsert
from refunds import notifications
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.delivery.outbox import action_record_past_delivery
from refunds.evidence import prepare_images
from refunds.models import Refund, RefundEvent, RefundEvidence
from refunds.services import (
    Received,
    refund_apply_marketplace_result,
    refund_approve,
    refund_cancel,
    refund_deny,
    refund_receive,
    refund_request,
    refund_ship,
)

PASSWORD = "refund-desk-demo"  # noqa: S105 - the documented demo password
WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105 - the sandboxes' documented demo secret
ORDERS_PER_ACCOUNT = 50

# Demo credentials: the top of each integrations/<key>/sandbox.py.
ACCOUNTS = {
    "hepsiglobal": {
        "name": "HepsiGlobal demo",
        "credentials": {"client_id": "demo", "client_secret": "demo-secret"},
        "options": {},
        "rate_limit": None,
        "prefix": "HG-",
    },
    "noventiq": {
        "name": "Noventiq demo",
        "credentials": {"username": "demo", "password": "demo-secret"},
        "options": {"merchant_email": "refunds@example.com"},
        "rate_limit": None,
        "prefix": "NQ-",
    },
    "llzw": {
        "name": "LLZW demo",
        "credentials": {"username": "demo", "password": "demo-secret"},
        "options": {},
        "rate_limit": None,
        "prefix": "",  # LLZW order ids are integers
    },
    "shoplazza": {
        "name": "Shoplazza demo",
        "credentials": {
            "client_id": "demo",
            "client_secret": "demo-secret",
            "refresh_token": "demo-refresh-token",
        },
        "options": {},
        "rate_limit": Decimal("2"),
        "prefix": "SL-",
    },
}

USERS = [
    # username, first name, group, is_staff
    ("agent@example.com", "Ada Agent", "Refund agent", True),
    ("manager@example.com", "Max Manager", "Refund manager", True),
    ("alice@example.com", "Alice Walker", "Customer", False),
    ("bob@example.com", "Bob Stone", "Customer", False),
]

PRODUCTS = [
    ("MUG-01", "Ceramic mug"),
    ("TEA-02", "Green tea 100 g"),
    ("LMP-03", "Desk lamp"),
    ("HDP-04", "Headphones"),
    ("BAG-05", "Canvas tote bag"),
    ("KBD-06", "Mechanical keyboard"),
    ("SCK-07", "Wool socks"),
    ("BTL-08", "Steel water bottle"),
    ("CHR-09", "Phone charger"),
    ("PLN-10", "Notebook planner"),
    ("JKT-11", "Rain jacket"),
    ("SPK-12", "Bluetooth speaker"),
]
# The products' categories as the demo marketplaces name them (a return policy can exclude one).
CATEGORIES = {
    "MUG-01": "Kitchen",
    "TEA-02": "Food",
    "LMP-03": "Home",
    "HDP-04": "Electronics",
    "BAG-05": "Accessories",
    "KBD-06": "Electronics",
    "SCK-07": "Hygiene",
    "BTL-08": "Kitchen",
    "CHR-09": "Electronics",
    "PLN-10": "Stationery",
    "JKT-11": "Clothing",
    "SPK-12": "Electronics",
}
RETURN_ADDRESS = "Refund Desk demo returns\nUnit 4, 12 Harbour Road\n3011 AB Rotterdam\nNetherlands"
# Each account's return policy (orders.ReturnPolicy): windows of different lengths, final-sale
# categories and SKUs, so the portal shows lines that can and cannot be returned.
POLICIES = {
    "hepsiglobal": {
        "window_days": 30,
        "non_returnable_categories": "Food\nHygiene",
        "non_returnable_skus": "",
        "return_instructions": "Pack the items in their original box with the return slip inside. "
        "Drop the parcel at any PostNL point; keep the receipt until the refund is issued.",
    },
    "noventiq": {
        "window_days": 14,
        "non_returnable_categories": "",
        "non_returnable_skus": "CHR-09",
        "return_instructions": "",
    },
    "llzw": {
        "window_days": 30,
        "non_returnable_categories": "Hygiene",
        "non_returnable_skus": "",
        "return_instructions": "",
    },
    "shoplazza": {
        "window_days": None,
        "non_returnable_categories": "",
        "non_returnable_skus": "TEA-02",
        "return_instructions": "",
    },
}
CUSTOMERS = [
    "Mia Chen",
    "Noah Patel",
    "Emma Rossi",
    "Liam Novak",
    "Olivia Kaya",
    "Lucas Meyer",
    "Sofia Silva",
    "Elif Demir",
    "Yuki Tanaka",
    "Omar Haddad",
    "Chloe Martin",
    "Jonas Berg",
]

# (scenario, refund_only): every status, with and without goods coming back.
SCENARIOS = [
    ("REQUESTED", True),
    ("REQUESTED", False),
    ("WAITING", False),
    ("WAITING_SHIPPED", False),
    ("PROCESSING", True),
    ("PROCESSING", False),
    ("ISSUED", True),
    ("ISSUED", False),
    ("DENIED", True),
    ("DENIED", False),
    ("CANCELLED", True),
    ("CANCELLED", False),
    ("ATTENTION", True),
    ("LARGE", False),
]
LARGE_ORDER_INDEX = SCENARIOS.index(("LARGE", False))
# Which orders (by index, per account) are Alice's and Bob's: among them, refunds in most statuses.
ALICE_ORDERS = {0, 2, 5, 7, 10, 12, 20, 30, 40}
BOB_ORDERS = {1, 3, 6, 8, 11, 21, 31, 41}


class Command(BaseCommand):
    help = "Create the demo accounts, users, orders and refunds (idempotent)."

    def handle(self, *args, **options):
        rng = random.Random(2026)  # noqa: S311 - demo data, not security
        # Demo data is history: no e-mails for it.
        with notifications.muted():
            users = self._users()
            accounts = self._accounts()
            created_orders = self._orders(accounts, users, rng)
            for key in ("alice", "bob"):
                Customer.objects.filter(email=users[key].email).update(user=users[key])
            created_refunds = sum(
                self._refunds(account, users, rng) for account in accounts.values()
            )
            # After the refunds: they are history, requested before the policies existed.
            self._policies(accounts)
        self.stdout.write(
            f"Demo data: {len(accounts)} accounts, {Order.objects.count()} orders "
            f"({created_orders} new), {Refund.objects.count()} refunds ({created_refunds} new). "
            f"Log in as agent@example.com or manager@example.com, password {PASSWORD}."
        )
        self._load_sandbox(accounts)

    # --- users and accounts ---------------------------------------------------------------------

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, full_name, group, is_staff in USERS:
            first, last = full_name.split(" ", 1)
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": username,
                    "first_name": first,
                    "last_name": last,
                    "is_staff": is_staff,
                },
            )
            if created:
                user.set_password(PASSWORD)
                user.save(update_fields=["password"])
            user.groups.add(Group.objects.get(name=group))
            users[username.split("@")[0]] = user
        return users

    def _accounts(self) -> dict[str, MarketplaceAccount]:
        accounts = {}
        for key, spec in ACCOUNTS.items():
            account, _ = MarketplaceAccount.objects.update_or_create(
                name=spec["name"],
                defaults={
                    "adapter_key": key,
                    "base_url": f"{settings.SANDBOX_URL.rstrip('/')}/{key}",
                    "credentials": spec["credentials"],
                    "webhook_secret": WEBHOOK_SECRET,
                    "options": spec["options"],
                    "rate_limit_per_second": spec["rate_limit"],
                    "is_enabled": True,
                },
            )
            accounts[key] = account
        return accounts

    def _policies(self, accounts) -> None:
        for key, account in accounts.items():
            ReturnPolicy.objects.update_or_create(
                account=account,
                defaults={
                    **POLICIES[key],
                    "reasons_needing_explanation": ["other"],
                    "reasons_needing_photo": ["damaged"],
                    "return_address": RETURN_ADDRESS,
                },
            )

    # --- orders ---------------------------------------------------------------------------------

    def _orders(self, accounts, users, rng) -> int:
        now = timezone.now().replace(microsecond=0)
        created = 0
        for key, account in accounts.items():
            prefix = ACCOUNTS[key]["prefix"]
            existing = set(
                Order.objects.filter(account=account).values_list("external_number", flat=True)
            )
            for i in range(ORDERS_PER_ACCOUNT):
                number = f"{prefix}{1001 + i}"
                data = _order_data(account, number, i, now, rng, users)  # keeps rng in step
                if number in existing:
                    continue
                order_upsert(data=data)
                created += 1
        return created

    # --- refunds --------------------------------------------------------------------------------

    def _refunds(self, account, users, rng) -> int:
        if Refund.objects.filter(order__account=account).exists():
            return 0
        orders = list(
            Order.objects.filter(account=account)
            .select_related("customer__user")
            .order_by("external_number")
        )
        made = 0
        with transaction.atomic():
            for index, (scenario, refund_only) in enumerate(SCENARIOS):
                refund = self._refund(orders[index], index, scenario, refund_only, users, account)
                # Demo refunds are history: dated after their order, nothing left to send.
                when = orders[index].placed_at + dt.timedelta(days=1 + index % 3, hours=index)
                _backdate(refund, when)
                made += 1
        return made

    def _refund(self, order, index, scenario, refund_only, users, account) -> Refund:
        agent, manager = users["agent"], users["manager"]
        owner = order.customer.user
        requester = owner or (agent if index % 3 else None)
        lines = list(order.lines.order_by("id"))
        can = adapter_class(account.adapter_key).capabilities
        # One unit, or every unit where the platform refunds an item whole (Noventiq).
        units = 1 if can.partial_line_quantity else lines[0].quantity
        kwargs = {}
        if scenario == "LARGE":
            kwargs["lines"] = [
                LineChoice(order_line_id=li.pk, quantity=li.quantity) for li in lines
            ]
            requester = agent
        elif index % 3 == 0 or not refund_only:
            kwargs["lines"] = [LineChoice(order_line_id=lines[0].pk, quantity=lines[0].quantity)]
        elif index % 3 == 1 and can.shipping_refund:
            kwargs["lines"] = [LineChoice(order_line_id=lines[0].pk, quantity=units)]
            kwargs["shipping_amount"] = order.shipping_total
        elif can.partial_amount_refund:
            kwargs["amount"] = (order.items_total * Decimal("0.4")).quantize(Decimal("0.01"))
        else:  # the platform refunds whole units only
            kwargs["lines"] = [LineChoice(order_line_id=lines[0].pk, quantity=units)]
        reason = REASONS[index % len(REASONS)]
        if reason == "damaged" and requester is not None:
            kwargs["photos"] = prepare_images([_demo_photo(order.external_number)])
        refund = refund_request(
            actor=requester,
            order=order,
            reason_code=reason,
            refund_only=refund_only,
            customer_explanation=EXPLANATIONS[index % len(EXPLANATIONS)],
            via=f"{account.adapter_key} (demo)",
            **kwargs,
        )
        if scenario in ("REQUESTED", "LARGE"):
            return refund
        if scenario == "CANCELLED":
            return refund_cancel(
                actor=requester or agent, refund=refund, note="The customer changed their mind"
            )
        if scenario == "DENIED" and refund_only:
            return refund_deny(
                actor=manager, refund=refund, reason="The return window of 30 days has passed."
            )
        refund = refund_approve(actor=manager, refund=refund)
        if scenario == "DENIED":
            return refund_deny(
                actor=agent, refund=refund, reason="No return arrived within 14 days of approval."
            )
        if scenario in ("WAITING", "WAITING_SHIPPED"):
            if scenario == "WAITING_SHIPPED":
                refund = refund_ship(
                    actor=owner or agent,
                    refund=refund,
                    tracking_id=f"1Z{order.pk:08d}",
                    carrier="UPS",
                )
            return refund
        if not refund_only:
            refund = refund_receive(
                actor=agent,
                refund=refund,
                received={
                    line.pk: Received(line.quantity, restock=True) for line in refund.lines.all()
                },
                note="Box arrived in good condition.",
            )
        # Finished refunds were delivered before the demo began: their create action is final
        # with the platform's answer. PROCESSING ones stay pending: the worker really delivers
        # them to the sandbox, which holds the same orders.
        via = f"{account.adapter_key} (demo)"
        if scenario == "ISSUED":
            result = Confirmed(external_id=f"DEMO-{refund.pk}")
            action_record_past_delivery(_create_action(refund), outcome="confirmed")
            return refund_apply_marketplace_result(refund=refund, result=result, via=via)
        if scenario == "ATTENTION":
            result = Rejected(code="demo", message="Refund amount exceeds the captured payment")
            action_record_past_delivery(
                _create_action(refund), outcome="rejected", message=result.message
            )
            return refund_apply_marketplace_result(refund=refund, result=result, via=via)
        return refund

    # --- sandbox ---------------------------------------------------------------------------------

    def _load_sandbox(self, accounts) -> None:
        base = settings.SANDBOX_URL.rstrip("/")
        try:
            requests.get(f"{base}/_control/health", timeout=2).raise_for_status()
        except requests.RequestException:
            self.stdout.write(
                f"The sandbox at {base} is not reachable; demo orders were not loaded into the "
                "simulators (start it with `manage.py runsandbox`, then run seed_demo again)."
            )
            return
        for key, account in accounts.items():
            orders = [
                _import_format(o, account)
                for o in Order.objects.filter(account=account)
                .select_related("customer")
                .prefetch_related("lines", "payments")
            ]
            try:
                requests.put(
                    f"{base}/_control/{key}/config",
                    json={
                        "callback_url": settings.REFUND_DESK_BASE_URL,
                        "webhook_secret": WEBHOOK_SECRET,
                    },
                    timeout=10,
                ).raise_for_status()
                response = requests.post(f"{base}/_control/{key}/orders", json=orders, timeout=30)
                response.raise_for_status()
            except requests.RequestException as exc:
                self.stdout.write(f"Sandbox {key}: could not load the demo orders ({exc}).")
                continue
            self.stdout.write(f"Sandbox {key}: {len(orders)} orders loaded.")


def _demo_photo(order_number: str) -> ContentFile:
    """A drawn "photo" of a dented parcel for the demo's damaged refunds (JPEG, as a phone sends
    it; refunds.evidence re-encodes it like any upload)."""
    image = Image.new("RGB", (640, 480), (236, 232, 226))
    draw = ImageDraw.Draw(image)
    draw.rectangle((90, 110, 550, 410), fill=(196, 154, 108), outline=(120, 88, 56), width=6)
    draw.rectangle((90, 110, 550, 150), fill=(176, 136, 92))
    draw.line([(250, 150), (300, 230), (270, 300), (330, 410)], fill=(70, 45, 30), width=10)
    draw.text((100, 60), f"Demo photo: order {order_number} arrived damaged", fill=(31, 41, 51))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return ContentFile(out.getvalue(), name=f"parcel-{order_number}.jpg")


REASONS = [
    "damaged",
    "defective",
    "not_as_described",
    "changed_mind",
    "incorrect_order",
    "late_delivery",
    "incompatibility_issues",
]
EXPLANATIONS = [
    "The handle broke off during shipping.",
    "It stopped working after two days.",
    "The colour is not what the photos show.",
    "",
    "I received a different model.",
]


def _backdate(refund: Refund, when: dt.datetime) -> None:
    """Date a demo refund's history from `when`: its events half a day apart (so the queue's
    waiting times and due-by marks read as they would for real history, not as all made a moment
    ago), its issue date with its last event. Seed data only: the audit trail is otherwise never
    rewritten (RefundEvent.save refuses)."""
    now = timezone.now()
    step = dt.timedelta(hours=12)
    events = list(
        RefundEvent.objects.filter(refund=refund).order_by("id").values_list("pk", "action")
    )
    last = min(when, now)
    number = -1
    for pk, action in events:
        if action != "add_evidence":  # photos sent with the request are dated with it
            number += 1
        last = min(when + step * max(number, 0), now)
        RefundEvent.objects.filter(pk=pk).update(created_at=last)
    RefundEvidence.objects.filter(refund=refund).update(created_at=min(when, now))
    changes: dict = {"created_at": min(when, now)}
    if refund.issued_at is not None:
        changes["issued_at"] = last
    Refund.objects.filter(pk=refund.pk).update(**changes)


def _create_action(refund: Refund) -> int:
    return (
        OutboundAction.objects.filter(refund=refund, kind=OutboundKind.CREATE_REFUND)
        .values_list("pk", flat=True)
        .get()
    )


def _money(rng, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) / 100


def _order_data(account, number, index, now, rng, users) -> dict:
    """One order in the import format (orders/services.py), deterministic for a given rng."""
    if index in ALICE_ORDERS:
        email, name = users["alice"].email, users["alice"].get_full_name()
    elif index in BOB_ORDERS:
        email, name = users["bob"].email, users["bob"].get_full_name()
    else:
        name = CUSTOMERS[(index + len(account.name)) % len(CUSTOMERS)]
        email = name.lower().replace(" ", ".") + "@example.com"
    placed = now - dt.timedelta(days=rng.randint(1, 59), minutes=rng.randint(0, 1440))
    lines = []
    for n, (sku, product) in enumerate(rng.sample(PRODUCTS, rng.randint(2, 4))):
        quantity = rng.randint(1, 3)
        price = _money(rng, 499, 8999)
        if index == LARGE_ORDER_INDEX and n == 0:
            quantity, price = 2, Decimal("349.00")
        discount = (
            (price * quantity * Decimal("0.1")).quantize(Decimal("0.01"))
            if (rng.random() < 0.3)
            else Decimal("0.00")
        )
        tax = (
            (price * quantity * Decimal("0.08")).quantize(Decimal("0.01"))
            if (rng.random() < 0.4)
            else Decimal("0.00")
        )
        lines.append(
            {
                "external_id": f"{number}-{n + 1}",
                "sku": sku,
                "name": product,
                "quantity": quantity,
                "unit_price": str(price),
                "discount": str(discount),
                "tax": str(tax),
                "fulfilled_quantity": quantity,
                "category": CATEGORIES[sku],
            }
        )
    shipping = rng.choice([Decimal("0.00"), Decimal("4.99"), Decimal("9.99")])
    items = sum(
        (
            Decimal(li["unit_price"]) * li["quantity"]
            - Decimal(li["discount"])
            + Decimal(li["tax"])
            for li in lines
        ),
        Decimal("0"),
    )
    total = items + shipping
    gift = Decimal("10.00") if index % 7 == 3 and total > 20 else Decimal("0")
    payments = [{"external_id": f"{number}-P1", "method": "card", "amount": str(total - gift)}]
    if gift:
        payments.append({"external_id": f"{number}-P2", "method": "gift_card", "amount": str(gift)})
    status = (
        "pending" if index == ORDERS_PER_ACCOUNT - 1 else ("fulfilled" if index % 4 else "paid")
    )
    if status == "pending":
        for li in lines:
            li["fulfilled_quantity"] = 0
    fulfilled = placed + dt.timedelta(days=1) if status == "fulfilled" else None
    delivered = fulfilled + dt.timedelta(days=2) if fulfilled else None
    return {
        "account_id": account.pk,
        "external_number": number,
        "customer": {"email": email, "name": name},
        "status": status,
        "currency": "USD",
        "placed_at": placed.isoformat(),
        "paid_at": None if status == "pending" else (placed + dt.timedelta(minutes=2)).isoformat(),
        # Fulfilled orders were sent the next day and delivered two days later (if by now).
        "fulfilled_at": fulfilled.isoformat() if fulfilled else None,
        "delivered_at": delivered.isoformat() if delivered and delivered < now else None,
        "shipping_total": str(shipping),
        "grand_total": str(total),
        "lines": lines,
        "payments": [] if status == "pending" else payments,
    }


def _import_format(order: Order, account: MarketplaceAccount) -> dict:
    """An order back in the import format, for the simulators."""
    return {
        "account": account.name,
        "external_number": order.external_number,
        "customer": {"email": order.customer.email, "name": order.customer.name},
        "status": order.status,
        "currency": order.currency,
        "placed_at": order.placed_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "shipping_total": str(order.shipping_total),
        "tip_total": str(order.tip_total),
        "additional_total": str(order.additional_total),
        "grand_total": str(order.grand_total),
        "lines": [
            {
                "external_id": li.external_id,
                "sku": li.sku,
                "name": li.name,
                "quantity": li.quantity,
                "unit_price": str(li.unit_price),
                "discount": str(li.discount),
                "tax": str(li.tax),
                "fulfilled_quantity": li.fulfilled_quantity,
                "cancelled_quantity": li.cancelled_quantity,
            }
            for li in order.lines.all()
        ],
        "payments": [
            {"external_id": p.external_id, "method": p.method, "amount": str(p.amount)}
            for p in order.payments.all()
        ],
    }
