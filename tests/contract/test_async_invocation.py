"""Asynchronous invocation with real function code, in both isolation modes: accepted at once,
run from the queue on the emulator's clock, retried, aged and reported (A1-A17, A25)."""

from __future__ import annotations

import json

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator

SMN = {"destination": "SMN", "param": json.dumps({"topic_urn": "urn:smn:cn-north-4:p:t"})}


def test_a_request_is_accepted_at_once_and_runs_when_the_queue_is_drained(emulate):
    fn = emulate()
    request = fn.invoke_async({"key": "a.png"})
    assert (request.status, request.accepted, fn.invocations) == ("WAIT", True, [])
    assert fn.drain() == [request]
    assert request.status == "SUCCESS"
    assert request.result["event"] == {"key": "a.png"}
    assert fn.invocations == request.attempts  # (an attempt is an ordinary invocation)
    assert fn.invocations[0].request_id == request.request_id


def test_failures_are_retried_60_and_120_seconds_later_on_the_virtual_clock(emulate):
    fn = emulate(max_async_retry_attempts=2)
    fn.faults.handler.raises(ConnectionError("db down"), times=2)
    request = fn.invoke_async({})
    fn.drain()
    assert request.status == "SUCCESS"
    assert [a.ok for a in request.attempts] == [False, False, True]
    starts = [a.started_at for a in request.attempts]
    assert 60 <= starts[1] - starts[0] < 61 and 120 <= starts[2] - starts[1] < 121


def test_a_failure_without_async_configuration_says_why_it_was_not_retried(emulate):
    fn = emulate()
    fn.faults.handler.raises(ConnectionError("db down"), times=1)
    request = fn.invoke_async({})
    fn.drain()
    assert (request.status, len(request.attempts)) == ("FAIL", 1)
    notes = [e.record.text for e in fn.journal if e.what == "note"]
    assert any("not retried; set max_async_retry_attempts" in text for text in notes), notes


def test_a_configured_failure_names_no_missing_configuration(emulate):
    fn = emulate(max_async_retry_attempts=0)
    fn.faults.handler.raises(ConnectionError("db down"), times=1)
    fn.invoke_async({})
    fn.drain()
    notes = [e.record.text for e in fn.journal if e.what == "note"]
    assert any("FAIL after 1 attempt" in text for text in notes), notes
    assert not any("no async configuration" in text for text in notes), notes


def test_advance_runs_a_retry_only_once_it_is_due(emulate):
    fn = emulate(max_async_retry_attempts=1)
    fn.faults.handler.raises(ConnectionError("db down"), times=1)
    request = fn.invoke_async({})
    fn.advance(0)  # (the first attempt is due at once)
    assert (request.status, len(request.attempts)) == ("WAIT", 1)
    fn.advance(59)
    assert len(request.attempts) == 1
    fn.advance(2)
    assert (request.status, len(request.attempts)) == ("SUCCESS", 2)


def test_the_last_failure_reaches_the_failure_destination_once(emulate):
    fn = emulate(destination_config={"on_failure": SMN})
    fn.faults.handler.raises(ValueError("bad image"), times=2)
    request = fn.invoke_async({"key": "b.png"})
    fn.drain()
    # (an async configuration exists, so max_async_retry_attempts defaults to 1: two attempts)
    assert (request.status, len(request.attempts)) == ("FAIL", 2)
    [delivery] = fn.destinations
    assert (delivery.destination, delivery.on, delivery.where) == (
        "SMN", "failure", "urn:smn:cn-north-4:p:t")
    record = delivery.record
    assert record["request_context"]["condition"] == "UnhandledInvocationError"
    assert record["request_context"]["approximate_invoke_count"] == 1
    assert json.loads(record["request_payload"]) == {"key": "b.png"}
    assert json.loads(record["response_payload"])["errorType"] == "ValueError"
    assert request.notification == record


def test_a_body_over_256_kb_is_refused_and_nothing_is_queued(emulate):
    fn = emulate()
    request = fn.invoke_async({"blob": "x" * 262144})
    assert (request.accepted, request.refusal.code) == (False, "FSS.0413")
    assert fn.async_invocations() == [] and fn.drain() == [] and fn.invocations == []


def test_a_burst_waits_in_the_queue_instead_of_being_throttled(emulate):
    fn = emulate(max_instance_num=1)
    requests = [fn.invoke_async({"n": n}) for n in range(4)]
    fn.drain()
    assert [r.status for r in requests] == ["SUCCESS"] * 4
    assert [r.throttled for r in requests] == [0] * 4
    assert len(fn.instances) == 1
    assert [r.result["event"]["n"] for r in requests] == [0, 1, 2, 3]  # FIFO (A9)
    assert fn.async_invocations("SUCCESS") == requests


NOTIFY = """
def handler(event, context):
    context = event["request_context"]
    return {"got": context["condition"], "from": context["request_id"]}
"""


def test_a_functiongraph_destination_wired_to_another_emulator_invokes_it(emulate, tmp_path,
                                                                          isolation):
    (tmp_path / "notify").mkdir()
    (tmp_path / "notify" / "index.py").write_text(NOTIFY)
    with FunctionEmulator(FunctionConfig(code_root=tmp_path / "notify",
                                         isolation=isolation)) as notify:
        to_notify = {"destination": "FunctionGraph",
                     "param": json.dumps({"func_urn": notify.function_urn})}
        fn = emulate(destination_config={"on_failure": to_notify}, max_async_retry_attempts=0)
        fn.wire(notify)
        fn.faults.handler.raises(ValueError("bad"), times=1)
        request = fn.invoke_async({})
        fn.drain()
        [forwarded] = notify.async_invocations()
        assert forwarded.event == fn.destinations[0].record  # (the record is its event, A26)
        notify.drain()
        assert forwarded.result == {"got": "UnhandledInvocationError",
                                    "from": request.request_id}


def test_a_loop_of_wired_destinations_is_refused(emulate):
    first, second = emulate(), emulate()
    first.wire(second)
    with pytest.raises(ValueError, match="loop of destinations"):
        second.wire(first)
