"""The users API as its HTTP callers see it, through ``fg_function.http()``: the status,
headers and body API Gateway would send back."""

import pytest

pytestmark = pytest.mark.fginit(code_root="function", handler="index.handler",
                                initializer_handler="index.init")


def test_get_a_user(fg_function):
    response = fg_function.http("GET", "/users/7", path_params={"id": "7"})
    assert response.status == 200
    assert response.json() == {"id": "7", "name": "Ada"}
    assert response.headers["Content-Type"] == "application/json"


def test_create_then_read_a_user_on_the_same_warm_instance(fg_function):
    created = fg_function.http("POST", "/users", json={"name": "Grace"})
    assert (created.status, created.headers["Location"]) == (201, "/users/8")
    read = fg_function.http("GET", "/users/8", path_params={"id": "8"})
    assert read.json()["name"] == "Grace"
    assert not read.invocation.cold_start


@pytest.mark.parametrize("body", ["{not json", '{"nick": "x"}', "[]"])
def test_a_bad_body_is_a_400_not_a_500(fg_function, body):
    response = fg_function.http("POST", "/users", body=body)
    assert response.status == 400
    assert response.json() == {"error": "the body must be a JSON object with a name"}


def test_an_unknown_user_is_a_404(fg_function):
    assert fg_function.http("DELETE", "/users/99", path_params={"id": "99"}).status == 404


def test_a_bare_string_result_is_api_gateways_500(fg_function):
    response = fg_function.http("GET", "/users/7/name", path_params={"id": "7"})
    assert response.invocation.ok  # the function did not fail...
    assert response.status == 500  # ...but API Gateway cannot use what it returned
    assert "returned str 'Ada'" in response.reason


def test_a_crash_in_the_initializer_is_a_500_for_every_caller(fg_function):
    fg_function.faults.initializer.raises(RuntimeError("seed store down"), times=4)
    response = fg_function.http("GET", "/users/7", path_params={"id": "7"})
    assert response.status == 500
    assert response.invocation.error.kind == "init_failed"
