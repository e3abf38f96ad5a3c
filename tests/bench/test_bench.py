"""bench/run.py keeps working: its quick mode runs every row, prints the table and writes the
page; the templates of the page (bench/fgbench/text/) and their values agree.

Speed is judged in bench/ and docs/benchmarks.md, not here: this only checks that the command
runs, that the emulator answered correctly inside it, and that every row was measured.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = ("1a. cold start, bytecode cached", "1b. cold start, source compiled",
        "1c. cold start, new emulator each time", "2. warm invoke, against a fork per call",
        "2b. warm invoke, against a direct call", "2c. warm invoke, 100 ready instances",
        "2d. a direct call with the JSON round trips (2b's floor)",
        "3. 4 init timeouts of 300 s", "4a. process cold start",
        "4b. process cold start, as 4a", "4c. warm invoke, process mode",
        "4d. 50 process instances alive", "5a. 100 simultaneous cold requests",
        "5b. memory per idle instance, in-process", "6. a suite, main.tf in pytest.ini",
        "6b. as 6, main.tf not parsed before",
        "7. a burst of process instances, up and closed",
        "8. 10,000 log lines, secrets masked",
        # (quick mode's sizes: 3 and 6 tests, 2,000 invokes)
        "9a. 3 tests, in-process", "9b. 3 tests, process isolation", "9c. 6 tests, in-process",
        "9d. 6 tests, process isolation", "9e. 6 tests, in-process, -n 2",
        "9f. 6 tests, in-process, -n 2 against serial",
        "10. records of 2,000 invokes on one instance",
        "11a. 50 async requests, each retried once", "11b. http() of an APIG request",
        "12a. 6 tests, --fginit-lifecycle", "12b. a schedule of 10 steps, explored",
        "13a. warm invoke through the endpoint, SDK client",
        "13b. fginit invoke, one cold invoke")


def test_bench_quick_mode_runs_every_row_and_writes_the_page_with_the_method(tmp_path):
    # (one run for both checks: a quick run takes half a minute, more on a busy machine)
    page = tmp_path / "docs" / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--write", "--output",
         str(page)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for row in ROWS:
        assert any(line.startswith(row) for line in lines), f"row missing: {row}\n{result.stdout}"
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n")
    assert "This page comes from a quick run" in text
    for row in ROWS:
        assert f"| {row} |" in text, f"row missing from the table: {row}"
    method = text.partition("\n## Method\n")[2]
    headings = [line for line in method.splitlines() if line.startswith("### ")]
    assert [h.split(":")[0] for h in headings] == [
        "### 1a, 1b", "### 1c", "### 2", "### 2b-2d", "### 3", "### 4a, 4b", "### 4c",
        "### 4d", "### 5a", "### 5b", "### 6, 6b", "### 7", "### 8", "### 9a-9f", "### 10",
        "### 11a-11b", "### 12a-12b", "### 13a-13b"]
    assert "{" not in text  # every field of the templates was filled in


def test_bench_without_write_writes_nothing(tmp_path, monkeypatch, capsys):
    # (the rows stubbed out: what is checked is the command's handling of --write)
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import run

    monkeypatch.setattr(run, "import_lambda_local", lambda: None)
    monkeypatch.setattr(run.runner, "measure", lambda plan, ll, only=frozenset(): [])
    monkeypatch.setattr(run.faulthandler, "dump_traceback_later", lambda *a, **k: None)
    assert run.main(["--quick", "--output", str(tmp_path / "benchmarks.md")]) == 0
    assert "All targets met." in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_template_and_its_values_must_agree_both_ways(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    from fgbench.template import render

    values = {"rounds": 12}
    assert "12 interleaved rounds" in " ".join(render("intro", **values).split())
    with pytest.raises(ValueError, match=r"fields without a value: \['rounds'\]"):
        render("intro")
    with pytest.raises(ValueError, match=r"values no field uses: \['round'\]"):
        render("intro", round=12, **values)
