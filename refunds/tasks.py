"""Beat tasks of the refunds app."""

from celery import shared_task

from .services import refunds_flag_stale_processing


@shared_task(name="refunds.tasks.flag_stale_processing", ignore_result=True)
def flag_stale_processing() -> int:
    """Flag refunds the marketplace accepted long ago and never confirmed (see the service)."""
    return refunds_flag_stale_processing()
