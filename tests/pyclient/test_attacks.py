#!/usr/bin/env python3
"""test_attacks: adversarial clients against a real forkd, each with a
well-behaved client connected in parallel.

    test_attacks.py --forkd PATH/forkd --module-dir DIR [-v] [-k PATTERN]
                    [--keep]

Starts `forkd -c CONF -s SOCK -k KEY -m pi.so -m bench.so` in a temporary
directory; CONF sets a short handshake_timeout_ms (and kill_grace_ms) so the
slowloris checks stay fast. Every check runs through parallel():

  1. forkd's open fd count (/proc/PID/fd) is measured once it is stable;
  2. a well-behaved connection W authenticates (before the attack);
  3. the attack runs; whenever it asks forkd to run something, it asks for
     `/bin/sh -c 'touch MARKER'`;
  4. MARKER must not exist; W must answer a ping and spawn `bench:exit 3`
     (exit code 3); forkd must still run;
  5. after W closes, forkd's fd count must be back to what it was in 1, and
     forkd must have no zombie children.

test_pyclient.py checks many of the same frames against a lone client; here
every case also proves the daemon kept serving someone else, leaked no fd
and ran nothing. Prints one line per check and "N passed, N failed"; exit
status 0 when all passed.
"""

import argparse
import errno
import os
import select
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

EKEYREJECTED = -fc.EKEYREJECTED
EPROTO = -errno.EPROTO
EBADMSG = -errno.EBADMSG
EMSGSIZE = -errno.EMSGSIZE

# Sanitizer builds run everything several times slower.
SLOW = 3 if os.environ.get("ASAN_OPTIONS") else 1
# Every legitimate handshake must finish within it too.
HANDSHAKE_MS = 600 * SLOW
KILL_GRACE_MS = 1000


class Env:
    """The daemon under attack: paths, key, process, helpers on /proc."""

    def __init__(self, args):
        self.args = args
        self.forkd = os.path.abspath(args.forkd)
        self.moddir = os.path.abspath(args.module_dir)
        self.tmp = tempfile.mkdtemp(prefix="forkd-adv.")
        self.sock = os.path.join(self.tmp, "forkd.sock")
        self.keyfile = os.path.join(self.tmp, "authkey")
        self.conf = os.path.join(self.tmp, "forkd.conf")
        self.key = os.urandom(32)
        fd = os.open(self.keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, self.key)
        os.close(fd)
        with open(self.conf, "w") as f:
            f.write("# written by test_attacks.py\n[limits]\n"
                    "handshake_timeout_ms = %d\nkill_grace_ms = %d\n"
                    % (HANDSHAKE_MS, KILL_GRACE_MS))
        self.log_path = os.path.join(self.tmp, "forkd.log")
        self.log = open(self.log_path, "wb")
        self.proc = None
        self.markers = 0

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        cmd = [self.forkd, "-c", self.conf, "-s", self.sock,
               "-k", self.keyfile,
               "-m", os.path.join(self.moddir, "pi.so"),
               "-m", os.path.join(self.moddir, "bench.so"),
               "-m", os.path.join(self.moddir, "testing.so")]
        if self.args.verbose:
            cmd.insert(1, "-v")
        # As the C harness: FORKD_TEST_POOL=N sets the pre-forked pool.
        if os.environ.get("FORKD_TEST_POOL"):
            cmd += ["--pool", os.environ["FORKD_TEST_POOL"]]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log,
                                     cwd=self.tmp)
        deadline = time.monotonic() + 15 * SLOW
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
        raise RuntimeError("forkd not ready after %d s: %r"
                           % (15 * SLOW, last))

    def connect(self, **kw):
        return fc.connect(self.sock, self.key, timeout=10 * SLOW, **kw)

    def raw(self):
        return fc.connect_raw(self.sock, timeout=10 * SLOW)

    def marker(self):
        """A fresh path for a marker file (not created)."""
        self.markers += 1
        return os.path.join(self.tmp, "marker-%d" % self.markers)

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def settled_fds(self):
        """forkd's fd count once it stayed the same for 300 ms."""
        n, same = self.fds(), 0
        end = time.monotonic() + 5 * SLOW
        while same < 6 and time.monotonic() < end:
            time.sleep(0.05)
            m = self.fds()
            same = same + 1 if m == n else 0
            n = m
        return n

    def children(self):
        """[(pid, state, comm)] of forkd's child processes, idle pool
        children (comm forkd-pool, forkd's own), the pool's zygote (comm
        forkd-zygote) left out, and children
        forked a moment ago that have not named themselves yet (comm
        still forkd's)."""
        with open("/proc/%d/comm" % self.pid) as f:
            own = f.read().strip()
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
            except OSError:
                continue
            r = s.rfind(")")
            fields = s[r + 2:].split()
            comm = s[s.find("(") + 1:r]
            if int(fields[1]) == self.pid and not (
                    comm in ("forkd-pool", "forkd-zygote", own) and
                    fields[0] != "Z"):
                out.append((int(d), fields[0], comm))
        return out

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15 * SLOW)
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


def errname(code):
    return errno.errorcode.get(-code, str(code)) if code < 0 else str(code)


def expect_error(code, needles, fn, *a, **kw):
    """fn() must raise ForkdError with this code and a message containing
    every string in needles; returns the error."""
    try:
        r = fn(*a, **kw)
    except fc.ConnectionClosed as e:
        raise AssertionError("expected error %d (%s), but forkd closed the "
                             "connection (last Error %r)"
                             % (code, errname(code), e.error))
    except fc.ForkdError as e:
        check(e.code == code, "expected error %d (%s), got %d (%s) \"%s\""
              % (code, errname(code), e.code, errname(e.code), e.message))
        for n in needles:
            check(n in e.message, "error %s: message \"%s\" does not name "
                  "\"%s\"" % (errname(code), e.message, n))
        return e
    raise AssertionError("expected error %d (%s), got success %r"
                         % (code, errname(code), r))


def touch_spawn(marker, **extra):
    """SpawnRequest running /bin/sh -c 'touch MARKER' (plus fields)."""
    sp = {"target": "/bin/sh", "argv": ["sh", "-c", "touch '%s'" % marker]}
    sp.update(extra)
    return sp


def touch_payload(marker, rid=1, **extra):
    return fc.encode("ClientMessage", {"request": {
        "id": rid, "spawn": touch_spawn(marker, **extra)}})


def send_quietly(c, data, fds=None):
    """Send a datagram; a connection forkd already closed is fine."""
    try:
        c.send_raw(data, fds)
        return True
    except fc.ConnectionClosed:
        return False


def expect_closed(c, what, codes, strict=True):
    """forkd closes c (within 5 s); if codes, its final Error (sent before
    closing, sealed or not) carries one of them. strict=False when the
    attack sent more frames after the bad one: forkd closes with those
    unread, so the kernel reports ECONNRESET to our next recv before the
    queued Error can be read (PROTOCOL.md section 8: a client must not rely
    on the Error); then only a received Error's code is checked."""
    closed = c.wait_closed(5.0 * SLOW)
    check(closed, "%s: forkd did not close the connection within %d s"
          % (what, 5 * SLOW))
    if codes is None:
        return
    err = c.last_error
    check(err is not None or not strict, "%s: connection closed without an "
          "Error frame (expected %s)"
          % (what, "/".join(errname(x) for x in codes)))
    if err is not None and err["code"] not in codes:
        raise AssertionError("%s: Error %d (%s) \"%s\", expected %s"
                             % (what, err["code"], errname(err["code"]),
                                err["message"],
                                "/".join(errname(x) for x in codes)))


def parallel(env, name, attack):
    """Run attack(marker, w) with the well-behaved client w connected
    before it; then check marker, w, fds and zombies (see the module
    docstring)."""
    m = env.marker()
    before = env.settled_fds()
    w = env.connect()
    try:
        check(w.ping(b"before") == b"before", "%s: W's first ping" % name)
        attack(m, w)
        time.sleep(0.3 * SLOW)   # time to (wrongly) act on a rejected frame
        check(env.proc.poll() is None, "%s: forkd died (status %s)"
              % (name, env.proc.returncode))
        check(not os.path.exists(m), "%s: the attack's request ran: %s "
              "exists" % (name, m))
        try:
            got = w.ping(b"after")
        except fc.ForkdError as e:
            raise AssertionError("%s: the well-behaved client's ping after "
                                 "the attack failed: %s" % (name, e))
        check(got == b"after", "%s: W's ping echoed %r" % (name, got))
        pid, _ = w.spawn("bench:exit", argv=["exit", "3"])
        info = w.wait(pid, 10000 * SLOW)
        check(info["exitcode"] == 3, "%s: W's bench:exit 3 reported "
              "exitcode %d" % (name, info["exitcode"]))
    finally:
        w.close()
    after = env.fds()
    end = time.monotonic() + 5 * SLOW
    while after != before and time.monotonic() < end:
        time.sleep(0.05)
        after = env.fds()
    check(after == before, "%s: forkd had %d fds open before the attack "
          "and %d after it (and after every connection closed)"
          % (name, before, after))
    z = [k for k in env.children() if k[1] == "Z"]
    check(not z, "%s: zombie children of forkd: %r" % (name, z))


# ---- authentication -----------------------------------------------------

def t_wrong_key(env):
    """Auth under a wrong key, with a request sealed under the session key
    that wrong key gives pipelined behind it."""
    def attack(m, w):
        c = env.raw()
        try:
            sn = c.recv_message(handshake=True)["hello"]["server_nonce"]
            k, cn = os.urandom(32), os.urandom(32)
            c.send_raw(fc.build_frame(fc.encode("ClientMessage", {"auth": {
                "version": 1, "client_nonce": cn,
                "proof": fc.client_proof(k, sn, cn)}}), 0))
            send_quietly(c, fc.build_frame(touch_payload(m), 1,
                                           key=fc.session_key(k, sn, cn)))
            expect_closed(c, "wrong key", [EKEYREJECTED], strict=False)
        finally:
            c.close()
        # And through the client's own handshake.
        c = env.raw()
        try:
            expect_error(EKEYREJECTED, [], c.handshake, os.urandom(32))
            expect_closed(c, "wrong key (client handshake)", None)
        finally:
            c.close()
    parallel(env, "wrong key", attack)


def t_no_key(env):
    """Clients without the key: garbage instead of a handshake, a request
    instead of Auth, a sealed frame under a made-up key, a short proof, an
    empty datagram; each followed by the touch request."""
    def attack(m, w):
        junk = b"GET / HTTP/1.0\r\n\r\n" + os.urandom(200)
        cases = [
            # (what, frame, expected Error codes; None: only closed)
            ("garbage before Hello was read", junk, [EBADMSG], False),
            ("garbage after Hello", junk, [EBADMSG], True),
            ("16 zero bytes", bytes(16), [EBADMSG], True),
            ("request instead of Auth",
             fc.build_frame(touch_payload(m), 0), [EBADMSG], True),
            ("sealed request under a made-up key",
             fc.build_frame(touch_payload(m), 1, key=os.urandom(32)),
             [EBADMSG], True),
            ("Auth with a 31-byte proof",
             fc.build_frame(fc.encode("ClientMessage", {"auth": {
                 "version": 1, "client_nonce": os.urandom(32),
                 "proof": os.urandom(31)}}), 0), [EKEYREJECTED], True),
            ("Auth with a 16-byte nonce",
             fc.build_frame(fc.encode("ClientMessage", {"auth": {
                 "version": 1, "client_nonce": os.urandom(16),
                 "proof": os.urandom(32)}}), 0), [EKEYREJECTED], True),
            ("Auth of version 2",
             fc.build_frame(fc.encode("ClientMessage", {"auth": {
                 "version": 2, "client_nonce": os.urandom(32),
                 "proof": os.urandom(32)}}), 0),
             [-errno.EPROTONOSUPPORT], True),
            ("empty datagram", b"", None, True),
        ]
        for what, frame, codes, read_hello in cases:
            c = env.raw()
            try:
                if read_hello:
                    c.recv_message(handshake=True)
                send_quietly(c, frame)
                # What a client without the key might try next.
                send_quietly(c, fc.build_frame(touch_payload(m), 0))
                send_quietly(c, fc.build_frame(touch_payload(m), 1,
                                               key=os.urandom(32)))
                expect_closed(c, what, codes, strict=False)
            finally:
                c.close()
            # Once more without the follow-up frames: the Error arrives.
            c = env.raw()
            try:
                if read_hello:
                    c.recv_message(handshake=True)
                send_quietly(c, frame)
                expect_closed(c, what + " (alone)", codes)
            finally:
                c.close()
    parallel(env, "no key", attack)


def t_slowloris(env):
    """Connections that never finish the handshake are dropped at the
    deadline (handshake_timeout_ms in the config), one after the Hello,
    eight without reading anything; W is served meanwhile."""
    def attack(m, w):
        t0 = time.monotonic()       # forkd's deadline runs from accept
        c = env.raw()
        quiet = [env.raw() for _ in range(8)]
        try:
            c.recv_message(handshake=True)
            # W is served while the slow clients hang.
            check(w.ping(b"during") == b"during", "W's ping during slowloris")
            pid, _ = w.spawn("bench:exit", argv=["exit", "4"])
            check(w.wait(pid, 10000 * SLOW)["exitcode"] == 4,
                  "W's spawn during slowloris")
            try:
                c.recv_message(timeout=10 * SLOW, handshake=True)
                raise AssertionError("slowloris: a frame other than Error "
                                     "after the Hello")
            except fc.ConnectionClosed:
                raise AssertionError("slowloris: closed without the "
                                     "-ETIMEDOUT Error")
            except fc.ForkdError as e:
                check(e.code == -errno.ETIMEDOUT, "slowloris: Error %d (%s) "
                      "\"%s\", expected ETIMEDOUT"
                      % (e.code, errname(e.code), e.message))
            dt = (time.monotonic() - t0) * 1000
            check(dt >= HANDSHAKE_MS * 0.8 - 50, "slowloris: dropped after "
                  "%d ms, before the %d ms deadline" % (dt, HANDSHAKE_MS))
            check(dt <= HANDSHAKE_MS + 3000 * SLOW, "slowloris: dropped only "
                  "after %d ms (deadline %d ms)" % (dt, HANDSHAKE_MS))
            expect_closed(c, "slowloris after Hello", None)
            for i, q in enumerate(quiet):
                expect_closed(q, "slowloris %d (never read)" % i,
                              [-errno.ETIMEDOUT])
        finally:
            c.close()
            for q in quiet:
                q.close()
    parallel(env, "slowloris", attack)


def t_handshake_replay(env):
    """A valid Auth (and a request sealed on that session) recorded from
    one connection and replayed on a new one; the Hello reflected back as
    an Auth."""
    def attack(m, w):
        c1 = env.connect()
        auth = fc.build_frame(fc.encode("ClientMessage", {"auth": {
            "version": 1, "client_nonce": c1.client_nonce,
            "proof": fc.client_proof(env.key, c1.server_nonce,
                                     c1.client_nonce)}}), 0)
        # Sealed for c1 but never sent on it.
        req = c1.seal(touch_payload(m), consume=False)
        try:
            c2 = env.raw()
            try:
                c2.recv_message(handshake=True)
                c2.send_raw(auth)
                send_quietly(c2, req)
                expect_closed(c2, "replayed Auth", [EKEYREJECTED],
                              strict=False)
            finally:
                c2.close()
            # c1, whose Auth it was, is not disturbed.
            check(c1.ping(b"c1") == b"c1", "the recorded session's ping")
        finally:
            c1.close()
        c3 = env.raw()
        try:
            hello, _ = c3.recv_raw()
            c3.send_raw(hello)          # Hello sent back as the Auth
            send_quietly(c3, req)
            expect_closed(c3, "reflected Hello", [EBADMSG, EKEYREJECTED],
                              strict=False)
        finally:
            c3.close()
    parallel(env, "handshake replay", attack)


# ---- sealed frames ------------------------------------------------------

def t_frame_replay(env):
    """The touch request sent once (it runs; the marker is removed), then
    the same frame again: refused."""
    def attack(m, w):
        c = env.connect()
        try:
            f = c.send_message({"request": {"id": 1,
                                            "spawn": touch_spawn(m)}})
            r = c._take_response(1, 10 * SLOW)
            check(r["error"] == 0, "positive control: the touch request "
                  "failed: %d %s" % (r["error"], r["message"]))
            c.wait(r["spawn"]["pid"], 10000 * SLOW)
            check(os.path.exists(m), "positive control: the touch request "
                  "did not create %s" % m)
            os.unlink(m)
            send_quietly(c, f)
            expect_closed(c, "replayed frame", [EPROTO])
        finally:
            c.close()
        # The same frame (seq 1) as the first frame of a fresh session.
        c = env.connect()
        try:
            send_quietly(c, f)
            expect_closed(c, "frame replayed on another session", [EPROTO])
        finally:
            c.close()
    parallel(env, "frame replay", attack)


def t_frame_reorder(env):
    """seq 2 before seq 1; a frame skipping a seq (a dropped frame)."""
    def attack(m, w):
        c = env.connect()
        try:
            f1 = c.seal(fc.encode("ClientMessage", {"request": {
                "id": 1, "ping": {"data": b"1"}}}))
            f2 = c.seal(touch_payload(m, rid=2))
            send_quietly(c, f2)
            send_quietly(c, f1)
            expect_closed(c, "reordered frames", [EPROTO], strict=False)
        finally:
            c.close()
        c = env.connect()
        try:
            c.ping(b"1")
            c.seal(b"", consume=True)        # seq 2 never sent
            send_quietly(c, c.seal(touch_payload(m, rid=3)))
            expect_closed(c, "dropped frame (seq 3 after 1)", [EPROTO])
        finally:
            c.close()
    parallel(env, "frame reorder", attack)


def t_frame_reflect(env):
    """The server's own sealed frame sent back; the touch request sealed
    with the server's direction byte."""
    def attack(m, w):
        c = env.connect()
        try:
            c.ping(b"reflect me")
            send_quietly(c, c.recv_frames[-1])
            expect_closed(c, "reflected server frame", [EPROTO])
        finally:
            c.close()
        c = env.connect()
        try:
            send_quietly(c, c.seal(touch_payload(m), direction=fc.DIR_S2C))
            expect_closed(c, "request sealed S->C", [EPROTO])
        finally:
            c.close()
    parallel(env, "frame reflect", attack)


def t_bit_flips(env):
    """Every single-bit flip of a sealed touch request (header, payload and
    MAC, each bit on its own connection) closes the connection."""
    def attack(m, w):
        c0 = env.connect()
        n = len(c0.seal(touch_payload(m), consume=False))
        c0.close()
        flipped = 0
        for bit in range(n * 8):
            c = env.connect()
            try:
                f = bytearray(c.seal(touch_payload(m)))
                check(len(f) == n, "frame length changed")
                f[bit // 8] ^= 1 << (bit % 8)
                send_quietly(c, bytes(f))
                expect_closed(c, "bit %d (byte %d) flipped" % (bit, bit // 8),
                              [EPROTO, EMSGSIZE])
                flipped += 1
            finally:
                c.close()
        check(flipped == n * 8, "only %d of %d flips tried" % (flipped, n * 8))
    parallel(env, "bit flips", attack)


def t_truncated_and_extended(env):
    """The frame cut short (by 1 byte, to the header, below the header) or
    with a byte appended."""
    def attack(m, w):
        for what, cut in (("1 byte short", lambda f: f[:-1]),
                          ("MAC missing", lambda f: f[:-fc.MAC_LEN]),
                          ("header only", lambda f: f[:fc.HDR_LEN]),
                          ("15 bytes", lambda f: f[:15]),
                          ("1 byte", lambda f: f[:1]),
                          ("1 byte extra", lambda f: f + b"\0")):
            c = env.connect()
            try:
                send_quietly(c, cut(c.seal(touch_payload(m))))
                expect_closed(c, "truncated frame: " + what, [EPROTO])
            finally:
                c.close()
    parallel(env, "truncated frames", attack)


def t_length_fields(env):
    """Length field 0, one less than the payload, 0xffffffff: with the MAC
    recomputed over the lying header (as if the attacker held the key) and
    with the MAC of the honest frame; and an honest empty payload."""
    def attack(m, w):
        p = touch_payload(m)
        for what, length, codes in (("length 0", 0, [EPROTO]),
                                    ("length - 1", len(p) - 1, [EPROTO]),
                                    ("length + 1", len(p) + 1, [EPROTO]),
                                    ("length 0xffffffff", 0xFFFFFFFF,
                                     [EMSGSIZE])):
            c = env.connect()
            try:
                send_quietly(c, c.seal(p, length=length))
                expect_closed(c, what + " (MAC over it)", codes)
            finally:
                c.close()
            c = env.connect()
            try:
                f = bytearray(c.seal(p))
                f[4:8] = length.to_bytes(4, "big")
                send_quietly(c, bytes(f))
                expect_closed(c, what + " (honest MAC)", codes)
            finally:
                c.close()
        # A correctly sealed empty payload: a ClientMessage without body.
        c = env.connect()
        try:
            send_quietly(c, c.seal(b""))
            expect_closed(c, "empty ClientMessage", [EBADMSG])
        finally:
            c.close()
    parallel(env, "length fields", attack)


def t_oversized_frames(env):
    """A datagram of max_frame + 1 bytes and one of 200,000 bytes."""
    def attack(m, w):
        for size in (None, 200000):
            c = env.connect()
            try:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
                p = touch_payload(m)
                want = (c.max_frame + 1) if size is None else size
                pad = want - fc.HDR_LEN - fc.MAC_LEN - len(p)
                n = pad
                while n > 0 and (len(fc._tag(100, 2)) + len(fc.enc_varint(n))
                                 + n > pad):
                    n -= 1
                p2 = p + fc._tag(100, 2) + fc.enc_varint(n) + b"x" * n
                f = c.seal(p2)
                check(len(f) == want, "built %d bytes, wanted %d"
                      % (len(f), want))
                try:
                    send_quietly(c, f)
                except OSError as e:
                    raise AssertionError("cannot send %d bytes: %s"
                                         % (len(f), e))
                expect_closed(c, "%d-byte frame" % want, [EMSGSIZE])
            finally:
                c.close()
    parallel(env, "oversized frames", attack)


def t_cross_session_key(env):
    """The touch request MAC'd under another live session's key (seq 1 of
    both), on A; the other session B keeps working."""
    def attack(m, w):
        b = env.connect()
        try:
            a = env.connect()
            try:
                send_quietly(a, a.seal(touch_payload(m), key=b.session_key))
                expect_closed(a, "frame under B's key on A", [EPROTO])
            finally:
                a.close()
            check(b.ping(b"b") == b"b", "session B after A's attack")
            # B's own frame (seq 2) sent on a third session at seq 2.
            c = env.connect()
            try:
                c.ping(b"c")
                fb = b.seal(touch_payload(m), consume=False)
                send_quietly(c, fb)
                expect_closed(c, "B's frame on C", [EPROTO])
            finally:
                c.close()
            check(b.ping(b"b2") == b"b2", "session B after C's attack")
        finally:
            b.close()
    parallel(env, "cross-session key", attack)


# ---- fds ----------------------------------------------------------------

def t_too_many_fds(env):
    """17 and 253 (the kernel's SCM_MAX_FD) fds on the touch request: more
    than WIRE_MAX_FDS (16) is an oversized frame (PROTOCOL.md sections 1
    and 8): Error -EMSGSIZE naming the fds, connection closed, every fd
    closed by forkd; 16 fds are accepted (positive control)."""
    def attack(m, w):
        r, wfd = os.pipe()
        try:
            for n in (17, 253):
                c = env.connect()
                try:
                    p = touch_payload(m, fd_targets=list(range(3, 3 + n)))
                    send_quietly(c, c.seal(p), [wfd] * n)
                    expect_closed(c, "%d fds" % n, [EMSGSIZE])
                    check("fds" in c.last_error["message"], "%d fds: Error "
                          "message \"%s\" does not mention fds"
                          % (n, c.last_error["message"]))
                finally:
                    c.close()
            # An fd attached to the handshake.
            c = env.raw()
            try:
                sn = c.recv_message(handshake=True)["hello"]["server_nonce"]
                cn = os.urandom(32)
                send_quietly(c, fc.build_frame(fc.encode("ClientMessage", {
                    "auth": {"version": 1, "client_nonce": cn,
                             "proof": fc.client_proof(env.key, sn, cn)}}), 0),
                             [wfd])
                expect_closed(c, "fd on the Auth frame", [EBADMSG])
            finally:
                c.close()
            os.close(wfd)
            wfd = -1
            # Nobody holds the write end any more: EOF at once.
            rr, _, _ = select.select([r], [], [], 5 * SLOW)
            check(rr and os.read(r, 16) == b"", "forkd still holds the pipe "
                  "passed with the rejected frames")
        finally:
            os.close(r)
            if wfd >= 0:
                os.close(wfd)
        # 16 fds: the limit itself is fine.
        c = env.connect()
        pr, pw = os.pipe()
        fds = {t: (pw if t == 1 else os.open("/dev/null", os.O_RDONLY))
               for t in range(16)}
        try:
            pid, _ = c.spawn("testing:fds", fds=fds)
            for fd in fds.values():
                os.close(fd)
            fds = {}
            with os.fdopen(pr, "rb") as f:
                pr = -1
                out = f.read().split()
            check(out == [str(i).encode() for i in range(16)],
                  "testing:fds with 16 fds passed saw %r" % out)
            check(c.wait(pid, 10000 * SLOW)["exitcode"] == 0, "testing:fds")
        finally:
            c.close()
            for fd in list(fds.values()) + ([pr] if pr >= 0 else []):
                os.close(fd)
    parallel(env, "too many fds", attack)


# ---- requests over the limits: error Response, connection stays ----------

def t_request_limits(env):
    """Oversized argv / env / name / target / cwd, bad fd targets: each an
    error Response with the right code and a message naming the problem;
    the same connection keeps working."""
    def attack(m, w):
        c = env.connect()
        try:
            base = ["sh", "-c", "touch '%s'" % m]
            cases = [
                ("argv 1025 entries", -errno.E2BIG, ["argv", "1025"],
                 dict(argv=base + ["x"] * 1022)),
                ("argv string 4097 bytes", -errno.E2BIG, ["argv[3]"],
                 dict(argv=base + ["y" * 4097])),
                ("env 1025 entries", -errno.E2BIG, ["env", "1025"],
                 dict(env=["V%d=1" % i for i in range(1025)])),
                ("env string 4097 bytes", -errno.E2BIG, ["env[1]"],
                 dict(env=["A=1", "B=" + "z" * 4095])),
                ("env without =", -errno.EINVAL, ["env[0]", "KEY=VALUE"],
                 dict(env=["NOEQUALS"])),
                ("env with empty key", -errno.EINVAL, ["env[0]"],
                 dict(env=["=value"])),
                ("name 65 bytes", -errno.EINVAL, ["name"],
                 dict(name="n" * 65)),
                ("name 4000 bytes", -errno.EINVAL, ["name"],
                 dict(name="n" * 4000)),
                ("name with /", -errno.EINVAL, ["name"], dict(name="a/b")),
                ("name all digits", -errno.EINVAL, ["name"],
                 dict(name="12345")),
                ("name with newline", -errno.EINVAL, ["name"],
                 dict(name="a\nb")),
                ("target 4097 bytes", -errno.ENAMETOOLONG, ["target"],
                 dict(target="/" + "t" * 4096)),
                ("relative target", -errno.EINVAL, ["sh", "absolute"],
                 dict(target="sh")),
                ("relative cwd", -errno.EINVAL, ["cwd"], dict(cwd="tmp")),
                ("cwd 4097 bytes", -errno.ENAMETOOLONG, ["cwd"],
                 dict(cwd="/" + "c" * 4096)),
                ("fd target without fd", -errno.EINVAL, ["fd"],
                 dict(fd_targets=[1])),
            ]
            for what, code, needles, fields in cases:
                sp = touch_spawn(m, **fields)
                e = expect_error(code, needles, c.request, "spawn", sp)
                check(c.ping(what.encode()) == what.encode(),
                      "ping after %s (%s)" % (what, e.message))
            # fds with bad targets; they must be closed by forkd.
            r, wfd = os.pipe()
            try:
                for what, code, needles, targets, n in (
                        ("fd target 64", -errno.EBADF, ["64"], [64], 1),
                        ("fd target 4294967295", -errno.EBADF,
                         ["4294967295"], [0xFFFFFFFF], 1),
                        ("fd target twice", -errno.EINVAL, ["twice"],
                         [1, 1], 2),
                        ("2 fds, 1 target", -errno.EINVAL, ["fd"], [1], 2)):
                    expect_error(code, needles, c.request, "spawn",
                                 touch_spawn(m, fd_targets=targets),
                                 fds=[wfd] * n)
                    check(c.ping(b"fd") == b"fd", "ping after " + what)
                os.close(wfd)
                wfd = -1
                rr, _, _ = select.select([r], [], [], 5 * SLOW)
                check(rr and os.read(r, 16) == b"", "forkd still holds the "
                      "pipe passed with the refused spawns")
            finally:
                os.close(r)
                if wfd >= 0:
                    os.close(wfd)
            st = c.status()
            check(st["spawn_failures"] >= 20, "status spawn_failures %d "
                  "after 20 refused spawns" % st["spawn_failures"])
        finally:
            c.close()
    parallel(env, "request limits", attack)


# ---- clients that do not read ---------------------------------------------

def t_unread_wait_replies(env):
    """A client queues as many waits on one child as forkd allows (1024,
    LIMIT_WAITS_PENDING_MAX: the next one is answered -EAGAIN) and reads
    nothing; then the child ends (and, second round, the waits time out
    instead). forkd answers them all at once. Before the cap, 6,000 such
    waits overflowed the reply queue (LIMIT_OUTQ_MAX, 4096) in the middle of
    answering them, and forkd touched waits it had freed with the closed
    connection (a use-after-free that crashed it); now the cap keeps the
    answers below the queue limit, and a client that then reads gets every
    one of them."""
    cap = 1024
    def attack(m, w):
        for how in ("child ends", "waits time out"):
            c = env.connect()
            try:
                pid, _ = c.spawn("bench:sleep", argv=["sleep", "60"],
                                 daemon=True)
                timeout = -1 if how == "child ends" else 300
                first = c.next_id
                for i in range(cap):
                    c.send_message({"request": {"id": first + i, "wait": {
                        "children": [{"pid": pid}],
                        "timeout_ms": timeout}}})
                c.next_id = first + cap
                if how == "child ends":
                    # One wait too many: refused at once, the others kept.
                    try:
                        c.wait(pid, -1)
                        check(False, "wait number %d was accepted" % (cap + 1))
                    except fc.ForkdError as e:
                        check(e.code == -errno.EAGAIN and
                              "pending" in e.message, "wait number %d: %d "
                              "%r, expected -EAGAIN" % (cap + 1, e.code,
                                                        e.message))
                    check(c.ping(b"sync") == b"sync", "ping after the waits")
                    w.signal(pid, signal.SIGKILL)
                # All answers arrive, none lost, the connection stays up.
                for i in range(cap):
                    r = c._take_response(first + i, 30 * SLOW)
                    if how == "child ends":
                        check(r["error"] == 0, "wait %d: error %d %r"
                              % (i, r["error"], r["message"]))
                    else:
                        check(r["error"] == -errno.ETIMEDOUT, "wait %d "
                              "timed out: error %d" % (i, r["error"]))
                check(env.proc.poll() is None, "forkd died (status %s) "
                      "answering %d waits (%s)" % (env.proc.returncode, cap,
                                                   how))
                check(c.ping(b"after") == b"after", "ping after the %d "
                      "answers (%s)" % (cap, how))
                check(w.ping(b"after") == b"after", "W's ping after the "
                      "wait replies (%s)" % how)
            finally:
                c.close()
            if how == "waits time out":
                # The daemon-flag child went with the connection.
                code = w.wait(pid, 10000 * SLOW)["exitcode"]
                check(code in (-signal.SIGKILL, -signal.SIGTERM), "the "
                      "daemon-flag child of the closed connection (%s): "
                      "exitcode %d" % (how, code))
    parallel(env, "unread wait replies", attack)


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


# An exec target of 3,990 bytes (/bin/sleep through 1,990 "./"): each
# child of it takes ~4 KB of a list reply.
LONG_TARGET = "/" + "./" * 1990 + "bin/sleep"


def spawn_long_targets(c, n):
    """n daemon-flag children of LONG_TARGET sleeping 60 s on c."""
    for _ in range(n):
        c.spawn(LONG_TARGET, argv=["sleep", "60"], daemon=True)


def t_unread_list_replies(env):
    """A client with 48 children whose targets are ~4 KB long (each list
    reply ~190 KB) asks for the list again and again and reads nothing.
    forkd closes it once 2 MiB of replies are queued
    (LIMIT_OUTQ_BYTES_MAX) and grows by no more than that, its daemon
    children go with it. Before the byte limit only the frame count
    (4096) counted: 200 such requests grew forkd by ~40 MB, 4000 by ~770
    MB, on each of 64 connections."""
    def attack(m, w):
        c = env.connect()
        try:
            spawn_long_targets(c, 48)
            rss0 = vmrss_kib(env.pid)
            for _ in range(200):
                try:
                    c.send_message({"request": {"id": c.next_id,
                                                "list": {}}})
                except (fc.ConnectionClosed, OSError):
                    break       # closed by forkd: what is checked below
                c.next_id += 1
            expect_closed(c, "a client that asks for lists and reads none",
                          None)
            grew = vmrss_kib(env.pid) - rss0
            check(grew < 16 * 1024, "forkd grew by %d KiB while queueing "
                  "list replies a client never read" % grew)
        finally:
            c.close()
    parallel(env, "unread list replies", attack)


def t_list_over_socket_buffer(env):
    """A list reply larger than one datagram of the connection's socket
    (its send buffer, 208 KiB by default, is below the 256 KiB frame
    limit): 64 children with ~4 KB targets. forkd answers -E2BIG and the
    connection goes on; it used to try the send, fail with EMSGSIZE and
    close the connection, ending its daemon children with it."""
    def attack(m, w):
        c = env.connect()
        try:
            spawn_long_targets(c, 64)
            try:
                c.list()
                check(False, "a list of 64 children of 4 KB targets fit "
                      "in one datagram (make the targets longer)")
            except fc.ConnectionClosed as e:
                raise AssertionError("list too large for the socket: the "
                                     "connection was closed (%s)" % e)
            except fc.ForkdError as e:
                check(e.code == -errno.E2BIG, "list too large for the "
                      "socket: %d %r, expected -E2BIG" % (e.code, e.message))
            check(c.ping(b"still") == b"still", "ping after the refused "
                  "list")
        finally:
            c.close()
    parallel(env, "list over the socket buffer", attack)


# ---- clients killed at bad moments ---------------------------------------

def fork_client(env, w, body):
    """Run body(ready) in a forked process; ready() tells the parent it got
    to the point where it is to be killed; what body returns (its
    connections) is kept open until then. Returns the child's pid once it
    is there."""
    r, wp = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            w.sock.close()      # our copy of W's socket only
            held = body(lambda: os.write(wp, b"x"))   # noqa: F841
            time.sleep(120)
        except BaseException:   # noqa: BLE001
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(wp)
    rr, _, _ = select.select([r], [], [], 20 * SLOW)
    got = os.read(r, 1) if rr else b""
    os.close(r)
    if got != b"x":
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("forked client did not get ready")
    return pid


def kill_client(pid):
    os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
    check(os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL,
          "forked client status %#x" % st)


def wait_children_gone(env, what, names=None):
    """forkd has no children (with comm in names, if given) within 5 s."""
    end = time.monotonic() + 5 * SLOW
    while True:
        left = [k for k in env.children()
                if names is None or k[2] in names]
        if not left or time.monotonic() > end:
            break
        time.sleep(0.05)
    check(not left, "%s: forkd children left (pid, state, name): %r"
          % (what, left))


def listed_running(w, names, what):
    """Poll W's list until every name in names is a running child (list
    shows only children whose target started); returns {name: pid}."""
    end = time.monotonic() + 10 * SLOW
    while True:
        kids = {k["name"]: k["pid"] for k in w.list()}
        if all(n in kids for n in names):
            return {n: kids[n] for n in names}
        check(time.monotonic() < end, "%s: %r not all running after 10 s; "
              "listed: %r" % (what, names, kids))
        time.sleep(0.02)


def t_killed_between_request_and_reply(env):
    """A client sends spawn(daemon) + spawn(not daemon) + wait without
    reading any reply and is SIGKILLed once both children run: the daemon
    child is terminated, the other one keeps running (then W kills it),
    nothing leaks. Then a client SIGKILLed right after sending a daemon
    spawn, while that child may still be starting: no child survives it."""
    def attack(m, w):
        def body(ready):
            c = env.connect()
            c.send_message({"request": {"id": 1, "spawn": {
                "target": "bench:sleep", "argv": ["sleep", "60"],
                "name": "advd1", "daemon": True}}})
            c.send_message({"request": {"id": 2, "spawn": {
                "target": "bench:sleep", "argv": ["sleep", "60"],
                "name": "advk1"}}})
            c.send_message({"request": {"id": 3, "wait": {
                "children": [{"name": "advd1"}], "timeout_ms": -1}}})
            ready()
            return c
        cpid = fork_client(env, w, body)
        # Only a child whose target started is in the exit history once it
        # ends: one still starting when its daemon-flag owner goes is a
        # failed spawn, unknown to wait (-ESRCH) -- the second case below.
        try:
            pids = listed_running(w, ("advd1", "advk1"),
                                  "children of the client to be killed")
        finally:
            kill_client(cpid)
        info = w.wait("advd1", 10000 * SLOW)
        check(info["pid"] == pids["advd1"], "wait for advd1 reported pid "
              "%d, the list said %d" % (info["pid"], pids["advd1"]))
        check(info["exitcode"] in (-signal.SIGTERM, -signal.SIGKILL),
              "daemon-flag child of the killed client: exitcode %d"
              % info["exitcode"])
        kids = {k["name"]: k for k in w.list()}
        check("advd1" not in kids, "advd1 still listed: %r" % kids)
        check("advk1" in kids, "advk1, not a daemon child, did not outlive "
              "its killed client: %r" % kids)
        w.signal("advk1", signal.SIGKILL)
        check(w.wait("advk1", 10000 * SLOW)["exitcode"] == -signal.SIGKILL,
              "advk1 after SIGKILL")
        wait_children_gone(env, "killed between request and reply")

        def body2(ready):
            c = env.connect()
            c.send_message({"request": {"id": 1, "spawn": {
                "target": "bench:sleep", "argv": ["sleep", "60"],
                "name": "advd2", "daemon": True}}})
            ready()
            return c
        kill_client(fork_client(env, w, body2))
        # Whether forkd read the spawn, started it or was still starting it
        # when the client went, advd2 must not be left running.
        time.sleep(0.2 * SLOW)
        wait_children_gone(env, "killed right after a daemon spawn")
        check("advd2" not in {k["name"] for k in w.list()},
              "advd2 outlived its killed client")
    parallel(env, "killed between request and reply", attack)


def t_killed_mid_handshake(env):
    """Clients SIGKILLed right after connecting, after the Hello, and after
    sending a valid Auth without reading AuthOk."""
    def attack(m, w):
        def just_connect(ready):
            c = env.raw()
            ready()
            return c

        def after_hello(ready):
            c = env.raw()
            c.recv_message(handshake=True)
            ready()
            return c

        def after_auth(ready):
            c = env.raw()
            sn = c.recv_message(handshake=True)["hello"]["server_nonce"]
            cn = os.urandom(32)
            c.send_raw(fc.build_frame(fc.encode("ClientMessage", {"auth": {
                "version": 1, "client_nonce": cn,
                "proof": fc.client_proof(env.key, sn, cn)}}), 0))
            ready()
            return c
        pids = [fork_client(env, w, b) for b in
                (just_connect, after_hello, after_auth)]
        for pid in pids:
            kill_client(pid)
        # forkd notices each close (no handshake timeout needed).
        end = time.monotonic() + 3 * SLOW
        while time.monotonic() < end and w.status()["connections"] != 1:
            time.sleep(0.05)
        n = w.status()["connections"]
        check(n == 1, "%d connections 3 s after the killed clients, want 1 "
              "(W)" % n)
    parallel(env, "killed mid-handshake", attack)


CHECKS = [
    t_wrong_key,
    t_no_key,
    t_slowloris,
    t_handshake_replay,
    t_frame_replay,
    t_frame_reorder,
    t_frame_reflect,
    t_bit_flips,
    t_truncated_and_extended,
    t_length_fields,
    t_oversized_frames,
    t_cross_session_key,
    t_too_many_fds,
    t_request_limits,
    t_unread_wait_replies,
    t_unread_list_replies,
    t_list_over_socket_buffer,
    t_killed_between_request_and_reply,
    t_killed_mid_handshake,
]


def resolve_forkd(path):
    """$<TARGET_FILE:forkd> may name libforkd (the daemon target is
    forkd_daemon): then use the daemon built beside it."""
    base = os.path.basename(path)
    if base.startswith("libforkd") or ".so" in base:
        d = os.path.dirname(os.path.abspath(path))
        for cand in (os.path.join(d, "..", "daemon", "forkd"),
                     os.path.join(d, "daemon", "forkd")):
            cand = os.path.normpath(cand)
            if os.access(cand, os.X_OK):
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
    ap.add_argument("--forkd", required=True, help="path of the forkd binary")
    ap.add_argument("--module-dir", required=True,
                    help="directory holding pi.so and bench.so")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="pattern",
                    help="run only checks containing this")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    args.forkd = resolve_forkd(args.forkd)

    passed = failed = 0
    env = Env(args)
    try:
        try:
            env.start()
        except Exception as e:  # noqa: BLE001
            print("FAIL start forkd: %s" % e)
            print(env.log_tail())
            env.stop()
            print("0 passed, 1 failed")
            return 1
        for fn in CHECKS:
            if args.pattern and args.pattern not in fn.__name__:
                continue
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
