#!/usr/bin/env python3
"""test_pyclient: drive a real forkd with the independent Python client.

    test_pyclient.py --forkd PATH/forkd --module-dir DIR [-v] [-k PATTERN]

Starts `forkd -s SOCK -k KEY -m DIR/pi.so -m DIR/bench.so` in a temporary
directory (32-byte random key, mode 0600), waits until a handshake succeeds,
runs the checks below, stops forkd with SIGTERM and checks it exits 0.
Prints one line per check and "N passed, N failed"; exit status 0 when all
passed, 1 otherwise.
"""

import argparse
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forkd_client as fc  # noqa: E402

EKEYREJECTED = fc.EKEYREJECTED


class Env:
    """What every check gets: paths, the key, the daemon process."""

    def __init__(self, args):
        self.args = args
        self.forkd = os.path.abspath(args.forkd)
        self.moddir = os.path.abspath(args.module_dir)
        self.tmp = tempfile.mkdtemp(prefix="forkd-py.")
        self.sock = os.path.join(self.tmp, "forkd.sock")
        self.keyfile = os.path.join(self.tmp, "authkey")
        self.key = os.urandom(32)
        fd = os.open(self.keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, self.key)
        os.close(fd)
        self.log_path = os.path.join(self.tmp, "forkd.log")
        self.log = open(self.log_path, "wb")
        self.proc = None
        self.markers = 0

    def start(self):
        cmd = [self.forkd, "-s", self.sock, "-k", self.keyfile,
               "-m", os.path.join(self.moddir, "pi.so"),
               "-m", os.path.join(self.moddir, "bench.so"),
               "-m", os.path.join(self.moddir, "testing.so")]
        if self.args.verbose:
            cmd.insert(1, "-v")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     cwd=self.tmp)
        deadline = time.monotonic() + 15
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("forkd exited with %d during start-up"
                                   % self.proc.returncode)
            try:
                with fc.connect(self.sock, self.key, timeout=2) as c:
                    c.ping(b"ready?")
                    return
            except (OSError, fc.ForkdError) as e:
                last = e
            time.sleep(0.05)
        raise RuntimeError("forkd not ready after 15 s: %r" % (last,))

    def connect(self, **kw):
        return fc.connect(self.sock, self.key, timeout=10, **kw)

    def marker(self):
        """A fresh path for a marker file (not created)."""
        self.markers += 1
        return os.path.join(self.tmp, "marker-%d" % self.markers)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout (killed)"

    def log_tail(self, n=40):
        self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def cleanup(self):
        self.log.close()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def expect_error(code, fn, *a, **kw):
    """fn(*a, **kw) must raise ForkdError with this code; returns it."""
    try:
        r = fn(*a, **kw)
    except fc.ForkdError as e:
        check(e.code == code, "expected error %d, got %d (%s)"
              % (code, e.code, e.message))
        return e
    raise AssertionError("expected error %d, got success %r" % (code, r))


def touch_request(marker, rid=1):
    """ClientMessage asking forkd to run /bin/sh -c 'touch MARKER'."""
    return {"request": {"id": rid, "spawn": {
        "target": "/bin/sh", "argv": ["sh", "-c", "touch '%s'" % marker]}}}


def settle():
    """Give forkd time to (wrongly) act on a rejected frame."""
    time.sleep(0.4)


def assert_no_marker(marker):
    settle()
    check(not os.path.exists(marker), "rejected frame was acted upon: %s "
          "exists" % marker)


def assert_closed(c, what):
    check(c.wait_closed(5.0), "%s: connection not closed by forkd" % what)


# ---- offline: the worked example of PROTOCOL.md -----------------------------

EX = {
    "client_proof": "654e5343370f1b44cf5b94143cf049b1cd0ad8138fee69658e55b365bff20454",
    "server_proof": "2b20d9ddac5b222db936e7d20a6f5c059adb4f7aae95a827e32058000cb88f32",
    "session_key": "602b21c0ec5c4c5811317a1e974f4af3546606a4a617577840483eed6c7c6a9a",
    "hello": "464b01000000002a00000000000000000a2808011220202122232425262728292a2b"
             "2c2d2e2f303132333435363738393a3b3c3d3e3f18808004",
    "auth": "464b01000000004800000000000000000a4608011220404142434445464748494a4b"
            "4c4d4e4f505152535455565758595a5b5c5d5e5f1a20654e5343370f1b44cf5b9414"
            "3cf049b1cd0ad8138fee69658e55b365bff20454",
    "authok": "464b010000000024000000000000000012220a202b20d9ddac5b222db936e7d20a"
              "6f5c059adb4f7aae95a827e32058000cb88f32",
    "req1": "464b01010000000c0000000000000001120a08017a060a0470696e6722143cc7e1ce"
            "7c61bc258ab4c46e19c0dc60fdc867b53040528b6a7dec9615e1",
    "resp1": "464b01010000000c00000000000000011a0a080172060a0470696e67d0ced77096ed"
             "c28584625e5124038ac70feedd6ea063336998b6d9486be5cb35",
    "req2": "464b01010000001e0000000000000002121c080252180a0a62656e63683a65786974"
            "1204657869741201374201014629951a86f614a700ae3997c4684743935978e74c3d"
            "6447046add459380347f",
}


def t_protocol_md_example(env):
    key = bytes(range(32))
    sn = bytes(range(0x20, 0x40))
    cn = bytes(range(0x40, 0x60))
    check(fc.client_proof(key, sn, cn).hex() == EX["client_proof"], "client proof")
    check(fc.server_proof(key, sn, cn).hex() == EX["server_proof"], "server proof")
    sk = fc.session_key(key, sn, cn)
    check(sk.hex() == EX["session_key"], "session key")
    hello = fc.encode("ServerMessage", {"hello": {
        "version": 1, "server_nonce": sn, "max_frame": 65536}})
    check(fc.build_frame(hello, 0).hex() == EX["hello"], "hello frame")
    auth = fc.encode("ClientMessage", {"auth": {
        "version": 1, "client_nonce": cn, "proof": fc.client_proof(key, sn, cn)}})
    check(fc.build_frame(auth, 0).hex() == EX["auth"], "auth frame")
    ok = fc.encode("ServerMessage", {"auth_ok": {"proof": fc.server_proof(key, sn, cn)}})
    check(fc.build_frame(ok, 0).hex() == EX["authok"], "authok frame")
    r1 = fc.encode("ClientMessage", {"request": {"id": 1, "ping": {"data": b"ping"}}})
    check(fc.build_frame(r1, 1, key=sk).hex() == EX["req1"], "req1 frame")
    p1 = fc.encode("ServerMessage", {"response": {"id": 1, "ping": {"data": b"ping"}}})
    check(fc.build_frame(p1, 1, key=sk, direction=fc.DIR_S2C).hex() == EX["resp1"],
          "resp1 frame")
    r2 = fc.encode("ClientMessage", {"request": {"id": 2, "spawn": {
        "target": "bench:exit", "argv": ["exit", "7"], "fd_targets": [1]}}})
    check(fc.build_frame(r2, 2, key=sk).hex() == EX["req2"], "req2 frame")
    # Decoding side: a client opens resp1 with the session key.
    c = fc.Client(None)
    c.session_key = sk
    m = fc.decode("ServerMessage", c.open_frame(bytes.fromhex(EX["resp1"])))
    check(m["response"]["ping"]["data"] == b"ping" and m["response"]["id"] == 1,
          "decode resp1")
    # Negative int32 and unknown fields.
    e = fc.decode("Error", fc.encode("Error", {"code": -129, "message": "x"}) +
                  b"\x98\x06\x05" + b"\xa2\x06\x02hi" + b"\xad\x06abcd")
    check(e["code"] == -129 and e["message"] == "x", "decode negative/unknown")
    # oneof: the last member on the wire wins; packed and unpacked repeated.
    sm = fc.decode("ServerMessage", fc.encode("ServerMessage", {"hello": {}}) +
                   fc.encode("ServerMessage", {"error": {"code": -1}}))
    check(sm["hello"] is None and sm["error"]["code"] == -1, "oneof last wins")
    sr = fc.decode("SpawnRequest", b"\x42\x02\x01\x02" + b"\x40\x03")
    check(sr["fd_targets"] == [1, 2, 3], "packed+unpacked %r" % sr["fd_targets"])


# ---- basic requests ------------------------------------------------------

def t_ping(env):
    with env.connect() as c:
        check(c.ping(b"hello") == b"hello", "ping data not echoed")
        check(c.ping() == b"", "empty ping")
        check(c.ping(b"\x00" * 1024) == b"\x00" * 1024, "1024-byte ping")


def t_status(env):
    with env.connect() as c:
        st = c.status()
        mods = {m["name"]: m for m in st["modules"]}
        check("pi" in mods and "bench" in mods, "modules: %r" % list(mods))
        check({"hello", "leibniz"} <= set(mods["pi"]["entries"]),
              "pi entries: %r" % mods["pi"]["entries"])
        check({"exit", "noop", "sleep"} <= set(mods["bench"]["entries"]),
              "bench entries: %r" % mods["bench"]["entries"])
        check(st["pid"] == env.proc.pid, "status pid %d != %d"
              % (st["pid"], env.proc.pid))
        check(st["connections"] >= 1, "connections %d" % st["connections"])
        check(st["version"] != "", "empty version")


def t_spawn_exit_wait(env):
    with env.connect() as c:
        pid, name = c.spawn("bench:exit", argv=["exit", "7"])
        check(pid > 0 and name, "spawn reply %r %r" % (pid, name))
        info = c.wait(pid, 10000)
        check(info["pid"] == pid, "wait pid %d" % info["pid"])
        check(info["exitcode"] == 7, "exitcode %d" % info["exitcode"])
        check(info["name"] == name, "wait name %r != %r" % (info["name"], name))
        # The exit event comes exactly once to this connection.
        ev = c.next_exit(5)
        check(ev is not None and ev["pid"] == pid and ev["exitcode"] == 7,
              "exit event %r" % (ev,))
        check(c.next_exit(0.5) is None, "second exit event")
        # Waiting again: the exit history answers at once.
        check(c.wait(pid, 0)["exitcode"] == 7, "history wait")
        check(c.wait(name, 0)["pid"] == pid, "wait by name")


def t_spawn_pipe_stdout(env):
    r, w = os.pipe()
    try:
        with env.connect() as c:
            pid, _ = c.spawn("pi:hello", fds={1: w})
            os.close(w)
            w = -1
            with os.fdopen(r, "rb") as f:
                r = -1
                out = f.read()
            check(out == b"hello from forkd child %d\n" % pid,
                  "child output %r (pid %d)" % (out, pid))
            check(c.wait(pid, 10000)["exitcode"] == 0, "hello exit code")
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


def t_spawn_fd_hygiene(env):
    r, w = os.pipe()
    with env.connect() as c:
        pid, _ = c.spawn("testing:fds", fds={1: w})
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read().split()
        check(out == [b"0", b"1", b"2"], "child fds %r" % out)
        c.wait(pid, 10000)


def t_signal_exitcode(env):
    with env.connect() as c:
        pid, _ = c.spawn("bench:sleep", argv=["sleep", "30"], daemon=True)
        expect_error(-errno.ETIMEDOUT, c.wait, pid, 100)
        c.ping()        # still open after an error Response
        c.signal(pid, signal.SIGTERM)
        info = c.wait(pid)              # no timeout
        check(info["exitcode"] == -signal.SIGTERM, "exitcode %d, want -15"
              % info["exitcode"])


def t_error_responses(env):
    with env.connect() as c:
        expect_error(-errno.ENOENT, c.spawn, "nosuchmodule:entry")
        expect_error(-errno.ENOENT, c.spawn, "bench:nosuchentry")
        expect_error(-errno.ESRCH, c.wait, 0x7ffffff0, 0)
        expect_error(-errno.ESRCH, c.signal, 0x7ffffff0, signal.SIGTERM)
        # Request without body.
        rid = 99
        c.send_message({"request": {"id": rid}})
        r = c._take_response(rid, 10)
        check(r["error"] == -errno.EINVAL, "no-body request: error %d"
              % r["error"])
        # fd_targets not matching the fds passed.
        expect_error(-errno.EINVAL, c.request, "spawn",
                     {"target": "bench:noop", "fd_targets": [1]})
        # Spawn set-up failure in the child.
        e = expect_error(-errno.ENOENT, c.spawn, "bench:noop",
                         cwd="/nonexistent-forkd-dir")
        check(e.message != "", "set-up failure without message")
        check(c.ping(b"x") == b"x", "connection unusable after errors")


def t_error_codes(env):
    """The codes PROTOCOL.md documents for refused requests; the connection
    stays open after each."""
    with env.connect() as c:
        expect_error(-errno.EINVAL, c.spawn, "no-colon-relative")
        expect_error(-errno.EINVAL, c.spawn, "bench:noop", cwd="relative")
        expect_error(-errno.EINVAL, c.spawn, "bench:noop", env=["NOEQUALS"])
        expect_error(-errno.EINVAL, c.spawn, "bench:noop", name="has space")
        expect_error(-errno.E2BIG, c.spawn, "bench:noop",
                     argv=["a"] * 1025)
        expect_error(-errno.EMSGSIZE, c.ping, b"x" * 1025)
        r, w = os.pipe()
        try:
            # fds on a request that is not a spawn
            rid = 77
            c.send_message({"request": {"id": rid, "ping": {}}}, fds=[w])
            resp = c._take_response(rid, 10)
            check(resp["error"] == -errno.EINVAL, "fds with ping: %d"
                  % resp["error"])
            expect_error(-errno.EBADF, c.spawn, "bench:noop", fds={64: w})
            expect_error(-errno.EINVAL, c.spawn, "bench:noop",
                         fds=[(1, w), (1, w)])
        finally:
            os.close(r)
            os.close(w)
        e = expect_error(-errno.ENOENT, c.spawn, "/nonexistent/forkd-exe")
        check(e.spawn_step == 6, "exec failure spawn_step %d" % e.spawn_step)
        e = expect_error(-errno.ENOENT, c.spawn, "bench:noop",
                         cwd="/nonexistent-forkd-dir")
        check(e.spawn_step == 5, "chdir failure spawn_step %d" % e.spawn_step)
        pid, name = c.spawn("bench:sleep", argv=["sleep", "30"],
                            name="py-unique", daemon=True)
        check(name == "py-unique", "name %r" % name)
        expect_error(-errno.EEXIST, c.spawn, "bench:noop", name="py-unique")
        c.signal(pid, 0)
        expect_error(-errno.EINVAL, c.signal, pid, 65)
        c.signal("py-unique", signal.SIGKILL)
        check(c.wait(pid, 10000)["exitcode"] == -signal.SIGKILL, "SIGKILL")
        expect_error(-errno.ESRCH, c.signal, pid, signal.SIGTERM)
        check(c.ping(b"y") == b"y", "connection unusable after errors")


def t_env_cwd_list(env):
    with env.connect() as c:
        r, w = os.pipe()
        pid, _ = c.spawn("testing:env", env=["FORKD_PY=1"], env_replace=True,
                         fds={1: w})
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read().split(b"\n")
        check([x for x in out if x] == [b"FORKD_PY=1"], "env %r" % out)
        c.wait(pid, 10000)
        r, w = os.pipe()
        pid, _ = c.spawn("testing:cwd", cwd="/tmp", fds={1: w})
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read()
        check(out.strip() == b"/tmp", "cwd %r" % out)
        c.wait(pid, 10000)
        pid, name = c.spawn("bench:sleep", argv=["sleep", "30"], daemon=True)
        kids = {k["pid"]: k for k in c.list()}
        check(pid in kids and kids[pid]["owned_by_me"] and
              kids[pid]["name"] == name and
              kids[pid]["target"] == "bench:sleep", "list %r" % kids.get(pid))
        c.signal(pid, signal.SIGKILL)
        c.wait(pid, 10000)


def t_pipelined_out_of_order(env):
    """A pending wait does not block later requests; match replies by id."""
    with env.connect() as c:
        pid, _ = c.spawn("bench:sleep", argv=["sleep", "1"])
        wid = c.next_id
        c.next_id += 1
        c.send_message({"request": {"id": wid, "wait": {
            "children": [{"pid": pid}], "timeout_ms": 10000}}})
        check(c.ping(b"first") == b"first", "ping while waiting")
        r = c._take_response(wid, 10)
        check(r["error"] == 0 and r["wait"]["exit"]["exitcode"] == 0,
              "wait reply %r" % r)


def t_max_frame_exact(env):
    """A frame of exactly max_frame bytes is accepted; unknown fields are
    skipped by the daemon."""
    with env.connect() as c:
        rid = 55
        p = fc.encode("ClientMessage", {"request": {"id": rid,
                                                    "ping": {"data": b"m"}}})
        pad = c.max_frame - fc.HDR_LEN - fc.MAC_LEN - len(p)
        n = pad
        while n > 0 and len(fc._tag(100, 2)) + len(fc.enc_varint(n)) + n > pad:
            n -= 1
        p += fc._tag(100, 2) + fc.enc_varint(n) + b"u" * n
        f = c.seal(p)
        check(len(f) == c.max_frame, "frame %d bytes" % len(f))
        c.send_raw(f)
        r = c._take_response(rid, 10)
        check(r["error"] == 0 and r["ping"]["data"] == b"m", "reply %r" % r)


def t_exec_positive_control(env):
    """The touch-marker request used by the attack checks does work."""
    m = env.marker()
    with env.connect() as c:
        c.send_message(touch_request(m))
        r = c._take_response(1, 10)
        check(r["error"] == 0, "exec spawn: %d %s" % (r["error"], r["message"]))
        c.wait(r["spawn"]["pid"], 10000)
    check(os.path.exists(m), "marker not created by a valid request")


# ---- authentication and frame attacks ---------------------------------------

def t_wrong_key(env):
    c = fc.connect_raw(env.sock)
    try:
        expect_error(-EKEYREJECTED, c.handshake, os.urandom(32))
        assert_closed(c, "wrong key")
    finally:
        c.close()


def t_client_rejects_bad_server_proof(env):
    """Offline: against a fake server, the client checks AuthOk.proof and
    the Hello version."""
    import threading

    def fake(sock, proof_key, version=1):
        sn = os.urandom(32)
        sock.send(fc.build_frame(fc.encode("ServerMessage", {"hello": {
            "version": version, "server_nonce": sn, "max_frame": 65536}}), 0))
        if version != 1:
            return
        f = sock.recv(65536)
        a = fc.decode("ClientMessage", f[fc.HDR_LEN:])["auth"]
        sock.send(fc.build_frame(fc.encode("ServerMessage", {"auth_ok": {
            "proof": fc.server_proof(proof_key, sn, a["client_nonce"])}}), 0))

    key = os.urandom(32)
    for proof_key, version, code in ((os.urandom(32), 1, -EKEYREJECTED),
                                     (key, 2, -errno.EPROTONOSUPPORT)):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        t = threading.Thread(target=fake, args=(b, proof_key, version))
        t.start()
        try:
            expect_error(code, fc.Client(a, 5).handshake, key)
        finally:
            t.join()
            a.close()
            b.close()
    # And the good case.
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t = threading.Thread(target=fake, args=(b, key))
    t.start()
    try:
        c = fc.Client(a, 5).handshake(key)
        check(c.authed, "handshake with the right key failed")
    finally:
        t.join()
        a.close()
        b.close()


def attack(env, name, make_frame, fds=None, prepare=None):
    """Connect, run prepare(c) (optional), send make_frame(c, marker), expect
    the connection closed and the marker absent, then a fresh ping."""
    m = env.marker()
    c = env.connect()
    try:
        if prepare:
            prepare(c)
        frame = make_frame(c, m)
        try:
            c.send_raw(frame, fds)
        except fc.ConnectionClosed:
            pass
        except OSError as e:
            # A frame too large for the socket cannot even be sent.
            check(e.errno == errno.EMSGSIZE, "send: %s" % e)
            return
        assert_closed(c, name)
    finally:
        c.close()
    assert_no_marker(m)
    with env.connect() as c2:
        check(c2.ping(b"after " + name.encode()) == b"after " + name.encode(),
              "ping after %s" % name)


def t_tampered_payload(env):
    def mk(c, m):
        f = bytearray(c.seal(fc.encode("ClientMessage", touch_request(m))))
        f[fc.HDR_LEN + 5] ^= 0x01          # flip one payload bit
        return bytes(f)
    attack(env, "payload bit flip", mk)


def t_tampered_mac(env):
    def mk(c, m):
        f = bytearray(c.seal(fc.encode("ClientMessage", touch_request(m))))
        f[-1] ^= 0x80
        return bytes(f)
    attack(env, "MAC bit flip", mk)


def t_tampered_header(env):
    def mk(c, m):
        f = bytearray(c.seal(fc.encode("ClientMessage", touch_request(m))))
        f[15] ^= 0x02                      # seq 1 -> 3, MAC unchanged
        return bytes(f)
    attack(env, "header seq bit flip", mk)


def t_replay(env):
    first = env.marker()

    def prep(c):
        c.send_message(touch_request(first, rid=1))
        r = c._take_response(1, 10)
        check(r["error"] == 0, "spawn: %s" % r["message"])
        c.wait(r["spawn"]["pid"], 10000)
        check(os.path.exists(first), "first request not done")
        os.unlink(first)

    def mk(c, m):
        return c.sent_frames[0]            # resend the sealed frame as is
    attack(env, "replay", mk, prepare=prep)
    assert_no_marker(first)


def t_replay_old_seq_fresh_mac(env):
    def prep(c):
        c.ping(b"1")

    def mk(c, m):
        # Correct MAC under the session key, but seq 1 again.
        return c.seal(fc.encode("ClientMessage", touch_request(m)), seq=1)
    attack(env, "seq reuse", mk, prepare=prep)


def t_reorder(env):
    def mk(c, m):
        # seq 2 before seq 1
        return c.seal(fc.encode("ClientMessage", touch_request(m)), seq=2)
    attack(env, "reorder", mk)


def t_reflected_direction(env):
    def mk(c, m):
        return c.seal(fc.encode("ClientMessage", touch_request(m)),
                      direction=fc.DIR_S2C)
    attack(env, "direction 0x02", mk)


def t_reflect_server_frame(env):
    def prep(c):
        c.ping(b"reflect")

    def mk(c, m):
        return c.recv_frames[0]            # the server's own Response, seq 1
    attack(env, "reflected server frame", mk, prepare=prep)


def t_cross_session(env):
    other = env.connect()
    try:
        def mk(c, m):
            return c.seal(fc.encode("ClientMessage", touch_request(m)),
                          key=other.session_key)
        attack(env, "other session's key", mk)
        check(other.ping(b"o") == b"o", "other session disturbed")
    finally:
        other.close()


def t_cross_session_frame(env):
    """A frame sealed on session A (seq 1) sent on session B."""
    m = env.marker()
    a = env.connect()
    try:
        fa = a.seal(fc.encode("ClientMessage", touch_request(m)))
        attack(env, "frame from another session", lambda c, _m: fa)
    finally:
        a.close()
    assert_no_marker(m)


def _length_attack(env, name, length):
    def mk(c, m):
        # MAC computed over the header as sent, so only the length is wrong.
        return c.seal(fc.encode("ClientMessage", touch_request(m)),
                      length=length)
    attack(env, name, mk)


def t_length_plus_one(env):
    def mk(c, m):
        p = fc.encode("ClientMessage", touch_request(m))
        return c.seal(p, length=len(p) + 1)
    attack(env, "length +1", mk)


def t_length_minus_one(env):
    def mk(c, m):
        p = fc.encode("ClientMessage", touch_request(m))
        return c.seal(p, length=len(p) - 1)
    attack(env, "length -1", mk)


def t_length_zero(env):
    _length_attack(env, "length 0", 0)


def t_length_max(env):
    _length_attack(env, "length 0xffffffff", 0xFFFFFFFF)


def t_oversized(env):
    def mk(c, m):
        p = fc.encode("ClientMessage", touch_request(m))
        pad = c.max_frame + 1 - fc.HDR_LEN - fc.MAC_LEN - len(p)
        # Unknown field 100 (bytes) to reach exactly max_frame + 1 bytes.
        n = pad
        while n > 0 and len(fc._tag(100, 2)) + len(fc.enc_varint(n)) + n > pad:
            n -= 1
        p2 = p + fc._tag(100, 2) + fc.enc_varint(n) + b"x" * n
        f = c.seal(p2)
        check(len(f) == c.max_frame + 1, "frame of %d bytes, want %d"
              % (len(f), c.max_frame + 1))
        return f
    attack(env, "oversized frame", mk)


def t_bad_magic(env):
    attack(env, "bad magic", lambda c, m: c.seal(
        fc.encode("ClientMessage", touch_request(m)), magic=b"FX"))


def t_bad_version(env):
    attack(env, "bad version", lambda c, m: c.seal(
        fc.encode("ClientMessage", touch_request(m)), version=2))


def t_bad_flags(env):
    attack(env, "unknown flag bit", lambda c, m: c.seal(
        fc.encode("ClientMessage", touch_request(m)), flags=0x03))


def t_unsealed_after_handshake(env):
    attack(env, "unsealed frame after handshake", lambda c, m: fc.build_frame(
        fc.encode("ClientMessage", touch_request(m)), 1))


def t_short_frame(env):
    attack(env, "8-byte frame", lambda c, m: b"FK\x01\x01\x00\x00\x00\x00")


def t_garbage_payload(env):
    # Valid MAC and seq, payload not protobuf (truncated length-delimited).
    attack(env, "garbage payload", lambda c, m: c.seal(b"\x12\x7f\x08"))


def t_auth_after_handshake(env):
    attack(env, "auth after handshake", lambda c, m: c.seal(
        fc.encode("ClientMessage", {"auth": {
            "version": 1, "client_nonce": os.urandom(32),
            "proof": os.urandom(32)}})))


def t_fds_with_rejected_frame(env):
    """fds attached to a tampered frame are closed by forkd, unused."""
    r, w = os.pipe()
    try:
        def mk(c, m):
            p = fc.encode("ClientMessage", {"request": {"id": 1, "spawn": {
                "target": "pi:hello", "fd_targets": [1]}}})
            f = bytearray(c.seal(p))
            f[fc.HDR_LEN + 3] ^= 0x10
            return bytes(f)
        attack(env, "tampered frame with fd", mk, fds=[w])
        os.close(w)
        w = -1
        os.set_blocking(r, False)
        try:
            data = os.read(r, 100)
        except BlockingIOError:
            raise AssertionError("forkd still holds the write end of the pipe")
        check(data == b"", "child ran: %r" % data)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def t_handshake_bad_seq(env):
    c = fc.connect_raw(env.sock)
    try:
        m = c.recv_message(handshake=True)
        sn = m["hello"]["server_nonce"]
        cn = os.urandom(32)
        p = fc.encode("ClientMessage", {"auth": {
            "version": 1, "client_nonce": cn,
            "proof": fc.client_proof(env.key, sn, cn)}})
        c.send_raw(fc.build_frame(p, 1))   # handshake frame with seq 1
        ok = True
        try:
            msg = c.recv_message(timeout=5, handshake=True)
            ok = msg["auth_ok"] is None
        except fc.ForkdError:
            pass
        check(ok, "AuthOk for a handshake frame with seq 1")
        assert_closed(c, "handshake seq 1")
    finally:
        c.close()


def t_handshake_replayed_auth(env):
    """An Auth recorded on one connection fails on the next."""
    c1 = fc.connect_raw(env.sock)
    try:
        c1.handshake(env.key)
    finally:
        c1.close()
    auth = fc.encode("ClientMessage", {"auth": {
        "version": 1, "client_nonce": c1.client_nonce,
        "proof": fc.client_proof(env.key, c1.server_nonce, c1.client_nonce)}})
    c = fc.connect_raw(env.sock)
    try:
        c.recv_message(handshake=True)
        c.send_raw(fc.build_frame(auth, 0))
        expect_error(-EKEYREJECTED, c.recv_message, 5, True)
        assert_closed(c, "replayed Auth")
    finally:
        c.close()


def t_error_frame_sealed(env):
    """After a bad frame forkd's final Error is sealed with the next S->C
    seq and carries -EPROTO (PROTOCOL.md 6.8); then EOF."""
    m = env.marker()
    with env.connect() as c:
        c.ping(b"1")                       # server send seq 1
        f = bytearray(c.seal(fc.encode("ClientMessage", touch_request(m))))
        f[fc.HDR_LEN] ^= 0x04
        c.send_raw(bytes(f))
        e = expect_error(-errno.EPROTO, c.recv_message, 5)
        check(c.recv_seq == 2, "Error frame seq %d, want 2" % c.recv_seq)
        check(e.message != "", "Error without message")
        frame, _ = c.recv_raw(5)
        check(frame == b"", "frame after the fatal Error")
    assert_no_marker(m)


def t_handshake_timeout(env):
    """No Auth within handshake_timeout_ms (5000): Error -ETIMEDOUT,
    unsealed, then closed."""
    c = fc.connect_raw(env.sock, timeout=10)
    try:
        c.recv_message(handshake=True)
        t0 = time.monotonic()
        expect_error(-errno.ETIMEDOUT, c.recv_message, 10, True)
        dt = time.monotonic() - t0
        check(3.0 < dt < 15.0, "deadline after %.1f s" % dt)
        assert_closed(c, "handshake timeout")
    finally:
        c.close()


def t_too_many_connections(env):
    """Connections over max_connections (64) that never answer their Hello
    cannot lock a key holder out: each new one takes the slot of the
    oldest connection still in its handshake, which gets Error -EUSERS
    (unsealed) and is closed; a key holder then still gets in."""
    conns = []
    try:
        for i in range(80):
            c = fc.connect_raw(env.sock, timeout=5)
            conns.append(c)
            m = c.recv_message(handshake=True)
            check(m["hello"] is not None, "connection %d: no Hello" % (i + 1))
        # The first connections were closed for newer ones: Error, then EOF.
        try:
            conns[0].recv_message(handshake=True)
            check(False, "the oldest handshake was not closed")
        except fc.ForkdError as e:
            check(e.code == -errno.EUSERS, "eviction code %d" % e.code)
        assert_closed(conns[0], "connection closed for a newer one")
        with env.connect() as k:
            k.ping(b"still in")
    finally:
        for c in conns:
            c.close()


def t_status_counters(env):
    with env.connect() as c:
        st = c.status()
        check(st["auth_failures"] >= 1, "auth_failures %d" % st["auth_failures"])
        check(st["protocol_errors"] >= 1, "protocol_errors %d"
              % st["protocol_errors"])


def t_daemon_flag(env):
    """A daemon=true child is terminated when its connection closes."""
    with env.connect() as w:
        c = env.connect()
        pid, _ = c.spawn("bench:sleep", argv=["sleep", "30"], daemon=True)
        c.close()
        info = w.wait(pid, 10000)
        check(info["exitcode"] in (-signal.SIGTERM, -signal.SIGKILL),
              "daemon child exitcode %d" % info["exitcode"])


# Checks that need no daemon.
OFFLINE = [
    t_protocol_md_example,
    t_client_rejects_bad_server_proof,
]

CHECKS = [
    t_ping,
    t_status,
    t_spawn_exit_wait,
    t_spawn_pipe_stdout,
    t_spawn_fd_hygiene,
    t_signal_exitcode,
    t_error_responses,
    t_error_codes,
    t_env_cwd_list,
    t_pipelined_out_of_order,
    t_max_frame_exact,
    t_exec_positive_control,
    t_wrong_key,
    t_handshake_bad_seq,
    t_handshake_replayed_auth,
    t_tampered_payload,
    t_tampered_mac,
    t_tampered_header,
    t_replay,
    t_replay_old_seq_fresh_mac,
    t_reorder,
    t_reflected_direction,
    t_reflect_server_frame,
    t_cross_session,
    t_cross_session_frame,
    t_length_plus_one,
    t_length_minus_one,
    t_length_zero,
    t_length_max,
    t_oversized,
    t_bad_magic,
    t_bad_version,
    t_bad_flags,
    t_unsealed_after_handshake,
    t_short_frame,
    t_garbage_payload,
    t_auth_after_handshake,
    t_fds_with_rejected_frame,
    t_error_frame_sealed,
    t_handshake_timeout,
    t_too_many_connections,
    t_daemon_flag,
    t_status_counters,
]


def resolve_forkd(path):
    """The daemon binary. In the CMake tree the daemon target is
    forkd_daemon and `forkd` is libforkd, so $<TARGET_FILE:forkd> may name
    the library: then use the daemon built beside it (BUILD/daemon/forkd)."""
    base = os.path.basename(path)
    if base.startswith("libforkd") or ".so" in base:
        d = os.path.dirname(os.path.abspath(path))
        for cand in (os.path.join(d, "..", "daemon", "forkd"),
                     os.path.join(d, "daemon", "forkd")):
            cand = os.path.normpath(cand)
            if os.access(cand, os.X_OK):
                print("note: --forkd %s is the client library; using %s"
                      % (path, cand))
                return cand
    return path


def run_check(fn, env, args):
    """Run one check; print its line; return True when it passed."""
    name = fn.__name__[2:]
    t0 = time.monotonic()
    try:
        fn(env)
    except Exception as e:  # noqa: BLE001
        print("FAIL %s: %s" % (name, e))
        if args.verbose or not isinstance(e, AssertionError):
            traceback.print_exc(file=sys.stdout)
        return False
    print("ok   %s (%.0f ms)" % (name, (time.monotonic() - t0) * 1000))
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--forkd", help="path of the forkd binary")
    ap.add_argument("--module-dir", help="directory holding pi.so and bench.so")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="pattern", help="run only checks containing this")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--offline", action="store_true",
                    help="run only the checks that need no daemon")
    args = ap.parse_args()
    if not args.offline and (not args.forkd or not args.module_dir):
        ap.error("--forkd and --module-dir are required (or --offline)")
    sys.stdout.reconfigure(line_buffering=True)

    if not args.offline:
        args.forkd = resolve_forkd(args.forkd)

    def wanted(fn):
        return not args.pattern or args.pattern in fn.__name__

    passed = failed = 0
    for fn in filter(wanted, OFFLINE):
        if run_check(fn, None, args):
            passed += 1
        else:
            failed += 1
    if args.offline:
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0

    env = Env(args)
    try:
        try:
            env.start()
        except Exception as e:  # noqa: BLE001
            print("FAIL start forkd: %s" % e)
            print(env.log_tail())
            env.stop()
            print("%d passed, %d failed" % (passed, failed + 1))
            return 1
        for fn in filter(wanted, CHECKS):
            if run_check(fn, env, args):
                passed += 1
            else:
                failed += 1
            if env.proc.poll() is not None:
                failed += 1
                print("FAIL forkd died (status %d) after %s"
                      % (env.proc.returncode, fn.__name__[2:]))
                break
        rc = env.stop()
        if rc == 0:
            passed += 1
            print("ok   SIGTERM -> exit 0")
        else:
            failed += 1
            print("FAIL SIGTERM -> exit %s" % (rc,))
        if failed:
            print("---- forkd log (tail) ----")
            print(env.log_tail())
    finally:
        if env.proc is not None and env.proc.poll() is None:
            env.proc.kill()
            env.proc.wait()
        env.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
