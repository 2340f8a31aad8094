/* test_wire.c: frame sealing and checking (proto/wire.c), and datagram I/O
 * with fds over a SOCK_SEQPACKET socketpair. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sodium.h>

#include "forkd.pb-c.h"
#include "wire.h"

#define MAXF	WIRE_FRAME_DEFAULT_MAX

static const unsigned char key1[WIRE_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[WIRE_KEY_LEN] = "fedcba9876543210fedcba987654321";
static const char payload[] = "a protobuf payload, more or less";

/* Expect an exact return code, saying what came back. */
#define EXPECT_RC(got, want, what) do {					\
	int g_ = (got), w_ = (want);					\
	if (g_ != w_)							\
		fail_msg("%s: returned %d (%s), expected %d (%s)",	\
		    (what), g_, g_ < 0 ? strerror(-g_) : "ok", w_,	\
		    w_ < 0 ? strerror(-w_) : "ok");			\
} while (0)

/* Open fds of this process, not counting the one used to count. */
static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*de;
	int		 n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* Seal payload on a client MAC state (or a handshake frame if m NULL). */
static size_t
seal(struct wire_mac *m, const void *p, size_t len, unsigned char *out,
    size_t cap)
{
	size_t	flen = 0;
	int	r;

	r = wire_seal(m, p, len, out, cap, &flen);
	EXPECT_RC(r, 0, "wire_seal");
	return flen;
}

/* A sealed frame opens on the other side, with sequence numbers 1, 2, ... */
static void
test_roundtrip(void **state)
{
	struct wire_mac		 c, s;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s, key1, 1);
	for (int i = 1; i <= 3; i++) {
		flen = seal(&c, payload, sizeof payload, f, sizeof f);
		assert_int_equal(flen, WIRE_OVERHEAD + sizeof payload);
		assert_int_equal(f[0], WIRE_MAGIC0);
		assert_int_equal(f[1], WIRE_MAGIC1);
		assert_int_equal(f[2], WIRE_VERSION);
		assert_int_equal(f[3], WIRE_F_MAC);
		assert_int_equal(f[15], i);	/* seq, big-endian */
		EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), 0,
		    "open of a good frame");
		assert_int_equal(plen, sizeof payload);
		assert_memory_equal(p, payload, sizeof payload);
		assert_int_equal(s.recv_seq, i);
	}
	/* And the other direction. */
	flen = seal(&s, "x", 1, f, sizeof f);
	EXPECT_RC(wire_open(&c, f, flen, MAXF, &p, &plen), 0, "server->client");
	assert_int_equal(plen, 1);
	/* An empty payload is a valid frame too. */
	flen = seal(&c, NULL, 0, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), 0, "empty payload");
	assert_int_equal(plen, 0);
}

/* Handshake frames: no MAC, seq 0. */
static void
test_handshake_roundtrip(void **state)
{
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	flen = seal(NULL, payload, sizeof payload, f, sizeof f);
	assert_int_equal(flen, WIRE_HDR_LEN + sizeof payload);
	assert_int_equal(f[3], 0);
	for (int i = 8; i < 16; i++)
		assert_int_equal(f[i], 0);
	EXPECT_RC(wire_open(NULL, f, flen, MAXF, &p, &plen), 0, "handshake");
	assert_int_equal(plen, sizeof payload);
	assert_memory_equal(p, payload, sizeof payload);
}

/* A handshake frame where a MAC'd one is expected and the reverse. */
static void
test_handshake_mac_mismatch(void **state)
{
	struct wire_mac		 c, s;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s, key1, 1);
	flen = seal(NULL, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), -EBADMSG,
	    "handshake frame after the handshake");
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(NULL, f, flen, MAXF, &p, &plen), -EBADMSG,
	    "MAC'd frame during the handshake");
	/* The same MAC'd frame with its MAC flag cleared and MAC cut off. */
	f[3] = 0;
	EXPECT_RC(wire_open(&s, f, flen - WIRE_MAC_LEN, MAXF, &p, &plen),
	    -EBADMSG, "MAC stripped");
	/* A handshake frame with a nonzero sequence number. */
	flen = seal(NULL, payload, sizeof payload, f, sizeof f);
	f[15] = 1;
	EXPECT_RC(wire_open(NULL, f, flen, MAXF, &p, &plen), -EBADMSG,
	    "handshake frame with seq 1");
	/* Nothing above consumed a receive sequence number: the client's
	 * next frame (seq 2) is out of order for the server (wants seq 1). */
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), -EPROTO,
	    "second client frame (seq 2) while server expects seq 1");
}

/* Flipping any single bit anywhere in a sealed frame is rejected, and a
 * rejected frame consumes no sequence number. */
static void
test_bitflips(void **state)
{
	struct wire_mac		 c, s, s0;
	unsigned char		 f[256], g[256];
	const unsigned char	*p;
	size_t			 flen, plen;
	int			 r;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s0, key1, 1);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	for (size_t i = 0; i < flen; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(g, f, flen);
			g[i] ^= (unsigned char)(1u << b);
			s = s0;
			r = wire_open(&s, g, flen, MAXF, &p, &plen);
			if (r == 0)
				fail_msg("frame with bit %d of byte %zu flipped "
				    "was accepted", b, i);
			if (s.recv_seq != 0)
				fail_msg("rejected frame (byte %zu bit %d) "
				    "consumed a sequence number", i, b);
		}
	}
	s = s0;
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), 0,
	    "original frame after the flips");

	/* Handshake frames have no MAC; the header is still checked. */
	flen = seal(NULL, payload, sizeof payload, f, sizeof f);
	for (size_t i = 0; i < WIRE_HDR_LEN; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(g, f, flen);
			g[i] ^= (unsigned char)(1u << b);
			if (wire_open(NULL, g, flen, MAXF, &p, &plen) == 0)
				fail_msg("handshake frame with header bit %d "
				    "of byte %zu flipped was accepted", b, i);
		}
	}
}

/* The same frame twice. */
static void
test_replay(void **state)
{
	struct wire_mac		 c, s;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s, key1, 1);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), 0, "first");
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), -EPROTO,
	    "replayed frame");
	assert_int_equal(s.recv_seq, 1);
}

/* Frame 2 before frame 1. */
static void
test_reorder(void **state)
{
	struct wire_mac		 c, s;
	unsigned char		 f1[256], f2[256];
	const unsigned char	*p;
	size_t			 l1, l2, plen;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s, key1, 1);
	l1 = seal(&c, "one", 3, f1, sizeof f1);
	l2 = seal(&c, "two", 3, f2, sizeof f2);
	EXPECT_RC(wire_open(&s, f2, l2, MAXF, &p, &plen), -EPROTO,
	    "frame 2 before frame 1");
	EXPECT_RC(wire_open(&s, f1, l1, MAXF, &p, &plen), 0, "frame 1");
	assert_memory_equal(p, "one", 3);
	EXPECT_RC(wire_open(&s, f2, l2, MAXF, &p, &plen), 0, "frame 2");
	assert_memory_equal(p, "two", 3);
	EXPECT_RC(wire_open(&s, f1, l1, MAXF, &p, &plen), -EPROTO,
	    "frame 1 again after 2");
}

/* A frame the server sealed fed back to the server. */
static void
test_reflection(void **state)
{
	struct wire_mac		 s, s2, c;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	wire_mac_init(&s, key1, 1);
	wire_mac_init(&s2, key1, 1);
	wire_mac_init(&c, key1, 0);
	flen = seal(&s, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s2, f, flen, MAXF, &p, &plen), -EKEYREJECTED,
	    "server frame reflected to the server");
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), -EKEYREJECTED,
	    "server frame reflected to its own sender");
	/* And a client frame reflected to a client. */
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	wire_mac_init(&s2, key1, 0);
	EXPECT_RC(wire_open(&s2, f, flen, MAXF, &p, &plen), -EKEYREJECTED,
	    "client frame reflected to a client");
}

/* A frame from a session with another key. */
static void
test_cross_session(void **state)
{
	struct wire_mac		 c, s;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	wire_mac_init(&c, key2, 0);
	wire_mac_init(&s, key1, 1);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), -EKEYREJECTED,
	    "frame of another session key");
	assert_int_equal(s.recv_seq, 0);
}

/* Every proper prefix of a frame is rejected. */
static void
test_truncation(void **state)
{
	struct wire_mac		 c, s, s0;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;
	int			 r;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s0, key1, 1);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	for (size_t n = 0; n < flen; n++) {
		s = s0;
		r = wire_open(&s, f, n, MAXF, &p, &plen);
		if (r == 0)
			fail_msg("MAC'd frame truncated to %zu of %zu bytes "
			    "was accepted", n, flen);
	}
	flen = seal(NULL, payload, sizeof payload, f, sizeof f);
	for (size_t n = 0; n < flen; n++) {
		r = wire_open(NULL, f, n, MAXF, &p, &plen);
		if (r == 0)
			fail_msg("handshake frame truncated to %zu of %zu "
			    "bytes was accepted", n, flen);
	}
	/* Trailing garbage is not accepted either. */
	flen = seal(NULL, payload, sizeof payload, f, sizeof f);
	f[flen] = 0;
	EXPECT_RC(wire_open(NULL, f, flen + 1, MAXF, &p, &plen), -EBADMSG,
	    "handshake frame with one extra byte");
}

/* Set the big-endian length field. */
static void
set_len(unsigned char *f, uint32_t v)
{
	f[4] = v >> 24; f[5] = v >> 16; f[6] = v >> 8; f[7] = v;
}

/* Length field lies: 0, len-1, len+1, 0xffffffff. */
static void
test_length_field(void **state)
{
	const uint32_t		 lens[] = { 0, sizeof payload - 1,
	    sizeof payload + 1, 0x7fffffff, 0xfffffff0, 0xffffffff };
	struct wire_mac		 c, s;
	unsigned char		 f[256], g[256];
	const unsigned char	*p;
	size_t			 flen, plen;
	char			 what[64];
	int			 r;

	wire_mac_init(&c, key1, 0);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		memcpy(g, f, flen);
		set_len(g, lens[i]);
		wire_mac_init(&s, key1, 1);
		r = wire_open(&s, g, flen, MAXF, &p, &plen);
		snprintf(what, sizeof what, "length field %#x", lens[i]);
		if (lens[i] > MAXF)
			EXPECT_RC(r, -EMSGSIZE, what);
		else
			EXPECT_RC(r, -EBADMSG, what);
		/* Same on a handshake frame. */
		memcpy(g, f, flen);
		g[3] = 0;
		set_len(g, lens[i]);
		r = wire_open(NULL, g, flen - WIRE_MAC_LEN, MAXF, &p, &plen);
		if (r != -EBADMSG && r != -EMSGSIZE)
			fail_msg("handshake %s: returned %d, expected -EBADMSG "
			    "or -EMSGSIZE", what, r);
	}
}

/* Magic, version, flags. */
static void
test_header_fields(void **state)
{
	struct wire_mac		 c, s;
	unsigned char		 f[256], g[256];
	const unsigned char	*p;
	size_t			 flen, plen;
	char			 what[64];

	wire_mac_init(&c, key1, 0);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);

	memcpy(g, f, flen);
	g[0] = 'G';
	wire_mac_init(&s, key1, 1);
	EXPECT_RC(wire_open(&s, g, flen, MAXF, &p, &plen), -EBADMSG,
	    "bad magic byte 0");
	memcpy(g, f, flen);
	g[1] = 'X';
	EXPECT_RC(wire_open(&s, g, flen, MAXF, &p, &plen), -EBADMSG,
	    "bad magic byte 1");

	for (int v = 0; v < 256; v++) {
		if (v == WIRE_VERSION)
			continue;
		memcpy(g, f, flen);
		g[2] = (unsigned char)v;
		snprintf(what, sizeof what, "version %d", v);
		EXPECT_RC(wire_open(&s, g, flen, MAXF, &p, &plen),
		    -EPROTONOSUPPORT, what);
		g[3] = 0;
		EXPECT_RC(wire_open(NULL, g, flen - WIRE_MAC_LEN, MAXF, &p,
		    &plen), -EPROTONOSUPPORT, what);
	}

	for (int b = 1; b < 8; b++) {
		memcpy(g, f, flen);
		g[3] |= (unsigned char)(1u << b);
		snprintf(what, sizeof what, "unknown flag bit %d", b);
		EXPECT_RC(wire_open(&s, g, flen, MAXF, &p, &plen), -EBADMSG,
		    what);
	}
	assert_int_equal(s.recv_seq, 0);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), 0, "good frame");
}

/* Frames over max_frame; seal into a too small buffer. */
static void
test_max_frame(void **state)
{
	static unsigned char	 big[WIRE_FRAME_HARD_MAX + WIRE_OVERHEAD + 1];
	struct wire_mac		 c, s;
	unsigned char		 f[256];
	const unsigned char	*p;
	size_t			 flen, plen;

	wire_mac_init(&c, key1, 0);
	wire_mac_init(&s, key1, 1);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, flen - 1, &p, &plen), -EMSGSIZE,
	    "frame one byte over max_frame");
	EXPECT_RC(wire_open(&s, f, flen, flen, &p, &plen), 0,
	    "frame of exactly max_frame bytes");

	/* wire_seal: output buffer one byte short; nothing consumed. */
	EXPECT_RC(wire_seal(&c, payload, sizeof payload, f,
	    WIRE_OVERHEAD + sizeof payload - 1, &flen), -EMSGSIZE,
	    "seal into a buffer one byte short");
	assert_int_equal(c.send_seq, 1);
	/* A payload above the hard maximum. */
	EXPECT_RC(wire_seal(&c, big, WIRE_FRAME_HARD_MAX + 1, big, sizeof big,
	    &flen), -EMSGSIZE, "payload above WIRE_FRAME_HARD_MAX");
	assert_int_equal(c.send_seq, 1);
	flen = seal(&c, payload, sizeof payload, f, sizeof f);
	EXPECT_RC(wire_open(&s, f, flen, MAXF, &p, &plen), 0,
	    "next frame after failed seals has seq 2");
}

/* Same open file? */
static int
same_file(int a, int b)
{
	struct stat	sa, sb;

	if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0)
		return 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Send a frame with 3 fds: they arrive, refer to the same files and have
 * FD_CLOEXEC set. */
static void
test_send_recv_fds(void **state)
{
	unsigned char	 buf[512];
	int		 sv[2], pp[2], dn, fds[3], got[WIRE_MAX_FDS];
	size_t		 nfds = 99;
	ssize_t		 n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
	dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(dn >= 0);
	fds[0] = pp[0];
	fds[1] = pp[1];
	fds[2] = dn;
	EXPECT_RC(wire_send(sv[0], (const unsigned char *)payload,
	    sizeof payload, fds, 3), 0, "wire_send with 3 fds");
	n = wire_recv(sv[1], buf, sizeof buf, got, WIRE_MAX_FDS, &nfds);
	if (n != (ssize_t)sizeof payload)
		fail_msg("wire_recv returned %zd, expected %zu", n,
		    sizeof payload);
	assert_memory_equal(buf, payload, sizeof payload);
	if (nfds != 3)
		fail_msg("received %zu fds, expected 3", nfds);
	for (int i = 0; i < 3; i++) {
		int fl = fcntl(got[i], F_GETFD);

		if (fl < 0 || !(fl & FD_CLOEXEC))
			fail_msg("received fd %d (#%d) has flags %d, expected "
			    "FD_CLOEXEC", got[i], i, fl);
		if (!same_file(got[i], fds[i]))
			fail_msg("received fd #%d is not the file sent", i);
	}
	/* The pipe works through the received ends. */
	assert_int_equal(write(got[1], "z", 1), 1);
	assert_int_equal(read(pp[0], buf, 1), 1);
	assert_int_equal(buf[0], 'z');

	/* Without fds: nfds 0. */
	EXPECT_RC(wire_send(sv[0], (const unsigned char *)"q", 1, NULL, 0), 0,
	    "wire_send without fds");
	n = wire_recv(sv[1], buf, sizeof buf, got + 3, WIRE_MAX_FDS, &nfds);
	assert_int_equal(n, 1);
	assert_int_equal(nfds, 0);

	/* Peer closed: 0. */
	close(sv[0]);
	n = wire_recv(sv[1], buf, sizeof buf, got + 3, WIRE_MAX_FDS, &nfds);
	if (n != 0)
		fail_msg("wire_recv after the peer closed returned %zd, "
		    "expected 0", n);
	wire_close_fds(got, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(got[i], -1);
	close(sv[1]);
	close(pp[0]);
	close(pp[1]);
	close(dn);
}

/* sendmsg() with n copies of fd, bypassing wire_send()'s own limit. */
static void
raw_send_fds(int sock, const void *data, size_t len, int fd, int n)
{
	char		 cbuf[CMSG_SPACE(sizeof(int) * 64)];
	struct iovec	 iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr	 msg = { 0 };
	struct cmsghdr	*cm;
	int		 v[64];

	assert_true(n <= 64);
	for (int i = 0; i < n; i++)
		v[i] = fd;
	memset(cbuf, 0, sizeof cbuf);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), v, sizeof(int) * n);
	if (sendmsg(sock, &msg, 0) != (ssize_t)len)
		fail_msg("sendmsg with %d fds: %s", n, strerror(errno));
}

/* More fds than the receiver takes: -EMSGSIZE, and every fd that arrived
 * is closed (no leak). */
static void
test_too_many_fds(void **state)
{
	unsigned char	 buf[512];
	int		 sv[2], dn, got[WIRE_MAX_FDS], before, after;
	size_t		 nfds = 99;
	ssize_t		 n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	before = count_fds();

	/* More than the caller's maxfds, fewer than WIRE_MAX_FDS. */
	raw_send_fds(sv[0], "abc", 3, dn, 5);
	n = wire_recv(sv[1], buf, sizeof buf, got, 2, &nfds);
	if (n != -EMSGSIZE)
		fail_msg("5 fds with maxfds 2: wire_recv returned %zd, "
		    "expected -EMSGSIZE", n);
	assert_int_equal(nfds, 0);
	after = count_fds();
	if (after != before)
		fail_msg("fd leak: %d fds open before, %d after a rejected "
		    "datagram with 5 fds", before, after);

	/* More than WIRE_MAX_FDS: the control message is truncated. */
	raw_send_fds(sv[0], "abc", 3, dn, WIRE_MAX_FDS + 8);
	n = wire_recv(sv[1], buf, sizeof buf, got, WIRE_MAX_FDS, &nfds);
	if (n != -EMSGSIZE)
		fail_msg("%d fds: wire_recv returned %zd, expected -EMSGSIZE",
		    WIRE_MAX_FDS + 8, n);
	assert_int_equal(nfds, 0);
	after = count_fds();
	if (after != before)
		fail_msg("fd leak: %d fds open before, %d after a datagram "
		    "with %d fds", before, after, WIRE_MAX_FDS + 8);

	/* wire_send refuses more than WIRE_MAX_FDS itself. */
	{
		int many[WIRE_MAX_FDS + 1];

		for (int i = 0; i <= WIRE_MAX_FDS; i++)
			many[i] = dn;
		n = wire_send(sv[0], (const unsigned char *)"x", 1, many,
		    WIRE_MAX_FDS + 1);
		if (n >= 0)
			fail_msg("wire_send with %d fds succeeded",
			    WIRE_MAX_FDS + 1);
	}

	/* The socket still works. */
	EXPECT_RC(wire_send(sv[0], (const unsigned char *)"ok", 2, &dn, 1), 0,
	    "wire_send after the rejected ones");
	n = wire_recv(sv[1], buf, sizeof buf, got, WIRE_MAX_FDS, &nfds);
	assert_int_equal(n, 2);
	assert_int_equal(nfds, 1);
	wire_close_fds(got, nfds);
	close(sv[0]);
	close(sv[1]);
	close(dn);
}

/* A datagram larger than the buffer: -EMSGSIZE, its fds closed. */
static void
test_datagram_too_large(void **state)
{
	unsigned char	 big[4096], buf[64];
	int		 sv[2], dn, got[WIRE_MAX_FDS], before, after;
	size_t		 nfds = 99;
	ssize_t		 n;

	memset(big, 'b', sizeof big);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
	    sv), 0);
	dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	before = count_fds();
	EXPECT_RC(wire_send(sv[0], big, sizeof big, &dn, 1), 0,
	    "wire_send of 4096 bytes with an fd");
	n = wire_recv(sv[1], buf, sizeof buf, got, WIRE_MAX_FDS, &nfds);
	if (n != -EMSGSIZE)
		fail_msg("4096-byte datagram into a 64-byte buffer: returned "
		    "%zd, expected -EMSGSIZE", n);
	assert_int_equal(nfds, 0);
	after = count_fds();
	if (after != before)
		fail_msg("fd leak: %d fds before, %d after a truncated "
		    "datagram", before, after);
	/* The next datagram is read whole: the big one was consumed. */
	EXPECT_RC(wire_send(sv[0], (const unsigned char *)"next", 4, NULL, 0),
	    0, "wire_send");
	n = wire_recv(sv[1], buf, sizeof buf, got, WIRE_MAX_FDS, &nfds);
	assert_int_equal(n, 4);
	assert_memory_equal(buf, "next", 4);
	close(sv[0]);
	close(sv[1]);
	close(dn);
}

/* wire_strerror knows the frame errors. */
static void
test_strerror(void **state)
{
	const int codes[] = { -EBADMSG, -EPROTONOSUPPORT, -EMSGSIZE,
	    -EKEYREJECTED, -EPROTO, -ENOENT };

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *s = wire_strerror(codes[i]);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
}

/* Pack a spawn request whose argv[1] is "a\x7fb" and env[0] "K=\x7f",
 * then turn the chosen \x7f (which no tag or length here is) into a NUL,
 * as a client could. */
static size_t
nul_spawn(unsigned char *buf, size_t cap, int which)
{
	Forkd__ClientMessage	cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__Request		rq = FORKD__REQUEST__INIT;
	Forkd__SpawnRequest	sr = FORKD__SPAWN_REQUEST__INIT;
	Forkd__PingRequest	pr = FORKD__PING_REQUEST__INIT;
	char			*argv[] = { "x", "a\x7f" "b" }, *env[] = { "K=\x7f" };
	unsigned char		 data[] = { 'p', 0, 'q' };
	size_t			 len;
	int			 seen = 0;

	sr.target = "m:e";
	sr.argv = argv;
	sr.n_argv = 2;
	sr.env = env;
	sr.n_env = 1;
	rq.body_case = FORKD__REQUEST__BODY_SPAWN;
	rq.spawn = &sr;
	if (which == 3) {	/* a ping: bytes may hold NULs */
		pr.data.data = data;
		pr.data.len = sizeof data;
		rq.body_case = FORKD__REQUEST__BODY_PING;
		rq.ping = &pr;
	}
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_REQUEST;
	cm.request = &rq;
	len = forkd__client_message__get_packed_size(&cm);
	assert_true(len <= cap);
	forkd__client_message__pack(&cm, buf);
	for (size_t i = 0; i < len; i++)
		if (buf[i] == 0x7f && ++seen == which)
			buf[i] = 0;
	return len;
}

/* A NUL in a string field, at any depth, is found; the same bytes in a
 * bytes field (ping data) are not a string's; truncated input is left to
 * the unpacker. */
static void
test_nul_string(void **state)
{
	unsigned char	buf[512];
	size_t		len;

	(void)state;
	len = nul_spawn(buf, sizeof buf, 0);
	assert_int_equal(wire_has_nul_string(
	    &forkd__client_message__descriptor, buf, len), 0);
	len = nul_spawn(buf, sizeof buf, 1);	/* argv[1] "a\0b" */
	assert_int_equal(wire_has_nul_string(
	    &forkd__client_message__descriptor, buf, len), 1);
	len = nul_spawn(buf, sizeof buf, 2);	/* env[0] "K=\0" */
	assert_int_equal(wire_has_nul_string(
	    &forkd__client_message__descriptor, buf, len), 1);
	len = nul_spawn(buf, sizeof buf, 3);	/* ping data */
	assert_int_equal(wire_has_nul_string(
	    &forkd__client_message__descriptor, buf, len), 0);
	len = nul_spawn(buf, sizeof buf, 1);
	for (size_t cut = 0; cut < len; cut++)
		(void)wire_has_nul_string(&forkd__client_message__descriptor,
		    buf, cut);
}

/* A MAC keyed once (wire_mac_init_keyed(), issue 17) seals the same
 * frames as one keyed per frame, byte for byte, over several sequence
 * numbers and sizes; each is HMAC-SHA256(key, dir || frame); the two
 * open each other's frames, and a keyed side still refuses a frame under
 * another key or with a bit flipped. */
static void
test_keyed_mac(void **state)
{
	struct wire_mac		 c, ck, s, sk;
	unsigned char		 f1[512], f2[512], want[32], big[300];
	unsigned char		*keyed_c, *keyed_s;
	const unsigned char	*p;
	unsigned char		 dirframe[1 + sizeof f1];
	size_t			 l1, l2, plen, len;

	(void)state;
	assert_int_equal(wire_mac_keyed_size(),
	    sizeof(crypto_auth_hmacsha256_state));
	keyed_c = malloc(wire_mac_keyed_size());
	keyed_s = malloc(wire_mac_keyed_size());
	assert_non_null(keyed_c);
	assert_non_null(keyed_s);
	memset(big, 'b', sizeof big);
	wire_mac_init(&c, key1, 0);
	wire_mac_init_keyed(&ck, key1, keyed_c, 0);
	wire_mac_init(&s, key1, 1);
	wire_mac_init_keyed(&sk, key1, keyed_s, 1);
	for (int i = 0; i < 6; i++) {
		len = i % 2 ? sizeof big : (size_t)i;
		l1 = seal(&c, big, len, f1, sizeof f1);
		l2 = seal(&ck, big, len, f2, sizeof f2);
		assert_int_equal(l1, l2);
		assert_memory_equal(f1, f2, l1);
		dirframe[0] = WIRE_DIR_C2S;
		memcpy(dirframe + 1, f2, l2 - WIRE_MAC_LEN);
		crypto_auth_hmacsha256(want, dirframe, 1 + l2 - WIRE_MAC_LEN,
		    key1);
		assert_memory_equal(want, f2 + l2 - WIRE_MAC_LEN, 32);
		/* The keyed server opens the plain client's frame, the plain
		 * server the keyed client's. */
		EXPECT_RC(wire_open(&sk, f1, l1, sizeof f1, &p, &plen), 0,
		    "keyed open");
		assert_int_equal(plen, len);
		EXPECT_RC(wire_open(&s, f2, l2, sizeof f2, &p, &plen), 0,
		    "plain open");
		/* And the keyed server's replies are the plain one's. */
		l1 = seal(&s, big, len, f1, sizeof f1);
		l2 = seal(&sk, big, len, f2, sizeof f2);
		assert_int_equal(l1, l2);
		assert_memory_equal(f1, f2, l1);
	}
	/* Another key: refused, sequence not consumed. */
	wire_mac_init(&c, key2, 0);
	c.send_seq = ck.send_seq;
	l1 = seal(&c, payload, sizeof payload, f1, sizeof f1);
	EXPECT_RC(wire_open(&sk, f1, l1, sizeof f1, &p, &plen),
	    -EKEYREJECTED, "open under another key");
	l2 = seal(&ck, payload, sizeof payload, f2, sizeof f2);
	f2[WIRE_HDR_LEN] ^= 1;
	EXPECT_RC(wire_open(&sk, f2, l2, sizeof f2, &p, &plen),
	    -EKEYREJECTED, "open of a flipped bit");
	f2[WIRE_HDR_LEN] ^= 1;
	EXPECT_RC(wire_open(&sk, f2, l2, sizeof f2, &p, &plen), 0,
	    "open of the intact frame");
	sodium_memzero(keyed_c, wire_mac_keyed_size());
	sodium_memzero(keyed_s, wire_mac_keyed_size());
	free(keyed_c);
	free(keyed_s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_keyed_mac),
		cmocka_unit_test(test_nul_string),
		cmocka_unit_test(test_handshake_roundtrip),
		cmocka_unit_test(test_handshake_mac_mismatch),
		cmocka_unit_test(test_bitflips),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_reflection),
		cmocka_unit_test(test_cross_session),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_length_field),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_max_frame),
		cmocka_unit_test(test_send_recv_fds),
		cmocka_unit_test(test_too_many_fds),
		cmocka_unit_test(test_datagram_too_large),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests_name("wire", tests, NULL, NULL);
}
