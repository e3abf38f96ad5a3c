"""Row 7: a burst of process instances (1,000 in the full run) brought up by one send and
closed: how long each takes, and the most file descriptors the test process held."""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from pytest_fginit import FunctionEmulator

from ..common import EVENT, BenchError, Samples, check_ok, config, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import fmt_ns
from .process import child_interpreters_cached

_SAMPLE_EVERY_S = 0.02  # how often the descriptor count is read while a round runs
_DESCRIPTORS_PER_INSTANCE = 3  # what the docs say an instance holds (checked here)


@dataclass
class Bursts:
    up_ns: list[int] = field(default_factory=list)  # the send: every instance started
    close_ns: list[int] = field(default_factory=list)  # close(): every process exited
    peak_fds: list[int] = field(default_factory=list)  # the most open at once, per round
    base_fds: list[int] = field(default_factory=list)  # open before the round
    ok: int = 0
    total: int = 0


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # (less the one listdir opened)


@contextlib.contextmanager
def peak_descriptors(peaks: list[int]) -> Iterator[None]:
    """Count this process's open descriptors every `_SAMPLE_EVERY_S` until the block ends;
    appends the most seen to ``peaks``."""
    stop = threading.Event()
    most = [open_descriptors()]

    def watch() -> None:
        while not stop.wait(_SAMPLE_EVERY_S):
            most[0] = max(most[0], open_descriptors())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        peaks.append(max(most[0], open_descriptors()))


@contextlib.contextmanager
def descriptors_for(count: int) -> Iterator[None]:
    """A soft RLIMIT_NOFILE with room for ``count`` instances (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count * _DESCRIPTORS_PER_INSTANCE + 1024
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def ours_burst(bursts: Bursts, count: int) -> Samples:
    """One emulator, ``count`` requests sent together (``count`` new instance processes),
    then ``close()``, which returns once every instance process has exited."""
    fn = FunctionEmulator(config(isolation="process", max_instance_num=count)).start()
    bursts.base_fds.append(open_descriptors())
    with peak_descriptors(bursts.peak_fds):
        try:
            t0 = now_ns()
            invocations = fn.invoke_concurrently([EVENT] * count)
            up_ns = now_ns() - t0
        finally:
            t1 = now_ns()
            fn.close()
            close_ns = now_ns() - t1
    ok = sum(1 for inv in invocations if inv.ok)
    bursts.ok += ok
    bursts.total += count
    check_ok(invocations, cold=True)
    pids = [inv.instance.pid for inv in invocations if inv.instance is not None]
    if len(set(pids)) != count:
        raise BenchError(f"{count} cold requests ran in {len(set(pids))} processes")
    alive = [pid for pid in pids if pid is not None and _alive(pid)]
    if alive:
        raise BenchError(f"{len(alive)} instance processes were alive after close()")
    bursts.up_ns.append(up_ns)
    bursts.close_ns.append(close_ns)
    return [up_ns]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    count, bursts = plan.process_burst, Bursts()
    with child_interpreters_cached(), descriptors_for(count):
        up = interleave(plan.process_burst_rounds, {
            "ours": lambda: ours_burst(bursts, count),
        }, "7. process burst     ")
    close_s = statistics.median(bursts.close_ns) / 1e9
    peak = max(bursts.peak_fds)
    rounds = len(bursts.up_ns)
    row = Row("process_burst", "7. a burst of process instances, up and closed", up["ours"],
              f"{count:,} instances; close {close_s:.2f} s; peak {peak:,} descriptors",
              kind="report", summary=f"{bursts.ok:,}/{bursts.total:,} ok" + (
                  f" ({rounds} rounds)" if rounds > 1 else ""))
    held = statistics.median(p - b for p, b in zip(bursts.peak_fds, bursts.base_fds,
                                                   strict=True))
    method = render(
        "process_burst", count=f"{count:,}", rounds=rounds,
        ok=f"{bursts.ok:,}/{bursts.total:,}",
        up_rounds=", ".join(fmt_ns(x) for x in bursts.up_ns),
        close_rounds=", ".join(fmt_ns(x) for x in bursts.close_ns),
        up_each=fmt_ns(statistics.median(bursts.up_ns) / count, "µs"),
        close_each=fmt_ns(statistics.median(bursts.close_ns) / count, "µs"),
        peak=f"{peak:,}", base=f"{min(bursts.base_fds):,}",
        per_instance=f"{held / count:.2f}", sample_ms=f"{_SAMPLE_EVERY_S * 1000:g}",
    )
    return Section([row], method)
