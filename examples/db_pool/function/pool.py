"""A minimal connection pool over the standard library's ``sqlite3``.

It stands in for a real database driver (PyMySQL, psycopg, ...): the initializer opens the pool
once per instance and every request borrows a connection from it. ``sqlite3.connect`` is looked
up on the module at call time (not ``from sqlite3 import connect``), so a test's
``monkeypatch.setattr(sqlite3, "connect", ...)`` reaches this code.
"""

from __future__ import annotations

import hashlib
import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

# Stands in for the database server's user table: user -> sha256 of the password.
_SERVER_ACCOUNTS = {
    "app": "dbe6bbdf9eab30ea492734af66dc595b61cf4c6b1e7f5e1a6305527b10135778",
}

SCHEMA = "CREATE TABLE IF NOT EXISTS hits (page TEXT PRIMARY KEY, n INTEGER NOT NULL)"


class PoolExhausted(RuntimeError):
    """Every connection of the pool is in use."""


def authenticate(user: str, password: str | None) -> None:
    """What the server does at login; raises ``PermissionError`` on bad credentials."""
    expected = _SERVER_ACCOUNTS.get(user)
    given = hashlib.sha256((password or "").encode()).hexdigest()
    if expected is None or given != expected:
        # Never put the password itself into an error message.
        raise PermissionError(f"password authentication failed for user {user!r}")


class Pool:
    """``size`` open connections to ``db_path``, lent out one request at a time."""

    def __init__(self, db_path: str, connections: list[sqlite3.Connection], user: str) -> None:
        self.db_path = db_path
        self.user = user
        self.size = len(connections)
        self.checkouts = 0
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        for conn in connections:
            self._idle.put(conn)

    @classmethod
    def open(cls, db_path: str, *, size: int, user: str, password: str | None) -> Pool:
        authenticate(user, password)
        connections: list[sqlite3.Connection] = []
        try:
            for _ in range(size):
                conn = sqlite3.connect(
                    db_path, uri=db_path.startswith("file:"), check_same_thread=False
                )
                connections.append(conn)
        except BaseException:
            for conn in connections:
                conn.close()
            raise  # let the initializer fail: the platform retries on a new instance
        return cls(db_path, connections, user)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            raise PoolExhausted(f"all {self.size} connections are in use") from None
        self.checkouts += 1
        try:
            yield conn
        finally:
            self._idle.put(conn)

    def stats(self) -> dict[str, int]:
        return {"size": self.size, "idle": self._idle.qsize(), "checkouts": self.checkouts}

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def __repr__(self) -> str:
        return f"<Pool {self.user}@{self.db_path} size={self.size} checkouts={self.checkouts}>"
