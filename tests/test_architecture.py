"""The import contracts (pyproject.toml [tool.importlinter], run by `make lint`) hold on the tree
and bite when an arrow runs the wrong way: checked on a copy of the tree with one bad import
added."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "refunds", "orders", "integrations")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path):
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_contract(tree):
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # A vendor package reaching for one of our models.
        (
            "integrations/llzw/probe.py",
            "from refunds.delivery.models import OutboundAction\n",
            "Layers: config -> refunds -> orders -> integrations BROKEN",
        ),
        # The base of the domain importing the app above it.
        (
            "orders/probe.py",
            "from refunds.models import Refund\n",
            "Layers: config -> refunds -> orders -> integrations BROKEN",
        ),
        # One platform's code borrowing another's.
        (
            "integrations/noventiq/probe.py",
            "from integrations.shoplazza.webhooks import sign\n",
            "Vendor packages are independent of each other BROKEN",
        ),
    ],
)
def test_a_wrong_way_import_breaks_a_contract(tree, module, line, contract):
    (tree / module).write_text(line)
    result = _lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert contract in result.stdout
