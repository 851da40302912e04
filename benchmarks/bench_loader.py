"""Loader speed: resolving a scenario and validating the bundled data, as ratios to plain yaml.safe_load.

Run: `python benchmarks/bench_loader.py [--repeat N]`. The baseline is PyYAML's safe_load (the C
loader when available) of the same files, measured in the same run, so the ratios hold on a
noisy machine. Prints milliseconds per operation and the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml

from tabletop.loader import data_roots, resolve_scenario, validate
from tabletop.yamlsource import yaml_files

_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def best_of(repeat: int, work) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    root = data_roots()[0]
    scenarios = sorted((root / "scenarios").glob("*.yaml"))
    everything = [p for name in ("scenarios", "injects", "scoring") for p in yaml_files(root / name)]
    if not scenarios:
        print("no bundled scenarios found")
        return
    target = next((p for p in scenarios if p.stem == "suspected-breach"), scenarios[0])
    texts = {p: p.read_text() for p in everything}

    def parse_one() -> None:
        yaml.load(texts[target], Loader=_SAFE)

    def parse_all() -> None:
        for text in texts.values():
            yaml.load(text, Loader=_SAFE)

    resolve_scenario(target)  # warm: Faker's start-up, imports
    base_one, _ = best_of(args.repeat, parse_one)
    load_one, load_median = best_of(args.repeat, lambda: resolve_scenario(target))
    base_all, _ = best_of(max(3, args.repeat // 3), parse_all)
    check_all, check_median = best_of(
        max(3, args.repeat // 3), lambda: validate([root / n for n in ("scenarios", "injects", "scoring")])
    )
    print(
        f"resolve {target.stem}: {load_one * 1000:.1f} ms best, {load_median * 1000:.1f} ms median; "
        f"yaml.safe_load of the file {base_one * 1000:.2f} ms; ratio {load_one / base_one:.1f}x"
    )
    print(
        f"validate bundled data ({len(everything)} files): {check_all * 1000:.0f} ms best, {check_median * 1000:.0f} ms median; "
        f"yaml.safe_load of all files {base_all * 1000:.1f} ms; ratio {check_all / base_all:.1f}x"
    )


if __name__ == "__main__":
    main()
