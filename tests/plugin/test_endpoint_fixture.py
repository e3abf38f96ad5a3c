"""The ``fg_endpoint`` fixture in pytester sessions: a user's test invokes its ``fg_function``
through Huawei's real client, signatures checked; a client with a wrong key is refused."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]
pytest.importorskip("huaweicloudsdkfunctiongraph")

# (an installed package registers the plugin by its entry point; this tree may not be the one
# installed: naming the module is the same plugin, never registered twice)
PLUGIN = ("-p", "pytest_fginit.endpoint_plugin")

CALLER = """
import json

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkfunctiongraph.v2 import FunctionGraphClient, InvokeFunctionRequest

pytestmark = pytest.mark.fginit(code_root="fn", initializer_handler="index.init",
                                user_data={"DB_URL": "pg://db"})


def test_the_sdk_invokes_the_emulated_function(fg_endpoint, fg_function):
    answer = fg_endpoint.client().invoke_function(InvokeFunctionRequest(
        function_urn=fg_endpoint.function_urn(), x_cff_request_version="v1",
        body={"user": 7}))
    result = json.loads(answer.result)
    assert result == {"event": {"user": 7}, "handled": 1, "init_calls": 1, "db": "pg://db"}
    assert answer.request_id == fg_function.invocations[0].request_id
    assert fg_endpoint.url.startswith("http://127.0.0.1:")
    assert fg_endpoint.ak and fg_endpoint.sk


def test_a_client_with_a_wrong_secret_key_is_refused(fg_endpoint, fg_function):
    wrong = (FunctionGraphClient.new_builder()
             .with_credentials(BasicCredentials(fg_endpoint.ak, "wrong-key",
                                                fg_endpoint.project_id))
             .with_endpoint(fg_endpoint.url).build())
    with pytest.raises(ClientRequestException) as refused:
        wrong.invoke_function(InvokeFunctionRequest(function_urn=fg_endpoint.function_urn(),
                                                    body={}))
    assert (refused.value.status_code, refused.value.error_code) == (401, "APIGW.0301")
    assert fg_function.invocations == []


def test_the_secret_key_is_not_in_the_repr(fg_endpoint):
    assert fg_endpoint.sk not in repr(fg_endpoint)
"""


def test_a_users_test_calls_the_function_through_the_sdk(project):
    project.makepyfile(test_caller=textwrap.dedent(CALLER))
    result = project.runpytest(*PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_a_failing_test_shows_no_secret_key(project):
    project.makepyfile(test_caller=textwrap.dedent("""
        import pytest

        pytestmark = pytest.mark.fginit(code_root="fn")

        def test_fails(fg_endpoint):
            endpoint = fg_endpoint
            open("sk.txt", "w").write(endpoint.sk)
            assert endpoint is None, repr(endpoint)
    """))
    result = project.runpytest(*PLUGIN, "-p", "no:cacheprovider", "-l")
    result.assert_outcomes(failed=1)
    assert "signatures checked for AK" in result.stdout.str()
    assert (project.path / "sk.txt").read_text() not in result.stdout.str()


def test_the_plugin_given_twice_is_registered_once(project):
    project.makepyfile(test_one="def test_it(fg_endpoint):\n    assert fg_endpoint.url\n")
    project.makeini("[pytest]\nfginit_code_root = fn\n")
    result = project.runpytest_subprocess(*PLUGIN, *PLUGIN, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_serve_failing_with_l_shows_no_secret_key(project):
    project.makepyfile(test_busy=textwrap.dedent("""
        import socket

        from pytest_fginit import FunctionConfig, FunctionEmulator
        from pytest_fginit.endpoint import serve

        SECRET = "the-hidden-sk-" + "42"

        def test_busy_port():
            busy = socket.socket()
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            with FunctionEmulator(FunctionConfig(code_root="fn")) as fn:
                serve(fn, port=busy.getsockname()[1], ak="AK", sk=SECRET)
    """))
    result = project.runpytest("-l", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "Address already in use" in result.stdout.str()
    assert "the-hidden-sk-42" not in result.stdout.str()


LISTS_ASYNC = """
import pytest
from huaweicloudsdkfunctiongraph.v2 import (AsyncInvokeFunctionRequest,
                                            ListAsyncInvocationsRequest)

pytestmark = pytest.mark.fginit(code_root="fn")


def test_the_sdk_reads_the_times_of_async_requests(fg_endpoint, fg_function):
    client, urn = fg_endpoint.client(), fg_endpoint.function_urn()
    client.async_invoke_function(AsyncInvokeFunctionRequest(function_urn=urn, body={"n": 1}))
    fg_function.drain()
    listed = client.list_async_invocations(ListAsyncInvocationsRequest(function_urn=urn))
    (only,) = listed.invocations
    assert only.status == "SUCCESS"
    # (the SDK's model types start_time as a datetime, end_time as a str)
    assert only.start_time.year >= 2024
    assert only.end_time.startswith(str(only.start_time.year))
"""


@pytest.mark.parametrize("freeze", ["session", "emulator"])
def test_the_sdk_reads_list_async_invocations_times_under_the_freeze(project, freeze):
    # (the SDK imported at collection, before the freeze: its table of types saw the real
    # datetime class; freezegun's replaced one must still be recognised)
    project.makepyfile(test_lists=textwrap.dedent(LISTS_ASYNC))
    result = project.runpytest(*PLUGIN, "-p", "no:cacheprovider", "-o", f"fginit_freeze={freeze}")
    result.assert_outcomes(passed=1)
