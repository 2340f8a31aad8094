/* pool.h: children forked ahead of demand (like Android's USAP pool). */
#ifndef FORKD_POOL_H
#define FORKD_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct child_plan;
struct event;

struct pool_counters {
	unsigned int	idle;
	unsigned long	launched;	/* spawns served by a pool child */
	unsigned long	forked;		/* pool children made */
	unsigned long	died_idle;	/* pool children that died unused */
};
extern struct pool_counters pool_stats;

/* Fill the pool to its configured size now (start-up). */
void	pool_init(void);
/* Hand the plan of a validated request to an idle pool child. 0 with its
 * pid and the daemon's end of its control socket (which acts as the error
 * pipe, already non-blocking) and *ret_ev, an event made for that socket
 * when the child joined the pool (not added; the caller event_assign()s
 * its callback and frees it; NULL if it could not be made); -EAGAIN when
 * none is idle, -EOPNOTSUPP or -EMSGSIZE when the plan cannot go to a
 * pool child (the caller forks instead). fds, the fds the plan names,
 * stay the caller's. */
int	pool_launch(const struct child_plan *, const int *fds, size_t nfds,
	    pid_t *ret_pid, int *ret_ctlfd, struct event **ret_ev);
/* The reaper found pid; returns 1 if it was an idle pool child. */
int	pool_reaped(pid_t pid, int wstatus);
/* Limits changed (SIGHUP): trim or refill. */
void	pool_config_changed(void);
/* Kill the idle pool children and refill (a pool child hung). */
void	pool_flush_idle(void);
/* The refill back-off (monotonic): start one of delay_ms; how many ms of
 * it are left (0: refill now). */
void	pool_backoff_start(unsigned int delay_ms);
uint64_t pool_backoff_left_ms(void);
/* Close every fd from 3 up except a and b (in a new pool child or the
 * zygote). */
void	pool_close_all_but(int a, int b);
/* Stop: close every idle child's socket (they exit) and free. */
void	pool_shutdown(void);

#endif
