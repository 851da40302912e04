"""Where scenario data lives: the bundled data, the nearest `injects/` and `scoring/` folders, finding a scenario by id.

A file resolves against the nearest `injects/` or `scoring/` folder above it, then the bundled
ones (the folder above the package, and `tabletop/data/`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tabletop
from tabletop.catalog import Catalog, load_catalog_from
from tabletop.problems import Problem, ScenarioError, did_you_mean
from tabletop.yamlsource import is_yaml

DATASETS = ("scenarios", "injects", "scoring")
"""The data folders a project root holds."""


def data_roots() -> list[Path]:
    """The bundled project root(s): the folder above the package, and `tabletop/data/`."""
    package = Path(tabletop.__file__).resolve().parent
    roots = []
    for candidate in (package.parent, package / "data"):
        if any((candidate / name).is_dir() for name in DATASETS):
            roots.append(candidate)
    return roots


def _nearest(start: Path, name: str) -> Path | None:
    folder = start if start.is_dir() else start.parent
    for parent in [folder, *folder.parents]:
        if (parent / name).is_dir():
            return parent / name
    return None


def data_dirs(start: Path | None, name: str) -> list[Path]:
    """`injects/` or `scoring/` folders to search: the nearest above `start`, then bundled."""
    found: list[Path] = []
    if start is not None:
        nearest = _nearest(start.resolve(), name)
        if nearest is not None:
            found.append(nearest)
    for root in data_roots():
        candidate = (root / name).resolve()
        if candidate.is_dir() and candidate not in found:
            found.append(candidate)
    return found


_catalog_cache: dict[tuple[Any, ...], Catalog] = {}


def _signature(folders: list[Path]) -> tuple[Any, ...]:
    items = []
    for folder in folders:
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            try:
                stat = path.stat()
            except OSError:
                continue
            items.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(items)


def catalog_for(start: Path | None) -> Catalog:
    """The catalog a file at `start` resolves against (cached while the files are unchanged)."""
    folders = data_dirs(start, "scoring")
    key = (tuple(map(str, folders)), _signature(folders))
    catalog = _catalog_cache.get(key)
    if catalog is None:
        catalog = load_catalog_from(folders)
        _catalog_cache.clear()
        _catalog_cache[key] = catalog
    return catalog


def load_catalog(root: Path | str | None = None) -> Catalog:
    """Roles, actions, regimes and rubric sets from `root/scoring` (or `root` if it is one).

    Without a root, the bundled data. Raises ScenarioError when the files have problems.
    """
    if root is None:
        folders = data_dirs(None, "scoring")
    else:
        root = Path(root)
        folder = root / "scoring" if (root / "scoring").is_dir() else root
        folders = [folder.resolve()] + [d for d in data_dirs(None, "scoring") if d != folder.resolve()]
    catalog = load_catalog_from(folders)
    if catalog.problems:
        raise ScenarioError(catalog.problems)
    return catalog


def _scenario_files(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.glob("*.y*ml")) if is_yaml(p)] if folder.is_dir() else []


def scenario_folders() -> list[Path]:
    """`./scenarios` then the bundled `scenarios/` folders (no duplicates)."""
    folders: list[Path] = []
    for candidate in [Path.cwd() / "scenarios"] + [root / "scenarios" for root in data_roots()]:
        resolved = candidate.resolve()
        if resolved.is_dir() and resolved not in folders:
            folders.append(resolved)
    return folders


def find_scenario(name: str | Path) -> Path:
    """A scenario file: `name` itself if it is a file, else the id looked up in ./scenarios,
    then the bundled scenarios/. Raises ScenarioError naming the close ids when not found."""
    path = Path(name)
    if path.is_file():
        return path
    text = str(name)
    known: list[str] = []
    for folder in scenario_folders():
        for candidate in _scenario_files(folder):
            if candidate.stem == text:
                return candidate
            known.append(candidate.stem)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        message = "no such scenario file"
    else:
        message = f"no scenario with id {text!r}{did_you_mean(text, known)}; known: {', '.join(sorted(set(known))) or 'none'}"
    raise ScenarioError([Problem(text, 0, 0, "scenario", message)])
