"""A forkd with the python module on a temporary socket, for the pytest
suites of tests/python_module and tests/python_package (their conftest.py
add the test-specific parts)."""

import os
import subprocess
import tempfile
import time


class ForkdServer:
    """forkd started with "-m MODULE:OPTS" in a fresh temporary directory
    holding its socket, a random 32-byte key file and its log."""

    def __init__(self, forkd, module, opts, prefix, extra_args=(),
                 slow=1.0):
        self.slow = slow
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.sock = os.path.join(self.tmp, "forkd.sock")
        self.keyfile = os.path.join(self.tmp, "authkey")
        self.key = os.urandom(32)
        fd = os.open(self.keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o600)
        os.write(fd, self.key)
        os.close(fd)
        self.log_path = os.path.join(self.tmp, "forkd.log")
        self.cmd = [forkd, "-s", self.sock, "-k", self.keyfile,
                    "-m", "%s:%s" % (module, opts)] + list(extra_args)
        self.proc = None

    def launch(self, ready, errors, env=None):
        """Start forkd and call ready() until it returns without raising
        one of errors (30 s); raises if forkd exits or never answers."""
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, cwd=self.tmp,
                                         env=env)
        deadline = time.monotonic() + 30 * self.slow
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("forkd exited with %d:\n%s"
                                   % (self.proc.returncode, self.log()))
            try:
                ready()
                return self
            except errors as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError("forkd not ready: %r\n%s" % (last, self.log()))

    def log(self):
        """forkd's log so far ("" when unreadable)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""
