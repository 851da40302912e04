"""The core (model, loader, engine, transcript, scoring, report) never imports Textual or the network layer."""

import pkgutil
import subprocess
import sys

import pytest

import tabletop

ADAPTERS = ("tabletop.ui", "tabletop.net", "tabletop.cli")
FORBIDDEN = ("textual", "aiohttp", "websockets", "textual_serve", "tabletop.ui", "tabletop.net")


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(tabletop.__path__, prefix="tabletop."):
        if not info.name.startswith(ADAPTERS) and info.name != "tabletop.__main__":
            names.append(info.name)
    return names


def test_there_is_a_core_to_check():
    assert "tabletop.model" in core_modules()


@pytest.mark.parametrize("module", core_modules())
def test_core_module_imports_no_ui_or_network(module):
    code = (
        "import sys, importlib; importlib.import_module({!r}); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {!r} or m.startswith({!r})); "
        "print(','.join(bad))"
    ).format(module, ("textual", "aiohttp", "websockets", "textual_serve"), ("tabletop.ui", "tabletop.net"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} pulls in {result.stdout.strip()}"
