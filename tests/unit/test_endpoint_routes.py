"""Routing of the local endpoint: paths, URNs, qualifiers and projects (invoke-api.md, sections
1 and 2). Pure functions: no server."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from pytest_fginit._endpoint.routes import (
    FORBIDDEN,
    NO_ALIAS,
    NO_FUNCTION,
    NO_PROJECT_ID,
    NO_VERSION,
    NOT_FOUND,
    Route,
    check_qualifier,
    function_urn,
    parse_urn,
    route,
)

P = "0123456789abcdef0123456789abcdef"
URN = function_urn("cn-north-4", P, "default", "hello")


def path(urn: str = URN, tail: str = "invocations", project: str = P) -> str:
    return f"/v2/{project}/fgs/functions/{quote(urn, safe='')}/{tail}"


@pytest.mark.parametrize(("method", "tail", "operation"), [
    ("POST", "invocations", "invoke"), ("POST", "invocations-async", "invoke_async"),
    ("GET", "config", "show_config")])
def test_the_served_operations(method, tail, operation):
    assert route(method, path(tail=tail), P) == Route(operation, P, "default", "hello",
                                                      "latest")


def test_list_functions_with_a_query():
    assert route("GET", f"/v2/{P}/fgs/functions?maxitems=10", P) == Route("list_functions", P)


@pytest.mark.parametrize(("method", "raw"), [
    ("GET", "/"), ("GET", "/v2"), ("POST", f"/v2/{P}/fgs/functions"),
    ("GET", path()), ("DELETE", path(tail="config")), ("POST", path(tail="code")),
    ("GET", f"/v2/{P}/fgs/triggers/x"), ("GET", f"/v1/{P}/fgs/functions"),
    ("POST", path() + "/more"),
])
def test_anything_else_is_not_found(method, raw):
    assert route(method, raw, P) is NOT_FOUND


def test_another_project_is_forbidden_in_the_path_or_in_the_urn():
    assert route("POST", path(project="other"), P) is FORBIDDEN
    other = function_urn("cn-north-4", "other", "default", "hello")
    assert route("POST", path(urn=other), P) is FORBIDDEN


def test_a_client_without_a_project_id_is_told_so():
    assert route("POST", path(project="%7Bproject_id%7D"), P) is NO_PROJECT_ID
    assert "project ID" in NO_PROJECT_ID.message


@pytest.mark.parametrize("urn", ["", "hello", "urn:fss:r:p:function:default",
                                 "urn:fss:r:p:func:default:hello:latest",
                                 "urn:fss:r::function:default:hello",
                                 "urn:fss:r:p:function:default:hello:",
                                 "urn:fss:r:p:function:default:hello:latest:extra"])
def test_a_malformed_urn_is_an_unknown_function(urn):
    assert parse_urn(urn) is NO_FUNCTION


def test_a_urn_without_qualifier_is_latest():
    assert parse_urn(URN.rpartition(":")[0]) == (P, "default", "hello", "latest")


def test_only_latest_is_served():
    assert check_qualifier("latest") is None
    assert check_qualifier("v1") is NO_VERSION
    assert check_qualifier("!dev") is NO_ALIAS
