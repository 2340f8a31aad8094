/* fuzz_session.h: a real forkd session inside a fuzzer, and its client.
 *
 * The daemon's globals are set up minimally (no listener, no signals, no
 * modules, a fixed authkey); each fuzz input gets a fresh AF_UNIX
 * SOCK_SEQPACKET socketpair: session_create() takes one end, the fuzzer
 * plays the client on the other, and the libevent loop runs without
 * blocking after every datagram. Every frame forkd sends back is checked
 * the way a client would check it (a frame that does not open, a message
 * that does not decode, AuthOk or a Response to an unauthenticated peer:
 * abort()). fuzz_session_end() closes the client end, runs the loop until
 * forkd has noticed and freed the session, and checks that no descriptor
 * is left open.
 *
 * Input format of fuzz_handshake and fuzz_request (tests/fuzz/make_seeds.py
 * writes it):
 *
 *   byte 0        flags, per target
 *   then records  byte h, 2-byte big-endian length n, n bytes
 *                   h & 0x1f  descriptors sent with the datagram (copies of
 *                             /dev/null; over 16 overflows forkd's limit)
 *                   h & 0x20  fuzz_request: send the bytes as they are
 *                             instead of sealing them as a payload
 *                 a short last record takes what is left of the input.
 */
#ifndef FORKD_FUZZ_SESSION_H
#define FORKD_FUZZ_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "wire.h"

#define FUZZ_REC_FDS		0x1f
#define FUZZ_REC_RAW		0x20
#define FUZZ_MAX_RESPONSES	64

/* PROTOCOL.md section 10: authkey 00..1f and client nonce 40..5f. */
extern const unsigned char fuzz_authkey[32];
extern const unsigned char fuzz_client_nonce[AUTH_NONCE_LEN];

/* The client side of one session. */
struct fuzz_peer {
	int		fd;		/* client end of the socketpair */
	int		sent_auth;	/* a valid Auth went out */
	int		authed;		/* AuthOk seen: frames are sealed now */
	int		got_error;	/* forkd sent its fatal Error */
	int		eof;		/* forkd closed the connection */
	unsigned char	sn[AUTH_NONCE_LEN];
	unsigned int	max_frame;	/* from Hello */
	unsigned char	key[WIRE_KEY_LEN];
	struct wire_mac	mac;
	/* Responses since the last fuzz_peer_clear(). */
	size_t		n_responses;
	uint32_t	response_ids[FUZZ_MAX_RESPONSES];
};

/* One input record. */
struct fuzz_record {
	unsigned int	 flags;		/* h */
	const uint8_t	*data;
	size_t		 len;
};

/* Once per process: the daemon's globals. */
void	fuzz_session_setup(void);
/* A new session and its Hello. */
void	fuzz_session_begin(struct fuzz_peer *);
/* The client's half of a correct handshake. */
void	fuzz_session_auth(struct fuzz_peer *);
/* Send one datagram with nfds descriptors, run the loop, read the replies.
 * Returns 0, or -1 once forkd has closed the connection. */
int	fuzz_session_send(struct fuzz_peer *, const void *, size_t,
	    unsigned int nfds);
/* Close the client end; forkd must free the session; no fd may leak. */
void	fuzz_session_end(struct fuzz_peer *);
void	fuzz_peer_clear(struct fuzz_peer *);

/* Split the input after its flag byte into records; 0 at the end. */
int	fuzz_next_record(const uint8_t **p, size_t *left, struct fuzz_record *);

__attribute__((noreturn, format(printf, 1, 2)))
void	fuzz_fail(const char *, ...);

#endif
