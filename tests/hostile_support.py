"""Run command lines in one process and report, per case, the exit code, the output and the time taken.

`python tests/hostile_support.py CASES.json` reads a list of {"argv": [...]} and prints a JSON
list of {"exit", "output", "seconds", "exception"}. The test that calls it sets the memory and
CPU limits of this process (`resource`), so a case that exhausts the machine fails the test
instead of the machine.
"""

from __future__ import annotations

import json
import resource
import sys
import time
import traceback


def run(cases: list[dict]) -> list[dict]:
    from click.testing import CliRunner

    from tabletop.cli import main

    results = []
    for case in cases:
        runner = CliRunner()
        started = time.perf_counter()
        result = runner.invoke(main, case["argv"], catch_exceptions=True)
        seconds = time.perf_counter() - started
        exception = None
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exception = "".join(traceback.format_exception(result.exception))
        results.append(
            {
                "argv": case["argv"],
                "exit": result.exit_code,
                "output": result.output,
                "seconds": round(seconds, 3),
                "exception": exception,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
        )
    return results


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(json.dumps(run(json.load(handle))))
