"""forkd.Executor: a concurrent.futures.Executor, one fresh child per task."""

from __future__ import annotations

import collections
import errno
import itertools
import operator
import os
import select
import signal
import threading
import time
import weakref
from concurrent.futures import Executor as _BaseExecutor
from concurrent.futures import Future
from typing import Any, Callable, Iterable, Iterator

from . import _process
from ._connection import Connection
from ._errors import SpawnError
from ._process import (Process, _check_not_importing_main, _close_fds,
                       _interrupt_at_exit, check_spawn_options, cpu_count,
                       main_path)

__all__ = ["Executor"]


# The work of executors with tasks left (an executor dropped without
# shutdown() included), finished at exit as concurrent.futures does.
_live: "weakref.WeakSet[_Work]" = weakref.WeakSet()

# A spawn forkd refuses with EAGAIN (max_children_per_uid, max_spawn_rate:
# "try later") is retried: when a task of the executor ends, and after a
# back-off from _AGAIN_FIRST doubling up to _AGAIN_MAX seconds. The task
# fails with that error once forkd has refused it for _AGAIN_GIVE_UP
# seconds while no task of the executor was running (then none of its
# own children holds the place it waits for).
_AGAIN_FIRST = 0.05
_AGAIN_MAX = 1.0
_AGAIN_GIVE_UP = 60.0


def _interrupt_all() -> None:
    for work in list(_live):
        work.interrupt()


_process._on_interrupt.append(_interrupt_all)


def _shutdown_at_exit() -> None:
    # Ending on a KeyboardInterrupt: the queued tasks are cancelled and
    # the running ones interrupted (their futures fail), as a Ctrl-C
    # breaks a ProcessPoolExecutor.
    _interrupt_at_exit()
    for work in list(_live):
        try:
            work.shutdown(wait=True)
        except Exception:
            pass


def _chunks(iterables: tuple, chunksize: int) -> Iterator[list]:
    it = zip(*iterables)
    while chunk := list(itertools.islice(it, chunksize)):
        yield chunk


def _run_chunk(fn: Callable[..., Any], chunk: list) -> list:
    """In the child: ``fn(*args)`` for each argument tuple of a map()
    chunk, the results as a list (ProcessPoolExecutor's _process_chunk).
    The first exception fails the whole chunk."""
    return [fn(*args) for args in chunk]


def _with_initializer(initializer: Callable[..., Any], initargs: tuple,
                      fn: Callable[..., Any], args: tuple,
                      kwargs: dict) -> Any:
    """In the child: ``initializer(*initargs)``, then
    ``fn(*args, **kwargs)``. ProcessPoolExecutor runs its initializer once
    per worker; a forkd worker is the task's own child."""
    initializer(*initargs)
    return fn(*args, **kwargs)


class _Task:
    """A queued task: its process object and future; refused is forkd's
    EAGAIN error once it was refused (its future is then running)."""

    __slots__ = ("proc", "fut", "refused")

    def __init__(self, proc: Process, fut: Future) -> None:
        self.proc = proc
        self.fut = fut
        self.refused: BaseException | None = None

    def drop(self) -> None:
        """Cancel it; one forkd refused is running already: it fails with
        that error."""
        if self.refused is not None:
            if not self.fut.done():
                self.fut.set_exception(self.refused)
        else:
            self.fut.cancel()


def _release(proc: Process) -> None:
    """Close an ended task's process object. Its pidfd said it ended, but
    close() asks forkd for the exit status, which fails when forkd went
    away meanwhile (an OSError of the reconnect): let go of the process
    object all the same, or its pidfd stays open for good."""
    try:
        proc.close()
    except Exception:
        with _process._children_lock:
            _process._children.discard(proc)
        if proc._finalizer is not None:
            proc._finalizer()


class _Work:
    """An executor's queue, running tasks and wake-up pipe: what its thread
    needs, apart from the executor. The thread holds this and only a weak
    reference to the executor, so that an executor dropped without
    shutdown() is collected; its thread then ends once no task is left, as
    concurrent.futures' threads do."""

    def __init__(self, max_workers: int) -> None:
        self.pid = os.getpid()      # whose thread runs the tasks
        self.max_workers = max_workers
        self.queue: collections.deque[_Task] = collections.deque()
        self.running: dict[int, _Task] = {}
        self.lock = threading.Lock()
        self.shutdown_flag = False
        self.cancelled = False      # shutdown(cancel_futures=True)
        self.interrupts = 0         # KeyboardInterrupts passed on
        self.broken: BaseException | None = None
        self.thread: threading.Thread | None = None
        # EAGAIN back-off: when to try the refused task at the queue's
        # head again, the next delay, since when forkd has refused.
        self.retry_at: float | None = None
        self.backoff = _AGAIN_FIRST
        self.refused_since: float | None = None
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        # Not at exit: weakref runs the remaining finalizers before our
        # atexit handlers, and a closed fd number may be reused meanwhile.
        weakref.finalize(self, _close_fds, self.wake_r,
                         self.wake_w).atexit = False

    def wake(self) -> None:
        try:
            os.write(self.wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def shutdown(self, wait: bool = True,
                 cancel_futures: bool = False) -> None:
        with self.lock:
            self.shutdown_flag = True
            if cancel_futures:
                self.cancelled = True
                while self.queue:
                    self.queue.popleft().drop()
            t = self.thread
        self.wake()
        if wait and t is not None:
            t.join()

    def interrupt(self) -> None:
        """A KeyboardInterrupt is being passed on to the children: the
        queued tasks are cancelled (later ones run as usual, when the
        program goes on)."""
        with self.lock:
            self.interrupts += 1
            while self.queue:
                self.queue.popleft().drop()

    def start_next(self) -> None:
        """Start queued tasks while there is room."""
        while True:
            now = time.monotonic()
            with self.lock:
                if not self.queue or \
                        len(self.running) >= self.max_workers:
                    return
                if self.retry_at is not None and now < self.retry_at:
                    return      # forkd said "try later"
                task = self.queue.popleft()
                gen = self.interrupts
            if task.refused is None and \
                    not task.fut.set_running_or_notify_cancel():
                continue
            # start() keeps what _prepare() made until the spawn is made:
            # a retry sends the same pickle (a Connection in it is shared
            # once, see Process._prepare()).
            try:
                task.proc.start()
            except SpawnError as e:
                if e.errno == errno.EAGAIN and \
                        self._refused(task, e, now, gen):
                    return
                task.fut.set_exception(e)
                continue
            except BaseException as e:
                task.fut.set_exception(e)
                continue
            with self.lock:
                self.retry_at = None
                self.refused_since = None
                self.backoff = _AGAIN_FIRST
            self.running[task.proc.sentinel] = task
            if self.interrupts != gen:
                # Taken from the queue before a KeyboardInterrupt was
                # passed on, started after: it gets one too.
                try:
                    task.proc._signal(signal.SIGINT)
                except Exception:
                    pass

    def _refused(self, task: _Task, e: SpawnError, now: float,
                 gen: int) -> bool:
        """forkd refused task with EAGAIN: put it back at the queue's head
        for a later try (True), or False when it has waited long enough
        (it then fails with e). A shutdown(cancel_futures=True) or a
        KeyboardInterrupt (which cancel the queued tasks) meanwhile fails
        it with e too."""
        with self.lock:
            if self.cancelled or self.interrupts != gen:
                return False
            if self.refused_since is None:
                self.refused_since = now
            elif not self.running and \
                    now - self.refused_since > _AGAIN_GIVE_UP:
                if not self.queue:
                    # The tasks queued behind it get one try each; a task
                    # submitted later waits as long as this one did.
                    self.refused_since = self.retry_at = None
                    self.backoff = _AGAIN_FIRST
                return False
            task.refused = e
            self.queue.appendleft(task)
            self.retry_at = now + self.backoff
            self.backoff = min(self.backoff * 2, _AGAIN_MAX)
            return True

    def poll_timeout(self) -> int | None:
        """Milliseconds until the refused task's next try (None: none,
        or no room for it: a task's end comes first)."""
        with self.lock:
            if self.retry_at is None or not self.queue or \
                    len(self.running) >= self.max_workers:
                return None
            return max(0, int((self.retry_at - time.monotonic()) * 1000)
                       + 1)

    def finish(self, task: _Task) -> None:
        """A task's child ended: its future gets the outcome. A problem
        here (forkd went away: no exit status) fails this future only."""
        try:
            task.fut.set_result(task.proc.result())
        except BaseException as e:
            task.fut.set_exception(e)
        finally:
            _release(task.proc)
            with self.lock:
                # A place forkd refused may be free now: try at once.
                self.retry_at = None
                if self.refused_since is not None:
                    self.refused_since = time.monotonic()

    def done(self, alive: bool) -> bool:
        """True when the thread may end (lock held): shut down, or the
        executor dropped (not alive), and no task left."""
        return (self.shutdown_flag or not alive) and not self.queue and \
            not self.running


def _manage(ref: "weakref.ref[Executor]", work: _Work) -> None:
    """The executor's thread: start tasks, collect their ends. It holds
    the executor only by ref, for a moment at a time."""
    poller = select.poll()
    poller.register(work.wake_r, select.POLLIN)
    registered: set[int] = set()
    try:
        while True:
            ex = ref()
            if ex is not None:
                ex._start_next()
            else:
                work.start_next()
            del ex
            for fd in work.running:
                if fd not in registered:
                    poller.register(fd, select.POLLIN)
                    registered.add(fd)
            with work.lock:
                if work.done(ref() is not None):
                    _live.discard(work)
                    return
            for fd, _ in poller.poll(work.poll_timeout()):
                if fd == work.wake_r:
                    try:
                        os.read(work.wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                poller.unregister(fd)
                registered.discard(fd)
                work.finish(work.running.pop(fd))
    except BaseException as e:
        # Never leave a caller waiting on a future forever.
        with work.lock:
            work.broken = e
            pending = list(work.queue)
            work.queue.clear()
            _live.discard(work)
        for task in list(work.running.values()) + pending:
            if not task.fut.done():
                task.fut.set_exception(e)
        raise


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

    ProcessPoolExecutor's keyword arguments are accepted where they mean
    something here: *initializer* (with *initargs*) runs in each child
    before its task (once per worker, as in ProcessPoolExecutor: here a
    worker is the task's child); one that raises fails that task only.
    The child then runs ``forkd._executor._with_initializer``, which calls
    both: under the python module's ``allow=`` patterns it needs
    ``forkd._executor:_with_initializer`` besides the initializer's and
    the task's own patterns. *max_tasks_per_child* may only be None or 1
    and *mp_context* only None: forkd forks a fresh child for every task
    itself.

    A spawn forkd refuses for now (EAGAIN: ``max_children_per_uid``,
    ``max_spawn_rate``) goes back to the head of the queue and is tried
    again when a task ends, or after a back-off of 50 ms growing to 1 s;
    it fails with forkd's error after 60 s of refusals while none of
    this executor's tasks runs, or at ``shutdown(cancel_futures=True)``.
    An executor dropped without :meth:`shutdown` runs its tasks to the
    end, then its thread ends, as concurrent.futures' do.
    """

    def __init__(self, max_workers: int | None = None,
                 mp_context: None = None,
                 initializer: Callable[..., Any] | None = None,
                 initargs: tuple = (), *,
                 max_tasks_per_child: int | None = None,
                 connection: Connection | None = None,
                 **spawn_options: Any) -> None:
        check_spawn_options(spawn_options, "Executor()")
        if max_workers is None:
            max_workers = cpu_count()
        else:
            # TypeError for a float, as ProcessPoolExecutor.
            max_workers = operator.index(max_workers)
            if max_workers <= 0:
                raise ValueError("max_workers must be greater than 0")
        if mp_context is not None:
            raise ValueError("mp_context must be None: forkd's children "
                             "are forked by forkd, not by a "
                             "multiprocessing context")
        if max_tasks_per_child is not None:
            if not isinstance(max_tasks_per_child, int):
                raise TypeError("max_tasks_per_child must be an integer")
            if max_tasks_per_child != 1:
                raise ValueError("max_tasks_per_child must be None or 1: "
                                 "forkd.Executor runs every task in a "
                                 "fresh child")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        self._max_workers = max_workers
        self._initializer = initializer
        self._initargs = tuple(initargs)
        self._connection = connection
        self._spawn_options = spawn_options
        self._work = _Work(max_workers)
        self._wake_r, self._wake_w = self._work.wake_r, self._work.wake_w

    @property
    def _thread(self) -> threading.Thread | None:
        return self._work.thread

    def _check_open(self) -> None:
        """RuntimeError once no task may be submitted (lock held)."""
        work = self._work
        if work.pid != os.getpid():
            # os.fork() copied the executor, not its thread: nothing here
            # would ever run a task.
            raise RuntimeError("this forkd.Executor belongs to process %d; "
                               "a process made by os.fork() needs its own"
                               % work.pid)
        if work.broken is not None:
            raise RuntimeError("the executor's thread failed: %r"
                               % (work.broken,))
        if work.shutdown_flag:
            raise RuntimeError("cannot schedule new futures after "
                               "shutdown")

    def submit(self, fn: Callable[..., Any], /, *args: Any,
               **kwargs: Any) -> Future:
        """Schedule ``fn(*args, **kwargs)`` in a fresh child; returns a
        Future. Unpicklable arguments and targets that cannot be looked up
        by name raise here, before anything is sent."""
        work = self._work
        with work.lock:
            self._check_open()      # before anything is pickled
        # A child importing a script without the main guard: say so, not
        # that its __main__ has no file (what _prepare() finds first).
        _check_not_importing_main()
        if self._initializer is not None:
            fn, args, kwargs = _with_initializer, \
                (self._initializer, self._initargs, fn, args, kwargs), {}
        proc = Process(fn, args, kwargs, daemon=True,
                       connection=self._connection, **self._spawn_options)
        proc._mp_daemon = False     # as a ProcessPoolExecutor's worker
        proc._quiet = True          # its exception goes to the future only
        # Check now what start() would refuse, so the caller sees it here;
        # start() sends what this pickled (once: see _prepare()).
        _, in_main, payload = proc._prepare()
        if in_main or (payload is not None and b"__main__" in payload):
            main_path()     # the script start() would send: none is an error
        fut: Future = Future()
        with work.lock:
            self._check_open()
            work.queue.append(_Task(proc, fut))
            _live.add(work)
            if work.thread is None:
                # The thread holds the executor by a weak reference, whose
                # callback wakes it when the executor is dropped.
                ref = weakref.ref(self, lambda _, w=work: w.wake())
                work.thread = threading.Thread(
                    target=_manage, args=(ref, work), daemon=True,
                    name="forkd-executor")
                work.thread.start()
        work.wake()
        return fut

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any],
            timeout: float | None = None,
            chunksize: int = 1) -> Iterator[Any]:
        """Like the built-in map(), each call (or chunk of *chunksize*
        calls) in a child of its own; results in order. Raises the first
        exception when its result is reached (a chunk's exception before
        any of that chunk's results, as ProcessPoolExecutor).

        A chunk runs as ``forkd._executor._run_chunk(fn, chunk)`` in the
        child, the chunk a list of argument tuples: under the python
        module's ``allow=`` patterns it needs
        ``forkd._executor:_run_chunk``, and the forkd package must be
        importable there."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        if chunksize == 1:
            return super().map(fn, *iterables, timeout=timeout)
        parts = super().map(_run_chunk, itertools.repeat(fn),
                            _chunks(iterables, chunksize), timeout=timeout)
        return itertools.chain.from_iterable(parts)

    def shutdown(self, wait: bool = True, *,
                 cancel_futures: bool = False) -> None:
        """No new tasks; *cancel_futures* cancels those not started yet;
        *wait* waits until the running ones are done."""
        self._work.shutdown(wait, cancel_futures)

    def _wake(self) -> None:
        self._work.wake()

    def _start_next(self) -> None:
        """Start queued tasks while there is room."""
        self._work.start_next()

    def _interrupt(self) -> None:
        self._work.interrupt()
