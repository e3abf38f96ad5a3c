"""Running phases side by side, each on its own timeline. [test process]

All requests of one send arrive at the same instant of the emulator's clock and are placed
before any user code runs (`placement`); then their phases run on real threads
(`side_by_side`), each request on a `Timeline` of its own so that their virtual time overlaps
instead of adding up. `at` makes what a request's records say read the clock on its timeline.
A `Crew` keeps one thread per timeline for the rounds of one send (instances' starts, then
handlers): one thread per concurrent request, not one per phase.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

from .._clock import Timeline, enter_timeline, real_monotonic

T = TypeVar("T")

_ABANDON_S = 5.0
"""After an interrupt, how long (real seconds) to wait for the other requests' threads: their
phases end at their deadlines, but a block in C code would never end."""


class Ran(Generic[T]):
    """What `side_by_side` ran: each task's result (``None`` for one that raised), and the
    first exception a task raised, or the interrupt that reached the caller."""

    __slots__ = ("failure", "results")

    def __init__(self, results: list[T | None], failure: BaseException | None) -> None:
        self.results = results
        self.failure = failure


class Crew:
    """The threads of one send, one per request's timeline, each running that request's
    tasks from round to round (its instance's start, then its handler); `close` lets them
    end once their tasks are done. After `last_round`, each ends with its next task (no
    wake-up at the close)."""

    def __init__(self) -> None:
        self._workers: dict[Timeline, queue.SimpleQueue[Callable[[], None] | None]] = {}
        self._last = False
        self._made = 0

    def last_round(self) -> None:
        self._last = True

    def run(self, timeline: Timeline, task: Callable[[], None]) -> None:
        """Run ``task`` on ``timeline``'s thread (started on its first task)."""
        work = self._workers.pop(timeline, None) if self._last else self._workers.get(timeline)
        if work is not None:
            work.put(task)
            if self._last:
                work.put(None)
            return
        work = queue.SimpleQueue()
        work.put(task)  # (before the start: an interrupt inside start() leaves it to run)
        if self._last:
            work.put(None)
        else:
            self._workers[timeline] = work
        self._made += 1
        threading.Thread(target=_serve, args=(work,), daemon=True,
                         name=f"fginit-request-{self._made - 1}").start()

    def close(self) -> None:
        for work in self._workers.values():
            work.put(None)
        self._workers.clear()


def _serve(work: queue.SimpleQueue[Callable[[], None] | None]) -> None:
    while (task := work.get()) is not None:
        task()


def side_by_side(tasks: Sequence[tuple[Timeline | None, Callable[[], T]]],
                 abort: Callable[[], None], crew: Crew | None = None) -> Ran[T]:
    """Run each task on its timeline, at the same time, on threads of their own (one task runs
    on the calling thread), ``crew``'s if given. Nothing is raised: the caller records what
    ended, then raises ``failure``.

    An interrupt of the caller (Ctrl-C, pytest-timeout) calls ``abort`` (stop the running
    phases), then waits for the threads a bounded time: no user code is left running behind
    the test."""
    if len(tasks) == 1:
        timeline, task = tasks[0]
        previous = enter_timeline(timeline)
        try:
            return Ran([task()], None)
        except BaseException as exc:
            return Ran([None], exc)
        finally:
            enter_timeline(previous)
    results: list[T | None] = [None] * len(tasks)
    failures: list[BaseException | None] = [None] * len(tasks)
    ended = [threading.Event() for _ in tasks]

    def run(index: int) -> None:
        timeline, task = tasks[index]
        enter_timeline(timeline)
        try:
            results[index] = task()
        except BaseException as exc:  # raised by the caller, once all have ended
            failures[index] = exc
        finally:
            ended[index].set()

    started = 0
    try:
        for n in range(len(tasks)):
            started += 1  # (first: an interrupt inside start() may land once the thread runs)
            _start(partial(run, n), tasks[n][0], crew, n)
        for event in ended:
            event.wait()
    except BaseException as interrupt:
        finished = [event.is_set() for event in ended]  # (what the others do now is not
        abort()                                          # theirs: they are being stopped)
        # (Events, not Thread.join: an interrupted join marks its thread as ended.)
        until = real_monotonic() + _ABANDON_S
        for event in ended[:started]:
            event.wait(max(0.0, until - real_monotonic()))
        return Ran([r if f else None for r, f in zip(results, finished, strict=True)],
                   interrupt)
    return Ran(results, next((f for f in failures if f is not None), None))


def _start(task: Callable[[], None], timeline: Timeline | None, crew: Crew | None,
           n: int) -> None:
    if crew is not None and timeline is not None:
        crew.run(timeline, task)
    else:
        threading.Thread(target=task, name=f"fginit-request-{n}", daemon=True).start()


def at(timeline: Timeline | None, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` reading the clock on ``timeline`` (what a request's records say is
    made on the calling thread, once the request's own thread has ended)."""
    if timeline is None:
        return function(*args)
    previous = enter_timeline(timeline)
    try:
        return function(*args)
    finally:
        enter_timeline(previous)
