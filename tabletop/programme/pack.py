"""The evidence pack for an auditor: one printable HTML file, its JSON, and a manifest of every transcript.

`write_pack(folder, output, since=..., as_of=...)` writes a new folder `output` holding:

- `evidence.html`: self-contained and printable (inline CSS, inline SVG plots of the scores
  and the programme's coverage over time; no script, no font, no stylesheet or image fetched
  from anywhere), for the period from `since` to `as_of`;
- `evidence.json`: the same facts as data (the programme's standing, the rehearsals counted);
- `manifest.json`: every transcript in the folder with its SHA-256, what `tabletop verify`
  says of it (judged with the keys trusted now), its signers, and whether it counts as
  evidence or why not; the programme file, the follow-up register and the trusted keys
  with their SHA-256; and the SHA-256 of the two files above.

Only counted runs (`tabletop.programme.status`: verified team rehearsals that ended) that
started within the period count as evidence; every other transcript is listed as excluded
with the reason. Files are written with the private atomic writer (`tabletop.files`), mode
0600; an existing pack folder is refused unless `force`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from tabletop import __version__
from tabletop.programme.folder import ProgrammeFolder, read_folder
from tabletop.programme.status import ProgrammeStatus, Run

TEMPLATES = Path(__file__).parent / "templates"
HTML_NAME, JSON_NAME, MANIFEST_NAME = "evidence.html", "evidence.json", "manifest.json"
COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457")


@dataclass(frozen=True)
class PackResult:
    """What `write_pack` wrote, and how many transcripts counted."""

    folder: Path
    files: tuple[Path, ...]
    counted: int
    excluded: int


def _sha256(path: Path) -> str:
    from tabletop.files import sha256_of

    return sha256_of(path) or ""


def manifest_rows(data: ProgrammeFolder, status: ProgrammeStatus, since: date) -> list[dict[str, Any]]:
    """One row per transcript in the folder: SHA-256, verification, signers, counted or why not."""
    counted = {run.path for run in status.counted}
    reasons = {run.path: reason for run, reason in status.excluded}
    rows = []
    for run in sorted(data.runs, key=lambda r: (r.started, r.path)):
        verification = run.evidence(data.trust)
        day = run.day
        if day is not None and day > status.as_of:
            reason = f"after the period (started {day}, the pack runs to {status.as_of})"
        elif day is not None and day < since and run.path in counted:
            reason = f"before the period (started {day}, the pack starts {since})"
        elif run.path in counted:
            reason = ""
        else:
            reason = reasons.get(run.path) or "not a readable transcript"
        signers = []
        for signer in run.facts.get("signers") or ():
            known = data.trust.get(str(signer.get("key") or "")) if data.trust is not None else None
            signers.append(
                {
                    "name": signer.get("name"),
                    "fingerprint": signer.get("fingerprint"),
                    "trusted": known is not None and not known.samples_only,
                    "self_signed": bool(signer.get("self_signed")),
                }
            )
        rows.append(
            {
                "path": run.path,
                "sha256": run.sha256,
                "started": run.started,
                "team": run.team,
                "mode": run.mode,
                "kind": run.kind,
                "scenario": run.scenario,
                "rules_version": run.rules_version if run.facts else None,
                "score": run.score,
                "rating": run.rating or None,
                "verification": verification if run.facts else run.integrity,
                "signers": signers,
                "evidence": not reason,
                "excluded_because": reason,
            }
        )
    return rows


# --- plots -----------------------------------------------------------------------------------


def _x(day: date, start: date, end: date, left: float, width: float) -> float:
    span = max(1, (end - start).days)
    return left + width * (day - start).days / span


def line_chart(
    series: list[tuple[str, list[tuple[date, float]]]],
    start: date,
    end: date,
    *,
    title: str,
    width: int = 760,
    height: int = 260,
    steps: bool = False,
) -> Markup:
    """An inline SVG chart of values in [0, 1] over dates; every text from a file is escaped."""
    legend_rows = max(1, -(-len(series) // 4))
    left, right, top, bottom = 46.0, 16.0, 28.0, 30.0 + 16 * legend_rows
    height += 16 * (legend_rows - 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick:.0%}</text>')
    month = date(start.year, start.month, 1)
    labels = 0
    while month <= end:
        if month >= start:
            x = _x(month, start, end, left, plot_w)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" class="grid minor"/>'
            )
            if month.month in (1, 4, 7, 10) or labels == 0:
                anchor = "end" if x > left + plot_w - 30 else "middle"
                parts.append(
                    f'<text x="{x:.1f}" y="{top + plot_h + 16}" class="tick" text-anchor="{anchor}">'
                    f"{month:%b %Y}</text>"
                )
                labels += 1
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    for number, (name, points) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        inside = [(d, v) for d, v in points if start <= d <= end]
        if not inside:
            continue
        coordinates = []
        previous_y = None
        for day, value in inside:
            x = _x(day, start, end, left, plot_w)
            y = top + plot_h * (1 - max(0.0, min(1.0, value)))
            if steps and previous_y is not None:
                coordinates.append(f"{x:.1f},{previous_y:.1f}")
            coordinates.append(f"{x:.1f},{y:.1f}")
            previous_y = y
        parts.append(
            f'<polyline points="{" ".join(coordinates)}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for day, value in inside:
            x = _x(day, start, end, left, plot_w)
            y = top + plot_h * (1 - max(0.0, min(1.0, value)))
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(name)}: {value:.0%} on {day}</title></circle>"
            )
        legend_x = left + 10 + 170 * (number % 4)
        legend_y = top + plot_h + 34 + 16 * (number // 4)
        parts.append(
            f'<rect x="{legend_x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{legend_y}" class="legend">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


# --- writing ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def render_pack(
    data: ProgrammeFolder,
    status: ProgrammeStatus,
    rows: list[dict[str, Any]],
    *,
    since: date,
    generated_at: datetime,
) -> tuple[str, dict[str, Any]]:
    """The pack's HTML and JSON documents."""
    in_period = [r for r in status.counted if r.day is not None and since <= r.day <= status.as_of]
    by_team: dict[str, list[tuple[date, float]]] = {}
    for run in in_period:
        if run.score is not None and run.day is not None:
            by_team.setdefault(run.team, []).append((run.day, run.score))
    teams = [t.id for t in status.programme.teams]
    score_series = [(team, by_team[team]) for team in teams if team in by_team]
    coverage = [(d, c) for d, c in status.coverage_history if d >= since]
    plots = {
        "scores": line_chart(
            score_series, since, status.as_of, title="Scores of counted rehearsals, per team"
        ),
        "coverage": line_chart(
            [("coverage", coverage)],
            since,
            status.as_of,
            title="Coverage: share of required rehearsals that are current, month by month",
            steps=True,
        ),
    }
    closed_in_period = [f for f in status.followups if f.closed is not None and since <= f.closed]
    raised_in_period = [f for f in status.followups if since <= f.raised]
    register_entries = [
        e
        for e in (status.register.entries if status.register else [])
        if e.day and since <= e.day <= status.as_of
    ]
    document = {
        "generated_at": generated_at.isoformat(),
        "tool_version": __version__,
        "folder": str(data.folder),
        "period": {"since": since.isoformat(), "as_of": status.as_of.isoformat()},
        "evidence": [r.brief() | {"team": r.team, "signer": r.signer, "sha256": r.sha256} for r in in_period],
        "excluded": [
            {"path": row["path"], "reason": row["excluded_because"]} for row in rows if not row["evidence"]
        ],
        "programme": status.to_json(),
    }
    html = (
        _environment()
        .get_template("pack.html.j2")
        .render(
            status=status,
            data=data,
            since=since,
            generated=generated_at.strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            in_period=in_period,
            rows=rows,
            excluded=[row for row in rows if not row["evidence"]],
            plots=plots,
            raised_in_period=raised_in_period,
            closed_in_period=closed_in_period,
            register_entries=register_entries,
            pct=_pct,
            programme_sha=_sha256(data.programme_path),
        )
    )
    return html, document


def write_pack(
    folder: Path | str,
    output: Path | str,
    *,
    since: date,
    as_of: date,
    programme_file: Path | str | None = None,
    trusted: Path | str | None = None,
    force: bool = False,
    generated_at: datetime,
) -> PackResult:
    """Write the evidence pack of `folder` for `since`..`as_of` into the new folder `output`.

    Every transcript is hashed afresh (the review index is refreshed with `rehash`), so the
    manifest's SHA-256 are those of the files as they are now. Raises
    `tabletop.files.OutputFileError` when `output` exists (without `force`) or cannot be written.
    """
    from tabletop.files import OutputFileError, write_private

    output = Path(output)
    if output.exists() or output.is_symlink():
        if not force:
            raise OutputFileError(
                output, "exists; an evidence pack goes into a new folder (use --force to replace its files)"
            )
        if output.is_symlink() or not output.is_dir():
            raise OutputFileError(output, "exists and is not a folder; not overwritten")
    data = read_folder(folder, programme_file=programme_file, trusted=trusted, rehash=True)
    status = data.status(as_of, since=since)
    rows = manifest_rows(data, status, since)
    html, document = render_pack(data, status, rows, since=since, generated_at=generated_at)
    try:
        output.mkdir(parents=True, exist_ok=force, mode=0o700)
    except FileExistsError:
        raise OutputFileError(output, "exists; use --force to replace its files") from None
    except OSError as error:
        raise OutputFileError(output, f"cannot create: {error.strerror or error}") from None
    html_path = write_private(output / HTML_NAME, html, force=force)
    json_text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    json_path = write_private(output / JSON_NAME, json_text, force=force)
    register = status.register
    counted = sum(1 for row in rows if row["evidence"])
    manifest: dict[str, Any] = {
        "generated_at": generated_at.isoformat(),
        "tool_version": __version__,
        "folder": str(data.folder),
        "period": {"since": since.isoformat(), "as_of": as_of.isoformat()},
        "programme": {"path": str(data.programme_path), "sha256": _sha256(data.programme_path)},
        "trusted_keys": [
            {
                "name": key.name,
                "fingerprint": key.fingerprint,
                "from": key.source,
                "samples_only": key.samples_only,
            }
            for key in data.trust.keys.values()
        ],
        "register": {
            "path": str(register.path) if register else "",
            "sha256": register.sha256 if register else "",
            "intact": register.intact if register else True,
            "problems": list(register.problems) if register else [],
            "entries": len(register.entries) if register else 0,
        },
        "files": {
            HTML_NAME: hashlib.sha256(html.encode("utf-8")).hexdigest(),
            JSON_NAME: hashlib.sha256(json_text.encode("utf-8")).hexdigest(),
        },
        "counted": counted,
        "excluded": len(rows) - counted,
        "transcripts": rows,
    }
    manifest_path = write_private(
        output / MANIFEST_NAME, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", force=force
    )
    return PackResult(output, (html_path, json_path, manifest_path), counted, len(rows) - counted)


__all__ = ["PackResult", "Run", "line_chart", "manifest_rows", "render_pack", "write_pack"]
