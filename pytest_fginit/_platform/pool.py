"""`InstancePool`: the function's instances and their life cycle. [test process]

It keeps the books the records do not: the ready instances in the orders placement reads them
(`placement.ReadyInstances`: O(1) per request) and each instance's handle on its host. It
brings instances up with retries (R1-R3), stops them (pre-stop first, once), moves them through
one table of states, tells the listeners, and bills reserved instances' initialization. It
never runs user code itself: the host does, through the handles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Protocol

from .._clock import Clock, Timeline
from .._hosts.protocol import HostedInstance, Injection, InstanceHost, StartOutcome
from .._redaction import Redactor
from ..errors import InstanceSetupError
from ..faults import FaultRule, Faults
from ..records import InitAttempt, Instance, InstanceState, Invocation, JournalEntry, PreStop
from .outcomes import error_of
from .parallel import Crew, Ran, at, side_by_side
from .placement import ReadyInstances, Start
from .revision import Revision, context_for


class EmulatorListener(Protocol):
    """Told about what happens, as it happens (the plugin relays these to pluggy hooks)."""

    def instance_state_changed(self, instance: Instance, previous: InstanceState | None) -> None:
        ...

    def invocation_finished(self, invocation: Invocation) -> None: ...


_TRANSITIONS: Mapping[InstanceState, frozenset[InstanceState]] = {
    # (recycled: close() also stops an instance an interrupt left initializing)
    "initializing": frozenset({"ready", "failed", "recycled", "killed"}),
    "ready": frozenset({"killed", "recycled", "reclaimed"}),
    "failed": frozenset(),
    "killed": frozenset(),
    "recycled": frozenset(),
    "reclaimed": frozenset(),
}
"""Which state an instance may go to from which; every instance is born ``initializing``."""


class IllegalTransition(RuntimeError):
    """A state change `_TRANSITIONS` does not list: a bug in the control plane."""


def check_transition(previous: InstanceState, state: InstanceState) -> None:
    if state not in _TRANSITIONS[previous]:
        raise IllegalTransition(f"an instance cannot go from {previous!r} to {state!r}")


_Attempt = tuple[float, StartOutcome]  # (when the attempt started, what it did)


class InstancePool:
    """The instances of one emulator; `deploy` sets what new ones run and on which host."""

    def __init__(self, clock: Clock, faults: Faults, journal: list[JournalEntry],
                 listeners: Sequence[EmulatorListener], redact: Redactor) -> None:
        self.instances: list[Instance] = []
        """Every instance created, in creation order."""
        self.ready = ReadyInstances()  # live instances able to serve, in order of readiness
        self.reserved_init_attempts: list[InitAttempt] = []
        self.reserved_billed = (0, 0.0)  # reserved instances' initialization: ms, GB-s
        self.sends = 0
        """The count of sends so far (the dispatcher counts them)."""
        self.t0 = 0.0
        """The clock's reading when the emulator started."""
        self.revision: Revision
        self.host: InstanceHost
        self._clock = clock
        self._faults = faults
        self._journal = journal
        self._listeners = listeners
        self._redact = redact
        self._hosted: dict[Instance, HostedInstance] = {}  # each instance's handle on its host

    def deploy(self, revision: Revision, host: InstanceHost) -> None:
        """Instances created from now on run ``revision`` on ``host``."""
        self.revision = revision
        self.host = host

    def elapsed(self) -> float:
        return self._clock.now() - self.t0

    def hosted(self, instance: Instance) -> HostedInstance:
        """``instance``'s handle on its host (also for tests that look inside)."""
        return self._hosted[instance]

    def give(self, instance: Instance) -> bool:
        """Whether ``instance`` takes the request placement gave it; ``False`` if its process
        died while idle: it is stopped then, as the platform's would be gone."""
        hosted = self._hosted.get(instance)
        if hosted is not None and hosted.alive():
            return True
        self.stop(instance, "killed")
        return False

    # --- bring-up (R1-R3) -------------------------------------------------------------------

    def bring_up(self, starts: list[Start], crew: Crew | None = None) -> BaseException | None:
        """Bring up an instance for each of ``starts``, side by side (on ``crew``'s threads, if
        given): up to 1 + init_retries attempts each, every attempt on a new instance (R1-R3).
        Returns what stopped it, if anything did (what had ended by then is recorded)."""
        config = self.revision.config
        timeout = config.initializer_timeout or config.timeout
        pending = list(starts)
        for _ in range(1 + config.init_retries):
            if not pending:
                return None
            ran = self._attempt_round(pending, timeout, crew)
            if isinstance(ran, BaseException):
                return ran
            failure, pending = self._record_round(pending, ran, timeout)
            if failure is not None:
                return failure
        return None

    def _attempt_round(self, pending: list[Start], timeout: int, crew: Crew | None
                       ) -> Ran[_Attempt] | BaseException:
        """One attempt for each of ``pending``, side by side. The attempts are created in
        order and get the load's and the initializer's faults in that order; a fault held
        for an instance that did not get that far is given back."""
        faults, load_faults = self._faults.initializer, self._faults.load
        tasks: list[tuple[Timeline | None, Callable[[], _Attempt]]] = []
        held: list[_HeldFault | None] = []
        loads: list[_HeldFault | None] = []
        created: list[Start] = []
        try:
            for start in pending:
                instance = at(start.timeline, self._new_instance, start.reserved)
                start.instance = instance
                created.append(start)
                hosted = self._hosted[instance] = self.host.start_instance(self.revision.spec)
                instance.pid = hosted.pid  # (start_instance may fail: no attempt then)
                rule, load_rule = faults.take_rule(), load_faults.take_rule()
                held.append(_HeldFault(rule) if rule is not None else None)
                loads.append(_HeldFault(load_rule) if load_rule is not None else None)
                tasks.append((start.timeline, partial(
                    self._start_phase, instance, start.request_id, timeout, held[-1],
                    loads[-1])))
            return side_by_side(tasks, self.host.abort, crew)
        except BaseException as exc:  # no attempt of this round ran: none is recorded
            for start in created:
                assert start.instance is not None
                at(start.timeline, self.stop, start.instance, "failed")
                start.instance = None
            return exc
        finally:
            for queue, taken in ((faults, held), (load_faults, loads)):
                for fault in reversed(taken):
                    if fault is not None and not fault.used:
                        queue.give_back(fault.rule)

    def _record_round(self, pending: list[Start], ran: Ran[_Attempt], timeout: int
                      ) -> tuple[BaseException | None, list[Start]]:
        """Record the attempts that ended; returns what to raise, if anything, and the starts
        to retry."""
        setup_error: str | None = None
        retrying = []
        for start, result in zip(pending, ran.results, strict=True):
            if result is None:  # interrupted: left initializing (close() stops it)
                continue
            started, outcome = result
            failure = at(start.timeline, self._record_attempt, start, started, outcome,
                         timeout)
            if failure is not None and outcome.phase.status == "setup_error":
                setup_error = setup_error or failure
            elif failure is not None:
                retrying.append(start)
        if ran.failure is not None:
            return ran.failure, retrying
        if setup_error is not None:
            return InstanceSetupError(setup_error), retrying
        return None, retrying

    def _new_instance(self, reserved: bool) -> Instance:
        instance = Instance(id=f"instance-{len(self.instances) + 1}",
                            created_at=self.elapsed(), reserved=reserved)
        self.instances.append(instance)
        self._enter(instance, "initializing", None)
        return instance

    def _start_phase(self, instance: Instance, request_id: str | None, timeout: int,
                     fault: _HeldFault | None, load: _HeldFault | None) -> _Attempt:
        """Load the instance's code and run its initializer (on the request's thread)."""
        started = self._clock.now()
        deadline = started + timeout
        context = context_for(self.revision, request_id or f"init-{instance.id}", timeout)
        hosted = self._hosted[instance]
        try:
            return started, hosted.start(context, deadline, fault,
                                         load() if load is not None else None)
        finally:  # (also when an interrupt stopped it: what loaded is there to look at)
            instance.module = hosted.module

    def _record_attempt(self, start: Start, started: float, outcome: StartOutcome,
                        timeout: int) -> str | None:
        """Record one attempt; the instance is ready, or failed and abandoned (R3). Returns
        what went wrong, if anything."""
        instance = start.instance
        assert instance is not None
        phase = outcome.phase
        if phase.status == "setup_error":
            self.stop(instance, "failed")
            start.instance = None
            assert phase.exception is not None
            return f"{instance.id}: {phase.exception.message}"
        if outcome.loaded and self.revision.spec.initializer_function is not None:
            instance.initializer_calls += 1
        error = error_of(phase, "init_failed" if outcome.loaded else "load_error",
                         "init_timeout", timeout, self._redact)
        attempt = InitAttempt(instance=instance, ok=error is None, error=error,
                              duration_ms=(phase.ended - started) * 1000.0,
                              started_at=started - self.t0, log=phase.log)
        start.attempts.append(attempt)
        self._journal.append(JournalEntry(attempt.started_at, "attempt", attempt))
        if start.reserved:
            self._bill_reserved(attempt)
        if error is None:
            self.set_state(instance, "ready")
            return None
        start.error = error
        start.instance = None
        self.stop(instance, "failed")
        return str(error)

    def _bill_reserved(self, attempt: InitAttempt) -> None:
        # [assumption] billed like on-demand initialization (R10), at the memory of the time;
        # idle time is not emulated.
        ms, gb_s = self.reserved_billed
        billed = math.ceil(round(attempt.duration_ms, 6))
        memory_size = self.revision.config.memory_size
        self.reserved_billed = (ms + billed, gb_s + memory_size / 1024 * billed / 1000)

    # --- stopping -----------------------------------------------------------------------

    def reclaim_idle(self) -> None:
        """Stop the instances idle for ``instance_idle_timeout`` (reference, section 2)."""
        idle = self.ready.idle_past(self.elapsed(), self.revision.config.instance_idle_timeout)
        for instance in idle:
            self.stop(instance, "reclaimed")

    def stop_ready(self) -> None:
        """Recycle every ready instance (pre-stop first)."""
        for instance in list(self.ready):
            self.stop(instance, "recycled")

    def stop_all(self) -> None:
        """At the end: stop every live instance, also one an interrupt left initializing
        (KeyboardInterrupt in user code), before a listener is told: a listener that raises
        must not leave instances' modules behind."""
        live = [i for i in self.instances if i.state in ("ready", "initializing")]
        try:
            for instance in live:  # (the end of the test stops them: pre-stop first)
                hosted = self._hosted.get(instance)
                if instance.state == "ready" and hosted is not None and hosted.alive():
                    self.run_pre_stop(instance)
        finally:
            for instance in live:
                hosted = self._hosted.get(instance)
                if hosted is not None:
                    hosted.stop()
            for instance in live:
                self.set_state(instance, "recycled")

    def stop(self, instance: Instance, state: InstanceState) -> None:
        if instance.state == "ready" and state in ("recycled", "reclaimed"):
            hosted = self._hosted.get(instance)
            if hosted is not None and not hosted.alive():
                state = "killed"  # its process died while idle: the platform's is gone too
            else:
                self.run_pre_stop(instance)
        hosted = self._hosted.get(instance)
        if hosted is not None:
            hosted.stop()
        self.set_state(instance, state)

    def run_pre_stop(self, instance: Instance) -> None:
        """Run the pre-stop handler of a ready instance that is being stopped, and record it.

        (An instance whose handler timed out, crashed or ran out of memory gets none: the
        platform killed it.)"""
        config = self.revision.config
        hosted = self._hosted.get(instance)
        if (config.pre_stop_handler is None or hosted is None
                or instance.pre_stop is not None):  # (once: also after an interrupted run)
            return
        timeout = config.pre_stop_timeout or 3
        started = self._clock.now()
        deadline = started + timeout
        context = context_for(self.revision, f"pre-stop-{instance.id}", timeout)
        # Marked as run before it runs: an interrupt in it must not make close() run it again.
        instance.pre_stop = PreStop(ok=False, error=None, duration_ms=0.0,
                                    started_at=started - self.t0)
        outcome = hosted.pre_stop(context, deadline, self._faults.pre_stop.take())
        error = error_of(outcome, "pre_stop_failed", "pre_stop_timeout", timeout, self._redact)
        instance.pre_stop = PreStop(ok=error is None, error=error,
                                    duration_ms=(outcome.ended - started) * 1000.0,
                                    started_at=started - self.t0, log=outcome.log)
        self._journal.append(JournalEntry(instance.pre_stop.started_at, "pre_stop", instance))

    # --- states -------------------------------------------------------------------------

    def set_state(self, instance: Instance, state: InstanceState) -> None:
        """Move ``instance`` to ``state``; `IllegalTransition` if the table does not allow it."""
        previous = instance.state
        check_transition(previous, state)
        self._enter(instance, state, previous)

    def _enter(self, instance: Instance, state: InstanceState,
               previous: InstanceState | None) -> None:
        if state == "ready":
            instance.last_used_at = self.elapsed()
            self.ready.add(instance)
        elif previous == "ready":
            self.ready.remove(instance)
        instance.state = state
        self._journal.append(JournalEntry(self.elapsed(), "instance", (instance, state)))
        for listener in self._listeners:
            listener.instance_state_changed(instance, previous)


class _HeldFault:
    """A fault held for one instance: an initializer's is handed over once its code has
    loaded (the host asks for it then), a load's as its start phase begins; given back to
    the queue if it never was."""

    __slots__ = ("rule", "used")

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.used = False

    def __call__(self) -> Injection:
        self.used = True
        return self.rule.injection()
