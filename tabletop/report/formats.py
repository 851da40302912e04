"""Render a PostMortem as Markdown, self-contained HTML (inline CSS and SVG) or JSON, from packaged templates."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from tabletop.report.postmortem import PostMortem
from tabletop.timing import format_offset

FORMATS = ("md", "html", "json")
TEMPLATES = Path(__file__).parent / "templates"

_MD_SPECIALS = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
        "|": "\\|",
        "<": "&lt;",
        ">": "&gt;",
    }
)


def md(value: Any) -> str:
    """Player text made safe inside Markdown (and a table cell): no markup, no HTML, one line."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    text = text.translate(_MD_SPECIALS)
    if text[:1] in "#+-=>" and text:
        text = "\\" + text
    return text


def pct(value: float) -> str:
    return f"{value:.0%}"


@lru_cache(maxsize=2)
def _environment(html: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["pct"] = pct
    return env


def render_report(pm: PostMortem, fmt: str = "md", generated_at: datetime | None = None) -> str:
    """The post-mortem as text. `generated_at` is stamped in the output (pass it for stable files)."""
    if fmt not in FORMATS:
        raise ValueError(f"expected a format among {', '.join(FORMATS)}, received {fmt!r}")
    if generated_at is None:
        generated_at = datetime.now(UTC)
    stamp = generated_at.strftime("%Y-%m-%d %H:%M UTC" if generated_at.tzinfo else "%Y-%m-%d %H:%M")
    if fmt == "json":
        return (
            json.dumps(
                {"generated_at": generated_at.isoformat(), **pm.to_json()}, indent=2, ensure_ascii=False
            )
            + "\n"
        )
    template = _environment(fmt == "html").get_template(f"postmortem.{fmt}.j2")
    extra: dict[str, Any] = {}
    if fmt == "html":
        extra["timeline_svg"] = Markup(timeline_svg(pm))
    return template.render(pm=pm, generated_at=stamp, **extra)


# --- the SVG timeline ----------------------------------------------------------------------


_COLOURS = {
    "met": "#2e7d32",
    "late": "#ef6c00",
    "missed": "#c62828",
    "open": "#546e7a",
    "not applicable": "#9e9e9e",
}


def _tick_step(span: float) -> float:
    for step in (300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800):
        if span / step <= 10:
            return step
    return 604800 * math.ceil(span / (604800 * 10))


def timeline_svg(pm: PostMortem, width: int = 960) -> str:
    """An inline SVG of injects, decisions and clock deadlines along sim time (every text escaped)."""
    left, right, lane_h = 110, 20, 34
    lanes = ("Injects", "Decisions", "Deadlines")
    height = 40 + lane_h * len(lanes) + 30
    span = max([pm.ended_at, *(e.t for e in pm.timeline), 60.0])
    plot = width - left - right

    def x(t: float) -> float:
        return round(left + plot * max(0.0, t) / span, 1)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="Timeline of injects, decisions and deadlines">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    for index, lane in enumerate(lanes):
        y = 30 + lane_h * index
        out.append(f'<text x="8" y="{y + 21}" font-size="12" fill="#333">{lane}</text>')
        out.append(f'<line x1="{left}" y1="{y + 17}" x2="{width - right}" y2="{y + 17}" stroke="#ddd"/>')
    axis_y = 30 + lane_h * len(lanes) + 4
    out.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="#999"/>')
    step = _tick_step(span)
    tick = 0.0
    while tick <= span:
        out.append(f'<line x1="{x(tick)}" y1="{axis_y}" x2="{x(tick)}" y2="{axis_y + 5}" stroke="#999"/>')
        out.append(
            f'<text x="{x(tick)}" y="{axis_y + 17}" font-size="10" fill="#555" text-anchor="middle">'
            f"{escape(format_offset(tick))}</text>"
        )
        tick += step
    for entry in pm.timeline:
        label = escape(f"{entry.offset} {entry.who}: {entry.text}")
        if entry.kind == "inject":
            out.append(
                f'<circle cx="{x(entry.t)}" cy="{30 + 17}" r="5" fill="#1565c0"><title>{label}</title></circle>'
            )
        elif entry.kind == "decision":
            cx, cy = x(entry.t), 30 + lane_h + 17
            out.append(
                f'<rect x="{cx - 4}" y="{cy - 4}" width="8" height="8" fill="#37474f" '
                f'transform="rotate(45 {cx} {cy})"><title>{label}</title></rect>'
            )
        elif entry.kind in ("delegation", "marker"):
            cy = 30 + lane_h + 17
            out.append(
                f'<circle cx="{x(entry.t)}" cy="{cy}" r="3" fill="none" stroke="#6a1b9a"><title>{label}</title></circle>'
            )
    for result in pm.scorecard.get("expectations", []):
        deadline = result.get("deadline")
        if deadline is None:
            continue
        status = str(result.get("status", "")).replace("_", " ")
        colour = _COLOURS.get(status, "#555")
        y = 30 + lane_h * 2
        tip = f"{result.get('title')}: due {format_offset(float(deadline))}, {status}"
        if float(deadline) > span:  # due after the rehearsal ended: an arrow at the right edge
            cx = width - right
            out.append(
                f'<path d="M{cx - 9} {y + 9} L{cx} {y + 17} L{cx - 9} {y + 25} Z" fill="{colour}">'
                f"<title>{escape(tip + ' (after the end of the rehearsal)')}</title></path>"
            )
            continue
        cx = x(float(deadline))
        wide = 3 if result.get("regime") else 1.5
        out.append(
            f'<line x1="{cx}" y1="{y + 6}" x2="{cx}" y2="{y + 28}" stroke="{colour}" stroke-width="{wide}">'
            f"<title>{escape(tip)}</title></line>"
        )
    out.append("</svg>")
    return "".join(out)


def mark_draft(text: str, form: str, draft_id: str) -> str:
    """The report with the line that lets `report` redo its own draft of the same transcript."""
    from tabletop.files import draft_marker

    marker = draft_marker(draft_id)
    if form == "json":
        data = json.loads(text)
        data["draft_of"] = marker
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return text.rstrip("\n") + f"\n<!-- {marker} -->\n"
