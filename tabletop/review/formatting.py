"""Plain-text renderings of review figures shared by the terminal tables and the review app."""

from __future__ import annotations

from collections.abc import Iterable

from tabletop.timing import format_duration

BLOCKS = "▁▂▃▄▅▆▇█"
STATUS_MARKS = {
    "met": "✓ met",
    "late": "◑ late",
    "missed": "✗ missed",
    "open": "… open",
    "not_applicable": "– n/a",
}
INTEGRITY_TEXT = {
    "ok": "ok",
    "torn": "torn tail",
    "broken": "BROKEN",
    "unreadable": "UNREADABLE",
    "forged": "FORGED",
    "invalid": "INVALID",
}
EVIDENCE_TEXT = {
    "verified": "signed",
    "unsigned": "unsigned",
    "untrusted": "untrusted key",
    "sample": "sample key",
}


def evidence_text(integrity: str, evidence: str) -> str:
    """The integrity, and for an intact transcript who vouches for it (`ok, signed`)."""
    text = integrity_text(integrity)
    if integrity in ("ok", "torn") and evidence in EVIDENCE_TEXT:
        text += f", {EVIDENCE_TEXT[evidence]}"
    return text


def score_text(value: float | None) -> str:
    """A score or ratio in [0, 1] as the scorer reports it, two decimals (`—` when none)."""
    return "—" if value is None else f"{value:.2f}"


def delta_text(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) < 0.005:
        return "="
    return f"{value:+.2f}"


def passed_text(passed: int | None, applicable: int | None) -> str:
    if passed is None or applicable is None:
        return "—"
    return f"{passed}/{applicable}"


def duration_text(seconds: float) -> str:
    return format_duration(seconds) if seconds else "—"


def status_text(status: str | None) -> str:
    if status is None:
        return "—"
    return STATUS_MARKS.get(status, status)


def integrity_text(integrity: str) -> str:
    return INTEGRITY_TEXT.get(integrity, integrity)


def sparkline(values: Iterable[float]) -> str:
    """Values in [0, 1] as a row of block characters, oldest first."""
    out = []
    for value in values:
        value = min(1.0, max(0.0, value))
        out.append(BLOCKS[min(len(BLOCKS) - 1, int(value * len(BLOCKS)))])
    return "".join(out)


def area_label(area: str) -> str:
    return area.replace("_", " ")


AREA_SHORT = {
    "coordination": "Crd",
    "data_protection": "DP",
    "notification": "Ntf",
    "technical": "Tec",
    "recovery": "Rec",
    "learning": "Lrn",
}


def area_short(area: str) -> str:
    return AREA_SHORT.get(area, area[:3].title())
