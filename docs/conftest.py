"""Tested docs: every example in ``docs/*.md`` and ``docs/zh/*.md`` runs as a pytest item.

An example is written in the page like this::

    <!-- example: first-test -->
    ```python
    # test_first.py
    def test_it(): ...
    ```
    <!-- expect: 1 passed -->
    <!-- expect-output: some line the output must contain -->

* ``<!-- example: NAME -->`` opens an example; NAME becomes the test's name
  (``docs/quickstart.md::first-test``, ``docs/zh/quickstart.md::first-test``).
* Every fenced code block after it, up to its ``expect``, is one file of the example. The
  block's first line is a comment naming the file, relative to the project root:
  ``# fn/index.py``, ``# pytest.ini`` or ``; pytest.ini``. The line stays in the file.
* ``<!-- expect: 2 passed, 1 failed -->`` closes the example: the final summary of the pytest
  run must show exactly these counts (passed, failed, errors, skipped, xfailed, xpassed,
  deselected; warnings only if the expectation lists them). ``<!-- expect: no tests ran -->``
  and ``<!-- expect: usage error -->`` (pytest exits with status 4) are also accepted.
* ``<!-- expect-output: TEXT -->`` (any number, anywhere in the example) must appear in the
  output; ``<!-- pytest-args: --fginit-timeout=10 -->`` adds command-line arguments;
  ``<!-- expect-status: 1 -->`` expects that exit status (when a plugin fails a session whose
  tests all passed: a coverage gate);
  ``<!-- files-from: NAME [PREFIX ...] -->`` starts from the files of the example NAME above it
  on the same page, or only those whose path starts with a PREFIX (``fn/``); the example's own
  blocks replace files of the same name.
* Code blocks after the ``expect`` are illustration only (shell commands, sample output).

Each example is written to a fresh temporary folder and run there with
``python -m pytest -p no:cacheprovider -rA`` in a subprocess, with a timeout. A malformed example
(no ``expect``, a block that names no file, an unknown directive...) is a failing item, never a
silent skip. ``benchmarks.md`` (written by ``bench/run.py``) is not collected.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pytest

DOCS_DIR = Path(__file__).resolve().parent
# The folders whose pages are collected: the docs, and their translations.
COLLECTED_DIRS = (DOCS_DIR, DOCS_DIR / "zh")
# Pages not collected, by their path relative to DOCS_DIR.
NOT_COLLECTED = frozenset({"benchmarks.md"})
TIMEOUT_S = 120
PYTEST_ARGS = ("-p", "no:cacheprovider", "-rA", "--color=no")
CONFIG_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")
OUTCOMES = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "deselected",
            "warnings")

_DIRECTIVE = re.compile(r"^\s*<!--\s*([a-z][a-z-]*)\s*:\s*(.*?)\s*-->\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_FILE_NAME = re.compile(r"^\s*(?:#|;)\s*([\w.-]+(?:/[\w.-]+)*)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")
_COUNT = re.compile(r"(\d+) ([a-z]+)")
_SUMMARY = re.compile(r"^=*\s*(.*?) in \d+(?:\.\d+)?s(?: \([^)]*\))?\s*=*$")


class MalformedExample(Exception):
    """An example the harness cannot run as written."""


class ExampleFailed(Exception):
    """An example whose pytest run did not give what the page promises."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


# --- parsing -------------------------------------------------------------------------------

@dataclass
class Example:
    name: str
    line: int
    blocks: int = 0
    files: dict[str, str] = field(default_factory=dict)
    inherited: dict[str, str] = field(default_factory=dict)
    expect: str | None = None
    outputs: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    status: int | None = None  # (expect-status: the exit status, when the counts don't say it)
    problems: list[str] = field(default_factory=list)

    def all_files(self) -> dict[str, str]:
        """The files written for this example: inherited ones, then its own."""
        return {**self.inherited, **self.files}

    def check(self) -> None:
        if not self.blocks:
            self.problems.append("it has no code blocks")
        if self.expect is None:
            self.problems.append(
                "it has no '<!-- expect: ... -->' line after its code blocks"
            )


def parse_page(text: str) -> list[Example]:
    """The examples of one Markdown page, problems included (see the module docstring)."""
    examples: list[Example] = []
    current: Example | None = None
    stray = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line, lineno = lines[i], i + 1
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            end = i + 1
            while end < len(lines) and not _closes(lines[end], marker):
                end += 1
            body = lines[i + 1:end]
            if end == len(lines):
                target = current or _stray(examples, lineno, stray := stray + 1)
                target.problems.append(f"line {lineno}: this code block is never closed")
            elif current is not None and current.expect is None:
                _add_file(current, body, lineno)
            i = end + 1
            continue
        directive = _DIRECTIVE.match(line)
        if directive:
            key, value = directive.groups()
            if key == "example":
                if current is not None:
                    current.check()
                current = Example(value, lineno)
                if not _NAME.match(value):
                    current.problems.append(
                        f"line {lineno}: example name {value!r}: use letters, digits, '_', "
                        "'-' and '.'"
                    )
                examples.append(current)
            elif current is None:
                _stray(examples, lineno, stray := stray + 1).problems.append(
                    f"line {lineno}: '{key}:' outside any example (open one with "
                    "'<!-- example: NAME -->')"
                )
            elif key == "expect":
                if current.expect is not None:
                    current.problems.append(f"line {lineno}: a second 'expect'")
                current.expect = value
                try:
                    parse_expectation(value)
                except MalformedExample as exc:
                    current.problems.append(f"line {lineno}: {exc}")
            elif key == "expect-output":
                current.outputs.append(value)
            elif key == "pytest-args":
                current.args += shlex.split(value)
            elif key == "expect-status":
                if value.isdigit():
                    current.status = int(value)
                else:
                    current.problems.append(f"line {lineno}: expect-status {value!r}: a whole "
                                            "number (pytest's exit status)")
            elif key == "files-from":
                base_name, *folders = value.split()
                base = next((e for e in examples[:-1] if e.name == base_name), None)
                if base is None:
                    current.problems.append(
                        f"line {lineno}: files-from {base_name!r}: no example of that name above"
                    )
                else:
                    current.inherited.update(
                        (name, content) for name, content in base.all_files().items()
                        if not folders or name.startswith(tuple(folders))
                    )
            else:
                current.problems.append(
                    f"line {lineno}: unknown directive {key!r} (known: example, expect, "
                    "expect-output, expect-status, pytest-args, files-from)"
                )
        i += 1
    if current is not None:
        current.check()
    return examples


def _closes(line: str, marker: str) -> bool:
    """A closing fence: up to 3 spaces, the same character, at least as many."""
    indent = len(line) - len(line.lstrip(" "))
    stripped = line.strip()
    return (indent <= 3 and len(stripped) >= len(marker)
            and set(stripped) == {marker[0]})


def _stray(examples: list[Example], lineno: int, number: int) -> Example:
    example = Example(f"malformed-{number}", lineno)
    examples.append(example)
    return example


def _add_file(example: Example, body: list[str], lineno: int) -> None:
    example.blocks += 1
    named = _FILE_NAME.match(body[0]) if body else None
    if named is None:
        example.problems.append(
            f"line {lineno}: the code block's first line must name its file, "
            "e.g. '# test_example.py' or '; pytest.ini'"
        )
        return
    name = named.group(1)
    parts = PurePosixPath(name).parts
    if ".." in parts or "." not in parts[-1]:
        example.problems.append(f"line {lineno}: {name!r} is not a file name inside the project")
    elif name in example.files:
        example.problems.append(f"line {lineno}: {name!r} appears twice")
    else:
        example.files[name] = "\n".join(body) + "\n"


def parse_expectation(text: str) -> dict[str, int] | None:
    """``"2 passed, 1 failed"`` -> counts; ``"usage error"`` -> None."""
    text = text.strip()
    if text == "usage error":
        return None
    if text == "no tests ran":
        return {}
    counts: dict[str, int] = {}
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+) ([a-z]+)\s*", part)
        if not match:
            raise MalformedExample(
                f"expect {text!r}: write counts like '2 passed, 1 failed', or 'no tests ran', "
                "or 'usage error'"
            )
        outcome = _outcome(match.group(2))
        if outcome not in OUTCOMES:
            raise MalformedExample(f"expect {text!r}: unknown outcome {match.group(2)!r}")
        counts[outcome] = int(match.group(1))
    return counts


def _outcome(word: str) -> str:
    return {"error": "errors", "warning": "warnings"}.get(word, word)


def summary_counts(output: str) -> dict[str, int] | None:
    """The counts of pytest's final summary line, or None if there is none."""
    for line in reversed(output.splitlines()):
        match = _SUMMARY.match(line.strip())
        if match:
            body = match.group(1)
            if body.startswith("no tests ran"):
                return {}
            return {_outcome(word): int(n) for n, word in _COUNT.findall(body)}
    return None


# --- pytest collection -----------------------------------------------------------------------

def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if (file_path.suffix == ".md" and file_path.parent.resolve() in COLLECTED_DIRS
            and page_name(file_path) not in NOT_COLLECTED):
        return MarkdownPage.from_parent(parent, path=file_path)
    return None


def page_name(path: Path) -> str:
    """A page's path relative to the docs folder: ``quickstart.md``, ``zh/quickstart.md``."""
    return path.resolve().relative_to(DOCS_DIR).as_posix()


class MarkdownPage(pytest.File):
    def collect(self) -> Iterator[DocExample]:
        seen: set[str] = set()
        for example in parse_page(self.path.read_text(encoding="utf-8")):
            name = example.name
            if name in seen:
                example.problems.append(f"another example above is also named {name!r}")
                name = f"{name}@L{example.line}"
            seen.add(name)
            yield DocExample.from_parent(self, name=name, example=example)


class DocExample(pytest.Item):
    def __init__(self, *, example: Example, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.example = example

    def runtest(self) -> None:
        example = self.example
        if example.problems:
            raise MalformedExample("; ".join(example.problems))
        assert example.expect is not None
        expected = parse_expectation(example.expect)
        with tempfile.TemporaryDirectory(prefix="fginit-doc-") as tmp:
            root = Path(tmp)
            for name, content in example.all_files().items():
                path = root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(content, encoding="utf-8")
            if not any((root / name).exists() for name in CONFIG_FILES):
                # Keep pytest from looking for a configuration above the temporary folder.
                (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
            returncode, output = run_pytest(root, example.args)
        problems = []
        if expected is None:
            if returncode != 4:
                problems.append(f"expected a usage error (exit status 4), got {returncode}")
        else:
            counts = summary_counts(output)
            if counts is None:
                problems.append(f"no summary line in the output (exit status {returncode})")
            else:
                if "warnings" not in expected:
                    counts.pop("warnings", None)
                if counts != expected:
                    problems.append(f"expected {_show(expected)}, got {_show(counts)}")
                want_status = (example.status if example.status is not None
                               else 1 if expected.get("failed") or expected.get("errors")
                               else 5 if not expected else 0)
                if returncode != want_status:
                    problems.append(f"exit status {returncode}, expected {want_status}")
        problems += [f"output lacks {text!r}" for text in example.outputs
                     if text not in output]
        if problems:
            raise ExampleFailed("; ".join(problems), output)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: str | None = None) -> str:
        where = (f"{page_name(self.path)}, example {self.example.name!r} "
                 f"(line {self.example.line})")
        exc = excinfo.value
        if isinstance(exc, MalformedExample):
            return f"{where} is malformed: {exc}"
        if isinstance(exc, ExampleFailed):
            return (f"{where} did not give what the page promises: {exc}\n\n"
                    f"--- output of the example's pytest run ---\n{exc.output}")
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.example.line - 1, f"example {self.example.name}"


def _show(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items()) or "no tests ran"


def run_pytest(root: Path, args: list[str]) -> tuple[int, str]:
    """Run pytest in ``root`` (in a new process group, killed whole on timeout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["COLUMNS"] = "120"
    command = [sys.executable, "-m", "pytest", *PYTEST_ARGS, *args]
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        raise ExampleFailed(f"its pytest run did not finish within {TIMEOUT_S} s",
                            output) from None
    return process.returncode, output
