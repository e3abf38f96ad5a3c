"""Saved test events: a JSON file, or a Terraform test-event resource. [test process]

Terraform (reference, section 5, N5-N7): ``huaweicloud_fgs_function_event`` and OTC's
``opentelekomcloud_fgs_event_v2`` keep the event in ``content``, base64 of its JSON text. The
file is read by the deployment files' own reader (`_config_files`: python-hcl2, the folder's
variables and locals, `hcl_eval`), never by a second one. What that evaluator lacks and event
resources use is one call around the whole value, worked out here: ``base64encode(X)`` (the
event is X's text) and ``filebase64(P)`` (the event is the file P, relative to the ``.tf``
file's folder, as ``path.module`` makes it).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Any, Final

from .._config_files import split_name
from .._config_files.common import parsed
from .._config_files.hcl_eval import evaluate, unquote
from .._config_files.hcl_functions import HclError
from .._config_files.terraform import folder_scope, load_hcl
from ..errors import FunctionConfigError
from .checks import shown

EVENT_TYPES: Final = ("huaweicloud_fgs_function_event", "opentelekomcloud_fgs_event_v2")
"""The Terraform resources that hold a function's test event."""
_OUTER_CALL = re.compile(r"\$\{\s*(base64encode|filebase64)\s*\((.*)\)\s*\}", re.S)


def load(source: str | os.PathLike[str]) -> dict[str, Any]:
    """The event saved in ``source`` (see `pytest_fginit.events.load`)."""
    where = f"events.load({str(source)!r})"
    path, name = split_name(os.fspath(source))
    if not path.is_file():
        raise FileNotFoundError(f"{where}: {str(path)!r} is not a file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            if name is not None:
                raise ValueError(f"{where}: #{name} names a Terraform resource; a .json file "
                                 "is one event")
            return _event(path.read_text(encoding="utf-8"), where)
        if suffix == ".tf":
            return _from_terraform(path, name, where)
    except FunctionConfigError as exc:  # (the reader's: the file is not valid HCL...)
        raise ValueError(f"{where}: {str(exc).removeprefix(exc.field + ': ')}") from None
    raise ValueError(f"{where}: not a file this reads; allowed: an event's JSON (.json), a "
                     f"Terraform file (.tf) with {' or '.join(EVENT_TYPES)} resources")


def _event(text: str, where: str) -> dict[str, Any]:
    """N7 [assumption]: the platform requires JSON; the handler gets an object (T1)."""
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where}: the event is not valid JSON ({exc})") from None
    if not isinstance(event, dict):
        raise ValueError(f"{where}: the event is {type(event).__name__} {shown(event)}, "
                         "not a JSON object")
    return event


def _from_terraform(path: Path, name: str | None, where: str) -> dict[str, Any]:
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for block in parsed(path, "hcl", load_hcl).get("resource", []):
        for kind, named in block.items():
            if unquote(kind) in EVENT_TYPES:
                for label, body in named.items():
                    found[unquote(label)] = (unquote(kind), body)
    have = ", ".join(sorted(found)) or "none"
    if name is None and len(found) != 1:
        raise ValueError(f"{where}: the file has {len(found)} test-event resources "
                         f"({' or '.join(EVENT_TYPES)}): {have}; say which with "
                         f"'{path.name}#NAME'")
    if name is not None and name not in found:
        raise ValueError(f"{where}: no test-event resource {name!r}; the file has: {have}")
    label = name if name is not None else next(iter(found))
    kind, body = found[label]
    where = f"{where}, {kind}.{label}"
    if body.get("content") is None:
        raise ValueError(f"{where}: it has no content")
    return _event(_content_text(path, body["content"], where), where)


def _content_text(path: Path, raw: Any, where: str) -> str:
    """The event's JSON text from the resource's ``content`` (N5, N6)."""
    scope = folder_scope(path, ())
    outer = _OUTER_CALL.fullmatch(raw) if isinstance(raw, str) else None
    try:
        if outer is None:  # a literal or an expression giving the base64 text itself
            value = evaluate(raw, scope)
            if not isinstance(value, str):
                raise ValueError(f"{where}: content is {shown(value)}, not base64 text")
            return _decoded(value, where)
        inner = evaluate("${" + outer[2] + "}", scope)
    except HclError as exc:
        raise ValueError(f"{where}: cannot work out content: {exc}") from None
    if not isinstance(inner, str):
        raise ValueError(f"{where}: {outer[1]}() takes a string, not {shown(inner)}")
    if outer[1] == "base64encode":
        return inner
    target = Path(inner) if Path(inner).is_absolute() else path.parent / inner
    if not target.is_file():
        raise FileNotFoundError(f"{where}: filebase64({inner!r}): {str(target)!r} is not a "
                                "file")
    return _utf8(target.read_bytes(), where)


def _decoded(content: str, where: str) -> str:
    try:
        raw = base64.b64decode(content, validate=True)
    except binascii.Error:
        hint = (" (it looks like JSON: write base64encode(...) around it)"
                if content.lstrip()[:1] in ("{", "[") else "")
        raise ValueError(f"{where}: content is not base64 (N5: base64 of the event's JSON)"
                         f"{hint}") from None
    return _utf8(raw, where)


def _utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{where}: the event is not UTF-8 text") from None
