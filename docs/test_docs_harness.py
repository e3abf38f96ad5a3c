"""The tested-docs harness (docs/conftest.py) itself: parsing, and failing loudly."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

HARNESS_PATH = Path(__file__).resolve().parent / "conftest.py"


def _load_harness():
    name = "fginit_docs_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HARNESS_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


harness = _load_harness()

FENCE = "```"


def page(text: str) -> str:
    return textwrap.dedent(text).replace("'''", FENCE)


def only(text: str):
    [example] = harness.parse_page(page(text))
    return example


def test_a_well_formed_example():
    example = only("""
        Prose.

        <!-- example: two-files -->
        '''python
        # fn/index.py
        def handler(event, context):
            return 1
        '''
        Between the blocks.
        ~~~ini
        ; pytest.ini
        [pytest]
        ~~~
        <!-- expect: 1 passed, 2 failed -->
        <!-- expect-output: line one -->
        <!-- expect-output: line two -->
        <!-- pytest-args: --fginit-timeout=10 -k "not slow" -->
        <!-- expect-status: 1 -->

        '''bash
        pip install afterwards  # illustration, not part of the example
        '''
    """)
    assert example.name == "two-files" and example.problems == []
    assert example.files == {
        "fn/index.py": "# fn/index.py\ndef handler(event, context):\n    return 1\n",
        "pytest.ini": "; pytest.ini\n[pytest]\n",
    }
    assert example.outputs == ["line one", "line two"]
    assert example.args == ["--fginit-timeout=10", "-k", "not slow"]
    assert example.status == 1
    assert harness.parse_expectation(example.expect) == {"passed": 1, "failed": 2}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<!-- example: a -->\n'''python\n# test_a.py\n'''\n", "no '<!-- expect: ... -->'"),
        ("<!-- example: a -->\n<!-- expect: 1 passed -->\n", "no code blocks"),
        ("<!-- example: a -->\n'''python\ndef test(): pass\n'''\n<!-- expect: 1 passed -->\n",
         "first line must name its file"),
        ("<!-- example: a -->\n'''python\n# ../test_a.py\n'''\n<!-- expect: 1 passed -->\n",
         "not a file name inside the project"),
        ("<!-- example: a -->\n'''\n# t.py\n'''\n'''\n# t.py\n'''\n<!-- expect: 1 passed -->\n",
         "'t.py' appears twice"),
        ("<!-- example: a -->\n'''python\n# t.py\n'''\n<!-- expect: 1 pass -->\n",
         "unknown outcome 'pass'"),
        ("<!-- example: a -->\n'''python\n# t.py\n'''\n<!-- expect: one passed -->\n",
         "write counts like"),
        ("<!-- example: a -->\n'''python\n# t.py\n'''\n<!-- expect: 1 passed -->\n"
         "<!-- expect: 1 passed -->\n", "a second 'expect'"),
        ("<!-- example: a -->\n'''python\n# t.py\n'''\n<!-- expects: 1 passed -->\n",
         "unknown directive 'expects'"),
        ("<!-- example: a b -->\n'''python\n# t.py\n'''\n<!-- expect: 1 passed -->\n",
         "example name 'a b'"),
        ("<!-- example: a -->\n'''python\n# t.py\n", "never closed"),
        ("<!-- example: a -->\n'''python\n# t.py\n'''\n<!-- expect: 1 passed -->\n"
         "<!-- expect-status: one -->\n", "expect-status 'one': a whole number"),
        ("<!-- example: a -->\n<!-- files-from: nowhere -->\n'''\n# t.py\n'''\n"
         "<!-- expect: 1 passed -->\n", "no example of that name above"),
    ],
)
def test_malformed_examples_carry_their_problem(text, problem):
    example = only(text)
    assert any(problem in p for p in example.problems), example.problems


def test_directives_outside_an_example_are_problems_too():
    example = only("<!-- expect: 1 passed -->\n")
    assert example.name == "malformed-1"
    assert "outside any example" in example.problems[0]


def test_files_from_inherits_and_overrides():
    base, derived = harness.parse_page(page("""
        <!-- example: base -->
        '''
        # fn/index.py
        '''
        '''
        # test_base.py
        '''
        <!-- expect: 1 passed -->

        <!-- example: derived -->
        <!-- files-from: base fn/ -->
        '''
        # test_derived.py
        '''
        <!-- expect: 1 passed -->
    """))
    assert set(base.all_files()) == {"fn/index.py", "test_base.py"}
    assert set(derived.all_files()) == {"fn/index.py", "test_derived.py"}


@pytest.mark.parametrize(
    ("output", "counts"),
    [
        ("== 3 passed in 0.12s ==", {"passed": 3}),
        ("===== 1 failed, 2 passed, 1 error, 3 warnings in 1.00s (0:00:01) =====",
         {"failed": 1, "passed": 2, "errors": 1, "warnings": 3}),
        ("1 passed in 0.01s", {"passed": 1}),
        ("============ no tests ran in 0.01s ============", {}),
        ("ERROR: usage", None),
    ],
)
def test_summary_counts(output, counts):
    assert harness.summary_counts("collected 3 items\n" + output + "\n") == counts


def test_the_harness_runs_examples_and_fails_loudly(pytester: pytest.Pytester):
    docs = pytester.mkdir("docs")
    (docs / "conftest.py").write_text(HARNESS_PATH.read_text())
    (docs / "benchmarks.md").write_text("<!-- example: never-collected -->\n")
    (docs / "page.md").write_text(page("""
        <!-- example: passes -->
        '''python
        # test_a.py
        def test_a():
            print("hello from a")
        '''
        <!-- expect: 1 passed -->
        <!-- expect-output: hello from a -->

        <!-- example: wrong-count -->
        '''python
        # test_b.py
        def test_b():
            assert 1 == 2
        '''
        <!-- expect: 1 passed -->

        <!-- example: missing-output -->
        '''python
        # test_c.py
        def test_c():
            pass
        '''
        <!-- expect: 1 passed -->
        <!-- expect-output: never printed -->

        <!-- example: no-expect -->
        '''python
        # test_d.py
        def test_d():
            pass
        '''
    """))
    result = pytester.runpytest_subprocess("docs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines([
        "*page.md, example 'wrong-count' (line 11) did not give what the page promises: "
        "expected 1 passed, got 1 failed; exit status 1, expected 0",
        "*--- output of the example's pytest run ---*",
        "*assert 1 == 2*",
    ])
    result.stdout.fnmatch_lines(["*example 'missing-output'*output lacks 'never printed'*"])
    result.stdout.fnmatch_lines(["*example 'no-expect' (line 28) is malformed: it has no*"])
    result.stdout.fnmatch_lines(["*FAILED docs/page.md::no-expect*"])
    assert "never-collected" not in result.stdout.str()
