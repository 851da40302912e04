"""What a first `make run` relies on: the package metadata setuptools reads without complaint, and
the run target's options."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_license_is_an_spdx_string_with_its_file():
    """A TOML table for `project.license` is deprecated by setuptools (it warns on every
    install); an SPDX expression and `license-files` are the current form."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    # license-files and SPDX strings need setuptools 77 or newer
    assert any(
        re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in build["requires"]
    )


def test_make_run_starts_solo_practice_with_hints():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "tabletop run $(SCENARIO) --solo --hints" in recipe
