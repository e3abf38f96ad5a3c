"""An APIG-triggered function as its HTTP callers see it, in both isolation modes: the
function's response when it keeps the APIG contract, else the status API Gateway answers
(trigger-events reference, G4-G8)."""

from __future__ import annotations

import base64
import json

import pytest

from pytest_fginit import events

CRUD = """
import base64, json

USERS = {"7": {"name": "Ada"}}

def init(context):
    pass

def handler(event, context):
    raw = event["body"]
    body = base64.b64decode(raw).decode() if event["isBase64Encoded"] else raw
    if event["httpMethod"] == "POST":
        try:
            user = json.loads(body)
        except ValueError:
            return {"statusCode": 400, "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"error": "body is not JSON"}), "isBase64Encoded": False}
        USERS[user["id"]] = user
        return {"statusCode": 201, "headers": {"Location": "/users/" + user["id"]},
                "body": "", "isBase64Encoded": False}
    if event["path"] == "/bare":
        return "hello"
    if event["path"] == "/png":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG").decode(), "isBase64Encoded": True}
    if event["path"] == "/boom":
        raise RuntimeError("database gone")
    user = USERS.get(event["pathParameters"].get("id", ""))
    return {"statusCode": 200 if user else 404, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(user or {}), "isBase64Encoded": False}
"""


def test_a_good_request_gets_the_functions_response(emulate):
    fn = emulate(CRUD)
    response = fn.http("GET", "/users/7", path_params={"id": "7"})
    assert (response.status, response.json(), response.reason) == (200, {"name": "Ada"}, None)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"]  # (G7: the one header APIG adds)
    assert response.invocation.ok and response.invocation is fn.invocations[-1]


def test_a_bad_body_is_the_functions_400_not_a_500(emulate):
    fn = emulate(CRUD)
    response = fn.http("POST", "/users", body="{not json")
    assert (response.status, response.json()) == (400, {"error": "body is not JSON"})
    created = fn.http("POST", "/users", json={"id": "8", "name": "Bo"})
    assert (created.status, created.headers["Location"], created.body) == (201, "/users/8", b"")


def test_a_base64_body_reaches_the_caller_decoded(emulate):
    assert emulate(CRUD).http("GET", "/png").body == b"\x89PNG"


def test_a_result_that_breaks_the_contract_is_apigs_500_with_the_reason(emulate):
    fn = emulate(CRUD)
    response = fn.http("GET", "/bare")
    assert response.status == 500 and response.invocation.ok  # (the function did not fail)
    assert response.reason == ("the function returned str 'hello', not an object with "
                               "statusCode, headers, body and isBase64Encoded")
    assert response.json() == {"error_code": "FGINIT.APIG_RESPONSE", "error_msg": response.reason}


def test_a_function_error_is_500_and_a_timeout_504(emulate):
    fn = emulate(CRUD)
    failed = fn.http("GET", "/boom")
    assert failed.status == 500
    assert failed.json()["error_code"] == "FGINIT.APIG_FUNCTION_ERROR"
    assert "database gone" in failed.reason
    fn.faults.handler.hangs()
    assert fn.http("GET", "/users/7", path_params={"id": "7"}).status == 504


def test_any_invocation_sent_with_an_apig_event_has_the_same_view(emulate):
    fn = emulate(CRUD)
    invocation = fn.invoke(events.apig("GET", "/users/7", path_params={"id": "7"}))
    assert invocation.http_response().json() == {"name": "Ada"}


@pytest.mark.inprocess_only("argument checks: no code runs")
def test_http_arguments_are_checked(emulate):
    fn = emulate(CRUD)
    with pytest.raises(TypeError, match=r"give body .* or json .*, not both"):
        fn.http("POST", "/users", body="a", json={"a": 1})
    with pytest.raises(TypeError, match="body must be bytes or str"):
        fn.http("POST", "/users", body={"a": 1})
    with pytest.raises(TypeError, match=r"events\.apig\(\): body"):
        fn.http("POST", "/users", json=object())
    with pytest.raises(ValueError, match="method"):
        fn.http("FETCH", "/users")
    assert json.loads(base64.b64decode(events.apig("POST", "/u", body=b'{"a": 1}')["body"])) == {
        "a": 1}
