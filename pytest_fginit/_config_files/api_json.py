"""The FunctionGraph API's function JSON (a ShowFunctionConfig answer or a CreateFunction
body) → raw configuration keys. [test process]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import FunctionConfigError
from .common import parsed, take

_API_KEYS = {
    "func_name": "func_name", "runtime": "runtime", "handler": "handler",
    "timeout": "timeout", "memory_size": "memory_size", "user_data": "user_data",
    "encrypted_user_data": "encrypted_user_data", "initializer_handler": "initializer_handler",
    "initializer_timeout": "initializer_timeout", "package": "package",
    "pre_stop_handler": "pre_stop_handler", "pre_stop_timeout": "pre_stop_timeout",
}
_API_STRATEGY_KEYS = {"concurrency": "max_instance_num", "concurrent_num": "concurrency_num"}
"""The keys of the API's ``strategy_config``."""
_UNSET = {"user_data": "", "encrypted_user_data": "", "initializer_handler": "",
          "initializer_timeout": 0, "pre_stop_handler": "", "pre_stop_timeout": 0}
"""What the API sends for a key that is not set (ShowFunctionConfig answers with these)."""


def load_json(path: Path) -> Any:
    """A JSON file's value; an error naming the file if it does not parse (or nests deeper
    than Python's parser goes)."""
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise FunctionConfigError("config", f"{str(path)!r} is not valid JSON ({exc})") from None
    except RecursionError:
        raise FunctionConfigError("config", f"{str(path)!r}: nested too deeply to "
                                            "read") from None


def from_api_json(path: Path, skip: frozenset[str]) -> dict[str, Any]:
    data = parsed(path, "json", load_json)
    if not isinstance(data, dict):
        raise FunctionConfigError("config", f"{str(path)!r}: a function's JSON is an object")
    fields = take(data, _API_KEYS, skip, repr(str(path)))
    strategy = data.get("strategy_config")
    if strategy is not None:
        if not isinstance(strategy, dict):
            raise FunctionConfigError("config", f"{str(path)!r}: strategy_config must be an "
                                                "object (concurrency, concurrent_num)")
        fields.update(take(strategy, _API_STRATEGY_KEYS, skip, f"{str(path)!r}, "
                                                               "strategy_config"))
    for key, unset in _UNSET.items():
        value = fields.get(key)
        if key in fields and (value == unset or (isinstance(value, str) and not value.strip())):
            del fields[key]
    return fields
