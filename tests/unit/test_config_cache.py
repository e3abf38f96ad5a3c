"""The configuration kept between tests whose fields are equal (`_config_cache`): the same
immutable `FunctionConfig` while the handler's file is unchanged, a new one once it changed,
and its warnings given again each time."""

from __future__ import annotations

import os
import warnings

import pytest

from pytest_fginit._config_cache import config_for


def test_equal_fields_get_the_same_configuration_until_the_handler_file_changes(tmp_path):
    index = tmp_path / "index.py"
    index.write_text("def handler(event, context):\n    return 1\n")
    fields = {"code_root": tmp_path, "user_data": {"A": "b"}, "encrypted_user_data": {"K": "s"}}
    first = config_for(fields)
    assert config_for(dict(fields)) is first
    assert config_for({**fields, "timeout": 5}) is not first
    index.write_text("def handler(event, context):\n    return 22\n")
    os.utime(index, ns=(1, 1))  # (a change the size or the time shows)
    assert config_for(fields) is not first


def test_its_warnings_are_given_to_every_test_that_gets_it(tmp_path):
    (tmp_path / "index.py").write_text("def handler(event, context):\n    return 1\n")
    fields = {"code_root": tmp_path, "runtime": "Python3.6"}  # (never the test's Python)
    for _ in range(2):
        with warnings.catch_warnings(record=True) as given:
            warnings.simplefilter("always")
            config_for(fields)
        assert [str(w.message)[:29] for w in given] == ["runtime: 'Python3.6', but thi"]


def test_a_bad_configuration_is_an_error_each_time(tmp_path):
    for _ in range(2):
        with pytest.raises(ValueError, match="timeout"):
            config_for({"code_root": tmp_path, "timeout": 1})
