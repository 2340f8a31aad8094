"""_forkd_python: the Python half of forkd's python module (python.so).

python.c embeds this file, runs it once in forkd as module _forkd_python,
and calls preload() from the module's init. In a forked child it calls
child_call() (entry python:call) or child_main() (entry python:main) after
PyOS_AfterFork_Child(). See modules/python/README section in the top-level
README ("The python module") for the options and the wire contract:

python:call MODULE:QUALNAME [--environ N NAME=VALUE...]
            [--main /abs/script.py | --main-module NAME] [--name NAME]
            [--identity N[:N...]] [--authkey HEX] [--daemon]
            [--parent-pid PID] [--parent-name NAME] [--path /abs/dir]...
            [--forkd-socket PATH] [--forkd-key PATH] [--quiet]
            [--resource-tracker] [--warnoption W]... [-- ARGV...]
    The options from --name to --parent-name say what
    multiprocessing.current_process() and parent_process() give in the
    child (as in a multiprocessing child); --path (the client's sys.path,
    one per entry; ignored under allow=) and ARGV (the client's sys.argv)
    are what multiprocessing's spawn passes its child too, and so are the
    N variables of --environ (the client's os.environ; ignored under
    allow=), which python.c sets over forkd's before Python reads the
    environment; --forkd-socket and --forkd-key then become
    FORKD_SOCKET and FORKD_KEY_FILE (the forkd a child's own forkd.Process
    uses). All are set before the main script is imported.
    fd 3 (optional): a pipe carrying pickle((args, kwargs)), read to EOF.
    fd 4 (optional): a pipe; one pickle is written, then it is closed:
        ("ok", value) on return,
        ("err", exc_or_None, traceback_text, repr_of_exc) on an exception
        (and when the target cannot be found or is not allowed, or its
        return value does not pickle);
        nothing on sys.exit() (the exit code says it).
        The target's own children never hold it (FD_CLOEXEC, and closed
        after an os.fork()): the client sees its end with the result.
    An exception's traceback is also printed on stderr after "Process
    NAME:", as multiprocessing prints it, unless --quiet (and fd 4).
    fd 5 (optional): a pidfd of the client process, the sentinel of
        multiprocessing.parent_process().
    fd 6 (with --resource-tracker): the client's multiprocessing resource
        tracker, which the child's shared memory and semaphores register
        with (as a spawned child uses its parent's).
    exit code: 0 on return, 1 on an exception, n for sys.exit(n), 2 for
    a malformed command line.

python:main MODULE [ARGS...]
    runs MODULE as __main__ with sys.argv = [MODULE, ARGS...].
"""

import builtins
import codecs
import fnmatch
import gc
import importlib
import importlib.machinery
import importlib.util
import io
import itertools
import multiprocessing
import multiprocessing.process as _mpp
import multiprocessing.reduction as _mpred
import multiprocessing.resource_tracker as _mprt
import multiprocessing.util as _mputil
import os
import pickle
import runpy
import signal
import sys
import threading
import traceback
import types

# Set by preload().
_allow = None           # None: any target; else a list of fnmatch patterns
_paths = []             # path= directories, resolved (realpath)
_freeze = True
_old_stdio = []         # the daemon's stdio objects, kept so never flushed
_result_fd = None       # 4 while this child's result pipe is open


def _close_result_fd_after_fork():
    """os.register_at_fork() hook: a process the target forks (os.fork(),
    multiprocessing's fork) does not keep the result pipe open, so the
    client sees its end when this child writes the result, not when the
    target's children end (exec'd ones lose it by FD_CLOEXEC)."""
    global _result_fd
    if _result_fd is not None:
        try:
            os.close(_result_fd)
        except OSError:
            pass
        _result_fd = None


os.register_at_fork(after_in_child=_close_result_fd_after_fork)

# Builtins a restricted unpickler may construct: plain containers and
# scalars (the ones pickle has no opcode for in every protocol).
_SAFE_BUILTINS = frozenset((
    "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset",
    "int", "list", "range", "set", "slice", "str", "tuple",
))

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _err(msg):
    """One line on stderr, flushed."""
    try:
        sys.stderr.write("python: %s\n" % msg)
        sys.stderr.flush()
    except Exception:
        pass


def _flush_stdio():
    """Flush Python's stdio (the current and the original objects)."""
    for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if f is not None:
                f.flush()
        except Exception:
            pass


def _threads_report():
    """None when this process has one thread, else a message naming the
    others and the fix."""
    try:
        tids = sorted(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return None         # no /proc: cannot check (forkd checks too)
    me = threading.get_native_id()
    others = [t for t in tids if t != me]
    if not others:
        return None
    pynames = {}
    for t in threading.enumerate():
        if t.native_id is not None:
            pynames[t.native_id] = t.name
    lines = []
    for tid in others:
        try:
            with open("/proc/self/task/%d/comm" % tid) as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        desc = "thread %d (comm %r" % (tid, comm)
        if tid in pynames:
            desc += ", Python thread %r" % pynames[tid]
        lines.append(desc + ")")
    fix = ("fork() with threads is unsafe, so forkd does not start. Fix: "
           "preload only modules that start no thread at import (start "
           "threads in the target instead)")
    set_by_user = ["%s=%s" % (v, os.environ[v]) for v in _THREAD_VARS
                   if os.environ.get(v, "1") != "1"]
    if set_by_user:
        fix += ("; forkd's environment sets %s: unset it or set it to 1 "
                "(numpy's OpenBLAS/OpenMP/MKL pools)" % ", ".join(set_by_user))
    else:
        fix += ("; for numpy keep OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and "
                "MKL_NUM_THREADS at 1")
    return ("%d threads are running after preloading: %s besides forkd's "
            "main thread. %s" % (len(tids), ", ".join(lines), fix))


def preload(paths, imports, allow, freeze):
    """Run once in forkd: add path= dirs, import the preloads (and the
    forkd package, _preload_package()), check that no thread was left
    behind, freeze the heap. Returns 0; 1 when an option or a preload
    failed, 2 when a thread was left behind, after writing why to stderr
    (forkd then does not start)."""
    global _allow, _paths, _freeze
    _freeze = bool(freeze)
    if _freeze:
        # gc.freeze() docs: disable early in the parent so collections do
        # not leave holes that later allocations fill, freeze before fork.
        gc.disable()
    added = []
    for p in paths:
        if not p:
            _err("path=: empty directory name")
            return 1
        ap = os.path.abspath(p)
        if not os.path.isdir(ap):
            _err("path=: %r is not a directory" % p)
            return 1
        added.append(ap)
    sys.path[:0] = added
    _paths = [os.path.realpath(p) for p in added]
    _allow = list(allow) if allow else None
    for name in imports:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            _err("preloading %r failed (traceback above); forkd does not "
                 "start with a failing preload" % name)
            _flush_stdio()
            return 1
    _preload_package()
    # No relative entry may stay (a preload may have added one): a child's
    # cwd is the client's choice, and must not become an import path.
    sys.path[:] = [os.path.abspath(p) for p in sys.path]
    msg = _threads_report()
    if msg is not None:
        _err(msg)
        _flush_stdio()
        return 2
    _rehearse()
    if _freeze:
        gc.freeze()
    _flush_stdio()
    return 0


def _preload_package():
    """Import forkd's own Python package too, where it can be imported.
    A main script that starts forkd children imports it, and so does each
    child that imports that script as __mp_main__ (a target defined
    there): 15 to 20 ms of every such spawn, unless the image has it. A
    "forkd" that is not the package (no _process.py beside it) is left
    alone, and so is one that fails: nothing asked for it."""
    if "forkd" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("forkd")
    except (ImportError, ValueError):
        return
    dirs = list(spec.submodule_search_locations or []) if spec else []
    if not any(os.path.isfile(os.path.join(d, "_process.py"))
               for d in dirs):
        return
    try:
        importlib.import_module("forkd")
    except Exception:
        for name in [m for m in sys.modules
                     if m == "forkd" or m.startswith("forkd.")]:
            del sys.modules[name]


def _rehearse():
    """Run, once in forkd, the code paths every child runs (stdio objects,
    pickling both ways, the allow= patterns), on a private pipe: the
    caches they fill (codecs, fnmatch's compiled patterns, the type
    attribute cache) are then shared by every child instead of being
    filled, page by page, in each one."""
    r, w = os.pipe()
    try:
        out = _std(w, sys.__stdout__, True, False, check=False)
        err = _std(w, sys.__stderr__, True, True, check=False)
        inp = _std(r, sys.__stdin__, False, False, check=False)
        out.write("o")
        out.flush()
        err.write("e\n")
        inp.read(3)
        del out, err, inp
    finally:
        os.close(r)
        os.close(w)
    data = pickle.dumps(((1, "a"), {"k": b"v"}), pickle.HIGHEST_PROTOCOL)
    pickle.loads(data)
    if _allow is not None:
        _RestrictedUnpickler(io.BytesIO(data)).load()
        _allowed("__forkd__:rehearsal")
    _mpred.ForkingPickler.dumps(("ok", None), pickle.HIGHEST_PROTOCOL)
    env = {}
    for kv in (b"A=1", b"B=2"):
        k, _, v = kv.partition(b"=")
        env[k] = v
    try:
        raise ValueError("rehearsal")
    except ValueError as e:
        _err_tuple(e)


# Small pure-Python stdlib modules, one of which the page probe imports
# (so that the import path of a target module is part of what it sees).
_PROBE_MODULES = ("colorsys", "fractions", "textwrap")
_PROBE_ENV = 64         # at most; python.c's PYTHON_PROBE_ARGS bounds all
_PROBE_PATHS = 8


def probe_prepare():
    """In the page probe (a throwaway child of forkd made once at init):
    what python:call is then asked to run, as (argv after the entry name,
    pickled fd 3). The probe calls a stdlib function whose module is not
    imported yet, so it takes the import, unpickling, call and result
    paths a real call takes, with the options forkd's package sends (fd 5
    is set up by the caller); allow= is lifted in that child only."""
    global _allow
    _allow = None
    # Everything forkd's package sends, so that the warm-up covers the
    # pages a real call writes for it: forkd's own environment as the
    # client's (python.c sets it, at the size of a shell's), its sys.path
    # entries as the client's, a sys.argv, where the forkd is.
    def text(x):        # what python.c can pass on (UTF-8, no NUL)
        try:
            x.encode("utf-8")
        except UnicodeError:
            return False
        return "\0" not in x

    env = [kv for kv in ("%s=%s" % kv for kv in os.environ.items()
                         if "=" not in kv[0] and kv[0])
           if text(kv)][:_PROBE_ENV]
    paths = [x for d in sys.path[:_PROBE_PATHS] if text(d)
             for x in ("--path", d)]
    opts = ["--environ", str(len(env))] + env + [
            "--name", "Process-1", "--identity", "1", "--authkey",
            os.urandom(32).hex(), "--parent-pid", str(os.getppid()),
            "--parent-name", "MainProcess"] + paths + [
            "--forkd-socket", "/run/forkd/forkd.sock",
            "--forkd-key", "/var/lib/forkd/authkey",
            "--", "/probe/script.py", "--probe"]
    mod = next((m for m in _PROBE_MODULES if m not in sys.modules), None)
    if mod is None:
        return (["os:getpid"] + opts,
                pickle.dumps(((), {}), pickle.HIGHEST_PROTOCOL))
    target = {"colorsys": "colorsys:rgb_to_hsv",
              "fractions": "fractions:Fraction",
              "textwrap": "textwrap:dedent"}[mod]
    args = {"colorsys": (0.1, 0.2, 0.3), "fractions": (1, 3),
            "textwrap": ("  x",)}[mod]
    return ([target] + opts,
            pickle.dumps((args, {}), pickle.HIGHEST_PROTOCOL))


def _allowed(name):
    """Does MODULE:QUALNAME match an allow= pattern?"""
    return any(fnmatch.fnmatchcase(name, p) for p in _allow)


def _identity_allowed(obj):
    """With allow= set, the object found must be what its name says: its
    own __module__:__qualname__ must match too (so pkg.mod:os.system, an
    attribute chain out of the allowed package, is refused)."""
    mod = getattr(obj, "__module__", None)
    qual = getattr(obj, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qual, str):
        return False
    if mod == "__mp_main__":
        mod = "__main__"
    return _allowed("%s:%s" % (mod, qual))


def _unpickle_unsafe(obj):
    """Is obj a global no allow= pattern can let a client's pickle use:
    numpy's dtype (or a subclass), whose unpickling (BUILD, __setstate__)
    takes the flags that say whether its items are object pointers from
    the pickle as they come?"""
    np = sys.modules.get("numpy")
    dtype = getattr(np, "dtype", None) if np is not None else None
    return isinstance(obj, type) and isinstance(dtype, type) and \
        issubclass(obj, dtype)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for a restricted policy (allow= set): plain builtin
    containers and scalars, and globals that match the allow= patterns."""

    def find_class(self, module, name):
        if module == "builtins" and name in _SAFE_BUILTINS:
            return getattr(builtins, name)
        spec = "%s:%s" % (module, name)
        if _allowed(spec):
            obj = super().find_class(module, name)
            if _unpickle_unsafe(obj):
                raise pickle.UnpicklingError(
                    "global %r is never unpickled from a client under "
                    "allow=: numpy rebuilds a dtype from the state it is "
                    "sent without checking it, and a forged one reads "
                    "object pointers from the client's bytes; send an "
                    "array as its bytes, dtype string and shape "
                    "(a.tobytes(), a.dtype.str, a.shape) and rebuild it "
                    "with numpy.frombuffer()" % spec)
            if _identity_allowed(obj):
                return obj
        raise pickle.UnpicklingError(
            "global %r is not allowed in arguments by the python module's "
            "allow= patterns" % spec)


def _fd_open(fd):
    """Is fd open?"""
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _std(fd, old, write, line, check=True):
    """A fresh text stream on fd (None when fd is closed), like the
    interpreter's own, with the old stream's encoding."""
    if check and not _fd_open(fd):
        return None
    enc = getattr(old, "encoding", None) or "utf-8"
    errors = getattr(old, "errors", None) or \
        ("backslashreplace" if fd == 2 else "strict")
    # The child's environment (the client's, over forkd's) says what the
    # interpreter would take from it: PYTHONIOENCODING=ENC[:ERRORS] (its
    # ERRORS not for stderr, as CPython), PYTHONUNBUFFERED; else as
    # forkd's own streams were made (forkd's environment, -u).
    env = os.environ
    spec = env.get("PYTHONIOENCODING", "")
    if spec:
        e, _, h = spec.partition(":")
        if e:
            try:
                info = codecs.lookup(e)
                # Not a bytes-to-bytes codec (hex, rot13), which
                # TextIOWrapper refuses: the child would end in its set-up.
                if getattr(info, "_is_text_encoding", True):
                    enc = info.name
            except LookupError:
                pass
        if h and fd != 2:
            try:
                codecs.lookup_error(h)
                errors = h
            except LookupError:
                pass
    raw = io.FileIO(fd, "wb" if write else "rb", closefd=False)
    unbuffered = write and (bool(env.get("PYTHONUNBUFFERED")) or
                            getattr(old, "write_through", False))
    if unbuffered:
        buf = raw
    else:
        buf = io.BufferedWriter(raw) if write else io.BufferedReader(raw)
    try:
        tty = raw.isatty()
    except OSError:
        tty = False
    return io.TextIOWrapper(buf, encoding=enc, errors=errors,
                            line_buffering=line or tty,
                            write_through=unbuffered)


def _child_setup(argv0, environ):
    """What every child does first: collector back on, os.environ from the
    child's real environment, Python's signal settings, stdio on 0/1/2."""
    if _freeze:
        gc.enable()
    # os.environ is a copy made when forkd started; the child's environment
    # is the one forkd built for this request.
    data = os.environ._data
    data.clear()
    for kv in environ:
        k, sep, v = kv.partition(b"=")
        if sep and k:
            data[k] = v
    # What the interpreter sets up at start-up (forkd's init skips it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # The daemon's stdio objects stay referenced, so nothing they may hold
    # is ever flushed into the client's fds (gh-98552).
    _old_stdio.extend((sys.stdin, sys.stdout, sys.stderr,
                       sys.__stdin__, sys.__stdout__, sys.__stderr__))
    sys.stdin = sys.__stdin__ = _std(0, sys.__stdin__, False, False)
    sys.stdout = sys.__stdout__ = _std(1, sys.__stdout__, True, False)
    sys.stderr = sys.__stderr__ = _std(2, sys.__stderr__, True, True)
    sys.argv = [argv0]
    if _allow is not None:
        # A breakpoint() left in allowed code would start pdb on the
        # client's stdin, or call the hook its PYTHONBREAKPOINT names:
        # either runs what the client sends.
        sys.breakpointhook = _no_breakpoint


def _no_breakpoint(*args, **kwargs):
    """sys.breakpointhook under allow=: breakpoint() does nothing."""
    import warnings
    warnings.warn("breakpoint() ignored: the python module's allow= is set",
                  RuntimeWarning, stacklevel=2)


def _child_finish(code):
    """Wait for the children (python:call) and non-daemon threads, flush
    stdio; returns code & 0xff."""
    _end_process()
    if "threading" in sys.modules:
        try:
            threading._shutdown()
        except BaseException:
            pass
    _flush_stdio()
    return code & 0xff


def _exit_code(e):
    """multiprocessing's exit code for SystemExit e."""
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code
    try:
        sys.stderr.write(str(e.code) + "\n")
    except Exception:
        pass
    return 1


def _import_main(path, target):
    """Import the client's main script as __mp_main__, aliased __main__,
    as multiprocessing's spawn does (errors name target too)."""
    if not os.path.isabs(path):
        raise ValueError("target %r: --main %r is not an absolute path"
                         % (target, path))
    if _allow is not None:
        _main_allowed(target, "--main", path)
        real = os.path.realpath(path)
        if not any(os.path.commonpath([real, d]) == d for d in _paths):
            raise PermissionError(
                "target %r: --main %r is refused: with allow= set, a main "
                "script must lie in one of the python module's path= "
                "directories" % (target, path))
        # Loaded by the path checked, not the one given: a link the client
        # made elsewhere could point somewhere else by the time the file
        # is opened, and the loader reads a .pyc from the __pycache__
        # beside the path it is given, which the client would own.
        path = real
    else:
        # Unrestricted: as when the script runs, its directory comes first
        # (multiprocessing passes the parent's sys.path the same way).
        d = os.path.dirname(path)
        if d not in sys.path:
            sys.path.insert(0, d)
    loader = importlib.machinery.SourceFileLoader("__mp_main__", path)
    spec = importlib.util.spec_from_file_location("__mp_main__", path,
                                                  loader=loader)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["__mp_main__"] = mod
    try:
        _inheriting(loader.exec_module, mod)
    except BaseException:
        del sys.modules["__mp_main__"]
        raise
    sys.modules["__main__"] = mod
    return mod


def _main_allowed(target, opt, value):
    """Under allow=: PermissionError unless a pattern allows __main__
    targets (the client's main script is then run)."""
    if not any(fnmatch.fnmatchcase("__main__", p.partition(":")[0])
               for p in _allow):
        raise PermissionError(
            "target %r: %s %r is refused: with allow= set, a main script "
            "runs only when a pattern allows __main__ targets"
            % (target, opt, value))


def _inheriting(fn, *args):
    """fn(*args) as multiprocessing's spawn imports the main script: a
    script without the if __name__ == "__main__": guard, starting a
    process at import, gets its RuntimeError (from forkd's package or
    multiprocessing)."""
    me = _mpp.current_process()
    me._inheriting = True
    try:
        return fn(*args)
    finally:
        del me._inheriting


def _warnoptions(options):
    """The client's -W options and PYTHONWARNINGS (its sys.warnoptions),
    as the interpreter flags multiprocessing's spawn passes its child."""
    if not options:
        return
    import warnings
    sys.warnoptions[:] = list(options)
    warnings._processoptions(sys.warnoptions)


def _import_main_name(name):
    """Import the client's main module, run as python -m NAME, by name as
    __mp_main__, aliased __main__, as multiprocessing's spawn does
    (_fixup_main_from_name()): its relative imports work. Not under
    allow= (child_call() drops --main-module there: --main's path, which
    forkd's package sends too, is checked against path=)."""
    # runpy.run_module(name, init_globals, run_name, alter_sys)
    content = _inheriting(runpy.run_module, name, None, "__mp_main__", True)
    mod = types.ModuleType("__mp_main__")
    mod.__dict__.update(content)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = mod
    return mod


def _client_path(dirs):
    """Put the client's sys.path entries that this interpreter lacks
    first, in the client's order: multiprocessing's spawn gives its child
    the parent's sys.path, so a target in a module beside the client's
    script, or in its virtual environment, is found (not under allow=:
    child_call() drops them)."""
    if not dirs:
        return
    have = set(sys.path)
    new = [d for d in dict.fromkeys(dirs) if d not in have]
    if new:
        sys.path[:0] = new


def _check_name(target):
    """Refuse a malformed target, or one the allow= patterns do not match,
    before anything is imported for it."""
    modname, sep, qual = target.partition(":")
    if not sep or not modname or not qual:
        raise ValueError("target %r: want MODULE:QUALNAME" % target)
    if _allow is not None and not _allowed(target):
        raise PermissionError("target %r is not allowed by the python "
                              "module's allow= patterns" % target)


def _resolve(target, main):
    """The callable named MODULE:QUALNAME (_check_name() passed)."""
    modname, _, qual = target.partition(":")
    if modname in ("__main__", "__mp_main__"):
        if main is None:
            raise LookupError("target %r: no --main script was given"
                              % target)
        obj = main
    else:
        try:
            obj = importlib.import_module(modname)
        except ImportError as e:
            raise ImportError("target %r: cannot import %r: %s"
                              % (target, modname, e)) from e
    for part in qual.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise AttributeError("target %r: %s" % (target, e)) from e
    if _allow is not None and not _identity_allowed(obj):
        raise PermissionError(
            "target %r is not allowed: it is %s:%s, which the allow= "
            "patterns do not match" % (target,
                                       getattr(obj, "__module__", "?"),
                                       getattr(obj, "__qualname__", "?")))
    if not callable(obj):
        raise TypeError("target %r is not callable" % target)
    return obj


def _read_args():
    """(args, kwargs) from fd 3, or ((), {}) when the client passed none."""
    if not _fd_open(3):
        return (), {}
    chunks = []
    with io.FileIO(3, "rb", closefd=True) as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            chunks.append(b)
    data = b"".join(chunks)
    del chunks
    if not data:
        return (), {}
    if _allow is None:
        value = pickle.loads(data)
    else:
        value = _RestrictedUnpickler(io.BytesIO(data)).load()
    if (not isinstance(value, tuple) or len(value) != 2 or
            not isinstance(value[0], tuple) or
            not isinstance(value[1], dict)):
        raise TypeError("fd 3 must carry a pickled (args, kwargs) tuple")
    return value


# python:call's options after the target: name -> takes a value.
_CALL_OPTS = {"--main": True, "--main-module": True, "--name": True,
              "--identity": True,
              "--authkey": True, "--parent-pid": True, "--parent-name": True,
              "--path": True, "--forkd-socket": True, "--forkd-key": True,
              "--daemon": False, "--quiet": False,
              "--resource-tracker": False, "--warnoption": True}
_CALL_LISTS = frozenset(("--path", "--warnoption"))    # more than once
# The client's context, which allow= ignores (with --environ).
_CLIENT_CONTEXT = ("--path", "--forkd-socket", "--forkd-key",
                   "--warnoption", "--main-module", "--resource-tracker")


def _call_opts(args):
    """(target, {option: value}) from python:call's arguments; ValueError
    for a malformed command line."""
    if not args or args[0].startswith("--"):
        raise ValueError("no MODULE:QUALNAME")
    opts = {}
    i = 1
    while i < len(args):
        o = args[i]
        if o == "--":
            opts["--"] = args[i + 1:]
            break
        if o == "--environ":
            # Right after the target: python.c sets these variables
            # before Python starts (python_client_environ()).
            if i != 1:
                raise ValueError("--environ must come right after "
                                 "MODULE:QUALNAME")
            n = args[i + 1] if i + 1 < len(args) else ""
            if not (n.isascii() and n.isdigit()):
                raise ValueError("--environ needs a count")
            items = args[i + 2:i + 2 + int(n)]
            if len(items) < int(n):
                raise ValueError("--environ %s: only %d items follow"
                                 % (n, len(items)))
            for kv in items:
                if not kv.partition("=")[0] or "=" not in kv:
                    raise ValueError("--environ: %r is not NAME=VALUE" % kv)
            if items and _allow is None:
                # python.c sets a well-formed first block and takes it out
                # of argv: this one is a second.
                raise ValueError("--environ given twice")
            opts[o] = items
            i += 2 + len(items)
            continue
        if o not in _CALL_OPTS:
            raise ValueError("unknown argument %r" % o)
        if o in opts and o not in _CALL_LISTS:
            raise ValueError("%s given twice" % o)
        if _CALL_OPTS[o]:
            if i + 1 >= len(args):
                raise ValueError("%s needs a value" % o)
            if o in _CALL_LISTS:
                opts.setdefault(o, []).append(args[i + 1])
            else:
                opts[o] = args[i + 1]
            i += 2
        else:
            opts[o] = True
            i += 1
    for o in ("--identity", "--parent-pid"):
        v = opts.get(o)
        if v is not None and not all(x.isdigit() and x.isascii()
                                     for x in v.split(":")):
            raise ValueError("%s %r: want numbers" % (o, v))
    for d in opts.get("--path", ()):
        if not os.path.isabs(d):
            raise ValueError("--path %r: want an absolute directory" % d)
    for o in ("--forkd-socket", "--forkd-key"):
        v = opts.get(o)
        if v is not None and not os.path.isabs(v):
            raise ValueError("%s %r: want an absolute path" % (o, v))
    key = opts.get("--authkey")
    if key is not None:
        try:
            opts["--authkey"] = bytes.fromhex(key)
        except ValueError:
            raise ValueError("--authkey: want hexadecimal digits") from None
        if not opts["--authkey"]:
            raise ValueError("--authkey: empty")
    return args[0], opts


def _mp_templates():
    """The child's multiprocessing process objects, made once in forkd
    (a child only fills them in: made there, they would cost each child
    some 100 us of first touches)."""
    me = multiprocessing.Process()
    _mpp._dangling.discard(me)
    return me, _mpp._ParentProcess("MainProcess", None, None)


_mp_me, _mp_parent = _mp_templates()


def _set_process(opts):
    """Make multiprocessing see this child as its own process, as its
    children do (BaseProcess._bootstrap()): current_process() named and
    numbered as the client's Process object, with the client's authkey
    (a fresh random one when it sent none: never the one forkd's image
    shares with every child), no children, parent_process() the client
    (its pidfd on fd 5 as the sentinel), and multiprocessing's after-fork
    hooks run."""
    authkey = opts.get("--authkey") or os.urandom(32)
    me = _mp_me
    name = opts.get("--name")
    if name is None:
        # Without a name (a client other than forkd's package): forkd's
        # name for the child, as forkctl ps shows it (its comm).
        try:
            with open("/proc/self/comm") as f:
                name = f.read().strip() or "Process"
        except OSError:
            name = "Process-%d" % os.getpid()
    me._name = name
    ident = opts.get("--identity")
    me._identity = tuple(int(x) for x in ident.split(":")) if ident else ()
    me._config = {"authkey": _mpp.AuthenticationString(authkey),
                  "semprefix": "/mp"}
    if opts.get("--daemon"):
        me._config["daemon"] = True
    ppid = opts.get("--parent-pid")
    me._parent_pid = int(ppid) if ppid is not None else None
    me._parent_name = opts.get("--parent-name", "MainProcess")
    # How this child reaches the forkd that forked it, as its client did
    # (its forkd.Process, forkctl), unless the request's env says.
    for o, var in (("--forkd-socket", "FORKD_SOCKET"),
                   ("--forkd-key", "FORKD_KEY_FILE")):
        if o in opts:
            os.environ[var] = opts[o]
    _mpp._process_counter = itertools.count(1)
    _mpp._children = set()
    _mpp._current_process = me
    _mpp._parent_process = None
    if me._parent_pid is not None and _fd_open(5):
        par = _mp_parent
        par._name = me._parent_name
        par._pid = me._parent_pid
        par._sentinel = 5
        _mpp._parent_process = par
    if opts.get("--resource-tracker") and _fd_open(6):
        # The client's resource tracker (fd 6), as a spawned child gets
        # its parent's: what this child registers is unlinked when the
        # client ends, not when this child does (a tracker of its own).
        # Not for the programs the target runs (a forked child keeps it,
        # as under multiprocessing).
        os.set_inheritable(6, False)
        _mprt._resource_tracker._fd = 6
    if _mputil._finalizer_registry:
        _mputil._finalizer_registry.clear()
    if _mputil._afterfork_registry:
        _mputil._run_after_forkers()
    global _own_process
    _own_process = True


# True once _set_process() ran: the child's multiprocessing state is its
# own, and its children and finalizers are handled at its end.
_own_process = False


def _end_process():
    """What a multiprocessing child does when its run() ends
    (util._exit_function()): run the finalizers, terminate its daemonic
    children and join the others; and the same for the children it
    started with forkd's package."""
    if not _own_process:
        return
    if _mpp._children or _mputil._finalizer_registry:
        try:
            _mputil._exit_function()
        except BaseException:
            pass
    # forkd's package: what its exit handlers do, which a child does not
    # run (an Executor's queued tasks, then the children's join).
    ex = sys.modules.get("forkd._executor")
    if getattr(ex, "_live", None):
        try:
            ex._shutdown_at_exit()
        except BaseException:
            pass
    proc = sys.modules.get("forkd._process")
    if getattr(proc, "_children", None):
        try:
            proc._join_at_exit()
        except BaseException:
            pass


def _own_result_fd():
    """The result pipe (fd 4, when the client passed it) is this child's
    alone: not inherited by what the target runs (FD_CLOEXEC) or forks
    (_close_result_fd_after_fork()). A process that kept it open would
    hold back the client's result() until it ended."""
    global _result_fd
    try:
        os.set_inheritable(4, False)
    except OSError:
        return
    _result_fd = 4


def _write_result(result):
    """Write one pickle to fd 4 (when the client passed it) and close it."""
    if _result_fd is None:
        return
    try:
        data = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    except BaseException as e:
        data = pickle.dumps(_err_tuple(e), pickle.HIGHEST_PROTOCOL)
    _write_raw(data)


def _err_tuple(e):
    """("err", exc or None, traceback text, repr) for exception e."""
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    try:
        exc = e
        # Only an exception that makes the round trip is sent.
        pickle.loads(pickle.dumps(e, pickle.HIGHEST_PROTOCOL))
    except BaseException:
        exc = None
    return ("err", exc, tb, repr(e))


def _report(e, quiet):
    """Report exception e: on fd 4 when the client passed it, and on
    stderr unless quiet, as multiprocessing prints a failed Process's
    traceback ("Process NAME:" and the traceback; a concurrent.futures
    task's is not printed, its client passes --quiet)."""
    piped = _result_fd is not None
    if piped:
        _write_result(_err_tuple(e))    # (closes fd 4)
    if quiet and piped:
        return
    try:
        sys.stderr.write("Process %s:\n" % _mpp.current_process().name)
        traceback.print_exception(type(e), e, e.__traceback__)
    except Exception:
        pass


def child_call(argv, environ):
    """Entry python:call; argv as bytes (argv[0] the target name)."""
    args = [os.fsdecode(a) for a in argv[1:]]
    try:
        target, opts = _call_opts(args)
        bad = None
    except ValueError as e:
        target, opts, bad = None, {}, e
    if _allow is not None:
        # Under allow=, the module's options alone say what the child is:
        # not the client's sys.path (path= says where code comes from),
        # nor where an allowed target's own spawns connect (with forkd's
        # user's key file), nor a module to import by name (a -W
        # option's warning category, a main module's name: a main
        # script is taken by --main's path, which must lie in path=),
        # nor who cleans up the shared memory it leaves (a client's fd
        # 6 that is no tracker would leave it in /dev/shm for good).
        # python.c leaves its --environ alone too.
        for o in _CLIENT_CONTEXT:
            opts.pop(o, None)
    main_path = opts.get("--main")
    main_name = opts.get("--main-module")
    quiet = bool(opts.get("--quiet"))
    _child_setup(main_path or "python:call", environ)
    _own_result_fd()
    if "--" in opts:
        sys.argv = opts["--"]
    if bad is not None:
        e = ValueError("python:call: %s; usage: python:call MODULE:QUALNAME "
                       "[--main /abs/path/script.py | --main-module NAME] "
                       "[--name NAME] "
                       "[--identity N[:N...]] [--authkey HEX] [--daemon] "
                       "[--parent-pid PID] [--parent-name NAME] "
                       "[--path /abs/dir]... [--forkd-socket PATH] "
                       "[--forkd-key PATH] [--quiet] [--resource-tracker] "
                       "[--warnoption W]... [-- ARGV...], with "
                       "[--environ N NAME=VALUE...] right after the target"
                       % bad)
        # A usage error: the message alone (no traceback) on stderr.
        if _result_fd is not None:
            _write_result(_err_tuple(e))
        try:
            sys.stderr.write("%s\n" % e)
        except Exception:
            pass
        return _child_finish(2)
    # Finding the target: errors go back to the client (exit 1).
    try:
        # First, as multiprocessing's spawn names its child and sets its
        # key and environment before it imports the main script.
        _set_process(opts)
        _warnoptions(opts.get("--warnoption"))
        _check_name(target)
        _client_path(opts.get("--path"))
        if main_name is not None:
            main = _import_main_name(main_name)
        elif main_path is not None:
            main = _import_main(main_path, target)
        else:
            main = None
        fn = _resolve(target, main)
        a, kw = _read_args()
    except SystemExit as e:
        return _child_finish(_exit_code(e))
    except BaseException as e:
        _report(e, quiet)
        return _child_finish(1)
    del main
    try:
        value = fn(*a, **kw)
    except SystemExit as e:
        return _child_finish(_exit_code(e))
    except BaseException as e:
        del a, kw
        # The traceback starts at the target, not in this function.
        if e.__traceback__ is not None and e.__traceback__.tb_next:
            e.__traceback__ = e.__traceback__.tb_next
        _report(e, quiet)
        return _child_finish(1)
    del a, kw
    if _result_fd is not None:
        try:
            # As multiprocessing pickles (ForkingPickler): a Connection
            # or socket goes as a duplicate to fetch from this child,
            # never as a bare fd number, which in the client is another
            # fd (the child has gone: its unpickling fails there).
            data = bytes(_mpred.ForkingPickler.dumps(
                ("ok", value), pickle.HIGHEST_PROTOCOL))
        except BaseException as e:
            # The return value cannot be sent: result() raises why, but
            # the target returned (exit 0), and multiprocessing, which
            # drops return values, would print nothing either.
            data = None
            _write_result(_err_tuple(e))
        del value
        if data is not None:
            _write_raw(data)
    return _child_finish(0)


def _write_raw(data):
    """Write bytes to fd 4 and close it; a gone client is not an error."""
    global _result_fd
    view = memoryview(data)
    try:
        while view:
            n = os.write(4, view[:1 << 20])
            view = view[n:]
    except OSError:
        pass
    finally:
        view.release()
        _result_fd = None
        os.close(4)


def child_main(argv, environ):
    """Entry python:main: run MODULE as __main__, like python -m."""
    args = [os.fsdecode(a) for a in argv[1:]]
    if not args:
        _child_setup("python:main", environ)
        _err("usage: python:main MODULE [ARGS...]")
        return _child_finish(2)
    mod = args[0]
    _child_setup(mod, environ)
    if not all(part.isidentifier() for part in mod.split(".")):
        _err("python:main: %r is not a module name (NAME[.NAME...])" % mod)
        return _child_finish(2)
    # A main process, with a key of its own: not the one forkd's image
    # shares with every child.
    _mpp.current_process()._config["authkey"] = \
        _mpp.AuthenticationString(os.urandom(32))
    sys.argv = list(args)
    if _allow is not None and not _allowed(mod + ":__main__"):
        _err("python:main %r is not allowed by the python module's allow= "
             "patterns (it needs one matching %r)" % (mod, mod + ":__main__"))
        return _child_finish(1)
    code = 0
    try:
        runpy._run_module_as_main(mod, alter_argv=False)
    except SystemExit as e:
        code = _exit_code(e)
    except BaseException:
        traceback.print_exc()
        code = 1
    # What the interpreter does at the end of python -m.
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    return _child_finish(code)
