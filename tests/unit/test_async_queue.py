"""The asynchronous queue's rules (A9-A17, A25, A34-A42), on a scripted clock and a scripted
send: no function code runs here (the emulator's tests run real code through it)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_fginit import FunctionConfig
from pytest_fginit._async_config import async_policy, parse_destination
from pytest_fginit._platform.async_queue import AsyncQueue
from pytest_fginit.async_records import AsyncInvocation
from pytest_fginit.errors import ERROR_CODES, FunctionConfigError, FunctionError
from pytest_fginit.records import Invocation

URN = "urn:fss:cn-north-4:0123456789abcdef0123456789abcdef:function:default:thumbs:latest"
SMN = {"destination": "SMN", "param": json.dumps({"topic_urn": "urn:smn:cn-north-4:p:done"})}
OBS = {"destination": "OBS", "param": {"bucket": "failures", "prefix": "/async/failed"}}


class Script:
    """A clock and a send whose attempts end as scripted: "ok", "error" or "throttled"."""

    def __init__(self, *outcomes: str, takes: float = 0.5) -> None:
        self.now = 0.0
        self.outcomes = list(outcomes)
        self.takes = takes
        self.batches: list[list[str]] = []
        self.starts: list[float] = []

    def send(self, batch: list[AsyncInvocation]) -> list[Invocation]:
        self.batches.append([r.request_id for r in batch])
        self.starts.append(self.now)
        started = self.now
        self.now += self.takes
        return [self._invocation(r, started, self.outcomes.pop(0)) for r in batch]

    @staticmethod
    def _invocation(request: AsyncInvocation, started: float, outcome: str) -> Invocation:
        if outcome == "ok":
            return Invocation(request.request_id, request.event, started, ok=True,
                              result={"thumb": "t.png"}, duration_ms=500)
        kind = "throttled" if outcome == "throttled" else "handler_error"
        error = FunctionError(kind, ERROR_CODES[kind], "OSError", "disk full")  # type: ignore[arg-type]
        return Invocation(request.request_id, request.event, started, error=error,
                          duration_ms=500)


def queue(script: Script, room: int = 10, *, on_success: Any = None, on_failure: Any = None,
          **config: Any) -> AsyncQueue:
    destinations = {k: v for k, v in (("on_success", on_success), ("on_failure", on_failure))
                    if v is not None}
    policy = async_policy(**config, destination_config=destinations)
    return AsyncQueue(policy, function_urn=URN, room=lambda: room,
                      now=lambda: script.now, epoch_of=lambda s: 1_700_000_000 + s)


def drain(q: AsyncQueue, script: Script) -> None:
    while (due := q.next_due()) is not None:
        script.now = max(script.now, due)
        q.run_due(script.send)


def test_a_success_is_one_attempt_and_notifies_on_success():
    script = Script("ok")
    q = queue(script, on_success=SMN)
    request = q.accept({"key": "a.png"}, "r-1")
    assert request.status == "WAIT"
    drain(q, script)
    assert (request.status, len(request.attempts), request.result) == (
        "SUCCESS", 1, {"thumb": "t.png"})
    [delivery] = q.deliveries
    assert (delivery.destination, delivery.where, delivery.on) == (
        "SMN", "urn:smn:cn-north-4:p:done", "success")
    record = delivery.record
    assert record["request_context"] == {"request_id": "r-1", "function_urn": URN,
                                         "condition": "", "approximate_invoke_count": 0}
    assert record["request_payload"] == '{"key": "a.png"}'
    assert record["response_context"] == {"status_code": 200, "function_error": ""}
    assert json.loads(record["response_payload"]) == {"thumb": "t.png"}
    assert re.fullmatch(r"2023-11-14T22:13:20\.000000000\+00:00", record["timestamp"])


def test_without_an_async_configuration_a_failure_runs_once():
    script = Script("error", "ok")
    q = queue(script)
    request = q.accept({}, "r-1")
    drain(q, script)
    assert (request.status, len(request.attempts)) == ("FAIL", 1)
    assert request.error is not None and request.error.kind == "handler_error"
    assert q.deliveries == []  # (no destination configured: nothing is sent)


def test_failures_are_retried_after_60_then_120_seconds():
    script = Script("error", "error", "ok")
    q = queue(script, max_async_retry_attempts=2, on_success=SMN)
    request = q.accept({}, "r-1")
    drain(q, script)
    assert request.status == "SUCCESS"
    assert [a.started_at for a in request.attempts] == [0.0, 60.5, 181.0]
    assert request.notification is not None
    assert request.notification["request_context"]["approximate_invoke_count"] == 2


def test_the_last_failure_notifies_on_failure_once():
    script = Script("error", "error")
    q = queue(script, max_async_retry_attempts=1, on_failure=OBS)
    request = q.accept({"n": 1}, "r-9")
    drain(q, script)
    assert (request.status, len(request.attempts)) == ("FAIL", 2)
    [delivery] = q.deliveries
    assert (delivery.destination, delivery.where, delivery.on) == (
        "OBS", "async/failed/r-9.json", "failure")
    context = delivery.record["request_context"]
    assert (context["condition"], context["approximate_invoke_count"]) == (
        "UnhandledInvocationError", 1)
    assert delivery.record["response_context"]["status_code"] == 500
    payload = delivery.record["response_payload"]
    assert payload.startswith('{\n  "errorMessage": "function invocation exception, error: '
                              'disk full"')
    assert json.loads(payload)["errorType"] == "OSError"


def test_a_retry_that_would_start_past_the_event_age_is_not_run():
    script = Script("error", "error", "ok")
    q = queue(script, max_async_retry_attempts=3, max_async_event_age_in_seconds=100)
    request = q.accept({}, "r-1")
    drain(q, script)
    # (1st retry at 60.5 s is within 100 s; the 2nd would start at 181 s)
    assert (request.status, len(request.attempts)) == ("FAIL", 2)
    assert script.batches == [["r-1"], ["r-1"]]


def test_throttled_attempts_wait_1_2_4_seconds_are_not_retries_and_age_out_as_discard():
    script = Script(*["throttled"] * 20)
    q = queue(script, max_async_retry_attempts=0, max_async_event_age_in_seconds=20,
              on_failure=SMN)
    request = q.accept({}, "r-1")
    drain(q, script)
    assert (request.status, request.attempts, request.throttled) == ("DISCARD", [], 5)
    # (each attempt takes 0.5 s; the sixth would start at 17.5 + 16 s, past the age of 20 s)
    assert script.starts == [0.0, 1.5, 4.0, 8.5, 17.0]
    assert q.deliveries[0].record["request_context"]["condition"] == "EventAgeExceeded"
    assert q.deliveries[0].record["response_payload"] == ""


def test_a_request_too_old_when_its_turn_comes_is_discarded_without_running():
    script = Script()
    q = queue(script, max_async_event_age_in_seconds=60)
    request = q.accept({}, "r-1")
    script.now = 61.0
    assert q.run_due(script.send) == [request]
    assert (request.status, script.batches) == ("DISCARD", [])


def test_due_requests_run_first_in_first_out_as_many_as_there_is_room_for():
    script = Script(*["ok"] * 5)
    q = queue(script, room=2)
    for n in range(5):
        q.accept({"n": n}, f"r-{n}")
    drain(q, script)
    assert script.batches == [["r-0", "r-1"], ["r-2", "r-3"], ["r-4"]]
    assert [r.status for r in q.requests] == ["SUCCESS"] * 5


def test_a_result_over_256_kb_is_still_a_success_with_an_empty_payload():
    script = Script("ok")
    q = queue(script, on_success=SMN)
    request = q.accept({}, "r-1")

    def big(batch: list[AsyncInvocation]) -> list[Invocation]:
        return [Invocation("r-1", {}, 0.0, ok=True, result="x" * 262144)]

    q.run_due(big)
    assert request.status == "SUCCESS"
    assert q.deliveries[0].record["response_payload"] == ""


@pytest.mark.parametrize(("config", "field", "says"), [
    ({"max_async_event_age_in_seconds": 0}, "max_async_event_age_in_seconds", "from 1 to 86400"),
    ({"max_async_event_age_in_seconds": 86401}, "max_async_event_age_in_seconds", "86400"),
    ({"max_async_retry_attempts": 4}, "max_async_retry_attempts", "from 0 to 3"),
    ({"destination_config": {"on_succes": SMN}}, "destination_config", '{"on_success": '),
    ({"destination_config": {"on_success": {"destination": "RocketMQ", "param": "{}"}}},
     "destination_config.on_success", "OBS, SMN, DIS, FunctionGraph"),
    ({"destination_config": {"on_failure": {"destination": "SMN", "param": "{}"}}},
     "destination_config.on_failure", "missing topic_urn"),
    ({"destination_config": {"on_failure": {"destination": "SMN", "param": "{bad"}}},
     "destination_config.on_failure", "not valid JSON"),
    ({"destination_config": {"on_failure": {"destination": "OBS",
                                            "param": {"bucket": "b", "expires": 400}}}},
     "destination_config.on_failure", "from 0 to 365"),
    ({"destination_config": {"on_failure": "SMN"}}, "destination_config.on_failure",
     '{"destination": "OBS" | "SMN"'),
])
def test_bad_async_configuration_names_the_key_and_what_it_takes(tmp_path, config, field, says):
    (tmp_path / "index.py").write_text("def handler(event, context):\n    return 1\n")
    with pytest.raises(FunctionConfigError) as caught:
        FunctionConfig(code_root=tmp_path, **config)
    assert caught.value.field == field
    assert says in str(caught.value)


def test_a_destination_param_is_a_json_string_or_a_dict():
    as_text = parse_destination("async_on_success", SMN)
    param = {"topic_urn": "urn:smn:cn-north-4:p:done"}
    as_dict = parse_destination("async_on_success", {"destination": "SMN", "param": param})
    assert as_text == as_dict
