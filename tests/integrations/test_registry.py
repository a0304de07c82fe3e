"""The adapter registry: every registered key resolves; an unknown key is UnknownAdapter (the
one error callers may catch); a registered adapter that cannot be imported is BrokenAdapter,
caught by nobody and reported by the integrations.E001 system check."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from integrations import registry
from integrations.base import MarketplaceAdapter
from integrations.registry import (
    ADAPTERS,
    BrokenAdapter,
    Entry,
    UnknownAdapter,
    adapter_choices,
    adapter_class,
    sandbox_class,
)


def test_every_registered_key_resolves_to_its_adapter_and_sandbox():
    for key, entry in ADAPTERS.items():
        cls = adapter_class(key)
        assert issubclass(cls, MarketplaceAdapter)
        assert (cls.key, cls.label) == (key, entry.label)
        assert sandbox_class(key).key == key
    assert adapter_choices() == [
        ("hepsiglobal", "HepsiGlobal"),
        ("noventiq", "Noventiq Checkout"),
        ("llzw", "LLZW shop"),
        ("shoplazza", "Shoplazza"),
    ]


def test_an_unknown_key_is_unknown_adapter_a_lookup_error():
    with pytest.raises(UnknownAdapter) as info:
        adapter_class("retired")

    assert isinstance(info.value, LookupError)
    assert str(info.value) == "No marketplace adapter is registered for 'retired'"
    with pytest.raises(UnknownAdapter):
        sandbox_class("retired")


@pytest.fixture
def broken(monkeypatch):
    monkeypatch.setitem(
        ADAPTERS,
        "missing_module",
        Entry("Gone", "integrations.no_such_vendor.client.Adapter", "integrations.x.Sandbox"),
    )
    monkeypatch.setitem(
        ADAPTERS,
        "missing_class",
        Entry("Renamed", "integrations.llzw.client.RenamedAdapter", "integrations.x.Sandbox"),
    )


def test_an_adapter_that_cannot_be_imported_is_broken_adapter_not_a_lookup_error(broken):
    with pytest.raises(BrokenAdapter) as missing_module:
        adapter_class("missing_module")
    with pytest.raises(BrokenAdapter) as missing_class:
        adapter_class("missing_class")

    assert not isinstance(missing_module.value, LookupError | ImportError | AttributeError)
    assert isinstance(missing_module.value.__cause__, ModuleNotFoundError)
    assert str(missing_module.value) == (
        "The 'missing_module' marketplace adapter cannot be loaded from "
        "integrations.no_such_vendor.client.Adapter: ModuleNotFoundError: "
        "No module named 'integrations.no_such_vendor'"
    )
    assert isinstance(missing_class.value.__cause__, AttributeError)


def test_the_system_check_names_each_broken_adapter(broken):
    errors = [e for e in checks.run_checks() if e.id == "integrations.E001"]

    assert sorted(e.obj for e in errors) == ["missing_class", "missing_module"]
    assert all(e.level == checks.ERROR for e in errors)
    with pytest.raises(SystemCheckError, match="missing_module"):
        call_command("check")


def test_the_system_check_is_quiet_when_every_adapter_loads():
    assert registry.broken_adapters() == {}
    assert [e for e in checks.run_checks() if e.id == "integrations.E001"] == []
