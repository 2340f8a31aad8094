"""Targets for the forkd package's tests: imported by the tests and, by
name, by forkd's python module (its path= holds this directory)."""

import ctypes
import os
import sys
import time


def add(a, b, c=0):
    return a + b + c


def echo(*args, **kwargs):
    return args, kwargs


def hello(name):
    print("hello", name, flush=True)


def getpid():
    return os.getpid()


def environ(name):
    return os.environ.get(name)


def cwd():
    return os.getcwd()


def numpy_loaded():
    """Was numpy imported before the target ran (forkd preloaded it)?"""
    return "numpy" in sys.modules


def boom(msg):
    raise ValueError(msg)


class Unpicklable(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.lock = __import__("threading").Lock()


def boom_unpicklable():
    raise Unpicklable("cannot travel")


def exit3():
    sys.exit(3)


def segfault():
    ctypes.string_at(0)


def forever():
    while True:
        time.sleep(1)


def nap(seconds):
    time.sleep(seconds)
    return seconds


def fail_after(seconds, code):
    time.sleep(seconds)
    sys.exit(code)


def stdout_mib(n):
    """Write n MiB to stdout."""
    block = b"y" * (1 << 20)
    for _ in range(n):
        sys.stdout.buffer.write(block)
    sys.stdout.buffer.flush()
    return n


def big_result(n):
    return b"r" * n


def big_arg(data):
    return len(data)


class Greeter:
    """A class target: calling it makes an instance."""

    def __init__(self, who):
        self.who = who

    @staticmethod
    def shout(s):
        return s.upper()

    def greet(self, greeting="hello"):
        return "%s %s from %d" % (greeting, self.who, os.getpid())

    def __call__(self, x):
        return (self.who, x)


def report():
    """What the child's set-up gave it."""
    import resource
    mask = os.umask(0)
    os.umask(mask)
    return {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
            "umask": mask, "nice": os.nice(0),
            "cpus": sorted(os.sched_getaffinity(0)),
            "pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
            "net": sorted(n for _, n in __import__("socket").if_nameindex()),
            "cgroup": open("/proc/self/cgroup").read().strip()}


def mp_process():
    """What multiprocessing says of this process and its parent."""
    import multiprocessing as mp
    cur, par = mp.current_process(), mp.parent_process()
    return {"name": cur.name, "pid": cur.pid, "daemon": cur.daemon,
            "authkey": bytes(cur.authkey), "identity": cur._identity,
            "parent": None if par is None else (par.name, par.pid,
                                                par.is_alive())}


def through_proxy(d, key):
    """Write to a multiprocessing manager's dict, through its proxy."""
    d[key] = os.getpid()
    return sorted(d.keys())


def mp_grandchild_name():
    import multiprocessing as mp
    return mp.Process(target=os.getpid).name


def send_through(conn, sock, value):
    """Send value on a multiprocessing Connection and on a socket."""
    conn.send(("conn", value, os.getpid()))
    conn.close()
    sock.sendall(b"sock %d" % value)
    sock.close()
    return "sent"


def return_connection():
    """A multiprocessing Connection as the return value."""
    import multiprocessing as mp
    return mp.Pipe()[1]


def nested(x):
    """Start a forkd child of this child through the default connection;
    (its result, its pid differs from ours, its parent_process() pid)."""
    import forkd
    p = forkd.Process(target=add, args=(x, 1))
    p.start()
    return p.result(60), p.pid != os.getpid(), p.pid


def leave_child(path, seconds):
    """Start a non-daemon forkd child that writes path after a while, and
    return at once: the child's end must join it."""
    import forkd
    p = forkd.Process(target=write_later, args=(path, seconds))
    p.start()
    return p.pid


def write_later(path, seconds):
    time.sleep(seconds)
    with open(path, "w") as f:
        f.write("done")


def return_lock():
    """Returns what does not pickle."""
    import threading
    return threading.Lock()


def sleep_then_write(path, seconds):
    """Sleep, then write path: a KeyboardInterrupt in between leaves no
    file."""
    time.sleep(seconds)
    with open(path, "w") as f:
        f.write("finished")


def env_and_umask(names, path):
    """The named variables, the umask, and the mode of a file created
    at path."""
    mask = os.umask(0)
    os.umask(mask)
    with open(path, "w"):
        pass
    return ({n: os.environ.get(n) for n in names}, mask,
            os.stat(path).st_mode & 0o777)


def argv():
    """The child's sys.argv."""
    return sys.argv


def executor_in_child(path, n):
    """Submit n file-writing tasks to a forkd.Executor and return without
    shutting it down: the child's end must run them, as an exit would."""
    import forkd
    ex = forkd.Executor(1)
    for i in range(n):
        ex.submit(sleep_then_write, "%s.%d" % (path, i), 0.1)
    return n


def shm_leave():
    """Create a shared memory segment, close it without unlinking it, and
    return its name (its tracker decides when it goes)."""
    from multiprocessing import shared_memory
    s = shared_memory.SharedMemory(create=True, size=16)
    s.close()
    return s.name
