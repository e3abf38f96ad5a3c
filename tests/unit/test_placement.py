"""Placement decisions, pinned: which instance a request goes to, when a start is joined, a
new instance opened or a request throttled, which idle instances are reclaimed and when, and how
many reserved instances are missing. The pure functions are tested on plain records; small
in-process emulators pin the same decisions end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator
from pytest_fginit._platform.placement import (
    NoRoom,
    Start,
    idle_to_reclaim,
    join_or_open,
    missing_reserved,
    next_reclaim_at,
    pick_instance,
)
from pytest_fginit.records import Instance

HANDLER = "def handler(event, context):\n    return event\n"


def ready(*names: str, reserved: tuple[str, ...] = ()) -> list[Instance]:
    return [Instance(id=n, created_at=0.0, state="ready", reserved=n in reserved)
            for n in names]


# --- pick an instance ---------------------------------------------------------------------

def test_an_idle_instance_is_picked_before_a_busy_one():
    a, b = ready("a", "b")
    assert pick_instance([a, b], {a: 1}, 2, {}) is b


def test_a_reserved_instance_is_picked_first_among_the_idle():
    a, b = ready("a", "b", reserved=("b",))
    assert pick_instance([a, b], {}, 1, {a: 5, b: 0}) is b


def test_the_instance_of_the_most_recent_send_is_picked_first():
    a, b, c = ready("a", "b", "c")
    assert pick_instance([a, b, c], {}, 1, {a: 1, b: 3, c: 2}) is b


def test_ties_go_to_the_instance_that_became_ready_first():
    a, b = ready("a", "b")
    assert pick_instance([a, b], {}, 1, {a: 2, b: 2}) is a
    assert pick_instance([b, a], {}, 1, {}) is b


def test_a_full_instance_is_never_picked():
    a, b = ready("a", "b")
    assert pick_instance([a, b], {a: 1, b: 1}, 1, {}) is None
    assert pick_instance([a, b], {a: 2, b: 1}, 2, {}) is b  # concurrency_num 2: room on b
    assert pick_instance([], {}, 1, {}) is None


def test_with_room_on_several_the_least_busy_is_picked():
    a, b = ready("a", "b", reserved=("a",))
    assert pick_instance([a, b], {a: 2, b: 1}, 3, {}) is b


# --- join a start, open an instance, or throttle -----------------------------------------

def start(waiting: int) -> Start:
    return Start(timeline=None, attempts=[], request_id=None, waiting=waiting)


def test_the_first_start_with_room_is_joined():
    full, roomy, other = start(2), start(1), start(0)
    assert join_or_open([full, roomy, other], 2, 0, -1) is roomy
    assert join_or_open([start(1)], 1, 0, -1) is NoRoom.OPEN  # concurrency_num 1: no room


@pytest.mark.parametrize(("limit", "ready_count", "starts", "expected"), [
    (-1, 100, 100, NoRoom.OPEN),  # no limit
    (0, 0, 0, NoRoom.THROTTLE),  # the function disabled
    (3, 1, 1, NoRoom.OPEN),
    (3, 2, 1, NoRoom.THROTTLE),  # ready instances and this send's starts both count
    (3, 0, 3, NoRoom.THROTTLE),
])
def test_max_instance_num_decides_between_opening_and_throttling(limit, ready_count, starts,
                                                                expected):
    assert join_or_open([start(1)] * starts, 1, ready_count, limit) is expected


# --- reclaim ------------------------------------------------------------------------------

def idle(name: str, since: float, reserved: bool = False) -> Instance:
    return Instance(id=name, created_at=0.0, state="ready", last_used_at=since,
                    reserved=reserved)


def test_instances_idle_past_the_timeout_are_reclaimed_in_ready_order_reserved_never():
    a, b, c, d = idle("a", 5), idle("b", 0, reserved=True), idle("c", 1), idle("d", 50)
    assert idle_to_reclaim([a, b, c, d], 70, 60) == [a, c]
    assert idle_to_reclaim([a, b, c, d], 65, 60) == [c]
    assert idle_to_reclaim([a, b, c, d], 61, 60) == []  # exactly at the deadline: not yet


def test_the_next_reclaim_is_at_the_earliest_idle_deadline_of_an_on_demand_instance():
    assert next_reclaim_at([idle("a", 30), idle("b", 0, reserved=True), idle("c", 10)],
                           60) == 70
    assert next_reclaim_at([idle("b", 0, reserved=True)], 60) is None
    assert next_reclaim_at([], 60) is None


def test_missing_reserved_counts_the_ready_reserved_instances():
    instances = [idle("a", 0, reserved=True), idle("b", 0), idle("c", 0, reserved=True)]
    assert missing_reserved(instances, 3) == 1
    assert missing_reserved(instances, 2) == 0
    assert missing_reserved(instances, 1) == 0  # (never negative)
    assert missing_reserved([], 2) == 2


# --- end to end: small emulators ----------------------------------------------------------

@pytest.fixture
def emulator(tmp_path: Path):
    (tmp_path / "index.py").write_text(HANDLER)
    opened: list[FunctionEmulator] = []

    def make(**config: object) -> FunctionEmulator:
        fn = FunctionEmulator(FunctionConfig(code_root=tmp_path, **config)).start()
        opened.append(fn)
        return fn

    yield make
    for fn in opened:
        fn.close()


def served_by(invocations) -> list[str | None]:
    return [i.instance.id if i.instance else i.error.kind for i in invocations]


def test_a_start_with_room_is_joined_and_the_others_open_new_instances(emulator):
    fn = emulator(concurrency_num=2)
    assert served_by(fn.invoke_concurrently([1, 2, 3])) == [
        "instance-1", "instance-1", "instance-2"]
    assert [len(i.init_attempts) for i in fn.invocations] == [1, 0, 1]


@pytest.mark.parametrize(("limit", "expected"), [
    (-1, ["instance-1", "instance-2", "instance-3"]),
    (0, ["throttled", "throttled", "throttled"]),
    (2, ["instance-1", "instance-2", "throttled"]),
])
def test_max_instance_num_throttles_past_its_limit(emulator, limit, expected):
    fn = emulator(max_instance_num=limit)
    assert served_by(fn.invoke_concurrently([1, 2, 3])) == expected


def test_live_instances_count_towards_the_limit(emulator):
    fn = emulator(max_instance_num=2)
    fn.invoke(0)
    assert served_by(fn.invoke_concurrently([1, 2, 3])) == [
        "instance-1", "instance-2", "throttled"]


def test_reclaim_takes_the_instances_idle_past_the_timeout_in_ready_order(emulator):
    fn = emulator(instance_idle_timeout=60, reserved_instances=1)
    fn.invoke_concurrently([1, 2, 3])  # the reserved one and two on demand
    fn.advance(30)
    fn.invoke(4)  # the reserved instance: instance-2 and instance-3 stay idle since 0
    fn.advance(31)  # 61 s: past the idle timeout of 60 s
    assert [(i.id, i.state) for i in fn.instances] == [
        ("instance-1", "ready"), ("instance-2", "reclaimed"), ("instance-3", "reclaimed")]
    reclaimed = [(t, e[0].id) for t, what, e in fn.journal
                 if what == "instance" and e[1] == "reclaimed"]
    assert reclaimed == [(pytest.approx(60, abs=0.5), "instance-2"),
                         (pytest.approx(60, abs=0.5), "instance-3")]


def test_each_instance_is_reclaimed_at_its_own_deadline(emulator):
    fn = emulator(instance_idle_timeout=60)
    fn.invoke_concurrently([1, 2])
    fn.advance(20)
    fn.invoke(3)  # instance-1 (the most recent send's first) is used again at 20 s
    fn.advance(100)
    reclaimed = [(round(t), e[0].id) for t, what, e in fn.journal
                 if what == "instance" and e[1] == "reclaimed"]
    assert reclaimed == [(60, "instance-2"), (80, "instance-1")]


def test_an_instance_before_its_deadline_is_not_reclaimed(emulator):
    fn = emulator(instance_idle_timeout=60)
    fn.invoke(1)
    fn.advance(59)
    assert fn.invoke(2).instance.id == "instance-1"


def test_missing_reserved_instances_are_brought_up_after_a_recycle(emulator):
    fn = emulator(reserved_instances=2)
    assert [i.reserved for i in fn.instances] == [True, True]
    fn.recycle()
    assert [(i.id, i.state) for i in fn.instances[2:]] == [
        ("instance-3", "ready"), ("instance-4", "ready")]
    fn.invoke(1)
    assert len(fn.instances) == 4  # none missing: none brought up
