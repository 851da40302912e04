"""A transcript read, verified and scored by the project's own reader and scorer, for review."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What the review says of a transcript's integrity (`Evidence.integrity`)
INTEGRITY_OK = "ok"
INTEGRITY_TORN = "torn"  # a torn last line: everything before it is intact and scored
INTEGRITY_BROKEN = "broken"  # the hash chain fails: an edit, a reordering or a deletion
INTEGRITY_UNREADABLE = "unreadable"  # not a transcript at all, or no session_started
INTEGRITY_FORGED = "forged"  # the chain holds but a signature does not, or the scenario was swapped
INTEGRITY_INVALID = "invalid"  # the event grammar or a content rule is broken
INTEGRITY_STATES = (
    INTEGRITY_OK,
    INTEGRITY_TORN,
    INTEGRITY_BROKEN,
    INTEGRITY_UNREADABLE,
    INTEGRITY_FORGED,
    INTEGRITY_INVALID,
)


class EvidenceError(ValueError):
    """A file that is not a usable transcript; the message names the file and why."""


@dataclass(frozen=True)
class Evidence:
    """Everything the review console shows about one transcript.

    `events` are the transcript's events (dicts, as written); `card` the scorer's JSON
    (what `tabletop score --json` prints), `scorecard` the scorer's object; `integrity` is one of
    ok / torn / broken / unreadable with `problem` saying what is wrong.
    """

    path: Path
    events: list[dict[str, Any]]
    integrity: str
    problem: str = ""
    scenario: Any = None  # tabletop.model.Scenario, or None when it cannot be rebuilt
    scorecard: Any = None
    card: dict[str, Any] = field(default_factory=dict)
    evidence: str = ""
    """`tabletop verify`'s status: verified, unsigned, untrusted, sample, forged, invalid, unreadable."""
    headline: str = ""
    verification: Any = None
    """The `tabletop.transcript.Verification` itself (its signers, torn tail, problems)."""

    @property
    def started(self) -> dict[str, Any]:
        for event in self.events[:1]:
            if event.get("type") == "session_started":
                return event
        return {}

    @property
    def started_wall(self) -> str:
        return str(self.started.get("wall") or "")

    @property
    def event_count(self) -> int:
        return len(self.events)

    @property
    def duration(self) -> float:
        return max((float(e.get("t") or 0) for e in self.events), default=0.0)

    @property
    def ended(self) -> bool:
        """Whether the session ended (its signature and the hot wash may follow the end)."""
        return any(e.get("type") == "session_ended" for e in reversed(self.events))


def load_evidence(path: str | Path, *, score: bool = True) -> Evidence:
    """Check a transcript's hash chain, read its events and embedded scenario, and score it.

    Raises EvidenceError for a file with no readable session start or embedded scenario; a
    broken chain or a torn tail is not an error: it is reported in `integrity` and `problem`,
    and the events that were read are still scored so that the evidence stays visible.
    """
    from tabletop import scoring
    from tabletop.transcript import FORGED, INVALID, read_run, verify_evidence

    path = Path(path)
    try:  # one pass: the chain is verified while the events are read
        run = read_run(path)
    except Exception as error:
        raise EvidenceError(_first_line(error)) from None
    verdict = run.verdict
    verification = verify_evidence(path, chain=verdict)
    scenario, events = run.scenario, list(run.events)
    integrity, problem = INTEGRITY_OK, ""
    if verdict.only_torn_tail:
        integrity = INTEGRITY_TORN
        problem = f"torn last line {verdict.first_bad_line} (everything before it is intact)"
    elif not verdict.ok:
        integrity = INTEGRITY_BROKEN
        problem = f"hash chain broken: {_short(verdict.summary(), path)}"
    if verification.status in (FORGED, INVALID) and integrity in (INTEGRITY_OK, INTEGRITY_TORN):
        integrity = INTEGRITY_FORGED if verification.status == FORGED else INTEGRITY_INVALID
        problem = verification.headline()

    scorecard = None
    card: dict[str, Any] = {}
    if score:
        try:
            scorecard = scoring.score(scenario, events)
            card = scorecard.to_json()
        except Exception as error:  # an unscorable file still keeps its row
            if integrity == INTEGRITY_OK:
                integrity = INTEGRITY_UNREADABLE
            problem = "; ".join(p for p in (problem, f"cannot score: {_first_line(error)}") if p)
    return Evidence(
        path,
        events,
        integrity,
        problem,
        scenario,
        scorecard,
        card,
        verification.status,
        verification.headline(),
        verification,
    )


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _short(message: str, path: Path) -> str:
    """A verifier message without the path prefix the review table already shows."""
    for prefix in (f"{path}:", f"{path.name}:"):
        if message.startswith(prefix):
            message = message[len(prefix) :].lstrip("0123456789: ")
    return message


__all__ = ["INTEGRITY_UNREADABLE", "Evidence", "EvidenceError", "load_evidence"]
