"""Rows 2-2d: a warm invoke in-process, against python-lambda-local's ``call()`` (which forks
per call) and against a direct call of the handler, with one ready instance and with many;
and that ratio's floor (the direct call with the event's and result's JSON round trips)."""

from __future__ import annotations

import json

from pytest_fginit import FunctionEmulator, Invocation

from ..common import (
    EVENT,
    BenchError,
    Samples,
    TrivialContext,
    check_item,
    check_ok,
    config,
    load_by_hand,
    now_ns,
)
from ..lambda_local import LambdaLocal, theirs_call
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread

DIRECT_TARGET = 3.0  # a warm invoke against the handler called directly (issue 12)


def timed_invokes(fn: FunctionEmulator, n: int) -> Samples:
    """``n`` warm invokes, each timed; checked after the last (the invocations kept here, not
    read back from ``fn.invocations``, which may keep only the latest)."""
    samples: Samples = []
    invocations: list[Invocation] = []
    for _ in range(n):
        t0 = now_ns()
        inv = fn.invoke(EVENT)
        samples.append(now_ns() - t0)
        invocations.append(inv)
    check_ok(invocations, cold=False)
    return samples


def ours_warm(n: int, warmup: int, isolation: str = "inprocess") -> Samples:
    with FunctionEmulator(config(isolation=isolation)) as fn:
        for _ in range(1 + warmup):  # the first one is the cold start
            fn.invoke(EVENT)
        return timed_invokes(fn, n)


def ours_warm_many(n: int, warmup: int, ready: int) -> Samples:
    """As ``ours_warm``, with ``ready`` instances ready: one send of ``ready`` requests first
    (each on a new instance), then the warm invokes (each on the instance the latest used)."""
    with FunctionEmulator(config(max_instance_num=ready)) as fn:
        check_ok(fn.invoke_concurrently([EVENT] * ready), cold=True)
        for _ in range(warmup):
            fn.invoke(EVENT)
        samples = timed_invokes(fn, n)
        alive = sum(1 for instance in fn.instances if instance.state == "ready")
        if alive != ready:
            raise BenchError(f"{ready} instances brought up, {alive} still ready after the "
                             f"warm invokes")
    return samples


def direct_call(n: int, warmup: int) -> Samples:
    """The handler of a module loaded and initialized by hand, called with a new context per
    call: what a hand-written test does with a warm module."""
    module = load_by_hand()
    samples: Samples = []
    results = []
    for i in range(warmup + n):
        t0 = now_ns()
        result = module.handler(EVENT, TrivialContext(f"direct-{i}"))
        elapsed = now_ns() - t0
        results.append(result)
        if i >= warmup:
            samples.append(elapsed)
    for result in results:
        check_item(result, "the handler called directly")
    return samples


def json_floor(n: int, warmup: int) -> Samples:
    """As ``direct_call``, with what no emulator can leave out of a request: the event's JSON
    round trip before the handler and the result's after it (the platform passes both as
    JSON text). The floor of row 2b's ratio."""
    module = load_by_hand()
    dumps, loads = json.dumps, json.loads
    samples: Samples = []
    results = []
    for i in range(warmup + n):
        t0 = now_ns()
        result = loads(dumps(module.handler(loads(dumps(EVENT)), TrivialContext(f"floor-{i}"))))
        elapsed = now_ns() - t0
        results.append(result)
        if i >= warmup:
            samples.append(elapsed)
    for result in results:
        check_item(result, "the handler called with JSON round trips")
    return samples


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
    module = load_by_hand()
    warm = interleave(p.rounds, {
        "ours": lambda: ours_warm(p.warm_ours, p.warmup * 10),
        "theirs": lambda: theirs_call(ll, module, p.warm_theirs, 2),
        "direct": lambda: direct_call(p.warm_ours, p.warmup * 10),
        "many": lambda: ours_warm_many(p.warm_ours, p.warmup * 10, p.ready),
        "floor": lambda: json_floor(p.warm_ours, p.warmup * 10),
    }, "2. warm invokes      ")
    row = Row("warm", "2. warm invoke, against a fork per call",
              warm["ours"], f"lambda-local {ll.version} call()", warm["theirs"],
              kind="speedup", target=100)
    direct = Row("warm_direct", "2b. warm invoke, against a direct call",
                 warm["ours"], "handler(event, ctx) by hand", warm["direct"],
                 kind="slowdown", target=DIRECT_TARGET)
    many = Row("warm_many", f"2c. warm invoke, {p.ready:,} ready instances",
               warm["many"], "handler(event, ctx) by hand, as 2b", warm["direct"],
               kind="slowdown", target=DIRECT_TARGET)
    floor = Row("warm_floor", "2d. a direct call with the JSON round trips (2b's floor)",
                warm["floor"], "handler(event, ctx) by hand, as 2b", warm["direct"],
                kind="slowdown")
    method = render("warm", ours_samples=p.warm_ours, theirs_samples=p.warm_theirs,
                    ours_spread=spread(warm["ours"], "µs"),
                    theirs_spread=spread(warm["theirs"], "µs"),
                    direct_spread=spread(warm["direct"], "µs"),
                    many_spread=spread(warm["many"], "µs"), ready=f"{p.ready:,}",
                    floor_spread=spread(warm["floor"], "µs"),
                    direct_target=f"{DIRECT_TARGET:g}",
                    flat=f"{many.ours_median / direct.ours_median:.2f}")
    return Section([row, direct, many, floor], method)
