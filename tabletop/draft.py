"""A scenario being resolved: what validated so far and where it was written, for the cross-reference checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tabletop.catalog import Catalog
from tabletop.problems import Span


@dataclass
class Located:
    """A validated piece of a scenario with where it was written, and (for rubric and
    regime expectations) the scenario entry that brought it in."""

    item: Any
    span: Span
    via: Span | None = None
    origin: str = ""


@dataclass
class Draft:
    """A scenario being resolved: what validated so far, for the cross-reference checks."""

    span: Span
    catalog: Catalog
    roles: list[str] | None = None
    duration: int | None = None
    starts_at: datetime | None = None
    starts_at_valid: bool = True
    injects: list[Located] = field(default_factory=list)
    phases: list[Located] = field(default_factory=list)
    responses: list[Located] = field(default_factory=list)
    expectations: list[Located] = field(default_factory=list)
    avoid: list[Located] = field(default_factory=list)
    inject_count: int = 0
