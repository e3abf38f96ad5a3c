"""Row 2: a warm invoke in-process, against python-lambda-local's ``call()``."""

from __future__ import annotations

from pytest_fginit import FunctionEmulator

from ..common import EVENT, Samples, check_ok, config, load_by_hand, now_ns
from ..lambda_local import LambdaLocal, theirs_call
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread


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



def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
    module = load_by_hand()
    warm = interleave(p.rounds, {
        "ours": lambda: ours_warm(p.warm_ours, p.warmup * 10),
        "theirs": lambda: theirs_call(ll, module, p.warm_theirs, 2),
    }, "2. warm invokes      ")
    row = Row("warm", "2. warm invoke",
              warm["ours"], f"lambda-local {ll.version} call()", warm["theirs"],
              kind="speedup", target=100)
    method = render("warm", ours_samples=p.warm_ours, theirs_samples=p.warm_theirs,
                    ours_spread=spread(warm["ours"], "µs"),
                    theirs_spread=spread(warm["theirs"], "µs"))
    return Section([row], method)
