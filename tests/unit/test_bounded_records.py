"""A long run's records stay bounded (``invocations_kept``), and its totals stay exact: what
each request leaves is counted as it is filed, then the oldest invocations are let go from
``fn.invocations``, the instances' ``invocations`` and the journal (issue 12). No timing: the
bound is checked by counting live records and by tracemalloc, O(1) billing by counting what a
read computes."""

from __future__ import annotations

import gc
import math
import tracemalloc
import weakref

import pytest

from pytest_fginit import Billing, FunctionConfigError, Invocation

FUNCTION = """
import time
def init(context):
    pass
def handler(event, context):
    if event.get("fail"):
        raise ValueError(event["n"])
    time.sleep(event.get("sleep", 0))
    return {"n": event["n"], "padding": "x" * 200}
"""


def recomputed(invocations: list[Invocation], instances: int) -> Billing:
    """`billing` as it was computed before it was kept incrementally: a walk over every
    invocation (the test keeps them all; the emulator does not)."""
    attempts = [a for i in invocations for a in i.init_attempts]
    return Billing(
        invocations=len(invocations),
        instances=instances,
        cold_starts=sum(1 for i in invocations if i.cold_start),
        init_failures=sum(1 for a in attempts if not a.ok),
        init_timeouts=sum(1 for a in attempts
                          if a.error is not None and a.error.kind == "init_timeout"),
        billed_duration_ms=sum(i.billed_duration_ms for i in invocations),
        gb_s=sum(i.billed_gb_s for i in invocations),
        errors=sum(1 for i in invocations if i.error is not None),
    )


@pytest.mark.inprocess_only("counts live records in the test process")
def test_a_long_run_keeps_the_latest_invocations_and_lets_the_rest_go(emulate):
    fn = emulate(index=FUNCTION, invocations_kept=100)
    alive = []
    for n in range(2_000):
        inv = fn.invoke({"n": n})
        alive.append(weakref.ref(inv))
    del inv
    gc.collect()
    instance = fn.instances[0]
    kept = [ref() for ref in alive if ref() is not None]
    assert 100 <= len(kept) <= 110  # the latest, up to a tenth more: let go in batches
    assert [i.event["n"] for i in kept] == list(range(2_000 - len(kept), 2_000))
    assert fn.invocations == kept
    assert 100 <= len(instance.invocations) <= 110 and instance.invocations[-1] is kept[-1]
    assert instance.invocation_count == 2_000 and fn.billing.invocations == 2_000
    entries = [record for _, what, record in fn.journal if what == "invocation"]
    assert entries == fn.invocations  # the journal holds the kept ones' entries only
    assert [what for _, what, _ in fn.journal if what != "invocation"] == [
        "instance", "attempt", "instance"]  # every other event stays
    assert repr(instance).endswith("invocations=2000)")


@pytest.mark.inprocess_only("traces the test process's memory")
def test_memory_stays_flat_once_the_bound_is_reached(emulate):
    """After the bound is reached, 3,000 more requests add no records: about 1 KB each,
    3 MB, without a bound."""
    fn = emulate(index=FUNCTION, invocations_kept=300)
    tracemalloc.start()  # (before the first requests: what is let go is seen to go)
    try:
        for n in range(1_000):
            fn.invoke({"n": n})
        gc.collect()
        before = tracemalloc.take_snapshot()
        for n in range(3_000):
            fn.invoke({"n": n})
        gc.collect()
        grown = sum(stat.size_diff for stat in
                    tracemalloc.take_snapshot().compare_to(before, "filename"))
    finally:
        tracemalloc.stop()
    assert grown < 200_000, f"{grown:,} bytes more after 3,000 requests"


def test_billing_is_exact_past_the_bound(emulate):
    """Cold starts, init failures and timeouts, errors, throttling and concurrent sends over
    a run twenty times the bound: the kept totals equal a walk over every invocation."""
    fn = emulate(index=FUNCTION, invocations_kept=5, concurrency_num=1, max_instance_num=3,
                 initializer_timeout=1)
    every: list[Invocation] = []
    for round_ in range(10):
        if round_ % 3 == 0:
            fn.recycle()
            fn.faults.initializer.raises(OSError("disk full"))
        if round_ == 4:
            fn.recycle()
            fn.faults.initializer.hangs()
        every += [fn.invoke({"n": n, "fail": n % 4 == 0, "sleep": 0.01}) for n in range(8)]
        every += fn.invoke_concurrently([{"n": n} for n in range(4)])  # one throttled
    assert len(fn.invocations) <= 5 + 5 // 10 and len(every) == 120
    billing = fn.billing
    expected = recomputed(every, len(fn.instances))
    assert billing.errors > 10 and billing.init_failures >= 4 and billing.init_timeouts >= 1
    assert billing.cold_starts >= 10 and billing.billed_duration_ms > 0
    assert billing.gb_s == pytest.approx(expected.gb_s, rel=1e-12)  # (3.12 sums floats exactly)
    assert billing == Billing(**{**expected.__dict__, "gb_s": billing.gb_s})
    served = sum(i.invocation_count for i in fn.instances)
    assert served == sum(1 for i in every if i.instance is not None)


@pytest.mark.inprocess_only("counts what a read computes in the test process")
def test_reading_billing_walks_no_invocation(emulate, monkeypatch):
    fn = emulate(index=FUNCTION)
    for n in range(50):
        fn.invoke({"n": n})
    assert fn.billing.invocations == 50
    walked = []
    billed = Invocation.billed_duration_ms

    def counted(invocation: Invocation) -> int:
        walked.append(invocation)
        return billed.fget(invocation)  # type: ignore[no-any-return]

    monkeypatch.setattr(Invocation, "billed_duration_ms", property(counted))
    for _ in range(100):
        assert fn.billing.invocations == 50
    assert walked == []
    fn.invoke({"n": 50})
    assert fn.billing.invocations == 51 and len(walked) == 1  # the new request, once


@pytest.mark.inprocess_only("configuration only")
def test_none_keeps_every_invocation_and_zero_none(emulate):
    every = emulate(index=FUNCTION, invocations_kept=None)
    for n in range(300):
        every.invoke({"n": n})
    assert len(every.invocations) == 300 == len(every.instances[0].invocations)
    totals_only = emulate(index=FUNCTION, invocations_kept=0)
    for n in range(30):
        assert totals_only.invoke({"n": n}).ok  # the caller still gets each invocation
    assert totals_only.invocations == [] and totals_only.instances[0].invocations == []
    assert totals_only.instances[0].invocation_count == 30
    assert totals_only.billing.invocations == 30
    assert [what for _, what, _ in totals_only.journal] == ["instance", "attempt", "instance"]


@pytest.mark.inprocess_only("configuration only")
def test_the_bound_is_a_whole_number_or_none(emulate):
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(FunctionConfigError, match="invocations_kept"):
            emulate(index=FUNCTION, invocations_kept=bad)


@pytest.mark.inprocess_only("the journal's order in the test process")
def test_requests_sent_together_leave_the_journal_with_their_invocations(emulate):
    """A send's entries are put in order of time, so a kept request's entry can come before
    a let-go one's: each goes by identity, none is left behind."""
    fn = emulate(index=FUNCTION, invocations_kept=10, concurrency_num=4)
    for _ in range(30):
        fn.invoke_concurrently([{"n": n, "sleep": (4 - n) / 100} for n in range(4)])
    entries = [record for _, what, record in fn.journal if what == "invocation"]
    assert sorted(map(id, entries)) == sorted(map(id, fn.invocations))
    assert len(fn.invocations) <= 11 and fn.billing.invocations == 120
    times = [at for at, _, _ in fn.journal]
    assert times == sorted(times) and not math.isnan(times[-1])


def test_billing_adds_every_one_of_its_fields():
    import dataclasses

    from pytest_fginit.records import _SUMMED, Billing

    assert tuple(f.name for f in dataclasses.fields(Billing)) == _SUMMED
    one = Billing(*range(1, len(_SUMMED) + 1))
    assert dataclasses.astuple(one + one) == tuple(2 * v for v in dataclasses.astuple(one))
