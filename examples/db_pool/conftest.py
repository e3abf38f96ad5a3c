"""Give every test of this folder its own database file.

A marker is static, but each test needs a fresh ``DB_PATH`` (under its ``tmp_path``). The
autouse fixture below runs before ``fg_function`` (pytest sets autouse fixtures up first) and
leaves the path in the test's stash; the plugin's ``pytest_fginit_adjust_config`` hook then adds
it to the function's ``user_data`` before the emulator is built. A ``DB_PATH`` written in a
marker wins.
"""

import pytest

DB_PATH = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def db_path(request, tmp_path):
    """The sqlite file this test's function uses (``user_data["DB_PATH"]``)."""
    path = str(tmp_path / "hits.db")
    request.node.stash[DB_PATH] = path
    return path


def pytest_fginit_adjust_config(fields, item):
    path = item.stash.get(DB_PATH, None)
    if path is None:  # not a test of this folder
        return
    user_data = dict(fields.get("user_data", {}))
    user_data.setdefault("DB_PATH", path)
    fields["user_data"] = user_data
