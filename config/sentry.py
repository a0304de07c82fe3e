"""Error reporting to Sentry, only when SENTRY_DSN is set (config/settings/production.py).

Django and Celery integrations; no personal data (send_default_pii False: no user e-mails,
cookies or client addresses go out with an error); environment and release from settings."""

from __future__ import annotations


def init_sentry(dsn: str, *, environment: str, release: str, traces_sample_rate: float) -> bool:
    """Initialise sentry-sdk for `dsn`; nothing at all when it is empty. Whether it was."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    return True
