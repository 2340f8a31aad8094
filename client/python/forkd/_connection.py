"""Connections to forkd: connect() and the per-process default connection."""

from __future__ import annotations

import errno
import os
import select
import threading
import time
from typing import Any, NamedTuple, get_type_hints

from . import _forkd

__all__ = ["Connection", "ExitStatus", "connect"]


class ExitStatus(NamedTuple):
    """How a child ended, as forkd reported it."""

    pid: int
    name: str
    #: The exit status, or -N when signal N killed the child.
    exitcode: int
    utime_us: int
    stime_us: int
    maxrss_kb: int
    #: forkd killed the child at its ``timeout``.
    timed_out: bool
    #: The child's cgroup memory limit killed it.
    oom_killed: bool


# help() shows the fields' types, not ForwardRef('int') (the annotations
# are strings here: from __future__ import annotations).
ExitStatus.__annotations__ = ExitStatus.__new__.__annotations__ = \
    get_type_hints(ExitStatus)


# How long a child known to have ended (its pidfd said so) may take to have
# its ExitEvent arrive before forkd is asked with a Wait request instead.
_EVENT_WAIT = 1.0


def _status(t: tuple) -> ExitStatus:
    return ExitStatus(t[0], t[1], t[2], t[3], t[4], t[5], bool(t[6]),
                      bool(t[7]))


class Connection:
    """An authenticated connection to forkd.

    Made by :func:`connect`. Safe to share between threads: calls are
    serialised by a lock. Children started with ``daemon=True`` on a
    connection are terminated by forkd when it closes (:meth:`close`, or the
    end of this process).
    """

    def __init__(self, socket: str | os.PathLike | None = None,
                 key: str | os.PathLike | None = None):
        self._lock = threading.Lock()
        # A failure is an OSError naming the file (its filename) and the
        # step that failed (its step: key, socket, connect, handshake).
        try:
            self._conn = _forkd.Connection(socket, key)
        except OSError as e:
            _say_defaults(e, socket, key)
            raise
        self._exits: dict[int, ExitStatus] = {}
        self._pid = os.getpid()
        self._dead = False          # forkd closed it (ECONNRESET)
        self._sibling: Connection | None = None
        self.socket = socket
        self.key = key
        # For a child's own default connection: the paths this one was
        # made from, made absolute, by the variable that names them.
        self._child_env: dict[str, str] = {}
        for given, var in ((socket, "FORKD_SOCKET"),
                           (key, "FORKD_KEY_FILE")):
            path = given if given is not None else os.environ.get(var)
            try:
                if path:
                    self._child_env[var] = os.path.abspath(
                        os.fsdecode(path))
            except OSError:     # a relative path, and no cwd
                pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return "<forkd.Connection %s socket=%r>" % (state, self.socket)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once the connection is closed, by :meth:`close` or by
        forkd (which then answered ConnectionResetError)."""
        return self._dead or self._conn.closed

    def _hung_up(self) -> bool:
        """Has forkd closed this connection (idle_timeout_ms, a restart)?
        Seen without sending: a request sent on it would be lost, and
        whether forkd had acted on it unknown."""
        if self.closed:
            return True
        try:
            ev = select.poll()
            ev.register(self._conn.fileno(), select.POLLIN)
            hup = any(e & (select.POLLHUP | select.POLLERR)
                      for _, e in ev.poll(0))
        except (OSError, ValueError):
            hup = True
        if hup:
            self._dead = True
        return hup

    def _call(self, fn, *args, **kw):
        """One extension call under the lock; a connection forkd closed
        is marked so (the default connection is then made again)."""
        if self._pid != os.getpid():
            # Frames are numbered: a forked child's request on its
            # parent's connection breaks that connection for both.
            raise ValueError("this forkd connection belongs to process %d; "
                             "a process made by os.fork() needs its own "
                             "(forkd.connect(), or the default connection, "
                             "which each process makes for itself)"
                             % self._pid)
        with self._lock:
            try:
                return fn(*args, **kw)
            except ConnectionResetError:
                self._dead = True
                raise

    def close(self) -> None:
        """Close the connection. forkd terminates the ``daemon=True``
        children started on it."""
        with self._lock:
            self._conn.close()

    def fileno(self) -> int:
        """The connection's socket."""
        return self._conn.fileno()

    def ping(self) -> None:
        """Round trip to forkd; raises when it does not answer."""
        self._call(self._conn.ping)

    def status(self) -> dict:
        """forkd's status: version, pid, counters, modules."""
        return self._call(self._conn.status)

    def list(self) -> list[dict]:
        """forkd's live children of this uid (every uid's for root)."""
        rows = self._call(self._conn.list)
        keys = ("pid", "name", "target", "daemon", "uid", "started_unix_ms",
                "owned")
        return [dict(zip(keys, r)) for r in rows]

    def _reopen(self) -> "Connection":
        """A connection to the same forkd, for a closed one's children
        and, once forkd has closed this one, for new spawns."""
        with self._lock:
            if self._sibling is None or self._sibling._hung_up():
                self._sibling = Connection(self.socket, self.key)
            return self._sibling

    def _spawn(self, target: str, argv: list[str], **opts: Any) -> tuple:
        return self._call(self._conn.spawn, target, argv, **opts)

    def _event_locked(self, pid: int, timeout: float) -> ExitStatus | None:
        """Read forkd's frames for up to timeout seconds, until pid's
        ExitEvent is among them (lock held); None if it did not come."""
        fd = self._conn.fileno()
        deadline = time.monotonic() + timeout
        p = select.poll()
        p.register(fd, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not p.poll(max(1, int(left * 1000))):
                return None
            self._drain()
            st = self._exits.pop(pid, None)
            if st is not None:
                return st

    def _reported(self, pids: list[int]) -> dict:
        """{pid: exit status} of those of pids whose exit forkd has
        reported on this connection, taken from the cache; no waiting."""
        def take() -> dict:
            self._drain()
            return {pid: self._exits.pop(pid) for pid in pids
                    if pid in self._exits}
        return self._call(take)

    def _signal(self, pid: int, sig: int) -> None:
        self._call(self._conn.signal, pid, sig)

    def _drain(self) -> None:
        """Move queued exit events into the cache (lock held)."""
        self._conn.process()
        while (t := self._conn.next_exit()) is not None:
            self._exits[t[0]] = _status(t)

    def _reap(self, pid: int, timeout: float | None = None,
              ended: bool = False) -> ExitStatus:
        """The exit status of child pid, waiting at most timeout seconds
        (TimeoutError). ended: pid was spawned on this connection and has
        ended (its pidfd is readable), so forkd's ExitEvent is on its way
        here: wait for that rather than ask with a Wait request, a round
        trip to forkd; with a timeout, without holding the lock while
        forkd is silent (other threads' calls go on meanwhile)."""
        if not ended or timeout is None:
            return self._call(self._reap_locked, pid, timeout, ended)
        deadline = time.monotonic() + timeout
        p = select.poll()
        p.register(self._conn.fileno(), select.POLLIN)
        while True:
            st = self._call(self._reap_locked, pid, 0, ended)
            if st is not None:
                return st
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(errno.ETIMEDOUT, "forkd has not reported "
                                   "the exit of child %d yet" % pid)
            p.poll(max(1, int(left * 1000)))

    def _reap_locked(self, pid: int, timeout: float | None,
                     ended: bool = False) -> ExitStatus:
        st = self._exits.pop(pid, None)
        if st is not None:
            return st
        self._drain()
        st = self._exits.pop(pid, None)
        if st is not None:
            return st
        if ended:
            # The event is on its way. With a time limit, _reap() waits
            # for it (timeout 0 here: what has come is in the cache or
            # None).
            if timeout is not None:
                return None
            st = self._event_locked(pid, _EVENT_WAIT)
            if st is not None:
                return st
        st = _status(self._conn.wait(pid, timeout))
        # The exit event of that child is queued too: drop it.
        self._drain()
        self._exits.pop(pid, None)
        return st


def _say_defaults(e: OSError, socket: Any, key: Any) -> None:
    """Add to a failed connection's message that the path was the
    default, none being given nor set in the environment."""
    step = getattr(e, "step", None)
    if e.errno == errno.EPROTOTYPE and isinstance(e.strerror, str):
        e.strerror += (" (not forkd's socket: forkd listens on a "
                       "SOCK_SEQPACKET socket)")
    for given, var, steps in ((socket, "FORKD_SOCKET",
                               ("socket", "connect")),
                              (key, "FORKD_KEY_FILE", ("key",))):
        if step in steps and given is None and not os.environ.get(var) \
                and isinstance(e.strerror, str):
            e.strerror += ("; that is the default: set %s (or pass it to "
                           "forkd.connect()) for another forkd" % var)


def connect(socket: str | os.PathLike | None = None,
            key: str | os.PathLike | None = None) -> Connection:
    """Connect to forkd and authenticate.

    *socket* is forkd's socket path and *key* the key file; each defaults
    to the environment (``FORKD_SOCKET``, ``FORKD_KEY_FILE``), then to
    ``/run/forkd/forkd.sock`` and ``/var/lib/forkd/authkey``, as in
    libforkd. A failure raises an :exc:`OSError` whose message explains
    it, with the file concerned in ``filename`` and the failed ``step``
    (``"key"``, ``"socket"``, ``"connect"``, ``"handshake"``):
    :exc:`FileNotFoundError` or :exc:`ConnectionRefusedError` when forkd
    does not listen there, :exc:`PermissionError` when the key file cannot
    be read or others may read or write it (as forkd and forkctl refuse
    it), or when the socket's permissions do not let this user connect
    (forkd's ``socket_mode``, ``socket_group``), ``OSError(EKEYREJECTED)``
    for a wrong key.

    Whoever holds the key holds forkd's powers: it can run any code as
    forkd's user.
    """
    return Connection(socket, key)


_default_lock = threading.Lock()
_default: Connection | None = None


def default_connection() -> Connection:
    """This process's shared connection, made on first use from the
    environment (FORKD_SOCKET, FORKD_KEY_FILE)."""
    global _default
    with _default_lock:
        c = _default
        # After os.fork() the child makes a connection of its own: two
        # processes must not talk on one (frames are numbered).
        if c is None or c._pid != os.getpid() or c._hung_up():
            c = _default = Connection()
        return c


def _after_fork_in_child() -> None:
    global _default_lock
    _default_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
