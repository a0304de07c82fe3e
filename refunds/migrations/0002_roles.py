"""The three groups and their model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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
    "change_customer",
]
GROUPS = {"Customer": [], "Refund agent": AGENT, "Refund manager": MANAGER}


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = Permission.objects.filter(
            codename__in=codenames,
            content_type__app_label__in=["refunds", "orders", "integrations"],
        )
        group.permissions.set(perms)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("refunds", "0001_initial"),
        ("orders", "0001_initial"),
        ("integrations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
