"""Opening the post-mortem draft in the console: Textual's Markdown widget against the draft
viewer that lays the document out in a worker (`tabletop.ui.widgets.markdown_view`), same run.

The draft is the one the debrief writes for the committed sample
`transcripts/samples/suspected-breach-good.jsonl`. For each viewer: seconds from pushing the
screen until it is on screen (the UI answers keys again) and until the draft itself is shown,
medians of alternating runs at 120x40.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Markdown

from tabletop.report import build_postmortem, render_report
from tabletop.scoring import score
from tabletop.transcript import read_run
from tabletop.ui.screens.debrief import MarkdownScreen
from tabletop.ui.widgets.markdown_view import MarkdownView

RUNS = 5
SAMPLE = ROOT / "transcripts" / "samples" / "suspected-breach-good.jsonl"


def draft() -> str:
    run = read_run(SAMPLE)
    card = score(run.scenario, run.events)
    return render_report(
        build_postmortem(run.scenario, run.events, card), "md", datetime(2026, 1, 1, tzinfo=UTC)
    )


class TextualMarkdownScreen(Screen):
    """How the console showed the draft before."""

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(self.markdown)


class Host(App):
    pass


async def open_draft(markdown: str, worker: bool) -> tuple[float, float]:
    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        start = time.perf_counter()
        if worker:
            await app.push_screen(MarkdownScreen(markdown, "draft"))
            up = time.perf_counter() - start
            view = app.screen.query_one(MarkdownView)
            while not view.ready:
                await asyncio.sleep(0.002)
        else:
            await app.push_screen(TextualMarkdownScreen(markdown))
            up = time.perf_counter() - start
            widget = app.screen.query_one(Markdown)
            while len(widget.children) < 5:
                await asyncio.sleep(0.002)
        await pilot.pause()
        return up, time.perf_counter() - start


def main() -> None:
    markdown = draft()
    print(f"opening a {len(markdown):,}-character post-mortem draft ({SAMPLE.name}), medians of {RUNS} runs")
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(RUNS):
        for worker in (False, True):
            results[worker].append(asyncio.run(open_draft(markdown, worker)))
    for worker, label in ((False, "Textual Markdown (before)"), (True, "laid out in a worker (after)")):
        up = statistics.median(r[0] for r in results[worker])
        shown = statistics.median(r[1] for r in results[worker])
        print(f"  {label:<30} screen up {up * 1000:7.1f} ms   draft shown {shown * 1000:7.1f} ms")
    ratio = statistics.median(r[1] for r in results[True]) / statistics.median(r[1] for r in results[False])
    print(f"  after / before, draft shown: {ratio:.2f}x")


if __name__ == "__main__":
    main()
