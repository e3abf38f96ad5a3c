"""pytest-fginit benchmarks: ours and a baseline, side by side, in one run.

    python bench/run.py            # full run (well under a minute), prints the table
    python bench/run.py --quick    # smoke test for CI (a few seconds)
    python bench/run.py --write    # full run, and writes docs/benchmarks.md

Targets are reported, never asserted: the exit status is 0 whether they are met or not. It is
2 when the emulator gives a wrong answer (the numbers would mean nothing), and 1 with every
thread's traceback when a run hangs past its time limit (25 s with --quick, 300 s without).

All durations are read with freezegun's saved *real* ``perf_counter_ns``: while an emulator
runs, freezegun fakes ``time.perf_counter`` for the whole process, and it also replaces every
module attribute that *is* a real time function (a ``from time import perf_counter`` here would
be swapped for the fake one), but never the attributes of its own module.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import importlib
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import textwrap
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

import freezegun.api as _fz

from pytest_fginit import FunctionConfig, FunctionEmulator, Invocation

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FUNCTION_DIR = HERE / "function"
HANDLER_FILE = FUNCTION_DIR / "index.py"
DEFAULT_DOC = REPO / "docs" / "benchmarks.md"
EVENT: dict[str, Any] = {"httpMethod": "GET", "path": "/items/7", "headers": {"X-Trace": "b1"}}

INIT_TIMEOUT_S = 300
INIT_ATTEMPTS = 4  # 1 + init_retries (3)
SLEEP_S = 400
REAL_SCENARIO_S = INIT_ATTEMPTS * INIT_TIMEOUT_S

Samples = list[int]  # nanoseconds, one per measured operation
_PYCACHE = Path(tempfile.mkdtemp(prefix="fginit-bench-pycache-"))


@contextlib.contextmanager
def bytecode(cached: bool) -> Iterator[None]:
    """Load the function's code from a bytecode cache, or compile its source every time.

    Both sides of a row run in the same state, whatever the interpreter was started with
    (``PYTHONDONTWRITEBYTECODE``, ``-B``, an existing ``__pycache__``): ``sys.pycache_prefix``
    points at a private folder, which fills up on the first load, or stays empty.
    """
    saved = sys.dont_write_bytecode, sys.pycache_prefix
    sys.pycache_prefix = str(_PYCACHE / ("cached" if cached else "empty"))
    sys.dont_write_bytecode = not cached
    try:
        yield
    finally:
        sys.dont_write_bytecode, sys.pycache_prefix = saved


def now_ns() -> int:
    """Real time, even while an emulator's freeze runs (see the module docstring)."""
    return _fz.real_perf_counter_ns()


class BenchError(Exception):
    """The emulator did not do what the scenario expects: the numbers would mean nothing."""


# --- python-lambda-local ---------------------------------------------------------------------


@dataclass
class LambdaLocal:
    call: Callable[..., Any]
    context: Callable[[int], Any]
    version: str


def import_lambda_local() -> LambdaLocal:
    """``lambda_local.main`` and ``lambda_local.context``, quietly.

    ``lambda_local/__init__.py`` binds a *function* named ``main`` that shadows the submodule
    (so ``import lambda_local.main as m`` gives the function): go through ``import_module``.
    Importing ``lambda_local.main`` runs ``logging.basicConfig(stream=sys.stdout, level=INFO)``
    and every ``call()`` logs five INFO lines; the handler it adds writes to ``os.devnull``
    here, so the formatting cost stays in the measurement but the terminal stays readable.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pkg_resources' deprecation warning
            main = importlib.import_module("lambda_local.main")
            context = importlib.import_module("lambda_local.context")
    except ImportError as exc:
        sys.exit(
            "bench/run.py: python-lambda-local is not installed, and the warm-invoke row "
            "compares against it.\n"
            "  Install it with:  pip install -e '.[test]'   (or: pip install "
            f"'python-lambda-local==0.1.13')\n  ({type(exc).__name__}: {exc})"
        )
    devnull = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    for handler in root.handlers:
        if handler not in before and isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    return LambdaLocal(main.call, context.Context, importlib.metadata.version(
        "python-lambda-local"))


# --- the function, loaded by hand -----------------------------------------------------------


class TrivialContext:
    """What a hand-written harness passes as ``context``: a request id, nothing else."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id

    def getRequestID(self) -> str:
        return self.request_id


_baseline_ids = itertools.count(1)


def baseline_cold_start() -> Any:
    """Load the code under a fresh module name, run the initializer, then one request."""
    name = f"bench_baseline_{next(_baseline_ids)}"
    spec = importlib.util.spec_from_file_location(name, HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        context = TrivialContext(name)
        module.init(context)
        return module.handler(EVENT, context)
    finally:
        del sys.modules[name]


def load_by_hand() -> Any:
    """The function's module, loaded and initialized once (for python-lambda-local)."""
    spec = importlib.util.spec_from_file_location("bench_lambda_local_fn", HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init(TrivialContext("init"))
    return module


# --- our side -------------------------------------------------------------------------------


def config(**overrides: Any) -> FunctionConfig:
    settings: dict[str, Any] = {
        "code_root": FUNCTION_DIR,
        "handler": "index.handler",
        "initializer_handler": "index.init",
        "func_name": "bench",
    }
    settings.update(overrides)
    return FunctionConfig(**settings)


EXPECTED_ITEM = json.loads(baseline_cold_start()["body"])["item"]


def check_ok(invocations: list[Invocation], *, cold: bool) -> None:
    for inv in invocations:
        if not inv.ok:
            raise BenchError(f"an invocation failed: {inv.error!r}")
        if inv.cold_start is not cold:
            raise BenchError(f"expected cold_start={cold}, got {inv.cold_start}")
        body = json.loads(inv.result["body"])
        if body["item"] != EXPECTED_ITEM or body["request"] != inv.request_id:
            raise BenchError(f"unexpected result: {inv.result!r}")


def ours_cold_recycle(n: int, warmup: int, cached: bool) -> Samples:
    """One emulator (its clock started outside the loop); recycle() then invoke(), n times."""
    samples: Samples = []
    with bytecode(cached), FunctionEmulator(config()) as fn:
        for _ in range(warmup):
            fn.recycle()
            fn.invoke(EVENT)
        first = len(fn.invocations)
        for _ in range(n):
            t0 = now_ns()
            fn.recycle()
            fn.invoke(EVENT)
            samples.append(now_ns() - t0)
        check_ok(fn.invocations, cold=True)
        if len(fn.invocations) - first != n:
            raise BenchError("lost invocations")
    return samples


def ours_cold_new_emulator(n: int, warmup: int) -> Samples:
    """A new emulator per cold start: config, start (freezegun), invoke, close."""
    samples: Samples = []
    with bytecode(cached=True):
        for i in range(warmup + n):
            t0 = now_ns()
            with FunctionEmulator(config()) as fn:
                inv = fn.invoke(EVENT)
            elapsed = now_ns() - t0
            check_ok([inv], cold=True)
            if i >= warmup:
                samples.append(elapsed)
    return samples


def baseline_cold(n: int, warmup: int, cached: bool) -> Samples:
    samples: Samples = []
    with bytecode(cached):
        for _ in range(warmup):
            baseline_cold_start()
        for _ in range(n):
            t0 = now_ns()
            result = baseline_cold_start()
            samples.append(now_ns() - t0)
    if result["statusCode"] != 200:
        raise BenchError(f"baseline: unexpected result {result!r}")
    return samples


def ours_warm(n: int, warmup: int) -> Samples:
    samples: Samples = []
    with FunctionEmulator(config()) as fn:
        for _ in range(1 + warmup):  # the first one is the cold start
            fn.invoke(EVENT)
        first = len(fn.invocations)
        for _ in range(n):
            t0 = now_ns()
            fn.invoke(EVENT)
            samples.append(now_ns() - t0)
        check_ok(fn.invocations[first:], cold=False)
    return samples


def theirs_warm(ll: LambdaLocal, module: Any, n: int, warmup: int) -> Samples:
    samples: Samples = []
    for i in range(warmup + n):
        context = ll.context(3)
        t0 = now_ns()
        result, err_type = ll.call(module.handler, EVENT, context)
        elapsed = now_ns() - t0
        if err_type is not None or result.get("statusCode") != 200:
            raise BenchError(f"python-lambda-local: unexpected result {result!r}")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def check_timeouts(inv: Invocation) -> None:
    attempts = inv.init_attempts
    if (inv.ok or inv.error is None or inv.error.kind != "init_timeout"
            or len(attempts) != INIT_ATTEMPTS
            or any(a.ok or a.error is None or a.error.kind != "init_timeout"
                   or abs(a.duration_ms - INIT_TIMEOUT_S * 1000) > 1.0 for a in attempts)):
        raise BenchError(
            f"expected {INIT_ATTEMPTS} initializer timeouts of {INIT_TIMEOUT_S} s, got: "
            f"error={inv.error!r}, attempts="
            f"{[(a.ok, a.error and a.error.kind, round(a.duration_ms)) for a in attempts]}"
        )


def ours_timeouts(mode: str, n: int, warmup: int) -> Samples:
    """Each sample: one invoke() whose four initialization attempts all time out at 300 s."""
    if mode == "sleep":
        cfg = config(handler="slow.handler", initializer_handler="slow.init",
                     initializer_timeout=INIT_TIMEOUT_S)
    else:
        cfg = config(initializer_timeout=INIT_TIMEOUT_S)
    samples: Samples = []
    with FunctionEmulator(cfg) as fn:
        for i in range(warmup + n):
            if mode == "hang":
                fn.faults.initializer.hangs(times=INIT_ATTEMPTS)
            t0 = now_ns()
            inv = fn.invoke(EVENT)
            elapsed = now_ns() - t0
            check_timeouts(inv)
            if i >= warmup:
                samples.append(elapsed)
    return samples


def timeout_mode() -> str:
    """``sleep`` if an initializer that really calls time.sleep(400) times out as it should."""
    try:
        ours_timeouts("sleep", 1, 0)
    except BenchError as exc:
        print(f"note: the sleeping initializer did not time out as expected ({exc}); "
              "falling back to faults.initializer.hangs()", file=sys.stderr)
        return "hang"
    return "sleep"


# --- running, interleaved ---------------------------------------------------------------------


def interleave(rounds: int, sides: dict[str, Callable[[], Samples]],
               progress: str) -> dict[str, Samples]:
    """Run every side once per round, alternating which goes first; pool the samples."""
    pooled: dict[str, Samples] = {key: [] for key in sides}
    order = list(sides)
    print(f"  {progress} ", end="", flush=True)
    for r in range(rounds):
        for key in order if r % 2 == 0 else order[::-1]:
            gc.collect()
            pooled[key].extend(sides[key]())
        print(".", end="", flush=True)
    print()
    return pooled


@dataclass(frozen=True)
class Plan:
    time_limit_s: int
    rounds: int
    cold: int
    cold_new: int
    warm_ours: int
    warm_theirs: int
    timeouts: int
    warmup: int


PLANS = {
    "quick": Plan(time_limit_s=25, rounds=2, cold=15, cold_new=3, warm_ours=150,
                  warm_theirs=5, timeouts=3, warmup=2),
    "full": Plan(time_limit_s=300, rounds=12, cold=100, cold_new=15, warm_ours=2000,
                 warm_theirs=40, timeouts=25, warmup=5),
}


@dataclass
class Row:
    key: str
    name: str
    ours: Samples
    theirs_label: str
    theirs: Samples | None = None  # measured, or:
    theirs_fixed_ns: int | None = None  # computed, not run
    kind: str = "slowdown"  # "slowdown": ours/theirs <= target; "speedup": theirs/ours >= target
    target: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def theirs_median(self) -> float:
        if self.theirs_fixed_ns is not None:
            return float(self.theirs_fixed_ns)
        assert self.theirs is not None
        return statistics.median(self.theirs)

    @property
    def ratio(self) -> float:
        if self.kind == "slowdown":
            return self.ours_median / self.theirs_median
        return self.theirs_median / self.ours_median

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.kind == "slowdown":
            return self.ratio <= self.target
        return self.ratio >= self.target

    def ratio_text(self) -> str:
        if self.kind == "slowdown":
            return f"{self.ratio:.2f}x the baseline"
        return f"{_big(self.ratio)}x faster"

    def target_text(self) -> str:
        if self.target is None:
            return "none (information)"
        if self.kind == "slowdown":
            return f"<= {self.target:g}x"
        return f">= {_big(self.target)}x faster"

    def met_text(self) -> str:
        return {None: "n/a", True: "yes", False: "NO (missed)"}[self.met]


def measure(plan: Plan, ll: LambdaLocal) -> tuple[list[Row], str]:
    p = plan
    cold = interleave(p.rounds, {
        "cached": lambda: ours_cold_recycle(p.cold, p.warmup, cached=True),
        "cached_base": lambda: baseline_cold(p.cold, p.warmup, cached=True),
        "compiled": lambda: ours_cold_recycle(p.cold, p.warmup, cached=False),
        "compiled_base": lambda: baseline_cold(p.cold, p.warmup, cached=False),
        "new": lambda: ours_cold_new_emulator(p.cold_new, 1),
    }, "1. cold starts       ")
    module = load_by_hand()
    warm = interleave(p.rounds, {
        "ours": lambda: ours_warm(p.warm_ours, p.warmup * 10),
        "theirs": lambda: theirs_warm(ll, module, p.warm_theirs, 2),
    }, "2. warm invokes      ")
    mode = timeout_mode()
    timeouts = interleave(p.rounds, {
        "ours": lambda: ours_timeouts(mode, p.timeouts, 1),
    }, "3. init timeouts     ")
    rows = [
        Row("cold", "1a. cold start, bytecode cached",
            cold["cached"], "by hand", cold["cached_base"], target=1.5),
        Row("cold_compiled", "1b. cold start, source compiled",
            cold["compiled"], "by hand", cold["compiled_base"], target=1.5),
        Row("cold_new", "1c. cold start, new emulator each time",
            cold["new"], "by hand, as 1a", cold["cached_base"]),
        Row("warm", "2. warm invoke",
            warm["ours"], f"lambda-local {ll.version} call()", warm["theirs"],
            kind="speedup", target=100),
        Row("timeouts", f"3. {INIT_ATTEMPTS} init timeouts of {INIT_TIMEOUT_S} s",
            timeouts["ours"], "real time, computed",
            theirs_fixed_ns=REAL_SCENARIO_S * 10**9, kind="speedup", target=1000),
    ]
    return rows, mode


# --- reporting --------------------------------------------------------------------------------


def _big(x: float) -> str:
    if x >= 10_000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}"


def fmt_ns(ns: float, micro: str = "us") -> str:
    if ns >= 10**9:
        return f"{ns / 1e9:,.0f} s" if ns >= 100 * 10**9 else f"{ns / 1e9:.2f} s"
    if ns >= 10**6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 10**3:
        return f"{ns / 1e3:.1f} {micro}"
    return f"{ns:.0f} ns"


def spread(samples: Samples, micro: str) -> str:
    if len(samples) < 4:
        return f"n={len(samples)}"
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return f"n={len(samples)}, interquartile range {fmt_ns(q1, micro)} to {fmt_ns(q3, micro)}"


HEADERS = ("name", "ours", "theirs / baseline", "ratio", "target", "met?")


def table_cells(rows: list[Row], micro: str) -> list[tuple[str, ...]]:
    return [
        (r.name, fmt_ns(r.ours_median, micro),
         f"{fmt_ns(r.theirs_median, micro)} ({r.theirs_label})",
         r.ratio_text(), r.target_text(), r.met_text())
        for r in rows
    ]


def text_table(rows: list[Row]) -> str:
    cells = [HEADERS, *table_cells(rows, "us")]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for cells in table_cells(rows, "µs"):
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def environment() -> dict[str, str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    versions = ", ".join(
        f"{dist} {importlib.metadata.version(dist)}"
        for dist in ("pytest-fginit", "freezegun", "python-lambda-local")
    )
    return {
        "date": _fz.real_datetime.now(timezone.utc).date().isoformat(),
        "cpus": str(os.cpu_count()),
        "cpus usable by this process": str(usable),
        "cpu model": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": versions,
        "interpreter's own bytecode setting": (
            "PYTHONDONTWRITEBYTECODE / -B (overridden per row, see rows 1a and 1b)"
            if sys.dont_write_bytecode else "writes __pycache__ (overridden per row, see 1a/1b)"
        ),
        "multiprocessing start method": multiprocessing.get_start_method(),
    }


def method_text(plan: Plan, timeout_mode_used: str, rows: list[Row], modules: int) -> str:
    by_key = {r.key: r for r in rows}
    p = plan

    def iqr(key: str, theirs: bool = False) -> str:
        row = by_key[key]
        return spread((row.theirs or []) if theirs else row.ours, "µs")

    scenario = (
        f"the initializer really calls `time.sleep({SLEEP_S})` (`bench/function/slow.py`); "
        "the emulator's `time.sleep` for instance code jumps the virtual clock to the "
        "deadline and ends the phase as a timeout"
        if timeout_mode_used == "sleep" else
        f"`fn.faults.initializer.hangs(times={INIT_ATTEMPTS})` is queued before each invoke "
        "(outside the timing) because the initializer that really sleeps did not time out "
        "as expected in this run"
    )
    return f"""\
All rows use one small function, `bench/function/index.py`: its initializer builds a
configuration dict (50 items); its handler routes `GET /items/7` with a regular expression,
serialises the item with `json` and adds an ETag (`hashlib`, `base64`). The handler reads the
request id through `getRequestID()` when the context has it and `aws_request_id` otherwise, and
builds the configuration itself if no initializer ran, so python-lambda-local can call it
unchanged.

Every duration is read with `freezegun.api.real_perf_counter_ns` (freezegun fakes
`time.perf_counter` while an emulator runs). A row reports the **median** of all its samples.
The sides of a row run in {p.rounds} interleaved rounds (which side goes first alternates); each
side's block starts with a `gc.collect()` and its own warm-up, and the garbage collector stays
on, as in a real test run. A new emulator is started for each block; its start (freezegun) and
close are outside the timing, except in row 1c.

### 1a, 1b: cold start (target: ours <= 1.5x the baseline)

*Ours*: one `FunctionEmulator(FunctionConfig(code_root="bench/function",
handler="index.handler", initializer_handler="index.init"))`, `virtual_time=True` (the
default). One sample is `fn.recycle()` + `fn.invoke(event)`: the previous instance stops (its
modules leave `sys.modules`), a new instance gets a fresh module namespace, loads `index.py`,
runs `init(context)`, then `handler(event, context)`, with all of the emulator's bookkeeping
(records, the JSON round trip of event and result, the watchdog, output capture). freezegun
starts once per emulator, so its start is **outside** the measured loop: this is what every
further cold start in a test costs. {p.cold} samples per round; the emulator has served at most
{p.cold + p.warmup + 1} instances when a block ends.

*Baseline*: the same work by hand: `importlib.util.spec_from_file_location`,
`module_from_spec` and `exec_module` under a fresh unique module name (put in `sys.modules`,
then removed), `init(ctx)`, `handler(event, ctx)` with a trivial context object.

Both sides load the code in the same state: **1a** from a bytecode cache (Python's default:
only the `.pyc` is read), **1b** with the source compiled on every load (what
`PYTHONDONTWRITEBYTECODE=1` or `-B` gives when no `.pyc` exists). The script sets
`sys.pycache_prefix` to a private temporary folder for this, so an existing `__pycache__` or
the interpreter's own setting does not change the result. The emulator keeps each source
file's code object (compiled, or read from the `.pyc`, once per version of the file: path,
modification time, size) and runs it in every new instance's fresh module, so after the first
instance neither side's bytecode setting costs it anything; the baseline, like a hand-written
harness, reads or compiles the file on every load. That is why 1b comes out below 1x.
Spread: 1a ours {iqr("cold")}, baseline {iqr("cold", True)}; 1b ours {iqr("cold_compiled")},
baseline {iqr("cold_compiled", True)}.

### 1c: cold start with a new emulator (information, no target)

`FunctionConfig(...)`, `FunctionEmulator(...).start()`, one `invoke(event)`, `close()`, with
the bytecode cache as in 1a: about what the `fg_function` fixture costs a test that sends one
request. `start()` starts freezegun, which scans every loaded module ({modules} here), so this
cost grows with the size of the test session. {p.cold_new} samples per round; {iqr("cold_new")}.

### 2: warm invoke (target: ours >= 100x faster)

*Ours*: `fn.invoke(event)` on an instance that is already initialized; {p.warm_ours} samples
per round; {iqr("warm")}. *Theirs*: python-lambda-local's
`lambda_local.main.call(handler, event, lambda_local.context.Context(3))` on the same handler,
loaded and initialized once by hand. Every `call()` forks a `multiprocessing.Process` that runs
the handler under a `SIGALRM` time limit and sends the result back through a
`multiprocessing.Queue`, and logs five INFO lines (to `os.devnull` here); the whole `call()` is
measured. {p.warm_theirs} samples per round; {iqr("warm", True)}. Both sides run while no
emulator is open, so python-lambda-local never runs under freezegun.

### 3: four 300 s initializer timeouts (target: >= 1000x faster than real time)

`initializer_timeout={INIT_TIMEOUT_S}` and the default `init_retries=3`: {scenario}. One
`invoke()` thus brings up {INIT_ATTEMPTS} instances whose initialization times out at
{INIT_TIMEOUT_S} s each; every sample is checked (error kind `init_timeout`, {INIT_ATTEMPTS}
attempts of {INIT_TIMEOUT_S * 1000} ms each on the virtual clock). One sample is that
`invoke()`; {p.timeouts} samples per round; {iqr("timeouts")}. The reference is how long the
same scenario lasts for real, {INIT_ATTEMPTS} x {INIT_TIMEOUT_S} s = {REAL_SCENARIO_S} s,
computed, not run.
"""


def reflow(markdown: str, width: int = 96) -> str:
    """Refill the plain paragraphs (not headings, tables, code) after values were put in."""
    out = []
    for block in markdown.strip().split("\n\n"):
        if block.startswith(("#", "|", "```", "- ")):
            out.append(block)
        else:
            lines = textwrap.wrap(" ".join(block.split()), width=width,
                                  break_long_words=False, break_on_hyphens=False)
            for i in range(1, len(lines)):
                # A line may not start like a list item: move its first word up.
                while re.match(r"([-+*]|[0-9]+[.)])( |$)", lines[i]):
                    word, _, rest = lines[i].partition(" ")
                    lines[i - 1] += " " + word
                    lines[i] = rest
            out.append("\n".join(line for line in lines if line))
    return "\n\n".join(out) + "\n"


def render_doc(rows: list[Row], env: dict[str, str], method: str, command: str,
               plan: Plan, mode_name: str, wall_s: float) -> str:
    missed = [r for r in rows if r.met is False]
    verdict = ("All targets met." if not missed else
               "**Missed:** " + "; ".join(f"{r.name.split(' ')[0]} {r.name.partition(' ')[2]} "
                                          f"({r.ratio_text()}, target {r.target_text()})"
                                          for r in missed) + ".")
    env_lines = "\n".join(f"- {key}: {value}" for key, value in env.items() if key != "date")
    quick = ("\n**This page comes from a quick run (few samples); rerun without `--quick` for "
             "numbers to rely on.**\n" if mode_name == "quick" else "")
    return f"""\
# Benchmarks

Measured on {env["date"]}, on a machine with {env["cpus"]} CPU cores ({env["cpu model"]}),
by a single command that runs ours and the reference side by side in one process:

```sh
python -m pip install -e '.[test]'   # once: includes python-lambda-local, row 2's reference
{command}
```
{quick}
{markdown_table(rows)}

{verdict}

Times are medians. "ratio" is ours / baseline in rows 1a-1c (lower is better) and reference /
ours in rows 2 and 3 (higher is better). The whole run took {wall_s:.1f} s. `python
bench/run.py --quick` is the smoke test (a few seconds; it prints the same table, and like the
full run it reports targets without failing on them); `--write` rewrites this page. The exit
status is 0 whether targets are met or not; it is 2 if the emulator answers wrongly (then no
numbers are reported), and 1, with every thread's traceback, if a run hangs for more than
{plan.time_limit_s} s.

## Where the emulator's time goes

Profiled on 2026-11-29 (cProfile, and stage timers around the emulator's steps), for a cold
start with the code object already cached: the module's body runs in a fresh namespace with its
own builtins and import hook; each phase (start, handler) costs about 5 us of bookkeeping
(deadline, watchdog, output capture); the JSON round trips of event and result about 8 us;
contexts, records and state changes about 10 us. A warm invoke is about 12 us of bookkeeping
around the handler.

## Environment

{env_lines}

## Method

{method}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="few iterations: a smoke test (targets reported, not asserted)")
    parser.add_argument("--write", action="store_true",
                        help="also write the table and the method to docs/benchmarks.md")
    parser.add_argument("--output", type=Path, default=DEFAULT_DOC,
                        help="where --write writes (default: docs/benchmarks.md)")
    args = parser.parse_args(argv)

    mode_name = "quick" if args.quick else "full"
    plan = PLANS[mode_name]
    ll = import_lambda_local()
    env = environment()
    print(f"pytest-fginit benchmarks ({mode_name} mode), {env['date']}")
    for key, value in env.items():
        if key != "date":
            print(f"  {key}: {value}")
    started = now_ns()
    # A hang (e.g. a deadlock in the emulator) must not block CI: dump and exit instead.
    faulthandler.dump_traceback_later(plan.time_limit_s, exit=True)
    try:
        rows, used = measure(plan, ll)
    except BenchError as exc:
        print(f"\nbench/run.py: the emulator misbehaved, no numbers reported: {exc}",
              file=sys.stderr)
        return 2
    except BaseException as exc:
        if type(exc).__name__ != "PhaseKilled":
            raise
        traceback.print_exc()
        print("\nbench/run.py: the emulator misbehaved, no numbers reported: its internal "
              "PhaseKilled escaped FunctionEmulator.invoke() (a watchdog race in "
              "pytest_fginit/timeouts.py)", file=sys.stderr)
        return 2
    finally:
        faulthandler.cancel_dump_traceback_later()
        shutil.rmtree(_PYCACHE, ignore_errors=True)
    wall_s = (now_ns() - started) / 1e9
    print()
    print(text_table(rows))
    print()
    missed = [r for r in rows if r.met is False]
    for r in missed:
        print(f"MISSED: {r.name}: {r.ratio_text()}, target {r.target_text()}")
    if not missed:
        print("All targets met.")
    if args.quick:
        print("(quick mode: few samples; targets are reported, not asserted)")
    print(f"measured in {wall_s:.1f} s")

    if args.write:
        command = "python bench/run.py --write" + (" --quick" if args.quick else "")
        method = reflow(method_text(plan, used, rows, len(sys.modules)))
        text = render_doc(rows, env, method, command, plan, mode_name, wall_s)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
