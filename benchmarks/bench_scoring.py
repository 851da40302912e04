"""Scoring speed: cost per transcript as a ratio to json.loads of it, and a 10,000-transcript folder on 2 processes.

Targets: scoring costs at most 3x reading the transcript's JSON; 10,000 transcripts
of 300 events score in under 30 s on 2 cores. Run: `python benchmarks/bench_scoring.py
[--count N] [--workers W]`. Transcripts are generated into a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tabletop import scoring
from tabletop.transcript import canonical, line_hash

SAMPLE = ROOT / "transcripts" / "samples" / "suspected-breach-good.jsonl"
EVENTS = 300


def transcript_lines(events: int, variant: int | None = None, seed: int = 1) -> list[str]:
    """A hash-chained transcript of `events` lines built from the good sample run.

    The sample's decisions, injects and notes are repeated (with later times) until there are
    `events` lines; `variant` makes the embedded scenario's JSON distinct (a cold cache).
    """
    sample = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    started, body = sample[0], [e for e in sample[1:] if e["type"] != "session_ended"]
    started = dict(started)
    if variant is not None:
        scenario = json.loads(json.dumps(started["scenario"]))
        scenario["values"]["bench_variant"] = variant
        started["scenario"] = scenario
    rnd = random.Random(seed)
    span = max(e["t"] for e in body) + 60
    records = [started]
    round_ = 0
    while len(records) < events - 1:
        for event in body:
            if len(records) >= events - 1:
                break
            copy = dict(event)
            copy["t"] = event["t"] + round_ * span
            if copy["type"] == "note":
                copy["text"] = f"{copy.get('text', '')} ({rnd.randint(0, 9999)})"
            records.append(copy)
        round_ += 1
    last = records[-1]
    records.append({"type": "session_ended", "t": last["t"] + 1, "wall": last["wall"], "reason": "duration"})
    lines, prev = [], None
    for seq, record in enumerate(records):
        record = {k: v for k, v in record.items() if k not in ("seq", "prev", "hash")}
        record["seq"], record["prev"] = seq, prev
        record["hash"] = prev = line_hash(record)
        lines.append(canonical(record))  # as the transcript writer writes it
    return lines


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def loads_file(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        return len([json.loads(line) for line in handle.read().split("\n") if line])


def score_file(path: str) -> float:
    _, card, _ = scoring.score_transcript(path)
    return card.score


def paired(baseline, measured, rounds: int) -> tuple[float, float, float]:
    """Median baseline, median measured and median ratio of runs taken back to back (noise-robust)."""
    base_times, times, ratios = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        baseline()
        middle = time.perf_counter()
        measured()
        end = time.perf_counter()
        base_times.append(middle - start)
        times.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return statistics.median(base_times), statistics.median(times), statistics.median(ratios)


def single(folder: Path) -> None:
    path = folder / "one.jsonl"
    path.write_text("\n".join(transcript_lines(EVENTS)) + "\n")
    scoring.score_transcript(path)
    base, warm, warm_ratio = paired(lambda: loads_file(str(path)), lambda: scoring.score_transcript(path), 60)
    cold_paths = []
    for variant in range(40):  # a distinct embedded scenario each time: validated every time
        other = folder / f"cold-{variant}.jsonl"
        other.write_text("\n".join(transcript_lines(EVENTS, variant=variant)) + "\n")
        cold_paths.append(other)
    queue = iter(cold_paths)
    _cold_base, cold, cold_ratio = paired(
        lambda: loads_file(str(path)), lambda: scoring.score_transcript(next(queue)), 40
    )
    print(
        f"one transcript of {EVENTS} events ({path.stat().st_size / 1024:.0f} KiB), medians of back-to-back runs:"
    )
    print(f"  json.loads of every line   {base * 1e3:7.2f} ms  (baseline)")
    print(f"  score, scenario cached     {warm * 1e3:7.2f} ms  = {warm_ratio:.2f}x  (target <= 3x)")
    print(
        f"  score, scenario validated  {cold * 1e3:7.2f} ms  = {cold_ratio:.2f}x  (each run a distinct scenario)"
    )


def folder_run(folder: Path, count: int, workers: int, templates: int) -> None:
    """Score `count` transcripts in parallel; `templates` distinct embedded scenarios, interleaved
    so that consecutive transcripts differ (with more than 8, every transcript validates its own)."""
    label = "one scenario" if templates == 1 else f"{templates} distinct scenarios interleaved"
    start = time.perf_counter()
    texts = [
        "\n".join(transcript_lines(EVENTS, variant=None if templates == 1 else n)) + "\n"
        for n in range(templates)
    ]
    paths = []
    for index in range(count):
        path = folder / f"run-{index:05d}.jsonl"
        path.write_text(texts[index % templates])
        paths.append(str(path))
    made = time.perf_counter() - start
    chunk = max(1, min(64, count // (workers * 8)))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(loads_file, paths[: min(count, 50)]))  # start the workers
        start = time.perf_counter()
        lines = sum(pool.map(loads_file, paths, chunksize=chunk))
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        scores = list(pool.map(score_file, paths, chunksize=chunk))
        elapsed = time.perf_counter() - start
    assert len(scores) == count and lines == count * EVENTS
    print(f"{count} transcripts of {EVENTS} events, {workers} processes, {label} (written in {made:.1f} s):")
    print(f"  json.loads of every line   {baseline:7.2f} s  (baseline)")
    print(f"  score every transcript     {elapsed:7.2f} s  = {elapsed / baseline:.2f}x  (target < 30 s)")
    for path in paths:
        Path(path).unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tabletop-bench-") as tmp:
        folder = Path(tmp)
        single(folder)
        folder_run(folder, args.count, args.workers, templates=1)
        folder_run(folder, args.count, args.workers, templates=100)


if __name__ == "__main__":
    main()
