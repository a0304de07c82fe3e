"""Adapter key -> adapter (and sandbox) class. An explicit dict: adding a marketplace means one
package under integrations/ and one entry here; nothing outside integrations/ changes.

Two errors, and only two:
- `UnknownAdapter` (a LookupError): no adapter is registered under the key, e.g. an account or
  a stored webhook naming a marketplace Refund Desk no longer has. Callers that can do without
  an adapter catch this one.
- `BrokenAdapter`: the key is registered but its class cannot be imported (a bug or a broken
  install). Nobody catches it: it must fail loudly, never quietly drop a platform's rate limit
  or capabilities. The `integrations.E001` system check reports it at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any, NamedTuple

from .base import MarketplaceAdapter


class UnknownAdapter(LookupError):
    """No marketplace adapter is registered under this key."""


class BrokenAdapter(RuntimeError):
    """A registered adapter (or sandbox) cannot be imported; raised from the ImportError or
    AttributeError that says why."""


class Entry(NamedTuple):
    label: str
    adapter: str  # dotted path of the MarketplaceAdapter subclass
    sandbox: str  # dotted path of the sandbox Simulator subclass


# Imported on first use (and checked at start-up by the integrations.E001 system check).
ADAPTERS: dict[str, Entry] = {
    "hepsiglobal": Entry(
        "HepsiGlobal",
        "integrations.hepsiglobal.client.HepsiGlobalAdapter",
        "integrations.hepsiglobal.sandbox.HepsiGlobalSandbox",
    ),
    "noventiq": Entry(
        "Noventiq Checkout",
        "integrations.noventiq.client.NoventiqAdapter",
        "integrations.noventiq.sandbox.NoventiqSandbox",
    ),
    "llzw": Entry(
        "LLZW shop",
        "integrations.llzw.client.LlzwAdapter",
        "integrations.llzw.sandbox.LlzwSandbox",
    ),
    "shoplazza": Entry(
        "Shoplazza",
        "integrations.shoplazza.client.ShoplazzaAdapter",
        "integrations.shoplazza.sandbox.ShoplazzaSandbox",
    ),
}


def adapter_choices() -> list[tuple[str, str]]:
    return [(key, entry.label) for key, entry in ADAPTERS.items()]


def _entry(key: str) -> Entry:
    try:
        return ADAPTERS[key]
    except KeyError:
        raise UnknownAdapter(f"No marketplace adapter is registered for {key!r}") from None


def _load(key: str, path: str) -> Any:
    module, _, name = path.rpartition(".")
    try:
        return getattr(import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise BrokenAdapter(
            f"The {key!r} marketplace adapter cannot be loaded from {path}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def adapter_class(key: str) -> type[MarketplaceAdapter]:
    """Raises UnknownAdapter or BrokenAdapter."""
    cls: type[MarketplaceAdapter] = _load(key, _entry(key).adapter)
    return cls


def sandbox_class(key: str) -> Any:
    """Raises UnknownAdapter or BrokenAdapter."""
    return _load(key, _entry(key).sandbox)


def broken_adapters() -> dict[str, str]:
    """Registered keys whose adapter cannot be loaded -> why (the system check's input)."""
    broken = {}
    for key in ADAPTERS:
        try:
            adapter_class(key)
        except BrokenAdapter as exc:
            broken[key] = str(exc)
    return broken
