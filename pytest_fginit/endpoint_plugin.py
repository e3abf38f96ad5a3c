"""pytest glue for the local endpoint: the ``fg_endpoint`` fixture. [test process]

A second ``pytest11`` entry point rather than more of ``plugin.py``: the fixture is the only
pytest concern of the endpoint, and the HTTP server is imported only when a test asks for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .emulator import FunctionEmulator
    from .endpoint import LocalEndpoint

__all__: list[str] = []  # no API to import: pytest finds the fixture


@pytest.fixture
def fg_endpoint(fg_function: FunctionEmulator) -> Iterator[LocalEndpoint]:
    """The test's ``fg_function`` behind a local FunctionGraph endpoint on a free loopback
    port: ``url``, ``project_id``, ``function_urn()``, ``ak``, ``sk``, and ``client()``, a
    ready ``FunctionGraphClient``. Requests must be signed with this test's random AK/SK."""
    from .endpoint import new_secret_key, serve

    access_key = "FGINIT" + secrets.token_hex(7).upper()
    with serve(fg_function, ak=access_key, sk=new_secret_key()) as endpoint:
        yield endpoint
