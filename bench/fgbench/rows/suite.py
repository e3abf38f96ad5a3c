"""Row 6: a whole pytest suite whose function is configured from a Terraform file named in
pytest.ini, against the same suite configured by markers.

Both sides run ``python -m pytest`` in a child process on a generated project; a sample is the
child's wall time, interpreter start and collection included: what a user waits for.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..common import FUNCTION_DIR, PYCACHE, BenchError, Samples, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import fmt_ns, spread

MODULES = 10  # the suite's tests are spread over this many test files
FILLER = 30  # other resources in main.tf, as a real deployment file has

MAIN_TF = """\
variable "region" {
  type    = string
  default = "cn-north-4"
}

resource "huaweicloud_fgs_function" "bench" {
  name                = "bench"
  app                 = "default"
  handler             = "index.handler"
  initializer_handler = "index.init"
  initializer_timeout = 10
  timeout             = 3
  memory_size         = 128
  code_type           = "zip"
  code_filename       = "function.zip"
  user_data = jsonencode({
    "BENCH_REGION" : lower(var.region),
  })
}
"""

FILLER_TF = """
resource "huaweicloud_obs_bucket" "bucket_{i}" {{
  bucket = format("bench-%s-{i}", var.region)
  acl    = "private"
}}
"""

FIELDS = ('handler="index.handler", initializer_handler="index.init", initializer_timeout=10, '
          'timeout=3, memory_size=128, user_data={"BENCH_REGION": "cn-north-4"}')

TEST_MODULE = """\
import json
{mark}

def _check(fg_function, n):
    inv = fg_function.invoke({{"httpMethod": "GET", "path": f"/items/{{n}}"}})
    assert inv.ok, inv.error
    assert json.loads(inv.result["body"])["item"]["id"] == n

{tests}
"""

TEST = """
def test_item_{n}(fg_function):
    _check(fg_function, {item})
"""


def write_project(root: Path, tests: int, *, by_file: bool) -> None:
    """``tests`` tests over MODULES files; the function's code in ``fn/``; its configuration
    from ``main.tf`` through pytest.ini (``by_file``), or from a marker in every test file."""
    shutil.copytree(FUNCTION_DIR, root / "fn", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "main.tf").write_text(
        MAIN_TF + "".join(FILLER_TF.format(i=i) for i in range(FILLER)), encoding="utf-8")
    ini = ["[pytest]", "fginit_code_root = fn"]
    if by_file:
        ini.append("fginit_config = main.tf#bench")
        mark = ""
    else:
        mark = f"import pytest\n\npytestmark = pytest.mark.fginit({FIELDS})\n"
    (root / "pytest.ini").write_text("\n".join(ini) + "\n", encoding="utf-8")
    for m in range(MODULES):
        numbers = range(m, tests, MODULES)
        body = "".join(TEST.format(n=n, item=n % 50) for n in numbers)  # (50 items)
        (root / f"test_suite_{m}.py").write_text(TEST_MODULE.format(mark=mark, tests=body),
                                                 encoding="utf-8")


def run_suite(root: Path, tests: int, options: tuple[str, ...] = ()) -> int:
    """One ``pytest -q`` of the project (and ``options``), checked; its wall time in
    nanoseconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FGINIT_"))}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE / "suite")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    t0 = now_ns()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *options],
        cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False)
    elapsed = now_ns() - t0
    if result.returncode != 0 or not re.search(rf"\b{tests} passed\b", result.stdout):
        raise BenchError(f"the generated suite in {root} did not pass:\n{result.stdout[-3000:]}"
                         f"{result.stderr[-2000:]}")
    return elapsed


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (no python-lambda-local side: both sides are pytest-fginit)
    tests = plan.suite_tests
    with tempfile.TemporaryDirectory(prefix="fginit-bench-suite-") as tmp:
        by_file, by_marker = Path(tmp, "by_file"), Path(tmp, "by_marker")
        write_project(by_file, tests, by_file=True)
        write_project(by_marker, tests, by_file=False)
        for root in (by_file, by_marker):  # warm-up: bytecode caches of both projects
            run_suite(root, tests)

        def first_session() -> Samples:  # (as after a checkout, or an edit of main.tf)
            shutil.rmtree(by_file / ".pytest_cache")
            return [run_suite(by_file, tests)]

        runs = interleave(plan.suite_rounds, {
            "ours": lambda: [run_suite(by_file, tests)],
            "first": first_session,
            "theirs": lambda: [run_suite(by_marker, tests)],
        }, "6. suite from main.tf")
    row = Row("suite", "6. a suite, main.tf in pytest.ini",
              runs["ours"], "the same suite by marker", runs["theirs"],
              kind="slowdown", target=1.1)
    first = Row("suite_first", "6b. as 6, main.tf not parsed before",
                runs["first"], "the same suite by marker, as 6", runs["theirs"],
                kind="slowdown")
    method = render("suite", tests=tests, modules=MODULES, filler=FILLER,
                    rounds=plan.suite_rounds, ours_spread=spread(runs["ours"], "µs"),
                    first_spread=spread(runs["first"], "µs"),
                    theirs_spread=spread(runs["theirs"], "µs"),
                    per_test_us=f"{(row.ours_median - row.theirs_median) / tests / 1000:+.0f}",
                    first_extra=fmt_ns(first.ours_median - row.ours_median, "µs"))
    return Section([row, first], method)
