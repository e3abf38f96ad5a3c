"""The emulator's clock: what user code sees, what sleeps cost, how timeouts end phases."""

from __future__ import annotations

import datetime
import math
import threading
import time

import freezegun
import freezegun.api
import pytest


def real_monotonic() -> float:
    """The real clock, for the few checks that a virtual wait did not cost a real one (with
    generous bounds: a broken clock would take minutes, a working one milliseconds).

    Looked up at call time: while a freeze runs, freezegun replaces module attributes that are
    real time functions (a module-level ``real_monotonic = ...`` would turn fake)."""
    return freezegun.api.real_monotonic()

NOT_300_SECONDS = 60.0

CLOCK_FUNCTION = """
import datetime
import math
import time

def init(context):
    pass

def handler(event, context):
    before = time.time()
    mono = time.monotonic()
    time.sleep(event.get("sleep", 0))
    return {
        "before": before,
        "after": time.time(),
        "slept_mono": time.monotonic() - mono,
        "now": datetime.datetime.now(datetime.timezone.utc).timestamp(),
        "remaining": context.getRemainingTimeInMilliSeconds(),
    }
"""


def test_user_code_sees_the_emulator_clock_and_sleep_costs_no_real_time(emulate):
    fn = emulate(index=CLOCK_FUNCTION, timeout=900)
    start = real_monotonic()
    inv = fn.invoke({"sleep": 600})
    assert real_monotonic() - start < NOT_300_SECONDS
    assert inv.ok, inv.error
    result = inv.result
    assert result["after"] - result["before"] == pytest.approx(600, abs=1)
    assert result["slept_mono"] == pytest.approx(600, abs=1)
    assert result["now"] == pytest.approx(fn.now, abs=1)
    assert result["remaining"] == pytest.approx(300_000, abs=1000)
    assert inv.duration_ms == pytest.approx(600_000, abs=1000)


def test_a_sleep_past_the_timeout_ends_the_phase_at_the_timeout(emulate):
    fn = emulate(index="""
        import time
        def init(context):
            time.sleep(400)
        def handler(event, context):
            return "never"
    """, initializer_timeout=300)
    start = real_monotonic()
    inv = fn.invoke()
    assert real_monotonic() - start < NOT_300_SECONDS
    assert [a.error.kind for a in inv.init_attempts] == ["init_timeout"] * 4
    assert all(a.duration_ms == pytest.approx(300_000, abs=1) for a in inv.init_attempts)
    assert inv.error.code == 4211
    assert inv.init_duration_ms == pytest.approx(1_200_000, abs=5)


def test_except_exception_in_user_code_cannot_swallow_the_timeout(emulate):
    fn = emulate(index="""
        import time
        def init(context):
            pass
        def handler(event, context):
            try:
                time.sleep(10)
            except Exception as exc:
                print("swallowed", exc)
            print("still running")
            return "swallowed"
    """)
    inv = fn.invoke()
    assert inv.error.kind == "handler_timeout"
    assert "swallowed" not in inv.log and "still running" not in inv.log


def test_a_busy_loop_is_stopped_by_the_watchdog_at_its_timeout(emulate):
    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            while True:
                pass
    """)
    inv = fn.invoke()  # costs the 3 s timeout in real time: the clock runs at real speed
    assert inv.error.kind == "handler_timeout"
    assert inv.duration_ms == pytest.approx(3000, abs=1)
    assert fn.invoke().cold_start  # and the process is fine afterwards


def test_real_time_limit_ends_a_busy_hang_early_and_jumps_to_the_timeout(emulate):
    fn = emulate(index="""
        def init(context):
            while True:
                pass
        def handler(event, context):
            return "never"
    """, initializer_timeout=300, real_time_limit=0.05, init_retries=1)
    start = real_monotonic()
    inv = fn.invoke()
    assert real_monotonic() - start < NOT_300_SECONDS
    assert [a.error.kind for a in inv.init_attempts] == ["init_timeout", "init_timeout"]
    assert all(a.duration_ms == pytest.approx(300_000, abs=1) for a in inv.init_attempts)


def test_advance_moves_the_clock_forward_only(emulate):
    fn = emulate(index=CLOCK_FUNCTION)
    first = fn.invoke({}).result["now"]
    fn.advance(3600)
    second = fn.invoke({}).result["now"]
    assert second - first == pytest.approx(3600, abs=5)
    assert fn.elapsed >= 3600
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="forward only"):
            fn.advance(bad)
    assert fn.elapsed < 1e6  # the clock took none of them


def test_the_clock_never_goes_back_across_jumps(emulate):
    fn = emulate(index="""
        import time
        def init(context):
            pass
        def handler(event, context):
            readings = []
            for _ in range(50):
                readings.append(time.monotonic())
                time.sleep(0.001)
            return readings
    """)
    readings = fn.invoke().result
    assert readings == sorted(readings)


@pytest.mark.inprocess_only("it checks what in-process emulation changes in the test process")
def test_the_test_process_is_restored_after_the_emulator_closes(emulate):
    real_sleep = time.sleep
    fn = emulate(index=CLOCK_FUNCTION)
    assert time.sleep is not real_sleep  # replaced for instance code while open
    fn.invoke({"sleep": 1})
    fn.close()
    assert time.sleep is real_sleep
    assert time.time() == pytest.approx(freezegun.api.real_time(), abs=5)
    assert datetime.datetime.now().year >= 2026
    assert not any(t.name == "fginit-watchdog" for t in threading.enumerate())


def test_sleep_outside_instance_code_is_real(emulate):
    emulate(index=CLOCK_FUNCTION)
    start = real_monotonic()
    time.sleep(0.05)  # the test's own sleep is not virtual
    assert real_monotonic() - start >= 0.04


@pytest.mark.inprocess_only("a freeze started in the test does not reach another process")
def test_a_users_own_freeze_wins_for_user_code_but_not_for_timeouts(emulate):
    fn = emulate(index=CLOCK_FUNCTION)
    with freezegun.freeze_time("2020-01-01"):
        inv = fn.invoke({"sleep": 1})
        assert inv.result["before"] == datetime.datetime(2020, 1, 1).timestamp()
        fn.faults.handler.hangs()
        assert fn.invoke().error.kind == "handler_timeout"


def test_with_virtual_time_off_everything_is_real(emulate):
    fn = emulate(index=CLOCK_FUNCTION, virtual_time=False)
    inv = fn.invoke({"sleep": 0.05})
    assert inv.result["after"] - inv.result["before"] >= 0.04
    assert inv.result["before"] == pytest.approx(freezegun.api.real_time(), abs=5)
    with pytest.raises(RuntimeError, match="virtual_time"):
        fn.advance(1)
    fn.faults.handler.delays(0.05)
    assert fn.invoke({}).ok


def test_with_virtual_time_off_a_sleep_past_the_timeout_still_ends_at_the_timeout(emulate):
    fn = emulate(index=CLOCK_FUNCTION, virtual_time=False)
    start = real_monotonic()
    inv = fn.invoke({"sleep": 30})
    assert inv.error.kind == "handler_timeout"
    assert 2.5 < real_monotonic() - start < 30


def test_a_swallowed_sleep_timeout_does_not_switch_the_watchdog_off(emulate):
    fn = emulate(index="""
        import time
        def init(context):
            pass
        def handler(event, context):
            try:
                time.sleep(10)
            except BaseException:
                pass
            while True:
                pass
    """, real_time_limit=0.05)
    start = real_monotonic()
    inv = fn.invoke({})
    assert inv.error.kind == "handler_timeout"
    assert real_monotonic() - start < NOT_300_SECONDS


def test_a_nan_sleep_is_refused_and_leaves_the_clock_sane(emulate):
    fn = emulate(index="""
        import time
        def init(context):
            pass
        def handler(event, context):
            time.sleep(float("nan"))
    """)
    inv = fn.invoke({})
    assert (inv.error.type, inv.error.kind) == ("ValueError", "handler_error")
    assert math.isfinite(fn.now)
    fn.faults.handler.hangs()
    assert fn.invoke({}).error.kind == "handler_timeout"
