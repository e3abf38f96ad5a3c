"""The translated pages (``docs/zh/*.md``) stay in step with the English pages they translate.

A translation is ``docs/zh/NAME.md`` for ``docs/NAME.md``. It carries the same examples: the same
names in the same order, the same files, the same expectations (``expect``, ``expect-output``,
``pytest-args``), and the same code. Only the prose and the code's comments and docstrings are
translated. The harness runs both pages' examples, but each page only against itself: without
this, an example added to, removed from or changed in the English page would leave the
translation behind without any test failing.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

# (test_docs_harness.py loads the harness, docs/conftest.py, as a module: one copy)
from test_docs_harness import harness

DOCS_DIR = Path(__file__).resolve().parent
HARNESS_PATH = DOCS_DIR / "conftest.py"
TRANSLATIONS = sorted((DOCS_DIR / "zh").glob("*.md"))




def examples(path: Path) -> list:
    return harness.parse_page(path.read_text(encoding="utf-8"))


def promises(example) -> dict[str, object]:
    """What an example is and promises, apart from its code."""
    return {
        "name": example.name,
        "files": sorted(example.all_files()),
        "expect": example.expect,
        "expect-output": example.outputs,
        "pytest-args": example.args,
    }


def code(name: str, content: str) -> str:
    """A file's content without its comments (and, in Python, its docstrings)."""
    if name.endswith(".py"):
        tree = ast.parse(content)
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        return ast.dump(tree)
    return "\n".join(line.rstrip() for line in content.splitlines()
                     if line.strip() and not line.lstrip().startswith(("#", ";")))


def english(translation: Path) -> Path:
    return DOCS_DIR / translation.name


def test_the_quickstart_has_a_translation():
    assert DOCS_DIR / "zh" / "quickstart.md" in TRANSLATIONS


@pytest.mark.parametrize("translation", TRANSLATIONS,
                         ids=lambda p: p.relative_to(DOCS_DIR).as_posix())
def test_a_translation_has_the_english_pages_examples(translation):
    assert english(translation).exists(), f"no English page {translation.name} in docs/"
    theirs = [promises(e) for e in examples(english(translation))]
    ours = [promises(e) for e in examples(translation)]
    assert theirs, f"{translation.name} has no examples"
    follow = f"docs/zh/{translation.name} must follow docs/{translation.name}"
    assert [e["name"] for e in ours] == [e["name"] for e in theirs], f"{follow}: example names"
    assert ours == theirs, f"{follow}: files and expectations"


@pytest.mark.parametrize("translation", TRANSLATIONS,
                         ids=lambda p: p.relative_to(DOCS_DIR).as_posix())
def test_a_translation_runs_the_english_pages_code(translation):
    theirs = {e.name: e.all_files() for e in examples(english(translation))}
    different = [
        f"{name}: {file}"
        for name, files in ((e.name, e.all_files()) for e in examples(translation))
        for file, content in files.items()
        if file in theirs.get(name, {}) and code(file, content) != code(file, theirs[name][file])
    ]
    assert different == [], (f"docs/zh/{translation.name} must follow docs/{translation.name}: "
                             "code differs (comments and docstrings aside)")


def test_comments_and_docstrings_do_not_count_as_code():
    english_py = '"""A stand-in."""\nx = 1  # one\n\n\ndef f():\n    """Doc."""\n'
    chinese_py = '"""桩模块。"""\n# 一\nx = 1\n\n\ndef f():\n    """说明。"""\n'
    assert code("a.py", english_py) == code("a.py", chinese_py)
    assert code("a.py", "x = 1\n") != code("a.py", "x = 2\n")
    assert code("a.py", 'x = "a"\n') != code("a.py", 'x = "甲"\n')  # strings are code
    assert code("p.ini", "; p.ini\n[pytest]\na = 1\n") == code("p.ini", "[pytest]\n\na = 1\n")
    assert code("p.ini", "[pytest]\na = 1\n") != code("p.ini", "[pytest]\na = 2\n")


def test_the_harness_collects_translations(pytester: pytest.Pytester):
    docs = pytester.mkdir("docs")
    (docs / "conftest.py").write_text(HARNESS_PATH.read_text())
    (docs / "zh").mkdir()
    (docs / "zh" / "deeper").mkdir()
    fence = "```"
    page = textwrap.dedent(f"""
        <!-- example: passes -->
        {fence}python
        # test_a.py
        def test_a():
            pass  # 通过
        {fence}
        <!-- expect: 1 passed -->

        <!-- example: wrong-count -->
        {fence}python
        # test_b.py
        def test_b():
            assert 1 == 2
        {fence}
        <!-- expect: 1 passed -->
    """)
    (docs / "zh" / "page.md").write_text(page, encoding="utf-8")
    (docs / "zh" / "deeper" / "page.md").write_text(page, encoding="utf-8")
    result = pytester.runpytest_subprocess("docs", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*docs/zh/page.md::passes PASSED*"])
    result.stdout.fnmatch_lines(["*zh/page.md, example 'wrong-count' (line 10) did not give*"])
    assert "deeper" not in result.stdout.str()  # only docs/*.md and docs/zh/*.md
