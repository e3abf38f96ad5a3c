"""Serverless Devs' ``s.yaml`` (component ``fgs``, under ``props.function``) → raw
configuration keys. [test process]

YAML aliases are read with a budget: an alias repeats the node it names, so a few of them can
make a small file describe billions of values ("billion laughs"). A file whose aliases repeat
more than `ALIAS_BUDGET` nodes in all, or whose alias names a node it is inside, is refused,
naming the file, the key and the line; nothing else of the file is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FunctionConfigError
from .common import parsed, pick, take

_SERVERLESS_KEYS = {
    "functionName": "func_name", "runtime": "runtime", "handler": "handler",
    "timeout": "timeout", "memorySize": "memory_size", "initializerHandler":
    "initializer_handler", "initializerTimeout": "initializer_timeout",
    "environmentVariables": "user_data", "userData": "user_data",
    "preStopHandler": "pre_stop_handler", "preStopTimeout": "pre_stop_timeout",
    "concurrency": "max_instance_num", "concurrentNum": "concurrency_num",
}
ALIAS_BUDGET = 10_000
"""The nodes all of a file's aliases may repeat, in all."""


class _AliasRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _loader_class() -> type:
    import yaml

    class Loader(yaml.SafeLoader):
        """A safe loader that counts what aliases repeat, and refuses recursive ones."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.repeated = 0
            self.open_anchors: set[str] = set()
            self.keys: list[str] = []

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()  # type: ignore[no-untyped-call]
            key = getattr(index, "value", None)
            keys = [*self.keys, key] if isinstance(key, str) else self.keys
            where = (f"key {keys[-1][:40]!r}" if keys else "a value") + (
                f", line {event.start_mark.line + 1}")
            if isinstance(event, yaml.AliasEvent):
                if event.anchor in self.open_anchors:
                    raise _AliasRefused(f"{where}: the alias *{event.anchor[:40]} is inside "
                                        "the node it names")
                node = self.anchors.get(event.anchor)
                self.repeated += _size(node) if node is not None else 0
                if self.repeated > ALIAS_BUDGET:
                    raise _AliasRefused(f"{where}: aliases repeat more than {ALIAS_BUDGET} "
                                        "nodes in all; allowed: fewer (write the values out)")
                return super().compose_node(parent, index)
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                self.open_anchors.add(anchor)
            saved, self.keys = self.keys, keys
            try:
                return super().compose_node(parent, index)
            finally:
                self.open_anchors.discard(anchor)
                self.keys = saved

    return Loader


def _size(node: Any) -> int:
    """How many nodes ``node`` stands for (iterative; aliases inside count again)."""
    count, stack = 0, [node]
    while stack and count <= ALIAS_BUDGET:
        item = stack.pop()
        count += 1
        value = item.value
        if isinstance(value, list):
            for child in value:
                stack.extend(child if isinstance(child, tuple) else (child,))
    return count


def load_yaml(path: Path) -> Any:
    import yaml

    try:
        return yaml.load(path.read_text(), Loader=_loader_class())  # (a SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FunctionConfigError("config", f"{str(path)!r} is not valid YAML "
                                            f"({first[:120]})") from None
    except _AliasRefused as exc:
        raise FunctionConfigError("config", f"{str(path)!r}, {exc.message}") from None
    except RecursionError:
        raise FunctionConfigError("config", f"{str(path)!r}: nested too deeply to "
                                            "read") from None


def from_serverless(path: Path, resource: str | None, skip: frozenset[str]) -> dict[str, Any]:
    data = parsed(path, "yaml", load_yaml)
    # Serverless Devs 2 lists them under ``services``, 3 under ``resources``.
    if not isinstance(data, dict):
        raise FunctionConfigError("config", f"{str(path)!r}: an s.yaml is a mapping of "
                                            "services (or resources)")
    found: dict[str, Any] = {}
    for section in ("services", "resources"):
        services = data.get(section) or {}
        if not isinstance(services, dict):
            raise FunctionConfigError("config", f"{str(path)!r}: {section} must be a mapping "
                                                "of names to services")
        for name, service in services.items():
            props = service.get("props") if isinstance(service, dict) else None
            if isinstance(props, dict) and isinstance(props.get("function"), dict):
                found[str(name)] = service
    name = pick(path, "a service with props.function", found, resource)
    function = found[name]["props"]["function"]
    fields = take(function, _SERVERLESS_KEYS, skip, f"{str(path)!r}, service {name}")
    if "code_root" in skip:
        return fields
    code = function.get("code")
    if code is not None and not isinstance(code, dict):
        raise FunctionConfigError("config", f"{str(path)!r}: code must be a mapping with "
                                            "codeUri")
    code_uri = code.get("codeUri") if code is not None else None
    if code_uri is not None:
        if not isinstance(code_uri, str):
            raise FunctionConfigError("config", f"{str(path)!r}: code.codeUri must be a path")
        fields["code_root"] = path.parent / code_uri
    return fields
