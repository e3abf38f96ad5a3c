"""A send's bookkeeping costs O(1) per request, whatever the number of ready instances (issue
12): the ordered ready instances decide as the reference scans do (`pick_instance`,
`idle_to_reclaim`), and a request reads no more instances with 300 ready than with one. No
timing: counts and invariants only."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator
from pytest_fginit._platform import pool as pool_module
from pytest_fginit._platform.placement import ReadyInstances, idle_to_reclaim, pick_instance
from pytest_fginit.records import Instance


class _Model:
    """The reference: a list in readiness order and each instance's last send, scanned."""

    def __init__(self) -> None:
        self.ready: list[Instance] = []
        self.last_send: dict[Instance, int] = {}
        self.sends = 0
        self.ours = ReadyInstances()
        self.made = 0

    def add(self, rng: random.Random, now: float) -> None:
        self.made += 1
        instance = Instance(id=f"i{self.made}", created_at=now, state="ready",
                            reserved=rng.random() < 0.3, last_used_at=now)
        self.ready.append(instance)
        self.last_send[instance] = self.sends
        self.ours.add(instance)

    def remove(self, instance: Instance) -> None:
        self.ready.remove(instance)
        self.ours.remove(instance)

    def send(self, rng: random.Random, requests: int, capacity: int, now: float) -> None:
        self.sends += 1
        self.ours.begin_send()
        load: dict[Instance, int] = {}
        for _ in range(requests):
            while True:
                expected = pick_instance(self.ready, load, capacity, self.last_send)
                assert self.ours.pick(capacity) is expected
                if expected is None:
                    break
                if rng.random() < 0.05:  # its process died while idle: stopped, next one
                    self.remove(expected)
                    continue
                load[expected] = load.get(expected, 0) + 1
                self.last_send[expected] = self.sends
                break
        self.ours.end_placement()
        for instance in load:
            if instance in self.ready and rng.random() < 0.9:  # (its request ended)
                instance.last_used_at = max(instance.last_used_at, now + rng.random())

    def reclaim(self, now: float, timeout: float) -> None:
        expected = idle_to_reclaim(self.ready, now, timeout)
        assert self.ours.idle_past(now, timeout) == expected
        for instance in expected:
            self.remove(instance)
        assert list(self.ours) == self.ready


@pytest.mark.parametrize("seed", range(30))
def test_the_ordered_ready_instances_decide_as_the_reference_scans(seed):
    rng = random.Random(seed)
    model, now = _Model(), 0.0
    for _ in range(rng.randint(1, 6)):
        model.add(rng, now)
    for _ in range(60):
        now += rng.choice((0.0, 1.0, 5.0, 20.0))
        action = rng.random()
        if action < 0.5:
            model.send(rng, rng.randint(1, 12), rng.choice((1, 1, 2, 3)), now)
            for _ in range(rng.randint(0, 3)):  # (cold starts of the send, ready after it)
                model.add(rng, now)
        elif action < 0.7:
            model.reclaim(now, rng.choice((5.0, 30.0)))
        elif action < 0.8 and model.ready:
            model.remove(rng.choice(model.ready))
        else:
            model.add(rng, now)


def test_the_idle_heap_stays_bounded_by_the_ready_instances():
    ours = ReadyInstances()
    kept = [Instance(id=f"kept{n}", created_at=0.0, state="ready") for n in range(2)]
    for instance in kept:
        ours.add(instance)
    for n in range(10_000):  # instances come and go (killed), two stay idle since 0
        instance = Instance(id=f"i{n}", created_at=0.0, state="ready", last_used_at=n)
        ours.add(instance)
        if n % 2:
            kept[0].last_used_at = float(n)  # (kept[0] used again and again)
        ours.remove(instance)
    assert len(ours._idle) <= 2 * len(kept) + 17
    assert ours.idle_past(10_000.0, 60.0) == kept[1:]
    assert ours.idle_past(20_000.0, 60.0) == kept[:1]


# --- end to end: instance reads per request do not grow with the ready instances -----------

_READS = {"reserved": 0, "last_used_at": 0, "state": 0}


class _CountingInstance(Instance):
    """An instance that counts the reads of what placement and reclaim look at."""

    def __getattribute__(self, name: str) -> object:
        if name in _READS:
            _READS[name] += 1
        return super().__getattribute__(name)


@pytest.fixture
def counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "index.py").write_text("def handler(event, context):\n    return event\n")
    monkeypatch.setattr(pool_module, "Instance", _CountingInstance)
    opened: list[FunctionEmulator] = []

    def make(ready: int, **config: object) -> FunctionEmulator:
        fn = FunctionEmulator(FunctionConfig(code_root=tmp_path, max_instance_num=-1,
                                             **config)).start()
        opened.append(fn)
        fn.invoke_concurrently(list(range(ready)))
        fn.invoke(0)
        return fn

    yield make
    for fn in opened:
        fn.close()


def reads_of(send) -> int:
    for name in _READS:
        _READS[name] = 0
    send()
    return sum(_READS.values())


def test_a_warm_invoke_reads_as_many_instances_with_300_ready_as_with_one(counted):
    one, many = counted(1), counted(300)
    assert len(many._pool.ready) == 300
    assert reads_of(lambda: one.invoke(1)) == reads_of(lambda: many.invoke(1))
    assert reads_of(lambda: many.invoke(2)) < 20


@pytest.mark.parametrize("concurrency_num", [1, 3])
def test_placing_a_send_reads_instances_in_proportion_to_its_requests(counted,
                                                                     concurrency_num):
    small, large = counted(100, concurrency_num=concurrency_num), counted(
        400, concurrency_num=concurrency_num)
    k = 100 * concurrency_num
    per_small = reads_of(lambda: small.invoke_concurrently(list(range(k))))
    per_large = reads_of(lambda: large.invoke_concurrently(list(range(4 * k))))
    assert per_large <= 4.5 * per_small  # (a scan per request would make it 16 times)


# --- builtins: copied into an instance's namespace only when they changed -----------------

BUILTINS_HANDLER = """\
def handler(event, context):
    if event == "write":
        __builtins__["len"] = lambda value: -1  # (its own builtins: put right next phase)
    return [len("abc"), open.__name__]
"""


@pytest.fixture
def builtins_fn(tmp_path: Path):
    (tmp_path / "index.py").write_text(BUILTINS_HANDLER)
    with FunctionEmulator(FunctionConfig(code_root=tmp_path)) as fn:
        yield fn


def refreshes(fn: FunctionEmulator) -> int:
    namespace = fn._pool.hosted(fn.instances[0])._namespace  # type: ignore[attr-defined]
    return int(namespace.refreshes)


def test_warm_invokes_copy_the_builtins_only_when_they_changed(builtins_fn, monkeypatch):
    from pytest_fginit._hosts.inprocess.namespace import _TAG_OFFSET

    fn = builtins_fn
    assert fn.invoke().result == [3, "open"]
    first = refreshes(fn)
    for _ in range(5):
        assert fn.invoke().result == [3, "open"]
    if _TAG_OFFSET is None:  # (no version tag to read on this Python: a copy every time)
        assert refreshes(fn) == first + 5
        return
    assert refreshes(fn) == first  # nothing changed: no copy

    def fake_open(*args: object) -> None: ...
    monkeypatch.setattr("builtins.open", fake_open)  # a test patches a builtin
    assert fn.invoke().result == [3, "fake_open"]
    assert refreshes(fn) == first + 1
    monkeypatch.undo()
    assert fn.invoke("write").result == [-1, "open"]  # (user code writes its builtins...)
    assert fn.invoke().result == [3, "open"]  # (... and the next phase gets them right)
    assert refreshes(fn) == first + 3


def test_without_a_version_tag_every_phase_copies(builtins_fn, monkeypatch):
    fn = builtins_fn
    fn.invoke()
    namespace = fn._pool.hosted(fn.instances[0])._namespace  # type: ignore[attr-defined]
    monkeypatch.setattr(namespace, "_own_version", None)
    before = refreshes(fn)
    monkeypatch.setattr("builtins.open", len)
    assert fn.invoke().result == [3, "len"]
    fn.invoke()
    assert refreshes(fn) == before + 2


# --- threads: one per concurrent request, from its instance's start to its handler ----------

THREADS_HANDLER = """\
import threading

seen = []


def init(context):
    seen.append(("init", threading.current_thread()))


def handler(event, context):
    seen.append(("handler", threading.current_thread()))
    return event
"""


def test_a_cold_send_runs_each_requests_start_and_handler_on_one_thread(tmp_path: Path):
    (tmp_path / "index.py").write_text(THREADS_HANDLER)
    config = FunctionConfig(code_root=tmp_path, initializer_handler="index.init",
                            max_instance_num=-1)
    with FunctionEmulator(config) as fn:
        invocations = fn.invoke_concurrently(list(range(5)))
        assert [i.result for i in invocations] == list(range(5))
        seen = [entry for i in fn.instances for entry in i.module.seen]
        threads = {id(thread) for _, thread in seen}  # (kept alive: ids are not reused)
        assert len(seen) == 10 and len(threads) == 5
        for instance in fn.instances:
            (_, started), (_, handled) = instance.module.seen
            assert started is handled
        fn.invoke_concurrently(list(range(5)))  # warm: a thread per request, as before
        assert len({id(t) for i in fn.instances for _, t in i.module.seen}) == 10


def test_a_crew_runs_a_timelines_tasks_on_one_thread_and_ends_at_close():
    from pytest_fginit._clock import Timeline
    from pytest_fginit._platform.parallel import Crew, side_by_side

    crew, timelines = Crew(), [Timeline(), Timeline()]
    first = side_by_side([(t, threading.current_thread) for t in timelines], abort=lambda: None,
                         crew=crew)
    second = side_by_side([(t, threading.current_thread) for t in timelines],
                          abort=lambda: None, crew=crew)
    assert first.results == second.results and len(set(map(id, first.results))) == 2
    crew.close()
    for thread in first.results:
        assert thread is not None
        thread.join(5)
        assert not thread.is_alive()
