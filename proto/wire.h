/* wire.h: forkd frame format (one SOCK_SEQPACKET datagram = one frame).
 *
 *   offset size field
 *   0      1    magic 'F' (0x46)
 *   1      1    magic 'K' (0x4b)
 *   2      1    protocol version (WIRE_VERSION)
 *   3      1    flags: bit 0 = MAC present; other bits must be 0
 *   4      4    payload length, big-endian
 *   8      8    sequence number, big-endian
 *   16     n    payload (protobuf ClientMessage or ServerMessage)
 *   16+n   32   HMAC-SHA256(session key, dir || header || payload), if flag 0
 *
 * Handshake frames (Hello, Auth, AuthOk) carry seq 0 and no MAC; every later
 * frame carries a MAC and seq 1, 2, 3, ... independently in each direction.
 * Changing any of this changes PROTOCOL.md and WIRE_VERSION together.
 */
#ifndef FORKD_WIRE_H
#define FORKD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_MAGIC0		0x46
#define WIRE_MAGIC1		0x4b
#define WIRE_VERSION		1
#define WIRE_HDR_LEN		16
#define WIRE_MAC_LEN		32
#define WIRE_KEY_LEN		32
#define WIRE_F_MAC		0x01

/* Direction byte, first input of every frame MAC. */
#define WIRE_DIR_C2S		0x01
#define WIRE_DIR_S2C		0x02

/* Absolute ceiling for a frame; configured limits must stay below it. */
#define WIRE_FRAME_HARD_MAX	(256 * 1024)
/* Default frame limit of both sides. */
#define WIRE_FRAME_DEFAULT_MAX	(64 * 1024)
/* Most fds accepted with one frame. */
#define WIRE_MAX_FDS		16

/* Most fds the kernel passes with one datagram (SCM_MAX_FD). */
#define WIRE_SCM_MAX_FD		253

/* Frame overhead around a payload. */
#define WIRE_OVERHEAD		(WIRE_HDR_LEN + WIRE_MAC_LEN)

/* Per-direction MAC state of one authenticated connection. */
struct wire_mac {
	const unsigned char	*key;		/* WIRE_KEY_LEN bytes, caller owns */
	/* HMAC state keyed with key (wire_mac_init_keyed()), caller owns,
	 * copied per frame; NULL: keyed per frame. */
	const void		*keyed;
	uint64_t		 send_seq;	/* seq of the last frame sent */
	uint64_t		 recv_seq;	/* seq of the last frame accepted */
	uint8_t			 send_dir;	/* WIRE_DIR_C2S on a client */
	uint8_t			 recv_dir;
};

void	wire_mac_init(struct wire_mac *, const unsigned char *key, int is_server);
/* Bytes of a keyed HMAC state (crypto_auth_hmacsha256_state). */
size_t	wire_mac_keyed_size(void);
/* As wire_mac_init(), and key the HMAC once: its state goes to keyed,
 * wire_mac_keyed_size() bytes of the caller's memory, as secret as the
 * key (it computes the MAC of any frame), kept as long as the wire_mac.
 * Frames are the same as without it; each costs two SHA-256 compressions
 * fewer. */
void	wire_mac_init_keyed(struct wire_mac *, const unsigned char *key,
	    void *keyed, int is_server);

/* Build a frame in out. mac NULL: handshake frame (seq 0, no MAC); else the
 * next send sequence is used and consumed. Returns 0 or -EMSGSIZE. */
int	wire_seal(struct wire_mac *mac, const void *payload, size_t len,
	    unsigned char *out, size_t outcap, size_t *ret_len);

/* Check a received frame of len bytes. mac NULL: a handshake frame is
 * expected; else the MAC and next receive sequence are checked and the
 * sequence consumed only on success. On success *ret_payload points into
 * frame. Returns 0, -EBADMSG (malformed), -EPROTONOSUPPORT (version),
 * -EMSGSIZE (over max_frame), -EKEYREJECTED (bad MAC) or -EPROTO (sequence:
 * replayed or reordered). */
int	wire_open(struct wire_mac *mac, const unsigned char *frame, size_t len,
	    size_t max_frame, const unsigned char **ret_payload, size_t *ret_len);

/* Receive one datagram with up to maxfds fds (MSG_CMSG_CLOEXEC). On a
 * truncated datagram or control message every received fd is closed and
 * -EMSGSIZE returned. Returns bytes received (0 = peer closed) or -errno. */
ssize_t	wire_recv(int fd, unsigned char *buf, size_t cap, int *fds,
	    size_t maxfds, size_t *ret_nfds);
/* wire_recv(), except that a datagram whole but for fds the kernel could
 * not install (the receiver's fd limit: MSG_CTRUNC alone) is returned,
 * with the fds that did come, and *ret_lost set to 1 (else 0). */
ssize_t	wire_recv_ex(int fd, unsigned char *buf, size_t cap, int *fds,
	    size_t maxfds, size_t *ret_nfds, int *ret_lost);

/* Send one datagram with nfds fds. Returns 0 or -errno (-EAGAIN included). */
int	wire_send(int fd, const unsigned char *buf, size_t len, const int *fds,
	    size_t nfds);

/* Close n fds and set them to -1; with a disposer set, hand them to it
 * instead (it takes ownership). */
void	wire_close_fds(int *fds, size_t n);
/* Route every later wire_close_fds() through fn (forkd: close off the
 * event loop); NULL restores plain close(). */
void	wire_set_fd_disposer(void (*fn)(int *fds, size_t n));

const char *wire_strerror(int err);

struct ProtobufCMessageDescriptor;
/* Does a string field of the message d encoded in buf (len bytes), at any
 * depth, hold a NUL byte? protobuf-c hands string fields over as C
 * strings, cut at the first NUL, so only the encoded bytes can tell. 1 if
 * so, 0 if not (or if buf is malformed: then unpacking refuses it). */
int	wire_has_nul_string(const struct ProtobufCMessageDescriptor *d,
	    const void *buf, size_t len);

#endif
