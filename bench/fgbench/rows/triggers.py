"""Rows 11a-11b: the trigger verbs against the synchronous path they are built on (issue 13):
asynchronous requests retried once through ``drain()`` against synchronous invokes, and
``http()`` against ``invoke()`` of the same APIG event."""

from __future__ import annotations

from pytest_fginit import FunctionEmulator, events

from ..common import EVENT, BenchError, Samples, bytecode, check_ok, config, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread

ASYNC_TARGET, HTTP_TARGET = 2.0, 1.2
# (one instance, never reclaimed: the async side's retries come 60 s later on the virtual
# clock, past the default idle timeout, and would be cold starts the other side never has)
WARM_ONE = {"max_instance_num": 1, "instance_idle_timeout": 86400}
APIG_EVENT = events.apig("GET", str(EVENT["path"]), headers={"x-trace": "b1"})


def async_retried(n: int) -> Samples:
    """``n`` asynchronous requests, each failing once and retried, run by ``drain()``."""
    with bytecode(cached=True), FunctionEmulator(
            config(max_async_retry_attempts=1, **WARM_ONE)) as fn:
        fn.invoke(EVENT)  # (the cold start: warm from here, as the other sides)
        fn.faults.handler.raises(ConnectionError("injected"), times=n)
        t0 = now_ns()
        requests = [fn.invoke_async(EVENT) for _ in range(n)]
        fn.drain()
        elapsed = now_ns() - t0
    for request in requests:
        if request.status != "SUCCESS" or len(request.attempts) != 2:
            raise BenchError(f"expected a success on the retry, got {request!r}")
    check_ok([request.attempts[-1] for request in requests], cold=False)
    return [elapsed]


def sync_retried(n: int) -> Samples:
    """The same attempts sent synchronously: ``n`` invokes that meet the same fault, then the
    ``n`` requests sent again (in the async side's order: every first attempt, then every
    retry), as a caller retrying by hand would."""
    with bytecode(cached=True), FunctionEmulator(
            config(max_async_retry_attempts=1, **WARM_ONE)) as fn:
        fn.invoke(EVENT)
        fn.faults.handler.raises(ConnectionError("injected"), times=n)
        t0 = now_ns()
        failed = [fn.invoke(EVENT) for _ in range(n)]
        retried = [fn.invoke(EVENT) for attempt in failed if not attempt.ok]
        elapsed = now_ns() - t0
    if len(retried) != n:
        raise BenchError(f"expected {n} failed first attempts, got {n - len(retried)}")
    check_ok(retried, cold=False)
    return [elapsed]


def sync_invokes(n: int) -> Samples:
    with bytecode(cached=True), FunctionEmulator(config(**WARM_ONE)) as fn:
        fn.invoke(EVENT)
        t0 = now_ns()
        invocations = [fn.invoke(EVENT) for _ in range(n)]
        elapsed = now_ns() - t0
    check_ok(invocations, cold=False)
    return [elapsed]


def warm_calls(n: int, warmup: int, through_http: bool) -> Samples:
    """``n`` warm requests of the APIG event, each timed: ``http()``, or ``invoke()``."""
    samples: Samples = []
    with bytecode(cached=True), FunctionEmulator(config(handler="apig.handler",
                                                        initializer_handler="apig.init")) as fn:
        for i in range(1 + warmup + n):
            t0 = now_ns()
            if through_http:
                status = fn.http("GET", str(EVENT["path"]), headers={"x-trace": "b1"}).status
            else:
                status = fn.invoke(APIG_EVENT).result["statusCode"]
            elapsed = now_ns() - t0
            if status != 200:
                raise BenchError(f"the APIG function answered {status}")
            if i > warmup:
                samples.append(elapsed)
    return samples


def measure(plan: Plan, ll: LambdaLocal) -> Section:
    del ll  # (no peer: both sides are pytest-fginit)
    n = plan.trigger_events
    queued = interleave(plan.rounds, {"ours": lambda: async_retried(n),
                                      "theirs": lambda: sync_retried(n),
                                      "plain": lambda: sync_invokes(n)}, "11a. async")
    per_call = interleave(plan.rounds, {
        "ours": lambda: warm_calls(plan.warm_ours // plan.rounds, plan.warmup, True),
        "theirs": lambda: warm_calls(plan.warm_ours // plan.rounds, plan.warmup, False),
    }, "11b. http()")
    rows = [
        Row("async", f"11a. {n:,} async requests, each retried once", queued["ours"],
            f"{n:,} synchronous invokes", queued["plain"], kind="slowdown",
            target=ASYNC_TARGET),
        Row("async_attempts", "11a'. the same, against the same attempts sent synchronously",
            queued["ours"], f"the same {2 * n:,} attempts, synchronous", queued["theirs"],
            kind="slowdown"),
        Row("http", "11b. http() of an APIG request", per_call["ours"],
            "invoke() of the same APIG event", per_call["theirs"], kind="slowdown",
            target=HTTP_TARGET),
    ]
    method = render("triggers", events=f"{n:,}", rounds=plan.rounds,
                    async_spread=spread(queued["ours"], "ms"),
                    sync_spread=spread(queued["theirs"], "ms"),
                    plain_spread=spread(queued["plain"], "ms"),
                    calls=f"{plan.warm_ours // plan.rounds * plan.rounds:,}")
    return Section(rows, method)
