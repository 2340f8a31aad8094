/* rawclient.h: a minimal forkd client for tests that need protocol fields
 * libforkd does not encode yet, and the fd that comes with a reply. It
 * speaks the handshake and frame MACs with proto/'s wire and auth code and
 * hands back decoded ServerMessages. */
#ifndef FORKD_TEST_RAWCLIENT_H
#define FORKD_TEST_RAWCLIENT_H

#include <stdint.h>
#include <sys/types.h>

#include "forkd.pb-c.h"
#include "wire.h"

#define RAWCLIENT_EXITS	64

/* An exit event seen while waiting for something else. */
struct raw_exit {
	pid_t	x_pid;
	int	x_exitcode;
	int	x_timed_out;
	int	x_oom_killed;
};

struct rawclient {
	int		rc_fd;
	struct wire_mac	rc_mac;
	unsigned char	rc_sk[WIRE_KEY_LEN];
	uint32_t	rc_id;
	struct raw_exit	rc_exits[RAWCLIENT_EXITS];
	int		rc_nexits;
};

/* If set, called on every packed ClientMessage before it is sealed: for
 * tests of what libforkd cannot send (a NUL byte inside a string). */
extern void (*rawclient_tamper)(unsigned char *payload, size_t len);

/* Connect and authenticate. 0 or -errno. */
int	rawclient_connect(struct rawclient *, const char *sock,
	    const char *keyfile);
void	rawclient_close(struct rawclient *);
/* Send req as a Request (its id is set here) with fds; receive its
 * Response. *ret_msg is the whole ServerMessage (free with
 * forkd__server_message__free_unpacked), *ret_fd the fd that came with it
 * or -1. Exit events that arrive first are remembered. 0 or -errno. */
int	rawclient_call(struct rawclient *, Forkd__Request *req, const int *fds,
	    size_t nfds, int timeout_ms, Forkd__ServerMessage **ret_msg,
	    int *ret_fd);
/* Spawn: rawclient_call() with a SpawnRequest. */
int	rawclient_spawn(struct rawclient *, Forkd__SpawnRequest *,
	    const int *fds, size_t nfds, int timeout_ms,
	    Forkd__ServerMessage **ret_msg, int *ret_fd);
/* The exit event of pid (remembered or read now). 0 or -ETIMEDOUT. */
int	rawclient_exit(struct rawclient *, pid_t pid, int timeout_ms,
	    struct raw_exit *ret);

#endif
