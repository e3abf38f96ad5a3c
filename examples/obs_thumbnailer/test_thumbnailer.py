"""The thumbnailer as OBS runs it: asynchronously, with retries and a failure destination
(main.tf), through pytest-fginit's queue on the virtual clock."""

import json

import pytest

from pytest_fginit import events

pytestmark = pytest.mark.fginit(config="main.tf", code_root="function")

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


def upload(bucket, key, data=PNG):
    (bucket / key).write_bytes(data)
    return events.obs(bucket="uploads", key=key, size=len(data), event_name="ObjectCreated:Put")


def test_a_burst_of_uploads_queues_on_one_instance_instead_of_being_throttled(fg_function,
                                                                              bucket):
    requests = [fg_function.invoke_async(upload(bucket, f"cat-{n}.png")) for n in range(5)]
    ended = fg_function.drain()
    assert [r.status for r in requests] == ["SUCCESS"] * 5
    assert ended == requests  # one by one, first in first out (max_instance_num = 1)
    assert len(fg_function.instances) == 1
    assert sorted(p.name for p in (bucket / "thumbs").iterdir()) == [
        f"cat-{n}.png" for n in range(5)]


def test_a_failed_attempt_is_retried_a_minute_later_and_succeeds(fg_function, bucket):
    fg_function.faults.handler.raises(ConnectionError("OBS read timed out"), times=1)
    request = fg_function.invoke_async(upload(bucket, "dog.png"))
    fg_function.drain()
    assert request.status == "SUCCESS"
    first, retry = request.attempts
    assert first.error.type == "ConnectionError"
    assert 60 <= retry.started_at - first.started_at < 61  # on the virtual clock
    assert fg_function.destinations == []  # only failures are reported (on_failure)


def test_a_broken_image_fails_three_times_and_reaches_the_failure_topic(fg_function, bucket):
    request = fg_function.invoke_async(upload(bucket, "broken.png", b"GIF89a"))
    fg_function.drain()
    assert (request.status, len(request.attempts)) == ("FAIL", 3)
    [delivery] = fg_function.destinations
    assert (delivery.destination, delivery.on) == ("SMN", "failure")
    assert delivery.where.endswith(":thumbnail-failed")
    record = delivery.record
    assert record["request_context"]["condition"] == "UnhandledInvocationError"
    assert record["request_context"]["approximate_invoke_count"] == 2
    assert json.loads(record["response_payload"])["errorMessage"].endswith(
        "broken.png is not a PNG image")


def test_the_same_event_delivered_twice_makes_one_thumbnail(fg_function, bucket):
    event = upload(bucket, "twice.png")
    first, second = fg_function.invoke_async(event), fg_function.invoke_async(event)
    fg_function.drain()
    assert first.result == {"made": ["twice.png"], "skipped": []}
    assert second.result == {"made": [], "skipped": ["twice.png"]}
    assert second.attempts[0].instance.module.STORE["made"] == 1


@pytest.mark.fginit(max_async_event_age_in_seconds=100)
def test_a_retry_that_would_start_past_the_event_age_is_not_run(fg_function, bucket):
    fg_function.faults.handler.raises(ConnectionError("OBS down"), times=2)
    request = fg_function.invoke_async(upload(bucket, "late.png"))
    fg_function.advance(0)  # the first attempt runs at once, and fails
    assert (request.status, len(request.attempts)) == ("WAIT", 1)
    fg_function.advance(100)  # the retry at +60 s fails; the next would start at +180 s
    assert (request.status, len(request.attempts)) == ("FAIL", 2)  # (a third never ran)
