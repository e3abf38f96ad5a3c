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
import atexit
import contextlib
import faulthandler
import gc
import importlib
import importlib.metadata
import importlib.util
import itertools
import json
import logging
import math
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import traceback
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

import freezegun.api as _fz

from pytest_fginit import FunctionConfig, FunctionEmulator, Invocation
from pytest_fginit._hosts.process import client as forkserver

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
atexit.register(shutil.rmtree, _PYCACHE, True)  # (main() removes it; this is for importers)


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
    runner: Callable[..., Any]  # main._runner: what call() and the CLI's run() both go through
    loader: Callable[..., Any]  # main.FunctionLoader


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
    return LambdaLocal(main.call, context.Context,
                       importlib.metadata.version("python-lambda-local"),
                       main._runner, main.FunctionLoader)


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


def load_by_hand(initialize: bool = True) -> Any:
    """The function's module, loaded (and initialized) once (for python-lambda-local)."""
    name = "bench_lambda_local_fn" if initialize else "bench_lambda_local_cold_fn"
    spec = importlib.util.spec_from_file_location(name, HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if initialize:
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


def ours_warm(n: int, warmup: int, isolation: str = "inprocess") -> Samples:
    samples: Samples = []
    with FunctionEmulator(config(isolation=isolation)) as fn:
        for _ in range(1 + warmup):  # the first one is the cold start
            fn.invoke(EVENT)
        first = len(fn.invocations)
        for _ in range(n):
            t0 = now_ns()
            fn.invoke(EVENT)
            samples.append(now_ns() - t0)
        check_ok(fn.invocations[first:], cold=False)
    return samples


def theirs_call(ll: LambdaLocal, module: Any, n: int, warmup: int) -> Samples:
    """python-lambda-local's call() on ``module``'s handler (loaded, initialized or not)."""
    samples: Samples = []
    for i in range(warmup + n):
        context = ll.context(3)
        t0 = now_ns()
        result, err_type = ll.call(module.handler, EVENT, context)
        elapsed = now_ns() - t0
        if err_type is not None:
            raise BenchError(f"python-lambda-local: unexpected result {result!r}")
        check_item(result, "python-lambda-local call()")
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


# --- process isolation -----------------------------------------------------------------------

MANY = 50  # instance processes alive at once in row 4d
MB = 1 << 20


@contextlib.contextmanager
def child_interpreters_cached() -> Iterator[None]:
    """New interpreters (the fork server, the fresh-interpreter baseline) read and write their
    bytecode cache in a private folder, whatever this interpreter was started with.

    Both are configured by environment variables only, read once at interpreter start (the fork
    server passes ``PYTHONPYCACHEPREFIX`` and ``PYTHONDONTWRITEBYTECODE`` through); the fork
    server starts here, so every instance it forks has this setting.
    """
    saved = {key: os.environ.get(key) for key in ("PYTHONPYCACHEPREFIX",
                                                  "PYTHONDONTWRITEBYTECODE")}
    os.environ["PYTHONPYCACHEPREFIX"] = str(_PYCACHE / "children")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    try:
        forkserver.shutdown()  # (none runs yet: the next one starts with this environment)
        forkserver.shared_server()
        yield
    finally:
        forkserver.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def check_item(result: Any, who: str) -> None:
    if (not isinstance(result, dict) or result.get("statusCode") != 200
            or json.loads(result["body"])["item"] != EXPECTED_ITEM):
        raise BenchError(f"{who}: unexpected result {result!r}")


def ours_process_cold(n: int, warmup: int) -> Samples:
    """Process isolation: recycle() then invoke(), n times; each a new instance process."""
    samples: Samples = []
    pids: set[int] = set()
    with FunctionEmulator(config(isolation="process")) as fn:
        for _ in range(warmup):
            fn.recycle()
            fn.invoke(EVENT)
        first = len(fn.invocations)
        for _ in range(n):
            t0 = now_ns()
            fn.recycle()
            inv = fn.invoke(EVENT)
            samples.append(now_ns() - t0)
            if inv.instance is not None and inv.instance.pid is not None:
                pids.add(inv.instance.pid)
        check_ok(fn.invocations[first:], cold=True)
    if len(pids) != n:
        raise BenchError(f"process isolation: {n} cold starts ran in {len(pids)} processes")
    return samples


def theirs_load_per_call(ll: LambdaLocal, n: int, warmup: int) -> Samples:
    """python-lambda-local's own loading path (its command line's): the child loads the file."""
    samples: Samples = []
    with bytecode(cached=True):
        for i in range(warmup + n):
            context = ll.context(3)
            loader = ll.loader(request_id=context.aws_request_id, source=str(HANDLER_FILE),
                               function_name="handler")
            t0 = now_ns()
            result, err_type = ll.runner(loader, EVENT, context)
            elapsed = now_ns() - t0
            if err_type is not None:
                raise BenchError(f"python-lambda-local: unexpected result {result!r}")
            check_item(result, "python-lambda-local (loading the file)")
            if i >= warmup:
                samples.append(elapsed)
    return samples


FRESH_CODE = f"""\
import json, sys
sys.path.insert(0, {str(FUNCTION_DIR)!r})
import index
class Context:
    def getRequestID(self):
        return "fresh"
context = Context()
index.init(context)
print(json.dumps(index.handler({EVENT!r}, context)))
"""


def fresh_interpreter(n: int, warmup: int, flags: tuple[str, ...] = ()) -> Samples:
    """A new interpreter per cold start: import the module, init(), handler(), print, exit."""
    samples: Samples = []
    command = [sys.executable, *flags, "-c", FRESH_CODE]
    for i in range(warmup + n):
        t0 = now_ns()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = now_ns() - t0
        if done.returncode != 0:
            raise BenchError(f"fresh interpreter: exit code {done.returncode}: {done.stderr}")
        check_item(json.loads(done.stdout), "fresh interpreter")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def memory_of(pid: int) -> tuple[int, int]:
    """``(PSS, RSS)`` of a live process, in bytes (``/proc/<pid>/smaps_rollup``)."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                name, _, rest = line.partition(b":")
                if name in (b"Pss", b"Rss"):
                    fields[name.decode()] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError) as exc:
        raise BenchError(f"cannot read the memory of process {pid}: {exc}") from None
    if set(fields) != {"Pss", "Rss"}:
        raise BenchError(f"/proc/{pid}/smaps_rollup has no Pss or Rss line")
    return fields["Pss"], fields["Rss"]


@dataclass
class Many:
    up_ns: list[int] = field(default_factory=list)  # all MANY up: starts and first invokes
    invokes_ns: list[int] = field(default_factory=list)  # of which the invokes
    pss: list[int] = field(default_factory=list)  # instances + fork server, all MANY alive
    rss: list[int] = field(default_factory=list)
    server_pss: list[int] = field(default_factory=list)
    ok: int = 0
    total: int = 0


def ours_many(many: Many, count: int) -> Samples:
    """``count`` process-isolated emulators open at once, each with one live instance."""
    server = forkserver.shared_server()
    invocations: list[Invocation] = []
    invokes_ns = 0
    # ExitStack closes them last-opened first: freezegun's freezes must stop in that order.
    with contextlib.ExitStack() as stack:
        t0 = now_ns()
        for _ in range(count):
            fn = stack.enter_context(FunctionEmulator(config(isolation="process")))
            t1 = now_ns()
            invocations.append(fn.invoke(EVENT))
            invokes_ns += now_ns() - t1
        up_ns = now_ns() - t0
        ok = sum(1 for inv in invocations if inv.ok)
        many.ok += ok
        many.total += count
        if ok != count:
            failed = next(inv for inv in invocations if not inv.ok)
            raise BenchError(f"{ok}/{count} invocations ok; the first failure: {failed.error!r}")
        check_ok(invocations, cold=True)
        pids = {inv.instance.pid for inv in invocations
                if inv.instance is not None and inv.instance.pid is not None}
        if len(pids) != count:
            raise BenchError(f"{count} live instances in {len(pids)} processes")
        server_pss, server_rss = memory_of(server.pid)
        usage = [memory_of(pid) for pid in pids]
        many.pss.append(server_pss + sum(pss for pss, _ in usage))
        many.rss.append(server_rss + sum(rss for _, rss in usage))
        many.server_pss.append(server_pss)
    many.up_ns.append(up_ns)
    many.invokes_ns.append(invokes_ns)
    return [up_ns]


# --- many requests at once, in-process ---------------------------------------------------------

BURST = 100  # simultaneous cold requests in row 5a, and idle instances in row 5b
KB = 1 << 10
MEMORY_TARGET = 100 * KB  # row 5b: what an idle instance may cost above the module's own


def check_burst(invocations: list[Invocation]) -> None:
    """BURST cold requests, each served by an instance of its own, initialized once."""
    if len(invocations) != BURST:
        raise BenchError(f"{BURST} requests sent, {len(invocations)} invocations back")
    check_ok(invocations, cold=True)
    instances = {id(inv.instance): inv.instance for inv in invocations}
    if len(instances) != BURST:
        raise BenchError(f"{BURST} simultaneous cold requests were served by "
                         f"{len(instances)} instances, not {BURST}")
    for inv in invocations:
        attempts = inv.init_attempts
        if (inv.instance is None or inv.instance.initializer_calls != 1
                or len(attempts) != 1 or not attempts[0].ok
                or attempts[0].instance is not inv.instance):
            raise BenchError(f"request {inv.request_id}: expected one initializer run on its "
                             f"own instance, got {inv.instance!r}, {attempts!r}")


def ours_burst(n: int, warmup: int) -> Samples:
    """Each sample: recycle() (the previous sample's BURST instances stop), then BURST
    requests sent at once with invoke_concurrently(): BURST new instances, side by side."""
    events = [EVENT] * BURST
    samples: Samples = []
    with bytecode(cached=True), FunctionEmulator(config()) as fn:
        for i in range(warmup + n):
            t0 = now_ns()
            fn.recycle()
            invocations = fn.invoke_concurrently(events)
            elapsed = now_ns() - t0
            check_burst(invocations)
            if i >= warmup:
                samples.append(elapsed)
    return samples


def ours_one_by_one(n: int, warmup: int) -> Samples:
    """Each sample: the same BURST requests one after another, each recycle() + invoke(): a
    cold start on one new instance, as in row 1a."""
    samples: Samples = []
    with bytecode(cached=True), FunctionEmulator(config()) as fn:
        for i in range(warmup + n):
            first = len(fn.invocations)
            t0 = now_ns()
            for _ in range(BURST):
                fn.recycle()
                fn.invoke(EVENT)
            elapsed = now_ns() - t0
            check_burst(fn.invocations[first:])
            if i >= warmup:
                samples.append(elapsed)
    return samples


def _nothing() -> None:
    pass


def empty_threads(n: int, warmup: int) -> Samples:
    """Each sample: twice (initializers, then handlers), BURST threads that do nothing,
    started and joined: the threads a send of BURST cold requests needs, without their work."""
    samples: Samples = []
    for i in range(warmup + n):
        t0 = now_ns()
        for _ in range(2):
            threads = [threading.Thread(target=_nothing) for _ in range(BURST)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed = now_ns() - t0
        if i >= warmup:
            samples.append(elapsed)
    return samples


@dataclass
class Memory:
    """Row 5b, one entry per round (bytes per instance, or per copy of the module)."""

    ours: Samples = field(default_factory=list)  # an idle instance, everything included
    stopped: Samples = field(default_factory=list)  # what stays of it after recycle()
    base: Samples = field(default_factory=list)  # the module loaded by hand
    ours_files: list[dict[str, float]] = field(default_factory=list)  # ours, by file
    base_files: list[dict[str, float]] = field(default_factory=list)


def _where(filename: str) -> str:
    """A traced file, short: relative to the repository, or to the standard library."""
    path = Path(filename)
    with contextlib.suppress(ValueError):
        return path.relative_to(REPO).as_posix()
    parts = path.parts
    for i, part in enumerate(parts):
        if re.fullmatch(r"python3\.[0-9]+", part) and i + 1 < len(parts):
            return "/".join(parts[i + 1:])
    return filename


def _growth(after: tracemalloc.Snapshot, before: tracemalloc.Snapshot,
            count: int) -> tuple[float, dict[str, float]]:
    """Bytes allocated between the snapshots and still alive, per ``count``, and by file."""
    by_file: dict[str, float] = {}
    for stat in after.compare_to(before, "filename"):
        where = _where(stat.traceback[0].filename)
        by_file[where] = by_file.get(where, 0.0) + stat.size_diff / count
    return sum(by_file.values()), by_file


@contextlib.contextmanager
def tracing() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def snapshot() -> tracemalloc.Snapshot:
    gc.collect()
    return tracemalloc.take_snapshot()


def ours_memory(memory: Memory) -> Samples:
    """BURST idle instances brought up by one send; traced allocations per instance."""
    events = [EVENT] * BURST
    with bytecode(cached=True), FunctionEmulator(config()) as fn, tracing():
        check_burst(fn.invoke_concurrently(events))  # warm-up: caches, lists grown
        fn.recycle()
        before = snapshot()
        invocations = fn.invoke_concurrently(events)
        idle = snapshot()  # BURST idle instances, and the records of their requests
        check_burst(invocations)  # (after the snapshot: its garbage is not counted)
        del invocations
        fn.recycle()
        stopped = snapshot()
    per_instance, by_file = _growth(idle, before, BURST)
    memory.ours.append(round(per_instance))
    memory.ours_files.append(by_file)
    memory.stopped.append(round(_growth(stopped, before, BURST)[0]))
    return [round(per_instance)]


_memory_copies = itertools.count(1)


def load_copy(name: str) -> Any:
    """One more copy of the function's module, as a plain import leaves it (in
    ``sys.modules``), initialized and after one request: what an idle instance holds of it.
    Returns the request's result."""
    spec = importlib.util.spec_from_file_location(name, HANDLER_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    context = TrivialContext(name)
    module.init(context)
    return module.handler(EVENT, context)


def baseline_memory(memory: Memory) -> Samples:
    """BURST copies of the module loaded by hand; traced allocations per copy."""
    def load_all() -> list[str]:
        names.extend(f"bench_memory_{next(_memory_copies)}" for _ in range(BURST))
        return [load_copy(name) for name in names]

    names: list[str] = []  # (this list and the results': 17 bytes a copy, counted)
    with bytecode(cached=True), tracing():
        try:
            load_all()  # warm-up
            for name in names:
                del sys.modules[name]
            names.clear()
            before = snapshot()
            results = load_all()
            after = snapshot()
        finally:
            for name in names:
                sys.modules.pop(name, None)
    for result in results:  # (after the snapshot: the check's garbage is not counted)
        check_item(result, "the module loaded by hand")
    per_copy, by_file = _growth(after, before, BURST)
    memory.base.append(round(per_copy))
    memory.base_files.append(by_file)
    return [round(per_copy)]


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
    proc_cold: int  # per round, each side of rows 4a (ours, call()) and lambda-local loading
    fresh: int  # per round, each fresh-interpreter side of row 4b
    proc_warm: int  # per round, process mode in row 4c (in-process mode: warm_ours)
    many_rounds: int  # row 4d: this many times MANY instances
    burst: int  # per round, each side of row 5a (a sample: BURST requests)
    memory_rounds: int  # row 5b: this many times BURST idle instances, and BURST copies


PLANS = {
    "quick": Plan(time_limit_s=25, rounds=2, cold=15, cold_new=3, warm_ours=150,
                  warm_theirs=5, timeouts=3, warmup=2, proc_cold=4, fresh=2, proc_warm=40,
                  many_rounds=1, burst=1, memory_rounds=1),
    "full": Plan(time_limit_s=300, rounds=12, cold=100, cold_new=15, warm_ours=2000,
                 warm_theirs=40, timeouts=25, warmup=5, proc_cold=30, fresh=10, proc_warm=500,
                 many_rounds=4, burst=5, memory_rounds=4),
}


@dataclass
class Row:
    key: str
    name: str
    ours: Samples
    theirs_label: str
    theirs: Samples | None = None  # measured, or:
    theirs_fixed_ns: int | None = None  # computed, not run
    # "slowdown": ours/theirs <= target; "speedup": theirs/ours >= target; "report": no ratio,
    # the theirs column shows theirs_label and the ratio column shows summary; "memory": bytes,
    # not nanoseconds, and the ratio is the difference ours - theirs (<= target, in bytes)
    kind: str = "slowdown"
    target: float | None = None
    notes: list[str] = field(default_factory=list)
    summary: str = ""

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def theirs_median(self) -> float:
        if self.kind == "report":
            return math.nan
        if self.theirs_fixed_ns is not None:
            return float(self.theirs_fixed_ns)
        assert self.theirs is not None
        return statistics.median(self.theirs)

    @property
    def ratio(self) -> float:
        if self.kind == "memory":
            return self.ours_median - self.theirs_median
        if self.kind == "slowdown":
            return self.ours_median / self.theirs_median
        return self.theirs_median / self.ours_median

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.kind == "memory":
            return self.ratio < self.target
        if self.kind == "slowdown":
            return self.ratio <= self.target
        return self.ratio >= self.target

    def ratio_text(self) -> str:
        if self.kind == "report":
            return self.summary
        if self.kind == "memory":
            return f"{'+' if self.ratio >= 0 else '-'}{fmt_bytes(abs(self.ratio))} above the module"
        if self.kind == "slowdown":
            return f"{self.ratio:.2f}x the baseline"
        return f"{_big(self.ratio)}x faster"

    def target_text(self) -> str:
        if self.target is None:
            return "none (information)"
        if self.kind == "memory":
            return f"< {self.target / KB:g} KB above"
        if self.kind == "slowdown":
            return f"<= {self.target:g}x"
        return f">= {_big(self.target)}x faster"

    def fmt(self, value: float, micro: str) -> str:
        return fmt_bytes(value) if self.kind == "memory" else fmt_ns(value, micro)

    def met_text(self) -> str:
        return {None: "n/a", True: "yes", False: "NO (missed)"}[self.met]


@dataclass
class Results:
    rows: list[Row]
    timeout_mode: str
    extras: dict[str, Samples]  # measured sides that are in the method text, not in a row
    many: Many
    memory: Memory


def measure(plan: Plan, ll: LambdaLocal) -> Results:
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
        "theirs": lambda: theirs_call(ll, module, p.warm_theirs, 2),
    }, "2. warm invokes      ")
    mode = timeout_mode()
    timeouts = interleave(p.rounds, {
        "ours": lambda: ours_timeouts(mode, p.timeouts, 1),
    }, "3. init timeouts     ")
    cold_module = load_by_hand(initialize=False)
    many = Many()
    with child_interpreters_cached():
        proc = interleave(p.rounds, {
            "ours": lambda: ours_process_cold(p.proc_cold, p.warmup),
            "call": lambda: theirs_call(ll, cold_module, p.proc_cold, 2),
            "load": lambda: theirs_load_per_call(ll, p.proc_cold, 2),
            "fresh": lambda: fresh_interpreter(p.fresh, 1),
            "fresh_S": lambda: fresh_interpreter(p.fresh, 1, ("-S",)),
        }, "4a, 4b. process cold")
        proc_warm = interleave(p.rounds, {
            "process": lambda: ours_warm(p.proc_warm, p.warmup * 10, "process"),
            "inprocess": lambda: ours_warm(p.warm_ours, p.warmup * 10),
        }, "4c. warm, process    ")
        many_up = interleave(p.many_rounds, {
            "ours": lambda: ours_many(many, MANY),
        }, f"4d. {MANY} instances     ")
    burst = interleave(p.rounds, {
        "ours": lambda: ours_burst(p.burst, 1),
        "one_by_one": lambda: ours_one_by_one(p.burst, 1),
        "threads": lambda: empty_threads(p.burst, 1),
    }, f"5a. {BURST} at once        ")
    memory = Memory()
    per_instance = interleave(p.memory_rounds, {
        "ours": lambda: ours_memory(memory),
        "base": lambda: baseline_memory(memory),
    }, "5b. idle memory      ")
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
        Row("proc_call", "4a. process cold start",
            proc["ours"], f"lambda-local {ll.version} call()", proc["call"], target=1.0),
        Row("proc_fresh", "4b. process cold start, as 4a",
            proc["ours"], "fresh interpreter, by hand", proc["fresh"], target=0.3),
        Row("proc_warm", "4c. warm invoke, process mode",
            proc_warm["process"], "in-process mode", proc_warm["inprocess"]),
        Row("many", f"4d. {MANY} process instances alive",
            many_up["ours"],
            f"peak PSS {max(many.pss) / MB:,.0f} MB, RSS {max(many.rss) / MB:,.0f} MB "
            f"({MANY} instances + fork server)",
            kind="report", summary=f"{MANY}/{MANY} ok" + (
                f" (each of {len(many.up_ns)} rounds)" if len(many.up_ns) > 1 else "")),
        Row("burst", f"5a. {BURST} simultaneous cold requests",
            burst["ours"], f"the same {BURST}, one by one", burst["one_by_one"]),
        Row("memory", "5b. memory per idle instance, in-process",
            per_instance["ours"], "the module loaded by hand", per_instance["base"],
            kind="memory", target=MEMORY_TARGET),
    ]
    extras = {"load": proc["load"], "fresh_S": proc["fresh_S"], "threads": burst["threads"]}
    return Results(rows, mode, extras, many, memory)


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


def fmt_bytes(n: float) -> str:
    if abs(n) >= MB:
        return f"{n / MB:.1f} MB"
    if abs(n) >= KB:
        return f"{n / KB:.1f} KB"
    return f"{n:.0f} B"


def spread(samples: Samples, micro: str) -> str:
    if len(samples) < 4:
        return f"n={len(samples)}"
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return f"n={len(samples)}, interquartile range {fmt_ns(q1, micro)} to {fmt_ns(q3, micro)}"


HEADERS = ("name", "ours", "theirs / baseline", "ratio", "target", "met?")


def table_cells(rows: list[Row], micro: str) -> list[tuple[str, ...]]:
    return [
        (r.name, r.fmt(r.ours_median, micro),
         r.theirs_label if r.kind == "report"
         else f"{r.fmt(r.theirs_median, micro)} ({r.theirs_label})",
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


def method_text(plan: Plan, results: Results, modules: int, ll_version: str) -> str:
    by_key = {r.key: r for r in results.rows}
    timeout_mode_used = results.timeout_mode
    p = plan

    def iqr(key: str, theirs: bool = False) -> str:
        row = by_key[key]
        return spread((row.theirs or []) if theirs else row.ours, "µs")

    ours_proc = statistics.median(by_key["proc_call"].ours)

    def extra(key: str) -> str:
        samples = results.extras[key]
        median = statistics.median(samples)
        return (f"{fmt_ns(median, 'µs')} ({spread(samples, 'µs')}); ours / this "
                f"{ours_proc / median:.2f}x")

    many = results.many
    mb = f"{MB:,}"
    mp_start = multiprocessing.get_start_method()
    mp_child = ("the start method is fork here: a fork of the test process" if mp_start == "fork"
                else f"the start method is {mp_start} here")
    server_mb = statistics.median(many.server_pss) / MB
    per_instance_mb = (max(many.pss) - statistics.median(many.server_pss)) / MANY / MB

    burst = by_key["burst"]
    threads = results.extras["threads"]
    slower = burst.ratio > 1
    memory = results.memory
    mem_row = by_key["memory"]
    ours_files, base_files = files_median(memory.ours_files), files_median(memory.base_files)
    own_lines = ours_files.get(HANDLER_FILE.relative_to(REPO).as_posix(), 0.0)
    code_objects = base_files.get("<frozen importlib._bootstrap_external>", 0.0)
    kb = f"{KB:,}"

    def rounds(samples: Samples) -> str:
        return ", ".join(fmt_bytes(x) for x in samples)

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

### 4a, 4b: process cold start (targets: ours <= 1x call(), <= 0.3x a fresh interpreter)

*Ours*: one `FunctionEmulator(FunctionConfig(..., isolation="process"))`, the same function
and initializer as row 1. One sample is `fn.recycle()` + `fn.invoke(event)`: the test process
tells the old instance process to stop and asks the fork server for a new one; the fork
server (one per test process, started with the first process-isolated emulator; it has
imported the instance runtime and freezegun, and started its clock, and never runs user code)
forks; the new process sets itself up (its own session, the function's environment,
`sys.path`, output to a log file), imports `index.py`, runs `init(context)`, then
`handler(event, context)`, each phase a request and an answer over a socket. Every sample is
checked, and every cold start of a block ran in a process of its own (distinct pids). The
fork server and the fresh interpreters of 4b run with `PYTHONPYCACHEPREFIX` set to a private
folder and without `PYTHONDONTWRITEBYTECODE`, so both read `index.py`'s bytecode from a cache
(the warm-up fills it) whatever this interpreter was started with. {p.proc_cold} samples per
round; {iqr("proc_call")}. The sides of 4a and 4b (and the two below) run interleaved in
the same rounds; 4a and 4b share ours.

*4a, theirs*: `lambda_local.main.call(handler, event, lambda_local.context.Context(3))`. What
it does (python-lambda-local {ll_version}, `lambda_local/main.py`): `call()` loads nothing: it
takes a function already imported in the calling process, wraps it in
`FunctionLoader(func=handler)` and runs `_runner()`: two INFO log lines, a new
`multiprocessing.Queue`, a `multiprocessing.Process` ({mp_child}) whose child finds the
function already set, runs it under a `signal.alarm()` time limit and puts `(result, error
type, duration)` on the queue; the parent `get()`s that, `join()`s the child and logs three
more lines. It has no initializer.
Here the handler's module is loaded in the test process but not initialized, so the child
builds the configuration inside the handler (what `init` does): the child pays fork, the
configuration and the handler, but no import. {p.proc_cold} samples per round;
{iqr("proc_call", True)}. For information, python-lambda-local's own loading path, which its
command line (`run()`) takes for every invocation: `FunctionLoader(source=path,
function_name="handler")` through the same `_runner()`, whose forked child appends the file's
folder to `sys.path`, loads the file under a new module name (`spec_from_file_location`,
`exec_module`, bytecode cached) and calls the handler; the modules `index.py` imports
(`hashlib`, `base64`, `json`, `re`) are already loaded in the forked test process:
{extra("load")}.

*4b, baseline*: `subprocess.run([sys.executable, "-c", code])`, where the code puts
`bench/function` on `sys.path`, imports `index`, calls `init(context)` and
`handler(event, context)` with a trivial context, and prints the result as JSON (checked).
The interpreter starts as usual, with `site`: this virtual environment's `.pth` files run at
every start (the editable install of pytest-fginit imports its finder, and `pathlib`).
{p.fresh} samples per round; {iqr("proc_fresh", True)}. For information, the same with
`python -S` (no `site`, no `.pth` files): {extra("fresh_S")}.

### 4c: warm invoke, process mode vs in-process mode (information)

Row 2's ours, with `isolation="process"` and with the default, `inprocess`: one `invoke()` on
an initialized instance. In process mode that is a request and an answer over the instance's
socket (pickled), the phase run in the instance process by the same in-process machinery, and
the instance's output log read back. Process mode {p.proc_warm} samples per round,
{iqr("proc_warm")}; in-process mode {p.warm_ours} samples per round,
{iqr("proc_warm", True)}.

### 4d: {MANY} process instances alive at once (information)

{MANY} emulators with `isolation="process"` are opened one after another (nested: only the
first `start()` of a nesting scans the loaded modules for freezegun) and each is invoked
once, so each holds one live instance process; every invocation is checked
({many.ok}/{many.total} ok over {p.many_rounds} rounds of {MANY}). "ours" is the time from
opening the first emulator to the end of the last invoke, the median of the rounds
({", ".join(fmt_ns(x, "µs") for x in many.up_ns)}); the {MANY} invokes alone take
{fmt_ns(statistics.median(many.invokes_ns), "µs")} of it (median), about
{fmt_ns(statistics.median(many.invokes_ns) / MANY, "µs")} per instance.
While all are alive, the memory
of the {MANY} instance processes and of the fork server is read from
`/proc/<pid>/smaps_rollup`: the sum of `Pss` (proportional set size: a page shared by k
processes counts 1/k in each, so the sum is what the group occupies), highest of the rounds,
{max(many.pss) / MB:,.0f} MB: about {per_instance_mb:.1f} MB per instance, the fork server
{server_mb:.1f} MB; and the sum of `Rss` for comparison, {max(many.rss) / MB:,.0f} MB, which
counts every page an instance still shares with the fork server once in each process
(1 MB = {mb} bytes). The emulators are closed outside the timing, last opened first
(freezegun's freezes must stop in that order).

### 5a: {BURST} simultaneous cold requests, in-process (information)

*Ours*: one emulator as in row 1a (in-process, the default; bytecode cached). One sample is
`fn.recycle()` (the previous sample's {BURST} instances stop) + `fn.invoke_concurrently([event]
* {BURST})`: the {BURST} requests arrive at the same instant; with `concurrency_num` 1 (the
default) each is given a new instance before any user code runs (`max_instance_num` is 400 by
default), then the {BURST} new instances load `index.py` and run `init(context)` side by side,
on a thread each, then the {BURST} handlers, again on a thread each; the call returns when all
have ended. Every sample is checked: {BURST} invocations, all ok and cold, on {BURST} distinct
instances, each initialized once. {p.burst} samples per round; {iqr("burst")}.

*Baseline*: the same {BURST} requests one by one, on an emulator of its own: {BURST} times
`fn.recycle()` + `fn.invoke(event)`, row 1a's sample, so each request is a cold start of one
new instance; checked the same way. {p.burst} samples per round; {iqr("burst", True)}. Both
sides stop {BURST} instances and bring up {BURST} per sample, and do the same user work.

{"Sending them together is slower, and no faster can be expected in-process" if slower else
"Sending them together is not slower here, but no faster can be expected in-process"}: the
instances are threads of one interpreter, and CPython's global interpreter lock lets one thread
run Python at a time, so {BURST} initializers side by side take at least the processor time of
{BURST} one after another. The threads come on top: starting and joining 2 x {BURST} threads
that do nothing (a send of {BURST} cold requests needs one per request for the initializers,
then one per request for the handlers) took {fmt_ns(statistics.median(threads), "µs")} here
({spread(threads, "µs")}), and then the threads take turns on the lock, which costs more when
other processes compete for the machine's cores. In a separate run on 2026-11-29 (one
emulator, no interleaving), with the emulator's threads replaced by a plain loop (the same tasks
one after another on the calling thread), a send of {BURST} took about 16 ms, against 15 ms for
the {BURST} requests one by one and 43 ms for the same send with its threads: without the
threads, sending them together costs what sending them one by one does; the difference is the
threads. What the threads buy
is behaviour, not speed: the requests overlap in virtual time (each on a timeline of its own,
so one request's `time.sleep` does not delay another's; a sleep costs no real time on either
side), user code meets itself on real threads as on the platform, and who serves whom is
decided before any user code runs.

### 5b: memory per idle instance, in-process (target: under 100 KB above the module's own)

*Ours*: one emulator as in row 1a, under `tracemalloc` (Python's allocation tracer: every block
Python's allocators hand out, with the file and line that allocated it; not memory that C
libraries allocate on their own). After a warm-up (a send of {BURST} cold requests, then
`fn.recycle()`, so that caches and lists have grown), `gc.collect()` and a snapshot; then
`fn.invoke_concurrently([event] * {BURST})`, checked as in 5a: {BURST} new instances, each
initialized and done with one request, all idle; `gc.collect()` and a second snapshot. Per
instance: what was allocated between the snapshots and is still alive, divided by {BURST}:
everything the emulator holds for an idle instance, its module (with `CONFIG`), its private
package and builtins, its names in `sys.modules`, and the records of its start and of its
request (`fn.instances`, `fn.invocations`, the journal). Median of {p.memory_rounds} rounds
({rounds(memory.ours)}).

*Baseline*: the module's own footprint: {BURST} copies of `index.py` loaded by hand as in row
1a's baseline (`spec_from_file_location`, `module_from_spec`, `exec_module`, under new names
left in `sys.modules`, as an import leaves a module), each initialized with `init(ctx)` and
done with one request (`handler(event, ctx)`), traced the same way after a warm-up of {BURST}
copies loaded and dropped; per copy. Median of {p.memory_rounds} rounds
({rounds(memory.base)}).

"ratio" is the difference, ours - baseline: what an idle instance costs above a plain import of
the same code, {fmt_bytes(mem_row.ratio)} (target: under 100 KB; 1 KB = {kb} bytes). Where it
goes, by the file that allocated it (median of the rounds), per instance: {files_text(ours_files)};
per copy of the baseline: {files_text(base_files)}. The baseline's
`<frozen importlib._bootstrap_external>` share ({fmt_bytes(code_objects)}) is mostly `index.py`'s
code objects, read from the bytecode cache for every copy; the emulator keeps one code object
per version of the file and runs it in every instance (row 1a), so an instance does not pay
it. Counting everything but what `index.py`'s own lines allocated, an idle instance costs
{fmt_bytes(mem_row.ours_median - own_lines)}: the emulator's own part, whatever the module.
After `fn.recycle()` (a third snapshot), {fmt_bytes(statistics.median(memory.stopped))} per
instance is still allocated: a stopped instance keeps its module, so that `Instance.module`
stays usable, until the emulator is dropped (docs/behaviour-and-limits.md: "Instances keep
their modules until the test ends").

Resident memory (RSS) is not reported for this row: tried on 2026-11-29 the same way (without
`tracemalloc`, whose own records take memory), it grew by 0 to 3 KB per instance from round to
round, because Python reuses the memory freed by earlier rounds and rows; at this size it says
nothing. The threads a send starts are gone when it returns, and their stacks with them.
"""


def files_median(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Row 5b's bytes by file, the median of the rounds (0 in a round that lacks the file)."""
    files = {name for by_file in rounds for name in by_file}
    return {name: statistics.median(by_file.get(name, 0.0) for by_file in rounds)
            for name in files}


def files_text(by_file: dict[str, float], top: int = 4) -> str:
    ranked = sorted(by_file.items(), key=lambda item: -item[1])
    shown = [f"`{name}` {fmt_bytes(size)}" for name, size in ranked[:top] if size >= 1]
    rest = sum(size for _, size in ranked[top:])
    return ", ".join(shown) + (f", other files {fmt_bytes(rest)}" if ranked[top:] else "")


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
python -m pip install -e '.[test]'   # once: includes python-lambda-local, rows 2 and 4a's reference
{command}
```
{quick}
{markdown_table(rows)}

{verdict}

Times are medians. "ratio" is ours / baseline in rows 1a-1c, 4a-4c and 5a (lower is better)
and reference / ours in rows 2 and 3 (higher is better); row 4d has no ratio: "ours" is the time
to bring {MANY} process instances up, and the next column their memory. Row 5b is memory, not
time: bytes per idle instance and per copy of the module loaded by hand (medians of the rounds),
and "ratio" is their difference. The whole run took {wall_s:.1f} s. `python bench/run.py
--quick` is the smoke test (a few seconds; it prints the same table, and like the full run it
reports targets without failing on them); `--write` rewrites this page. The exit status is 0
whether targets are met or not; it is 2 if the emulator answers wrongly (then no numbers
are reported), and 1, with every thread's traceback, if a run hangs for more than
{plan.time_limit_s} s.

## Where the emulator's time goes

Profiled on 2026-11-29 (cProfile, and stage timers around the emulator's steps), for a cold
start with the code object already cached: the module's body runs in a fresh namespace with its
own builtins and import hook; each phase (start, handler) costs about 5 us of bookkeeping
(deadline, watchdog, output capture); the JSON round trips of event and result about 8 us;
contexts, records and state changes about 10 us. A warm invoke is about 12 us of bookkeeping
around the handler.

With process isolation (row 4a), timestamps taken on 2026-11-29 in the test process and the
instance process, in a separate run of row 4a's scenario (bytecode cached; a cold start took
about 5 ms there). The fork server forks instances ahead (spares), each connected to the test
process, so neither a fork nor a message to the server is on the way of a cold start; the
next spare is forked while this one starts. Handing the request (log and status files, the
function's environment, `sys.path`) straight to a waiting spare, 0.2 ms; the instance's set-up
from that request (environment, `sys.path`, the clock, the in-process host), 1.0 ms; the start
phase, request to answer, about 1.8 ms, most of it importing `index.py` and copy-on-write page
faults (2 to 3 us each on this virtual machine; the fork server has frozen its objects out of
the collector's sight, and a spare rehearses the runtime's own steps while it waits, so that
fewer of them fall here); the handler's phase 0.3 to 0.5 ms; the test process's bookkeeping,
and the wake-ups of processes that slept, between them. Measured earlier the same day, before
these changes: a `fork()` of the fork server (about 30 MB resident) cost 1.4 ms and a round
trip through the server 1.8 ms on the way of each cold start, a watchdog thread per instance
0.55 ms, and `import hashlib` (OpenSSL's set-up) 3.2 ms: the fork server now loads the
standard-library modules a runtime has loaded (`hashlib`, `base64`, `json`, `ssl`, `logging`,
...; a module of the same name in the code root still wins). python-lambda-local's `call()`
(row 4a) forks the test process, where `index.py` and `hashlib` are already loaded.

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
        results = measure(plan, ll)
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
              "pytest_fginit/_hosts/inprocess/deadline.py)", file=sys.stderr)
        return 2
    finally:
        faulthandler.cancel_dump_traceback_later()
        shutil.rmtree(_PYCACHE, ignore_errors=True)
    wall_s = (now_ns() - started) / 1e9
    rows = results.rows
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
        method = reflow(method_text(plan, results, len(sys.modules), ll.version))
        text = render_doc(rows, env, method, command, plan, mode_name, wall_s)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
