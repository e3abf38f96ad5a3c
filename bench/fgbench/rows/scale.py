"""Rows 9a-9f: what a suite pays per test for ``fg_function`` (in-process, process isolation,
``-n 2``), against the same tests written by hand with the plugin disabled.

Every side is a whole ``python -m pytest -q`` in a child process, as row 6: what a user waits
for. A test's cost is the difference of the medians divided by the number of tests, so the
interpreter's start and collection, paid by both sides, fall out.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import tempfile
from pathlib import Path

from ..common import FUNCTION_DIR, Samples
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import fmt_ns, spread
from .suite import FIELDS, MODULES, TEST, TEST_MODULE, run_suite

IN_PROCESS_TARGET_NS = 1_000_000  # per test above the harness (issue 12)
PROCESS_TARGET_NS = 4_000_000
PARALLEL_TARGET = 1.4  # -n 2 against serial, on 2 cores
WORKERS = ("-n", "2")
NO_PLUGIN = ("-p", "no:fginit")  # the harness: as a suite that does not use the plugin

HARNESS_CONFTEST = '''\
"""The hand-written harness: each test loads the function afresh and initializes it."""
import importlib.util
import pathlib

import pytest

CODE = pathlib.Path(__file__).parent / "fn" / "index.py"


class Context:
    def __init__(self, request_id):
        self.request_id = request_id

    def getRequestID(self):
        return self.request_id


@pytest.fixture
def context():
    return Context


@pytest.fixture
def fn():
    spec = importlib.util.spec_from_file_location("index", CODE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init(Context("init"))
    return module
'''

HARNESS_MODULE = """\
import json


def _check(fn, context, n):
    result = fn.handler({{"httpMethod": "GET", "path": f"/items/{{n}}"}}, context(f"r-{{n}}"))
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["item"]["id"] == n

{tests}
"""

HARNESS_TEST = """
def test_item_{n}(fn, context):
    _check(fn, context, {item})
"""

MODES = {  # project -> what its marker adds to row 6's fields
    "inprocess": "",
    "process": ', isolation="process"',
}


def write_project(root: Path, tests: int, mode: str) -> None:
    """``tests`` tests over MODULES files, the function's code in ``fn/``: by hand
    (``mode="harness"``) or through ``fg_function``, configured by a marker (``MODES``)."""
    shutil.copytree(FUNCTION_DIR, root / "fn", ignore=shutil.ignore_patterns("__pycache__"))
    ini = ["[pytest]"]
    if mode == "harness":
        (root / "conftest.py").write_text(HARNESS_CONFTEST, encoding="utf-8")
    else:
        ini.append("fginit_code_root = fn")
    (root / "pytest.ini").write_text("\n".join(ini) + "\n", encoding="utf-8")
    for m in range(MODULES):
        numbers = range(m, tests, MODULES)
        if mode == "harness":
            body = "".join(HARNESS_TEST.format(n=n, item=n % 50) for n in numbers)
            text = HARNESS_MODULE.format(tests=body)
        else:
            body = "".join(TEST.format(n=n, item=n % 50) for n in numbers)
            mark = f"import pytest\n\npytestmark = pytest.mark.fginit({FIELDS}{MODES[mode]})\n"
            text = TEST_MODULE.format(mark=mark, tests=body)
        (root / f"test_suite_{m}.py").write_text(text, encoding="utf-8")


class Runs:
    """The projects of one size, and the child CPU time each side used (per run)."""

    def __init__(self, tmp: Path, tests: int) -> None:
        self.tests = tests
        self.roots = {mode: tmp / f"{mode}_{tests}" for mode in ("harness", *MODES)}
        for mode, root in self.roots.items():
            write_project(root, tests, mode)
        self.cpu: dict[str, list[float]] = {}

    def side(self, key: str, mode: str, options: tuple[str, ...] = ()) -> Samples:
        """One run of ``mode``'s project; its wall time, and its CPU time under ``key``."""
        extra = (*options, *NO_PLUGIN) if mode == "harness" else options
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = run_suite(self.roots[mode], self.tests, extra)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # (RUSAGE_CHILDREN includes the children's reaped children: xdist's workers)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.cpu.setdefault(key, []).append(cpu)
        return [wall]

    def warm_up(self) -> None:
        """Each project once, outside the samples: bytecode caches filled (row 6's folder)."""
        for mode in self.roots:
            self.side("warm-up", mode)


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (the baseline is the same tests by hand, not python-lambda-local)
    small, large = plan.scale_tests
    with tempfile.TemporaryDirectory(prefix="fginit-bench-scale-") as tmp:
        s, g = Runs(Path(tmp), small), Runs(Path(tmp), large)
        if plan.scale_warmup:
            s.warm_up()
            g.warm_up()
        runs = interleave(plan.scale_rounds, {
            "s_harness": lambda: s.side("harness", "harness"),
            "s_inprocess": lambda: s.side("inprocess", "inprocess"),
            "s_process": lambda: s.side("process", "process"),
            "g_harness": lambda: g.side("harness", "harness"),
            "g_inprocess": lambda: g.side("inprocess", "inprocess"),
            "g_process": lambda: g.side("process", "process"),
            "g_harness_n2": lambda: g.side("harness -n 2", "harness", WORKERS),
            "g_inprocess_n2": lambda: g.side("inprocess -n 2", "inprocess", WORKERS),
        }, "9. suites at scale   ")
    return Section(rows(runs, small, large), method(plan, runs, s, g))


def rows(runs: dict[str, Samples], small: int, large: int) -> list[Row]:
    by_hand = "the same tests by hand"

    def above(key: str, name: str, theirs: str, tests: int, target: float | None,
              label: str = by_hand) -> Row:
        return Row(f"scale_{key}", name, runs[key], label, runs[theirs],
                   kind="above", target=target, per=tests)

    return [
        above("s_inprocess", f"9a. {small:,} tests, in-process", "s_harness", small,
              IN_PROCESS_TARGET_NS),
        above("s_process", f"9b. {small:,} tests, process isolation", "s_harness", small,
              PROCESS_TARGET_NS),
        above("g_inprocess", f"9c. {large:,} tests, in-process", "g_harness", large,
              IN_PROCESS_TARGET_NS),
        above("g_process", f"9d. {large:,} tests, process isolation", "g_harness", large,
              PROCESS_TARGET_NS),
        above("g_inprocess_n2", f"9e. {large:,} tests, in-process, -n 2", "g_harness_n2",
              large, None, f"{by_hand}, -n 2"),
        Row("scale_parallel", f"9f. {large:,} tests, in-process, -n 2 against serial",
            runs["g_inprocess_n2"], "the same, serial (9c)", runs["g_inprocess"],
            kind="speedup", target=PARALLEL_TARGET),
    ]


def method(plan: Plan, runs: dict[str, Samples], s: Runs, g: Runs) -> str:
    small, large = plan.scale_tests

    def median(key: str) -> float:
        return statistics.median(runs[key])

    def marginal(mode: str) -> str:  # per test, between the sizes: start-up falls out too
        return f"{(median(f'g_{mode}') - median(f's_{mode}')) / (large - small) / 1e6:+.2f} ms"

    def cpu(runs_of: Runs, key: str) -> str:
        return f"{statistics.median(runs_of.cpu[key]):.2f} s"

    spreads = {f"{key}_spread": spread(samples, "µs") for key, samples in runs.items()}
    return render(
        "scale", small=small, large=large, modules=MODULES, rounds=plan.scale_rounds,
        in_target=IN_PROCESS_TARGET_NS // 1_000_000,
        process_target=PROCESS_TARGET_NS // 1_000_000,
        warmup=("every project runs once first, outside the samples (bytecode caches, in row 6's "
                "private folder)" if plan.scale_warmup else
                "no warm-up run (quick mode: row 6 filled the bytecode caches)"),
        parallel_target=PARALLEL_TARGET,
        harness_small=fmt_ns(median("s_harness"), "µs"),
        harness_large=fmt_ns(median("g_harness"), "µs"),
        marginal_harness=marginal("harness"), marginal_inprocess=marginal("inprocess"),
        marginal_process=marginal("process"),
        harness_parallel=f"{median('g_harness') / median('g_harness_n2'):.2f}x",
        cpu_serial=cpu(g, "inprocess"), cpu_parallel=cpu(g, "inprocess -n 2"),
        cpu_harness=cpu(g, "harness"), cpu_harness_parallel=cpu(g, "harness -n 2"),
        **spreads,
    )
