"""Bad input is refused up front with an error naming the field (or argument) and what is
allowed, never as a raw exception from deep inside, nor as the function's crash later."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest

from pytest_fginit import FunctionConfig, FunctionConfigError, FunctionEmulator

pytest_plugins = ["pytester"]


# --- user_data and its kin become environment variables -------------------------------------

@pytest.mark.parametrize("field", ["user_data", "encrypted_user_data"])
@pytest.mark.parametrize(("key", "why"), [
    ("A=B", "holds '='"), ("", "is empty"), ("A\0B", "holds a NUL"),
    ("\udcff", "not valid UTF-8"),
])
def test_a_user_data_name_that_cannot_be_a_variable_is_refused(code, field, key, why):
    with pytest.raises(FunctionConfigError, match=why) as caught:
        FunctionConfig(code_root=code(), **{field: {key: "value"}})
    assert caught.value.field == field
    assert repr(key) in str(caught.value) and "allowed: a non-empty name" in str(caught.value)


@pytest.mark.parametrize("value", ["x\0y", "\udcff"])
def test_a_user_data_value_that_cannot_be_a_variable_is_refused(code, value):
    with pytest.raises(FunctionConfigError, match="entry 'A': the value") as caught:
        FunctionConfig(code_root=code(), user_data={"A": value})
    assert caught.value.field == "user_data"


def test_an_encrypted_value_is_never_shown_in_the_error(code):
    with pytest.raises(FunctionConfigError) as caught:
        FunctionConfig(code_root=code(), encrypted_user_data={"PASSWORD": "pa55\0word"})
    assert "PASSWORD" in str(caught.value) and "pa55" not in str(caught.value)


def test_user_data_update_is_checked_the_same_way(code):
    with pytest.raises(FunctionConfigError, match="holds '='") as caught:
        FunctionConfig.from_file(_api_json(code()), user_data_update={"A=B": "1"})
    assert caught.value.field == "user_data_update"


def _api_json(root: Path) -> Path:
    path = root.parent / "function.json"
    path.write_text('{"func_name": "fn", "handler": "index.handler", "runtime": "Python3.10",'
                    f' "code_root": "{root.name}"}}')
    return path


def test_a_surrogate_in_ini_user_data_is_a_usage_error_naming_the_option(project):
    project.makeini(r"""
        [pytest]
        fginit_code_root = fn
        fginit_user_data = {"A": "\udcff"}
    """)
    project.makepyfile(test_fn="def test_fn(fg_function):\n    pass\n")
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*fginit_user_data = *: user_data: entry 'A': the value*"
                                 "not valid UTF-8*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# --- numbers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [math.nan, math.inf, -math.inf, -1, 0])
def test_real_time_limit_must_be_a_finite_positive_number(code, limit):
    allowed = "allowed: None or a number of seconds > 0, finite"
    with pytest.raises(FunctionConfigError, match=allowed) as caught:
        FunctionConfig(code_root=code(), real_time_limit=limit)
    assert caught.value.field == "real_time_limit"


@pytest.mark.parametrize("seconds", [1e12, -1, math.nan, math.inf, -math.inf])
def test_advance_out_of_range_is_refused_with_the_range(code, seconds):
    with FunctionEmulator(FunctionConfig(code_root=code())) as fn:
        before = fn.now
        with pytest.raises(ValueError, match=r"seconds must be a number from 0 to \d+"):
            fn.advance(seconds)
        assert fn.now >= before
        fn.advance(1)  # (the emulator is still usable)


# --- paths -----------------------------------------------------------------------------------

def test_a_code_root_in_a_loop_of_links_is_refused(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(FunctionConfigError, match="cannot be resolved") as caught:
        FunctionConfig(code_root=tmp_path / "loop")
    assert caught.value.field == "code_root"


def test_a_code_root_with_a_nul_is_refused():
    with pytest.raises(FunctionConfigError, match="NUL") as caught:
        FunctionConfig(code_root="fn\0")
    assert caught.value.field == "code_root"


@pytest.fixture
def deleted_cwd(tmp_path, monkeypatch):
    """The test process's working folder, deleted (a temporary folder a test chdir'd into)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    return gone


@pytest.mark.parametrize(("fields", "field"), [
    ({"code_root": "fn"}, "code_root"),
    ({"instance_setup": "fakes.py:install"}, "instance_setup"),
])
def test_a_relative_path_in_a_deleted_working_folder_is_named(code, deleted_cwd, fields,
                                                             field):
    fields = {"code_root": code(), **fields}
    with pytest.raises(FunctionConfigError, match="no longer exists") as caught:
        FunctionConfig(**fields)
    assert caught.value.field == field and str(deleted_cwd) in str(caught.value)


def test_a_process_instance_in_a_deleted_working_folder_is_named(code, tmp_path,
                                                                 monkeypatch):
    with FunctionEmulator(FunctionConfig(code_root=code(), isolation="process")) as fn:
        gone = tmp_path / "gone"
        gone.mkdir()
        monkeypatch.chdir(gone)
        gone.rmdir()
        with pytest.raises(FunctionConfigError, match="no longer exists") as caught:
            fn.invoke()
        assert caught.value.field == "isolation" and str(gone) in str(caught.value)
        monkeypatch.chdir(tmp_path)
        assert fn.invoke().ok  # (nothing was left half done)


# --- what a send carries ---------------------------------------------------------------------

@pytest.mark.parametrize("request_id", [5, "", "a\nb", "a\rb", "a b", "x" * 65, "é"])
def test_a_request_id_that_cannot_go_into_headers_and_logs_is_refused(emulate, request_id):
    fn = emulate()
    with pytest.raises(ValueError, match=r"request_id .*allowed: None .* 1-64 visible ASCII"):
        fn.invoke({}, request_id=request_id)
    with pytest.raises(ValueError, match="request_id"):
        fn.invoke_concurrently([{}, {}], request_ids=["ok", request_id])
    assert fn.invocations == [] and fn.instances == []  # (refused before anything ran)
    assert fn.invoke({}, request_id="f" * 8 + "-0000-4000-8000-" + "0" * 12).ok


@pytest.mark.parametrize("depth", [201, 100_000])
def test_an_event_nested_too_deeply_is_refused_before_anything_runs(emulate, depth):
    fn = emulate()
    event: list[object] = []
    for _ in range(depth - 1):
        event = [event]
    with pytest.raises(ValueError, match="nested too deeply: allowed: at most 200"):
        fn.invoke(event)
    assert fn.invocations == [] and fn.instances == []


def test_an_event_nested_to_the_limit_reaches_the_handler(emulate):
    fn = emulate(index=textwrap.dedent("""
        def init(context):
            pass
        def handler(event, context):
            depth = 0
            while isinstance(event, list):
                event, depth = (event[0] if event else None), depth + 1
            return depth
    """))
    event: list[object] = []
    for _ in range(199):
        event = [event]
    assert fn.invoke(event).result == 200

