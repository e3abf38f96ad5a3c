"""Row 3: four initializer timeouts of 300 s, against how long they last for real."""

from __future__ import annotations

import sys

from pytest_fginit import FunctionEmulator, Invocation

from ..common import EVENT, BenchError, Samples, config, now_ns
from ..lambda_local import LambdaLocal
from ..model import Plan, Row, Section, interleave
from ..template import render
from ..units import spread

INIT_TIMEOUT_S = 300
INIT_ATTEMPTS = 4  # 1 + init_retries (3)
SLEEP_S = 400
REAL_SCENARIO_S = INIT_ATTEMPTS * INIT_TIMEOUT_S


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



def measure(plan: Plan, ll: LambdaLocal) -> Section:
    p = plan
    mode = timeout_mode()
    timeouts = interleave(p.rounds, {
        "ours": lambda: ours_timeouts(mode, p.timeouts, 1),
    }, "3. init timeouts     ")
    row = Row("timeouts", f"3. {INIT_ATTEMPTS} init timeouts of {INIT_TIMEOUT_S} s",
              timeouts["ours"], "real time, computed",
              theirs_fixed_ns=REAL_SCENARIO_S * 10**9, kind="speedup", target=1000)
    scenario = (
        f"the initializer really calls `time.sleep({SLEEP_S})` (`bench/function/slow.py`); "
        "the emulator's `time.sleep` for instance code jumps the virtual clock to the "
        "deadline and ends the phase as a timeout"
        if mode == "sleep" else
        f"`fn.faults.initializer.hangs(times={INIT_ATTEMPTS})` is queued before each invoke "
        "(outside the timing) because the initializer that really sleeps did not time out "
        "as expected in this run"
    )
    method = render("timeouts", scenario=scenario, attempts=INIT_ATTEMPTS,
                    timeout_s=INIT_TIMEOUT_S, timeout_ms=INIT_TIMEOUT_S * 1000,
                    real_s=REAL_SCENARIO_S, samples=p.timeouts,
                    spread=spread(timeouts["ours"], "µs"))
    return Section([row], method)
