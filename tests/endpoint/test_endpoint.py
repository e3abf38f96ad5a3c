"""The local endpoint end to end: Huawei's real client against `serve()`, and raw HTTP for
what the client never sends (invoke-api.md, sections 1-7)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_fginit import FunctionConfig, FunctionEmulator
from pytest_fginit.endpoint import LocalEndpoint, serve

v2 = pytest.importorskip("huaweicloudsdkfunctiongraph.v2")
exceptions = pytest.importorskip("huaweicloudsdkcore.exceptions.exceptions")

AK, SK = "LOCALAK0123456789", "sk-for-tests-0123456789abcdef"
FUNCTION = """
import json, time

def init(context):
    print("init ran")

def handler(event, context):
    print("handling", json.dumps(event))
    if event.get("raise"):
        raise ValueError("boom")
    if event.get("show"):
        print("token:", context.getUserData("TOKEN"))
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"statusCode": 200, "body": json.dumps(event)}
"""


@pytest.fixture
def fn(code) -> Iterator[FunctionEmulator]:
    config = FunctionConfig(code_root=code(FUNCTION), initializer_handler="index.init",
                            encrypted_user_data={"TOKEN": "hush-hush-1234"})
    with FunctionEmulator(config) as emulator:
        yield emulator


@pytest.fixture
def endpoint(fn) -> Iterator[LocalEndpoint]:
    with serve(fn, ak=AK, sk=SK) as served:
        yield served


@pytest.fixture
def open_endpoint(fn) -> Iterator[LocalEndpoint]:
    """No AK/SK: any signature goes (raw requests need none)."""
    with serve(fn) as served:
        yield served


def invoke(endpoint: LocalEndpoint, body: Any, **headers: str) -> Any:
    return endpoint.client().invoke_function(v2.InvokeFunctionRequest(
        function_urn=endpoint.function_urn(), body=body, **headers))


def raw(endpoint: LocalEndpoint, method: str, path: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def invoke_path(endpoint: LocalEndpoint, tail: str = "invocations", urn: str | None = None
                ) -> str:
    from urllib.parse import quote
    urn = urn or endpoint.function_urn()
    return f"/v2/{endpoint.project_id}/fgs/functions/{quote(urn, safe='')}/{tail}"


def test_the_v1_envelope_with_the_log_tail(endpoint, fn):
    answer = invoke(endpoint, {"n": 1}, x_cff_request_version="v1", x_cff_log_type="tail")
    [invocation] = fn.invocations
    assert answer.status == 200
    assert json.loads(answer.result) == invocation.result
    assert answer.request_id == answer.x_cff_request_id == invocation.request_id
    assert f"Start invoke request '{invocation.request_id}'" in answer.log
    assert "init ran\nhandling {\"n\": 1}\n" in answer.log
    assert invocation.cold_start and invocation.event == {"n": 1}


def test_v0_answers_the_raw_result_as_the_platform_does_by_default(endpoint):
    answer = invoke(endpoint, {"n": 2})
    assert answer.result is None and answer.status is None  # (the SDK reads no envelope)
    assert json.loads(answer.raw_content)["body"] == '{"n": 2}'


def test_the_response_headers(open_endpoint, fn):
    response = raw(open_endpoint, "POST", invoke_path(open_endpoint), b'{"n": 3}',
                   {"X-Cff-Log-Type": "tail"})
    [invocation] = fn.invocations
    assert response.status == 200
    assert response.headers["X-Cff-Request-Id"] == invocation.request_id
    assert response.headers["X-Request-Id"] == invocation.request_id
    assert response.headers["X-Cff-Response-Version"] == "v0"
    assert response.headers["X-Func-Err-Code"] == "0"
    assert response.headers["X-Is-Func-Err"] == "false"
    summary = json.loads(response.headers["X-Cff-Invoke-Summary"])
    assert summary["memorySize"] == 128
    log = base64.b64decode(response.headers["X-Cff-Function-Log"]).decode()
    assert log.startswith("Start invoke request") and "handling" in log


def test_without_tail_no_log_is_sent(open_endpoint):
    response = raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{}",
                   {"X-CFF-Request-Version": "v1"})
    assert "X-Cff-Function-Log" not in response.headers


def test_a_handler_error_is_a_200_that_says_the_function_failed(endpoint):
    answer = invoke(endpoint, {"raise": True}, x_cff_request_version="v1")
    body = json.loads(answer.result)
    assert answer.status == 200
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "function invocation exception, error: boom"


@pytest.mark.parametrize(("fault", "error_code"), [("handler", 4010), ("initializer", 4211)])
def test_a_timeout_and_an_initializer_that_fails_answer_their_runtime_codes(open_endpoint, fn,
                                                                            fault, error_code):
    getattr(fn.faults, fault).hangs(times=4)  # (an initializer: first try and 3 retries)
    response = raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{}")
    assert response.status == 200
    assert response.headers["X-Func-Err-Code"] == str(error_code)
    assert response.headers["X-Is-Func-Err"] == "true"


def test_a_wrong_secret_key_is_refused_as_the_gateway_refuses_it(endpoint, fn):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    wrong = (v2.FunctionGraphClient.new_builder()
             .with_credentials(BasicCredentials(AK, "not-the-key", endpoint.project_id))
             .with_endpoint(endpoint.url).build())
    with pytest.raises(exceptions.ClientRequestException) as refused:
        wrong.invoke_function(v2.InvokeFunctionRequest(function_urn=endpoint.function_urn(),
                                                       body={}))
    assert refused.value.status_code == 401
    assert refused.value.error_code == "APIGW.0301"
    assert "verify aksk signature fail" in refused.value.error_msg
    assert refused.value.request_id  # (from X-Request-Id)
    assert fn.invocations == []  # (refused before the function)


def test_an_unsigned_request_is_refused_and_an_iam_token_is_taken_unchecked(endpoint):
    assert raw(endpoint, "POST", invoke_path(endpoint), b"{}").status == 401
    response = raw(endpoint, "POST", invoke_path(endpoint), b"{}", {"X-Auth-Token": "any"})
    assert response.status == 200


@pytest.mark.parametrize(("urn_tail", "status", "error_code"), [
    ("nobody:latest", 404, "FSS.1051"), ("fn:v1", 404, "FSS.1052"),
    ("fn:!dev", 404, "FSS.1053")])
def test_unknown_functions_versions_and_aliases(endpoint, urn_tail, status, error_code):
    urn = endpoint.function_urn().rpartition(":function:")[0] + ":function:default:" + urn_tail
    with pytest.raises(exceptions.ClientRequestException) as refused:
        endpoint.client().invoke_function(v2.InvokeFunctionRequest(function_urn=urn, body={}))
    assert (refused.value.status_code, refused.value.error_code) == (status, error_code)


def test_the_version_published_last_is_served_by_its_urn(endpoint, fn, code):
    base = endpoint.function_urn().rpartition(":")[0]
    fn.publish_version("v1")

    def status_of(qualifier: str) -> int:
        request = v2.InvokeFunctionRequest(function_urn=f"{base}:{qualifier}", body={"n": 1})
        try:
            return int(endpoint.client().invoke_function(request).status_code)
        except exceptions.ClientRequestException as refused:
            return int(refused.status_code)

    assert (fn.version, status_of("v1"), status_of("latest")) == ("v1", 200, 200)
    assert [i.version for i in fn.invocations] == ["v1", "v1"]
    tail = endpoint.client().invoke_function(v2.InvokeFunctionRequest(
        function_urn=f"{base}:v1", body={}, x_cff_request_version="v1", x_cff_log_type="tail"))
    assert "version: v1" in tail.log
    fn.publish_version("v2")
    assert (status_of("v1"), status_of("v2"), status_of("!prod")) == (404, 200, 404)


def test_async_invoke_is_queued_run_and_answered_202(endpoint, fn):
    answer = endpoint.client().async_invoke_function(v2.AsyncInvokeFunctionRequest(
        function_urn=endpoint.function_urn(), body={"n": 4}))
    [request] = fn.async_invocations()
    assert (answer.request_id, request.status) == (request.request_id, "SUCCESS")
    assert request.attempts == fn.invocations and request.attempts[0].ok


def test_show_config_and_list_functions(endpoint, fn):
    client = endpoint.client()
    config = client.show_function_config(v2.ShowFunctionConfigRequest(
        function_urn=endpoint.function_urn()))
    assert config.func_name == fn.config.func_name
    assert config.initializer_handler == "index.init" and config.timeout == 3
    assert config.func_urn == endpoint.function_urn().rpartition(":")[0]
    listed = client.list_functions(v2.ListFunctionsRequest(maxitems="10"))
    assert listed.count == 1 and listed.functions[0].func_name == fn.config.func_name


def test_bodies_over_the_limits_are_refused_unread(open_endpoint):
    for tail, size in (("invocations", 6291457), ("invocations-async", 262145)):
        connection = http.client.HTTPConnection(open_endpoint.host, open_endpoint.port,
                                                timeout=10)
        connection.putrequest("POST", invoke_path(open_endpoint, tail))
        connection.putheader("Content-Length", str(size))
        connection.endheaders()  # (no body sent: the answer comes before it)
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error_code"] == "FSS.0413"
        connection.close()


def test_malformed_json_unknown_paths_and_methods(open_endpoint):
    response = raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{not json")
    assert response.status == 400
    assert raw(open_endpoint, "GET", "/nowhere").status == 404
    assert raw(open_endpoint, "DELETE", invoke_path(open_endpoint, "config")).status == 404
    assert raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{}",
               {"Content-Length": "abc"}).status == 400


def test_a_malformed_request_or_a_client_gone_midway_leaves_the_server_serving(open_endpoint,
                                                                              fn):
    for garbage in (b"NOT HTTP\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"):
        with socket.create_connection((open_endpoint.host, open_endpoint.port)) as sock:
            sock.sendall(garbage)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(65536)
    assert raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{}").status == 200
    assert open_endpoint.internal_errors == []


def test_concurrent_requests_queue_one_at_a_time(endpoint, fn):
    answers: list[Any] = []

    def call() -> None:
        answers.append(invoke(endpoint, {"sleep": 1}, x_cff_request_version="v1"))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 8 and all(a.status == 200 for a in answers)
    assert len(fn.invocations) == 8
    assert len(fn.instances) == 1  # (queued: each finds the one instance idle)


def test_secrets_never_reach_a_response_a_repr_or_the_log(endpoint, fn):
    answer = invoke(endpoint, {"show": True}, x_cff_request_version="v1",
                    x_cff_log_type="tail")
    assert "token: " in answer.log and "hush-hush-1234" not in answer.log  # (masked)
    refused = raw(endpoint, "POST", invoke_path(endpoint), b"{}",
                  {"Authorization": f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=host, "
                                    "Signature=00"})
    assert refused.status == 401
    assert SK not in repr(endpoint) and SK not in str(refused.headers)
    assert endpoint.sk == SK  # (given to who asks for it: a test builds its own clients)


def test_closing_ends_the_server_thread_and_every_socket(fn):
    def descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    before_threads, before_fds = set(threading.enumerate()), descriptors()
    endpoint = serve(fn, ak=AK, sk=SK)
    invoke(endpoint, {})  # (the client keeps its connection open: keep-alive)
    idle = socket.create_connection((endpoint.host, endpoint.port))  # (one that never speaks)
    endpoint.close()
    idle.close()
    assert set(threading.enumerate()) - before_threads <= {
        t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor")}
    assert not any(t.name.startswith("fginit-endpoint") for t in threading.enumerate())
    with pytest.raises(OSError):
        socket.create_connection((endpoint.host, endpoint.port), timeout=1)
    # (the SDK client's own pooled socket may stay open on its side, until it is collected)
    assert descriptors() <= before_fds + 1


def test_a_chunked_body_and_a_closed_emulator_are_refused_not_crashed(open_endpoint, fn):
    response = raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{}",
                   {"Transfer-Encoding": "chunked"})
    assert response.status == 400
    fn.close()
    response = raw(open_endpoint, "POST", invoke_path(open_endpoint), b"{}")
    assert response.status == 503
    assert open_endpoint.internal_errors == []


def test_the_async_client_calls_both_invoke_apis(endpoint, fn):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials

    client = (v2.FunctionGraphAsyncClient.new_builder()
              .with_credentials(BasicCredentials(AK, SK, endpoint.project_id))
              .with_endpoint(endpoint.url).build())
    urn = endpoint.function_urn()
    synchronous = client.invoke_function_async(v2.InvokeFunctionRequest(
        function_urn=urn, x_cff_request_version="v1", body={"n": 1})).result()
    accepted = client.async_invoke_function_async(v2.AsyncInvokeFunctionRequest(
        function_urn=urn, body={"n": 2})).result()
    assert json.loads(synchronous.result)["body"] == '{"n": 1}'
    assert accepted.request_id == fn.async_invocations()[0].request_id == (
        fn.invocations[1].request_id)


def test_process_isolation_behind_the_endpoint(code):
    config = FunctionConfig(code_root=code(FUNCTION), isolation="process")
    with FunctionEmulator(config) as emulator, serve(emulator, ak=AK, sk=SK) as endpoint:
        answer = invoke(endpoint, {"raise": True}, x_cff_request_version="v1")
        assert json.loads(answer.result)["errorType"] == "ValueError"
        assert invoke(endpoint, {"n": 1}, x_cff_request_version="v1").status == 200


def test_many_connections_at_once_are_all_answered(open_endpoint, fn):
    sockets = [socket.create_connection((open_endpoint.host, open_endpoint.port))
               for _ in range(300)]
    request = (f"POST {invoke_path(open_endpoint)} HTTP/1.1\r\nHost: x\r\n"
               "Content-Length: 2\r\nConnection: close\r\n\r\n{}").encode()
    try:
        for sock in sockets:
            sock.sendall(request)
        statuses = []
        for sock in sockets:
            sock.settimeout(30)
            statuses.append(sock.makefile("rb").readline().split()[1])
    finally:
        for sock in sockets:
            sock.close()
    assert statuses == [b"200"] * 300
    assert len(fn.invocations) == 300


def test_the_skew_check_compares_with_the_emulators_clock(fn):
    from datetime import datetime, timedelta, timezone

    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    def signed_at(when: datetime) -> dict[str, str]:
        request = SdkRequest("POST", "http", f"{endpoint.host}:{endpoint.port}",
                             invoke_path(endpoint), query_params=[], body=b"{}",
                             header_params={"Content-Type": "application/json",
                                            "X-Sdk-Date": when.strftime("%Y%m%dT%H%M%SZ")})
        credentials = type("Keys", (), {"ak": AK, "sk": SK})()
        return dict(Signer(credentials).sign(request).header_params)

    with serve(fn, ak=AK, sk=SK, max_clock_skew_s=900) as endpoint:
        now = datetime.fromtimestamp(fn.now, timezone.utc)  # (the emulator's clock)
        fresh, stale = signed_at(now), signed_at(now - timedelta(hours=1))
        assert raw(endpoint, "POST", invoke_path(endpoint), b"{}", fresh).status == 200
        assert raw(endpoint, "POST", invoke_path(endpoint), b"{}", stale).status == 401
        fn.advance(3600)  # (an hour on: the fresh one is stale now, the stale one is late)
        assert raw(endpoint, "POST", invoke_path(endpoint), b"{}", fresh).status == 401
    with serve(fn, ak=AK, sk=SK) as endpoint:  # (off by default: any date)
        assert raw(endpoint, "POST", invoke_path(endpoint), b"{}", stale).status == 200


def _listed(endpoint: LocalEndpoint, query: str = "") -> dict[str, object]:
    # (raw HTTP: the SDK's client cannot parse the list's times in this process, where the
    # emulator's freeze replaces datetime.datetime: see the docs' known limit)
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=10)
    connection.request("GET", invoke_path(endpoint, "async-invocations") + query)
    response = connection.getresponse()
    assert response.status == 200
    return json.loads(response.read())


def test_list_async_invocations_shows_each_requests_status(open_endpoint, fn):
    client, urn = open_endpoint.client(), open_endpoint.function_urn()
    for body in ({"n": 1}, {"raise": True}):
        client.async_invoke_function(v2.AsyncInvokeFunctionRequest(function_urn=urn, body=body))
    listed = _listed(open_endpoint)
    assert (listed["count"], listed["next_marker"]) == (2, 2)
    ok, failed = listed["invocations"]
    assert (ok["status"], ok["error_code"], ok["error_message"]) == ("SUCCESS", 0, "")
    assert (failed["status"], failed["error_code"], failed["error_message"]) == (
        "FAIL", 4002, "boom")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", ok["start_time"])
    only = _listed(open_endpoint, "?status=FAIL&limit=1")
    assert [i["request_id"] for i in only["invocations"]] == [failed["request_id"]]


def test_list_async_invocations_refuses_a_bad_filter(open_endpoint):
    connection = http.client.HTTPConnection(open_endpoint.host, open_endpoint.port, timeout=10)
    connection.request("GET", invoke_path(open_endpoint, "async-invocations") + "?status=LOST")
    response = connection.getresponse()
    assert (response.status, json.loads(response.read())["error_code"]) == (400, "FSS.0400")
