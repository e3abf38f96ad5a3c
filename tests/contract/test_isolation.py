"""Module isolation: each instance its own code-root modules; everything else shared."""

from __future__ import annotations

import builtins
import os
import sys

import pytest

PACKAGE_FUNCTION = """
import config
from lib import store
from lib.store import COUNTER as AT_IMPORT
import lib.deep.leaf

def init(context):
    store.COUNTER.append("init")

def handler(event, context):
    store.COUNTER.append("call")
    return {"counter": store.COUNTER, "config": config.NAME, "leaf": lib.deep.leaf.VALUE,
            "same": AT_IMPORT is store.COUNTER}
"""
PACKAGE_MODULES = {
    "config": "NAME = 'from config.py'\n",
    "lib/__init__": "",
    "lib/store": "COUNTER = []\n",
    "lib/deep/__init__": "",
    "lib/deep/leaf": "from .. import store\nVALUE = len(store.COUNTER) + 7\n",
}


@pytest.mark.inprocess_only("in-process module isolation")
def test_module_globals_never_leak_between_instances(emulate):
    fn = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    first = fn.invoke().result
    fn.recycle()
    second = fn.invoke().result
    assert first == second == {"counter": ["init", "call"], "config": "from config.py",
                               "leaf": 7, "same": True}
    one, two = (i.module for i in fn.instances)
    assert one is not two and one.store is not two.store


@pytest.mark.inprocess_only("in-process module isolation")
def test_instance_modules_are_not_the_test_processes_modules(emulate):
    fn = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    fn.invoke()
    assert "config" not in sys.modules or not hasattr(sys.modules["config"], "NAME")
    assert "lib" not in sys.modules
    module = fn.instances[0].module
    assert module.__name__.endswith(".index")  # a private name (documented)


@pytest.mark.inprocess_only("in-process module isolation")
def test_instance_modules_leave_sys_modules_when_the_instance_stops(emulate):
    fn = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    fn.invoke()
    prefix = fn.instances[0].module.__name__.partition(".")[0]
    assert any(name.startswith(prefix) for name in sys.modules)
    finders_before = list(sys.meta_path)
    fn.close()
    assert not any(name.startswith(prefix) for name in sys.modules)
    assert len(sys.meta_path) == len(finders_before) - 1
    # Instance.module stays usable for white-box assertions.
    assert fn.instances[0].module.store.COUNTER == ["init", "call"]


@pytest.mark.inprocess_only("in-process module isolation")
def test_mocks_set_in_the_test_reach_user_code(emulate, monkeypatch):
    fn = emulate(index="""
        import json
        import os.path
        def init(context):
            pass
        def handler(event, context):
            return {"dumped": json.dumps(1), "exists": os.path.exists("/surely/not/here"),
                    "opened": open("anything").read()}
    """)
    monkeypatch.setattr("json.dumps", lambda value: "patched")
    monkeypatch.setattr("os.path.exists", lambda path: True)

    class FakeFile:
        def read(self):
            return "fake"

    monkeypatch.setattr(builtins, "open", lambda *a, **k: FakeFile())
    assert fn.invoke().result == {"dumped": "patched", "exists": True, "opened": "fake"}


@pytest.mark.inprocess_only("in-process module isolation")
def test_a_mock_set_after_the_instance_loaded_still_reaches_it(emulate, monkeypatch):
    fn = emulate(index="""
        import socket
        def init(context):
            pass
        def handler(event, context):
            return socket.gethostname()
    """)
    assert fn.invoke().ok
    monkeypatch.setattr("socket.gethostname", lambda: "mocked-host")
    assert fn.invoke().result == "mocked-host"


def test_two_emulators_of_the_same_code_do_not_share_state(emulate):
    one = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    two = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    one.invoke()
    one.invoke()
    assert two.invoke().result["counter"] == ["init", "call"]


def test_the_environment_has_runtime_variables_and_user_data_but_no_secrets(emulate):
    fn = emulate(index="""
        import os
        AT_IMPORT = os.environ.get("DB_URL")
        def init(context):
            pass
        def handler(event, context):
            return {k: v for k, v in os.environ.items()
                    if k.startswith("RUNTIME_") or k in ("DB_URL", "PASSWORD", "AT_IMPORT")} | {
                    "AT_IMPORT": AT_IMPORT}
    """, user_data={"DB_URL": "pg://db"}, encrypted_user_data={"PASSWORD": "s3cr3t-value"},
        func_name="orders", memory_size=512, timeout=30)
    env = fn.invoke().result
    assert env["DB_URL"] == env["AT_IMPORT"] == "pg://db"
    assert "PASSWORD" not in env
    assert env["RUNTIME_FUNC_NAME"] == "orders"
    assert env["RUNTIME_MEMORY"] == "512"
    assert env["RUNTIME_TIMEOUT"] == "30"
    assert env["RUNTIME_HANDLER"] == "index.handler"
    assert env["RUNTIME_INITIALIZER_HANDLER"] == "index.init"
    assert env["RUNTIME_MAX_RESP_BODY_SIZE"] == "6291456"
    assert "s3cr3t-value" not in repr(env)
    fn.close()
    assert "RUNTIME_FUNC_NAME" not in os.environ and os.environ.get("DB_URL") != "pg://db"


@pytest.mark.parametrize("run", [1, 2])
def test_no_state_survives_from_one_test_to_the_next(emulate, run):
    # Run twice: the second run would see "init" twice if anything leaked across tests.
    fn = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    assert fn.invoke().result["counter"] == ["init", "call"]


@pytest.mark.inprocess_only("in-process module isolation")
def test_environment_changes_made_by_user_code_are_undone_at_close(emulate, monkeypatch):
    monkeypatch.setenv("KEPT_BY_TEST", "original")
    monkeypatch.setenv("REMOVED_BY_USER_CODE", "here")
    fn = emulate(index="""
        import os
        def init(context):
            os.environ["SET_BY_USER_CODE"] = "leak"
            os.environ["KEPT_BY_TEST"] = "changed"
            del os.environ["REMOVED_BY_USER_CODE"]
        def handler(event, context):
            return os.environ["SET_BY_USER_CODE"]
    """)
    assert fn.invoke().result == "leak"
    fn.close()
    assert "SET_BY_USER_CODE" not in os.environ
    assert os.environ["KEPT_BY_TEST"] == "original"
    assert os.environ["REMOVED_BY_USER_CODE"] == "here"


def test_a_module_added_to_the_code_root_is_seen_by_the_next_instance(emulate):
    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            return "v1"
    """)
    assert fn.invoke({}).result == "v1"
    root = fn.config.code_root
    (root / "helper.py").write_text("VALUE = 'v2'\n")
    (root / "index.py").write_text(
        "import helper\ndef init(context):\n    pass\n"
        "def handler(event, context):\n    return helper.VALUE\n")
    fn.recycle()  # a code update: new instances load the new code
    assert fn.invoke({}).result == "v2"


@pytest.mark.inprocess_only("in-process module isolation")
def test_instances_share_compiled_code_but_never_module_state(emulate):
    fn = emulate(index=PACKAGE_FUNCTION, modules=PACKAGE_MODULES)
    fn.invoke()
    fn.recycle()
    fn.invoke()
    one, two = (i.module for i in fn.instances)
    assert one.handler.__code__ is two.handler.__code__  # compiled once
    assert one.store is not two.store and one.store.COUNTER is not two.store.COUNTER


def test_packages_the_function_vendors_win_over_the_test_processes_copies(emulate):
    """``six`` is loaded in the test process (and in the fork server), by freezegun's
    dependencies: a code root that bundles its own copy gets its own copy."""
    import six  # noqa: F401  - the point: it is loaded here

    fn = emulate(index="""
import six
def init(context):
    pass
def handler(event, context):
    return six.WHO
""", modules={"six": "WHO = 'the function own six'"})
    assert fn.invoke().result == "the function own six"


@pytest.mark.inprocess_only("in-process module isolation")
def test_a_builtin_patched_between_requests_reaches_the_warm_instance(emulate, monkeypatch):
    fn = emulate(index="""
        def init(context):
            pass
        def handler(event, context):
            return GREETING
    """)
    monkeypatch.setattr(builtins, "GREETING", "hello", raising=False)
    assert fn.invoke().result == "hello"
    monkeypatch.setattr(builtins, "GREETING", "patched")
    assert fn.invoke().result == "patched"  # the same warm instance follows the test's builtins
    assert not fn.invocations[-1].cold_start
    fn.advance(1)
    monkeypatch.setattr(builtins, "GREETING", "again")
    assert fn.invoke().result == "again"


def test_a_handler_in_a_package_imports_its_own_modules(emulate):
    fn = emulate(index="", modules={"app.__init__": """
        from . import helper
        def init(context):
            pass
        def handler(event, context):
            return helper.greet(event)
    """, "app.helper": """
        def greet(name):
            return "hello " + name
    """}, handler="app.handler", initializer_handler="app.init")
    inv = fn.invoke("pkg")
    assert inv.ok, inv.error
    assert inv.result == "hello pkg"


def test_a_builtin_the_initializer_installs_reaches_the_handler_of_the_same_request(emulate):
    fn = emulate(index="""
        import gettext
        def init(context):
            gettext.install("fn")  # puts _ into builtins
        def handler(event, context):
            return _("text")
    """)
    try:
        inv = fn.invoke()
        assert inv.ok, inv.error
        assert inv.result == "text"
    finally:
        import builtins

        builtins.__dict__.pop("_", None)
