"""Request ids for the logs, across web and worker.

The middleware takes the proxy's X-Request-ID when it is well-formed (letters, digits, ".", "_",
"-", at most 64) or makes one, keeps it in a context variable for the request and answers with
it. A task published during the request carries it in its headers (config/celery.py), so the
worker's lines about that request have the same request_id; they also have the task's id.
RequestContextFilter puts both on every record, and the JSON formatter (LOG_FORMAT=json, the
production default) writes them as fields, with the refund_id / outbound_action_id that a line
passes in `extra`."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def incoming_request_id(value: str | None) -> str:
    """The caller's id when it is well-formed, else a new one (never log what a client wrote
    unchecked: no newlines, no megabyte headers)."""
    if value and _WELL_FORMED.fullmatch(value):
        return value
    return new_request_id()


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = incoming_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _current_task_id() -> str:
    from celery import current_task

    if current_task:
        return current_task.request.id or ""
    return ""


class RequestContextFilter(logging.Filter):
    """Adds request_id and task_id ("" outside a request or a task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_var.get()
        if not getattr(record, "task_id", ""):
            record.task_id = _current_task_id()
        return True


class Formatter(JsonFormatter):
    """One JSON object a line: time, level, logger, message, request_id, task_id and whatever
    the call passed in `extra` (refund_id, outbound_action_id, ...)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt", "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s"
        )
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        super().__init__(*args, **kwargs)
