"""Tests of the db_pool function (function/index.py + function/pool.py) through pytest-fginit.

The initializer opens a pool of sqlite3 connections once per instance; the handler counts page
hits through it. Each test gets its own database file (see conftest.py), so the hit counter is
"external state": it survives instances, while module globals (the pool, REQUESTS) do not.
"""

import importlib
import json
import sqlite3
import sys
from pathlib import Path

import pytest

from pytest_fginit import InvocationError

PASSWORD = "s3cr3t-Pa55"
CODE_ROOT = Path(__file__).parent / "function"

# The configuration is the deployment's (main.tf, Terraform); the code is in function/, and the
# password comes from CI's secret store in production: given here.
pytestmark = pytest.mark.fginit(
    config="main.tf",
    code_root="function",
    encrypted_user_data={"DB_PASSWORD": PASSWORD},
)


def hit(fg_function, page="home"):
    return fg_function.invoke({"action": "hit", "page": page})


# --- cold start, warm reuse ----------------------------------------------------------------


def test_cold_start_then_warm_requests_reuse_the_pool(fg_function):
    first = hit(fg_function)
    assert first.ok, first.error
    assert first.cold_start
    assert [a.ok for a in first.init_attempts] == [True]
    assert "pool ready: 3 connections to " in first.log
    pool = first.instance.module.POOL
    assert pool is not None
    assert pool.size == 3

    for _ in range(10):
        inv = hit(fg_function)
        assert inv.ok, inv.error
        assert not inv.cold_start
        assert inv.init_attempts == []
        assert inv.init_duration_ms == 0

    # The 10th warm request ran on the same instance, with the very same pool object.
    assert inv.instance is first.instance
    assert inv.instance.module.POOL is pool
    assert inv.instance.initializer_calls == 1
    assert len(fg_function.instances) == 1
    assert len(inv.instance.invocations) == 11
    assert inv.result["hits"] == 11
    assert inv.result["instance_requests"] == 11
    # One checkout by the initializer (schema), one per request; every connection back home.
    assert inv.result["pool"] == {"size": 3, "idle": 3, "checkouts": 12}


# --- initialization failures: real ones (monkeypatch), injected ones (faults) ------------------


def test_first_two_instances_cannot_connect_the_third_serves(fg_function, monkeypatch):
    # sqlite3 lives outside the code root: the function's instances share it with the test,
    # so patching it here reaches the initializer.
    real_connect = sqlite3.connect
    calls = []

    def flaky_connect(database, *args, **kwargs):
        calls.append(database)
        if len(calls) <= 2:
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", flaky_connect)

    inv = hit(fg_function)

    assert inv.ok, inv.error
    assert inv.result["hits"] == 1
    assert [a.ok for a in inv.init_attempts] == [False, False, True]
    for attempt in inv.init_attempts[:2]:
        assert attempt.error.kind == "init_failed"
        assert attempt.error.code == 4201
        assert attempt.error.type == "OperationalError"
        assert attempt.error.message == "unable to open database file"
        assert attempt.error.platform_message == (
            "Fail to run user init handler. err: unable to open database file"
        )
        assert any("pool.py" in line for line in attempt.error.stack_trace)
    assert [i.state for i in fg_function.instances] == ["failed", "failed", "ready"]
    assert [i.initializer_calls for i in fg_function.instances] == [1, 1, 1]
    assert inv.instance is fg_function.instances[2]
    assert fg_function.instances[0].module.POOL is None  # each instance has its own globals
    assert len(calls) == 2 + 3  # one failed connect per broken instance, then a pool of 3
    assert inv.error is None


def test_database_down_for_every_attempt(fg_function, monkeypatch):
    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(sqlite3, "connect", refuse)

    inv = hit(fg_function)

    assert not inv.ok
    assert inv.result is None
    assert inv.instance is None
    assert len(inv.init_attempts) == 4  # init_retries=3: four instances tried
    assert inv.error.kind == "init_failed"
    assert inv.error.code == 4201
    assert inv.error.type == "OperationalError"
    assert inv.error.to_body()["errorMessage"] == (
        "Fail to run user init handler. err: database is locked"
    )
    assert [i.state for i in fg_function.instances] == ["failed"] * 4
    with pytest.raises(InvocationError, match=r"init_failed \(4201\)"):
        inv.raise_for_error()

    # The database comes back: the next request starts over on a fifth instance.
    monkeypatch.undo()
    again = hit(fg_function)
    assert again.ok, again.error
    assert again.cold_start
    assert len(again.init_attempts) == 1
    assert again.instance.id == "instance-5"


@pytest.mark.fginit(init_retries=1)
def test_fewer_retries_configured(fg_function, monkeypatch):
    monkeypatch.setattr(sqlite3, "connect", pytest.fail)  # must not even be reached
    fg_function.faults.initializer.raises(ConnectionRefusedError("db down"), times=2)

    inv = hit(fg_function)

    assert [a.error.type for a in inv.init_attempts] == ["ConnectionRefusedError"] * 2
    assert inv.error.kind == "init_failed"
    assert len(fg_function.instances) == 2


def test_injected_initializer_faults(fg_function):
    fg_function.faults.initializer.hangs().raises(ConnectionResetError("reset by peer"))

    inv = hit(fg_function)

    assert inv.ok, inv.error
    first, second, third = inv.init_attempts
    assert (first.error.kind, first.error.code, first.error.type) == ("init_timeout", 4211, None)
    assert first.error.message == "runtime initialization timed out after 10 s"
    assert first.duration_ms == pytest.approx(10_000, abs=500)
    assert (second.error.kind, second.error.type) == ("init_failed", "ConnectionResetError")
    assert second.error.message == "reset by peer"
    assert third.ok
    # The injected faults replaced the initializer: the abandoned instances never built a pool.
    assert [i.module.POOL is None for i in fg_function.instances] == [True, True, False]
    assert inv.init_duration_ms >= 10_000
    assert inv.billed_duration_ms >= inv.init_duration_ms


# --- handler failures ----------------------------------------------------------------------


def test_handler_exception_keeps_the_instance_warm(fg_function):
    hit(fg_function).raise_for_error()

    bad = fg_function.invoke({"action": "drop", "page": "home"})

    assert not bad.ok
    assert bad.error.kind == "handler_error"
    assert bad.error.code == 4002
    assert bad.error.type == "ValueError"
    assert bad.error.to_body()["errorMessage"] == (
        "function invocation exception, error: unknown action 'drop'"
    )
    assert bad.instance.state == "ready"

    after = hit(fg_function)
    assert after.ok, after.error
    assert not after.cold_start
    assert after.instance is bad.instance
    assert after.result["hits"] == 2
    # The failed request gave its connection back to the pool.
    assert after.result["pool"]["idle"] == 3


def test_handler_timeout_kills_the_instance(fg_function):
    before = hit(fg_function)
    fg_function.faults.handler.hangs()

    hung = hit(fg_function)

    assert hung.error.kind == "handler_timeout"
    assert hung.error.code == 4010
    assert hung.error.message == "function invocation timed out after 3 s"
    assert hung.duration_ms >= 3000
    assert hung.instance is before.instance
    assert hung.instance.state == "killed"

    after = hit(fg_function)
    assert after.ok, after.error
    assert after.cold_start
    assert after.instance is not before.instance
    assert after.instance.initializer_calls == 1
    assert after.instance.module.POOL is not before.instance.module.POOL
    assert after.result["instance_requests"] == 1  # fresh module globals...
    assert after.result["hits"] == 2  # ...same database (the hung request wrote nothing)


def test_recycle_makes_the_next_request_cold(fg_function):
    hit(fg_function)
    warm = hit(fg_function)
    assert not warm.cold_start

    fg_function.recycle()

    assert warm.instance.state == "recycled"
    cold = hit(fg_function)
    assert cold.cold_start
    assert cold.instance is not warm.instance
    assert [i.initializer_calls for i in fg_function.instances] == [1, 1]
    assert cold.result["instance_requests"] == 1
    assert cold.result["hits"] == 3


# --- traffic arriving at once: scale-out, the instance cap, reserved instances -----------------


def test_a_burst_initializes_an_instance_per_request_up_to_max_instance_num(fg_function):
    # main.tf caps the function at max_instance_num = 10: twelve requests at once get ten
    # instances, each opening its own pool against the one database; two are turned away.
    invs = fg_function.invoke_concurrently([{"action": "hit"}] * 12)

    served = [inv for inv in invs if inv.ok]
    assert len(served) == 10
    assert all(inv.cold_start for inv in served)
    assert len({inv.instance.id for inv in served}) == 10
    assert all(inv.instance.module.POOL is not None for inv in served)
    assert [inv.error.code for inv in invs[10:]] == ["FSS.0429", "FSS.0429"]
    assert invs[10].to_api_response().status == 429
    # Every served request counted its hit: concurrent writers, one database. (Two requests
    # may read the same count back: the handler reads after its own transaction, and the
    # requests really run at the same time.)
    assert max(inv.result["hits"] for inv in served) == 10

    again = fg_function.invoke_concurrently([{"action": "get"}] * 10)
    assert not any(inv.cold_start for inv in again)  # the ten are warm now
    assert {inv.result["hits"] for inv in again} == {10}


@pytest.mark.fginit(reserved_instances=2)
def test_reserved_instances_keep_their_pool_through_an_idle_hour(fg_function):
    # Reserved instances initialized when the function started, before any request...
    assert [(i.reserved, i.state) for i in fg_function.instances] == [(True, "ready")] * 2
    assert all(a.ok for a in fg_function.reserved_init_attempts)

    fg_function.advance(3600)  # ...and are not reclaimed for being idle
    invs = fg_function.invoke_concurrently([{"action": "hit"}] * 3)

    assert [inv.cold_start for inv in invs] == [False, False, True]
    assert [inv.instance.reserved for inv in invs] == [True, True, False]
    assert all(inv.ok for inv in invs)


def test_get_does_not_write(fg_function):
    hit(fg_function, "about")
    hit(fg_function, "about")

    inv = fg_function.invoke({"action": "get", "page": "about"})
    missing = fg_function.invoke({"action": "get", "page": "nowhere"})

    assert inv.result["hits"] == 2
    assert missing.result["hits"] == 0


# --- configuration and secrets ---------------------------------------------------------------


def test_user_data_reaches_the_function(fg_function, db_path):
    inv = fg_function.invoke({"action": "config"})

    assert inv.result == {
        "db_path": db_path,
        "pool_size": 3,
        "user": "app",
        "env_db_path": db_path,  # user_data are environment variables too
        "password_in_environ": False,  # encrypted_user_data are not
    }
    assert Path(db_path).is_file()


def test_password_never_shows(fg_function):
    inv = hit(fg_function)
    assert inv.ok, inv.error  # the initializer did receive the right password

    seen = [repr(inv), str(vars(inv)), inv.log, repr(fg_function), repr(fg_function.config)]
    assert all(PASSWORD not in text for text in seen)
    assert "DB_PASSWORD" in repr(fg_function.config)  # the key shows, its value is masked


def test_a_leaked_password_is_masked_in_errors(fg_function):
    # A driver that echoes its connection string in its error message.
    fg_function.faults.initializer.raises(
        ConnectionError(f"cannot connect to sqlite://app:{PASSWORD}@db"), times=4
    )

    inv = hit(fg_function)

    assert inv.error.kind == "init_failed"
    assert inv.error.message == "cannot connect to sqlite://app:******@db"
    for text in (repr(inv), str(inv.error), json.dumps(inv.error.to_body())):
        assert PASSWORD not in text


@pytest.mark.fginit(encrypted_user_data={"DB_PASSWORD": "wrong-password"})
def test_wrong_password_fails_every_attempt(fg_function):
    inv = hit(fg_function)

    assert inv.error.kind == "init_failed"
    assert inv.error.type == "PermissionError"
    assert inv.error.message == "password authentication failed for user 'app'"
    assert len(inv.init_attempts) == 4
    assert "wrong-password" not in repr(inv) + inv.log


# --- a plain unit test, no emulator ----------------------------------------------------------


@pytest.fixture
def index_module(monkeypatch):
    """The function's ``index`` imported the plain way, with the code root on ``sys.path``."""
    names = ("index", "pool")
    saved = {name: sys.modules.pop(name) for name in names if name in sys.modules}
    monkeypatch.syspath_prepend(str(CODE_ROOT))
    module = importlib.import_module("index")
    yield module
    if module.POOL is not None:
        module.POOL.close()
    for name in names:
        sys.modules.pop(name, None)
    sys.modules.update(saved)


def test_handler_unit(index_module, fg_context, tmp_path, capsys):
    context = fg_context(
        func_name="db-pool",
        user_data={"DB_PATH": str(tmp_path / "unit.db"), "POOL_SIZE": "1"},
        encrypted_user_data={"DB_PASSWORD": PASSWORD},
    )
    index_module.init(context)

    first = index_module.handler({"action": "hit", "page": "a"}, context)
    second = index_module.handler({"action": "hit", "page": "a"}, context)

    assert first["hits"] == 1
    assert second["hits"] == 2
    assert second["pool"] == {"size": 1, "idle": 1, "checkouts": 3}
    out = capsys.readouterr().out
    assert "INFO pool ready: 1 connections to " in out
    assert "INFO hit a -> 2" in out
    with pytest.raises(ValueError, match="unknown action 'x'"):
        index_module.handler({"action": "x"}, context)
