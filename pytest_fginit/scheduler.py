"""Requests sent at the same moment: which instance serves each, and running them side by side.

All requests of one send arrive at the same instant of the emulator's clock. The emulator
assigns every one of them before any user code runs (`pick_instance`, `Start`), so who serves
whom does not depend on how threads happen to be scheduled; then the phases run on real
threads (`side_by_side`), each request on a `Timeline` of its own so that their virtual time
overlaps instead of adding up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ._clock import Timeline, enter_timeline, real_monotonic
from .errors import FunctionError
from .records import InitAttempt, Instance, Invocation

T = TypeVar("T")

_ABANDON_S = 5.0
"""After an interrupt, how long (real seconds) to wait for the other requests' threads: their
phases end at their deadlines, but a block in C code would never end."""


@dataclass(eq=False)
class Start:
    """Bringing up one instance (R1-R3): attempt after attempt, each on a new instance, for
    the requests waiting on it (``reserved``: for none; it is a reserved instance)."""

    timeline: Timeline | None
    attempts: list[InitAttempt]
    """Where its attempts are recorded: the first waiting request's (it is billed for them,
    R10), or the emulator's list of reserved instances' attempts."""
    request_id: str | None
    reserved: bool = False
    waiting: int = 0
    """How many requests wait for it (up to ``concurrency_num``)."""
    instance: Instance | None = None
    """The instance of the current attempt; once done, the ready one (``None``: all failed)."""
    error: FunctionError | None = None
    """The last failed attempt's error."""


@dataclass(eq=False)
class Request:
    """One request of a send, as the emulator serves it."""

    invocation: Invocation
    timeline: Timeline | None
    instance: Instance | None = None
    start: Start | None = None
    done: bool = False
    """Whether it has its outcome (recorded, or refused by the platform)."""


def pick_instance(ready: Sequence[Instance], load: Mapping[Instance, int],
                  capacity: int, last_send: Mapping[Instance, int]) -> Instance | None:
    """The ready instance a request goes to, ``None`` if all are full (``load``: requests
    already given to each in this send; ``capacity``: ``concurrency_num``; ``last_send``:
    the count of sends when each was last given a request or became ready).

    [assumption] idle instances first, reserved ones first among them (the reference:
    "requests go to reserved instances first"), then the one used by the latest send (the
    others stay idle and can be reclaimed); then, with ``concurrency_num`` > 1, the least
    busy instance that has room. Ties go to the instance that became ready first. (Sends are
    counted rather than timed: instances that came up side by side became ready at moments
    that differ by thread timing.)
    """
    best: Instance | None = None
    best_key: tuple[int, bool, int] | None = None
    for instance in ready:
        busy = load.get(instance, 0)
        if busy >= capacity:
            continue
        key = (busy, not instance.reserved, -last_send.get(instance, 0))
        if best_key is None or key < best_key:
            best, best_key = instance, key
    return best


class Ran(Generic[T]):
    """What `side_by_side` ran: each task's result (``None`` for one that raised), and the
    first exception a task raised, or the interrupt that reached the caller."""

    __slots__ = ("failure", "results")

    def __init__(self, results: list[T | None], failure: BaseException | None) -> None:
        self.results = results
        self.failure = failure


def side_by_side(tasks: Sequence[tuple[Timeline | None, Callable[[], T]]],
                 abort: Callable[[], None]) -> Ran[T]:
    """Run each task on its timeline, at the same time, on threads of their own (one task runs
    on the calling thread). Nothing is raised: the caller records what ended, then raises
    ``failure``.

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
            threading.Thread(target=run, args=(n,), name=f"fginit-request-{n}",
                             daemon=True).start()
            started += 1
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
