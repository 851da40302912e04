"""Report speed: building and rendering the post-mortem (Markdown and HTML) per transcript.

Target: under 100 ms per transcript. Figures are medians of back-to-back runs,
with scoring the same transcript as the baseline measured alongside.
Run: `python benchmarks/bench_report.py [--rounds N]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tabletop.report import build_postmortem, render_report
from tabletop.scoring import score
from tabletop.transcript import read_run

SAMPLES = sorted((ROOT / "transcripts" / "samples").glob("*.jsonl"))
GENERATED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    render_report(build_postmortem(*_scored(SAMPLES[0])), "html", GENERATED_AT)  # load the templates once
    print(f"post-mortem per transcript, median of {args.rounds} back-to-back runs (target < 100 ms):")
    worst = 0.0
    for path in SAMPLES:
        run = read_run(path)
        timings: dict[str, list[float]] = {"score": [], "build": [], "md": [], "html": [], "total": []}
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            card = score(run.scenario, run.events)
            t1 = time.perf_counter()
            pm = build_postmortem(run.scenario, run.events, card)
            t2 = time.perf_counter()
            md = render_report(pm, "md", GENERATED_AT)
            t3 = time.perf_counter()
            html = render_report(pm, "html", GENERATED_AT)
            t4 = time.perf_counter()
            for key, value in (
                ("score", t1 - t0),
                ("build", t2 - t1),
                ("md", t3 - t2),
                ("html", t4 - t3),
                ("total", t4 - t0),
            ):
                timings[key].append(value)
        m = {k: statistics.median(v) * 1e3 for k, v in timings.items()}
        worst = max(worst, m["total"])
        print(
            f"  {path.name:34} {len(run.events):4} events  score {m['score']:6.2f} ms (baseline)  "
            f"build {m['build']:6.2f}  md {m['md']:6.2f}  html {m['html']:6.2f}  "
            f"= {m['total']:6.2f} ms, {m['total'] / m['score']:.1f}x scoring  ({len(md) // 1024} KiB md, {len(html) // 1024} KiB html)"
        )
    print(f"  worst: {worst:.1f} ms per transcript ({'within' if worst < 100 else 'over'} the 100 ms target)")


def _scored(path: Path):
    run = read_run(path)
    return run.scenario, run.events, score(run.scenario, run.events)


if __name__ == "__main__":
    main()
