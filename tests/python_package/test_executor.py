"""forkd.Executor where it differed from ProcessPoolExecutor: forkd going
away under running tasks, an executor dropped without shutdown(), a
multiprocessing Connection as an argument, forkd's children limit,
ProcessPoolExecutor's constructor arguments, map() chunks. Against real
forkds (the session's, and some of their own)."""

import errno
import gc
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import types
import weakref

import pytest

import forkd
import pp_targets as t
from conftest import SLOW, Forkd, _paths
from forkd import _connection, _executor

T = 30 * SLOW           # generous bound for anything that should be quick


# ---- targets (the children import this module by name: path= has it) -------

_MARK = None


def set_mark(value, path=None):
    """An initializer: sets _MARK; raises while the file path exists."""
    global _MARK
    if path is not None and os.path.exists(path):
        raise ValueError("initializer refused: %s exists" % path)
    _MARK = value


def get_mark(x=None):
    return _MARK, x


# ---- helpers ----------------------------------------------------------------

def _wait_for(cond, timeout=T):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _fds():
    return len(os.listdir("/proc/self/fd"))


def _children(d):
    with d.connect() as c:
        return len(c.list())


def _limited_forkd(max_children):
    """A forkd of its own whose [limits] max_children_per_uid is given."""
    d = Forkd("path=%s" % _paths())
    cfg = os.path.join(d.tmp, "forkd.conf")
    with open(cfg, "w") as f:
        f.write("[limits]\nmax_children_per_uid = %d\n" % max_children)
    d.cmd += ["-c", cfg]
    return d.start()


@pytest.fixture
def own_default(monkeypatch):
    """A forkd of its own (python module, no preload) as this process's
    default connection; stopped afterwards."""
    d = Forkd("path=%s" % _paths()).start()
    monkeypatch.setenv("FORKD_SOCKET", d.sock)
    monkeypatch.setenv("FORKD_KEY_FILE", d.keyfile)
    monkeypatch.setattr(_connection, "_default", None)
    yield d
    d.cleanup()


# ---- 1. forkd going away fails the tasks it had, not the executor -----------

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_executor_keeps_working_after_forkd_went_away(own_default, sig):
    d = own_default
    ex = forkd.Executor(2)
    assert ex.submit(t.add, 1, 2).result(T) == 3
    running = ex.submit(t.nap, 2.0)
    assert _wait_for(lambda: _children(d) == 1)
    d.proc.send_signal(sig)
    d.proc.wait(T)
    # The task forkd had fails (its exit status is gone with forkd)...
    assert running.exception(T) is not None
    # ...and so does one submitted while forkd is away, on its own future.
    away = ex.submit(t.add, 1, 2)
    assert isinstance(away.exception(T), OSError)
    d.start()
    # Back: the executor serves again (the first spawn on the connection
    # forkd closed may fail with ConnectionError: nothing was spawned).
    f = ex.submit(t.add, 2, 3)
    if isinstance(f.exception(T), ConnectionError):
        f = ex.submit(t.add, 2, 3)
    assert f.result(T) == 5
    assert [ex.submit(t.add, i, i).result(T) for i in range(3)] == [0, 2, 4]
    ex.shutdown()
    assert not ex._thread.is_alive()


# ---- 2. an executor dropped without shutdown() ------------------------------

def test_dropped_executor_leaves_no_thread_nor_fd(conn):
    def one(i):
        return forkd.Executor(1, connection=conn).submit(t.add, i, i).result(T)

    assert one(0) == 0          # the package's own thread and fds, once
    assert _wait_for(lambda: not any(th.name == "forkd-executor"
                                     for th in threading.enumerate()))
    threads, fds = threading.active_count(), _fds()
    assert [one(i) for i in range(20)] == [2 * i for i in range(20)]
    # As ProcessPoolExecutor: +0 threads, +0 fds once the tasks are done
    # (each executor's thread ends after its task; it held the executor).
    assert _wait_for(lambda: threading.active_count() <= threads and
                     _fds() <= fds), \
        (threading.active_count() - threads, _fds() - fds)


def test_dropped_executor_still_runs_its_tasks(conn):
    ex = forkd.Executor(1, connection=conn)
    fs = [ex.submit(t.nap, 0.2) for _ in range(3)]
    ref = weakref.ref(ex)
    th = ex._thread
    del ex
    # The thread does not keep it alive (it holds it only while it starts
    # tasks).
    assert _wait_for(lambda: gc.collect() >= 0 and ref() is None)
    # Running and queued tasks go on; the caller holds their futures.
    assert [f.result(T) for f in fs] == [0.2] * 3
    th.join(T)
    assert not th.is_alive()


# ---- 3. a multiprocessing Connection as an argument is pickled once ---------

def test_connection_argument_leaks_no_fd(conn):
    from multiprocessing import resource_sharer
    r, w = multiprocessing.Pipe(duplex=False)
    a, b = socket.socketpair()
    a.settimeout(T)
    try:
        with forkd.Executor(2, connection=conn) as ex:
            # Once: the resource sharer's listener.
            assert ex.submit(t.send_through, w, b, -1).result(T) == "sent"
            assert r.recv()[1] == -1 and a.recv(100) == b"sock -1"
            fds = _fds()
            cache = len(resource_sharer._resource_sharer._cache)
            fs = [ex.submit(t.send_through, w, b, i) for i in range(20)]
            assert [f.result(T) for f in fs] == ["sent"] * 20
            assert sorted(r.recv()[1] for _ in range(20)) == list(range(20))
        # Each duplicate was fetched by its child, so released here: none
        # is left in the resource sharer (each pickling made one).
        assert _wait_for(lambda: len(resource_sharer._resource_sharer._cache)
                         <= cache and _fds() <= fds), \
            (len(resource_sharer._resource_sharer._cache) - cache,
             _fds() - fds)
    finally:
        for x in (r, w, a, b):
            x.close()


# ---- 4. forkd's max_children_per_uid: "try later", not a failed task --------

def test_executor_waits_for_the_children_limit(monkeypatch):
    d = _limited_forkd(4)
    hogs = []
    try:
        with d.connect() as c:
            # More workers than forkd allows children: the rest queue.
            with forkd.Executor(8, connection=c) as ex:
                fs = [ex.submit(t.nap, 0.5) for _ in range(10)]
                assert [f.exception(T) for f in fs] == [None] * 10
            # Other children hold every place, none of the executor's
            # runs: it retries after a back-off until one ends.
            hogs = [forkd.Process(target=t.nap, args=(1.0,), connection=c)
                    for _ in range(4)]
            for p in hogs:
                p.start()
            with forkd.Executor(2, connection=c) as ex:
                fs = [ex.submit(t.add, i, 1) for i in range(3)]
                assert [f.result(T) for f in fs] == [1, 2, 3]
            assert all(p.exitcode == 0 for p in hogs)
            # They never end: it gives up after _AGAIN_GIVE_UP...
            hogs = [forkd.Process(target=t.forever, connection=c)
                    for _ in range(4)]
            for p in hogs:
                p.start()
            monkeypatch.setattr(_executor, "_AGAIN_GIVE_UP", 0.5)
            ex = forkd.Executor(1, connection=c)
            t0 = time.monotonic()
            e = ex.submit(t.add, 1, 2).exception(T)
            assert isinstance(e, forkd.SpawnError) and \
                e.errno == errno.EAGAIN and \
                "max_children_per_uid" in e.strerror, e
            assert time.monotonic() - t0 >= 0.5
            # ...or at shutdown(cancel_futures=True).
            monkeypatch.setattr(_executor, "_AGAIN_GIVE_UP", 60.0)
            f = ex.submit(t.add, 1, 2)
            queued = ex.submit(t.add, 3, 4)
            assert _wait_for(f.running)
            time.sleep(0.2)
            ex.shutdown(wait=True, cancel_futures=True)
            e = f.exception(T)
            assert isinstance(e, forkd.SpawnError) and \
                e.errno == errno.EAGAIN, e
            assert queued.cancelled()
            for p in hogs:
                p.kill()
                p.join(T)
            # Another refusal still fails its task at once.
            with forkd.Executor(1, connection=c, cwd="/nonexistent") as ex:
                e = ex.submit(t.add, 1, 2).exception(T)
                assert isinstance(e, forkd.SpawnError) and \
                    e.errno == errno.ENOENT, e
    finally:
        for p in hogs:
            try:
                p.kill()
            except Exception:
                pass
        d.cleanup()


# ---- 5. ProcessPoolExecutor's constructor arguments -------------------------

def test_process_pool_executor_arguments():
    with pytest.raises(TypeError, match="cannot be interpreted as an int"):
        forkd.Executor(2.5)
    with pytest.raises(ValueError, match="greater than 0"):
        forkd.Executor(0)
    forkd.Executor(2, max_tasks_per_child=None).shutdown()
    forkd.Executor(2, max_tasks_per_child=1).shutdown()
    with pytest.raises(ValueError, match="fresh child"):
        forkd.Executor(2, max_tasks_per_child=2)
    with pytest.raises(TypeError, match="integer"):
        forkd.Executor(2, max_tasks_per_child="1")
    forkd.Executor(2, mp_context=None).shutdown()
    with pytest.raises(ValueError, match="forked by forkd"):
        forkd.Executor(2, mp_context=multiprocessing.get_context("spawn"))
    with pytest.raises(TypeError, match="initializer must be a callable"):
        forkd.Executor(2, initializer=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        forkd.Executor(2, bogus=1)


def test_initializer_runs_in_each_child(conn, tmp_path):
    with forkd.Executor(2, connection=conn, initializer=set_mark,
                        initargs=("ready",)) as ex:
        assert [ex.submit(get_mark, i).result(T) for i in range(3)] == \
            [("ready", i) for i in range(3)]
        assert list(ex.map(get_mark, range(5), chunksize=2)) == \
            [("ready", i) for i in range(5)]
        assert ex.submit(t.add, 1, 2).result(T) == 3
    # Without one, nothing runs before the task.
    with forkd.Executor(1, connection=conn) as ex:
        assert ex.submit(get_mark, 0).result(T) == (None, 0)
    # An initializer that raises fails that task only (a
    # ProcessPoolExecutor would be broken for good).
    flag = tmp_path / "refuse"
    flag.touch()
    with forkd.Executor(1, connection=conn, initializer=set_mark,
                        initargs=("ok", str(flag))) as ex:
        with pytest.raises(ValueError, match="initializer refused"):
            ex.submit(get_mark, 1).result(T)
        flag.unlink()
        assert ex.submit(get_mark, 2).result(T) == ("ok", 2)


def test_initializer_with_a_task_of_a_main_without_a_file(conn,
                                                         monkeypatch):
    # The task travels pickled then, and still says at submit() what
    # start() would refuse.
    main = types.ModuleType("__main__")
    exec("def f():\n    return 1\n", main.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", main)
    with forkd.Executor(1, connection=conn, initializer=set_mark,
                        initargs=(1,)) as ex:
        with pytest.raises(ValueError, match="no file"):
            ex.submit(main.f)


# ---- 6. map() chunks: a list of argument tuples, no itertools pickle --------

def test_map_chunks_as_process_pool_executor(conn):
    with forkd.Executor(2, connection=conn) as ex:
        assert list(ex.map(t.add, range(7), range(7), chunksize=3)) == \
            [2 * i for i in range(7)]
        # As ProcessPoolExecutor: the chunks before the failing one are
        # yielded, then its exception (none of that chunk's results).
        got = []
        with pytest.raises(TypeError):
            for x in ex.map(t.add, [0, 1, 2, 3, None, 5, 6], [0] * 7,
                            chunksize=3):
                got.append(x)
        assert got == [0, 1, 2]


def test_map_chunks_and_initializer_under_allow():
    # What the README says an allow= list needs: the helpers by name, and
    # no builtins:list, builtins:iter nor itertools:starmap.
    d = Forkd("path=%s,allow=pp_targets:add,test_executor:get_mark,"
              "test_executor:set_mark,forkd._executor:_run_chunk,"
              "forkd._executor:_with_initializer" % _paths()).start()
    try:
        with d.connect() as c:
            with forkd.Executor(2, connection=c) as ex:
                assert list(ex.map(t.add, range(7), range(7),
                                   chunksize=3)) == [2 * i for i in range(7)]
            with forkd.Executor(2, connection=c, initializer=set_mark,
                                initargs=("x",)) as ex:
                assert ex.submit(get_mark, 1).result(T) == ("x", 1)
                assert list(ex.map(get_mark, range(3), chunksize=2)) == \
                    [("x", i) for i in range(3)]
    finally:
        d.cleanup()

