/* anchor.h: the in-process anchors. An anchor worker is a process holding
 * the same preloaded state as a forkd under test (N MiB, every page
 * written); on command it times one plain fork() in-process (time to first
 * byte, or a fork/_exit/waitpid cycle), or runs a fork/exit/wait loop in
 * several looper processes for a throughput trial. The echo process is the
 * other end of a SOCK_SEQPACKET round trip, the floor of any request.
 *
 * Both are forked from the harness before it starts any thread, so they are
 * single-threaded and may use the whole C library in their children. */
#ifndef HARNESS_ANCHOR_H
#define HARNESS_ANCHOR_H

#include <stdint.h>
#include <sys/types.h>

#include "stats.h"

struct anchor {
	pid_t		a_pid;
	int		a_fd;		/* stream socket to the worker */
	unsigned long	a_mb;
};

struct anchor_echo {
	pid_t		e_pid;
	int		e_fd;		/* SOCK_SEQPACKET to the echo process */
};

/* Fork a worker that allocates mb MiB; anchor_ready() waits until the state
 * is in place (launch several, then wait, so they load side by side). */
void	anchor_launch(struct anchor *, unsigned long mb);
void	anchor_ready(struct anchor *);
/* One fork(): child writes a byte to a pipe as its first act; ns until the
 * parent has read it. */
uint64_t anchor_ttfi(struct anchor *);
/* One fork(), child _exit(0), parent waitpid(): ns. */
uint64_t anchor_cycle(struct anchor *);
/* A throughput trial: `workers` loopers each fork/_exit/waitpid for ms
 * milliseconds. *ret_cycles and *ret_elapsed_ns (start to last looper
 * done); every cycle's latency is added to lat. */
void	anchor_loop(struct anchor *, unsigned workers, unsigned ms,
	    uint64_t *ret_cycles, uint64_t *ret_elapsed_ns, struct stats *lat);
void	anchor_stop(struct anchor *);

void	anchor_echo_start(struct anchor_echo *);
/* One 1-byte SOCK_SEQPACKET round trip: ns. */
uint64_t anchor_echo_rtt(struct anchor_echo *);
void	anchor_echo_stop(struct anchor_echo *);

#endif
