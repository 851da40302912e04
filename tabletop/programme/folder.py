"""Read a folder of transcripts for the programme: the programme file, the review index's rows and facts, the register.

This is the one place where `tabletop programme`, `tabletop followups`, `tabletop evidence`
and the review console's programme view get their data, so they agree: the programme file
nearest above the folder (`tabletop.programme.config.find_programme`) unless one is named,
the folder's review index brought up to date (each transcript verified and scored once, then
read from the index), the keys trusted for the folder (`tabletop.keys.trusted_keys`) and the
follow-up register (`tabletop.programme.register`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tabletop.problems import Problem, ScenarioError
from tabletop.programme.config import Programme, find_programme, load_programme
from tabletop.programme.register import Register, read_register
from tabletop.programme.status import ProgrammeStatus, Run, programme_status


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while a folder's facts are read and judged.

    They are some 100,000 small containers for 10,000 transcripts, none in a cycle; without
    this the collector walks them again and again while they are built (more than half the
    time of a warm read). Reference counting still frees them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ProgrammeError(Exception):
    """The folder or the programme file cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class ProgrammeFolder:
    """A folder of transcripts read for the programme."""

    folder: Path
    programme: Programme
    programme_path: Path
    runs: list[Run]
    register: Register
    trust: Any

    def status(self, as_of: date, since: date | None = None) -> ProgrammeStatus:
        with gc_paused():
            return programme_status(
                self.programme,
                self.runs,
                self.register,
                as_of=as_of,
                trust=self.trust,
                since=since,
                source=str(self.programme_path),
            )


def programme_for(folder: Path | str, programme_file: Path | str | None = None) -> tuple[Programme, Path]:
    """The programme that governs `folder`: `programme_file`, else the nearest above it."""
    path = Path(programme_file) if programme_file is not None else find_programme(folder)
    if path is None:
        raise ProgrammeError([f"{folder}: no programme.yaml above this folder, and none ships with tabletop"])
    try:
        return load_programme(path), path
    except ScenarioError as error:
        problems: list[Problem] = error.problems
        raise ProgrammeError([str(p) for p in problems]) from None


def read_folder(
    folder: Path | str,
    *,
    programme_file: Path | str | None = None,
    trusted: Path | str | None = None,
    index: Any = None,
    rehash: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> ProgrammeFolder:
    """Read `folder` for the programme, refreshing its review index (or using `index`, a
    `tabletop.review.index.TranscriptIndex` the caller opened and refreshed)."""
    from tabletop.keys import trusted_keys
    from tabletop.review.index import TranscriptIndex

    folder = Path(folder)
    if not folder.is_dir():
        raise ProgrammeError(
            [f"{folder}: no such folder of transcripts (expected a folder holding *.jsonl files)"]
        )
    programme, path = programme_for(folder, programme_file)
    own = index is None
    if own:
        index = TranscriptIndex(folder)
        index.refresh(progress=progress, workers=workers, rehash=rehash)
    try:
        with gc_paused():
            facts = index.programme_facts()
            runs = [
                Run(e.path, e.sha256, facts.get(e.path) or {}, e.integrity, e.problem)
                for e in index.entries()
            ]
    finally:
        if own:
            index.close()
    trust = trusted_keys(folder, trusted)
    return ProgrammeFolder(folder, programme, path, runs, read_register(folder, trust), trust)
