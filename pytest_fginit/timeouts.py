"""Stopping instance code at its deadline, in-process.

A phase (load, initializer, handler) runs on the calling thread with a `PhaseDeadline`. It ends
early in one of two ways:

* ``time.sleep`` in instance code is replaced (for the thread running instance code only) by
  `PhaseDeadline.sleep`, which passes the time on the emulator's clock and raises `PhaseKilled`
  when the sleep would cross the deadline. On a virtual clock this costs no real time.
* A `Watchdog` thread raises `PhaseKilled` asynchronously in the phase's thread once the clock
  passes the deadline (a busy loop), or once ``real_time_limit`` real seconds went by on a
  virtual clock, after jumping the clock to the deadline.

`PhaseKilled` derives from `BaseException`, so ``except Exception`` in user code cannot swallow
it. A block inside C code (a deadlocked lock, a blocking socket call) cannot be interrupted
in-process; the process-isolated host is the answer to that.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time

import freezegun.api as _fz

from .clock import Clock, real_sleep


class PhaseKilled(BaseException):
    """Raised inside instance code whose phase ran past its timeout."""


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


def _kill(thread_id: int, exc: type[BaseException] | None) -> None:
    # With no argtypes declared, ctypes passes None as NULL, which clears a pending exception.
    _set_async_exc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


class PhaseDeadline:
    """The deadline of one running phase, on the emulator's clock."""

    __slots__ = ("clock", "deadline", "fired", "real_deadline", "thread_id", "watchdog")

    def __init__(self, clock: Clock, deadline: float, watchdog: Watchdog | None) -> None:
        self.clock = clock
        self.deadline = deadline
        self.thread_id = threading.get_ident()
        self.fired = False
        self.real_deadline: float | None = None
        self.watchdog = watchdog

    def remaining(self) -> float:
        return self.deadline - self.clock.now()

    def sleep(self, seconds: float) -> None:
        """``time.sleep`` for instance code: pass the time, or die at the deadline."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        left = self.remaining()
        if seconds >= left:
            self.clock.pass_time(max(left, 0.0))
            raise PhaseKilled
        self.clock.pass_time(seconds)
        if self.watchdog is not None and self.clock.virtual:
            self.watchdog.poke()

    def hang(self) -> None:
        """Run until killed: what an injected hang does."""
        self.sleep(math.inf)


# --- time.sleep for instance code ------------------------------------------------------------

_running = threading.local()
_installs = 0
_install_lock = threading.Lock()


def current_phase() -> PhaseDeadline | None:
    phase: PhaseDeadline | None = getattr(_running, "phase", None)
    return phase


def set_current_phase(phase: PhaseDeadline | None) -> None:
    _running.phase = phase


def _instance_sleep(seconds: float) -> None:
    phase = getattr(_running, "phase", None)
    if phase is None:
        real_sleep(seconds)
    else:
        phase.sleep(seconds)


def install_sleep() -> None:
    """Replace ``time.sleep`` (reference-counted, one call per open host)."""
    global _installs
    with _install_lock:
        _installs += 1
        if _installs == 1:
            time.sleep = _instance_sleep  # type: ignore[assignment]


def uninstall_sleep() -> None:
    global _installs
    with _install_lock:
        _installs -= 1
        if _installs == 0:
            time.sleep = real_sleep


# --- the watchdog ----------------------------------------------------------------------------

_REFIRE_S = 0.05
_MAX_WAIT_S = 0.5


class Watchdog:
    """One thread that stops the armed phase when it passes its deadline."""

    def __init__(self, real_time_limit: float | None) -> None:
        self._real_time_limit = real_time_limit
        self._cond = threading.Condition()
        self._armed: PhaseDeadline | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, phase: PhaseDeadline) -> None:
        with self._cond:
            if self._real_time_limit is not None and phase.clock.virtual:
                phase.real_deadline = _fz.real_monotonic() + self._real_time_limit
            self._armed = phase
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fginit-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def disarm(self, phase: PhaseDeadline) -> None:
        with self._cond:
            if self._armed is phase:
                self._armed = None
            if phase.fired:
                _kill(phase.thread_id, None)  # drop a kill that was not delivered yet

    def poke(self) -> None:
        """The clock jumped: look at the armed deadline again."""
        with self._cond:
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                phase = self._armed
                if phase is None:
                    self._cond.wait()
                    continue
                wait = self._time_left(phase)
                if wait <= 0:
                    phase.fired = True
                    _kill(phase.thread_id, PhaseKilled)
                    wait = _REFIRE_S  # again, for as long as user code swallows it
                self._cond.wait(min(wait, _MAX_WAIT_S))

    @staticmethod
    def _time_left(phase: PhaseDeadline) -> float:
        left = phase.remaining()
        if left <= 0:
            return 0.0
        if phase.real_deadline is not None:
            real_left = phase.real_deadline - _fz.real_monotonic()
            if real_left <= 0:
                phase.clock.pass_time(left)  # taken as hung: its timeout comes at once
                return 0.0
            return min(left, real_left)
        return left

