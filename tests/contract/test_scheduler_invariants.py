"""The scheduler's invariants under any schedule: Hypothesis drives random sequences of
requests, simultaneous sends, faults, advances, code updates and recycles, and checks the
platform's promises after every step.

The budget is bounded (examples and steps below) so that CI stays fast; raise it locally with
``FGINIT_HYPOTHESIS_PROFILE=fginit-long``. In-process, the machine also reads each instance's
module to count what really ran; in process isolation (a smaller budget: every instance is a
process) it relies on the records and on what the handler answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from pytest_fginit import FunctionConfig, FunctionEmulator, Invocation

settings.register_profile("fginit-ci", max_examples=40, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fginit-long", max_examples=1000, stateful_step_count=50,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fginit-ci-process", max_examples=20, stateful_step_count=15,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fginit-long-process", max_examples=100, stateful_step_count=30,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])

FUNCTION = textwrap.dedent("""
    import time

    INITIALIZED = 0
    HANDLED_UNINITIALIZED = 0
    PRE_STOPS = 0

    def init(context):
        global INITIALIZED
        INITIALIZED += 1

    def handler(event, context):
        global HANDLED_UNINITIALIZED
        if INITIALIZED != 1:
            HANDLED_UNINITIALIZED += 1
        time.sleep(event.get("sleep", 0))
        return INITIALIZED

    def flush(context):
        global PRE_STOPS
        PRE_STOPS += 1
""")

LIVE = ("initializing", "ready")


class SchedulerMachine(RuleBasedStateMachine):
    fn: FunctionEmulator
    isolation = "inprocess"

    @initialize(concurrency=st.integers(1, 3), limit=st.sampled_from([-1, 1, 2, 3, 6]),
                reserved=st.integers(0, 2), retries=st.integers(0, 3))
    def start(self, concurrency: int, limit: int, reserved: int, retries: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fginit-invariants-"))
        (self.root / "index.py").write_text(FUNCTION)
        if limit != -1:
            reserved = min(reserved, limit)
        self.config = FunctionConfig(
            code_root=self.root, initializer_handler="index.init", initializer_timeout=5,
            pre_stop_handler="index.flush", timeout=5, concurrency_num=concurrency,
            max_instance_num=limit, reserved_instances=reserved, init_retries=retries,
            isolation=self.isolation,
        )
        self.fn = FunctionEmulator(self.config).start()

    # --- what a test can do ------------------------------------------------------------------

    @rule(sleep=st.sampled_from([0, 0.5, 7]))
    def invoke(self, sleep: float) -> None:
        self._answered([self.fn.invoke({"sleep": sleep})])

    @rule(sleeps=st.lists(st.sampled_from([0, 1, 7]), min_size=1, max_size=6))
    def invoke_concurrently(self, sleeps: list[float]) -> None:
        invs = self.fn.invoke_concurrently([{"sleep": s} for s in sleeps])
        assert len(invs) == len(sleeps)
        self._answered(invs)

    def _answered(self, invs: list[Invocation]) -> None:
        for inv in invs:  # the handler answers how often its instance's initializer ran
            assert not inv.ok or inv.result == 1, inv

    @rule(times=st.integers(1, 5), hang=st.booleans())
    def initializer_fails(self, times: int, hang: bool) -> None:
        if hang:
            self.fn.faults.initializer.hangs(times=times)
        else:
            self.fn.faults.initializer.raises(ConnectionError("db down"), times=times)

    @rule(kind=st.sampled_from(["raises", "hangs", "crashes"]))
    def handler_fails(self, kind: str) -> None:
        faults = self.fn.faults.handler
        if kind == "raises":
            faults.raises(ValueError("bad row"))
        elif kind == "hangs":
            faults.hangs()
        else:
            faults.crashes()

    @rule(seconds=st.sampled_from([0, 1, 30, 59, 61, 600]))
    def advance(self, seconds: int) -> None:
        self.fn.advance(seconds)

    @rule(timeout=st.sampled_from([5, 6]))
    def update(self, timeout: int) -> None:
        self.fn.update(timeout=timeout)

    @rule()
    def recycle(self) -> None:
        self.fn.recycle()

    @rule()
    def clear_faults(self) -> None:
        self.fn.faults.clear()

    # --- the promises --------------------------------------------------------------------------

    @invariant()
    def no_handler_ran_on_an_uninitialized_instance(self) -> None:
        ok_attempts = self._ok_attempts()
        for inv in self.fn.invocations:
            if inv.instance is not None:  # its handler ran there
                assert ok_attempts.get(inv.instance.id) == 1, inv
                if inv.instance.module is not None:
                    assert inv.instance.module.HANDLED_UNINITIALIZED == 0

    @invariant()
    def no_instance_initialized_twice(self) -> None:
        assert all(n == 1 for n in self._ok_attempts().values())
        for instance in self.fn.instances:
            assert instance.initializer_calls <= 1
            if instance.module is not None:
                assert instance.module.INITIALIZED <= 1

    @invariant()
    def attempts_per_invocation_are_bounded(self) -> None:
        for inv in self.fn.invocations:
            assert len(inv.init_attempts) <= 1 + self.config.init_retries

    @invariant()
    def instances_stay_within_max_instance_num(self) -> None:
        live = sum(1 for i in self.fn.instances if i.state in LIVE)
        assert self.config.max_instance_num == -1 or live <= self.config.max_instance_num
        assert all(inv.error.kind != "throttled" for inv in self.fn.invocations
                   if self.config.max_instance_num == -1 and inv.error is not None)

    @invariant()
    def every_stopped_ready_instance_got_exactly_one_pre_stop(self) -> None:
        self._check_pre_stops()

    @invariant()
    def reserved_instances_stay(self) -> None:
        reserved = [i for i in self.fn.instances if i.reserved and i.state == "ready"]
        assert len(reserved) <= self.config.reserved_instances
        assert all(i.state != "reclaimed" for i in self.fn.instances if i.reserved)

    def teardown(self) -> None:
        if hasattr(self, "fn"):
            try:
                self.fn.close()
                assert all(i.state not in LIVE for i in self.fn.instances)
                self._check_pre_stops()
            finally:
                shutil.rmtree(self.root, ignore_errors=True)

    # --- helpers -------------------------------------------------------------------------------

    def _ok_attempts(self) -> dict[str, int]:
        attempts = [a for inv in self.fn.invocations for a in inv.init_attempts]
        attempts += self.fn.reserved_init_attempts
        counts: dict[str, int] = {}
        for attempt in attempts:
            if attempt.ok:
                counts[attempt.instance.id] = counts.get(attempt.instance.id, 0) + 1
        return counts

    def _check_pre_stops(self) -> None:
        was_ready = self._ok_attempts()
        for instance in self.fn.instances:
            stopped_by_us = instance.state in ("recycled", "reclaimed")
            module = instance.module  # (None in process isolation)
            if instance.id in was_ready and stopped_by_us:
                assert instance.pre_stop is not None, instance
                assert module is None or module.PRE_STOPS == 1, instance
            else:  # killed, failed, or still live: none ran
                assert instance.pre_stop is None, instance
                assert module is None or module.PRE_STOPS == 0, instance


class ProcessSchedulerMachine(SchedulerMachine):
    isolation = "process"


_PROFILE = os.environ.get("FGINIT_HYPOTHESIS_PROFILE", "fginit-ci")
SchedulerMachine.TestCase.settings = settings.get_profile(_PROFILE)
ProcessSchedulerMachine.TestCase.settings = settings.get_profile(f"{_PROFILE}-process")
test_the_scheduler_keeps_the_platforms_promises = SchedulerMachine.TestCase
test_the_scheduler_keeps_them_with_process_isolation = ProcessSchedulerMachine.TestCase
