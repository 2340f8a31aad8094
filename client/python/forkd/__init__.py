"""forkd for Python: run functions in children of a warm forkserver.

The :mod:`multiprocessing` API, with the children forked by forkd, a
forkserver daemon that has preloaded your heavy imports once (forkd's
``python`` module). Change ``multiprocessing.Process`` to
``forkd.Process``::

    import forkd

    def f(name):
        print("hello", name)

    if __name__ == "__main__":
        p = forkd.Process(target=f, args=("bob",))
        p.start()
        p.join()

forkd must run with the python module (``forkd -m python.so:...``); the
socket and key come from ``FORKD_SOCKET`` and ``FORKD_KEY_FILE`` unless
given to :func:`connect`.
"""

from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION

from ._connection import Connection, ExitStatus, connect
from ._errors import (ProcessError, RemoteError, RemoteTraceback,
                      SpawnBlockingIOError, SpawnError,
                      SpawnFileNotFoundError, SpawnNotADirectoryError,
                      SpawnPermissionError, SpawnTimeoutError)
from . import _executor
from ._executor import Executor
from ._process import (DEVNULL, DoneAndNotDone, Process, active_children,
                       cpu_count, wait)

__version__ = "0.2.0"

__all__ = [
    "ALL_COMPLETED", "Connection", "DEVNULL", "DoneAndNotDone", "Executor",
    "ExitStatus", "FIRST_COMPLETED", "FIRST_EXCEPTION", "Process",
    "ProcessError", "RemoteError", "RemoteTraceback", "SpawnBlockingIOError",
    "SpawnError", "SpawnFileNotFoundError", "SpawnNotADirectoryError",
    "SpawnPermissionError", "SpawnTimeoutError", "active_children",
    "connect", "cpu_count", "wait",
]

# help() and reprs say forkd.Process, not forkd._process.Process; pickles
# of the exceptions name forkd too.
for _obj in (Connection, ExitStatus, connect, ProcessError, RemoteError,
             RemoteTraceback, SpawnError, SpawnPermissionError,
             SpawnTimeoutError, SpawnBlockingIOError, SpawnFileNotFoundError,
             SpawnNotADirectoryError, Executor, DoneAndNotDone, Process,
             active_children, cpu_count, wait):
    _obj.__module__ = __name__
del _obj

import threading as _threading  # noqa: E402

# As concurrent.futures does: before the non-daemon threads are joined and
# before any atexit handler (the script's own included), the executors'
# tasks are finished. forkd.Process's joins are registered with atexit at
# the first start(), as multiprocessing's are.
_threading._register_atexit(_executor._shutdown_at_exit)
