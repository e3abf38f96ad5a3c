"""The emulator's clock: virtual (freezegun-driven) or real.
[test process, fork server, instance process]

The virtual clock runs at real speed and jumps forward, never back, when time is *passed*
(``time.sleep`` in instance code, injected hangs and delays, ``advance()``). While it runs,
freezegun shows it to everything in the process that reads ``time.time``, ``time.monotonic``,
``time.perf_counter`` or ``datetime.now``: user code in instances, and the test itself.

Every running virtual clock of the process shares one freezegun freeze (`_SharedFreeze`): the
first to start starts it, the last to stop stops it, so clocks may stop in any order (each of
their own freezes would unwind only as a stack). The process reads the latest running clock.
While a `hold_freeze` is in force (the pytest plugin's, for the session) the freeze outlives
the last clock and shows the real time: starting it scans every loaded module (freezegun
patches each one's time functions), so a suite pays for it once rather than per emulator.

Requests sent at the same moment each run on a `Timeline` of their own, so that their sleeps
overlap rather than add up; the shared clock then moves to the latest of them.

The emulator measures durations and timeouts on its own reading of the clock, never through
the faked ``time`` functions, so a freeze the user starts in a test on top of ours changes what
user code reads but not how the emulator decides timeouts.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

real_sleep = time.sleep
"""``time.sleep`` as it was before the emulator replaced it for instance code."""

# freezegun scans call stacks for these prefixes and shows them the real time: pytest's own
# duration measurements stay honest (known pitfall: --durations otherwise reports ~1.8e9 s).
_IGNORED_BY_FREEZE = ["_pytest.timing"]


class _RealFunctions:
    """The real time functions, held where no freeze replaces them.

    freezegun is imported only when the first virtual clock starts its freeze (its import,
    asyncio's and dateutil's included, is most of a one-shot ``fginit invoke``'s start). If it
    is loaded already (a freeze may even run), its saved functions are the real ones; if not,
    no freeze runs and ``time``'s functions are: freezegun, imported later, saves the same.
    Never module attributes of ours: while a freeze runs, freezegun replaces every module
    attribute that *is* a real time function, but not those of its own module, nor an
    object's attributes."""

    __slots__ = ("real_datetime", "real_monotonic", "real_time")

    def __init__(self) -> None:
        fz: Any = sys.modules.get("freezegun.api")
        self.real_time: Callable[[], float] = fz.real_time if fz else time.time
        self.real_monotonic: Callable[[], float] = fz.real_monotonic if fz else time.monotonic
        self.real_datetime: type[datetime] = fz.real_datetime if fz else datetime


_fz = _RealFunctions()
_EPOCH = _fz.real_datetime(1970, 1, 1)


def real_monotonic() -> float:
    """Real monotonic seconds, whatever freeze runs (ours, or one a test started)."""
    return _fz.real_monotonic()


def real_time() -> float:
    """Real seconds since the epoch, whatever freeze runs (ours, or one a test started)."""
    return _fz.real_time()


class Timeline:
    """The time of one request among simultaneous ones, as a lead on the shared virtual clock.

    Requests sent at the same moment run side by side: the time one of them passes (a sleep,
    an injected delay) must not add to the others', as it would on one shared clock. While a
    thread has *entered* a timeline, the virtual clock reads ``lead`` seconds ahead for it (for
    the emulator and, through freezegun, for user code) and moves only that lead. When the
    requests are done, the shared clock moves to the latest of their timelines (`join`).
    A real clock ignores timelines: real waits overlap by themselves.
    """

    __slots__ = ("lead",)

    def __init__(self, lead: float = 0.0) -> None:
        self.lead = lead

    def __repr__(self) -> str:
        return f"Timeline(lead={self.lead!r})"


class _Entered(threading.local):
    timeline: Timeline | None = None


_entered = _Entered()


def current_timeline() -> Timeline | None:
    """The timeline the calling thread has entered, if any."""
    return _entered.timeline


def enter_timeline(timeline: Timeline | None) -> Timeline | None:
    """Make the calling thread's time ``timeline``'s; returns the one it had (to restore)."""
    previous, _entered.timeline = _entered.timeline, timeline
    return previous


class Clock(Protocol):
    virtual: bool

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def now(self) -> float:
        """Seconds since the epoch on this clock (on the calling thread's timeline)."""
    def now_on(self, timeline: Timeline | None) -> float:
        """`now` as ``timeline`` reads it, from any thread (a watchdog's)."""
    def pass_time(self, seconds: float) -> None:
        """Let ``seconds`` go by: a jump on a virtual clock (of the calling thread's timeline,
        if it entered one), a real wait on a real one."""
    def join(self, timelines: list[Timeline]) -> None:
        """Move the shared clock to the latest of ``timelines`` (their requests are done)."""


class RealClock:
    virtual = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def now(self) -> float:
        return _fz.real_time()

    def now_on(self, timeline: Timeline | None) -> float:
        return _fz.real_time()

    def pass_time(self, seconds: float) -> None:
        if seconds > 0:
            real_sleep(seconds)

    def join(self, timelines: list[Timeline]) -> None:
        pass


class VirtualClock:
    """Real time plus an offset that only grows; freezegun shows the same reading to the
    process. Reading it costs one real ``time.time()`` call (it sits on every hot path)."""

    virtual = True

    def __init__(self) -> None:
        self._running = False
        self._offset = 0.0  # virtual minus real seconds
        self._stopped_at: float | None = None

    def start(self) -> None:
        if self._running:
            return
        self._offset, self._stopped_at = 0.0, None
        _FREEZE.join(self)
        self._running = True

    def stop(self) -> None:
        if not self._running:
            return
        # Keep reading the stopped clock where it was; it no longer ticks with real time.
        self._stopped_at = self.now()
        self._running = False
        _FREEZE.leave(self)

    def now(self) -> float:
        if not self._running:
            return _fz.real_time() if self._stopped_at is None else self._stopped_at
        timeline = _entered.timeline
        if timeline is None:
            return _fz.real_time() + self._offset
        return _fz.real_time() + self._offset + timeline.lead

    def now_on(self, timeline: Timeline | None) -> float:
        if not self._running or timeline is None:
            return self._shared_now()
        return _fz.real_time() + self._offset + timeline.lead

    def pass_time(self, seconds: float) -> None:
        if not self._running or seconds <= 0:
            return
        timeline = _entered.timeline
        if timeline is not None:
            _utc(self.now() + seconds)  # (fails here, as a shared jump would, out of range)
            timeline.lead += seconds
            return
        self._move(seconds)

    def join(self, timelines: list[Timeline]) -> None:
        lead = max((t.lead for t in timelines), default=0.0)
        if self._running and lead > 0:
            self._move(lead)
        for timeline in timelines:
            timeline.lead = 0.0

    def _shared_now(self) -> float:
        if not self._running:
            return _fz.real_time() if self._stopped_at is None else self._stopped_at
        return _fz.real_time() + self._offset

    def _move(self, seconds: float) -> None:
        _utc(self._shared_now() + seconds)  # (out of datetime's range: fails, moves nothing)
        self._offset += seconds


class _SharedFreeze:
    """The one freezegun freeze of the process, shared by every running `VirtualClock`.

    freezegun keeps its freezes as a stack that only unwinds in order: stopping the first of
    two freezes pops the second's time, and the second's stop then fails half-way, leaving
    ``time.time`` faked. So the first clock to start starts the freeze and the last to stop
    stops it, in whatever order they stop. What freezegun shows the process is read from the
    latest running clock (`_ShownTime`), or is the real time when none runs.

    While held (`hold`, counted), the freeze stays on with no clock running, but only if it
    is the bottom of freezegun's stack: a freeze the user started before it and stops before
    the hold ends would otherwise pop ours and leave its own time shown to the process.
    """

    def __init__(self) -> None:
        self.clocks: list[VirtualClock] = []  # running, in start order
        self._freezer: Any = None
        self._shown = _ShownTime(self.clocks)
        self._holds = 0
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """Whether the freeze runs (with a clock, or held without one)."""
        return self._freezer is not None

    def hold(self) -> None:
        with self._lock:
            self._holds += 1

    @property
    def held(self) -> bool:
        return self._holds > 0

    def release(self) -> None:
        with self._lock:
            self._holds = max(0, self._holds - 1)
            self._stop_if_unused()
            ended = not self._holds
        if ended:
            for callback in list(_ON_RELEASE):
                callback()

    def join(self, clock: VirtualClock) -> None:
        with self._lock:
            if self._freezer is None:
                freezegun = _freezegun()
                freezer = freezegun.freeze_time(_utc(_fz.real_time()), tick=True,
                                                ignore=list(_IGNORED_BY_FREEZE),
                                                real_asyncio=True)
                freezer.start()
                # freezegun asks the last factory of its stack for the time (and its stop()
                # pops the last one, whichever object it is).
                freezegun.freeze_factories[-1] = self._shown
                self._freezer = freezer
                _align_type_tables()
            self.clocks.append(clock)

    def leave(self, clock: VirtualClock) -> None:
        with self._lock:
            if clock in self.clocks:
                self.clocks.remove(clock)
            self._stop_if_unused()

    def _stop_if_unused(self) -> None:
        if self.clocks or self._freezer is None:
            return
        factories: list[Any] = _freezegun().freeze_factories
        if self._holds and factories and factories[0] is self._shown:
            return  # (held, and ours is the bottom of the stack: see the class)
        freezer, self._freezer = self._freezer, None
        freezer.stop()
        _align_type_tables()


def _align_type_tables() -> None:
    """Point the SDK's table of native types at the ``datetime`` classes shown now.

    freezegun replaces ``datetime.datetime`` (and ``date``) in the ``datetime`` module and in
    module attributes, but not in a dict: Huawei's SDK maps ``"datetime"`` to the class it saw
    at import, then compares it with ``datetime.datetime``, so a time field read under a
    freeze started later (or after one stopped) fails with ``AttributeError: ... has no
    attribute 'openapi_types'``. (Looked up, not imported: most sessions have no SDK.)
    """
    module = sys.modules.get("huaweicloudsdkcore.http.primitive_types")
    table = getattr(module, "NATIVE_TYPES_MAPPING", None)
    if isinstance(table, dict):
        import datetime as shown  # (the module: its attributes are what freezegun shows now)

        for name in ("date", "datetime"):
            if name in table:
                table[name] = getattr(shown, name)


class _ShownTime:
    """The time freezegun shows the process: the latest running clock's, on the reading
    thread's timeline (its lead, when a request of a burst reads it); the real time when
    no clock runs (the freeze is held, or the last clock is stopping)."""

    def __init__(self, clocks: list[VirtualClock]) -> None:
        self._clocks = clocks

    def __call__(self) -> datetime:
        clocks = self._clocks
        try:
            return _utc(clocks[-1].now())
        except IndexError:
            return _utc(_fz.real_time())


_FREEZE = _SharedFreeze()


def hold_freeze() -> None:
    """Keep the shared freeze started once the last virtual clock stops, until as many
    `release_freeze` calls: the real time shows while no clock runs, and the next clock's
    start costs no module scan. (The freeze itself starts with the first clock.)"""
    _FREEZE.hold()


def release_freeze() -> None:
    """Undo one `hold_freeze`; the last one stops the freeze if no clock runs, and calls what
    `on_release` registered."""
    _FREEZE.release()


def freeze_held() -> bool:
    """Whether a `hold_freeze` is in force: what emulators start that does not depend on the
    test (the watchdog's thread) may stay up between them too, until `on_release`."""
    return _FREEZE.held


_ON_RELEASE: list[Callable[[], None]] = []


def on_release(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the last hold is released (to end what stayed up for it)."""
    _ON_RELEASE.append(callback)


def freeze_started() -> bool:
    """Whether the shared freeze runs (a clock runs, or a hold keeps it)."""
    return _FREEZE.started


def _freezegun() -> Any:
    """freezegun's module, imported on first use (see `_real_functions`)."""
    import freezegun.api

    return freezegun.api


def _utc(seconds: float) -> datetime:
    """A naive UTC datetime, as freezegun keeps them."""
    return _EPOCH + timedelta(seconds=seconds)
