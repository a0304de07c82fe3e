"""factory_boy factories for the test suite."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from orders.models import Customer, MarketplaceAccount, Order, OrderLine, PaymentLine

PASSWORD = "refund-desk-test"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if extracted:
            for name in extracted:
                self.groups.add(Group.objects.get(name=name))
        self.save()


def agent(**kwargs):
    return UserFactory(is_staff=True, groups=["Refund agent"], **kwargs)


def manager(**kwargs):
    return UserFactory(is_staff=True, groups=["Refund manager"], **kwargs)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceAccount
        django_get_or_create = ("name",)

    adapter_key = "llzw"
    name = factory.Sequence(lambda n: f"Account {n}")
    base_url = "http://127.0.0.1:9/llzw"
    credentials = factory.LazyFunction(lambda: {"username": "seller", "password": "secret"})
    webhook_secret = "whsec-test"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    name = factory.Faker("name")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    account = factory.SubFactory(AccountFactory)
    external_number = factory.Sequence(lambda n: f"ORD-{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    status = "paid"
    currency = "USD"
    placed_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))
    paid_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=3))


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    external_id = factory.Sequence(lambda n: f"LINE-{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = "Product"
    quantity = 2
    unit_price = Decimal("10.00")


def make_order(
    *,
    lines=((2, "10.00", "0.00", "0.00"),),
    shipping="5.00",
    additional="0.00",
    tip="0.00",
    payments=None,
    **kwargs,
) -> Order:
    """An order with lines given as (quantity, unit price, discount, tax), totals that add up and
    one card payment for the grand total (or `payments` as a list of amounts)."""
    order = OrderFactory(**kwargs)
    items = Decimal("0")
    for i, (qty, price, discount, tax) in enumerate(lines):
        line = OrderLineFactory(
            order=order,
            quantity=qty,
            unit_price=Decimal(price),
            discount=Decimal(discount),
            tax=Decimal(tax),
            sku=f"{order.external_number}-SKU-{i + 1}",
            external_id=f"{order.external_number}-L{i + 1}",
        )
        items += line.paid_amount
    order.items_total = items
    order.shipping_total = Decimal(shipping)
    order.additional_total = Decimal(additional)
    order.tip_total = Decimal(tip)
    order.grand_total = items + order.shipping_total + order.additional_total + order.tip_total
    order.save()
    for i, amount in enumerate(payments or [order.grand_total]):
        PaymentLine.objects.create(
            order=order,
            external_id=f"{order.external_number}-P{i + 1}",
            method="card" if i == 0 else "gift_card",
            amount=Decimal(amount),
        )
    return order
