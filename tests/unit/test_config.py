"""FunctionConfig: defaults, FunctionGraph's validation rules, secrets in its repr."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from pytest_fginit import FunctionConfig, FunctionConfigError
from pytest_fginit._config_checks import MEMORY_SIZES
from pytest_fginit.config import field_names, parse_field_text


def test_defaults_follow_functiongraph(code):
    config = FunctionConfig(code_root=code())
    assert config.handler == "index.handler"
    assert config.initializer_handler is None and config.initializer_timeout is None
    assert (config.timeout, config.memory_size, config.init_retries) == (3, 128, 3)
    assert config.virtual_time is True and config.real_time_limit is None
    assert config.func_name == "fn"  # the code root's folder name
    assert config.user_data == {} and config.encrypted_user_data == {}
    assert (config.concurrency_num, config.max_instance_num, config.reserved_instances) == (
        1, 400, 0)
    unlimited = FunctionConfig(code_root=code(), max_instance_num=-1, reserved_instances=1000)
    assert unlimited.reserved_instances == 1000  # (no cap to stay under)


def test_initializer_timeout_defaults_to_3_when_an_initializer_is_set(code):
    assert FunctionConfig(code_root=code(), initializer_handler="index.init"
                          ).initializer_timeout == 3


def test_code_root_accepts_str_and_path(code):
    root = code()
    assert FunctionConfig(code_root=str(root)).code_root == FunctionConfig(code_root=root).code_root
    assert isinstance(FunctionConfig(code_root=str(root)).code_root, Path)


@pytest.mark.parametrize(
    ("fields", "field", "allowed"),
    [
        ({}, "code_root", "required: the folder holding your function's code"),
        ({"handler": "index"}, "handler", "not of the form file.function"),
        ({"handler": "src//index.handler"}, "handler", "or folder/file.function"),
        ({"handler": "/index.handler"}, "handler", "e.g. 'index.handler' or 'src/index.handler'"),
        ({"handler": "my-src/index.handler"}, "handler", "each name a Python identifier"),
        ({"handler": "src\\index.handler"}, "handler", "FSS.1003 Invalid function handler."),
        ({"handler": "src/missing.handler"}, "handler", "needs src/missing.py under code_root"),
        ({"handler": "src/index.handler", "initializer_handler": "index.init"},
         "initializer_handler", "must be in the handler's file 'src.index'"),
        ({"handler": "index.handler-x"}, "handler", "FSS.1003 Invalid function handler."),
        ({"handler": "i." + "x" * 127}, "handler", "at most 128 characters"),
        ({"handler": "missing.handler"}, "handler", "needs missing.py under code_root"),
        ({"initializer_handler": "init"}, "initializer_handler",
         "FSS.1404 Invalid function initializer."),
        ({"initializer_handler": "other.init"}, "initializer_handler",
         "must be in the handler's file 'index'"),
        ({"initializer_handler": "index.init", "initializer_timeout": 0}, "initializer_timeout",
         "a whole number from 1 to 300 (seconds) [FSS.1405 Invalid initialization timeout.]"),
        ({"initializer_handler": "index.init", "initializer_timeout": 301},
         "initializer_timeout", "from 1 to 300"),
        ({"timeout": 2}, "timeout", "a whole number from 3 to 900 (seconds) [FSS.1008"),
        ({"timeout": 901}, "timeout", "from 3 to 900"),
        ({"timeout": 3.5}, "timeout", "from 3 to 900"),
        ({"timeout": True}, "timeout", "from 3 to 900"),
        ({"memory_size": 100}, "memory_size", "allowed (MB): 128, 256, 512"),
        ({"user_data": {"A": 1}}, "user_data", "entry 'A': 1 is not a string"),
        ({"user_data": "[1]"}, "user_data", "must be a JSON object"),
        ({"user_data": "{not json"}, "user_data", "is not valid JSON"),
        ({"user_data": {f"K{i}": "v" for i in range(21)}}, "user_data", "at most 20"),
        ({"user_data": {"K": "v" * 4096}}, "user_data", "at most 4096"),
        ({"encrypted_user_data": {"PASSWORD": 42}}, "encrypted_user_data",
         "entry 'PASSWORD': ****** is not a string"),
        ({"func_name": "1abc"}, "func_name", "starting with a letter"),
        ({"runtime": "Node.js18.15"}, "runtime", "allowed: Python2.7, Python3.6"),
        ({"init_retries": -1}, "init_retries", "from 0 to 10"),
        ({"virtual_time": "yes"}, "virtual_time", "not one of True, False"),
        ({"real_time_limit": 0}, "real_time_limit", "None or a number of seconds > 0"),
        ({"concurrency_num": 0}, "concurrency_num", "from 1 to 1000 (requests per instance)"),
        ({"concurrency_num": 1001}, "concurrency_num", "from 1 to 1000"),
        ({"max_instance_num": -2}, "max_instance_num",
         "from -1 to 1000 (-1: unlimited, 0: disabled)"),
        ({"max_instance_num": 1001}, "max_instance_num", "from -1 to 1000"),
        ({"reserved_instances": -1}, "reserved_instances", "from 0 to 1000"),
        ({"reserved_instances": 3, "max_instance_num": 2}, "reserved_instances",
         "3 is more than max_instance_num (2); allowed: at most max_instance_num"),
    ],
)
def test_each_error_names_the_field_and_what_is_allowed(code, fields, field, allowed):
    if "code_root" not in fields and field != "code_root":
        fields = {"code_root": code(), **fields}
    with pytest.raises(FunctionConfigError) as info:
        FunctionConfig(**fields)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert allowed in str(info.value)
    assert isinstance(info.value, ValueError)


def test_code_root_must_be_a_folder(tmp_path):
    with pytest.raises(FunctionConfigError, match=r"code_root: .* is not a folder"):
        FunctionConfig(code_root=tmp_path / "nope")


def test_handler_may_live_in_a_package_module(code):
    root = code(**{"pkg.__init__": "", "pkg.main": "def handler(e, c):\n    return 1\n"})
    config = FunctionConfig(code_root=root, handler="pkg.main.handler")
    assert config.handler_path == root / "pkg" / "main.py"


@pytest.mark.parametrize("handler", ["src/app/main.handler", "src.app.main.handler"])
def test_handler_may_be_written_as_its_path_in_the_zip(code, handler):
    root = code(**{"src.app.main": "def handler(e, c):\n    return 1\n"})  # (no __init__.py)
    config = FunctionConfig(code_root=root, handler=handler,
                            initializer_handler=handler.replace(".handler", ".init"))
    assert config.handler == handler  # (as given: RUNTIME_HANDLER shows it so)
    assert config.handler_module == "src.app.main"
    assert config.handler_path == root / "src" / "app" / "main.py"


def test_user_data_may_be_a_json_string_as_the_api_sends_it(code):
    config = FunctionConfig(code_root=code(), user_data='{"A": "1"}')
    assert config.user_data == {"A": "1"}


def test_every_memory_size_is_accepted(code):
    root = code()
    assert [FunctionConfig(code_root=root, memory_size=m).memory_size
            for m in MEMORY_SIZES] == list(MEMORY_SIZES)


def test_secrets_never_appear_in_the_repr(code):
    config = FunctionConfig(code_root=code(), encrypted_user_data={"PASSWORD": "pa55-word"},
                            access_key="AK-secret", secret_key="SK-secret",
                            security_token="token-secret", token="iam-secret",
                            user_data={"PUBLIC": "shown"})
    text = repr(config)
    for secret in ("pa55-word", "AK-secret", "SK-secret", "token-secret", "iam-secret"):
        assert secret not in text
    assert "'PASSWORD': '******'" in text and "'PUBLIC': 'shown'" in text
    assert set(config.secrets) == {"pa55-word", "AK-secret", "SK-secret", "token-secret",
                                   "iam-secret"}


def test_replace_validates_again(code):
    config = FunctionConfig(code_root=code())
    assert config.replace(timeout=30).timeout == 30
    with pytest.raises(FunctionConfigError, match="timeout"):
        config.replace(timeout=1)
    with pytest.raises(FunctionConfigError, match="allowed keys: code_root, handler"):
        config.replace(timout=30)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [("timeout", " 30 ", 30), ("initializer_timeout", "none", None),
     ("virtual_time", "off", False), ("virtual_time", "Yes", True),
     ("user_data", '{"A": "1"}', {"A": "1"}), ("real_time_limit", "0.5", 0.5),
     ("handler", "index.main", "index.main")],
)
def test_ini_text_is_read_per_field_kind(name, text, value):
    assert parse_field_text(name, text) == value


@pytest.mark.parametrize(("name", "text"), [("timeout", "3s"), ("virtual_time", "maybe"),
                                            ("real_time_limit", "soon")])
def test_unreadable_ini_text_names_the_field(name, text):
    with pytest.raises(FunctionConfigError, match=f"^{name}: "):
        parse_field_text(name, text)


def test_the_issue_contract_keys_all_exist():
    required = {"code_root", "handler", "initializer_handler", "initializer_timeout", "timeout",
                "memory_size", "user_data", "encrypted_user_data", "func_name", "runtime",
                "init_retries", "virtual_time"}
    assert required <= set(field_names())


def test_replace_works_derived_keys_out_again(code, tmp_path):
    config = FunctionConfig(code_root=code(), initializer_handler="index.init")
    assert (config.func_name, config.initializer_timeout) == ("fn", 3)
    other = tmp_path / "orders"
    other.mkdir()
    (other / "index.py").write_text("def handler(e, c):\n    return 1\n")
    moved = config.replace(code_root=other, initializer_handler=None)
    assert (moved.func_name, moved.initializer_timeout) == ("orders", None)
    named = FunctionConfig(code_root=code(), func_name="kept", initializer_timeout=9,
                           initializer_handler="index.init")
    assert named.replace(timeout=10).func_name == "kept"
    assert named.replace(timeout=10).initializer_timeout == 9


def test_an_unset_runtime_is_reported_as_python_3_10_and_not_checked(code, recwarn):
    config = FunctionConfig(code_root=code())
    assert config.runtime == "Python3.10"
    assert config.replace(timeout=10).runtime == "Python3.10"  # (still unset: not checked)
    assert not [w for w in recwarn if "runtime" in str(w.message)]


def test_a_runtime_other_than_the_running_python_warns_once(code, monkeypatch, recwarn):
    from pytest_fginit import _config_checks

    monkeypatch.setattr(_config_checks, "_WARNED_RUNTIMES", set())
    with pytest.warns(UserWarning, match=r"runtime: 'Python2.7', but this test runs the "
                                         r"function's code on Python3\.[0-9]+ .*Python 2 code"):
        FunctionConfig(code_root=code(), runtime="Python2.7")
    recwarn.clear()
    FunctionConfig(code_root=code(), runtime="Python2.7")  # (a suite hears it once)
    assert not recwarn.list


def test_runtime_check_error_refuses_it_and_off_accepts_it(code, recwarn):
    with pytest.raises(FunctionConfigError, match=r"^runtime: 'Python2.7', but .* set "
                                                  r"runtime_check='off' to accept it"):
        FunctionConfig(code_root=code(), runtime="Python2.7", runtime_check="error")
    assert FunctionConfig(code_root=code(), runtime="Python2.7",
                          runtime_check="off").runtime == "Python2.7"
    assert not recwarn.list
    with pytest.raises(FunctionConfigError, match="runtime_check: 'loud': allowed: warn, "
                                                  "error, off"):
        FunctionConfig(code_root=code(), runtime_check="loud")


def test_the_running_pythons_runtime_passes_the_check(code, monkeypatch, recwarn):
    from pytest_fginit import _config_checks

    running = types.SimpleNamespace(version_info=types.SimpleNamespace(major=3, minor=12),
                                    executable="python3.12")
    monkeypatch.setattr(_config_checks, "sys", running)
    FunctionConfig(code_root=code(), runtime="Python3.12", runtime_check="error")
    assert not recwarn.list
