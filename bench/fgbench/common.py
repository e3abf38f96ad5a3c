"""What every row shares: the function, its event, its configuration, the checks of its
answers, the clock that stays real, and the bytecode setting of a row.

All durations are read with freezegun's saved *real* ``perf_counter_ns``: while an emulator
runs, freezegun fakes ``time.perf_counter`` for the whole process, and it also replaces every
module attribute that *is* a real time function (a ``from time import perf_counter`` here would
be swapped for the fake one), but never the attributes of its own module.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import itertools
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import freezegun.api as _fz

from pytest_fginit import FunctionConfig, Invocation

HERE = Path(__file__).resolve().parents[1]  # bench/
REPO = HERE.parent
FUNCTION_DIR = HERE / "function"
HANDLER_FILE = FUNCTION_DIR / "index.py"
DEFAULT_DOC = REPO / "docs" / "benchmarks.md"
EVENT: dict[str, Any] = {"httpMethod": "GET", "path": "/items/7", "headers": {"X-Trace": "b1"}}

Samples = list[int]  # nanoseconds (bytes in row 5b), one per measured operation
PYCACHE = Path(tempfile.mkdtemp(prefix="fginit-bench-pycache-"))
atexit.register(shutil.rmtree, PYCACHE, True)  # (run.py removes it; this is for importers)


@contextlib.contextmanager
def bytecode(cached: bool) -> Iterator[None]:
    """Load the function's code from a bytecode cache, or compile its source every time.

    Both sides of a row run in the same state, whatever the interpreter was started with
    (``PYTHONDONTWRITEBYTECODE``, ``-B``, an existing ``__pycache__``): ``sys.pycache_prefix``
    points at a private folder, which fills up on the first load, or stays empty.
    """
    saved = sys.dont_write_bytecode, sys.pycache_prefix
    sys.pycache_prefix = str(PYCACHE / ("cached" if cached else "empty"))
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



def check_item(result: Any, who: str) -> None:
    if (not isinstance(result, dict) or result.get("statusCode") != 200
            or json.loads(result["body"])["item"] != EXPECTED_ITEM):
        raise BenchError(f"{who}: unexpected result {result!r}")

