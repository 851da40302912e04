"""The fuzz suite (tests/fuzz_inputs.py) in a subprocess under memory and CPU limits: a fuzzed
input that would exhaust the machine fails here instead of taking the machine down."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEMORY = 3 * 1024**3
CPU_SECONDS = 240


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def test_fuzzed_inputs_give_file_and_line_never_a_traceback_within_limits():
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "tests/fuzz_inputs.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CPU_SECONDS * 2,
        preexec_fn=_limits,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]
    assert " passed" in completed.stdout
