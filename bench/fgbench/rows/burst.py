"""Row 5a: 100 cold requests that arrive together, in-process, against the same 100 one by
one; and, for the method text, what the threads of such a send cost alone."""

from __future__ import annotations

import statistics
import threading

from pytest_fginit import FunctionEmulator, Invocation

from ..common import EVENT, BenchError, Samples, bytecode, check_ok, config, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import fmt_ns, spread

BURST = 100  # simultaneous cold requests in row 5a, and idle instances in row 5b


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



def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
    burst = interleave(p.rounds, {
        "ours": lambda: ours_burst(p.burst, 1),
        "one_by_one": lambda: ours_one_by_one(p.burst, 1),
        "threads": lambda: empty_threads(p.burst, 1),
    }, f"5a. {BURST} at once        ")
    row = Row("burst", f"5a. {BURST} simultaneous cold requests",
              burst["ours"], f"the same {BURST}, one by one", burst["one_by_one"])
    verdict = ("Sending them together is slower, and no faster can be expected in-process"
               if row.ratio > 1 else
               "Sending them together is not slower here, but no faster can be expected "
               "in-process")
    method = render("burst", burst=BURST, samples=p.burst, verdict=verdict,
                    ours_spread=spread(burst["ours"], "µs"),
                    base_spread=spread(burst["one_by_one"], "µs"),
                    threads=fmt_ns(statistics.median(burst["threads"]), "µs"),
                    threads_spread=spread(burst["threads"], "µs"))
    return Section([row], method)
