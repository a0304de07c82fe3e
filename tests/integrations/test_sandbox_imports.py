"""The simulators are written from the platforms' documents, not from our adapters: a sandbox
module (integrations/<vendor>/sandbox.py) imports nothing from its vendor package (client,
mapping, webhooks) nor any other first-party code but the sandbox server. Otherwise a signing or
parsing mistake of the adapter would be mirrored by its simulator instead of caught."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
FIRST_PARTY = ("config", "orders", "refunds", "integrations")
ALLOWED = ("integrations.sandbox",)


def imported_modules(source: str, package: str) -> list[str]:
    """Every module an import statement of `source` names (relative ones resolved against
    `package`), inside functions too."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            # `from . import webhooks` names the submodule in the alias
            if not node.module:
                found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def forbidden_imports(source: str, package: str) -> list[str]:
    def first_party(name: str) -> bool:
        return name.split(".")[0] in FIRST_PARTY

    def allowed(name: str) -> bool:
        return any(name == a or name.startswith(f"{a}.") for a in ALLOWED)

    return [m for m in imported_modules(source, package) if first_party(m) and not allowed(m)]


def _sandbox_modules() -> dict[str, Path]:
    return {path.parent.name: path for path in sorted(INTEGRATIONS.glob("*/sandbox.py"))}


def test_every_platform_has_a_sandbox_module():
    assert sorted(_sandbox_modules()) == ["hepsiglobal", "llzw", "noventiq", "shoplazza"]


@pytest.mark.parametrize("vendor", sorted(_sandbox_modules()))
def test_sandbox_imports_nothing_from_its_adapter(vendor):
    path = _sandbox_modules()[vendor]

    assert forbidden_imports(path.read_text(), f"integrations.{vendor}") == []


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("from .webhooks import sign", ["integrations.noventiq.webhooks"]),
        ("from . import mapping", ["integrations.noventiq", "integrations.noventiq.mapping"]),
        ("from integrations.noventiq.client import X", ["integrations.noventiq.client"]),
        ("import integrations.base", ["integrations.base"]),
        ("def f():\n    from refunds.models import Refund", ["refunds.models"]),
        ("from ..llzw import mapping", ["integrations.llzw"]),
    ],
)
def test_the_check_names_an_adapter_import(source, named):
    assert forbidden_imports(source, "integrations.noventiq") == named


def test_the_check_allows_the_sandbox_server_and_the_standard_library():
    source = "import hashlib\nfrom integrations.sandbox.server import Simulator\nimport requests"

    assert forbidden_imports(source, "integrations.noventiq") == []
