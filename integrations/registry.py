"""Adapter key -> adapter (and sandbox) class. An explicit dict: adding a marketplace means one
package under integrations/ and one entry here; nothing outside integrations/ changes."""

from __future__ import annotations

from importlib import import_module
from typing import NamedTuple

from .base import MarketplaceAdapter


class Entry(NamedTuple):
    label: str
    adapter: str  # dotted path of the MarketplaceAdapter subclass
    sandbox: str  # dotted path of the sandbox Simulator subclass


# Imported on first use so that a broken vendor package cannot break the others.
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


def _load(path: str):
    module, _, name = path.rpartition(".")
    return getattr(import_module(module), name)


def adapter_class(key: str) -> type[MarketplaceAdapter]:
    try:
        entry = ADAPTERS[key]
    except KeyError:
        raise LookupError(f"No marketplace adapter is registered for {key!r}") from None
    return _load(entry.adapter)


def sandbox_class(key: str):
    return _load(ADAPTERS[key].sandbox)
