"""bench/run.py keeps working: its quick mode runs every row and prints the table.

Speed is judged in bench/ and docs/benchmarks.md, not here: this only checks that the command
runs, that the emulator answered correctly inside it, and that every row was measured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("1a. cold start, bytecode cached", "1b. cold start, source compiled",
        "1c. cold start, new emulator each time", "2. warm invoke",
        "3. 4 init timeouts of 300 s", "4a. process cold start",
        "4b. process cold start, as 4a", "4c. warm invoke, process mode",
        "4d. 50 process instances alive", "5a. 100 simultaneous cold requests",
        "5b. memory per idle instance, in-process")


def test_bench_quick_mode_runs_every_row(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick",
         "--output", str(tmp_path / "benchmarks.md")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for row in ROWS:
        assert any(line.startswith(row) for line in lines), f"row missing: {row}\n{result.stdout}"
    assert not (tmp_path / "benchmarks.md").exists()  # --quick without --write writes nothing
