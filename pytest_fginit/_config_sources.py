"""Where keys come from besides the caller: a deployment file's keys (and its variable
files), and ``user_data_update``, each value checked the way `FunctionConfig` checks it.
[test process]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._config_checks import CHECKS, normalize_field
from .errors import FunctionConfigError


def check_user_data_update(value: Any) -> dict[str, str]:
    """A ``user_data_update`` value (a dict, or its JSON text) checked like ``user_data``."""
    checked: dict[str, str] = CHECKS["user_data"]("user_data_update", value)
    return checked


def with_user_data_update(fields: Mapping[str, Any],
                          update: Mapping[str, str]) -> dict[str, Any]:
    """``fields`` with ``update`` merged into their ``user_data`` (the last layer: it wins
    over whichever layer set ``user_data``)."""
    if not update:
        return dict(fields)
    return {**fields, "user_data": {**(fields.get("user_data") or {}), **update}}


_parse_store: list[Any] = []  # (at most one: the running session's pytest cache)


def keep_parsed_files_in(store: Any) -> None:
    """Slow parses of deployment files are kept in ``store`` (pytest's ``config.cache``)
    between sessions from now on; ``None``: in memory, for this session only."""
    _parse_store[:] = [] if store is None else [store]


def fields_from_file(path: str | Path, resource: str | None = None, *,
                     var_files: Iterable[str | Path] = (),
                     overridden: Iterable[str] = ()) -> dict[str, Any]:
    """The keys a deployment file gives (``path#name`` picks a function by name), each
    checked and normalised, but for the ``overridden`` ones (left out, never worked out); an
    error names the key and the file, and quotes at most a short excerpt of a value."""
    # (Imported here: the file parsers load PyYAML and python-hcl2, which most runs never need.)
    from ._config_files import read_deployment, split_name, use_store

    use_store(_parse_store[0] if _parse_store else None)
    shown_path = str(split_name(path, resource)[0])
    fields = read_deployment(path, resource, var_files=var_files, overridden=overridden)
    for key, value in fields.items():
        try:
            fields[key] = normalize_field(key, value)
        except FunctionConfigError as exc:
            message = str(exc).partition(": ")[2]  # (the key's name comes first)
            if len(message) > 200:  # a long value quoted whole: show its start only
                message = message.replace(repr(value), repr(value)[:77] + "...")[:300]
            raise FunctionConfigError(key, f"{message} (read from {shown_path!r})") from None
    return fields


def var_files_from_text(base: Path, text: str) -> list[Path]:
    """``config_var_files`` as ini or command-line text: paths separated by commas or new
    lines, relative to ``base``."""
    return [base / part.strip() for line in text.splitlines() for part in line.split(",")
            if part.strip()]


def var_files_from_marker(base: Path, value: Any) -> list[Path]:
    """``config_var_files`` as a marker gives it (a path or a list), relative to ``base``."""
    values = [value] if isinstance(value, (str, Path)) else value
    if not isinstance(values, (list, tuple)) or not all(
            isinstance(v, (str, Path)) for v in values):
        raise FunctionConfigError("config_var_files", f"{value!r} is not a path or a list "
                                                      "of paths")
    return [base / v for v in values]
