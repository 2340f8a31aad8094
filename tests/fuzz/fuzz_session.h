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
 *                   h & 0x40  fuzz_request with fake children: no datagram
 *                             but an event: a child ends (data[0] picks
 *                             it, data[1] says how: < 128 exit status,
 *                             else a signal); data[0] 0xff: the client
 *                             stops reading (shutdown SHUT_RD), so forkd's
 *                             next reply fails and closes the session from
 *                             inside whatever sends it; no data: 5 ms pass
 *                             (for wait timeouts)
 *                 a short last record takes what is left of the input.
 *
 * No process is ever started: fork(), clone(), kill() and wait4() are
 * replaced for the daemon code linked into the fuzzers. fork() and clone()
 * fail with EAGAIN, so a spawn that passed every check gets forkd's
 * fork-failure error, unless fuzz_fake_children is set: then they return a
 * fake pid (from FUZZ_FAKE_PID_BASE, above any pid Linux hands out) of a
 * child that never runs, so its error pipe is at EOF and forkd takes it
 * for started. kill() of a fake child queues its death by that signal
 * (signal 0 and the signals whose default is not to terminate do nothing);
 * wait4() reports queued deaths, as the kernel would to forkd's reaper.
 * kill() of any pid forkd did not get from fork() is a finding; kill(-pid),
 * the process group a child leads, counts as kill(pid).
 */
#ifndef FORKD_FUZZ_SESSION_H
#define FORKD_FUZZ_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "wire.h"

#define FUZZ_REC_FDS		0x1f
#define FUZZ_REC_RAW		0x20
#define FUZZ_REC_EVENT		0x40
#define FUZZ_MAX_RESPONSES	64

/* Fake children: pids no real process can have (PID_MAX_LIMIT is 2^22). */
#define FUZZ_FAKE_PID_BASE	0x40000000
#define FUZZ_FAKE_MAX		64
extern int	fuzz_fake_children;

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
	int		shut_rd;	/* we stopped reading (FUZZ_REC_EVENT) */
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
/* A FUZZ_REC_EVENT record: end a fake child, stop reading or let time
 * pass; then reap and run the loop as SIGCHLD would. */
void	fuzz_fake_event(struct fuzz_peer *, const uint8_t *, size_t);
/* Reap queued deaths (a kill() by forkd), as SIGCHLD would. */
void	fuzz_fake_reap(struct fuzz_peer *);

/* Split the input after its flag byte into records; 0 at the end. */
int	fuzz_next_record(const uint8_t **p, size_t *left, struct fuzz_record *);

__attribute__((noreturn, format(printf, 1, 2)))
void	fuzz_fail(const char *, ...);

#endif
