"""The three groups and their permissions. Created by migration 0002 and again after every
`migrate` or `flush` (post_migrate), so the roles always exist, also in transactional tests."""

from django.apps import apps as global_apps

AGENT = [
    "view_refund",
    "add_refund",
    "change_refund",
    "approve_refund",
    "deny_refund",
    "receive_refund",
    "cancel_refund",
    "retry_refund",
    "view_refundline",
    "view_refundevent",
    "view_order",
    "view_orderline",
    "view_paymentline",
    "view_customer",
    "view_marketplaceaccount",
    "view_returnpolicy",
    "view_outboundaction",
    "view_webhookevent",
]
MANAGER = [
    *AGENT,
    "approve_large_refund",
    "change_outboundaction",
    "add_order",
    "change_order",
    "change_marketplaceaccount",
    "add_marketplaceaccount",
    "change_returnpolicy",
    "add_returnpolicy",
    "change_customer",
]
GROUPS = {"Customer": [], "Refund agent": AGENT, "Refund manager": MANAGER}


def ensure_groups(apps=global_apps, **kwargs) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = Permission.objects.filter(
            codename__in=codenames,
            content_type__app_label__in=["refunds", "orders", "integrations"],
        )
        if set(group.permissions.values_list("pk", flat=True)) != {p.pk for p in perms}:
            group.permissions.set(perms)
