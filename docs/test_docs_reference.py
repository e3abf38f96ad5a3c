"""The reference pages stay in step with the code: configuration keys (configuration.md),
error codes (faults-and-errors.md), hooks (hooks.md), context methods (context.md)."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

from pytest_fginit import ERROR_CODES, Context, FunctionConfig, hooks
from pytest_fginit.config import field_help, field_kind, field_names
from pytest_fginit.plugin import PLUGIN_OPTIONS

DOCS_DIR = Path(__file__).resolve().parent


def page(name: str) -> str:
    return (DOCS_DIR / name).read_text(encoding="utf-8")


CONFIGURATION = page("configuration.md")
FAULTS_AND_ERRORS = page("faults-and-errors.md")
HOOKS = page("hooks.md")
CONTEXT = page("context.md")

TYPE_NAMES = {
    "path": "path", "str": "str", "optional_str": "str or None", "int": "int",
    "optional_int": "int or None", "optional_float": "float or None", "bool": "bool",
    "dict": "dict",
}


def table_after(text: str, marker: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``marker`` in ``text``, header and rule
    skipped."""
    lines = text.split(marker, 1)[1].lstrip("\n").splitlines()
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[2:]


def table_under_heading(text: str, heading: str) -> list[list[str]]:
    section = text.split(f"\n{heading}\n", 1)[1]
    return table_after(section, section[: section.index("\n|")])


CONFIG_ROWS = {
    row[0].strip("`"): row for row in table_after(CONFIGURATION, "<!-- config-table -->")
}


def test_the_config_table_lists_every_key_in_order():
    assert list(CONFIG_ROWS) == [*field_names(), *PLUGIN_OPTIONS]


@pytest.mark.parametrize("name", [*field_names(), *PLUGIN_OPTIONS])
def test_a_config_rows_meaning_is_the_keys_help_text(name):
    help_text = PLUGIN_OPTIONS.get(name) or field_help(name)
    assert CONFIG_ROWS[name][4] == help_text


@pytest.mark.parametrize("name", field_names())
def test_a_config_rows_type_and_default_match_the_field(name):
    _, type_cell, default_cell, _, _ = CONFIG_ROWS[name]
    assert type_cell == TYPE_NAMES[field_kind(name)]
    f = {f.name: f for f in dataclasses.fields(FunctionConfig)}[name]
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if name == "code_root":
        expected = "(required)"
    elif isinstance(default, str):
        expected = f"`{default}`" if default else '`""`'
    elif isinstance(default, dict):
        expected = "`{}`"
    else:
        expected = str(default)
    assert default_cell.startswith(expected)


def test_the_error_table_matches_the_codes():
    rows = table_under_heading(FAULTS_AND_ERRORS, "## Errors")
    documented = {row[0].strip("`"): row[1].strip("`") for row in rows}
    assert documented == {kind: str(code) for kind, code in ERROR_CODES.items()}


def test_the_hook_table_lists_every_hook():
    rows = table_under_heading(HOOKS, "## Hooks")
    documented = [re.match(r"`(\w+)\(", row[0]).group(1) for row in rows]
    specs = [name for name, _ in inspect.getmembers(hooks, inspect.isfunction)
             if name.startswith("pytest_fginit_")]
    assert sorted(documented) == sorted(specs)


@pytest.mark.parametrize(
    "method",
    [name for name, _ in inspect.getmembers(Context, inspect.isfunction)
     if name.startswith("get")],
)
def test_every_context_method_is_documented(method):
    assert f"`{method}(" in CONTEXT
