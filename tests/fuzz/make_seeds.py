#!/usr/bin/env python3
"""make_seeds.py: write the seed corpora of the forkd fuzz targets.

    tests/fuzz/make_seeds.py [OUTDIR]     # default: tests/fuzz/corpus

Every seed is a real protocol message or config file, encoded with the
independent Python client (tests/pyclient/forkd_client.py); the frames of
PROTOCOL.md section 10 are checked byte for byte against the document's
worked example before anything is written. Seeds are small and committed;
rerun this after a protocol change and commit the result. Existing seed
files of the same name are overwritten; others are left alone.

Input formats (see the targets' comments):

  fuzz_wire       one frame, as received
  fuzz_handshake  flag byte, then records (byte h, 2-byte big-endian
  fuzz_request    length, bytes): h & 0x1f fds to send, h & 0x20 raw
                  (fuzz_request: do not seal), h & 0x40 an event (fuzz_request
                  with fake children); fuzz_handshake sends each record as a
                  datagram, fuzz_request seals each as a payload (a
                  ClientMessage)
  fuzz_config     a config file
"""

import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pyclient"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import forkd_client as fc  # noqa: E402

# PROTOCOL.md section 10.
AUTHKEY = bytes(range(0x00, 0x20))
SN = bytes(range(0x20, 0x40))
CN = bytes(range(0x40, 0x60))
SESSION_KEY = fc.session_key(AUTHKEY, SN, CN)

REC_RAW = 0x20

# fuzz_handshake flags
HS_AUTH = 0x01
HS_SMALL_FRAME = 0x02
# fuzz_request flags
RQ_NO_CHILDREN = 0x01
RQ_SMALL_FRAME = 0x02
RQ_SMALL_COUNTS = 0x04
RQ_POLICY = 0x08
RQ_STRANGER = 0x10
RQ_FAKE = 0x20
REC_EVENT = 0x40


def child_ends(which=0, how=0):
    """fuzz_request, fake children: child number which ends; how < 128 is
    its exit status, else it is killed by a signal."""
    return (REC_EVENT, bytes([which, how]))


STOP_READING = (REC_EVENT, b"\xff")
TIME_PASSES = (REC_EVENT, b"")  # 5 ms, for wait timeouts


def cmsg(body):
    return fc.encode("ClientMessage", body)


def smsg(body):
    return fc.encode("ServerMessage", body)


def req(rid, **body):
    d = {"id": rid}
    d.update(body)
    return cmsg({"request": d})


def handshake_frame(payload, **kw):
    return fc.build_frame(payload, 0, **kw)


def sealed(payload, seq, direction=fc.DIR_C2S, key=SESSION_KEY):
    return fc.build_frame(payload, seq, key=key, direction=direction)


def records(flags, *recs):
    """Flag byte, then (h, bytes) records."""
    out = bytearray([flags])
    for r in recs:
        if isinstance(r, (bytes, bytearray)):
            h, data = 0, r
        else:
            h, data = r
        out += bytes([h]) + struct.pack(">H", len(data)) + data
    return bytes(out)


# ---- PROTOCOL.md section 10, checked -----------------------------------------

HELLO = smsg({"hello": {"version": 1, "server_nonce": SN,
                        "max_frame": 65536}})
AUTH = cmsg({"auth": {"version": 1, "client_nonce": CN,
                      "proof": fc.client_proof(AUTHKEY, SN, CN)}})
AUTH_OK = smsg({"auth_ok": {"proof": fc.server_proof(AUTHKEY, SN, CN)}})
PING = req(1, ping={"data": b"ping"})
PING_REPLY = smsg({"response": {"id": 1, "ping": {"data": b"ping"}}})
SPAWN = req(2, spawn={"target": "bench:exit", "argv": ["exit", "7"],
                      "fd_targets": [1]})

FRAME1 = handshake_frame(HELLO)
FRAME2 = handshake_frame(AUTH)
FRAME3 = handshake_frame(AUTH_OK)
FRAME4 = sealed(PING, 1)
FRAME5 = sealed(PING_REPLY, 1, fc.DIR_S2C)
FRAME6 = sealed(SPAWN, 2)

EXPECT = {
    "frame 1": (FRAME1, """
        46 4b 01 00 00 00 00 2a 00 00 00 00 00 00 00 00
        0a 28 08 01 12 20 20 21 22 23 24 25 26 27 28 29
        2a 2b 2c 2d 2e 2f 30 31 32 33 34 35 36 37 38 39
        3a 3b 3c 3d 3e 3f 18 80 80 04"""),
    "frame 2": (FRAME2, """
        46 4b 01 00 00 00 00 48 00 00 00 00 00 00 00 00
        0a 46 08 01 12 20 40 41 42 43 44 45 46 47 48 49
        4a 4b 4c 4d 4e 4f 50 51 52 53 54 55 56 57 58 59
        5a 5b 5c 5d 5e 5f 1a 20 65 4e 53 43 37 0f 1b 44
        cf 5b 94 14 3c f0 49 b1 cd 0a d8 13 8f ee 69 65
        8e 55 b3 65 bf f2 04 54"""),
    "frame 3": (FRAME3, """
        46 4b 01 00 00 00 00 24 00 00 00 00 00 00 00 00
        12 22 0a 20 2b 20 d9 dd ac 5b 22 2d b9 36 e7 d2
        0a 6f 5c 05 9a db 4f 7a ae 95 a8 27 e3 20 58 00
        0c b8 8f 32"""),
    "frame 4": (FRAME4, """
        46 4b 01 01 00 00 00 0c 00 00 00 00 00 00 00 01
        12 0a 08 01 7a 06 0a 04 70 69 6e 67 22 14 3c c7
        e1 ce 7c 61 bc 25 8a b4 c4 6e 19 c0 dc 60 fd c8
        67 b5 30 40 52 8b 6a 7d ec 96 15 e1"""),
    "frame 5": (FRAME5, """
        46 4b 01 01 00 00 00 0c 00 00 00 00 00 00 00 01
        1a 0a 08 01 72 06 0a 04 70 69 6e 67 d0 ce d7 70
        96 ed c2 85 84 62 5e 51 24 03 8a c7 0f ee dd 6e
        a0 63 33 69 98 b6 d9 48 6b e5 cb 35"""),
    "frame 6": (FRAME6, """
        46 4b 01 01 00 00 00 1e 00 00 00 00 00 00 00 02
        12 1c 08 02 52 18 0a 0a 62 65 6e 63 68 3a 65 78
        69 74 12 04 65 78 69 74 12 01 37 42 01 01 46 29
        95 1a 86 f6 14 a7 00 ae 39 97 c4 68 47 43 93 59
        78 e7 4c 3d 64 47 04 6a dd 45 93 80 34 7f"""),
}


def check_worked_example():
    for name, (got, hexdoc) in EXPECT.items():
        want = bytes.fromhex("".join(hexdoc.split()))
        if got != want:
            sys.exit("make_seeds: %s differs from PROTOCOL.md section 10:\n"
                     "  got  %s\n  want %s" % (name, got.hex(), want.hex()))


# ---- fuzz_wire ----------------------------------------------------------------

def wire_seeds():
    exit_ev = smsg({"exit": {"exit": {"pid": 4242, "name": "exit-1",
                                      "exitcode": -15,
                                      "rusage": {"utime_us": 1200,
                                                 "stime_us": 300,
                                                 "maxrss_kb": 2048}}}})
    err = smsg({"error": {"code": -87, "message": "too many connections"}})
    return {
        "hello": FRAME1,
        "auth": FRAME2,
        "auth-ok": FRAME3,
        "ping-c2s-seq1": FRAME4,
        "ping-reply-s2c-seq1": FRAME5,
        "spawn-c2s-seq2": FRAME6,
        "status-c2s-seq3": sealed(req(3, status={}), 3),
        "exit-event-s2c-seq2": sealed(exit_ev, 2, fc.DIR_S2C),
        "error-eusers": handshake_frame(err),
        "empty-payload-sealed": sealed(b"", 1),
        "empty-payload-handshake": handshake_frame(b""),
        "bad-version": handshake_frame(AUTH, version=2),
        "length-overflow": handshake_frame(AUTH, length=0xffffffff),
        "seq-in-handshake": fc.build_frame(AUTH, 5),
    }


# ---- fuzz_handshake -------------------------------------------------------------

def handshake_seeds():
    wrong_version = cmsg({"auth": {"version": 2, "client_nonce": CN,
                                   "proof": fc.client_proof(AUTHKEY, SN, CN)}})
    short_nonce = cmsg({"auth": {"version": 1, "client_nonce": CN[:31],
                                 "proof": fc.client_proof(AUTHKEY, SN, CN)}})
    no_proof = cmsg({"auth": {"version": 1, "client_nonce": CN}})
    big = handshake_frame(cmsg({"auth": {"version": 1, "client_nonce": CN,
                                         "proof": b"\xaa" * 1100}}))
    return {
        # A recorded Auth: valid, but for another server nonce.
        "replayed-auth": records(0, FRAME2),
        "auth-version-2": records(0, handshake_frame(wrong_version)),
        "auth-short-nonce": records(0, handshake_frame(short_nonce)),
        "auth-no-proof": records(0, handshake_frame(no_proof)),
        "auth-with-fd": records(0, (1, FRAME2)),
        "request-before-auth": records(0, handshake_frame(PING)),
        "sealed-before-auth": records(0, FRAME4),
        "server-hello-echoed": records(0, FRAME1),
        "empty-client-message": records(0, handshake_frame(b"")),
        "garbage": records(0, b"GET / HTTP/1.0\r\n\r\n"),
        "oversized-small-frame": records(HS_SMALL_FRAME, big),
        "short-then-auth": records(0, FRAME2[:10], FRAME2),
        # Regression: an empty datagram carrying fds (recv returns 0, as
        # for a closed peer) must not leak them.
        "empty-datagram-with-fds": records(0, (3, b"")),
        # After a valid Auth (made by the target): unsealed, replayed and
        # foreign-session frames.
        "authed-unsealed-request": records(HS_AUTH, handshake_frame(PING)),
        "authed-foreign-session-frame": records(HS_AUTH, FRAME4),
        "authed-auth-again": records(HS_AUTH, FRAME2),
    }


# ---- fuzz_request ------------------------------------------------------------------

def spawn(rid, **kw):
    return req(rid, spawn=kw)


def request_seeds():
    s = {}
    s["ping"] = records(0, PING)
    s["ping-empty"] = records(0, req(7, ping={}))
    s["ping-too-long"] = records(0, req(8, ping={"data": b"x" * 1025}))
    s["status"] = records(0, req(2, status={}))
    s["list"] = records(0, req(3, list={}))
    s["pipelined"] = records(0, req(1, ping={"data": b"a"}), req(2, status={}),
                             req(3, list={}), req(4, ping={"data": b"b"}))
    s["no-body"] = records(0, req(9))
    s["unknown-field"] = records(0, req(10, ping={"data": b"x"}) +
                                 b"\xa0\x06\x01")  # field 100, varint
    s["auth-after-handshake"] = records(0, AUTH)
    s["not-protobuf"] = records(0, b"\xff\xff\xff\xff")
    s["raw-foreign-frame"] = records(0, (REC_RAW, FRAME4))
    # spawn: the example's, with the fd it names.
    s["spawn-module-fd"] = records(0, (1, SPAWN))
    # Passes every check: forkd gets as far as fork() (stubbed out).
    s["spawn-exec-full"] = records(0, (3, spawn(
        11, target="/bin/echo", argv=["echo", "hello"],
        env=["A=1", "B=2", "A=3"], env_replace=True, cwd="/tmp",
        name="echo-worker", daemon=True, fd_targets=[0, 1, 2])))
    s["spawn-exec-inherit-env"] = records(0, spawn(
        32, target="/bin/echo", env=["PATH=/bin", "FORKD_X=1"]))
    s["spawn-exec-fds"] = records(0, (3, spawn(
        12, target="/bin/true", fd_targets=[0, 1, 2])))
    s["spawn-empty-target"] = records(0, spawn(13, target=""))
    s["spawn-relative-target"] = records(0, spawn(14, target="bin/true"))
    s["spawn-target-too-long"] = records(0, spawn(15, target="/" + "a" * 4096))
    s["spawn-argv-too-long"] = records(0, spawn(
        16, target="/bin/true", argv=["a" * 4097]))
    s["spawn-env-not-kv"] = records(0, spawn(
        17, target="/bin/true", env=["NOEQUALS"]))
    s["spawn-env-empty-key"] = records(0, spawn(
        18, target="/bin/true", env=["=x"]))
    s["spawn-cwd-relative"] = records(0, spawn(
        19, target="/bin/true", cwd="tmp"))
    s["spawn-name-digits"] = records(0, spawn(
        20, target="/bin/true", name="12345"))
    s["spawn-name-slash"] = records(0, spawn(
        21, target="/bin/true", name="a/b"))
    s["spawn-name-too-long"] = records(0, spawn(
        22, target="/bin/true", name="n" * 65))
    s["spawn-fd-target-64"] = records(0, (1, spawn(
        23, target="/bin/true", fd_targets=[64])))
    s["spawn-fd-target-twice"] = records(0, (2, spawn(
        24, target="/bin/true", fd_targets=[1, 1])))
    s["spawn-fd-count-mismatch"] = records(0, (2, spawn(
        25, target="/bin/true", fd_targets=[1])))
    s["spawn-17-fds"] = records(0, (17, spawn(
        26, target="/bin/true", fd_targets=list(range(17)))))
    s["spawn-unknown-module"] = records(0, spawn(27, target="nomod:entry"))
    s["spawn-max-children-0"] = records(RQ_NO_CHILDREN, spawn(
        28, target="/bin/true"))
    s["spawn-small-counts"] = records(RQ_SMALL_COUNTS, (2, spawn(
        29, target="/bin/true", argv=["a", "b", "c"], env=["A=1", "B=2",
        "C=3"], fd_targets=[0, 1])))
    s["spawn-env-too-long"] = records(0, spawn(
        33, target="/bin/true", env=["A=" + "a" * 4095]))
    s["spawn-cwd-too-long"] = records(0, spawn(
        34, target="/bin/true", cwd="/" + "c" * 4096))
    s["spawn-rate-limit"] = records(RQ_SMALL_COUNTS, spawn(
        35, target="/bin/true"), spawn(36, target="/bin/true"))
    # Child set-up (issue 5): every field once, valid; then refusals.
    s["spawn-setup-all"] = records(0, spawn(
        43, target="/bin/true",
        rlimits=[{"resource": 7, "soft": 64, "hard": 128},
                 {"resource": 4, "soft": 0, "hard": (1 << 64) - 1}],
        umask={"value": 0o27}, nice={"value": 5}, cpus=[0, 1], pgroup=1,
        timeout_ms=500, kill_grace_ms=100,
        identity={"uid": 65534, "gid": 65534, "groups": [4242]},
        no_new_privs=True, drop_caps=True,
        cgroup={"memory_max": 1 << 26, "pids_max": 16,
                "cpu_quota_us": 50000, "cpu_period_us": 100000},
        namespaces=0x3f, want_pidfd=True))
    s["spawn-setup-pidfd"] = records(0, spawn(
        44, target="/bin/true", want_pidfd=True, namespaces=1))
    s["spawn-setup-module"] = records(0, spawn(
        45, target="bench:exit", argv=["exit", "3"], timeout_ms=1,
        rlimits=[{"resource": 3, "soft": 1 << 20, "hard": 1 << 20}],
        nice={"value": -20}, pgroup=0))
    s["spawn-setup-bad"] = records(0, spawn(
        46, target="/bin/true",
        rlimits=[{"resource": 7, "soft": 9, "hard": 8},
                 {"resource": 7, "soft": 1, "hard": 1},
                 {"resource": 99, "soft": 1, "hard": 1}]),
        spawn(47, target="/bin/true", nice={"value": 20}),
        spawn(48, target="/bin/true", umask={"value": 0o1000}),
        spawn(49, target="/bin/true", cpus=[1024]),
        spawn(50, target="/bin/true", pgroup=7),
        spawn(51, target="/bin/true", timeout_ms=0xffffffff),
        spawn(52, target="/bin/true", namespaces=0x40),
        spawn(53, target="/bin/true", identity={"uid": 0xffffffff}),
        spawn(54, target="/bin/true", cgroup={"cpu_period_us": 5}))
    s["policy-exec-allowed"] = records(RQ_POLICY, spawn(
        37, target="/bin/true"), spawn(38, target="/usr/bin/env"))
    s["policy-exec-refused"] = records(RQ_POLICY, spawn(
        39, target="/etc/passwd"), spawn(40, target="/usr/bin/../sbin/nope"))
    s["policy-target-refused"] = records(RQ_POLICY, spawn(
        41, target="bench:sleep"), spawn(42, target="pi:leibniz"))
    s["policy-stranger"] = records(RQ_STRANGER, req(43, ping={}), spawn(
        44, target="/bin/true"), req(45, list={}))
    s["fds-on-ping"] = records(0, (1, req(30, ping={"data": b"fd"})))
    s["ping-over-small-frame"] = records(RQ_SMALL_FRAME, req(
        31, ping={"data": b"y" * 1000}))
    # Fake children (flag 0x20): spawns succeed with children that never
    # run; events end them.
    true = {"target": "/bin/true"}
    s["fake-spawn-wait-exit"] = records(RQ_FAKE, spawn(
        60, name="worker", **true), req(61, wait={
            "children": [{"name": "worker"}], "timeout_ms": -1}),
        child_ends(0, 7), req(62, wait={"children": [{"name": "worker"}]}))
    s["fake-signal-term"] = records(RQ_FAKE, spawn(63, name="w1", **true),
                                    req(64, signal={"child": {"name": "w1"},
                                                    "signal": 15}),
                                    req(65, signal={"child": {"name": "w1"},
                                                    "signal": 0}))
    s["fake-daemon-child-at-close"] = records(RQ_FAKE, spawn(
        66, name="d1", daemon=True, **true), req(67, list={}),
        req(68, wait={"children": [{"name": "d1"}], "timeout_ms": 60000}))
    s["fake-wait-timeout"] = records(RQ_FAKE, spawn(69, name="slow", **true),
                                     req(70, wait={"children": [{"name": "slow"}],
                                                   "timeout_ms": 1}),
                                     TIME_PASSES, req(71, status={}))
    s["fake-two-children"] = records(RQ_FAKE, spawn(72, name="a", **true),
                                     spawn(73, name="b", daemon=True, **true),
                                     spawn(74, name="a", **true),
                                     req(75, wait={"children": [
                                         {"name": "a"}, {"name": "b"}]}),
                                     req(76, wait={"children": [
                                         {"name": "b"}], "timeout_ms": 0}),
                                     child_ends(1, 128 + 8),
                                     req(77, list={}))
    s["fake-fds-and-history"] = records(RQ_FAKE, (3, spawn(
        78, target="/bin/true", fd_targets=[0, 1, 2])), child_ends(0, 0),
        req(79, wait={"children": [{"name": "true-1"}]}))
    # The client stops reading: the reply to a wait fails and closes the
    # session from inside the code that sends it.
    s["fake-wait-reply-fails"] = records(RQ_FAKE, spawn(
        80, name="x", **true), spawn(81, name="y", **true), req(82, wait={
            "children": [{"name": "x"}], "timeout_ms": -1}), req(83, wait={
            "children": [{"name": "x"}, {"name": "y"}], "timeout_ms": -1}),
        STOP_READING, child_ends(0, 3))
    s["fake-wait-timeout-reply-fails"] = records(RQ_FAKE, spawn(
        84, name="z", **true), req(85, wait={
            "children": [{"name": "z"}], "timeout_ms": 1}), req(86, wait={
            "children": [{"name": "z"}], "timeout_ms": 1}),
        STOP_READING, TIME_PASSES)
    # wait and signal: no child exists, so every lookup fails.
    s["wait-pid"] = records(0, req(40, wait={"children": [{"pid": 1}],
                                             "timeout_ms": 1000}))
    s["wait-name-poll"] = records(0, req(41, wait={
        "children": [{"name": "worker"}], "timeout_ms": 0}))
    s["wait-empty"] = records(0, req(42, wait={}))
    s["wait-65"] = records(0, req(43, wait={
        "children": [{"pid": i + 1} for i in range(65)], "timeout_ms": -1}))
    s["wait-long-name"] = records(0, req(46, wait={
        "children": [{"name": "w" * 65}]}))
    s["wait-empty-ref"] = records(0, req(44, wait={"children": [{}]}))
    s["signal-term"] = records(0, req(50, signal={
        "child": {"name": "worker"}, "signal": 15}))
    s["signal-bad-number"] = records(0, req(51, signal={
        "child": {"pid": 1}, "signal": 99}))
    s["signal-no-child"] = records(0, req(52, signal={"signal": 9}))
    s["signal-negative-pid"] = records(0, req(53, signal={
        "child": {"pid": -1}, "signal": 9}))
    return s


# ---- fuzz_config --------------------------------------------------------------------

def config_seeds():
    shipped = open(os.path.join(HERE, "..", "..", "systemd",
                                "forkd.conf.in")).read()
    shipped = shipped.replace("@FORKD_SOCKET_PATH@", "/run/forkd/forkd.sock")
    shipped = shipped.replace("@FORKD_MODULE_DIR@",
                              "/usr/local/lib/forkd/modules")
    s = {
        "shipped": shipped,
        "manpage-example": """[forkd]
socket = /run/forkd/forkd.sock
key_file = /var/lib/forkd/authkey
module = /usr/local/lib/forkd/modules/pi.so
module = /usr/local/lib/forkd/modules/bench.so:size_mb=64

[limits]
max_connections = 32
handshake_timeout_ms = 2000
""",
        "limits-min": """[limits]
max_connections = 1
max_children = 1
max_frame = 1024
handshake_timeout_ms = 10
max_argv = 1
max_env = 0
max_fds = 0
kill_grace_ms = 0
""",
        "limits-max": """[limits]
max_connections = 65536
max_children = 1048576
max_frame = 262144
handshake_timeout_ms = 600000
max_argv = 1024
max_env = 1024
max_fds = 16
kill_grace_ms = 600000
""",
        "limit-over": "[limits]\nmax_frame = 262145\n",
        "limit-negative": "[limits]\nmax_fds = -1\n",
        "limit-hex": "[limits]\nmax_children = 0x10\n",
        "limit-huge": "[limits]\nmax_children = 99999999999999999999999\n",
        "unknown-key": "[forkd]\nsockets = /tmp/x\n",
        "unknown-section": "[forkdd]\nsocket = /tmp/x\n",
        "unknown-limit": "[limits]\nmax_things = 3\n",
        "no-section": "socket = /tmp/forkd.sock\nkey_file = /tmp/key\n",
        "syntax-error": "[forkd]\nsocket /tmp/x\n[limits\n",
        "empty-values": "[forkd]\nsocket =\nkey_file =\nmodule =\n",
        "log-levels": "log_level = debug\nlog_level = WARN\n"
                      "log_level = error\n",
        "log-level-bad": "log_level = verbose\n",
        "socket-mode": "[forkd]\nsocket_mode = 0660\nsocket_mode = 777\n",
        "socket-mode-bad": "[forkd]\nsocket_mode = 0800\n",
        "too-many-modules": "[forkd]\n" + "".join(
            "module = /m/%d.so\n" % i for i in range(33)),
        "comments-only": "# nothing\n; nothing either\n\n",
        "inline-comment": "[limits]\nmax_fds = 4 ; four\n",
        "empty": "",
        "policy": """[policy]
allow_exec = no
allow_targets = pi:* bench:exit
allow_targets = bench:sleep
allow_exec_paths = /usr/bin/ /bin/true
allow_uids = 0, 1000
""",
        "policy-empty-lists": "[policy]\nallow_targets =\nallow_uids =\n",
        "policy-bad": """[policy]
allow_exec = maybe
allow_exec_paths = usr/bin
allow_exec_paths = /usr/bin
allow_uids = -1 abc
""",
        "limits-newer": """[limits]
max_children_per_uid = 8
max_spawn_rate = 100
idle_timeout_ms = 60000
pool_min = 1
pool_max = 4
""",
    }
    return {k: v.encode() for k, v in s.items()}


def write(outdir, target, seeds):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%-15s %3d seeds, %6d bytes" % (target, len(seeds),
                                          sum(len(v) for v in seeds.values())))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    check_worked_example()
    write(outdir, "fuzz_wire", wire_seeds())
    write(outdir, "fuzz_handshake", handshake_seeds())
    write(outdir, "fuzz_request", request_seeds())
    write(outdir, "fuzz_config", config_seeds())


if __name__ == "__main__":
    main()
