"""Code updates (R11): the live instances stop (pre-stop first), and every later request goes
to new instances that run the new initializer first; publishing a version does the same and
shows in the context."""

from __future__ import annotations

import pytest

from pytest_fginit import FunctionConfigError

VERSION_1 = """
import os
def init(context):
    print("init v1")
def handler(event, context):
    return {"code": 1, "stage": os.environ.get("STAGE"), "version": context.getVersion(),
            "env_version": os.environ["RUNTIME_FUNC_VERSION"]}
def stop(context):
    print("stopping v1")
"""
# (A different size too: like Python's bytecode cache, the emulator's code cache tells versions
# of a file apart by modification time and size, and a rewrite can keep the time.)
VERSION_2 = VERSION_1.replace("v1", "v2").replace('"code": 1', '"code": 2') + "# v2\n"


def test_new_code_goes_to_new_instances_that_initialize_first(emulate, tmp_path):
    fn = emulate(index=VERSION_1, pre_stop_handler="index.stop", user_data={"STAGE": "a"})
    old = fn.invoke()
    assert old.result["code"] == 1
    new_root = tmp_path / "v2"
    new_root.mkdir()
    (new_root / "index.py").write_text(VERSION_2)
    config = fn.update(code_root=new_root, user_data={"STAGE": "b"})
    assert config.code_root == new_root and fn.config is config
    assert old.instance.state == "recycled" and "stopping v1" in old.instance.pre_stop.log
    new = fn.invoke()
    assert new.cold_start and "init v2" in new.log
    assert (new.result["code"], new.result["stage"]) == (2, "b")


def test_code_changed_in_place_is_new_code_after_update(emulate, code):
    fn = emulate(index=VERSION_1)
    assert fn.invoke().result["code"] == 1
    code(VERSION_2)  # the same folder, rewritten
    fn.update()
    assert fn.invoke().result["code"] == 2


def test_a_bad_update_changes_nothing(emulate):
    fn = emulate(index=VERSION_1)
    warm = fn.invoke()
    with pytest.raises(FunctionConfigError, match="timeout: 1 is out of range"):
        fn.update(timeout=1)
    with pytest.raises(FunctionConfigError, match="isolation: cannot change on a running"):
        fn.update(isolation="process" if fn.config.isolation == "inprocess" else "inprocess")
    with pytest.raises(FunctionConfigError, match="timout: unknown key"):
        fn.update(timout=10)
    assert warm.instance.state == "ready" and not fn.invoke().cold_start


def test_publishing_a_version_shows_in_the_context_and_the_environment(emulate):
    fn = emulate(index=VERSION_1)
    assert fn.invoke().result["version"] == "latest"
    fn.publish_version("v1.2-rc_1")
    inv = fn.invoke()
    assert inv.cold_start
    assert (inv.result["version"], inv.result["env_version"]) == ("v1.2-rc_1", "v1.2-rc_1")
    assert [entry[2] for entry in fn.journal if entry[1] == "deploy"] == [
        "version v1.2-rc_1 published"]


@pytest.mark.parametrize("version", ["latest", "", "-v1", "x" * 43, 1])
def test_version_names_are_checked(emulate, version):
    fn = emulate(index=VERSION_1)
    with pytest.raises(FunctionConfigError, match=r"version: .*allowed: 1-42 letters"):
        fn.publish_version(version)
