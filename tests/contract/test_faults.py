"""Injected faults: queues per phase, raises / hangs / delays, bad arguments."""

from __future__ import annotations

import pytest

from pytest_fginit import FaultRule


def test_rules_on_one_phase_queue_up_raise_once_then_hang_once(emulate):
    fn = emulate(initializer_timeout=300)
    fn.faults.initializer.raises(ConnectionError("db down")).hangs()
    inv = fn.invoke()
    kinds = [a.error.kind if a.error else "ok" for a in inv.init_attempts]
    assert kinds == ["init_failed", "init_timeout", "ok"]
    assert inv.init_attempts[1].duration_ms == pytest.approx(300_000, abs=50)
    assert inv.init_attempts[1].error.message == "runtime initialization timed out after 300 s"
    assert inv.init_attempts[1].error.code == 4211
    assert fn.faults.pending == []


def test_times_covers_that_many_runs_then_real_code_runs(emulate):
    fn = emulate()
    fn.faults.handler.raises(TimeoutError, times=2)
    results = [fn.invoke() for _ in range(3)]
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].error.type == "TimeoutError"
    assert results[2].result["handled"] == 1  # the real handler ran only once
    assert len(fn.instances) == 1  # a handler exception keeps the instance


def test_an_exception_instance_is_raised_fresh_each_time(emulate):
    fn = emulate(init_retries=2)
    fn.faults.initializer.raises(OSError(5, "io"), times=3)
    inv = fn.invoke()
    assert [a.error.message for a in inv.init_attempts] == ["[Errno 5] io"] * 3


def test_delays_then_runs_the_real_code(emulate):
    fn = emulate(initializer_timeout=10)
    fn.faults.initializer.delays(4)
    fn.faults.handler.delays(1.5)
    inv = fn.invoke()
    assert inv.ok and inv.result["init_calls"] == 1
    # The delay, plus the little real time the code took (generous for slow machines).
    assert 4000 <= inv.init_duration_ms < 5000
    assert 1500 <= inv.duration_ms < 2500


def test_a_delay_past_the_timeout_is_a_timeout(emulate):
    fn = emulate(initializer_timeout=5, timeout=3)
    fn.faults.initializer.delays(6)
    fn.faults.handler.delays(3)
    inv = fn.invoke()
    assert inv.init_attempts[0].error.kind == "init_timeout"
    assert inv.init_attempts[0].duration_ms == pytest.approx(5000, abs=1)
    assert inv.error.kind == "handler_timeout"
    assert inv.instance.state == "killed"
    assert fn.instances[0].initializer_calls == 1 and fn.instances[1].initializer_calls == 1


def test_pending_lists_what_is_left_in_order(emulate):
    fn = emulate()
    fn.faults.handler.hangs(times=2).delays(1)
    fn.faults.initializer.raises(KeyError)
    assert [(r.phase, r.description, r.remaining) for r in fn.faults.pending] == [
        ("initializer", "raises KeyError", 1),
        ("handler", "hangs", 2),
        ("handler", "delays 1 s", 1),
    ]
    assert all(isinstance(r, FaultRule) for r in fn.faults.pending)
    assert "hangs x2" in repr(fn.faults)
    fn.faults.clear()
    assert fn.faults.pending == []


@pytest.mark.parametrize(
    ("register", "message"),
    [
        (lambda f: f.handler.raises("boom"), "exception instance or class"),
        (lambda f: f.handler.raises(int), "exception instance or class"),
        (lambda f: f.handler.hangs(times=0), "times must be a whole number >= 1"),
        (lambda f: f.handler.hangs(times=1.5), "times must be a whole number >= 1"),
        (lambda f: f.handler.delays(-1), "seconds must be a finite number >= 0"),
        (lambda f: f.initializer.delays("1"), "seconds must be a finite number >= 0"),
        (lambda f: f.handler.delays(float("nan")), "seconds must be a finite number >= 0"),
        (lambda f: f.handler.delays(float("inf")), "use hangs"),
        (lambda f: f.handler.raises(UnicodeDecodeError), "cannot be made without arguments"),
    ],
)
def test_bad_fault_arguments_are_rejected_with_a_reason(emulate, register, message):
    fn = emulate()
    with pytest.raises((TypeError, ValueError), match=message):
        register(fn.faults)
    assert fn.faults.pending == []


def test_an_injected_crash_fails_the_attempt_and_r3_retries_on_a_new_instance(emulate):
    fn = emulate()
    fn.faults.initializer.crashes(times=2, exit_code=3)
    inv = fn.invoke()
    assert inv.ok and inv.result["init_calls"] == 1
    crashed = [a.error for a in inv.init_attempts[:2]]
    assert [(e.kind, e.code) for e in crashed] == [("crashed", 4209)] * 2
    assert all("the runtime process exited (exit code 3" in e.message for e in crashed)
    assert [i.state for i in fn.instances] == ["failed", "failed", "ready"]


def test_an_injected_crash_in_the_handler_discards_the_instance(emulate):
    fn = emulate()
    fn.faults.handler.crashes(exit_code=9)
    dead = fn.invoke()
    assert (dead.error.kind, dead.error.code) == ("crashed", 4209)
    assert "exit code 9" in dead.error.message
    assert dead.instance.state == "killed"
    after = fn.invoke()
    assert after.ok and after.cold_start and after.instance is not dead.instance


def test_an_injected_memory_overrun_is_memory_exceeded(emulate):
    fn = emulate()
    fn.faults.handler.exhausts_memory()
    fn.faults.initializer.exhausts_memory()
    inv = fn.invoke()
    first = inv.init_attempts[0].error
    assert (first.kind, first.code) == ("memory_exceeded", 4205)
    assert first.message.startswith("runtime memory limit exceeded")
    assert (inv.error.kind, inv.error.code) == ("memory_exceeded", 4205)
    assert inv.instance.state == "killed"
    assert fn.invoke().ok


@pytest.mark.parametrize("exit_code", [-1, 256, True, "1"])
def test_crash_exit_codes_are_checked(emulate, exit_code):
    fn = emulate()
    with pytest.raises(ValueError, match="exit_code must be a whole number from 0 to 255"):
        fn.faults.handler.crashes(exit_code=exit_code)


LOADS_COUNTED = """
from pathlib import Path
with open({log!r}, "a") as log:  # one line per real import of this module
    log.write("imported\\n")

def handler(event, context):
    return {{"imports": len(Path({log!r}).read_text().splitlines())}}
"""


def test_load_faults_fail_cold_starts_of_a_function_without_an_initializer(emulate, tmp_path):
    log = tmp_path / "imports.log"
    fn = emulate(LOADS_COUNTED.format(log=str(log)), initializer_handler=None)
    fn.faults.load.raises(ImportError("No module named 'redis'"), times=2)
    inv = fn.invoke()
    assert inv.ok, inv.error
    kinds = [a.error.kind if a.error else "ok" for a in inv.init_attempts]
    assert kinds == ["load_error", "load_error", "ok"]
    assert inv.init_attempts[0].error.message == "No module named 'redis'"
    assert inv.init_attempts[0].error.type == "ImportError"
    assert inv.result == {"imports": 1}  # the faults replaced the import: it ran once
    assert [i.state for i in fn.instances] == ["failed", "failed", "ready"]
    assert fn.faults.pending == []


def test_a_load_that_hangs_times_out_at_the_initializer_timeout(emulate):
    fn = emulate(initializer_timeout=300)
    fn.faults.load.hangs()
    inv = fn.invoke()
    assert inv.ok and inv.result["init_calls"] == 1
    first = inv.init_attempts[0]
    assert first.error.kind == "init_timeout"
    assert first.duration_ms == pytest.approx(300_000, abs=50)
    assert fn.instances[0].initializer_calls == 0  # the initializer never ran there


def test_a_load_fault_leaves_the_initializer_fault_for_the_next_instance(emulate):
    fn = emulate()
    fn.faults.load.raises(ImportError("no redis"))
    fn.faults.initializer.raises(ConnectionError("db down"))
    inv = fn.invoke()
    kinds = [a.error.kind if a.error else "ok" for a in inv.init_attempts]
    assert kinds == ["load_error", "init_failed", "ok"]
    assert inv.init_attempts[1].error.message == "db down"


def test_a_load_delay_counts_against_the_start(emulate):
    fn = emulate(initializer_timeout=10)
    fn.faults.load.delays(4)
    inv = fn.invoke()
    assert inv.ok and inv.result["init_calls"] == 1
    assert 4000 <= inv.init_duration_ms < 5000


def test_load_crashes_and_memory_overruns_are_attempts_retried_on_new_instances(emulate):
    fn = emulate()
    fn.faults.load.crashes(exit_code=3).exhausts_memory()
    inv = fn.invoke()
    kinds = [a.error.kind if a.error else "ok" for a in inv.init_attempts]
    assert kinds == ["crashed", "memory_exceeded", "ok"]
    assert inv.ok


def test_load_faults_past_the_retries_fail_the_request_with_a_load_error(emulate):
    fn = emulate(init_retries=1)
    fn.faults.load.raises(ImportError("no redis"), times=3)
    inv = fn.invoke()
    assert not inv.ok and inv.error.kind == "load_error"
    assert len(inv.init_attempts) == 2
    assert [r.remaining for r in fn.faults.load.pending] == [1]  # one use left for later
