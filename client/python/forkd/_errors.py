"""Exceptions of the forkd package."""

from __future__ import annotations

import errno as _errno
import os as _os

__all__ = ["SpawnError", "ProcessError", "RemoteTraceback"]

# Set-up steps of a child, as forkd names them in its reasons (daemon/child.c).
_STEPS = frozenset((
    "signals", "setsid", "fds", "close-fds", "chdir", "exec", "cgroup",
    "rlimits", "umask", "nice", "affinity", "pgroup", "namespaces", "groups",
    "gid", "uid", "userns", "caps", "no-new-privs", "pdeathsig", "hand-over",
))


class SpawnError(OSError):
    """forkd could not start the child.

    ``errno`` is the error code, ``strerror`` forkd's reason and ``step``
    the child set-up step that failed (``"chdir"``, ``"rlimits"``, ...), or
    None when forkd refused the request before forking (a policy, a limit,
    a bad option).
    """

    def __new__(cls, errno: int, strerror: str, step: str | None = None):
        return super().__new__(cls, errno, strerror)

    def __init__(self, errno: int, strerror: str, step: str | None = None):
        self.step = step

    def __reduce__(self):
        return (type(self), (self.errno, self.strerror, self.step))


class SpawnPermissionError(SpawnError, PermissionError):
    """forkd refused the spawn: a policy or a permission (EPERM, EACCES)."""


class SpawnTimeoutError(SpawnError, TimeoutError):
    """forkd did not answer the spawn request in time."""


class SpawnBlockingIOError(SpawnError, BlockingIOError):
    """forkd refused for now (EAGAIN: a limit such as
    max_children_per_uid); as OSError(EAGAIN, ...) is a BlockingIOError."""


class SpawnFileNotFoundError(SpawnError, FileNotFoundError):
    """ENOENT: a working directory, program or module entry missing."""


class SpawnNotADirectoryError(SpawnError, NotADirectoryError):
    """ENOTDIR: a path component is not a directory."""


# OSError(code, ...) is one of these built-in subclasses; a SpawnError of
# that code is too, so that except FileNotFoundError: works on it.
_BY_CODE = {
    _errno.EPERM: SpawnPermissionError, _errno.EACCES: SpawnPermissionError,
    _errno.ETIMEDOUT: SpawnTimeoutError, _errno.EAGAIN: SpawnBlockingIOError,
    _errno.ENOENT: SpawnFileNotFoundError,
    _errno.ENOTDIR: SpawnNotADirectoryError,
}


class ProcessError(Exception):
    """The child ended without a result: killed by a signal, or it left
    through ``sys.exit()`` / ``os._exit()``. ``exitcode`` says how."""

    def __init__(self, message: str, exitcode: int | None = None):
        super().__init__(message)
        self.exitcode = exitcode

    def __reduce__(self):
        return (type(self), (self.args[0], self.exitcode))


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in a forkd child,
    attached as ``__cause__`` of the exception that ``result()`` re-raises
    (as :mod:`concurrent.futures` does for process pools)."""

    def __init__(self, tb: str):
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return self.tb


class RemoteError(Exception):
    """A child's exception that could not be pickled back: its repr and
    its traceback text."""


def spawn_error(e: OSError) -> OSError:
    """The SpawnError for an OSError raised by the extension's spawn()."""
    msg = e.strerror or ""
    code = e.errno or _errno.EIO
    # libforkd does not hand over the step number forkd sends; forkd words
    # a set-up failure as "STEP TARGET: STRERROR" (daemon/spawn.c), while
    # libforkd's own refusals of bad options are sentences of their own.
    first = msg.split(" ", 1)[0]
    step = None
    if first in _STEPS and msg.endswith(": " + _os.strerror(code)):
        step = first
    if code == _errno.ENOENT and msg.startswith("no module entry "
                                                "'python:call'"):
        msg += ("; forkd's Python processes need its python module: start "
                "forkd with -m /path/to/python.so (README, 'The python "
                "module')")
    return _BY_CODE.get(code, SpawnError)(code, msg, step)
