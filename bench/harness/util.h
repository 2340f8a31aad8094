/* util.h: clock, fatal errors, child-process bookkeeping, full reads and
 * writes, and preloaded state for the benchmark harness. */
#ifndef HARNESS_UTIL_H
#define HARNESS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t	util_now_ns(void);
/* Print "forkd-bench: ..." and exit 1, terminating every tracked child. */
void		util_die(const char *fmt, ...)
		    __attribute__((noreturn, format(printf, 1, 2)));
/* Remember a child so util_die() and a signal can terminate it. */
void		util_track(pid_t pid);
void		util_untrack(pid_t pid);
/* SIGINT/SIGTERM/SIGHUP: terminate every tracked child and exit. */
void		util_install_signals(void);
/* Read or write exactly n bytes (EINTR retried): 0, -EPIPE on end of file,
 * or -errno. timeout_ms < 0 waits forever; -ETIMEDOUT when it runs out. */
int		util_read_full(int fd, void *buf, size_t n, int timeout_ms);
int		util_write_full(int fd, const void *buf, size_t n);
/* Wait for pid up to timeout_ms; then SIGKILL it and reap. 0 or -errno. */
int		util_reap(pid_t pid, int timeout_ms, int *ret_status);
/* Map mb MiB of private anonymous memory and write every page, as the
 * bench module's init does. NULL when mb is 0. Dies on failure. */
void		*util_state_alloc(unsigned long mb);

#endif
