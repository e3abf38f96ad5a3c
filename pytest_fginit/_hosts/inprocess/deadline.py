"""Stopping instance code at its deadline, in-process. [test process, instance process]

A phase (the start of an instance: load and initializer; or a request's handler) runs on the
calling thread with a `PhaseDeadline`. It ends early in one of two ways:

* ``time.sleep`` is replaced for the whole process (`patches.SLEEP`) by a function that, on
  the thread running a phase, calls `PhaseDeadline.sleep`: it passes the time on the
  emulator's clock and raises `PhaseKilled` when the sleep would cross the deadline (on a
  virtual clock this costs no real time); on any other thread it sleeps for real.
* A `Watchdog` thread raises `PhaseKilled` asynchronously in the phase's thread once the clock
  passes the deadline (a busy loop), or once ``real_time_limit`` real seconds went by on a
  virtual clock (the phase is then marked hung, and its thread jumps the clock to the deadline
  once it has stopped).

An asynchronous exception lands wherever the thread happens to be. The protocol keeps it out of
the emulator's own code on that thread: the phase thread never takes a lock the watchdog holds;
the emulator's steps inside a phase (passing time) run *shielded*, and the watchdog does not
fire into a shielded or finished phase; `end_phase` waits out a watchdog caught mid-fire, then
has any kill still pending delivered where it is caught.

A phase blocked in an ``asyncio`` event loop waits in the selector (C code) until its next
timer: the watchdog also wakes the loop running on the phase's thread (`running_loops`, kept by
`leftovers`), so the kill lands at the deadline rather than when the timer falls due.

`PhaseKilled` derives from `BaseException`, so ``except Exception`` in user code cannot swallow
it; code that swallows ``BaseException`` is killed again at every poll, and after
`SWALLOWED_STOPS` of them the watchdog warns (`InProcessLimitWarning`, at the line the code is
on): such code ends only if a stop lands outside its ``try``. A block inside C code (a
deadlocked lock, a blocking socket call) cannot be interrupted in-process; the
process-isolated host is the answer to both.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import sys
import threading
import warnings
from typing import Any

from ..._clock import (
    Clock,
    current_timeline,
    freeze_held,
    on_release,
    real_monotonic,
    real_sleep,
)


class PhaseKilled(BaseException):
    """Raised inside instance code whose phase ran past its timeout."""


class InProcessLimitWarning(UserWarning):
    """The function's code did what in-process emulation cannot answer (a known limit)."""


SWALLOWED_STOPS = 20
"""Stops a phase past its deadline may swallow before the watchdog warns (one per poll: about
a second of real time)."""


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


def _kill(thread_id: int) -> None:
    # Never call this with NULL to "clear" a pending exception: CPython then leaves the
    # interpreter's eval breaker set for good, which slows every call down (and can spin
    # forever under a profiler). A kill is delivered instead, see _deliver_pending_kill.
    _set_async_exc(ctypes.c_ulong(thread_id), ctypes.py_object(PhaseKilled))


def _deliver_pending_kill() -> None:
    """Does nothing: a kill still pending for this thread is raised as this call starts."""


class PhaseDeadline:
    """The deadline of one running phase, on the emulator's clock.

    Flags, each written by one side only (a store is atomic under the GIL): ``done``,
    ``shielded`` and ``expired`` by the phase thread; ``firing``, ``fired`` and ``hung`` by the
    watchdog. Only the phase's own thread moves the clock.
    """

    __slots__ = ("aborted", "clock", "deadline", "done", "expired", "fired", "firing", "hung",
                 "kills", "real_deadline", "shielded", "thread_id", "timeline", "watchdog")

    def __init__(self, clock: Clock, deadline: float) -> None:
        self.clock = clock
        self.deadline = deadline
        self.thread_id = threading.get_ident()
        self.timeline = current_timeline()  # (the watchdog reads the phase's time, not its own)
        self.done = False
        self.shielded = False
        self.expired = False
        self.firing = False
        self.fired = False
        self.hung = False
        self.kills = 0  # (by the watchdog: how many stops it sent)
        self.aborted = False  # (set by the emulator's thread: the test was interrupted)
        self.real_deadline: float | None = None
        self.watchdog: Watchdog | None = None  # (set when armed: who watches it)

    def remaining(self) -> float:
        return self.deadline - self.clock.now_on(self.timeline)

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` for instance code: pass the time, or die at the deadline."""
        if not seconds >= 0:  # also NaN, which would poison the clock
            raise ValueError(f"sleep length must be a non-negative number, not {seconds!r}")
        self.shielded = True  # the clock must not be left half-moved by a kill
        try:
            while self.firing:
                real_sleep(0)
            left = 0.0 if self.aborted else self.remaining()
            crossing = seconds >= left
            if crossing:
                self.expired = True
                seconds = max(left, 0.0)
            if self.clock.virtual:
                self.clock.pass_time(seconds)
            else:  # a real wait, in slices: an abort must not wait for its end
                until = real_monotonic() + seconds
                while not self.aborted and (rest := until - real_monotonic()) > 0:
                    real_sleep(min(rest, _POLL_S))
                if self.aborted:
                    self.expired = crossing = True
        finally:
            self.shielded = False
        if crossing:
            raise PhaseKilled

    def hang(self) -> None:
        """Run until killed: what an injected hang does."""
        self.sleep(math.inf)


def end_phase(phase: PhaseDeadline) -> None:
    """Make sure no kill can reach the phase's thread any more (call it from that thread).

    A kill already on its way may land inside this function: it is caught and the steps run
    again, until they have all run.
    """
    while True:
        try:
            phase.done = True  # from here the watchdog fires no more
            while phase.firing:  # ... but it may have read done=False just before: wait it out
                real_sleep(0)
            if phase.fired:
                _deliver_pending_kill()
            return
        except PhaseKilled:
            continue


# --- the phase running on this thread --------------------------------------------------------

_running = threading.local()


def current_phase() -> PhaseDeadline | None:
    phase: PhaseDeadline | None = getattr(_running, "phase", None)
    return phase


def set_current_phase(phase: PhaseDeadline | None) -> None:
    _running.phase = phase


# --- event loops running on phase threads ----------------------------------------------------

running_loops: dict[int, Any] = {}
"""Thread id -> the ``asyncio`` loop running on it (kept while the in-process host is open)."""


def _wake_loop(thread_id: int) -> None:
    loop = running_loops.get(thread_id)
    if loop is not None:
        with contextlib.suppress(Exception):  # (closed since: nothing to wake)
            loop.call_soon_threadsafe(_no_op)


def _no_op() -> None:
    pass


# --- the watchdog ----------------------------------------------------------------------------

_POLL_S = 0.05
"""How often the watchdog looks at the armed phase. Arming does not wake it (a wake-up per
phase cost more than the rest of a cold start), so a busy loop is stopped up to this late in
real time; its recorded duration is its timeout all the same."""


class Watchdog:
    """Stops each armed phase when it passes its deadline (several phases run at once when
    requests are sent together). One thread polls every open watchdog (`_Poller`)."""

    def __init__(self, real_time_limit: float | None) -> None:
        self._real_time_limit = real_time_limit
        # (Added to and removed from by phase threads; the poller iterates over a copy, which
        # tuple() takes without letting another thread run.)
        self._armed: set[PhaseDeadline] = set()
        self._aborting = False
        self._polled = False
        self.spawned: list[Any] = []
        """Threads and processes that the phases it watched started (`leftovers` adds)."""

    def start(self) -> None:
        if not self._polled:
            self._polled = True
            _POLLER.add(self)

    def arm(self, phase: PhaseDeadline) -> None:
        if self._aborting:  # (a phase of the interrupted send that had not started yet)
            phase.aborted = True
        if self._real_time_limit is not None and phase.clock.virtual:
            phase.real_deadline = real_monotonic() + self._real_time_limit
        phase.watchdog = self
        self._armed.add(phase)

    def disarm(self, phase: PhaseDeadline) -> None:
        end_phase(phase)
        self._armed.discard(phase)

    def abort(self) -> None:
        """Stop every armed phase at the next poll, whatever its deadline, and every phase
        armed until `resume` (the test was interrupted while requests ran side by side).
        Only the poller's thread fires."""
        self._aborting = True
        for phase in tuple(self._armed):
            phase.aborted = True

    def resume(self) -> None:
        self._aborting = False

    def close(self) -> None:
        if self._polled:
            self._polled = False
            _POLLER.remove(self)

    def poll(self) -> None:
        for phase in tuple(self._armed):
            self._check(phase)

    @staticmethod
    def _check(phase: PhaseDeadline) -> None:
        if phase.done or phase.shielded:
            return
        past_deadline = phase.aborted or phase.remaining() <= 0
        hung = (not past_deadline and phase.real_deadline is not None
                and phase.real_deadline <= real_monotonic())
        if not (past_deadline or hung):
            return
        phase.firing = True
        if not (phase.done or phase.shielded):
            phase.hung = phase.hung or hung  # its thread jumps to the deadline
            phase.fired = True
            _kill(phase.thread_id)  # again at every poll, while user code swallows it
            _wake_loop(phase.thread_id)
            phase.kills += 1
        phase.firing = False
        if phase.kills == SWALLOWED_STOPS and not phase.done:
            _warn_swallowed(phase)


def _warn_swallowed(phase: PhaseDeadline) -> None:
    """Say which limit was hit, at the line the phase's code is on (the watchdog's thread)."""
    frame = sys._current_frames().get(phase.thread_id)
    if frame is None:  # (it has just ended)
        return
    warnings.warn_explicit(InProcessLimitWarning(
        f"pytest-fginit: the function's code is still running {phase.kills} stops after its "
        "timeout: it catches BaseException (an `except BaseException:` or a bare `except:` "
        "around a loop), and in-process emulation cannot kill code that does (a known "
        "limit); catch Exception instead, or use isolation=\"process\", whose instances are "
        "killed"), InProcessLimitWarning, frame.f_code.co_filename, frame.f_lineno,
        module=str(frame.f_globals.get("__name__", "")))


class _Poller:
    """The one "fginit-watchdog" thread of the process: it polls every open `Watchdog`.

    Starting a thread and joining it cost about as much as the rest of a host's open and
    close, so while the session holds the freeze (`_clock.freeze_held`: the pytest plugin,
    for the session) the thread outlives the last watchdog (polling nothing every `_POLL_S`),
    and ends when the hold is released. Otherwise it ends, joined, with the
    last watchdog: nothing the emulator started runs on after its close.

    Its lock is taken by hosts opening and closing, never by a phase's thread (a kill may land
    in a phase at any bytecode), and it polls the phases without holding it.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._watchdogs: list[Watchdog] = []
        self._thread: threading.Thread | None = None

    def add(self, watchdog: Watchdog) -> None:
        with self._changed:
            self._watchdogs.append(watchdog)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fginit-watchdog",
                                                daemon=True)
                self._thread.start()
            # (not woken: it polls every _POLL_S anyway, and a wake-up per host, handing the
            # lock and the GIL back and forth, cost more than the rest of the open)

    def remove(self, watchdog: Watchdog) -> None:
        with self._changed:
            if watchdog in self._watchdogs:
                self._watchdogs.remove(watchdog)
        self.stop_if_idle()

    def stop_if_idle(self) -> None:
        with self._changed:
            thread = self._thread
            if thread is None or self._watchdogs or freeze_held():
                return
            self._thread = None  # (the thread's sign to end)
            self._changed.notify()
        thread.join()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._changed:
                if self._thread is me:  # (not told to end before it first waits: a lost
                    self._changed.wait(_POLL_S)  # notify would cost a whole poll at close)
                if self._thread is not me:
                    return
                watchdogs = tuple(self._watchdogs)
            for watchdog in watchdogs:
                watchdog.poll()


    def forget_in_child(self) -> None:
        """After a fork: the child has none of the parent's threads, nor its watchdogs."""
        self._changed = threading.Condition(threading.Lock())
        self._watchdogs, self._thread = [], None


_POLLER = _Poller()
on_release(_POLLER.stop_if_idle)
os.register_at_fork(after_in_child=_POLLER.forget_in_child)
