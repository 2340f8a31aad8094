"""forkd.Process subclasses for the package's tests: their run() runs in
the child, on a pickled copy (imported there by forkd's python module)."""

import os
import sys
import threading

import forkd


class Worker(forkd.Process):
    """run() reports what the child's copy of the object looks like."""

    def __init__(self, factor, **kw):
        super().__init__(**kw)
        self.factor = factor

    def run(self):
        import multiprocessing
        return {"pid": os.getpid(), "self_pid": self.pid,
                "name": self.name, "daemon": self.daemon,
                "value": self.factor * 2, "alive": self.is_alive(),
                "exitcode": self.exitcode, "authkey": bytes(self.authkey),
                "mp_name": multiprocessing.current_process().name}


class Traced(forkd.Process):
    """run() wraps the target through super().run()."""

    def run(self):
        return ("traced", super().run())


class Failing(forkd.Process):
    """run() raises, or exits with a code."""

    def __init__(self, code=None, **kw):
        super().__init__(**kw)
        self.code = code

    def run(self):
        if self.code is not None:
            sys.exit(self.code)
        raise KeyError("from run")


class Meddler(forkd.Process):
    """run() tries what only the parent may do; returns what was refused."""

    def run(self):
        refused = []
        for what, call in (("join", self.join), ("start", self.start),
                           ("terminate", self.terminate),
                           ("result", self.result)):
            try:
                call()
            except AssertionError:
                refused.append(what)
        return refused


class Locked(forkd.Process):
    """An attribute that does not pickle."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.lock = threading.Lock()

    def run(self):
        return None
