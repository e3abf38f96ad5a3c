"""Terraform: a function resource (`FUNCTION_TYPES`) → raw configuration keys. [test process]

The file is parsed with python-hcl2. Values are worked out by `hcl_eval`, with the folder's
``variable`` defaults and ``locals`` blocks, and the variable files Terraform loads on its own
(``terraform.tfvars``, ``terraform.tfvars.json``, then ``*.auto.tfvars`` and
``*.auto.tfvars.json`` in lexical order), then the ones named, each later one winning. Only the
keys the emulator uses and the caller does not give are worked out: an expression anywhere
else may be anything.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import FunctionConfigError
from .api_json import load_json
from .common import MAX_DEPTH, Raw, excerpt, parsed, persisted, pick
from .hcl_eval import Scope, evaluate, unquote
from .hcl_functions import HclError
from .terraform_async import async_fields

FUNCTION_TYPES = ("huaweicloud_fgs_function", "huaweicloud_fgs_function_v2",
                  "opentelekomcloud_fgs_function_v2", "flexibleengine_fgs_function_v2")
"""The function resources read, all with the same field names (the FunctionGraph API's)."""
_KEYS = {
    "name": "func_name", "runtime": "runtime", "handler": "handler", "timeout": "timeout",
    "memory_size": "memory_size", "user_data": "user_data",
    "encrypted_user_data": "encrypted_user_data", "initializer_handler": "initializer_handler",
    "initializer_timeout": "initializer_timeout", "app": "package",
    "pre_stop_handler": "pre_stop_handler", "pre_stop_timeout": "pre_stop_timeout",
    "max_instance_num": "max_instance_num", "concurrency_num": "concurrency_num",
    "reserved_instances": "reserved_instances",
}
_WHOLE_NUMBERS = ("timeout", "memory_size", "initializer_timeout", "pre_stop_timeout",
                  "max_instance_num", "concurrency_num")


@functools.cache
def _hcl2_version() -> str:
    """python-hcl2's version, read from its ``version.py`` without importing it (importing
    hcl2 is what a stored parse saves; ``importlib.metadata`` takes 30 ms to find it)."""
    spec = importlib.util.find_spec("hcl2")
    if spec is not None and spec.origin:
        version_file = Path(spec.origin).parent / "version.py"
        with contextlib.suppress(OSError):
            return f"{version_file.parent}: {version_file.read_text()}"
    return importlib.metadata.version("python-hcl2")


def _parse_hcl(path: Path) -> dict[str, Any]:
    import hcl2
    from lark.exceptions import LarkError

    try:
        with path.open() as file:
            data: dict[str, Any] = hcl2.load(file)
    except (LarkError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, RecursionError) or isinstance(exc.__context__, RecursionError):
            raise FunctionConfigError("config", f"{str(path)!r}{_deepest(path)}: nested too "
                                                "deeply for python-hcl2 to parse") from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FunctionConfigError("config", f"{str(path)!r} is not valid HCL "
                                            f"({first_line[:120]})") from None
    return data


load_hcl = persisted(_parse_hcl, _hcl2_version)
"""A ``.tf`` or ``.tfvars`` file's blocks, as python-hcl2 gives them (kept between sessions
when a store is in use: python-hcl2 is slow)."""


def _deepest(path: Path) -> str:
    """``", line N (key)"``: where brackets first nest past `MAX_DEPTH` (a rough count,
    strings not told apart: for the error only)."""
    depth = 0
    key = "?"
    for number, line in enumerate(path.read_text().splitlines(), 1):
        assignment = re.match(r"\s*([A-Za-z_][\w-]*)\s*=", line)
        key = assignment[1] if assignment and depth <= 1 else key
        for char in line:
            depth += (char in "{[(") - (char in "}])")
            if depth > MAX_DEPTH:
                return f", line {number} ({key})"
    return ""


def from_terraform(path: Path, resource: str | None, var_files: Iterable[Path],
                   skip: frozenset[str]) -> dict[str, Any]:
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for block in parsed(path, "hcl", load_hcl).get("resource", []):
        for kind, named in block.items():
            if unquote(kind) in FUNCTION_TYPES:
                for name, body in named.items():
                    found[unquote(name)] = (unquote(kind), body)
    kinds = sorted({kind for kind, _ in found.values()}) or FUNCTION_TYPES
    name = pick(path, f"{', '.join(kinds)} resources", found, resource)
    kind, body = found[name]
    scope = folder_scope(path, var_files)
    fields: dict[str, Any] = {}
    for attribute, key in _KEYS.items():
        if key in skip:
            continue
        where = f"{str(path)!r}, resource {kind}.{name}, {attribute}"
        if key == "reserved_instances":  # blocks, one per version or alias: their counts add up
            blocks = _reserved_blocks(body, scope, where)
            if blocks is not None:
                fields[key] = _reserved_count(blocks, scope, where)
        elif attribute in body and body[attribute] is not None:
            value = _evaluate(body[attribute], scope, where)
            if value is not None:
                fields[key] = _whole(value, where) if key in _WHOLE_NUMBERS else value
    fields.update(async_fields(path, kind, name, scope, load_hcl, _evaluate_whole, skip))
    return fields


def _evaluate_whole(raw: Any, scope: Scope, where: str) -> Any:
    return _whole(_evaluate(raw, scope, where), where)


def _evaluate(raw: Any, scope: Scope, where: str) -> Any:
    try:
        return evaluate(raw, scope)
    except HclError as exc:
        shown = excerpt(raw)
        shown = shown[1:-1] if shown[:1] in "'\"" and shown[-1:] == shown[:1] else shown
        raise FunctionConfigError("config", f"{where}: cannot work out {shown}: {exc}") from None


def _whole(value: Any, where: str) -> Any:
    """A whole-number key's value: Terraform converts ``"30"`` to a number (the provider even
    types max_instance_num a string) and ``1e3`` is 1000."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise FunctionConfigError("config", f"{where}: {value!r} is not a whole number")
        return int(value)
    return value


def _reserved_blocks(body: Mapping[str, Any], scope: Scope, where: str) -> list[Any] | None:
    """The ``reserved_instances`` blocks, those of ``dynamic "reserved_instances"`` blocks
    included (worked out here, or refused: never silently none)."""
    blocks = body.get("reserved_instances")
    if isinstance(blocks, dict):
        blocks = [blocks]
    if blocks is not None and not isinstance(blocks, list):
        raise FunctionConfigError("config", f"{where}: expected reserved_instances blocks "
                                            "with a count")
    dynamic = [spec for block in body.get("dynamic", []) if isinstance(block, dict)
               for label, spec in block.items() if unquote(label) == "reserved_instances"]
    if blocks is None and not dynamic:
        return None
    result: list[Any] = list(blocks or [])
    for spec in dynamic:
        result += _expand_dynamic(spec, scope, f"{where} (dynamic)")
    return result


def _expand_dynamic(spec: Any, scope: Scope, where: str) -> list[tuple[Scope, Any]]:
    """A dynamic block's contents, each with the scope its iterator is set in."""
    if not isinstance(spec, dict) or "for_each" not in spec or "content" not in spec:
        raise FunctionConfigError("config", f"{where}: expected for_each and a content block")
    items = _evaluate(spec["for_each"], scope, f"{where}, for_each")
    if isinstance(items, list):
        pairs = list(enumerate(items))
    elif isinstance(items, dict):
        pairs = list(items.items())
    else:
        raise FunctionConfigError("config", f"{where}, for_each: {excerpt(items)} is not a "
                                            "list or an object")
    iterator = unquote(str(spec.get("iterator", "reserved_instances")))
    iterator = iterator[2:-1] if iterator.startswith("${") else iterator
    contents = spec["content"] if isinstance(spec["content"], list) else [spec["content"]]
    return [(scope.with_iterator(iterator, key, value), content)
            for key, value in pairs for content in contents]


def _reserved_count(blocks: list[Any], scope: Scope, where: str) -> int:
    """The instances the ``reserved_instances { count = N ... }`` blocks reserve, in all."""
    total = 0
    for block in blocks:
        block_scope, block = block if isinstance(block, tuple) else (scope, block)
        if not isinstance(block, dict):
            raise FunctionConfigError("config", f"{where}: expected reserved_instances blocks "
                                                "with a count")
        count = _whole(_evaluate(block.get("count", 0), block_scope, f"{where}, count"), where)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FunctionConfigError("config", f"{where}: count {excerpt(count)} is not a "
                                                "whole number >= 0")
        total += count
    return total


# --- the folder: variables, locals, variable files -------------------------------------------

def folder_scope(path: Path, var_files: Iterable[Path]) -> Scope:
    """What ``var.x``, ``local.x`` and ``path.module`` mean for ``path``'s module."""
    folder = path.parent
    variables: dict[str, Raw] = {}
    local_values: dict[str, Raw] = {}
    for tf in sorted(folder.glob("*.tf")):
        data = parsed(tf, "hcl", load_hcl)
        for block in data.get("variable", []):
            for name, body in block.items():
                if isinstance(body, dict) and "default" in body:
                    variables[unquote(name)] = Raw(f"{str(tf)!r}, variable {unquote(name)}",
                                                   body["default"])
        for block in data.get("locals", []):
            for name, raw in block.items():
                if not name.startswith("__"):
                    local_values[name] = Raw(f"{str(tf)!r}, local.{name}", raw)
    named = [Path(f) for f in var_files]
    for var_file in [*_auto_loaded(folder), *named]:
        variables.update(_var_file(var_file))
    return Scope(variables, local_values, str(folder), _unset_hint(folder, named))


def _auto_loaded(folder: Path) -> list[Path]:
    """The variable files Terraform loads without being told, in its order."""
    first = [folder / "terraform.tfvars", folder / "terraform.tfvars.json"]
    auto = sorted([*folder.glob("*.auto.tfvars"), *folder.glob("*.auto.tfvars.json")],
                  key=lambda p: p.name)
    return [p for p in first if p.is_file()] + auto


def _var_file(path: Path) -> dict[str, Raw]:
    if not path.is_file():
        raise FunctionConfigError("config_var_files", f"{str(path)!r} is not a file")
    if path.name.endswith(".json"):
        data = parsed(path, "json", load_json)
        if not isinstance(data, dict):
            raise FunctionConfigError("config_var_files", f"{str(path)!r}: a .tfvars.json "
                                                          "file is an object")
        return {name: Raw(f"{str(path)!r}, {name}", value, literal=True)
                for name, value in data.items()}
    return {name: Raw(f"{str(path)!r}, {name}", value)
            for name, value in parsed(path, "hcl", load_hcl).items() if not name.startswith("__")}


def _unset_hint(folder: Path, named: list[Path]) -> str:
    """For ``var.x`` set nowhere: the folder's variable files Terraform does not load by
    itself, and that were not named."""
    loaded = {p.resolve() for p in [*_auto_loaded(folder), *named] if p.exists()}
    others = sorted(p.name for p in [*folder.glob("*.tfvars"), *folder.glob("*.tfvars.json")]
                    if p.resolve() not in loaded)
    if not others:
        return ""
    return (f" ({', '.join(others)} in the folder is not loaded on its own, as in Terraform: "
            "name it with config_var_files)")
