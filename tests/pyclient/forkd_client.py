"""forkd_client: an independent forkd client, written from proto/PROTOCOL.md.

Python 3 standard library only (3.9+ for socket.send_fds). It speaks the
forkd wire protocol version 1 over an AF_UNIX SOCK_SEQPACKET socket: 16-byte
frame header, protobuf payload (hand-written minimal encoder/decoder below),
HMAC-SHA256 frame MACs under a per-session key derived in a mutual
challenge-response handshake.

High level:

    c = connect("/run/forkd/forkd.sock", open(keyfile, "rb").read())
    c.ping()
    pid, name = c.spawn("pi:hello", fds={1: some_fd})
    info = c.wait(pid, 5000)        # {'pid':..., 'exitcode':..., ...}
    c.close()

Errors reported by the daemon raise ForkdError(code, message) with code a
negative errno. A closed connection raises ConnectionClosed.

Low level (for adversarial tests): build_frame() builds a frame with any
header field, MAC key and direction; seal() / send_raw() / recv_raw() /
open_frame() expose each step; wait_closed() tells whether the server closed
the connection.
"""

import errno
import hashlib
import hmac
import os
import select
import socket
import struct
import time

# ---- constants (PROTOCOL.md sections 2, 3, 4, 9) ---------------------------

MAGIC = b"FK"
VERSION = 1
HDR_LEN = 16
MAC_LEN = 32
F_MAC = 0x01
DIR_C2S = 0x01
DIR_S2C = 0x02
NONCE_LEN = 32
KEY_MIN = 32
KEY_MAX = 4095
FRAME_DEFAULT_MAX = 64 * 1024
FRAME_HARD_MAX = 256 * 1024
MAX_FDS = 16

LABEL_CLIENT = b"forkd-v1 client proof"
LABEL_SERVER = b"forkd-v1 server proof"
LABEL_SESSION = b"forkd-v1 session key"

EKEYREJECTED = getattr(errno, "EKEYREJECTED", 129)

# "Use the connection's default timeout" (None means: block forever).
DEFAULT = object()


class ForkdError(Exception):
    """An error from forkd or from the protocol: code is a negative errno."""

    def __init__(self, code, message="", spawn_step=0):
        self.code = code
        self.message = message
        self.spawn_step = spawn_step
        name = errno.errorcode.get(-code, str(code)) if code < 0 else str(code)
        super().__init__("%s (%d): %s" % (name, code, message))


class ConnectionClosed(ForkdError):
    """The peer closed the connection."""

    def __init__(self, message="connection closed by forkd", error=None):
        # error: the fatal Error message received just before, if any
        self.error = error
        super().__init__(-errno.ECONNRESET, message)


# ---- minimal protobuf ----------------------------------------------------

# Message schemas: field number -> (name, type, repeated). Types: uint32,
# uint64, int32, int64, bool, string, bytes, or a message name.
SCALAR_VARINT = ("uint32", "uint64", "int32", "int64", "bool")

SCHEMA = {
    "Hello": {1: ("version", "uint32", False),
              2: ("server_nonce", "bytes", False),
              3: ("max_frame", "uint32", False)},
    "Auth": {1: ("version", "uint32", False),
             2: ("client_nonce", "bytes", False),
             3: ("proof", "bytes", False)},
    "AuthOk": {1: ("proof", "bytes", False)},
    "SpawnRequest": {1: ("target", "string", False),
                     2: ("argv", "string", True),
                     3: ("env", "string", True),
                     4: ("env_replace", "bool", False),
                     5: ("cwd", "string", False),
                     6: ("name", "string", False),
                     7: ("daemon", "bool", False),
                     8: ("fd_targets", "uint32", True),
                     9: ("rlimits", "Rlimit", True),
                     10: ("umask", "UInt32Value", False),
                     11: ("nice", "Int32Value", False),
                     12: ("cpus", "uint32", True),
                     13: ("pgroup", "uint32", False),
                     14: ("timeout_ms", "uint32", False),
                     15: ("kill_grace_ms", "uint32", False),
                     16: ("identity", "Identity", False),
                     17: ("no_new_privs", "bool", False),
                     18: ("drop_caps", "bool", False),
                     19: ("cgroup", "CgroupSpec", False),
                     20: ("namespaces", "uint32", False),
                     21: ("want_pidfd", "bool", False)},
    "UInt32Value": {1: ("value", "uint32", False)},
    "Int32Value": {1: ("value", "int32", False)},
    "Rlimit": {1: ("resource", "uint32", False),
               2: ("soft", "uint64", False),
               3: ("hard", "uint64", False)},
    "Identity": {1: ("uid", "uint32", False),
                 2: ("gid", "uint32", False),
                 3: ("groups", "uint32", True)},
    "CgroupSpec": {1: ("memory_max", "uint64", False),
                   2: ("pids_max", "uint32", False),
                   3: ("cpu_quota_us", "uint32", False),
                   4: ("cpu_period_us", "uint32", False)},
    "ChildRef": {1: ("pid", "int32", False),
                 2: ("name", "string", False)},
    "SignalRequest": {1: ("child", "ChildRef", False),
                      2: ("signal", "int32", False)},
    "WaitRequest": {1: ("children", "ChildRef", True),
                    2: ("timeout_ms", "int64", False)},
    "ListRequest": {},
    "StatusRequest": {},
    "PingRequest": {1: ("data", "bytes", False)},
    "Request": {1: ("id", "uint32", False),
                10: ("spawn", "SpawnRequest", False),
                11: ("signal", "SignalRequest", False),
                12: ("wait", "WaitRequest", False),
                13: ("list", "ListRequest", False),
                14: ("status", "StatusRequest", False),
                15: ("ping", "PingRequest", False)},
    "ClientMessage": {1: ("auth", "Auth", False),
                      2: ("request", "Request", False)},
    "Rusage": {1: ("utime_us", "uint64", False),
               2: ("stime_us", "uint64", False),
               3: ("maxrss_kb", "uint64", False)},
    "ExitInfo": {1: ("pid", "int32", False),
                 2: ("name", "string", False),
                 3: ("exitcode", "int32", False),
                 4: ("rusage", "Rusage", False),
                 5: ("timed_out", "bool", False),
                 6: ("oom_killed", "bool", False)},
    "ChildInfo": {1: ("pid", "int32", False),
                  2: ("name", "string", False),
                  3: ("target", "string", False),
                  4: ("daemon", "bool", False),
                  5: ("owner_uid", "uint32", False),
                  6: ("started_unix_ms", "uint64", False),
                  7: ("owned_by_me", "bool", False)},
    "ModuleInfo": {1: ("name", "string", False),
                   2: ("path", "string", False),
                   3: ("entries", "string", True),
                   4: ("description", "string", False)},
    "SpawnReply": {1: ("pid", "int32", False),
                   2: ("name", "string", False),
                   3: ("pidfd", "bool", False),
                   4: ("cgroup", "string", False)},
    "WaitReply": {1: ("exit", "ExitInfo", False)},
    "ListReply": {1: ("children", "ChildInfo", True)},
    "StatusReply": {1: ("version", "string", False),
                    2: ("pid", "int32", False),
                    3: ("uptime_ms", "uint64", False),
                    4: ("modules", "ModuleInfo", True),
                    5: ("children", "uint32", False),
                    6: ("connections", "uint32", False),
                    7: ("spawned_total", "uint64", False),
                    8: ("spawn_failures", "uint64", False),
                    9: ("exited_total", "uint64", False),
                    10: ("auth_failures", "uint64", False),
                    11: ("protocol_errors", "uint64", False),
                    12: ("pool_idle", "uint32", False),
                    13: ("pool_spawns", "uint64", False)},
    "PingReply": {1: ("data", "bytes", False)},
    "Response": {1: ("id", "uint32", False),
                 2: ("error", "int32", False),
                 3: ("message", "string", False),
                 4: ("spawn_step", "int32", False),
                 10: ("spawn", "SpawnReply", False),
                 11: ("wait", "WaitReply", False),
                 12: ("list", "ListReply", False),
                 13: ("status", "StatusReply", False),
                 14: ("ping", "PingReply", False)},
    "ExitEvent": {1: ("exit", "ExitInfo", False)},
    "Error": {1: ("code", "int32", False),
              2: ("message", "string", False)},
    "ServerMessage": {1: ("hello", "Hello", False),
                      2: ("auth_ok", "AuthOk", False),
                      3: ("response", "Response", False),
                      4: ("exit", "ExitEvent", False),
                      5: ("error", "Error", False)},
}

# Oneof members: always encoded when present (even if empty), and on decode
# the absent ones are None.
ONEOF = {
    "ClientMessage": ("auth", "request"),
    "ServerMessage": ("hello", "auth_ok", "response", "exit", "error"),
    "Request": ("spawn", "signal", "wait", "list", "status", "ping"),
    "Response": ("spawn", "wait", "list", "status", "ping"),
}


class DecodeError(ValueError):
    pass


def enc_varint(n):
    """Base-128 little-endian varint of a non-negative integer < 2**64."""
    if n < 0:
        n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def dec_varint(buf, pos):
    """Decode a varint at buf[pos:]; returns (value, new_pos)."""
    shift = 0
    val = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        val |= (b & 0x7F) << shift
        if not b & 0x80:
            return val & ((1 << 64) - 1), pos
        shift += 7
        if shift >= 70:
            raise DecodeError("varint too long")


def _tag(num, wt):
    return enc_varint(num << 3 | wt)


def _enc_scalar(typ, v):
    if typ == "bool":
        return enc_varint(1 if v else 0)
    if typ in ("int32", "int64"):
        return enc_varint(int(v) & ((1 << 64) - 1))
    return enc_varint(int(v))


def encode(msgname, d):
    """Encode dict d as message msgname. Unknown keys are an error."""
    schema = SCHEMA[msgname]
    byname = {f[0]: (num, f[1], f[2]) for num, f in schema.items()}
    oneofs = ONEOF.get(msgname, ())
    for k in d:
        if k not in byname:
            raise KeyError("%s has no field %s" % (msgname, k))
    out = bytearray()
    for num in sorted(schema):
        name, typ, rep = schema[num]
        if name not in d or d[name] is None:
            continue
        v = d[name]
        if rep:
            if not v:
                continue
            if typ in SCALAR_VARINT:
                packed = b"".join(_enc_scalar(typ, x) for x in v)
                out += _tag(num, 2) + enc_varint(len(packed)) + packed
            else:
                for x in v:
                    out += _enc_single(num, typ, x, True)
        else:
            out += _enc_single(num, typ, v, name in oneofs)
    return bytes(out)


def _enc_single(num, typ, v, force):
    if typ in SCALAR_VARINT:
        if not v and not force:
            return b""
        return _tag(num, 0) + _enc_scalar(typ, v)
    if typ in ("string", "bytes"):
        b = v.encode("utf-8", "surrogateescape") if isinstance(v, str) \
            else bytes(v)
        if not b and not force:
            return b""
        return _tag(num, 2) + enc_varint(len(b)) + b
    sub = encode(typ, v)
    return _tag(num, 2) + enc_varint(len(sub)) + sub


def _conv_varint(typ, v):
    if typ == "bool":
        return v != 0
    if typ == "int32":
        v &= 0xFFFFFFFF
        return v - (1 << 32) if v & 0x80000000 else v
    if typ == "int64":
        return v - (1 << 64) if v & (1 << 63) else v
    if typ == "uint32":
        return v & 0xFFFFFFFF
    return v


def _default(typ, rep):
    if rep:
        return []
    if typ in SCALAR_VARINT:
        return False if typ == "bool" else 0
    if typ == "string":
        return ""
    if typ == "bytes":
        return b""
    return None


def decode(msgname, buf):
    """Decode bytes as message msgname into a dict (defaults filled in).
    Unknown fields are skipped. Strings are decoded as UTF-8 with
    surrogateescape so any bytes survive."""
    schema = SCHEMA[msgname]
    d = {name: _default(typ, rep) for name, typ, rep in schema.values()}
    buf = bytes(buf)
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = dec_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("field number 0")
        f = schema.get(num)
        if wt == 0:
            v, pos = dec_varint(buf, pos)
            if f is None:
                continue
            name, typ, rep = f
            if typ not in SCALAR_VARINT:
                raise DecodeError("wire type 0 for %s.%s" % (msgname, name))
            v = _conv_varint(typ, v)
            if rep:
                d[name].append(v)
            else:
                _set_oneof(msgname, d, name)
                d[name] = v
        elif wt == 2:
            ln, pos = dec_varint(buf, pos)
            if ln > n - pos:
                raise DecodeError("truncated length-delimited field")
            chunk = buf[pos:pos + ln]
            pos += ln
            if f is None:
                continue
            name, typ, rep = f
            if typ in SCALAR_VARINT:
                if not rep:
                    raise DecodeError("length-delimited data for %s.%s"
                                      % (msgname, name))
                p = 0
                while p < len(chunk):
                    v, p = dec_varint(chunk, p)
                    d[name].append(_conv_varint(typ, v))
                continue
            if typ == "string":
                v = chunk.decode("utf-8", "surrogateescape")
            elif typ == "bytes":
                v = chunk
            else:
                v = decode(typ, chunk)
            if rep:
                d[name].append(v)
            else:
                _set_oneof(msgname, d, name)
                d[name] = v
        elif wt == 1:
            if n - pos < 8:
                raise DecodeError("truncated fixed64")
            pos += 8
            if f is not None:
                raise DecodeError("wire type 1 for %s" % f[0])
        elif wt == 5:
            if n - pos < 4:
                raise DecodeError("truncated fixed32")
            pos += 4
            if f is not None:
                raise DecodeError("wire type 5 for %s" % f[0])
        else:
            raise DecodeError("unsupported wire type %d" % wt)
    return d


def _set_oneof(msgname, d, name):
    """A oneof holds one member: the last one on the wire wins."""
    members = ONEOF.get(msgname, ())
    if name in members:
        for other in members:
            if other != name:
                d[other] = None


def which(msgname, d):
    """Name of the oneof member set in a decoded message, or None."""
    for name in ONEOF.get(msgname, ()):
        if d.get(name) is not None:
            return name
    return None


# ---- crypto (PROTOCOL.md section 4) ---------------------------------------

def hmac256(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def client_proof(key, sn, cn):
    return hmac256(key, LABEL_CLIENT + sn + cn)


def server_proof(key, sn, cn):
    return hmac256(key, LABEL_SERVER + sn + cn)


def session_key(key, sn, cn):
    return hmac256(key, LABEL_SESSION + sn + cn)


# ---- frames (PROTOCOL.md sections 2, 3) -------------------------------------

def header(length, seq, flags=F_MAC, version=VERSION, magic=MAGIC):
    """16-byte frame header; every field may be set to anything."""
    return bytes(magic[:2]) + bytes([version & 0xFF, flags & 0xFF]) + \
        struct.pack(">IQ", length & 0xFFFFFFFF, seq & ((1 << 64) - 1))


def frame_mac(key, direction, hdr_and_payload):
    return hmac256(key, bytes([direction]) + hdr_and_payload)


def build_frame(payload, seq, key=None, direction=DIR_C2S, flags=None,
                length=None, mac=None, version=VERSION, magic=MAGIC):
    """Build a frame with arbitrary fields.

    key None and mac None: a handshake frame (no MAC appended, flags 0 by
    default). key given: a MAC over direction || header || payload under key
    is appended (flags 0x01 by default). mac given (bytes): appended instead
    of a computed MAC. length None: len(payload). The MAC always covers the
    header as built (with the given length/flags/seq)."""
    if flags is None:
        flags = F_MAC if (key is not None or mac is not None) else 0
    if length is None:
        length = len(payload)
    hp = header(length, seq, flags, version, magic) + bytes(payload)
    if mac is not None:
        return hp + bytes(mac)
    if key is not None:
        return hp + frame_mac(key, direction, hp)
    return hp


def parse_header(frame):
    """Split a header: (magic, version, flags, length, seq)."""
    if len(frame) < HDR_LEN:
        raise ForkdError(-errno.EBADMSG, "short frame")
    length, seq = struct.unpack(">IQ", frame[4:16])
    return frame[:2], frame[2], frame[3], length, seq


# ---- the connection ---------------------------------------------------------

class Client:
    """One connection to forkd. Use connect() for an authenticated one."""

    def __init__(self, sock, timeout=10.0):
        self.sock = sock
        self.timeout = timeout
        self.key = None
        self.session_key = None
        self.server_nonce = None
        self.client_nonce = None
        self.max_frame = FRAME_DEFAULT_MAX
        self.send_seq = 0
        self.recv_seq = 0
        self.authed = False
        self.closed = False
        self.next_id = 1
        self.events = []           # ExitInfo dicts from ExitEvents
        self.pending = {}          # id -> Response dict received early
        self.last_error = None     # last fatal Error message (dict)
        self.sent_frames = []      # sealed frames sent, for replay tests
        self.recv_frames = []      # raw frames received after the handshake

    # -- raw datagrams --

    def send_raw(self, data, fds=None):
        """Send one datagram (with fds as SCM_RIGHTS). Raises
        ConnectionClosed if the peer is gone."""
        try:
            if fds:
                socket.send_fds(self.sock, [bytes(data)], list(fds))
            else:
                self.sock.sendmsg([bytes(data)], [], socket.MSG_NOSIGNAL)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.closed = True
            raise ConnectionClosed("send: %s" % e) from None

    def recv_raw(self, timeout=DEFAULT):
        """Receive one datagram: (bytes, fds). b'' means the peer closed.
        timeout in seconds, None: block. Raises socket.timeout /
        TimeoutError when nothing arrives in time."""
        if timeout is DEFAULT:
            timeout = self.timeout
        self.sock.settimeout(timeout)
        try:
            msg, fds, flags, _ = socket.recv_fds(self.sock,
                                                 FRAME_HARD_MAX + 1, MAX_FDS)
        except ConnectionResetError:
            self.closed = True
            return b"", []
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
            for fd in fds:
                os.close(fd)
            raise ForkdError(-errno.EMSGSIZE, "truncated datagram")
        if not msg:
            self.closed = True
        return msg, fds

    # -- frames --

    def seal(self, payload, **kw):
        """Seal payload with the next send seq (consumed). Keyword args
        override build_frame() fields (seq, key, direction, flags, length,
        mac, version, magic); consume=False keeps send_seq unchanged."""
        consume = kw.pop("consume", True)
        seq = kw.pop("seq", self.send_seq + 1)
        key = kw.pop("key", self.session_key)
        f = build_frame(payload, seq, key=key, **kw)
        if consume:
            self.send_seq = seq
        return f

    def open_frame(self, frame, handshake=False):
        """Check a received frame (PROTOCOL.md 2.1); return the payload."""
        n = len(frame)
        if n > FRAME_HARD_MAX:
            raise ForkdError(-errno.EMSGSIZE, "frame too large")
        if n < HDR_LEN:
            raise ForkdError(-errno.EBADMSG, "short frame")
        magic, ver, flags, length, seq = parse_header(frame)
        if magic != MAGIC:
            raise ForkdError(-errno.EBADMSG, "bad magic")
        if ver != VERSION:
            raise ForkdError(-errno.EPROTONOSUPPORT, "version %d" % ver)
        if flags & ~F_MAC:
            raise ForkdError(-errno.EBADMSG, "bad flags")
        has_mac = bool(flags & F_MAC)
        if has_mac == handshake:
            raise ForkdError(-errno.EBADMSG, "MAC flag %d unexpected" % has_mac)
        if length > FRAME_HARD_MAX:
            raise ForkdError(-errno.EMSGSIZE, "length field too large")
        if HDR_LEN + length + (MAC_LEN if has_mac else 0) != n:
            raise ForkdError(-errno.EBADMSG, "length field mismatch")
        if handshake:
            if seq != 0:
                raise ForkdError(-errno.EBADMSG, "handshake seq %d" % seq)
        else:
            want = frame_mac(self.session_key, DIR_S2C,
                             frame[:HDR_LEN + length])
            if not hmac.compare_digest(want, frame[HDR_LEN + length:]):
                raise ForkdError(-EKEYREJECTED, "frame MAC mismatch")
            if seq != self.recv_seq + 1:
                raise ForkdError(-errno.EPROTO, "seq %d, expected %d" %
                                 (seq, self.recv_seq + 1))
            self.recv_seq = seq
        return frame[HDR_LEN:HDR_LEN + length]

    def recv_message(self, timeout=DEFAULT, handshake=None):
        """Receive and check one frame; return the decoded ServerMessage.
        A fatal Error message raises ForkdError (after which the server
        closes); EOF raises ConnectionClosed."""
        if handshake is None:
            handshake = not self.authed
        frame, fds = self.recv_raw(timeout)
        for fd in fds:          # forkd never sends fds
            os.close(fd)
        if not frame:
            raise ConnectionClosed(error=self.last_error)
        if not handshake:
            self.recv_frames.append(frame)
        try:
            payload = self.open_frame(frame, handshake)
            m = decode("ServerMessage", payload)
        except DecodeError as e:
            self.close()
            raise ForkdError(-errno.EBADMSG, "bad ServerMessage: %s" % e)
        except ForkdError:
            self.close()
            raise
        if m["error"] is not None:
            self.last_error = m["error"]
            raise ForkdError(m["error"]["code"], m["error"]["message"])
        return m

    def send_message(self, msg, fds=None):
        """Seal and send a ClientMessage dict; returns the frame bytes."""
        f = self.seal(encode("ClientMessage", msg))
        self.sent_frames.append(f)
        self.send_raw(f, fds)
        return f

    # -- handshake --

    def handshake(self, key, client_nonce=None):
        """Run the handshake (PROTOCOL.md 4.3). Raises ForkdError."""
        key = bytes(key)
        if not KEY_MIN <= len(key) <= KEY_MAX:
            raise ForkdError(-errno.EINVAL, "key must be 32..4095 bytes")
        self.key = key
        m = self.recv_message(handshake=True)
        hello = m["hello"]
        if hello is None:
            raise ForkdError(-errno.EBADMSG, "expected Hello")
        if hello["version"] != VERSION:
            raise ForkdError(-errno.EPROTONOSUPPORT,
                             "server speaks version %d" % hello["version"])
        sn = hello["server_nonce"]
        if len(sn) != NONCE_LEN:
            raise ForkdError(-errno.EBADMSG, "server nonce length")
        self.max_frame = hello["max_frame"] or FRAME_DEFAULT_MAX
        cn = client_nonce if client_nonce is not None else os.urandom(NONCE_LEN)
        self.server_nonce, self.client_nonce = sn, cn
        auth = {"version": VERSION, "client_nonce": cn,
                "proof": client_proof(key, sn, cn)}
        self.send_raw(build_frame(encode("ClientMessage", {"auth": auth}), 0))
        m = self.recv_message(handshake=True)
        ok = m["auth_ok"]
        if ok is None:
            raise ForkdError(-errno.EBADMSG, "expected AuthOk")
        if not hmac.compare_digest(ok["proof"], server_proof(key, sn, cn)):
            self.close()
            raise ForkdError(-EKEYREJECTED, "server proof mismatch")
        self.session_key = session_key(key, sn, cn)
        self.send_seq = self.recv_seq = 0
        self.authed = True
        return self

    # -- requests --

    def _take_response(self, rid, timeout):
        """Read frames until the Response with id rid (timeout in seconds,
        None or < 0: no limit); queue exit events and other responses."""
        if rid in self.pending:
            return self.pending.pop(rid)
        deadline = None if timeout is None or timeout < 0 else \
            time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            m = self.recv_message(left)
            if m["exit"] is not None:
                self.events.append(m["exit"]["exit"])
                continue
            r = m["response"]
            if r is None:
                self.close()
                raise ForkdError(-errno.EBADMSG, "unexpected ServerMessage")
            if r["id"] == rid:
                return r
            self.pending[r["id"]] = r

    def request(self, body, value, fds=None, timeout=DEFAULT):
        """Send Request{id, body: value}; return the Response body dict (or
        the Response itself when it has none). timeout in seconds, None: no
        limit. Raises ForkdError when the daemon answers with an error."""
        rid = self.next_id
        self.next_id += 1
        self.send_message({"request": {"id": rid, body: value}}, fds)
        r = self._take_response(rid, self.timeout if timeout is DEFAULT
                                else timeout)
        if r["error"] != 0:
            raise ForkdError(r["error"], r["message"], r["spawn_step"])
        b = which("Response", r)
        return r[b] if b is not None else r

    def ping(self, data=b""):
        """Round trip; returns the echoed data."""
        return self.request("ping", {"data": data})["data"]

    def status(self):
        return self.request("status", {})

    def list(self):
        return self.request("list", {})["children"]

    def spawn(self, target, argv=None, env=None, name=None, daemon=False,
              fds=None, cwd=None, env_replace=False):
        """Start a child. fds: {child_fd: our_fd} or a list of (child_fd,
        our_fd). Returns (pid, name)."""
        items = sorted(fds.items()) if isinstance(fds, dict) else list(fds or [])
        req = {"target": target, "argv": list(argv or []),
               "env": list(env or []), "env_replace": env_replace,
               "cwd": cwd or "", "name": name or "", "daemon": daemon,
               "fd_targets": [t for t, _ in items]}
        r = self.request("spawn", req, fds=[f for _, f in items])
        return r["pid"], r["name"]

    @staticmethod
    def _ref(child):
        if isinstance(child, str):
            return {"name": child}
        return {"pid": int(child)}

    def wait(self, pid, timeout_ms=-1, children=None):
        """Wait for a child (pid int or name str), or the first of
        children; returns its ExitInfo dict."""
        refs = [self._ref(c) for c in (children or [pid])]
        t = None if timeout_ms < 0 else timeout_ms / 1000.0 + self.timeout
        return self.request("wait", {"children": refs,
                                     "timeout_ms": timeout_ms},
                            timeout=t)["exit"]

    def signal(self, pid, sig):
        self.request("signal", {"child": self._ref(pid), "signal": sig})

    def next_exit(self, timeout=None):
        """Next ExitEvent's ExitInfo (queued or read now); None on timeout."""
        if self.events:
            return self.events.pop(0)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                m = self.recv_message(left)
            except (socket.timeout, TimeoutError):
                return None
            if m["exit"] is not None:
                return m["exit"]["exit"]
            if m["response"] is not None:
                self.pending[m["response"]["id"]] = m["response"]

    # -- closing --

    def wait_closed(self, timeout=5.0):
        """True if the server closes the connection within timeout (frames
        received meanwhile, e.g. a final Error, are read and ignored);
        False if it is still open afterwards."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                r, _, _ = select.select([self.sock], [], [], left)
            except ValueError:
                return True
            if not r:
                return False
            try:
                frame, fds = self.recv_raw(left)
            except (socket.timeout, TimeoutError):
                return False
            except ForkdError:
                continue
            for fd in fds:
                os.close(fd)
            if not frame:
                self.closed = True
                return True
            # Try to record a final Error (sealed or not); ignore failures.
            try:
                payload = frame[HDR_LEN:HDR_LEN + parse_header(frame)[3]]
                m = decode("ServerMessage", payload)
                if m["error"] is not None:
                    self.last_error = m["error"]
            except (ForkdError, DecodeError):
                pass

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def connect_raw(sock_path, timeout=10.0):
    """Open the socket without the handshake."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
    except OSError:
        s.close()
        raise
    return Client(s, timeout)


def connect(sock_path, key_bytes, timeout=10.0, client_nonce=None):
    """Connect and authenticate; returns a Client."""
    c = connect_raw(sock_path, timeout)
    try:
        c.handshake(key_bytes, client_nonce)
    except BaseException:
        c.close()
        raise
    return c
