"""`_clock.hold_freeze`: the shared freeze outlives the last virtual clock while held.

While held with no clock running, freezegun shows exactly the real time; the next clock's start
starts no freezegun freeze (no module scan); the last release ends the freeze. A freeze the
user started *before* ours is never outlived (its stop would pop ours and leave its own time
shown), and one started on top of the held freeze ends cleanly whenever its owner stops it.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator

import freezegun
import freezegun.api as fz
import pytest

from pytest_fginit import _clock


@pytest.fixture(autouse=True)
def no_freeze_yet(no_held_freeze: None) -> Iterator[None]:
    # (the session's held freeze, if an fg_function ran in this process, is taken away first)
    assert not fz.freeze_factories, "a freeze runs before the test"
    yield
    assert not fz.freeze_factories, "a test left a freeze behind"


@pytest.fixture
def starts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts freezegun's starts that scan modules (no freeze was running yet)."""
    counted: list[int] = []
    start = fz._freeze_time.start

    def counting(self: fz._freeze_time) -> object:
        if not fz.freeze_factories:
            counted.append(1)
        return start(self)

    monkeypatch.setattr(fz._freeze_time, "start", counting)
    return counted


def _faked() -> bool:
    return time.time is not fz.real_time


def _reads_real_time() -> bool:
    real = fz.real_time()
    wall = datetime.datetime.fromtimestamp(real)
    return (abs(time.time() - real) < 1
            and abs((datetime.datetime.now() - wall).total_seconds()) < 1)


def test_without_a_hold_the_freeze_ends_with_the_last_clock(starts):
    clock = _clock.VirtualClock()
    clock.start()
    clock.stop()
    assert not _faked() and not _clock.freeze_started()
    clock = _clock.VirtualClock()
    clock.start()
    clock.stop()
    assert len(starts) == 2


def test_a_held_freeze_outlives_its_clocks_showing_real_time(starts):
    _clock.hold_freeze()
    try:
        first = _clock.VirtualClock()
        first.start()
        first.pass_time(86_400 * 365)
        assert not _reads_real_time()  # (a year ahead)
        first.stop()
        assert _faked() and _clock.freeze_started()
        assert _reads_real_time()
        second = _clock.VirtualClock()
        second.start()
        second.pass_time(3600)
        assert second.now() == pytest.approx(fz.real_time() + 3600, abs=1)
        assert time.time() == pytest.approx(second.now(), abs=1)
        second.stop()
        assert len(starts) == 1  # the second start scanned nothing
    finally:
        _clock.release_freeze()
    assert not _faked() and not _clock.freeze_started()


def test_holds_are_counted():
    _clock.hold_freeze()
    _clock.hold_freeze()
    clock = _clock.VirtualClock()
    clock.start()
    clock.stop()
    _clock.release_freeze()
    assert _clock.freeze_started()
    _clock.release_freeze()
    assert not _clock.freeze_started()
    _clock.release_freeze()  # (one too many: nothing to undo)
    assert not _faked()


def test_a_release_while_a_clock_runs_ends_the_freeze_with_that_clock():
    _clock.hold_freeze()
    clock = _clock.VirtualClock()
    clock.start()
    _clock.release_freeze()
    assert _clock.freeze_started()
    clock.stop()
    assert not _faked()


def test_a_users_freeze_on_top_of_the_held_one_works_and_ends_cleanly(starts):
    _clock.hold_freeze()
    try:
        clock = _clock.VirtualClock()
        clock.start()
        clock.stop()
        with freezegun.freeze_time("2020-01-01"):
            assert datetime.datetime.now() == datetime.datetime(2020, 1, 1)
            assert time.time() == datetime.datetime(2020, 1, 1).timestamp()
        assert _reads_real_time()
        assert len(starts) == 1  # (the user's start found ours running: no scan either)
    finally:
        _clock.release_freeze()
    assert not _faked()


def test_a_users_freeze_still_on_when_the_last_clock_stops_ends_cleanly_later():
    _clock.hold_freeze()
    try:
        clock = _clock.VirtualClock()
        clock.start()
        users = freezegun.freeze_time("2020-01-01")
        users.start()
        clock.stop()  # (before the user's freeze: held, ours stays under it)
        assert datetime.datetime.now() == datetime.datetime(2020, 1, 1)
        users.stop()
        assert _reads_real_time()
    finally:
        _clock.release_freeze()
    assert not _faked()


def test_a_users_freeze_started_before_ours_is_not_outlived():
    _clock.hold_freeze()
    try:
        users = freezegun.freeze_time("2020-01-01")
        users.start()
        clock = _clock.VirtualClock()
        clock.start()
        clock.stop()
        assert not _clock.freeze_started()  # (ours was not the bottom of freezegun's stack)
        assert datetime.datetime.now() == datetime.datetime(2020, 1, 1)
        users.stop()
        assert not _faked()
    finally:
        _clock.release_freeze()
