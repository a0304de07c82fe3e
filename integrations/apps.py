from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Marketplace integrations"

    def ready(self) -> None:
        checks.register(adapters_load, checks.Tags.compatibility)


def adapters_load(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered marketplace adapter imports: a broken one fails `manage.py check` (and
    every server or worker start) instead of going unnoticed until its first delivery."""
    from .registry import broken_adapters  # when the check runs: apps.py loads before the apps

    return [
        checks.Error(
            why,
            hint="Fix the adapter's package or its registry entry.",
            id="integrations.E001",
            obj=key,
        )
        for key, why in broken_adapters().items()
    ]
