/* harness.h: start a real forkd in a temporary directory for integration
 * tests, and small helpers (pipes, /proc) they share.
 *
 * Paths: the forkd binary and module directory are compiled in from CMake
 * and may be overridden with $FORKD_TEST_BIN and $FORKD_TEST_MODULE_DIR. */
#ifndef FORKD_TEST_HARNESS_H
#define FORKD_TEST_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <cmocka.h>

#include "forkd.h"

#define HARNESS_PATH_MAX	256

struct harness {
	char	h_dir[HARNESS_PATH_MAX / 2];	/* temp dir, removed on success */
	char	h_sock[HARNESS_PATH_MAX];
	char	h_key[HARNESS_PATH_MAX];	/* 32 random bytes, 0600 */
	char	h_log[HARNESS_PATH_MAX];	/* forkd's stderr */
	pid_t	h_pid;				/* forkd, or -1 */
};

const char	*harness_forkd_bin(void);
const char	*harness_module_dir(void);

/* Make the temp dir and key, start forkd -s SOCK -k KEY -m pi.so -m
 * bench.so -m testing.so [extra...] and wait (bounded) until connect +
 * ping work.
 * Returns 0, or -1 with the reason and forkd's log on stderr. */
int	harness_start(struct harness *, const char *const *extra_args);
/* SIGTERM forkd and wait for it (SIGKILL after a timeout). Returns its wait
 * status, or -1 if it had to be killed. The temp dir is removed when the
 * status is a clean exit 0; otherwise it is kept and forkd's log printed. */
int	harness_stop(struct harness *);
/* As harness_stop() but fails the current test unless forkd exited 0. */
void	harness_stop_ok(struct harness *);
/* Remove the temp dir and what is in it (after a stop by other means). */
void	harness_cleanup(struct harness *);
/* forkd_connect() with the harness's socket and key; fails the test. */
struct forkd *harness_connect(const struct harness *);
/* Print the tail of forkd's log to stderr. */
void	harness_dump_log(const struct harness *);

/* Run a program to completion with a timeout; its stdout+stderr (up to
 * outlen-1 bytes) go to out. Returns the wait status or -1 on timeout. */
int	harness_run(const char *const *argv, char *out, size_t outlen,
	    int timeout_ms);

/* Read fd until EOF or timeout; returns bytes read (NUL-terminated). */
ssize_t	harness_read_all(int fd, char *buf, size_t cap, int timeout_ms);
/* Open fds of pid (from /proc/PID/fd), or -1. */
int	harness_count_fds(pid_t pid);
/* Does pid exist and is not a zombie? 1 running, 0 gone, 2 zombie. */
int	harness_pid_state(pid_t pid);
/* Processes whose parent is ppid: all of them and zombies among them;
 * forkd's idle pre-forked pool children (comm "forkd-pool") and the pool's
 * zygote (comm "forkd-zygote") are left out. */
void	harness_children(pid_t ppid, int *ret_all, int *ret_zombies);
/* Live children of ppid whose comm is comm_nl ("forkd-pool\n": with the
 * newline /proc gives); up to max pids into out, returns how many. */
int	harness_children_named(pid_t ppid, const char *comm_nl, pid_t *out,
	    int max);
/* Milliseconds on the monotonic clock. */
int64_t	harness_now_ms(void);
void	harness_sleep_ms(int ms);
/* Make a pipe with O_CLOEXEC; fails the test. */
void	harness_pipe(int fds[2]);

/* fd count of pid once it stayed the same for 300 ms (at most 5 s). */
int	harness_settled_fds(pid_t pid);
/* Poll pid's fd count until it equals want or timeout_ms passed; returns
 * the last count seen. */
int	harness_wait_fds(pid_t pid, int want, int timeout_ms);
/* 3 in sanitizer builds (ASAN_OPTIONS set by ctest) or when
 * FORKD_TEST_SLOW says so (valgrind), else 1: a factor for time bounds. */
int	harness_slow(void);
/* How often needle occurs in h's forkd log (its whole stderr file). */
int	harness_log_count(const struct harness *h, const char *needle);
/* Wait until h's forkd log holds needle at least n times; fails the test
 * after timeout_ms. */
void	harness_wait_log(const struct harness *h, const char *needle, int n,
	    int timeout_ms);
/* Wait until pid ignores sig (SigIgn in /proc/PID/status), as a shell does
 * once its "trap '' SIG" ran; fails the test after timeout_ms. */
void	harness_wait_ignored(pid_t pid, int sig, int timeout_ms);
/* A new, empty temp file for a forkd config (-c), named "forkd-TAG.XXXXXX"
 * in TMPDIR (when set and short enough) or /tmp; its name in path. 0, or
 * -1 when it cannot be made. */
int	harness_conf_new(char *path, size_t len, const char *tag);
/* (Re)write the config file path from printf-style text; fails the test
 * when it cannot. */
void	harness_conf_write(const char *path, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Failure messages say what was observed. */
#define EXPECT_OK(f, call) do {						\
	int r_ = (call);						\
	if (r_ != 0)							\
		fail_msg("%s: returned %d (%s), errmsg \"%s\"", #call,	\
		    r_, forkd_strerror(r_), forkd_errmsg(f));		\
} while (0)

#define EXPECT_ERR(f, call, want) do {					\
	int r_ = (call), w_ = (want);					\
	if (r_ != w_)							\
		fail_msg("%s: returned %d (%s), errmsg \"%s\"; expected "\
		    "%d (%s)", #call, r_, forkd_strerror(r_),		\
		    forkd_errmsg(f), w_, forkd_strerror(w_));		\
} while (0)

#define EXPECT_INT(got, want, what) do {				\
	long long g_ = (got), w_ = (want);				\
	if (g_ != w_)							\
		fail_msg("%s: observed %lld, expected %lld", (what), g_,\
		    w_);						\
} while (0)

#define EXPECT_STR(got, want, what) do {				\
	const char *g_ = (got), *w_ = (want);				\
	if (g_ == NULL || strcmp(g_, w_) != 0)				\
		fail_msg("%s: observed \"%s\", expected \"%s\"", (what),\
		    g_ ? g_ : "(null)", w_);				\
} while (0)

#define EXPECT_CONTAINS(hay, needle, what) do {				\
	const char *h_ = (hay), *n_ = (needle);				\
	if (h_ == NULL || strstr(h_, n_) == NULL)			\
		fail_msg("%s: \"%s\" does not contain \"%s\"", (what),	\
		    h_ ? h_ : "(null)", n_);				\
} while (0)

/* The usual functions of an integration test file on one forkd in h:
 * group_setup starts it (no extra arguments), test_stop (the last test)
 * stops it and checks that it exited cleanly, group_teardown stops it if
 * a test failed before test_stop. */
#define HARNESS_STANDARD_GROUP(h)					\
static void								\
test_stop(void **state)							\
{									\
	(void)state;							\
	harness_stop_ok(&(h));						\
}									\
									\
static int								\
group_setup(void **state)						\
{									\
	(void)state;							\
	return harness_start(&(h), NULL);				\
}									\
									\
static int								\
group_teardown(void **state)						\
{									\
	(void)state;							\
	if ((h).h_pid > 0)						\
		harness_stop(&(h));					\
	return 0;							\
}

#endif
