"""The watchdogs' one thread ("fginit-watchdog"): it ends, joined, with the last watchdog,
unless the session holds the freeze (`_clock.hold_freeze`): then it serves every later
watchdog and ends when the hold is released. Either way a busy phase is stopped at its
deadline."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import freezegun.api as fz
import pytest

from pytest_fginit import _clock
from pytest_fginit._hosts.inprocess.deadline import PhaseDeadline, PhaseKilled, Watchdog


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fginit-watchdog"]


@pytest.fixture(autouse=True)
def none_yet(no_held_freeze: None) -> Iterator[None]:
    # (the session's held freeze and the thread it keeps, if an fg_function ran in this
    # process, are taken away first)
    assert not _threads() and not fz.freeze_factories, "a watchdog or freeze runs already"
    yield
    assert not _threads()


def test_without_a_hold_the_thread_ends_with_the_last_watchdog():
    first, second = Watchdog(None), Watchdog(None)
    first.start()
    second.start()
    assert len(_threads()) == 1  # (one thread for both)
    first.close()
    assert len(_threads()) == 1
    second.close()
    assert not _threads()  # (joined: gone as close returns)


def test_a_held_session_keeps_one_thread_until_the_release():
    _clock.hold_freeze()
    try:
        first = Watchdog(None)
        first.start()
        (thread,) = _threads()
        first.close()
        assert _threads() == [thread]
        second = Watchdog(None)
        second.start()
        assert _threads() == [thread]  # (no new thread for the next emulator)
        second.close()
    finally:
        _clock.release_freeze()
    assert not _threads()


def test_a_busy_phase_is_stopped_by_the_held_thread():
    _clock.hold_freeze()
    try:
        Watchdog(None).close()  # (never started: nothing to stop)
        for _ in range(2):  # (the second watchdog on the thread the first one left)
            watchdog = Watchdog(None)
            watchdog.start()
            phase = PhaseDeadline(_clock.RealClock(), _clock.real_time() + 0.05)
            watchdog.arm(phase)
            with pytest.raises(PhaseKilled):
                while True:
                    pass
            watchdog.disarm(phase)
            watchdog.close()
    finally:
        _clock.release_freeze()


def test_a_watchdog_closed_before_the_thread_first_polls_ends_it_without_a_poll(monkeypatch):
    # (one-shot runs, fginit invoke's: the close came before the new thread's first wait, whose
    # notify was lost, and the close waited a whole poll; here a poll would be an hour)
    from pytest_fginit._hosts.inprocess import deadline

    def start_and_close() -> None:
        watchdog = Watchdog(None)
        watchdog.start()
        watchdog.close()

    monkeypatch.setattr(deadline, "_POLL_S", 3600.0)
    closing = threading.Thread(target=start_and_close, daemon=True)
    closing.start()
    closing.join(60)
    assert not closing.is_alive(), "the close waited for the thread's first poll to end"
