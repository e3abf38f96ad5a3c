"""Rows 4a-4d: process isolation. A cold start in an instance process of its own, against
python-lambda-local's ``call()`` and a fresh interpreter; a warm invoke against in-process
mode; and 50 instance processes alive at once, with their memory."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from pytest_fginit import FunctionEmulator, Invocation
from pytest_fginit._hosts.process import client as forkserver

from ..common import (
    EVENT,
    FUNCTION_DIR,
    HANDLER_FILE,
    PYCACHE,
    BenchError,
    Samples,
    bytecode,
    check_item,
    check_ok,
    config,
    load_by_hand,
    now_ns,
)
from ..lambda_local import LambdaLocal, theirs_call
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import MB, fmt_ns, spread
from .warm import ours_warm

MANY = 50  # instance processes alive at once in row 4d


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
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE / "children")
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



def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
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
    rows = [
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
    ]
    return Section(rows, method(plan, ll, proc, proc_warm, many))


def method(plan: Plan, ll: LambdaLocal, proc: dict[str, Samples],
           proc_warm: dict[str, Samples], many: Many) -> str:
    ours = statistics.median(proc["ours"])

    def compared(samples: Samples) -> str:
        median = statistics.median(samples)
        return (f"{fmt_ns(median, 'µs')} ({spread(samples, 'µs')}); ours / this "
                f"{ours / median:.2f}x")

    start = multiprocessing.get_start_method()
    server_pss = statistics.median(many.server_pss)
    invokes = statistics.median(many.invokes_ns)
    return render(
        "process", ll_version=ll.version, many=MANY,
        mp_child=("the start method is fork here: a fork of the test process"
                  if start == "fork" else f"the start method is {start} here"),
        cold_samples=plan.proc_cold, fresh_samples=plan.fresh, warm_samples=plan.proc_warm,
        inprocess_samples=plan.warm_ours, many_rounds=plan.many_rounds,
        cold_spread=spread(proc["ours"], "µs"), call_spread=spread(proc["call"], "µs"),
        fresh_spread=spread(proc["fresh"], "µs"), load_per_call=compared(proc["load"]),
        fresh_no_site=compared(proc["fresh_S"]),
        warm_spread=spread(proc_warm["process"], "µs"),
        inprocess_spread=spread(proc_warm["inprocess"], "µs"),
        many_ok=many.ok, many_total=many.total,
        many_rounds_up=", ".join(fmt_ns(x, "µs") for x in many.up_ns),
        many_invokes=fmt_ns(invokes, "µs"), many_invoke_each=fmt_ns(invokes / MANY, "µs"),
        peak_pss_mb=f"{max(many.pss) / MB:,.0f}", peak_rss_mb=f"{max(many.rss) / MB:,.0f}",
        per_instance_mb=f"{(max(many.pss) - server_pss) / MANY / MB:.1f}",
        server_mb=f"{server_pss / MB:.1f}", mb_bytes=f"{MB:,}",
    )
