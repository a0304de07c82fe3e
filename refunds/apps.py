from django.apps import AppConfig
from django.db.models.signals import post_migrate

OUR_APPS = {"orders", "refunds", "integrations"}


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = "Refunds"

    def ready(self) -> None:
        # Runs after each of our apps' permissions exist (auth's handler is connected first).
        post_migrate.connect(_groups_after_migrate, dispatch_uid="refunds.ensure_groups")


def _groups_after_migrate(sender, **kwargs) -> None:
    if getattr(sender, "label", None) not in OUR_APPS:
        return
    # Imported when the signal fires: the app registry is ready then, not when apps.py loads.
    from django.apps import apps as global_apps

    from .roles import ensure_groups

    ensure_groups(apps=global_apps)
