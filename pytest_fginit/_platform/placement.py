"""Placement: FunctionGraph's decisions on plain records. [test process]

Which ready instance a request goes to, whether it joins an instance coming up, opens a new
one or is throttled, which idle instances are reclaimed and when, how many reserved
instances are missing. Pure: no host, no clock; the pool and the dispatcher hold the state and
act on what is decided here. The functions say each rule over a list, in a scan;
`ReadyInstances` (the pool's) keeps the ready instances in the orders those rules read, so
that a request costs O(1) however many are ready, and decides the same (a test compares them).

All requests of one send arrive at the same instant and are placed before any user code of
the send runs, so who serves whom does not depend on how threads happen to be scheduled.
"""

from __future__ import annotations

import enum
import heapq
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


class ReadyInstances:
    """The ready instances, kept in the orders the platform's decisions read them, so that a
    request costs O(1) whatever their number: `pick_instance` and `idle_to_reclaim` decide
    the same over a list, in a scan per request.

    Iterating gives them in readiness order. Within a send the pick order is: idle instances
    (reserved first, then the most recent send's first, ties by readiness), then, with
    ``concurrency_num`` > 1, the busy ones round after round (least busy first, reserved
    first, ties by readiness). The pool calls `add` and `remove` as instances become ready
    and stop; the dispatcher brackets a send's placement with
    `begin_send` and `end_placement`.
    """

    def __init__(self) -> None:
        self._seq: dict[Instance, int] = {}  # (readiness order: insertion order, and a number)
        self._count = 0
        # Per group (reserved, then on demand): those given a request in the current send or
        # ready since it began, in readiness order; and the others, the latest send's first.
        self._top: tuple[dict[Instance, None], dict[Instance, None]] = ({}, {})
        self._rest: tuple[OrderedDict[Instance, None], OrderedDict[Instance, None]] = (
            OrderedDict(), OrderedDict())
        self._picked: list[Instance] = []  # (given a request in this send's placement)
        self._round: list[Instance] | None = None  # (busy ones: the next round's order)
        self._at = 0
        self._level = 1
        self._idle: list[tuple[float, int, Instance]] = []  # on demand, by idle since (a heap)

    def __iter__(self) -> Iterator[Instance]:
        return iter(self._seq)

    def __len__(self) -> int:
        return len(self._seq)

    def __contains__(self, instance: object) -> bool:
        return instance in self._seq

    def add(self, instance: Instance) -> None:
        """``instance`` became ready (its ``last_used_at`` set)."""
        self._seq[instance] = self._count
        self._count += 1
        self._top[not instance.reserved][instance] = None
        if instance.reserved:  # (never reclaimed)
            return
        idle = self._idle
        if len(idle) > 2 * len(self._seq) + 16:  # (mostly stopped ones: rebuilt, amortised)
            idle[:] = [(i.last_used_at, self._seq[i], i) for i in self._seq if not i.reserved]
            heapq.heapify(idle)
        else:
            heapq.heappush(idle, (instance.last_used_at, self._seq[instance], instance))

    def remove(self, instance: Instance) -> None:
        """``instance`` stopped being ready (its heap entries go stale)."""
        if self._seq.pop(instance, None) is not None:
            group = not instance.reserved
            self._top[group].pop(instance, None)
            self._rest[group].pop(instance, None)

    # --- one send -----------------------------------------------------------------------

    def begin_send(self) -> None:
        """A new send: last send's instances become the most recent ones before all others."""
        for top, rest in zip(self._top, self._rest, strict=True):
            if top:
                for instance in reversed(top):
                    rest[instance] = None
                    rest.move_to_end(instance, last=False)
                top.clear()

    def pick(self, capacity: int) -> Instance | None:
        """The instance the next request of the send goes to (see the class), ``None`` if all
        are full; the caller gives it the request or `remove`s it (it died)."""
        for rest in self._rest:
            if rest:
                instance = rest.popitem(last=False)[0]
                self._picked.append(instance)
                return instance
        if capacity <= 1 or not self._picked:
            return None
        if self._round is None:  # (every ready one is busy: a round at a time from here)
            self._round = sorted(self._picked, key=self._busy_order)
        while self._level < capacity:
            while self._at < len(self._round):
                instance = self._round[self._at]
                self._at += 1
                if instance in self._seq:
                    return instance
            # (a round ended: one more request on each, the ones gone since left out)
            self._round = [i for i in self._round if i in self._seq]
            if not self._round:
                return None
            self._at, self._level = 0, self._level + 1
        return None

    def end_placement(self) -> None:
        """The send is placed: the instances it picked are the most recent ones now."""
        picked = self._picked
        if len(picked) > 1:  # (in readiness order; one, the common case, needs no sort)
            picked.sort(key=self._busy_order)
        for instance in picked:
            if instance in self._seq:
                self._top[not instance.reserved][instance] = None
        picked.clear()
        self._round, self._at, self._level = None, 0, 1

    def _busy_order(self, instance: Instance) -> tuple[bool, int]:
        return not instance.reserved, self._seq.get(instance, -1)

    # --- reclaim ------------------------------------------------------------------------

    def idle_past(self, now: float, idle_timeout: float) -> list[Instance]:
        """`idle_to_reclaim`: those idle for longer than ``idle_timeout``, in ready order.

        Each on-demand instance has one entry, pushed as it became ready: a lower bound of
        when it became idle (``last_used_at`` only grows). Only an entry that looks past the
        timeout is looked at, and moved to the instance's true time if it was used since: a
        send costs nothing here while nothing is close to being reclaimed."""
        idle = self._idle
        if not idle or not now - idle[0][0] > idle_timeout:  # (every send: nothing to do)
            return []
        due: dict[Instance, None] = {}
        while idle and now - idle[0][0] > idle_timeout:
            since, seq, instance = idle[0]
            if instance not in self._seq:  # (stopped since)
                heapq.heappop(idle)
            elif instance.last_used_at != since:  # (used since)
                heapq.heapreplace(idle, (instance.last_used_at, seq, instance))
            else:
                due[instance] = None
                heapq.heappop(idle)
        return sorted(due, key=self._seq.__getitem__)
