"""The emulator's clock: virtual (freezegun-driven) or real.

The virtual clock runs at real speed and jumps forward, never back, when time is *passed*
(``time.sleep`` in instance code, injected hangs and delays, ``advance()``). While it runs,
freezegun shows it to everything in the process that reads ``time.time``, ``time.monotonic``,
``time.perf_counter`` or ``datetime.now``: user code in instances, and the test itself.

The emulator measures durations and timeouts on its own reading of the clock, never through
the faked ``time`` functions, so a freeze the user starts in a test on top of ours changes what
user code reads but not how the emulator decides timeouts.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Protocol

import freezegun.api as _fz
from freezegun import freeze_time

real_sleep = time.sleep
"""``time.sleep`` as it was before the emulator replaced it for instance code."""

# freezegun scans call stacks for these prefixes and shows them the real time: pytest's own
# duration measurements stay honest (known pitfall: --durations otherwise reports ~1.8e9 s).
_IGNORED_BY_FREEZE = ["_pytest.timing"]
_EPOCH = _fz.real_datetime(1970, 1, 1)
# Always call the real time functions through freezegun's module: while a freeze runs, freezegun
# replaces every module attribute that *is* a real time function, ours included, but not its own.


def real_monotonic() -> float:
    """Real monotonic seconds, whatever freeze runs (ours, or one a test started)."""
    return _fz.real_monotonic()


class Clock(Protocol):
    virtual: bool

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def now(self) -> float:
        """Seconds since the epoch on this clock."""
    def pass_time(self, seconds: float) -> None:
        """Let ``seconds`` go by: a jump on a virtual clock, a real wait on a real one."""


class RealClock:
    virtual = False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def now(self) -> float:
        return _fz.real_time()

    def pass_time(self, seconds: float) -> None:
        if seconds > 0:
            real_sleep(seconds)


class VirtualClock:
    """Real time plus an offset that only grows; freezegun shows the same reading to the
    process. Reading it costs one real ``time.time()`` call (it sits on every hot path)."""

    virtual = True

    def __init__(self) -> None:
        self._freezer: object | None = None
        self._factory: _fz.TickingDateTimeFactory | None = None
        self._offset = 0.0  # virtual minus real seconds
        self._stopped_at: float | None = None

    def start(self) -> None:
        if self._freezer is not None:
            return
        freezer = freeze_time(_utc(_fz.real_time()), tick=True,
                              ignore=list(_IGNORED_BY_FREEZE), real_asyncio=True)
        factory = freezer.start()
        assert isinstance(factory, _fz.TickingDateTimeFactory)
        self._freezer, self._factory = freezer, factory
        self._offset = 0.0

    def stop(self) -> None:
        freezer, self._freezer = self._freezer, None
        if freezer is not None:
            # Keep reading the stopped clock where it was; it no longer ticks with real time.
            self._stopped_at = self.now()
            self._factory = None
            freezer.stop()  # type: ignore[attr-defined]

    def now(self) -> float:
        if self._factory is None:
            return _fz.real_time() if self._stopped_at is None else self._stopped_at
        return _fz.real_time() + self._offset

    def pass_time(self, seconds: float) -> None:
        factory = self._factory
        if factory is None or seconds <= 0:
            return
        # Move freezegun's clock first, then ours: a jump that fails (a date out of range)
        # leaves both where they were. (freezegun's own tick() restarts from the last frozen
        # point and drops the real time that went by since: the clock would go back.)
        factory.move_to(_utc(self.now() + seconds))
        self._offset += seconds


def _utc(seconds: float) -> datetime:
    """A naive UTC datetime, as freezegun keeps them."""
    return _EPOCH + timedelta(seconds=seconds)
