"""The CLI is one package whose verb modules depend on cli.core, never on one another (only cli.main
gathers them), so no import circle can come back."""

from pathlib import Path

import pytest

from tests.unit.test_layers import ROOT, imported_modules

CLI = ROOT / "core_server" / "cli"
VERBS = sorted(p for p in CLI.glob("*.py") if p.stem not in {"__init__", "main", "core"})


def test_the_cli_is_a_package_and_its_old_modules_are_gone() -> None:
    assert (CLI / "__init__.py").exists() and (CLI / "core.py").exists()
    assert not list((ROOT / "core_server").glob("cli*.py"))


@pytest.mark.parametrize("verb", VERBS, ids=lambda p: p.stem)
def test_a_verb_module_imports_no_other_verb_module(verb: Path) -> None:
    siblings = {f"core_server.cli.{p.stem}" for p in VERBS if p != verb} | {"core_server.cli.main"}
    assert not imported_modules(verb) & siblings


def test_core_imports_no_verb_module() -> None:
    assert not {name for name in imported_modules(CLI / "core.py") if name.startswith("core_server.cli.")}
