"""Small targets for the python module's tests (tests/python_module) and
the package's tests (tests/python_package may reuse them). Preloaded
through the module's path= option; import nothing heavy at import time."""
import os
import sys
import time


def add(a, b, scale=1):
    """(a + b) * scale."""
    return (a + b) * scale


def whoami():
    """What the child sees: pid, argv, a few env vars, the cwd."""
    return {"pid": os.getpid(), "argv": list(sys.argv),
            "env": dict(os.environ), "cwd": os.getcwd(),
            "numpy": "numpy" in sys.modules}


def boom(msg="boom"):
    """Raise ValueError(msg)."""
    raise ValueError(msg)


class Unpicklable(Exception):
    """An exception that cannot make the pickle round trip."""

    def __init__(self, a, b):
        super().__init__("needs two arguments")
        self.lock = __import__("threading").Lock()


def boom_unpicklable():
    raise Unpicklable(1, 2)


def exit_with(code):
    """sys.exit(code)."""
    sys.exit(code)


def segfault():
    """Die by SIGSEGV (a NULL read)."""
    import ctypes
    ctypes.string_at(0)


def print_mib(n):
    """Write n MiB to stdout through sys.stdout, then a last line."""
    line = "x" * 1023 + "\n"
    block = line * 1024
    for _ in range(n):
        sys.stdout.write(block)
    sys.stdout.write("end\n")
    return n


def big_bytes(n):
    """Return n MiB of bytes (a pattern that is cheap to check)."""
    return bytes(range(256)) * (n * 4096)


def print_and_return(text):
    """Print text (no newline: left in the buffer until exit) and return it."""
    sys.stdout.write(text)
    sys.stderr.write("err:" + text)
    return text


def sleep(seconds):
    time.sleep(seconds)
    return seconds


def numpy_sum(n):
    import numpy
    return int(numpy.arange(n).sum())


def return_lambda():
    """A return value that does not pickle."""
    return lambda: 0


def echo(*args, **kwargs):
    return args, kwargs


def read_stdin():
    return sys.stdin.read()


def sys_path():
    return list(sys.path)


def random_value():
    """Random state must differ between children (at-fork reseeding)."""
    import random
    return random.random()


not_callable = 42


def gc_state():
    """(collector enabled, objects in the permanent generation)."""
    import gc
    return gc.isenabled(), gc.get_freeze_count()


def threads_now():
    """Threads of this process (a child must start with one)."""
    return len(os.listdir("/proc/self/task"))


def children_now():
    """What os.wait() says with no child of the target's own: None for
    ChildProcessError, or the (pid, status) it reaped."""
    try:
        return os.wait()
    except ChildProcessError:
        return None


def name_self(name):
    """Set this process's name (comm); return its pid."""
    with open("/proc/self/comm", "w") as f:
        f.write(name)
    return os.getpid()


def write_then_raw():
    """'text' through sys.stdout, then 'raw' straight to fd 1."""
    sys.stdout.write("text")
    os.write(1, b"raw")


def interrupt_self():
    """SIGINT to itself: KeyboardInterrupt, as in any Python process."""
    import signal
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
    return "not interrupted"


def write_to_closed_pipe():
    """A write to a pipe without reader: BrokenPipeError, not SIGPIPE."""
    r, w = os.pipe()
    os.close(r)
    try:
        os.write(w, b"x")
    except BrokenPipeError:
        return "EPIPE"
    finally:
        os.close(w)
    return "written"


def log_warning(text):
    """logging (preloaded, with its at-fork lock hooks) in a child."""
    import logging
    logging.getLogger("pm").warning(text)
    return text


def module_attr(name, attr):
    """getattr(sys.modules[name], attr), None when name is not imported:
    what the warm image had, without importing anything."""
    mod = sys.modules.get(name)
    return None if mod is None else getattr(mod, attr, None)


def fill_and_name(name, mib):
    """Write mib MiB (so that unmapping them takes a while after the
    child's exit), set this process's name; return its pid."""
    held.append(bytearray(b"x") * (mib << 20))
    return name_self(name)


held = []


def mp_process():
    """What multiprocessing says of this process and its parent."""
    import multiprocessing as mp
    cur, par = mp.current_process(), mp.parent_process()
    return {"name": cur.name, "pid_ok": cur.pid == os.getpid(),
            "daemon": cur.daemon, "identity": cur._identity,
            "authkey": bytes(cur.authkey), "alive": cur.is_alive(),
            "parent": None if par is None else
            (par.name, par.pid, par.is_alive())}


def environ_of(name):
    """os.environ's value of name, checked against the C environment."""
    v = os.environ.get(name)
    assert os.getenv(name) == v
    import ctypes
    c = ctypes.CDLL(None).getenv
    c.restype = ctypes.c_char_p
    raw = c(name.encode())
    assert (raw.decode() if raw is not None else None) == v
    return v


def debug():
    """A breakpoint() left in: returns what it returned."""
    return breakpoint()
