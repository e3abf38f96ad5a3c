"""Framed pickle messages over a Unix stream socket, and what crosses in them. [test process,
fork server, instance process]

How the test process talks to the fork server and to each instance process: a message is a
4-byte length and a pickle. File descriptors travel with a message's first bytes (SCM_RIGHTS),
so the reading side always reads a header with room for them.
"""

from __future__ import annotations

import os
import pickle
import select
import socket
import struct
from collections.abc import Sequence
from typing import Any

_LENGTH = struct.Struct("!I")
_MAX_FDS = 4

INSTANCE_STATUS = struct.Struct("=dqq")
"""The status file an instance process keeps for the test process to read at any time, even
after the instance died: (its clock's lead on real time in seconds, the number of the last
phase that ended, its peak memory in bytes when that phase ended). Written with one
``pwrite``, each time its clock jumps and each time a phase ends."""


class ChannelClosed(EOFError):
    """The process at the other end closed its end, or died."""


class Channel:
    """One end of a socket pair, sending and receiving whole messages."""

    __slots__ = ("_poller", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._poller = select.poll()  # (not select(): descriptors may be numbered past 1024)
        self._poller.register(sock.fileno(), select.POLLIN)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: Any, fds: Sequence[int] = ()) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        frame = memoryview(_LENGTH.pack(len(data)) + data)
        try:
            if fds:
                frame = frame[socket.send_fds(self.sock, [frame], list(fds)):]
            if frame:
                self.sock.sendall(frame)
        except (BrokenPipeError, ConnectionResetError):
            raise ChannelClosed from None

    def recv(self) -> Any:
        """The next message (on a channel that carries no file descriptors)."""
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size))
        return pickle.loads(self._exactly(length))

    def recv_with_fds(self) -> tuple[Any, list[int]]:
        try:
            head, fds, _flags, _addr = socket.recv_fds(self.sock, _LENGTH.size, _MAX_FDS)
        except ConnectionResetError:
            raise ChannelClosed from None
        for fd in fds:  # (received descriptors are inheritable: these are ours alone)
            os.set_inheritable(fd, False)
        if not head:
            raise ChannelClosed
        try:
            head += self._exactly(_LENGTH.size - len(head))
            (length,) = _LENGTH.unpack(head)
            return pickle.loads(self._exactly(length)), fds
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise

    def poll(self, timeout: float) -> bool:
        """Whether a message (or the end) can be read within ``timeout`` seconds."""
        if self.sock.fileno() < 0:
            raise ChannelClosed
        return bool(self._poller.poll(max(timeout, 0.0) * 1000))

    def close(self) -> None:
        self.sock.close()

    def _exactly(self, size: int) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            try:
                n = self.sock.recv_into(view[got:])
            except ConnectionResetError:
                n = 0
            if n == 0:
                raise ChannelClosed
            got += n
        return bytes(buffer)


# --- exceptions on the way to an instance ------------------------------------------------------
# Defined here, on the wire, so that unpickling one in an instance process imports nothing of
# the test process's side.

def portable_exception(exc: BaseException) -> BaseException:
    """``exc`` as it can cross to an instance: pickled inside a carrier that, on arrival, makes
    it again, or, if it does not pickle here or cannot be unpickled there (a class defined in a
    test module the instance cannot import), an exception of a same-named class with the same
    message: what the record shows of it."""
    try:
        blob: bytes | None = pickle.dumps(exc)
    except Exception:
        blob = None
    return _ExceptionCarrier(blob, type(exc).__name__, str(exc))


class _ExceptionCarrier(Exception):
    """Stands for an exception on the way to an instance; unpickles as the exception."""

    def __init__(self, blob: bytes | None, name: str, message: str) -> None:
        super().__init__(blob, name, message)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (revive_exception, self.args)


def revive_exception(blob: bytes | None, name: str, message: str) -> BaseException:
    """The exception a carrier stood for, or a same-named stand-in (in the instance)."""
    if blob is not None:
        try:
            exc: BaseException = pickle.loads(blob)
            return exc
        except Exception:
            pass
    return named_exception(name, message)


def named_exception(name: str, message: str) -> Exception:
    """An exception of a class called ``name`` that pickles (it is made again on arrival)."""
    cls = type(name, (Exception,), {
        "__reduce__": lambda self: (named_exception, (name, str(self))),
    })
    exc: Exception = cls(message)
    return exc
