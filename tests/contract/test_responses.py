"""What the caller sees (the synchronous invoke API's response, the 6 MB limits) and what the
platform bills (GB-seconds, initializer time included), per request and per emulator (the
session's summary, a pytester session: tests/plugin/test_report.py)."""

from __future__ import annotations

import json

import pytest

from pytest_fginit import Billing

SIX_MB = 6291456

FUNCTION = """
import os
def init(context):
    print("initializing")
def handler(event, context):
    print("handling", event)
    if event == "fail":
        raise ValueError("no such item")
    if event == "huge":
        return "x" * (6 << 20)  # a 6 MB string: over the limit once quoted as JSON
    if isinstance(event, str) and len(event) > 100:
        return len(event)
    return {"item": event, "password": os.environ.get("DB_PASSWORD")}
"""


def test_a_request_body_over_6_mb_is_refused_before_any_instance(emulate):
    fn = emulate(index=FUNCTION)
    inv = fn.invoke("x" * SIX_MB)  # JSON adds two quotes: 6291458 bytes
    assert (inv.ok, inv.error.kind, inv.error.code) == (False, "request_too_large", "FSS.0413")
    assert fn.instances == [] and inv.init_attempts == [] and not inv.cold_start
    response = inv.to_api_response()
    assert response.status == 413
    assert response.body == {"error_code": "FSS.0413", "error_msg": inv.error.message}
    assert "6291458 bytes" in inv.error.message
    assert fn.invoke("x" * (SIX_MB - 2)).ok  # exactly 6 MB is allowed


def test_a_response_over_6_mb_is_4004_and_the_instance_stays(emulate):
    fn = emulate(index=FUNCTION)
    inv = fn.invoke("huge")
    assert (inv.error.kind, inv.error.code) == ("response_too_large", 4004)
    assert "6291458 bytes" in inv.error.message and inv.instance.state == "ready"
    assert fn.invoke("fine").cold_start is False


def test_a_successful_response_is_shaped_like_the_platforms(emulate):
    fn = emulate(index=FUNCTION, memory_size=256)
    inv = fn.invoke("book")
    response = inv.to_api_response()
    assert response.status == 200
    body = response.body
    assert body["request_id"] == inv.request_id and body["status"] == 200
    assert json.loads(body["result"]) == inv.result  # the result, as a string
    assert body["log"].startswith(f"Start invoke request '{inv.request_id}', version: latest\n")
    assert "initializing\n" in body["log"] and "handling book\n" in body["log"]
    assert body["log"].endswith(
        f"Finish invoke request '{inv.request_id}', duration: {round(inv.duration_ms, 3)}ms, "
        f"billing duration: {inv.billed_duration_ms}ms, memory used: "
        f"{inv.memory_used_mb or 0}MB, billing memory: 256MB")
    headers = response.headers
    assert headers["X-Cff-Request-Id"] == inv.request_id
    assert (headers["X-Func-Err-Code"], headers["X-Is-Func-Err"]) == ("0", "false")
    assert headers["X-CFF-Billing-Duration"] == str(inv.billed_duration_ms)
    summary = json.loads(headers["X-Cff-Invoke-Summary"])
    assert summary == {"duration": round(inv.duration_ms, 3),
                       "billingDuration": inv.billed_duration_ms, "memorySize": 256,
                       "memoryUsed": inv.memory_used_mb or 0}
    assert json.loads(response.text()) == body


def test_a_function_error_is_in_the_headers_and_the_result(emulate):
    fn = emulate(index=FUNCTION)
    response = fn.invoke("fail").to_api_response()
    assert (response.headers["X-Func-Err-Code"], response.headers["X-Is-Func-Err"]) == (
        "4002", "true")
    error = json.loads(response.body["result"])
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "function invocation exception, error: no such item"
    assert any("raise ValueError" in line for line in error["stackTrace"])


def test_a_responses_repr_masks_secrets(emulate):
    fn = emulate(index=FUNCTION, encrypted_user_data={"DB_PASSWORD": "s3cret-pw"})
    inv = fn.invoke({"echo": "s3cret-pw"})
    assert "s3cret-pw" in inv.to_api_response().body["result"]  # what the caller gets
    assert "s3cret-pw" not in repr(inv.to_api_response())


def test_billing_is_memory_times_billed_time_initializer_included(emulate):
    fn = emulate(index="""
import time
def init(context):
    time.sleep(2)
def handler(event, context):
    time.sleep(0.5)
""", memory_size=512, initializer_timeout=10)
    fn.faults.initializer.raises(ConnectionError("db down"))
    fn.faults.initializer.hangs()
    first, second = fn.invoke(), fn.invoke()
    # 0 s (raise) + 10 s (timeout) + 2 s (init) + 0.5 s (handler), at 0.5 GB
    assert 12_500 <= first.billed_duration_ms < 13_500  # (plus the real time code took)
    assert first.billed_gb_s == pytest.approx(0.5 * first.billed_duration_ms / 1000)
    assert second.billed_gb_s == pytest.approx(0.5 * second.billed_duration_ms / 1000)
    assert 500 <= second.billed_duration_ms < 1_000
    billing = fn.billing
    assert (billing.invocations, billing.instances, billing.cold_starts) == (2, 3, 1)
    assert (billing.init_failures, billing.init_timeouts) == (2, 1)
    assert billing.billed_duration_ms == first.billed_duration_ms + second.billed_duration_ms
    assert billing.gb_s == pytest.approx(first.billed_gb_s + second.billed_gb_s)
    assert billing + Billing() == billing


def test_the_limits_count_utf8_bytes_of_compact_json(emulate):
    fn = emulate(index=FUNCTION)
    assert fn.invoke("中" * 1_500_000).ok  # 4.5 MB in UTF-8 (9 MB as ASCII escapes)
    refused = fn.invoke("中" * 2_200_000)  # 6.6 MB
    assert refused.error.kind == "request_too_large" and "6600002 bytes" in refused.error.message
