/* wire.c: frame sealing, checking and datagram I/O with fds. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <protobuf-c/protobuf-c.h>
#include <sodium.h>

#include "wire.h"

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t
get_be64(const unsigned char *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

/* MAC over direction, header and payload under mac's key: from its
 * keyed state when it has one (a copy: no key hashing per frame). */
static void
wire_compute_mac(const struct wire_mac *mac, uint8_t dir,
    const unsigned char *frame, size_t hdr_and_payload,
    unsigned char out[WIRE_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	if (mac->keyed != NULL)
		memcpy(&st, mac->keyed, sizeof st);
	else
		crypto_auth_hmacsha256_init(&st, mac->key, WIRE_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, &dir, 1);
	crypto_auth_hmacsha256_update(&st, frame, hdr_and_payload);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

/* Set up MAC state for one side of a session. */
void
wire_mac_init(struct wire_mac *m, const unsigned char *key, int is_server)
{
	memset(m, 0, sizeof *m);
	m->key = key;
	m->send_dir = is_server ? WIRE_DIR_S2C : WIRE_DIR_C2S;
	m->recv_dir = is_server ? WIRE_DIR_C2S : WIRE_DIR_S2C;
}

/* Size of the keyed state wire_mac_init_keyed() writes. */
size_t
wire_mac_keyed_size(void)
{
	return sizeof(crypto_auth_hmacsha256_state);
}

/* Set up MAC state with the HMAC keyed once, into the caller's keyed. */
void
wire_mac_init_keyed(struct wire_mac *m, const unsigned char *key,
    void *keyed, int is_server)
{
	crypto_auth_hmacsha256_state st;

	wire_mac_init(m, key, is_server);
	crypto_auth_hmacsha256_init(&st, key, WIRE_KEY_LEN);
	memcpy(keyed, &st, sizeof st);
	sodium_memzero(&st, sizeof st);
	m->keyed = keyed;
}

/* Build a frame around payload into out. */
int
wire_seal(struct wire_mac *mac, const void *payload, size_t len,
    unsigned char *out, size_t outcap, size_t *ret_len)
{
	size_t	 total = WIRE_HDR_LEN + len + (mac ? WIRE_MAC_LEN : 0);
	uint64_t seq = mac ? mac->send_seq + 1 : 0;

	if (len > WIRE_FRAME_HARD_MAX || total > outcap)
		return -EMSGSIZE;
	out[0] = WIRE_MAGIC0;
	out[1] = WIRE_MAGIC1;
	out[2] = WIRE_VERSION;
	out[3] = mac ? WIRE_F_MAC : 0;
	put_be32(out + 4, (uint32_t)len);
	put_be64(out + 8, seq);
	if (len > 0)
		memcpy(out + WIRE_HDR_LEN, payload, len);
	if (mac != NULL) {
		wire_compute_mac(mac, mac->send_dir, out,
		    WIRE_HDR_LEN + len, out + WIRE_HDR_LEN + len);
		mac->send_seq = seq;
	}
	*ret_len = total;
	return 0;
}

/* Check a received frame; see wire.h for the error codes. */
int
wire_open(struct wire_mac *mac, const unsigned char *frame, size_t len,
    size_t max_frame, const unsigned char **ret_payload, size_t *ret_len)
{
	unsigned char	expect[WIRE_MAC_LEN];
	uint32_t	plen;
	uint64_t	seq;
	size_t		want;
	int		has_mac;

	if (len > max_frame)
		return -EMSGSIZE;
	if (len < WIRE_HDR_LEN)
		return -EBADMSG;
	if (frame[0] != WIRE_MAGIC0 || frame[1] != WIRE_MAGIC1)
		return -EBADMSG;
	if (frame[2] != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	if ((frame[3] & ~WIRE_F_MAC) != 0)
		return -EBADMSG;
	has_mac = (frame[3] & WIRE_F_MAC) != 0;
	if (has_mac != (mac != NULL))
		return -EBADMSG;
	plen = get_be32(frame + 4);
	seq = get_be64(frame + 8);
	/* Compare in size_t with no addition that could wrap. */
	if (plen > max_frame)
		return -EMSGSIZE;
	want = WIRE_HDR_LEN + (size_t)plen + (has_mac ? WIRE_MAC_LEN : 0);
	if (want != len)
		return -EBADMSG;
	if (mac == NULL) {
		if (seq != 0)
			return -EBADMSG;
	} else {
		wire_compute_mac(mac, mac->recv_dir, frame,
		    WIRE_HDR_LEN + plen, expect);
		if (crypto_verify_32(expect, frame + WIRE_HDR_LEN + plen) != 0)
			return -EKEYREJECTED;
		/* The MAC covers seq, so a mismatch is a replay or reorder. */
		if (seq != mac->recv_seq + 1)
			return -EPROTO;
		mac->recv_seq = seq;
	}
	*ret_payload = frame + WIRE_HDR_LEN;
	*ret_len = plen;
	return 0;
}

/* Where wire_close_fds() hands fds over instead of closing them; NULL:
 * close them here. */
static void	(*wire_fd_disposer)(int *, size_t);

/* forkd sets this: fds that came from a peer are closed off its loop. */
void
wire_set_fd_disposer(void (*fn)(int *fds, size_t n))
{
	wire_fd_disposer = fn;
}

/* Close n fds and mark them closed. */
void
wire_close_fds(int *fds, size_t n)
{
	if (wire_fd_disposer != NULL && n > 0) {
		wire_fd_disposer(fds, n);
		for (size_t i = 0; i < n; i++)
			fds[i] = -1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Receive one datagram and its fds. */
ssize_t
wire_recv(int fd, unsigned char *buf, size_t cap, int *fds, size_t maxfds,
    size_t *ret_nfds)
{
	return wire_recv_ex(fd, buf, cap, fds, maxfds, ret_nfds, NULL);
}

/* wire_recv(); ret_lost non-NULL: fds the kernel could not install do
 * not fail the datagram. */
ssize_t
wire_recv_ex(int fd, unsigned char *buf, size_t cap, int *fds, size_t maxfds,
    size_t *ret_nfds, int *ret_lost)
{
	/* Room for every fd one datagram can carry (the kernel's SCM_MAX_FD,
	 * 253) and a credentials message: an fd that does not fit is dropped
	 * by the kernel inside recvmsg(), and a dropped last reference is
	 * closed right there, in the receiver (a lingering socket: seconds).
	 * Every fd is taken, and those over maxfds go to wire_close_fds(). */
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * WIRE_SCM_MAX_FD) +
				    CMSG_SPACE(sizeof(struct ucred))];
	} cmsgbuf;
	struct iovec	 iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr	 msg = { 0 };
	struct cmsghdr	*cm;
	int		 extra[WIRE_SCM_MAX_FD];
	size_t		 n = 0, nextra = 0;
	ssize_t		 r;
	int		 bad = 0;

	if (maxfds > WIRE_MAX_FDS)
		maxfds = WIRE_MAX_FDS;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof cmsgbuf.buf;
	*ret_nfds = 0;
	if (ret_lost != NULL)
		*ret_lost = 0;

	do {
		r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;

	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t	 k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int	*p = (int *)CMSG_DATA(cm);

			for (size_t i = 0; i < k; i++) {
				int	 rfd;

				memcpy(&rfd, p + i, sizeof rfd);
				if (n < maxfds)
					fds[n++] = rfd;
				else {
					if (nextra < WIRE_SCM_MAX_FD)
						extra[nextra++] = rfd;
					else
						close(rfd);
					bad = 1;
				}
			}
		} else
			bad = 1;
	}
	/* The buffer holds every fd a datagram can carry: MSG_CTRUNC alone
	 * is the kernel's failure to install one here (EMFILE), the data
	 * whole. */
	if (!bad && ret_lost != NULL && (msg.msg_flags & MSG_CTRUNC) &&
	    !(msg.msg_flags & MSG_TRUNC)) {
		*ret_lost = 1;
		*ret_nfds = n;
		return r;
	}
	if (bad || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		wire_close_fds(fds, n);
		wire_close_fds(extra, nextra);
		return -EMSGSIZE;
	}
	*ret_nfds = n;
	return r;
}

/* Send one datagram with fds. */
int
wire_send(int fd, const unsigned char *buf, size_t len, const int *fds,
    size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * WIRE_MAX_FDS)];
	} cmsgbuf;
	struct iovec	 iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr	 msg = { 0 };
	ssize_t		 r;

	if (nfds > WIRE_MAX_FDS)
		return -EINVAL;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&cmsgbuf, 0, sizeof cmsgbuf);
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		r = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if ((size_t)r != len)
		return -EIO;
	return 0;
}

/* Describe a wire_open() error. */
const char *
wire_strerror(int err)
{
	switch (err) {
	case -EBADMSG:		return "malformed frame";
	case -EPROTONOSUPPORT:	return "unsupported protocol version";
	case -EMSGSIZE:		return "frame too large";
	case -EKEYREJECTED:	return "frame MAC mismatch";
	case -EPROTO:		return "frame out of sequence (replayed or reordered)";
	default:		return strerror(-err);
	}
}

/* One varint at *off; 0, or -1 when truncated or too long. */
static int
wire_varint(const uint8_t *b, size_t n, size_t *off, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned int sh = 0; sh < 64 && *off < n; sh += 7) {
		uint8_t c = b[(*off)++];

		v |= (uint64_t)(c & 0x7f) << sh;
		if ((c & 0x80) == 0) {
			*ret = v;
			return 0;
		}
	}
	return -1;
}

/* wire_has_nul_string() at nesting depth. */
static int
wire_nul_in(const ProtobufCMessageDescriptor *d, const uint8_t *b, size_t n,
    int depth)
{
	const ProtobufCFieldDescriptor	*f;
	uint64_t			 key, len;
	size_t				 off = 0;

	while (off < n) {
		if (wire_varint(b, n, &off, &key) != 0)
			return 0;
		switch (key & 7) {
		case 0:				/* varint */
			if (wire_varint(b, n, &off, &len) != 0)
				return 0;
			continue;
		case 1:				/* 64-bit */
			if (n - off < 8)
				return 0;
			off += 8;
			continue;
		case 5:				/* 32-bit */
			if (n - off < 4)
				return 0;
			off += 4;
			continue;
		case 2:				/* length-delimited */
			break;
		default:			/* groups: unpack refuses */
			return 0;
		}
		if (wire_varint(b, n, &off, &len) != 0 || len > n - off)
			return 0;
		f = (key >> 3) <= UINT32_MAX ?
		    protobuf_c_message_descriptor_get_field(d,
		    (unsigned int)(key >> 3)) : NULL;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
		    memchr(b + off, 0, (size_t)len) != NULL)
			return 1;
		if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    depth < 16 && wire_nul_in(f->descriptor, b + off,
		    (size_t)len, depth + 1))
			return 1;
		off += (size_t)len;
	}
	return 0;
}

/* Walk the encoded message with its descriptor for a string with a NUL. */
int
wire_has_nul_string(const ProtobufCMessageDescriptor *d, const void *buf,
    size_t len)
{
	return wire_nul_in(d, buf, len, 0);
}
