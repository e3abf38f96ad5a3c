"""`side_by_side`: an interrupt of the caller never leaves a started request's thread behind."""

from __future__ import annotations

import threading
import time

from pytest_fginit._platform import parallel


def test_an_interrupt_inside_a_threads_start_still_waits_for_that_thread(monkeypatch):
    """An interrupt (Ctrl-C, pytest-timeout) can land inside Thread.start(), after the thread
    runs: that request's thread must be waited for, like the ones started before it."""
    real_start = threading.Thread.start
    starts = []

    def start(self: threading.Thread) -> None:
        real_start(self)
        starts.append(self)
        if len(starts) == 2:
            raise KeyboardInterrupt  # (as a signal handler would, once the thread runs)

    monkeypatch.setattr(threading.Thread, "start", start)
    finished: list[int] = []
    release = threading.Event()

    def task(n: int):
        def run() -> int:
            release.wait(10)  # (ends once the caller was interrupted: abort() releases it)
            time.sleep(0.5 if n == 1 else 0.0)  # (the interrupted one ends last)
            finished.append(n)
            return n
        return run

    ran = parallel.side_by_side([(None, task(n)) for n in range(3)], abort=release.set)
    assert isinstance(ran.failure, KeyboardInterrupt)
    assert sorted(finished) == [0, 1]  # the second thread, interrupted in its start(), too
    assert not any(thread.is_alive() for thread in starts)


