"""Terraform: a function's asynchronous invocation configuration (A43, A44) → the async keys.
[test process]

``huaweicloud_fgs_async_invoke_configuration`` (or OTC's ``opentelekomcloud_fgs_async_invoke_
config_v2``) names its function by ``function_urn``, nearly always a reference to the function
resource (``huaweicloud_fgs_function.thumbs.urn``). The one that refers to the function being
read, in any ``.tf`` file of its folder, gives ``max_async_event_age_in_seconds``,
``max_async_retry_attempts`` and ``destination_config`` (its ``on_success`` and ``on_failure``
blocks).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import FunctionConfigError
from .common import parsed
from .hcl_eval import Scope, unquote

ASYNC_TYPES = ("huaweicloud_fgs_async_invoke_configuration",
               "opentelekomcloud_fgs_async_invoke_config_v2")
_NUMBERS = ("max_async_event_age_in_seconds", "max_async_retry_attempts")
Evaluate = Callable[[Any, Scope, str], Any]


def async_fields(path: Path, kind: str, name: str, scope: Scope, load: Callable[[Path], Any],
                 evaluate: Evaluate, skip: frozenset[str]) -> dict[str, Any]:
    """The async keys of function resource ``kind.name`` (none if no configuration names it)."""
    refers = re.compile(rf"\b{re.escape(kind)}\.{re.escape(name)}\.(urn|id)\b")
    found = [(tf, label, body) for tf in sorted(path.parent.glob("*.tf"))
             for label, body in _async_resources(parsed(tf, "hcl", load))
             if refers.search(str(body.get("function_urn", "")))]
    if not found:
        return {}
    if len(found) > 1:  # (the platform takes one per function: A19)
        shown = ", ".join(f"{label} in {tf.name}" for tf, label, _ in found)
        raise FunctionConfigError("config", f"{kind}.{name} has {len(found)} async "
                                            f"invoke configurations ({shown}); FunctionGraph "
                                            "takes one per function")
    tf, label, body = found[0]
    where = f"{str(tf)!r}, resource {label}"
    fields: dict[str, Any] = {}
    for key in _NUMBERS:
        if key not in skip and body.get(key) is not None:
            fields[key] = evaluate(body[key], scope, f"{where}, {key}")
    if "destination_config" not in skip:
        destinations = {on: _destination(body[on], scope, evaluate, f"{where}, {on}")
                        for on in ("on_success", "on_failure") if body.get(on)}
        if destinations:
            fields["destination_config"] = destinations
    return fields


def _async_resources(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(f"{unquote(kind)}.{unquote(name)}", body)
            for block in data.get("resource", []) for kind, named in block.items()
            if unquote(kind) in ASYNC_TYPES for name, body in named.items()
            if isinstance(body, dict)]


def _destination(blocks: Any, scope: Scope, evaluate: Evaluate, where: str) -> dict[str, Any]:
    block = blocks[0] if isinstance(blocks, list) and blocks else blocks
    if not isinstance(block, dict):
        raise FunctionConfigError("config", f"{where}: expected a block with destination "
                                            "and param")
    return {key: evaluate(block[key], scope, f"{where}, {key}")
            for key in ("destination", "param") if key in block}
