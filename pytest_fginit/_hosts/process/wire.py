"""Framed pickle messages over a Unix stream socket, and what crosses in them. [test process,
fork server, instance process]

How the test process talks to the fork server and to each instance process: a message is a
4-byte length and a pickle. File descriptors travel with a message's first bytes (SCM_RIGHTS),
so the reading side always reads a header with room for them.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import os
import pickle
import select
import socket
import struct
from collections.abc import Callable, Sequence
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


class DescriptorsDropped(OSError):
    """A message came with descriptors this process had no room for (it has as many open as
    its ``RLIMIT_NOFILE`` allows): the kernel closed them. The message was read (``message``),
    so the stream is intact."""

    def __init__(self, message: Any) -> None:
        super().__init__(errno.EMFILE, "descriptors sent with a message were dropped: this "
                                       "process has as many open as its limit allows")
        self.message = message


class Channel:
    """One end of a socket pair, sending and receiving whole messages."""

    __slots__ = ("_poller", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._poller = select.poll()  # (not select(): descriptors may be numbered past 1024)
        self._poller.register(sock.fileno(), select.POLLIN)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: Any, fds: Sequence[int] = (), *,
             reading: Callable[[], object] | None = None) -> None:
        """Send a whole message. With ``reading``, never wait on a full buffer alone: while
        the socket takes no more, ``reading()`` is called each time a message can be read
        (the other end may be blocked on its own full buffer, waiting for us to read)."""
        self.send_frame(frame_of(message), fds, reading=reading)

    def send_frame(self, data: bytes, fds: Sequence[int] = (), *,
                   reading: Callable[[], object] | None = None) -> None:
        """Send a message already made into a frame (`frame_of`)."""
        frame = memoryview(data)
        try:
            if fds:
                frame = frame[socket.send_fds(self.sock, [frame], list(fds)):]
            if reading is None:
                self.sock.sendall(frame)
                return
            while frame:
                ready = self._wait_to_send()
                if ready & select.POLLIN:
                    reading()
                if ready & (select.POLLOUT | select.POLLHUP | select.POLLERR):
                    with contextlib.suppress(BlockingIOError):
                        frame = frame[self.sock.send(frame, socket.MSG_DONTWAIT):]
        except (BrokenPipeError, ConnectionResetError):
            raise ChannelClosed from None

    def _wait_to_send(self) -> int:
        poller = select.poll()
        poller.register(self.sock.fileno(), select.POLLIN | select.POLLOUT)
        return sum(events for _, events in poller.poll())

    def recv(self) -> Any:
        """The next message (on a channel that carries no file descriptors)."""
        (length,) = _LENGTH.unpack(self._exactly(_LENGTH.size))
        return pickle.loads(self._exactly(length))

    def recv_with_fds(self) -> tuple[Any, list[int]]:
        try:
            head, fds, flags, _addr = socket.recv_fds(self.sock, _LENGTH.size, _MAX_FDS)
        except ConnectionResetError:
            raise ChannelClosed from None
        for fd in fds:  # (received descriptors are inheritable: these are ours alone)
            os.set_inheritable(fd, False)
        if not head:
            raise ChannelClosed
        if flags & socket.MSG_CTRUNC:  # descriptors sent that this process had no room for
            for fd in fds:
                os.close(fd)
            head += self._exactly(_LENGTH.size - len(head))
            (length,) = _LENGTH.unpack(head)
            # (the message is read all the same: the stream stays whole)
            raise DescriptorsDropped(pickle.loads(self._exactly(length)))
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


def frame_of(message: Any) -> bytes:
    """A message as it goes on the wire: its length, then its pickle. (An event is at most
    `dispatch.MAX_EVENT_DEPTH` levels deep, checked before anything runs: far within what
    pickle, which recurses twice a level, takes at Python's recursion limit.)"""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


class Outbox:
    """Messages on their way out of a process that must never wait for its reader (the fork
    server: it must go on reading the test process's messages, or both could wait on full
    buffers). `put` queues a message and sends what the socket takes now; `flush` sends more
    when it can take more (when `pending`, the owner polls the socket for ``POLLOUT``).
    Descriptors sent with a message are the outbox's: it closes them once sent."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._queue: collections.deque[tuple[memoryview, list[int]]] = collections.deque()

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def put(self, message: Any, fds: Sequence[int] = ()) -> None:
        self._queue.append((memoryview(frame_of(message)), list(fds)))
        self.flush()

    def flush(self) -> None:
        """Send what the socket takes without waiting (ChannelClosed: the reader is gone)."""
        queue = self._queue
        try:
            while queue:
                frame, fds = queue[0]
                if fds:
                    sent = socket.send_fds(self.sock, [frame], fds, socket.MSG_DONTWAIT)
                    for fd in fds:  # (they went with the first byte)
                        os.close(fd)
                    fds.clear()
                else:
                    sent = self.sock.send(frame, socket.MSG_DONTWAIT)
                frame = frame[sent:]
                if frame:
                    queue[0] = (frame, fds)
                    return
                queue.popleft()
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            self.discard()
            raise ChannelClosed from None

    def descriptors(self) -> tuple[int, ...]:
        """The descriptors waiting to be sent (a forked child closes its copies)."""
        return tuple(fd for _, fds in self._queue for fd in fds)

    def discard(self) -> None:
        while self._queue:
            for fd in self._queue.popleft()[1]:
                os.close(fd)


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
    try:
        message = str(exc)
    except Exception:  # (as Python's tracebacks print an exception whose __str__ fails)
        message = "<exception str() failed>"
    return _ExceptionCarrier(blob, type(exc).__name__, message)


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
