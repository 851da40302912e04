"""Where a transcript's post-mortem drafts go, and writing them there.

One naming scheme for every writer (`tabletop report`, the console's debrief, the review
console's export): beside transcript `T.jsonl` the drafts are `T.postmortem.md`,
`T.postmortem.html` and `T.postmortem.json`, written privately and atomically
(`tabletop.files.write_private`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tabletop.files import write_private


def transcript_stem(transcript: Path) -> str:
    """`T` for `T.jsonl` (the file's stem for any other name)."""
    name = transcript.name
    return name[: -len(".jsonl")] if name.endswith(".jsonl") else transcript.stem


def postmortem_path(transcript: str | Path, fmt: str) -> Path:
    """The draft in format `fmt` (md, html or json) beside `transcript`."""
    transcript = Path(transcript)
    return transcript.with_name(f"{transcript_stem(transcript)}.postmortem.{fmt}")


def write_postmortem(
    transcript: str | Path, texts: Mapping[str, str], *, draft_id: str, force: bool = False
) -> list[Path]:
    """Write each rendered draft (format -> text) beside `transcript`; the paths written, in order.

    Each draft carries the marker of `draft_id` (the transcript's first hash), so a draft this
    tool wrote for the same transcript is redone; any other existing file is kept unless
    `force`. Raises OSError when one cannot be written (those before it are written).
    """
    from tabletop.files import is_draft_of
    from tabletop.report.formats import mark_draft

    return [
        write_private(
            postmortem_path(transcript, fmt),
            mark_draft(text, fmt, draft_id),
            force=force,
            may_replace=lambda existing: is_draft_of(existing, draft_id),
        )
        for fmt, text in texts.items()
    ]
