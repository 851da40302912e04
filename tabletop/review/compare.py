"""Two scored transcripts side by side: expectation by expectation, or area by area."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabletop.review.entry import TranscriptEntry, ratings_of
from tabletop.scoring import NOT_APPLICABLE, OPEN, TEAMMATES

BY_EXPECTATION = "expectation"
BY_AREA = "area"
UNCOUNTED = (NOT_APPLICABLE, OPEN)
"""Expectation statuses the scorer leaves out of every total."""


@dataclass(frozen=True)
class Side:
    """One transcript of a comparison: who and what, and the scorer's numbers unchanged."""

    path: str
    scenario: str
    title: str
    started: str
    group: str
    participants: tuple[str, ...]
    integrity: str
    problem: str
    score: float | None
    passed: int | None
    applicable: int | None
    areas: Mapping[str, float]
    ratings: Mapping[str, str]
    findings: tuple[Mapping[str, Any], ...] = ()
    conditions: str = ""
    rules_version: int = 0
    evidence: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "scenario": self.scenario,
            "title": self.title,
            "started": self.started,
            "team": self.group,
            "participants": list(self.participants),
            "integrity": self.integrity,
            "problem": self.problem,
            "evidence": self.evidence,
            "score": self.score,
            "passed": self.passed,
            "applicable": self.applicable,
            "areas": dict(self.areas),
            "ratings": dict(self.ratings),
            "findings": [dict(f) for f in self.findings],
            "conditions": self.conditions,
            "rules_version": self.rules_version,
        }


@dataclass(frozen=True)
class ComparisonRow:
    """One line of the comparison: an expectation (same scenario) or an area (different ones).

    `a` and `b` hold that side's figures (None where the line does not exist on that side):
    for an expectation the scorer's status, credit, weight, flags, deadline, done_at and by;
    for an area its ratio and P/S/M/U rating.
    """

    key: str
    label: str
    area: str
    a: Mapping[str, Any] | None
    b: Mapping[str, Any] | None

    @property
    def delta(self) -> float | None:
        """B minus A (credit or area ratio); None when a side lacks it or it is not counted."""
        name = "credit" if self.a is not None and "credit" in self.a else "ratio"
        if self.a is None or self.b is None:
            return None
        if self.a.get("status") in UNCOUNTED or self.b.get("status") in UNCOUNTED:
            return None
        if TEAMMATES in (self.a.get("scope"), self.b.get("scope")):  # solo: never in the score
            return None
        left, right = self.a.get(name), self.b.get(name)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return right - left
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "area": self.area,
            "a": dict(self.a) if self.a is not None else None,
            "b": dict(self.b) if self.b is not None else None,
            "delta": self.delta,
        }


@dataclass(frozen=True)
class Comparison:
    """Two transcripts compared; `by` is `expectation` for the same scenario, else `area`."""

    a: Side
    b: Side
    by: str
    rows: tuple[ComparisonRow, ...] = field(default_factory=tuple)

    @property
    def same_scenario(self) -> bool:
        return self.by == BY_EXPECTATION

    @property
    def score_delta(self) -> float | None:
        if self.a.score is None or self.b.score is None:
            return None
        return self.b.score - self.a.score

    @property
    def warnings(self) -> tuple[str, ...]:
        """Why the two numbers may not be like for like: other conditions, other rules."""
        return unlike(
            ("A", self.a.conditions, self.a.rules_version), ("B", self.b.conditions, self.b.rules_version)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "same_scenario": self.same_scenario,
            "by": self.by,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "score_delta": self.score_delta,
            "warnings": list(self.warnings),
            "rows": [row.to_json() for row in self.rows],
        }


def side_of(entry: TranscriptEntry, card: Mapping[str, Any]) -> Side:
    """A comparison side from a transcript's review row and the scorer's JSON for it."""
    return Side(
        path=entry.path,
        scenario=entry.scenario,
        title=entry.title,
        started=entry.started,
        group=entry.group,
        participants=tuple(entry.participants),
        integrity=entry.integrity,
        problem=entry.problem,
        evidence=entry.evidence,
        score=card.get("score"),
        passed=card.get("passed"),
        applicable=card.get("applicable"),
        areas=dict(card.get("areas") or {}),
        ratings=ratings_of(card),
        findings=tuple(card.get("findings") or ()),
        conditions=entry.conditions,
        rules_version=entry.rules_version,
    )


def unlike(*runs: tuple[str, str, int]) -> tuple[str, ...]:
    """Warnings when runs (label, conditions, rules version) were not played alike."""
    out: list[str] = []
    conditions = {c for _, c, _ in runs if c}
    if len(conditions) > 1:
        out.append(
            "played under different conditions ("
            + "; ".join(f"{label}: {c or 'not recorded'}" for label, c, _ in runs)
            + "): solo and team, hints and speed change what a score means"
        )
    versions = {v for _, _, v in runs if v}
    if len(versions) > 1:
        out.append(
            "played under different scoring rules versions ("
            + ", ".join(f"{label}: {v}" for label, _, v in runs)
            + "); both are scored with this tool's rules"
        )
    return tuple(out)


def compare(
    entry_a: TranscriptEntry,
    card_a: Mapping[str, Any],
    entry_b: TranscriptEntry,
    card_b: Mapping[str, Any],
    *,
    areas_of: Mapping[str, str] | None = None,
) -> Comparison:
    """Compare two scored transcripts.

    `card_a` / `card_b` are the scorer's JSON; `areas_of` maps action ids to their area (the
    scenario's catalog), used when the scorer's expectation rows do not carry an area.
    """
    a, b = side_of(entry_a, card_a), side_of(entry_b, card_b)
    if a.scenario and a.scenario == b.scenario:
        rows = _by_expectation(card_a, card_b, areas_of or {})
        return Comparison(a, b, BY_EXPECTATION, rows)
    return Comparison(a, b, BY_AREA, _by_area(a, b))


_EXPECTATION_FIGURES = ("status", "credit", "weight", "flags", "anchor", "deadline", "done_at", "by", "scope")


def _by_expectation(
    card_a: Mapping[str, Any], card_b: Mapping[str, Any], areas_of: Mapping[str, str]
) -> tuple[ComparisonRow, ...]:
    left = {e["id"]: e for e in card_a.get("expectations") or ()}
    right = {e["id"]: e for e in card_b.get("expectations") or ()}
    order = list(left) + [key for key in right if key not in left]
    rows = []
    for key in order:
        ea, eb = left.get(key), right.get(key)
        some = ea or eb or {}
        action = str(some.get("action") or "")
        area = str(some.get("area") or areas_of.get(action, ""))
        label = str(some.get("title") or action or key)
        rows.append(ComparisonRow(key, label, area, _figures(ea), _figures(eb)))
    return tuple(rows)


def _figures(expectation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if expectation is None:
        return None
    return {name: expectation.get(name) for name in _EXPECTATION_FIGURES}


def _by_area(a: Side, b: Side) -> tuple[ComparisonRow, ...]:
    order = list(a.areas) + [area for area in b.areas if area not in a.areas]
    rows = []
    for area in order:
        rows.append(
            ComparisonRow(
                key=area,
                label=area.replace("_", " "),
                area=area,
                a=_area_figures(a, area),
                b=_area_figures(b, area),
            )
        )
    return tuple(rows)


def _area_figures(side: Side, area: str) -> dict[str, Any] | None:
    if area not in side.areas:
        return None
    return {"ratio": side.areas[area], "rating": side.ratings.get(area, "")}


def compare_transcripts(
    path_a: str | Path, path_b: str | Path, *, root: str | Path | None = None
) -> Comparison:
    """Read, verify and score two transcript files and compare them.

    Raises `tabletop.review.evidence.EvidenceError` for a file that is not a transcript.
    Paths in the result are relative to `root` when given, else as passed.
    """
    from tabletop.files import file_sha256
    from tabletop.review.entry import _relative, summarize
    from tabletop.review.evidence import load_evidence

    sides = []
    areas_of: dict[str, str] = {}
    for path in (Path(path_a), Path(path_b)):
        evidence = load_evidence(path)
        stat = path.stat()
        label = _relative(path, root) if root is not None else str(path)
        entry = summarize(
            evidence, path=label, size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=file_sha256(path)
        )
        if evidence.scenario is not None:
            areas_of.update({action.id: action.area for action in evidence.scenario.actions})
        sides.append((entry, evidence.card))
    (entry_a, card_a), (entry_b, card_b) = sides
    return compare(entry_a, card_a, entry_b, card_b, areas_of=areas_of)
