"""Placement: FunctionGraph's decisions on plain records. [test process]

Which ready instance a request goes to, whether it joins an instance coming up, opens a new
one or is throttled, which idle instances are reclaimed and when, how many reserved
instances are missing. Pure: no host, no clock; the pool and the dispatcher hold the state and
act on what is decided here.

All requests of one send arrive at the same instant and are placed before any user code of
the send runs, so who serves whom does not depend on how threads happen to be scheduled.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._clock import Timeline
from ..errors import FunctionError
from ..records import InitAttempt, Instance, Invocation


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


class NoRoom(enum.Enum):
    """What happens to a request no ready instance has room for, other than joining a start."""

    OPEN = "open"
    """A new instance is brought up for it."""
    THROTTLE = "throttle"
    """Refused: ``max_instance_num`` is reached (or 0: the function is disabled)."""


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


def join_or_open(starts: Sequence[Start], capacity: int, ready_count: int,
                 max_instance_num: int) -> Start | NoRoom:
    """For a request no ready instance has room for: the start of this send it joins (the
    first with room: fewer than ``capacity`` requests wait on it), else whether a new
    instance opens for it or it is throttled (``max_instance_num`` -1: no limit; it counts
    the ready instances and those coming up for this send)."""
    for start in starts:
        if start.waiting < capacity:
            return start
    if max_instance_num == -1 or ready_count + len(starts) < max_instance_num:
        return NoRoom.OPEN
    # [assumption] with max_instance_num 0 (the function disabled) the refusal is the same.
    return NoRoom.THROTTLE


def idle_to_reclaim(ready: Iterable[Instance], now: float,
                    idle_timeout: float) -> list[Instance]:
    """The instances idle for longer than ``idle_timeout`` at ``now``, in ready order
    (reference, section 2); reserved instances are never reclaimed."""
    return [instance for instance in ready
            if not instance.reserved and now - instance.last_used_at > idle_timeout]


def next_reclaim_at(ready: Iterable[Instance], idle_timeout: float) -> float | None:
    """When the next idle instance reaches its idle deadline (``None``: none will)."""
    idle_since = [i.last_used_at for i in ready if not i.reserved]
    return min(idle_since) + idle_timeout if idle_since else None


def missing_reserved(ready: Iterable[Instance], wanted: int) -> int:
    """How many reserved instances to bring up so that ``wanted`` are ready."""
    return max(0, wanted - sum(1 for i in ready if i.reserved))
