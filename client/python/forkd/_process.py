"""forkd.Process: multiprocessing.Process, with the child forked by forkd."""

from __future__ import annotations

import errno
import fcntl
import itertools
import operator
import os
import pickle
import resource
import select
import selectors
import signal
import sys
import threading
import time
import weakref
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION
from typing import (Any, Callable, Iterable, Mapping, NamedTuple,
                    get_type_hints)

from . import _forkd
from ._connection import (_EVENT_WAIT, Connection, ExitStatus,
                          default_connection)
from ._errors import ProcessError, RemoteError, RemoteTraceback, spawn_error

__all__ = ["Process", "wait", "active_children", "cpu_count",
           "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED",
           "DEVNULL"]

#: For ``stdin``/``stdout``/``stderr``: the child gets /dev/null.
DEVNULL = -1

# The python module's entry and the child's fds (the module's contract).
ENTRY = "python:call"
ARGS_FD = 3
RESULT_FD = 4
PARENT_FD = 5           # a pidfd of this process: parent_process()'s sentinel
TRACKER_FD = 6          # multiprocessing's resource tracker, this process's

# Keyword arguments of Process() and Executor() that are forkd spawn options.
SPAWN_OPTIONS = frozenset((
    "env", "env_replace", "cwd", "stdin", "stdout", "stderr", "timeout",
    "kill_grace", "rlimits", "umask", "nice", "cpus", "pgroup", "uid",
    "gid", "groups", "no_new_privs", "drop_caps", "cgroup", "memory_max",
    "pids_max", "cpu_quota_us", "cpu_period_us", "namespaces",
    "forkd_name",
))

_NAMESPACES = {"pid": _forkd.NS_PID, "mount": _forkd.NS_MOUNT,
               "net": _forkd.NS_NET, "ipc": _forkd.NS_IPC,
               "uts": _forkd.NS_UTS, "user": _forkd.NS_USER}
_PGROUPS = {"session": _forkd.PGROUP_SESSION, "group": _forkd.PGROUP_GROUP}

_counter = itertools.count(1)
# The process object start() is pickling in this thread (__getstate__).
_pickling = threading.local()
_children: set["Process"] = set()
_join_registered = False        # _join_at_exit() is an atexit handler
_children_lock = threading.Lock()


def cpu_count() -> int:
    """The number of CPUs this process may run on
    (``len(os.sched_getaffinity(0))``), which is what a pool should use.
    forkd's children run on forkd's CPUs unless the *cpus* spawn option
    says otherwise."""
    return len(os.sched_getaffinity(0))


def check_spawn_options(opts: Mapping[str, Any], who: str) -> None:
    """Raise TypeError for a keyword that is not a spawn option, and
    TypeError or ValueError, naming the option, for a value start() could
    not send: at construction, not later from start() (or in an
    Executor's future) as a KeyError or AttributeError."""
    for k in opts:
        if k not in SPAWN_OPTIONS:
            raise TypeError("%s got an unexpected keyword argument %r"
                            % (who, k))
    for k, v in opts.items():
        if v is not None:
            _check_value(who, k, v)


def _is_int(v: Any) -> bool:
    """An integer, as the extension takes it (int, numpy's: __index__),
    not a bool."""
    if isinstance(v, bool):
        return False
    try:
        operator.index(v)
    except TypeError:
        return False
    return True


def _check_value(who: str, k: str, v: Any) -> None:
    """check_spawn_options() for one option k (v not None)."""
    def bad(what: str) -> TypeError:
        return TypeError("%s: %s must be %s, not %s"
                         % (who, k, what, type(v).__name__))
    if k == "env":
        if not hasattr(v, "items"):
            raise bad("a mapping of variable names to values")
        for name in v:
            n = _env_str(name)
            if not n or "=" in n:
                raise ValueError("%s: env: %r is not a variable name"
                                 % (who, name))
    elif k in ("stdin", "stdout", "stderr"):
        if _is_int(v):
            if v < 0 and v != DEVNULL:
                raise ValueError("%s: %s=%d: an fd is 0 or more, or "
                                 "forkd.DEVNULL for /dev/null (subprocess's "
                                 "DEVNULL and STDOUT are not forkd's)"
                                 % (who, k, v))
        elif not callable(getattr(v, "fileno", None)):
            raise bad("a file object, an fd or forkd.DEVNULL")
    elif k in ("timeout", "kill_grace"):
        _positive_ms(k, v)
    elif k == "cwd":
        if not isinstance(v, (str, bytes, os.PathLike)):
            raise bad("a path")
    elif k in ("umask", "nice", "uid", "gid", "memory_max", "pids_max",
               "cpu_quota_us", "cpu_period_us"):
        if not _is_int(v):
            raise bad("an int")
    elif k in ("cpus", "groups"):
        try:
            ok = not isinstance(v, (str, bytes)) and all(_is_int(x)
                                                         for x in v)
        except TypeError:
            ok = False
        if not ok:
            raise bad("a sequence of ints")
    elif k == "pgroup":
        if v not in _PGROUPS:
            raise ValueError("%s: pgroup must be one of %s, not %r"
                             % (who, ", ".join(map(repr, _PGROUPS)), v))
    elif k == "namespaces":
        if _is_int(v):
            return
        try:
            names = [v] if isinstance(v, str) else list(v)
        except TypeError:
            raise bad("namespace names or their int mask") from None
        for n in names:
            if n not in _NAMESPACES:
                raise ValueError("%s: unknown namespace %r (known: %s)"
                                 % (who, n, ", ".join(_NAMESPACES)))
    elif k == "rlimits":
        if not hasattr(v, "items"):
            raise bad("a mapping of resources to (soft, hard) limits")
        for res, lim in v.items():
            _rlimit_resource(res)
            lims = lim if isinstance(lim, (tuple, list)) else (lim,)
            if len(lims) not in (1, 2) or not all(
                    x is None or _is_int(x) for x in lims):
                raise ValueError("%s: rlimits[%r] must be a limit or "
                                 "(soft, hard) limits (ints, -1 or None "
                                 "for infinity), not %r" % (who, res, lim))
    elif k == "forkd_name":
        if not isinstance(v, str):
            raise bad("a str")


def _fd_of(obj: Any, default: int) -> int:
    if obj is None:
        # This process's stdout/stderr, if open; else /dev/null.
        if default < 0:
            return default
        try:
            os.fstat(default)
        except OSError:
            return -1
        return default
    if isinstance(obj, int):
        return obj
    return obj.fileno()


def spawn_kwargs(opts: Mapping[str, Any], daemon: bool) -> dict:
    """The extension's spawn() keywords for Process spawn options."""
    kw: dict[str, Any] = {"daemon": bool(daemon), "want_pidfd": True,
                          "stdin": _fd_of(opts.get("stdin"), -1),
                          "stdout": _fd_of(opts.get("stdout"), 1),
                          "stderr": _fd_of(opts.get("stderr"), 2)}
    env = opts.get("env")
    if env is not None:
        kw["env"] = ["%s=%s" % (_env_str(k), _env_str(v))
                     for k, v in env.items()]
        kw["env_replace"] = bool(opts.get("env_replace", False))
    for k in ("cwd", "umask", "nice", "cpus", "uid", "gid", "groups",
              "no_new_privs", "drop_caps", "cgroup", "memory_max",
              "pids_max", "cpu_quota_us", "cpu_period_us"):
        if opts.get(k) is not None:
            kw[k] = opts[k]
    if opts.get("cwd") is not None:
        kw["cwd"] = os.fspath(opts["cwd"])
    else:
        # As multiprocessing's children: in this process's directory, so
        # that relative paths mean the same there (forkd's default is /).
        try:
            kw["cwd"] = os.getcwd()
        except OSError:
            pass                # removed: forkd's default
    if opts.get("forkd_name") is not None:
        kw["name"] = opts["forkd_name"]
    for k, wire in (("timeout", "timeout_ms"),
                    ("kill_grace", "kill_grace_ms")):
        if opts.get(k) is not None:
            kw[wire] = _positive_ms(k, opts[k])
    if opts.get("rlimits") is not None:
        rl = []
        for res, lim in dict(opts["rlimits"]).items():
            soft, hard = lim if isinstance(lim, (tuple, list)) and \
                len(lim) == 2 else (lim, lim)
            rl.append((_rlimit_resource(res), soft, hard))
        kw["rlimits"] = rl
    if opts.get("pgroup") is not None:
        kw["pgroup"] = _PGROUPS[opts["pgroup"]]
    ns = opts.get("namespaces")
    if ns is not None:
        if not isinstance(ns, int):
            ns = sum(_NAMESPACES[n] for n in
                     ({ns} if isinstance(ns, str) else set(ns)))
        kw["namespaces"] = ns
    if kw.get("cgroup") is not None:
        kw["cgroup"] = int(bool(kw["cgroup"]))
    if "umask" not in kw:
        # As a multiprocessing child has its parent's (forkd's own is
        # usually 022: a restrictive umask here must not be lost).
        um = _umask()
        if um is not None:
            kw["umask"] = um
    return kw


def _env_str(x: Any) -> str:
    """An env= key or value as a string (bytes as os.environb has them)."""
    return os.fsdecode(x) if isinstance(x, bytes) else str(x)


def _umask() -> int | None:
    """This process's umask, read without changing it (os.umask() would,
    for a moment, for every thread)."""
    try:
        fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 8192)
    except OSError:
        return None
    finally:
        os.close(fd)
    i = data.find(b"\nUmask:")
    if i < 0:
        return None
    try:
        return int(data[i + 7:data.index(b"\n", i + 1)], 8)
    except ValueError:
        return None


# This process's environment as --environ sends it: (the snapshot it was
# made from, the NAME=VALUE list). Rebuilt when os.environ changes.
_env_cache: list = [None, []]
_ENV_MAX_STRINGS = 400
_ENV_MAX_BYTES = 24576


def _environ_argv(explicit: Mapping[str, Any] | None) -> list:
    """["--environ", N, NAME=VALUE...]: this process's os.environ, for
    the child to set over forkd's (as multiprocessing's children have
    their parent's environment); the spawn's own env= wins. An environment
    too large for one request is not sent (a RuntimeWarning says so)."""
    data = getattr(os.environ, "_data", None)
    if data is None:
        data = {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
    if _env_cache[0] != data:
        import warnings
        # A copy, made in one step: another thread may change os.environ.
        data = dict(data)
        items = []
        size = 0
        for k, v in data.items():
            if b"=" in k or not k:
                continue
            n = len(k) + len(v) + 2
            if n > 4096:
                # forkd takes no longer string.
                warnings.warn("forkd: %s is over 4 KiB: children do not "
                              "get it" % os.fsdecode(k), RuntimeWarning,
                              stacklevel=4)
                continue
            size += n
            items.append(os.fsdecode(k + b"=" + v))
        if size > _ENV_MAX_BYTES or len(items) > _ENV_MAX_STRINGS:
            warnings.warn("forkd: this process's environment (%d variables, "
                          "%d bytes) is too large for a spawn request: "
                          "children get forkd's environment and env= only"
                          % (len(items), size), RuntimeWarning, stacklevel=4)
            items = []
        _env_cache[:] = [data, items]
    items = _env_cache[1]
    if explicit:
        keys = {_env_str(k) for k in explicit}
        items = [kv for kv in items if kv.partition("=")[0] not in keys]
    return ["--environ", str(len(items))] + items if items else []


def _real(x: Any) -> float | None:
    """x as a float when it is a real number (int, float, numpy's,
    Fraction, Decimal), else None."""
    if isinstance(x, (bool, str, bytes, bytearray)):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _positive_ms(name: str, seconds: Any) -> int:
    """Seconds (a positive number) as whole milliseconds, at least 1."""
    secs = _real(seconds)
    if secs is None:
        raise TypeError("%s must be a number of seconds, not %s"
                        % (name, type(seconds).__name__))
    seconds = secs
    if not seconds > 0:
        raise ValueError("%s must be a positive number of seconds (or "
                         "None: none), not %r" % (name, seconds))
    return max(1, int(seconds * 1000))


def _rlimit_resource(res: Any) -> int:
    """A resource of the rlimits option: resource.RLIMIT_NOFILE (an int)
    or its name ("RLIMIT_NOFILE", "nofile")."""
    if isinstance(res, str):
        name = res.upper()
        if not name.startswith("RLIMIT_"):
            name = "RLIMIT_" + name
        value = getattr(resource, name, None)
        if not isinstance(value, int):
            raise ValueError("rlimits: unknown resource %r (want a "
                             "resource.RLIMIT_* constant or its name)"
                             % (res,))
        return value
    if isinstance(res, bool) or not isinstance(res, int):
        raise TypeError("rlimits: a resource is a resource.RLIMIT_* "
                        "constant or its name, not %r" % (res,))
    return res


def target_ref(fn: Callable) -> tuple[str, bool]:
    """("MODULE:QUALNAME", defined in __main__) for a callable the child
    can import by name; ValueError for one it cannot."""
    mod = getattr(fn, "__module__", None)
    qual = getattr(fn, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str) or "<" in qual:
        raise ValueError(
            "forkd runs a target by importing it by name: %r is not a "
            "module-level function or class (lambdas, nested functions and "
            "bound methods of instances cannot be looked up)" % (fn,))
    obj: Any = sys.modules.get(mod)
    for part in qual.split("."):
        obj = getattr(obj, part, None)
    if obj is not fn and obj != fn:
        raise ValueError("forkd runs a target by importing it by name: "
                         "%s:%s is not %r" % (mod, qual, fn))
    return "%s:%s" % (mod, qual), mod in ("__main__", "__mp_main__")


def call_ref(fn: Callable, args: tuple) -> tuple[str, bool, tuple]:
    """(MODULE:QUALNAME, defined in __main__, args) for the child to call:
    fn by name, or, for a callable that cannot be looked up by name (a
    bound method, a functools.partial, a callable instance), operator.call
    with fn pickled as its first argument, as multiprocessing pickles its
    target. ValueError when neither works (a lambda, a nested function)."""
    try:
        ref, in_main = target_ref(fn)
        return ref, in_main, args
    except ValueError as e:
        err = e
    try:
        _dumps(fn)
    except Exception as e:
        raise ValueError("%s; nor can it be pickled: %s" % (err, e)) \
            from None
    return "operator:call", False, (fn,) + tuple(args)


def _mp_current() -> Any:
    """multiprocessing's current_process() when this process has loaded
    multiprocessing (None when not: then it uses nothing of it)."""
    mpp = sys.modules.get("multiprocessing.process")
    return mpp.current_process() if mpp is not None else None


# (__main__ module, its file): CPython removes __main__.__file__ when the
# script's body has run, before the exit handlers that start what an
# Executor still has queued.
_main_file: list = [None, None]


def _remember_main() -> str | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if path and isinstance(path, str):
        path = os.path.abspath(path)
        _main_file[:] = [main, path]
        return path
    if main is not None and _main_file[0] is main:
        return _main_file[1]
    return None


def _check_not_importing_main() -> None:
    """RuntimeError in a child that is importing its client's script
    (forkd's python module marks it as multiprocessing's spawn does):
    the script starts a process at import, without the main guard."""
    cur = _mp_current()
    if cur is not None and getattr(cur, "_inheriting", False):
        raise RuntimeError("""
        An attempt has been made to start a new process before the
        current process has finished its bootstrapping phase.

        This probably means that the script does not protect its entry
        code with the proper idiom:

            if __name__ == '__main__':
                ...

        forkd's child imports the script as __mp_main__ to find its
        targets, as multiprocessing's spawn and forkserver methods do.""")


def _main_module_name() -> str | None:
    """The main module's name when this process runs as ``python -m
    NAME`` (its __spec__), which a child imports by name, as
    multiprocessing's spawn does: relative imports then work there. Not
    for a package's __main__ (spawn skips those too): by path instead."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(spec, "name", None)
    if not isinstance(name, str) or not name or name == "__main__" or \
            name.endswith(".__main__") or "\0" in name:
        return None
    return name


def _main_argv() -> list:
    """How the child finds the main script: --main PATH, and --main-module
    NAME for python -m NAME (the child imports it by name, unless the
    python module's allow= is set: then by path, which must lie in
    path=)."""
    path = ["--main", main_path()]
    name = _main_module_name()
    return path if name is None else ["--main-module", name] + path


def main_path() -> str:
    """The main script's absolute path, for a child to import as
    __mp_main__; ValueError when __main__ has no file."""
    path = _remember_main()
    if not path:
        raise ValueError(
            "the target (or an argument) is defined in __main__, which has "
            "no file here (an interactive session or python -c): forkd's "
            "child imports the main script by path, as multiprocessing's "
            "spawn and forkserver do. Define it in a module or a script.")
    return path


# What of sys.path and sys.argv a spawn request carries (forkd's frame is
# 64 KiB by default, and its argv at most 1024 strings): beyond these,
# the child gets sys.argv = [sys.argv[0]] and no more --path entries.
_PREP_MAX_STRINGS = 256     # sys.argv
_PREP_MAX_BYTES = 16384
_PATH_MAX_ENTRIES = 128     # sys.path
_PATH_MAX_BYTES = 8192
_WARN_MAX_ENTRIES = 16      # sys.warnoptions
_WARN_MAX_BYTES = 2048


_stdlib_dirs: tuple = ()


def _stdlib() -> tuple:
    """(dirs, the same with a trailing separator): this interpreter's
    standard library directories (and zip), which _prep_argv() does not
    send, nor what lies under them: forkd's interpreter has its own, and
    one of another Python version must never come before it."""
    global _stdlib_dirs
    if not _stdlib_dirs:
        import sysconfig
        # The base installation's: in a virtual environment platstdlib
        # is the environment's own lib/pythonX.Y, whose site-packages is
        # just what its children need.
        base = {"installed_base": sys.base_prefix, "base": sys.base_prefix,
                "installed_platbase": sys.base_exec_prefix,
                "platbase": sys.base_exec_prefix}
        dirs = {sysconfig.get_path("stdlib", vars=base),
                sysconfig.get_path("platstdlib", vars=base),
                os.path.join(sys.base_prefix, "lib", "python%d%d.zip"
                             % sys.version_info[:2])}
        dirs = tuple(sorted(d for d in dirs if d))
        _stdlib_dirs = (dirs, tuple(d + os.sep for d in dirs))
    return _stdlib_dirs


def _prep_argv() -> list:
    """["--path", DIR, ..., "--", *sys.argv]: the rest of what
    multiprocessing's spawn hands its child (its preparation data), so
    that the child imports from this process's sys.path (forkd's python
    module adds the entries it lacks, unless its allow= is set) and the
    main script, imported there, reads this process's sys.argv. Each has
    a budget of its own (with --environ's, a request stays within forkd's
    default frame and argv limits): a sys.argv over it goes as its first
    item alone, path entries over it are left out (a RuntimeWarning says
    so)."""

    def size(x: Any) -> int:
        """Bytes of x on the wire; 0 for what forkd cannot take."""
        if not isinstance(x, str) or "\0" in x:
            return 0
        try:
            n = len(os.fsencode(x)) + 1
        except UnicodeError:
            return 0
        return n if n <= 4096 else 0

    out: list = []
    left = [_PATH_MAX_ENTRIES, _PATH_MAX_BYTES]
    cwd = None
    stdlib, under = _stdlib()
    seen: set = set()
    dropped = 0
    for d in sys.path:
        if not isinstance(d, str) or d in stdlib or d.startswith(under):
            continue
        if not os.path.isabs(d):
            if cwd is None:
                try:
                    cwd = os.getcwd()
                except OSError:
                    continue
            d = os.path.normpath(os.path.join(cwd, d))
        if d in seen:
            continue
        seen.add(d)
        n = size(d)
        if not n or left[0] < 1 or left[1] < n:
            dropped += 1
            continue
        left[0] -= 1
        left[1] -= n
        out += ["--path", d]
    if dropped:
        import warnings
        warnings.warn("forkd: %d sys.path entries are not sent (too many, "
                      "too long, or not text): children may not import "
                      "from them" % dropped, RuntimeWarning, stacklevel=4)
    # -W and PYTHONWARNINGS, as the interpreter flags multiprocessing's
    # spawn passes on (the few a forkd child can take).
    wleft = _WARN_MAX_BYTES
    for w in sys.warnoptions[:_WARN_MAX_ENTRIES]:
        n = size(w)
        if 0 < n <= wleft:
            wleft -= n
            out += ["--warnoption", w]
    argv = sys.argv if isinstance(sys.argv, list) else []
    sizes = [size(a) for a in argv]
    if argv and all(sizes) and len(argv) <= _PREP_MAX_STRINGS and \
            sum(sizes) <= _PREP_MAX_BYTES:
        return out + ["--"] + argv
    if sizes and sizes[0]:
        return out + ["--", argv[0]]
    return out


def _dumps(obj: Any) -> bytes:
    """obj pickled as a child gets it: with multiprocessing's
    ForkingPickler where this process has loaded multiprocessing (see
    dump_args()), else with pickle."""
    red = sys.modules.get("multiprocessing.reduction")
    if red is not None:
        return bytes(red.ForkingPickler.dumps(obj, pickle.HIGHEST_PROTOCOL))
    return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)


def dump_args(args: tuple, kwargs: dict,
              what: str = "the arguments") -> bytes:
    """The pickled (args, kwargs), or pickle.PicklingError naming what.

    Where this process has loaded multiprocessing, pickled as its spawn
    method pickles them (its ForkingPickler): a Connection or a socket
    then goes as a duplicate the child fetches from this process (its
    resource sharer, with the authkey the child shares), where plain
    pickle would send a Connection's fd number, which in the child is
    some other fd (the result pipe: its writes corrupted the result)."""
    try:
        return _dumps((tuple(args), dict(kwargs)))
    except Exception as e:
        hint = ""
        if "through inheritance" in str(e):
            # multiprocessing's words for a Queue, Lock, Value, Array...
            hint = (" (a forkd child is forked by forkd, not by this "
                    "process, so it inherits none of them: pass a "
                    "multiprocessing.Manager()'s Queue, Lock or Value, or "
                    "one end of a Pipe(), instead)")
        raise pickle.PicklingError(
            "forkd: %s cannot be pickled: %s%s" % (what, e, hint)) from e


class _Sink:
    """Bytes of one result pipe, collected by the _Collector."""

    __slots__ = ("chunks", "done")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.done = threading.Event()

    def data(self) -> bytes:
        return b"".join(self.chunks)


class _Collector:
    """One thread per process reading every result pipe, so a child
    writing a large result never waits for its parent to ask (which could
    be never: it may be waiting on the sentinel)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._sel = selectors.DefaultSelector()
        self._pending: list[tuple[int, _Sink]] = []
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="forkd-results")
        self._thread.start()

    def add(self, fd: int, sink: _Sink) -> None:
        with self._lock:
            self._pending.append((fd, sink))
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass

    def _run(self) -> None:
        while True:
            for key, _ in self._sel.select():
                if key.data is None:
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    with self._lock:
                        pending, self._pending = self._pending, []
                    for fd, sink in pending:
                        try:
                            self._sel.register(fd, selectors.EVENT_READ,
                                               sink)
                        except (OSError, ValueError):
                            sink.done.set()     # no result to wait for
                    continue
                try:
                    data = os.read(key.fd, 1 << 20)
                except OSError:
                    data = b""
                if data:
                    key.data.chunks.append(data)
                    continue
                self._sel.unregister(key.fd)
                os.close(key.fd)
                key.data.done.set()


_collector: _Collector | None = None
_collector_lock = threading.Lock()


def _collect(fd: int, sink: _Sink) -> None:
    global _collector
    with _collector_lock:
        if _collector is None or _collector.pid != os.getpid():
            _collector = _Collector()
        c = _collector
    c.add(fd, sink)


def _write_all(fd: int, data: memoryview) -> None:
    """Write the rest of a big argument payload, then close the pipe."""
    try:
        os.set_blocking(fd, True)
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except OSError:
        pass        # the child died or closed fd 3: its exit code tells
    finally:
        os.close(fd)


def _close_fds(*fds: int) -> None:
    for fd in fds:
        if fd is not None and fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


_me_lock = threading.Lock()
_me: tuple[int, int] = (-1, -1)     # (pid, a pidfd of that pid)


def _self_pidfd() -> int:
    """A pidfd of this process (opened once per process; -1 where the
    kernel has none), passed to children as parent_process()'s
    sentinel."""
    global _me
    pid = os.getpid()
    with _me_lock:
        if _me[0] != pid:
            try:
                _me = (pid, os.pidfd_open(pid))
            except (AttributeError, OSError):
                _me = (pid, -1)
        return _me[1]


_tracker = (0, -1, 0.0)      # (pid, fd, when checked): _tracker_fd()
_GONE = object()             # Process._ask(): forkd cannot answer


def _tracker_fd() -> int:
    """The pipe to this process's multiprocessing resource tracker,
    started now if it is not running yet (as the forkserver and spawn
    start methods start it), or -1 (also when this process has not loaded
    multiprocessing). A child that registers a shared
    memory segment or semaphore (even one it only attaches to, in Python
    3.11) with a tracker of its own has it unlinked when the child ends;
    with this one, when this process ends, as under spawn."""
    global _tracker
    if "multiprocessing" not in sys.modules:
        # Loading it here would change what this process sends from now
        # on (its authkey, ForkingPickler); a process that has not loaded
        # it has no shared memory or semaphores to share either.
        return -1
    now = time.monotonic()
    pid, fd, when = _tracker
    # getfd() probes the tracker with a write each time: once a second.
    if pid == os.getpid() and now - when < 1.0:
        return fd
    try:
        from multiprocessing import resource_tracker
        fd = resource_tracker.getfd()
    except Exception:
        fd = -1
    _tracker = (os.getpid(), fd, now)
    return fd


def _finalize(pidfd: list) -> None:
    _close_fds(pidfd[0])
    pidfd[0] = -1


def _exitcode_name(code: int) -> str:
    """-SIGTERM for -15, as multiprocessing's repr says it."""
    if code < 0:
        try:
            return "-" + signal.Signals(-code).name
        except ValueError:
            pass
    return str(code)


class Process:
    """A function run in a child forked by forkd from its warm interpreter.

    The counterpart of :class:`multiprocessing.Process`: create it with a
    *target* callable and its *args* and *kwargs*, :meth:`start` it,
    :meth:`join` it. The child is forked by forkd's ``python`` module (not
    by this process): it starts with forkd's preloaded modules imported, and
    runs ``target(*args, **kwargs)``. *target* is looked up by name in
    the child when it is a module-level function or class, else pickled
    (a bound method, a :func:`functools.partial`; not a lambda or a
    nested function, as in multiprocessing); *args* and *kwargs* are pickled,
    and so is the return value, which :meth:`result` gives back. A
    subclass may override :meth:`run` instead: the child then runs it on a
    pickled copy of the object.

    A target defined in the main script is found by importing the script
    in the child as ``__mp_main__``, as multiprocessing's forkserver and
    spawn start methods do: protect the script's entry code with
    ``if __name__ == "__main__":``. As with spawn, the child also gets
    this process's ``sys.argv``, and imports from its ``sys.path`` unless
    forkd's python module restricts targets (``allow=``). The child's own
    default connection goes to the same forkd (``FORKD_SOCKET`` and
    ``FORKD_KEY_FILE`` are set there from *connection*, unless *env* sets
    them), so it can start processes of its own; at its end it joins its
    non-daemon children, as a multiprocessing child does.

    *name* is the process's name (default ``Process-N``). *daemon* True:
    the child is terminated when this process exits, before the
    non-daemon children are joined, as multiprocessing does; and forkd
    terminates it if this process's connection closes first.

    In the child, multiprocessing sees what one of its own children sees:
    ``current_process()`` has this object's name, daemon flag and
    :attr:`authkey` (this process's by default, so proxies of its
    managers work there), and ``parent_process()`` is this process.

    *connection* is a :class:`forkd.Connection` from :func:`forkd.connect`;
    None uses this process's default connection (``FORKD_SOCKET``,
    ``FORKD_KEY_FILE``).

    The remaining keyword arguments are forkd's spawn options:

    - *env* (a mapping set in the child's environment, which is by
      default this process's ``os.environ`` over forkd's, as a
      multiprocessing child has its parent's; ``env_replace`` True: *env*
      is the whole environment), *cwd* (default: this process's
      working directory, as in multiprocessing), *umask* (default: this
      process's);
    - *stdin*, *stdout*, *stderr*: a file object or fd; default /dev/null
      for stdin and this process's fds 1 and 2 for the others;
      :data:`forkd.DEVNULL` for /dev/null;
    - *timeout* (seconds: SIGTERM to the child's group, then SIGKILL
      *kill_grace* seconds later), *rlimits* (``{resource: (soft, hard)}``,
      a resource as ``resource.RLIMIT_NOFILE`` or ``"nofile"``; -1 or None
      for infinity),
      *umask*, *nice*, *cpus*, *pgroup* (``"session"`` or ``"group"``);
    - *cgroup* True with *memory_max*, *pids_max*, *cpu_quota_us*,
      *cpu_period_us*; *namespaces* (names from ``pid``, ``mount``,
      ``net``, ``ipc``, ``uts``, ``user``); *uid*, *gid*, *groups*,
      *no_new_privs*, *drop_caps*; *forkd_name*: the child's name in forkd
      (``forkctl ps``; unique among this uid's live children).

    A spawn that forkd refuses or that fails before the target runs raises
    :exc:`forkd.SpawnError` (a :exc:`PermissionError` when a policy
    refused it) from :meth:`start`.
    """

    def __init__(self, target: Callable[..., Any] | None = None,
                 args: Iterable[Any] = (),
                 kwargs: Mapping[str, Any] = {},  # noqa: B006 (as mp's)
                 name: str | None = None, daemon: bool | None = None, *,
                 group: None = None,
                 connection: Connection | None = None,
                 **spawn_options: Any) -> None:
        if group is not None:
            raise AssertionError("group argument must be None for now")
        if target is None and callable(args):
            # multiprocessing.Process(None, f, ...): its first parameter
            # is group; here the target comes first.
            raise TypeError("forkd.Process() takes the target first: "
                            "Process(target, args=(), kwargs={}, name=None, "
                            "daemon=None); multiprocessing.Process's first "
                            "parameter is group, so Process(None, f, ...) "
                            "becomes Process(f, ...) (or pass target=f)")
        if connection is not None and not isinstance(connection, Connection):
            raise TypeError("Process(): connection must be a "
                            "forkd.Connection (forkd.connect()) or None, "
                            "not %s" % type(connection).__name__)
        check_spawn_options(spawn_options, "Process()")
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs) if kwargs is not None else {}
        # Numbered as multiprocessing numbers its own: this process's
        # identity and the next count (Process-N, or Process-M:N in a
        # child); with the creator's authkey (None: it has none yet).
        cur = _mp_current()
        self._identity = (getattr(cur, "_identity", ()) or ()) + \
            (next(_counter),)
        self._name = name if name is not None else \
            type(self).__name__ + "-" + \
            ":".join(str(i) for i in self._identity)
        self._authkey: bytes | None = \
            cur.authkey if cur is not None else None
        # Executor tasks are forkd daemons (ended with their connection)
        # but not multiprocessing's (which may not have children).
        self._mp_daemon = True
        # True: the child prints no traceback (a task's, as
        # concurrent.futures prints none: result() has it).
        self._quiet = False
        self._daemon = bool(daemon)
        self._parent_pid = os.getpid()
        self._init_local(connection, dict(spawn_options))

    def _init_local(self, connection: Connection | None,
                    spawn_options: dict) -> None:
        """The fields about this object's child here (_LOCAL_FIELDS), as
        before start(): set by __init__, and in the child's copy."""
        self._connection = connection
        self._spawn_options = spawn_options
        self._conn: Connection | None = None
        self._pid: int | None = None
        self._forkd_name: str | None = None
        self._cgroup: str | None = None
        self._pidfd = [-1]
        self._sink: _Sink | None = None
        self._status: ExitStatus | None = None
        self._outcome: tuple | None = None
        self._closed = False
        self._finalizer: weakref.finalize | None = None
        self._copy = False      # True: the child's copy (a subclass's run())
        self._prepared: tuple | None = None     # _prepare()'s, for start()
        self._status_lost = False   # 255: forkd gone, the status unknown

    def __repr__(self) -> str:
        if self._closed:
            state = "closed"
        elif self._pid is None:
            state = "initial"
        elif self._status is not None:
            state = "stopped exitcode=%s" % _exitcode_name(
                self._status.exitcode)
        else:
            state = "started"
        s = "<forkd.Process name=%r" % self._name
        if self._pid is not None and not self._closed:
            s += " pid=%d" % self._pid
        s += " parent=%d %s" % (self._parent_pid, state)
        if self._daemon:
            s += " daemon"
        return s + ">"

    def _check_closed(self) -> None:
        if self._closed:
            raise ValueError("process object is closed")

    def run(self) -> Any:
        """The child's activity: call *target* with *args* and *kwargs*.

        As in multiprocessing, a subclass may override it. The child then
        runs ``run()`` on a copy of this object, pickled at :meth:`start`
        as multiprocessing's spawn and forkserver methods pickle theirs:
        the subclass must be defined at module level, its attributes must
        pickle, and what ``run()`` returns is what :meth:`result` gives.
        In the child, :attr:`pid` is the child's own pid; :meth:`start`,
        :meth:`join` and the other methods that act on a child raise
        :exc:`AssertionError` there. Called directly, it runs in this
        process."""
        if self._target is not None:
            return self._target(*self._args, **self._kwargs)
        return None

    # The fields that describe this object's child here, and the options of
    # its set-up: not sent to the child with a subclass's run().
    _LOCAL_FIELDS = frozenset((
        "_connection", "_spawn_options", "_conn", "_pid", "_forkd_name",
        "_cgroup", "_pidfd", "_sink", "_status", "_outcome", "_closed",
        "_finalizer", "_copy", "_authkey", "_prepared", "_status_lost"))

    def __getstate__(self) -> dict:
        """What a child gets of this object (a subclass's run()): the
        process's name, daemon flag, target, arguments and the subclass's
        own attributes, without this end's connection, pidfd and state.
        Only start() pickles a process object (as multiprocessing, which
        refuses it elsewhere): a copy elsewhere would take its pid for
        its own."""
        if getattr(_pickling, "obj", None) is not self:
            raise TypeError("a forkd.Process object is pickled only by its "
                            "own start(), for a subclass's run()")
        return {k: v for k, v in self.__dict__.items()
                if k not in self._LOCAL_FIELDS}

    def __setstate__(self, state: dict) -> None:
        """Unpickled in the child: the object is the process that runs."""
        self.__dict__.update(state)
        self._init_local(None, {})
        self._authkey = None        # this process's, as multiprocessing's
        self._pid = os.getpid()
        self._copy = True

    def start(self) -> None:
        """Start the child: pickle the arguments (refusing unpicklable ones
        with :exc:`pickle.PicklingError` before anything is sent) and ask
        forkd to run the target in a child of its warm interpreter.
        Raises :exc:`forkd.SpawnError` when forkd refuses or the child's
        set-up fails. At most once per process object."""
        self._check_closed()
        if self._copy:
            raise AssertionError("can only start a process object created "
                                 "by current process")
        if self._pid is not None:
            raise AssertionError("cannot start a process twice")
        if self._parent_pid != os.getpid():
            raise AssertionError(
                "can only start a process object created by current process")
        cur = _mp_current()
        if cur is not None and cur._config.get("daemon"):
            raise AssertionError(
                "daemonic processes are not allowed to have children")
        _check_not_importing_main()
        _forget_ended()
        # Kept until the spawn is made: a retry (an Executor's, after
        # forkd's EAGAIN) sends the same pickle.
        ref, in_main, payload = self._prepared or self._prepare()
        env = self._spawn_options.get("env")
        replace = self._spawn_options.get("env_replace")
        # First after the target: python.c sets these in C.
        argv = [ENTRY, ref] + ([] if replace else _environ_argv(env))
        if in_main or (payload is not None and b"__main__" in payload):
            argv += _main_argv()
        # What the child's multiprocessing.current_process() and
        # parent_process() say. forkd treats a request's arguments as
        # secret (it wipes them once handled; nobody else sees them).
        argv += ["--name", self._name,
                 "--identity", ":".join(str(i) for i in self._identity),
                 "--parent-pid", str(os.getpid()),
                 "--parent-name", cur.name if cur is not None
                 else "MainProcess"]
        key = self._authkey if self._authkey is not None else \
            (cur.authkey if cur is not None else None)
        if key is not None:
            argv += ["--authkey", bytes(key).hex()]
        if self._daemon and self._mp_daemon:
            argv.append("--daemon")
        if self._quiet:
            argv.append("--quiet")
        kw = spawn_kwargs(self._spawn_options, self._daemon)
        conn = self._connection or default_connection()
        if conn._pid == os.getpid() and not conn._conn.closed and \
                conn._hung_up():
            # forkd closed the connection given (idle_timeout_ms, a
            # restart) before this spawn: one to the same forkd instead.
            conn = conn._reopen()
        if not replace:
            # Where the child's own forkd.Process goes: this forkd,
            # unless env= names another.
            for opt, var in (("--forkd-socket", "FORKD_SOCKET"),
                             ("--forkd-key", "FORKD_KEY_FILE")):
                path = conn._child_env.get(var)
                if path is not None and not (env and var in env):
                    argv += [opt, path]
        tracker = _tracker_fd()
        if tracker >= 0:
            argv.append("--resource-tracker")       # on TRACKER_FD
        argv += _prep_argv()

        args_r = args_w = res_r = res_w = -1
        rest = started = None
        res: list = []              # the result pipe's read end, until taken
        spawning = False
        try:
            fds = []
            if payload is not None:
                args_r, args_w = os.pipe2(os.O_CLOEXEC)
                rest = self._prefill(args_w, payload)
                if rest is None:
                    os.close(args_w)
                    args_w = -1
                fds.append((args_r, ARGS_FD))
            res_r, res_w = os.pipe2(os.O_CLOEXEC)
            res.append(res_r)
            fds.append((res_w, RESULT_FD))
            me = _self_pidfd()
            if me >= 0:
                fds.append((me, PARENT_FD))
            if tracker >= 0:
                fds.append((tracker, TRACKER_FD))
            kw["fds"] = fds
            # Nothing buffered here may be written twice or late.
            for f in (sys.stdout, sys.stderr):
                try:
                    f.flush()
                except (AttributeError, ValueError, OSError):
                    pass
            spawning = True
            try:
                started = conn._spawn(ENTRY, argv, **kw)
            except OSError as e:
                if isinstance(e, (ConnectionError, TimeoutError)) and \
                        e.errno != errno.ETIMEDOUT:
                    raise
                raise spawn_error(e) from None
            # The child runs: from here whatever is raised (a signal
            # handler's KeyboardInterrupt), it is kept track of.
            self._started(conn, started, res)
            conn._conn.take_started()
        except BaseException as e:
            _close_fds(args_r, args_w, res_w, *res)
            if spawning and not isinstance(e, OSError):
                # Raised as the spawn returned, its tuple lost: the child
                # is in take_started(), which is emptied either way.
                got = conn._conn.take_started()
                if started is None:
                    started = got
            if started is not None:
                self._started(conn, started, [])
                self._prepared = None
                if isinstance(e, KeyboardInterrupt):
                    try:
                        self._signal(signal.SIGINT)   # passed on
                    except Exception:
                        pass
            raise
        _close_fds(args_r, res_w)
        self._prepared = None
        if args_w >= 0:
            threading.Thread(target=_write_all, args=(args_w, rest),
                             daemon=True, name="forkd-args").start()

    def _started(self, conn: Connection, started: tuple, res: list) -> None:
        """Record the child spawn() started, (pid, name, pidfd, cgroup),
        and collect its result from res's fd (none: res is empty). Again
        after an interruption, it does what is left."""
        global _join_registered
        if self._pid is None:
            self._conn = conn
            _, self._forkd_name, self._pidfd[0], cgroup = started
            self._cgroup = cgroup or None
            self._pid = started[0]      # last: the rest is set
        with _children_lock:
            _children.add(self)
            if not _join_registered:
                # At the first start(), as multiprocessing registers its
                # exit function (util is imported then): the script's own
                # atexit handlers registered before run after the join.
                import atexit
                atexit.register(_join_at_exit)
                _join_registered = True
        if self._finalizer is None:
            self._finalizer = weakref.finalize(self, _finalize, self._pidfd)
            # Not at exit: weakref's own exit hook would close the pidfd
            # before ours joins the children.
            self._finalizer.atexit = False
        if self._sink is None:
            sink = _Sink()
            fd = res.pop() if res else -1
            if fd >= 0:
                _collect(fd, sink)
            else:
                sink.done.set()     # no result pipe
            self._sink = sink

    def _prepare(self) -> tuple[str, bool, bytes | None]:
        """What start() sends for the target: (MODULE:QUALNAME, whether it
        is the main script's, the pickled arguments or None). Raises what
        start() would for a target or arguments it cannot send. Kept in
        _prepared when called before start() (Executor.submit()), so the
        arguments are pickled once: a Connection among them registers a
        duplicate fd with multiprocessing's resource sharer per pickling,
        and only the one the child fetches is ever released."""
        if type(self).run is not Process.run:
            # A subclass's run(): the child calls it on a copy of self.
            try:
                ref, in_main = target_ref(type(self).run)
            except ValueError:
                raise ValueError(
                    "forkd runs %s.run() in the child by importing the "
                    "class by name: define the subclass at module level"
                    % type(self).__qualname__) from None
            _pickling.obj = self
            try:
                payload = dump_args((self,), {}, "the process object")
            finally:
                _pickling.obj = None
        elif self._target is None:
            raise ValueError("forkd.Process needs a target (or a subclass "
                             "that overrides run())")
        else:
            ref, in_main, args = call_ref(self._target, self._args)
            payload = None
            if args or self._kwargs:
                payload = dump_args(args, self._kwargs)
        if in_main:
            _main_argv()    # no main script to send: the error now
        self._prepared = (ref, in_main, payload)
        return self._prepared

    @staticmethod
    def _prefill(fd: int, payload: bytes) -> memoryview | None:
        """Write what the pipe takes now; the rest (None: nothing) is
        written by a thread once the child reads."""
        if len(payload) > 65536:
            try:
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ,
                            min(len(payload), 1 << 20))
            except OSError:
                pass
        os.set_blocking(fd, False)
        view = memoryview(payload)
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            n = 0
        return view[n:] if n < len(view) else None

    # -- waiting ------------------------------------------------------------

    @staticmethod
    def _seconds(timeout: Any) -> float | None:
        """A wait's timeout: None, or seconds (a negative one is 0, an
        infinite one None); TypeError for what is not a number."""
        if timeout is None:
            return None
        secs = _real(timeout)
        if secs is None:
            raise TypeError("timeout must be a number of seconds or None, "
                            "not %s" % type(timeout).__name__)
        timeout = secs
        if timeout != timeout:
            raise ValueError("timeout is NaN")
        if timeout == float("inf"):
            return None
        return max(0.0, timeout)

    def _poll(self, timeout: float | None) -> bool:
        """Wait up to timeout seconds for the child to end; True once its
        exit status is known. The pidfd says when the child has ended;
        forkd, how (its exit event, or a Wait request), within what is
        left of timeout: a forkd that is slow to answer does not hold up
        is_alive() or join(t) past t. A forkd that has gone away (or was
        replaced, and does not know the child) cannot say: the status is
        then 255, as multiprocessing's forkserver reports a child whose
        status it lost, once the pidfd says the child has ended."""
        if self._status is not None:
            return True
        if self._copy:
            return False        # the child's copy: this process runs
        deadline = None if timeout is None else time.monotonic() + timeout
        fd = self._pidfd[0]
        if fd >= 0:
            p = select.poll()
            p.register(fd, select.POLLIN)
            ms = None if timeout is None else max(0, int(timeout * 1000))
            while not p.poll(ms):
                if deadline is None:
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ms = max(1, int(left * 1000))
            st = self._reap_ended(deadline)
            if st is None:
                return False
        else:
            # No pidfd (an older forkd): ask forkd in short slices, so the
            # connection's lock is never held for long.
            conn = self._conn
            while True:
                if self._status is not None:
                    return True     # another thread took the event
                left = 0.05 if deadline is None else \
                    min(0.05, max(0.0, deadline - time.monotonic()))
                try:
                    if conn.closed:
                        conn = conn._reopen()
                    st = conn._reap(self._pid, left)
                    break
                except TimeoutError:
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
        self._status = st
        with _children_lock:
            _children.discard(self)
        return True

    def _reap_ended(self, deadline: float | None) -> ExitStatus | None:
        """The exit status of the child, which has ended (its pidfd said
        so), from forkd by deadline (None: however long forkd takes);
        None when the deadline passed first. At least _EVENT_WAIT: a
        sentinel that just fired, then exitcode, must see the exit forkd
        is reporting now. Asked in slices of _EVENT_WAIT, so that the
        connection's lock is never held longer while forkd is slow (other
        threads' is_alive() and join(t) use it too)."""
        end = None if deadline is None else \
            max(deadline, time.monotonic() + _EVENT_WAIT)
        while True:
            # Another thread's join() (is_alive(), wait()) may have taken
            # the exit event meanwhile: the status is then known here.
            if self._status is not None:
                return self._status
            left = _EVENT_WAIT if end is None else \
                min(_EVENT_WAIT, end - time.monotonic())
            if left <= 0:
                return None
            try:
                # The exit event comes to the spawning connection (a
                # Wait request's reply would keep the lock for libforkd's
                # few seconds beyond the slice); another one asks.
                st = self._ask(lambda c: c._reap(self._pid, left,
                                                 ended=c is self._conn))
            except TimeoutError:
                continue
            if st is not _GONE:
                return st
            break
        self._status_lost = True
        return ExitStatus(self._pid, self._forkd_name or "", 255, 0, 0, 0,
                          False, False)

    def _ask(self, call: Callable[[Connection], Any]) -> Any:
        """call(conn) on the child's connection, or on a new one to the
        same forkd once forkd has closed it (its children's exits and
        signals go to any connection of the uid), once more if forkd
        closes that one too; _GONE when forkd has gone away or, a new
        forkd, does not know the child (ProcessLookupError). A
        TimeoutError is the caller's."""
        conn = self._conn
        for retry in (False, True):
            try:
                if conn.closed:
                    conn = conn._reopen()
                return call(conn)
            except ConnectionResetError:
                if retry:
                    break       # forkd closed the new connection too
            except (ConnectionError, FileNotFoundError, ProcessLookupError):
                break
        return _GONE

    def join(self, timeout: float | None = None) -> None:
        """Wait until the child ends, or at most *timeout* seconds. Returns
        None either way: check :attr:`exitcode` (None: still running)."""
        self._check_closed()
        if self._parent_pid != os.getpid():
            raise AssertionError("can only join a child process")
        if self._pid is None:
            raise AssertionError("can only join a started process")
        timeout = self._seconds(timeout)
        try:
            self._poll(timeout)
        except KeyboardInterrupt:
            _interrupt_children()
            raise

    def is_alive(self) -> bool:
        """True from start() until the child has ended."""
        self._check_closed()
        if self._copy:
            return True         # the child's copy: this process runs
        if self._parent_pid != os.getpid():
            raise AssertionError("can only test a child process")
        if self._pid is None:
            return False
        if self._poll(0):
            return False
        # Ended, by its pidfd, though forkd has not said how yet.
        fd = self._pidfd[0]
        return fd < 0 or not select.select([fd], [], [], 0)[0]

    def result(self, timeout: float | None = None) -> Any:
        """The target's return value, waiting at most *timeout* seconds
        for the child to end (:exc:`TimeoutError`).

        When the target raised, its exception is raised here, with the
        child's formatted traceback attached as ``__cause__``
        (:class:`forkd.RemoteTraceback`). A child that ended without a
        result (a signal, ``sys.exit()``) raises :exc:`forkd.ProcessError`
        with its ``exitcode``."""
        self._check_closed()
        if self._copy:
            raise AssertionError("can only get the result of a child "
                                 "process")
        if self._pid is None:
            raise AssertionError("can only get the result of a started "
                                 "process")
        if self._outcome is None:
            timeout = self._seconds(timeout)
            deadline = None if timeout is None else \
                time.monotonic() + timeout
            try:
                ended = self._poll(timeout)
            except KeyboardInterrupt:
                _interrupt_children()
                raise
            if not ended:
                raise TimeoutError("%s (pid %d) still running after %s s"
                                   % (self._name, self._pid, timeout))
            left = 30.0 if deadline is None else \
                max(0.0, deadline - time.monotonic())
            if not self._sink.done.wait(left):
                raise TimeoutError("%s (pid %d) ended, but a process it "
                                   "started keeps its result pipe open"
                                   % (self._name, self._pid))
            self._outcome = self._decode(self._sink.data())
            self._sink.chunks = []
        kind, value = self._outcome
        if kind == "ok":
            return value
        raise value

    def _decode(self, data: bytes) -> tuple:
        st = self._status
        code = st.exitcode
        if not data:
            how = ("was killed by signal %d" % -code if code < 0 else
                   "exited with code %d" % code)
            if st.timed_out:
                how = "reached its timeout and " + how
            elif st.oom_killed:
                how = "ran out of its cgroup's memory and " + how
            elif self._status_lost:
                how = ("ended while forkd was gone (its exit status is "
                       "unknown: exitcode 255)")
            return ("err", ProcessError("%s (pid %d) %s without a result"
                                        % (self._name, self._pid, how),
                                        code))
        # The child pickled what its __mp_main__ (this main script, which
        # it imported under that name) defines as __mp_main__.NAME, as a
        # multiprocessing child does: `import multiprocessing` makes the
        # same alias, which a script that imports only forkd lacks.
        main = sys.modules.get("__main__")
        if main is not None:
            sys.modules.setdefault("__mp_main__", main)
        try:
            msg = pickle.loads(data)
        except Exception as e:
            return ("err", RemoteError("%s (pid %d): its result cannot be "
                                       "unpickled here: %r"
                                       % (self._name, self._pid, e)))
        if msg[0] == "ok":
            return ("ok", msg[1])
        exc, tb, rep = msg[1], msg[2], msg[3]
        if not isinstance(exc, BaseException):
            exc = RemoteError(rep)
        exc.__cause__ = RemoteTraceback('\n"""\n%s"""' % tb)
        return ("err", exc)

    # -- signals --------------------------------------------------------------

    def _signal(self, sig: int) -> None:
        self._check_closed()
        if self._copy:
            raise AssertionError("can only signal a child process")
        if self._pid is None or self._status is not None:
            return
        if self._ask(lambda c: c._signal(self._pid, sig)) is not _GONE:
            return
        # forkd has gone away, or does not know the child (ended; or a
        # restarted forkd that never had it): signal it through its
        # pidfd, which cannot name another process (ESRCH once ended).
        fd = self._pidfd[0]
        if fd < 0:
            raise ConnectionError(errno.ENOTCONN, "forkd is gone and "
                                  "there is no pidfd of %s (pid %d) to "
                                  "signal it by" % (self._name, self._pid))
        try:
            signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        """Send SIGTERM to the child (through forkd)."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the child (through forkd)."""
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        """Release the process object's resources (its pidfd). ValueError
        while the child is still running. Most methods raise ValueError
        afterwards."""
        if self._closed:
            return
        if self._pid is not None and not self._copy and not self._poll(0):
            raise ValueError("Cannot close a process while it is still "
                             "running. You should first call join() or "
                             "terminate().")
        if self._finalizer is not None:
            self._finalizer()
        self._closed = True

    # -- attributes -------------------------------------------------------

    @property
    def name(self) -> str:
        """The process's name, for humans: the child's
        ``multiprocessing.current_process().name``. forkd's own name for
        the child (``forkctl ps``) is the *forkd_name* spawn option."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError("name must be a string")
        self._name = name

    @property
    def daemon(self) -> bool:
        """True: the child is terminated when this process exits (before
        the non-daemon children are joined), or by forkd when this
        process's connection closes first. Set before start()."""
        return self._daemon

    @daemon.setter
    def daemon(self, daemonic: bool) -> None:
        if self._pid is not None:
            raise AssertionError("process has already started")
        self._daemon = bool(daemonic)

    @property
    def authkey(self) -> bytes:
        """The child's ``multiprocessing.current_process().authkey``, as
        in multiprocessing: by default this process's own, so the child
        can reach this process's managers and listeners. A child whose
        creator never loaded multiprocessing gets a random one."""
        if self._authkey is None:
            from multiprocessing import process
            if self._copy:
                return process.current_process().authkey
            self._authkey = process.current_process().authkey
        return self._authkey

    @authkey.setter
    def authkey(self, authkey: bytes) -> None:
        if not isinstance(authkey, (bytes, bytearray, memoryview)):
            raise TypeError("authkey must be bytes, not %s"
                            % type(authkey).__name__)
        from multiprocessing import process
        self._authkey = process.AuthenticationString(authkey)

    @property
    def pid(self) -> int | None:
        """The child's pid (as forkd sees it); None before start().
        ValueError once closed, as in multiprocessing."""
        self._check_closed()
        return self._pid

    ident = pid     # as in multiprocessing

    @property
    def forkd_name(self) -> str | None:
        """The child's name in forkd (``forkctl ps``); None before start()."""
        return self._forkd_name

    @property
    def cgroup(self) -> str | None:
        """The child's own cgroup (relative to the cgroup2 mount) when
        started with ``cgroup=True``, else None."""
        return self._cgroup

    @property
    def exitcode(self) -> int | None:
        """The child's exit code: None while it runs, -N when signal N
        killed it."""
        self._check_closed()
        if self._pid is None or not self._poll(0):
            return None
        return self._status.exitcode

    @property
    def exit_status(self) -> ExitStatus | None:
        """forkd's full exit report (rusage, timed_out, oom_killed), or
        None while the child runs."""
        if self._pid is None or not self._poll(0):
            return None
        return self._status

    @property
    def sentinel(self) -> int:
        """The child's pidfd: readable once the child has ended. Works with
        :func:`multiprocessing.connection.wait`, :mod:`selectors` and
        asyncio's ``loop.add_reader()``."""
        self._check_closed()
        if self._pid is None or self._copy:
            raise ValueError("process not started")
        return self._pidfd[0]


class DoneAndNotDone(NamedTuple):
    """What :func:`wait` returns."""

    done: set
    not_done: set


DoneAndNotDone.__annotations__ = DoneAndNotDone.__new__.__annotations__ = \
    get_type_hints(DoneAndNotDone)


def wait(processes: Iterable[Process], timeout: float | None = None,
         return_when: str = FIRST_COMPLETED) -> DoneAndNotDone:
    """Wait for started processes to end, like
    :func:`concurrent.futures.wait`.

    *return_when* is FIRST_COMPLETED (when any has ended), FIRST_EXCEPTION
    (when any has ended with a non-zero exit code, or all have ended) or
    ALL_COMPLETED. Returns ``(done, not_done)``, two sets; after *timeout*
    seconds, whatever is done so far."""
    if return_when not in (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED):
        raise ValueError("invalid return_when: %r" % (return_when,))
    procs = set(processes)
    for p in procs:
        p._check_closed()
        if p._pid is None or p._copy:
            raise ValueError("cannot wait for %r: process not started" % p)
    timeout = Process._seconds(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    done = {p for p in procs if p._poll(0)}
    while True:
        not_done = procs - done
        if not not_done:
            break
        if return_when == FIRST_COMPLETED and done:
            break
        if return_when == FIRST_EXCEPTION and any(
                p._status.exitcode != 0 for p in done):
            break
        left = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
        by_fd = {p.sentinel: p for p in not_done}
        ready = select.poll()
        for fd in by_fd:
            ready.register(fd, select.POLLIN)
        try:
            events = ready.poll(None if left is None else
                                max(1, int(left * 1000)))
        except KeyboardInterrupt:
            _interrupt_children()
            raise
        for fd, _ in events:
            if by_fd[fd]._poll(0):
                done.add(by_fd[fd])
    return DoneAndNotDone(done, procs - done)


def _forget_ended() -> None:
    """Let go of the children whose exit forkd has reported already, as
    multiprocessing's start() does (util._cleanup()): a process started
    and dropped without join() is then freed, and its pidfd closed, rather
    than kept in _children for good (300 such held 300 fds)."""
    with _children_lock:
        if not _children:
            return
        kids = [p for p in _children if p._status is None]
    by_conn: dict = {}
    for p in kids:
        if p._conn is not None and not p._conn.closed and \
                p._conn._pid == os.getpid():
            by_conn.setdefault(p._conn, []).append(p)
    for conn, procs in by_conn.items():
        try:
            got = conn._reported([p._pid for p in procs])
        except OSError:
            continue
        for p in procs:
            st = got.get(p._pid)
            if st is not None and p._status is None:
                p._status = st
    with _children_lock:
        _children.difference_update([p for p in _children
                                     if p._status is not None])


def active_children() -> list[Process]:
    """The processes started from this process that have not ended yet
    (those that have ended are joined as a side effect)."""
    with _children_lock:
        kids = list(_children)
    return [p for p in kids if not p._closed and not p._poll(0)]


def _after_fork_in_child() -> None:
    """A child of os.fork() starts with no children and fresh locks (a
    thread of the parent may have held one)."""
    global _children_lock, _collector_lock, _me_lock, _me
    _children_lock = threading.Lock()
    _collector_lock = threading.Lock()
    _me_lock = threading.Lock()
    if _me[1] >= 0:
        _close_fds(_me[1])      # the parent's pidfd
    _me = (-1, -1)
    _children.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _interrupted() -> bool:
    """True when this process is ending on a KeyboardInterrupt (the
    interpreter has printed it: sys.last_value). Not in an interactive
    session, where sys.last_value is whatever a statement last raised."""
    if hasattr(sys, "ps1") or sys.flags.interactive:
        return False
    return isinstance(getattr(sys, "last_exc", None) or
                      getattr(sys, "last_value", None), KeyboardInterrupt)


_exit_interrupt_done = False


def _interrupt_at_exit() -> None:
    """At exit (forkd's exit handlers, the Executor's and the joining
    one, both call it): pass a KeyboardInterrupt the process ends on to
    its children, once (a second SIGINT could cut the first one's
    handling short in a child)."""
    global _exit_interrupt_done
    if not _exit_interrupt_done and _interrupted():
        _exit_interrupt_done = True
        _interrupt_children()


# Run first by _interrupt_children(): forkd.Executor's, which stops
# starting tasks (a Ctrl-C breaks a ProcessPoolExecutor too).
_on_interrupt: list = []


def _interrupt_children() -> None:
    """Pass a KeyboardInterrupt on: SIGINT (through forkd) to every child
    this process started that has not ended. A terminal's Ctrl-C reaches
    multiprocessing's children, which share the terminal's process group;
    forkd's children are in a session of their own, so the parent passes
    it on when it is interrupted while it waits for them, or ends on it."""
    for hook in list(_on_interrupt):
        try:
            hook()
        except Exception:
            pass
    with _children_lock:
        kids = list(_children)
    for p in kids:
        if p._parent_pid == os.getpid() and not p._closed and \
                p._status is None and not p._copy:
            try:
                p._signal(signal.SIGINT)
            except Exception:
                pass


def _join_at_exit() -> None:
    """As multiprocessing does at exit (util._exit_function()): terminate
    the daemonic children first, then wait for the others. (A daemon
    child would also end with the connection, but only once this process
    has closed it: after the join, or after a process it forked, which
    holds a copy, has ended too.) An Executor's tasks are forkd daemons
    but not multiprocessing's: its own exit handler waits for them.
    Ending on a KeyboardInterrupt, pass it on to the children first; a
    second one while waiting passes it on again and stops waiting."""
    _interrupt_at_exit()
    try:
        kids = active_children()
    except Exception:
        return
    for p in kids:
        if p._daemon and p._mp_daemon and p._parent_pid == os.getpid():
            try:
                p.terminate()
            except Exception:
                pass
    for p in kids:
        if not p._daemon and p._parent_pid == os.getpid():
            try:
                p.join()
            except KeyboardInterrupt:
                return          # join() has passed it on
            except Exception:
                pass


_remember_main()
