"""A folder standing in for the OBS bucket, per test, given to the function as ``OBS_ROOT``."""

import pytest

OBS_ROOT = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def bucket(request, tmp_path):
    """The ``uploads`` bucket: a folder the test puts images in."""
    (tmp_path / "uploads").mkdir()
    request.node.stash[OBS_ROOT] = str(tmp_path)
    return tmp_path / "uploads"


def pytest_fginit_adjust_config(fields, item):
    root = item.stash.get(OBS_ROOT, None)
    if root is not None:
        fields["user_data"] = {**fields.get("user_data", {}), "OBS_ROOT": root}
