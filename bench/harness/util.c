/* util.c: small helpers shared by every part of the harness. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "util.h"

#define UTIL_TRACK_MAX	64

static volatile pid_t	util_tracked[UTIL_TRACK_MAX];

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t
util_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Remember a helper process. */
void
util_track(pid_t pid)
{
	for (int i = 0; i < UTIL_TRACK_MAX; i++)
		if (util_tracked[i] == 0) {
			util_tracked[i] = pid;
			return;
		}
	kill(pid, SIGTERM);
	util_die("more than %d helper processes", UTIL_TRACK_MAX);
}

/* Forget a helper process. */
void
util_untrack(pid_t pid)
{
	for (int i = 0; i < UTIL_TRACK_MAX; i++)
		if (util_tracked[i] == pid)
			util_tracked[i] = 0;
}

/* SIGTERM every tracked child (async-signal-safe). */
static void
util_kill_tracked(void)
{
	for (int i = 0; i < UTIL_TRACK_MAX; i++)
		if (util_tracked[i] > 0)
			kill(util_tracked[i], SIGTERM);
}

/* Stop the helpers, print the message, exit 1. */
void
util_die(const char *fmt, ...)
{
	va_list	ap;

	util_kill_tracked();
	fflush(stdout);
	fputs("forkd-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Signal handler: stop the helpers, then exit 128+sig. */
static void
util_on_signal(int sig)
{
	static const char msg[] = "forkd-bench: interrupted, stopping helpers\n";

	util_kill_tracked();
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(128 + sig);
}

/* Stop the helpers on SIGINT/SIGTERM/SIGHUP; ignore SIGPIPE. */
void
util_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = util_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Read exactly n bytes, with an optional timeout. */
int
util_read_full(int fd, void *buf, size_t n, int timeout_ms)
{
	unsigned char	*p = buf;
	uint64_t	 deadline = 0;
	ssize_t		 r;

	if (timeout_ms >= 0)
		deadline = util_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	while (n > 0) {
		if (timeout_ms >= 0) {
			struct pollfd	pfd = { .fd = fd, .events = POLLIN };
			uint64_t	now = util_now_ns();
			int		left;

			if (now >= deadline)
				return -ETIMEDOUT;
			left = (int)((deadline - now + 999999) / 1000000);
			r = poll(&pfd, 1, left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			if (r == 0)
				return -ETIMEDOUT;
		}
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Write exactly n bytes. */
int
util_write_full(int fd, const void *buf, size_t n)
{
	const unsigned char	*p = buf;
	ssize_t			 r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Reap pid, killing it if it outlives timeout_ms. */
int
util_reap(pid_t pid, int timeout_ms, int *ret_status)
{
	uint64_t	deadline = util_now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int		st;
	pid_t		r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (util_now_ns() >= deadline) {
			kill(pid, SIGKILL);
			while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
				;
			break;
		}
		usleep(5000);
	}
	util_untrack(pid);
	if (ret_status != NULL)
		*ret_status = st;
	return 0;
}

/* Map mb MiB of plain private pages and write each one. */
void *
util_state_alloc(unsigned long mb)
{
	unsigned char	*p;
	size_t		 size = (size_t)mb << 20, off;
	size_t		 pg = (size_t)sysconf(_SC_PAGESIZE);

	if (mb == 0)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		util_die("cannot map %lu MiB: %s", mb, strerror(errno));
	for (off = 0; off < size; off += pg)
		p[off] = (unsigned char)(off / pg);
	return p;
}
