"""What is kept of a deployment file between reads: an answer while its files are unchanged
(a suite asks the same question at every test), and python-hcl2's parse between sessions in
a store (pytest's cache), checked against the file's text."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_fginit._config_files import cache_info, clear_cache, read_deployment, use_store

MAIN = """
variable "stage" {
  default = "dev"
}

resource "huaweicloud_fgs_function" "fn" {
  name    = "orders-${var.stage}"
  handler = "index.handler"
  memory_size = 256
}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "main.tf").write_text(MAIN)
    clear_cache()
    yield tmp_path
    use_store(None)
    clear_cache()


def touch_later(path: Path, text: str) -> None:
    """Write ``text`` with a modification time surely after the last one (coarse clocks)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(time.time_ns(), max(time.time_ns(), before + 1_000_000)))


def test_the_same_question_is_answered_without_reading_and_the_answer_is_a_copy(folder):
    first = read_deployment(folder / "main.tf")
    first["memory_size"] = 1
    second = read_deployment(folder / "main.tf")
    assert second["memory_size"] == 256 and second["func_name"] == "orders-dev"
    assert cache_info()["answers"] == 1 and cache_info()["parses"] == 1


def test_an_edited_file_is_read_again(folder):
    assert read_deployment(folder / "main.tf")["memory_size"] == 256
    touch_later(folder / "main.tf", MAIN.replace("256", "512"))
    assert read_deployment(folder / "main.tf")["memory_size"] == 512
    assert cache_info()["answers"] == 0


def test_a_variable_file_that_appears_in_the_folder_changes_the_answer(folder):
    assert read_deployment(folder / "main.tf")["func_name"] == "orders-dev"
    (folder / "terraform.tfvars").write_text('stage = "prod"\n')
    os.utime(folder, ns=(time.time_ns(), time.time_ns() + 1_000_000))  # (coarse clocks)
    assert read_deployment(folder / "main.tf")["func_name"] == "orders-prod"


def test_a_different_question_is_not_answered_by_another_ones_answer(folder):
    assert "func_name" in read_deployment(folder / "main.tf")
    assert "func_name" not in read_deployment(folder / "main.tf", overridden={"func_name"})


class DictStore:
    """What pytest's config.cache offers the reader: get and set of JSON values."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


def test_a_stored_parse_answers_the_next_session_until_the_text_changes(folder, monkeypatch):
    store = DictStore()
    use_store(store)
    import hcl2

    calls: list[Any] = []
    real = hcl2.load
    monkeypatch.setattr(hcl2, "load", lambda file: calls.append(file) or real(file))
    assert read_deployment(folder / "main.tf")["memory_size"] == 256
    assert len(calls) == 1 and len(store.values) == 1  # one entry per file path

    clear_cache()  # a new session: nothing in memory, the store kept
    assert read_deployment(folder / "main.tf")["memory_size"] == 256
    assert len(calls) == 1 and cache_info()["stored"] == 1

    clear_cache()
    touch_later(folder / "main.tf", MAIN.replace("256", "1024"))
    assert read_deployment(folder / "main.tf")["memory_size"] == 1024
    assert len(calls) == 2 and len(store.values) == 1  # the entry replaced, not added


def test_a_file_others_may_not_read_is_never_stored(folder):
    """A secrets.tfvars kept private (mode 600) must not be copied into .pytest_cache."""
    store = DictStore()
    use_store(store)
    (folder / "main.tf").chmod(0o600)
    assert read_deployment(folder / "main.tf")["memory_size"] == 256
    assert store.values == {}
    (folder / "main.tf").chmod(0o644)
    clear_cache()
    read_deployment(folder / "main.tf")
    assert len(store.values) == 1


def test_without_a_store_nothing_is_kept_between_sessions(folder):
    read_deployment(folder / "main.tf")
    clear_cache()
    read_deployment(folder / "main.tf")
    assert cache_info()["stored"] == 0 and cache_info()["parses"] == 1
