"""forkd.Executor: a concurrent.futures.Executor, one fresh child per task."""

from __future__ import annotations

import collections
import itertools
import os
import select
import signal
import threading
import weakref
from concurrent.futures import Executor as _BaseExecutor
from concurrent.futures import Future
from typing import Any, Callable, Iterable, Iterator

from . import _process
from ._connection import Connection
from ._process import (Process, _close_fds, _interrupt_at_exit, call_ref,
                       check_spawn_options, cpu_count, dump_args, main_path)

__all__ = ["Executor"]


# Executors with work left, finished at exit as concurrent.futures does.
_live: "weakref.WeakSet[Executor]" = weakref.WeakSet()


def _interrupt_all() -> None:
    for ex in list(_live):
        ex._interrupt()


_process._on_interrupt.append(_interrupt_all)


def _shutdown_at_exit() -> None:
    # Ending on a KeyboardInterrupt: the queued tasks are cancelled and
    # the running ones interrupted (their futures fail), as a Ctrl-C
    # breaks a ProcessPoolExecutor.
    _interrupt_at_exit()
    for ex in list(_live):
        try:
            ex.shutdown(wait=True)
        except Exception:
            pass


def _chunks(iterables: tuple, chunksize: int) -> Iterator[tuple]:
    it = zip(*iterables)
    while chunk := tuple(itertools.islice(it, chunksize)):
        yield chunk


class Executor(_BaseExecutor):
    """A :class:`concurrent.futures.Executor` that runs every task in a
    fresh child forked by forkd: no state carries over from one task to
    the next, as with ``ProcessPoolExecutor(max_tasks_per_child=1)``, at a
    fraction of the cost.

    At most *max_workers* children run at once (default:
    :func:`forkd.cpu_count`). *connection* and the other keyword arguments
    are those of :class:`forkd.Process`; the children are daemon children
    (terminated by forkd if this process goes away).

    ``submit(fn, *args, **kwargs)`` returns a :class:`~concurrent.futures.Future`
    whose result is ``fn``'s return value, or its exception with the
    child's traceback as ``__cause__``; a child that died without a result
    sets :exc:`forkd.ProcessError`. It works with asyncio's
    ``loop.run_in_executor()``.
    """

    def __init__(self, max_workers: int | None = None, *,
                 connection: Connection | None = None,
                 **spawn_options: Any) -> None:
        check_spawn_options(spawn_options, "Executor()")
        if max_workers is None:
            max_workers = cpu_count()
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max_workers = max_workers
        self._connection = connection
        self._spawn_options = spawn_options
        self._queue: collections.deque = collections.deque()
        self._running: dict[int, tuple[Process, Future]] = {}
        self._lock = threading.Lock()
        self._shutdown = False
        self._interrupts = 0        # KeyboardInterrupts passed on
        self._broken: BaseException | None = None
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._thread: threading.Thread | None = None
        # Not at exit: weakref runs the remaining finalizers before our
        # atexit handlers, and a closed fd number may be reused meanwhile.
        weakref.finalize(self, _close_fds, self._wake_r,
                         self._wake_w).atexit = False

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> Future:
        """Schedule ``fn(*args, **kwargs)`` in a fresh child; returns a
        Future. Unpicklable arguments and targets that cannot be looked up
        by name raise here, before anything is sent."""
        # Check now what start() would refuse, so the caller sees it here.
        proc = Process(fn, args, kwargs, daemon=True,
                       connection=self._connection, **self._spawn_options)
        proc._mp_daemon = False     # as a ProcessPoolExecutor's worker
        proc._quiet = True          # its exception goes to the future only
        _, in_main, cargs = call_ref(fn, args)
        if in_main:
            main_path()
        if cargs or kwargs:
            dump_args(cargs, kwargs)
        fut: Future = Future()
        with self._lock:
            if self._broken is not None:
                raise RuntimeError("the executor's thread failed: %r"
                                   % (self._broken,))
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after "
                                   "shutdown")
            self._queue.append((proc, fut))
            _live.add(self)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._manage, daemon=True,
                    name="forkd-executor")
                self._thread.start()
        self._wake()
        return fut

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any],
            timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Like the built-in map(), each call (or chunk of *chunksize*
        calls) in a child of its own; results in order. Raises the first
        exception when its result is reached.

        A chunk runs as ``list(itertools.starmap(fn, iter(chunk)))`` in the
        child: under the python module's ``allow=`` patterns it needs
        ``builtins:list``, ``builtins:iter`` and ``itertools:starmap``."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        # A chunk is list(itertools.starmap(fn, chunk)) in the child: no
        # helper module has to be importable there.
        parts = super().map(list, (itertools.starmap(fn, c) for c in
                                   _chunks(iterables, chunksize)),
                            timeout=timeout)
        return itertools.chain.from_iterable(parts)

    def shutdown(self, wait: bool = True, *,
                 cancel_futures: bool = False) -> None:
        """No new tasks; *cancel_futures* cancels those not started yet;
        *wait* waits until the running ones are done."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft()[1].cancel()
            t = self._thread
        self._wake()
        if wait and t is not None:
            t.join()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _start_next(self) -> None:
        """Start queued tasks while there is room."""
        while True:
            with self._lock:
                if not self._queue or \
                        len(self._running) >= self._max_workers:
                    return
                proc, fut = self._queue.popleft()
                gen = self._interrupts
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                proc.start()
            except BaseException as e:
                fut.set_exception(e)
                continue
            self._running[proc.sentinel] = (proc, fut)
            if self._interrupts != gen:
                # Taken from the queue before a KeyboardInterrupt was
                # passed on, started after: it gets one too.
                try:
                    proc._signal(signal.SIGINT)
                except Exception:
                    pass

    def _interrupt(self) -> None:
        """A KeyboardInterrupt is being passed on to the children: the
        queued tasks are cancelled (later ones run as usual, when the
        program goes on)."""
        with self._lock:
            self._interrupts += 1
            while self._queue:
                self._queue.popleft()[1].cancel()

    def _finish(self, proc: Process, fut: Future) -> None:
        try:
            fut.set_result(proc.result())
        except BaseException as e:
            fut.set_exception(e)
        finally:
            try:
                proc.close()
            except ValueError:
                pass

    def _manage(self) -> None:
        """The executor's thread: start tasks, collect their ends."""
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        registered: set[int] = set()
        try:
            while True:
                self._start_next()
                for fd in self._running:
                    if fd not in registered:
                        poller.register(fd, select.POLLIN)
                        registered.add(fd)
                with self._lock:
                    if self._shutdown and not self._queue and \
                            not self._running:
                        _live.discard(self)
                        return
                for fd, _ in poller.poll():
                    if fd == self._wake_r:
                        try:
                            os.read(self._wake_r, 4096)
                        except BlockingIOError:
                            pass
                        continue
                    poller.unregister(fd)
                    registered.discard(fd)
                    proc, fut = self._running.pop(fd)
                    self._finish(proc, fut)
        except BaseException as e:
            # Never leave a caller waiting on a future forever.
            with self._lock:
                self._broken = e
                pending = list(self._queue)
                self._queue.clear()
                _live.discard(self)
            for _, fut in list(self._running.values()) + pending:
                if not fut.done():
                    fut.set_exception(e)
            raise
