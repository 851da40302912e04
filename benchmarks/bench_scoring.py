"""Scoring speed: cost per transcript as a ratio to json.loads of it, and a 10,000-transcript folder on 2 processes.

Targets: scoring costs at most 3x reading the transcript's JSON; transcripts of 100 distinct
scenarios cost at most 1.5x reading them; 10,000 transcripts of 300 events score in under 30 s
on 2 cores. Run: `python benchmarks/bench_scoring.py [--count N] [--workers W] [--distinct D]
[--rounds R]`. Transcripts are generated into a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
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


def single(folder: Path, distinct: int) -> None:
    path = folder / "one.jsonl"
    path.write_text("\n".join(transcript_lines(EVENTS)) + "\n")
    scoring.score_transcript(path)
    base, warm, warm_ratio = paired(lambda: loads_file(str(path)), lambda: scoring.score_transcript(path), 60)
    cold_paths = []
    for variant in range(40):  # a distinct embedded scenario each time: validated every time
        other = folder / f"cold-{variant}.jsonl"
        other.write_text("\n".join(transcript_lines(EVENTS, variant=1000 + variant)) + "\n")
        cold_paths.append(other)
    queue = iter(cold_paths)
    _cold_base, cold, cold_ratio = paired(
        lambda: loads_file(str(path)), lambda: scoring.score_transcript(next(queue)), 40
    )
    turn_paths = []
    for variant in range(distinct):
        other = folder / f"turn-{variant}.jsonl"
        other.write_text("\n".join(transcript_lines(EVENTS, variant=variant)) + "\n")
        turn_paths.append(str(other))
    turns = iter(turn_paths * 3)  # the scenarios in turn, three times: each validated on its first turn
    current = [turn_paths[0]]

    def read_next() -> None:
        current[0] = next(turns)
        loads_file(current[0])

    _turn_base, turn, turn_ratio = paired(
        read_next, lambda: scoring.score_transcript(current[0]), distinct * 3
    )
    print(
        f"one transcript of {EVENTS} events ({path.stat().st_size / 1024:.0f} KiB), medians of back-to-back runs:"
    )
    print(f"  json.loads of every line   {base * 1e3:7.2f} ms  (baseline)")
    print(f"  score, scenario cached     {warm * 1e3:7.2f} ms  = {warm_ratio:.2f}x  (target <= 3x)")
    print(
        f"  score, scenario validated  {cold * 1e3:7.2f} ms  = {cold_ratio:.2f}x  (each run a distinct scenario)"
    )
    print(
        f"  score, {distinct} scenarios in turn {turn * 1e3:5.2f} ms  = {turn_ratio:.2f}x  "
        f"(target <= 1.5x the reading of the same file; each scenario scored three times)"
    )


def folder_run(folder: Path, count: int, workers: int, templates: int, rounds: int) -> float:
    """Score `count` transcripts in parallel; `templates` distinct embedded scenarios, interleaved
    so that consecutive transcripts differ. The baseline and the scoring alternate for `rounds`
    rounds and the median ratio is printed (others share the machine). Returns that ratio."""
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
    os.sync()  # the files on disk before anything is timed (writeback would slow a round)
    made = time.perf_counter() - start
    chunk = max(1, min(64, count // (workers * 8)))
    baselines, elapsed, ratios = [], [], []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(loads_file, paths[: min(count, 50)]))  # start the workers
        for _ in range(rounds):
            start = time.perf_counter()
            lines = sum(pool.map(loads_file, paths, chunksize=chunk))
            baselines.append(time.perf_counter() - start)
            start = time.perf_counter()
            scores = list(pool.map(score_file, paths, chunksize=chunk))
            elapsed.append(time.perf_counter() - start)
            ratios.append(elapsed[-1] / baselines[-1])
            assert len(scores) == count and lines == count * EVENTS
    ratio = statistics.median(ratios)
    print(
        f"{count} transcripts of {EVENTS} events, {workers} processes, {label} (written in {made:.1f} s), "
        f"median of {rounds} rounds:"
    )
    print(f"  json.loads of every line   {statistics.median(baselines):7.2f} s  (baseline)")
    print(
        f"  score every transcript     {statistics.median(elapsed):7.2f} s  = {ratio:.2f}x  (target < 30 s)"
        f"  rounds: {', '.join(f'{r:.2f}x' for r in ratios)}"
    )
    for path in paths:
        Path(path).unlink()
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=100, help="distinct embedded scenarios")
    parser.add_argument("--rounds", type=int, default=3, help="baseline and scoring rounds per folder run")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="tabletop-bench-") as tmp:
        folder = Path(tmp)
        single(folder, args.distinct)
        one = folder_run(folder, args.count, args.workers, 1, args.rounds)
        many = folder_run(folder, args.count, args.workers, args.distinct, args.rounds)
    verdict = "met" if many <= 1.5 else "MISSED"
    print(
        f"{args.distinct} distinct scenarios: {many:.2f}x reading them (target <= 1.5x: {verdict}); "
        f"one scenario {one:.2f}x"
    )


if __name__ == "__main__":
    main()
