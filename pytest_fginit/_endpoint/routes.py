"""Which operation a request asks for, and of which function: paths and URNs
(invoke-api.md, sections 1 and 2). Pure: no I/O, no emulator. [test process]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

Operation = Literal["invoke", "invoke_async", "show_config", "list_functions", "list_async"]

_BY_TAIL: dict[tuple[str, str], Operation] = {
    ("POST", "invocations"): "invoke",
    ("POST", "invocations-async"): "invoke_async",
    ("GET", "config"): "show_config",
    ("GET", "async-invocations"): "list_async",
}


@dataclass(frozen=True)
class ApiError:
    """A refusal the platform answers itself: HTTP status and its error body's fields."""

    status: int
    code: str
    message: str


NOT_FOUND = ApiError(404, "FSS.0404", "The specified resource was not found.")
NO_FUNCTION = ApiError(404, "FSS.1051", "The function does not exist.")
NO_VERSION = ApiError(404, "FSS.1052", "The function version does not exist.")
NO_ALIAS = ApiError(404, "FSS.1053", "The alias does not exist.")
FORBIDDEN = ApiError(403, "FSS.0403", "Forbidden")
NO_PROJECT_ID = ApiError(
    400, "FSS.0400", "Invalid parameter. The path has no project ID ({project_id}): give the "
    "client's credentials one, BasicCredentials(ak, sk, project_id)")


@dataclass(frozen=True)
class Route:
    operation: Operation
    project_id: str
    package: str = ""
    name: str = ""
    qualifier: str = "latest"
    query: str = ""  # (the raw query string: ListAsyncInvocations' filters)


def route(method: str, raw_path: str, project_id: str) -> Route | ApiError:
    """The operation ``method raw_path`` asks for, on the endpoint's ``project_id``.

    [assumption] (reference I5, I8) any other method or path is 404 ``FSS.0404``; a project
    other than the endpoint's, in the path or in the URN, is 403; a URN without a qualifier
    invokes ``latest``."""
    path = raw_path.partition("?")[0]
    parts = path.split("/")  # (still encoded: the URN is one segment, its ':' as %3A)
    if len(parts) < 5 or parts[0] or parts[1] != "v2" or parts[3] != "fgs":
        return NOT_FOUND
    project = unquote(parts[2])
    rest = parts[4:]
    if rest == ["functions"] and method == "GET":
        return _checked_project(project, project_id) or Route("list_functions", project)
    if len(rest) != 3 or rest[0] != "functions" or (method, rest[2]) not in _BY_TAIL:
        return NOT_FOUND
    refused = _checked_project(project, project_id)
    if refused is not None:
        return refused
    urn = parse_urn(unquote(rest[1]))
    if isinstance(urn, ApiError):
        return urn
    urn_project, package, name, qualifier = urn
    if urn_project != project:
        return FORBIDDEN
    return Route(_BY_TAIL[(method, rest[2])], project, package, name, qualifier,
                 raw_path.partition("?")[2])


def _checked_project(project: str, project_id: str) -> ApiError | None:
    if project == "{project_id}":
        return NO_PROJECT_ID
    return None if project == project_id else FORBIDDEN


def parse_urn(urn: str) -> tuple[str, str, str, str] | ApiError:
    """``urn:fss:REGION:PROJECT:function:PACKAGE:NAME[:QUALIFIER]`` -> (project, package,
    name, qualifier)."""
    parts = urn.split(":")
    if len(parts) not in (7, 8) or parts[:2] != ["urn", "fss"] or parts[4] != "function":
        return NO_FUNCTION
    qualifier = parts[7] if len(parts) == 8 else "latest"
    if not all(parts[3:7]) or not qualifier:
        return NO_FUNCTION
    return parts[3], parts[5], parts[6], qualifier


def check_qualifier(qualifier: str, published: str = "latest") -> ApiError | None:
    """``latest`` and the version the emulator published last (``published``) are served.
    [assumption] the emulator runs one version at a time: a URN naming an older version, or an
    alias (``!name``), is refused as the platform refuses one that does not exist."""
    if qualifier in ("latest", published):
        return None
    return NO_ALIAS if qualifier.startswith("!") else NO_VERSION


def function_urn(region: str, project_id: str, package: str, name: str,
                 qualifier: str = "latest") -> str:
    """The URN a caller invokes (reference I6)."""
    return f"urn:fss:{region}:{project_id}:function:{package}:{name}:{qualifier}"
