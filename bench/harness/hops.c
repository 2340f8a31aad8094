/* hops.c: forkd-hops, the client side of the hop measurement (issue 17).
 *
 *   forkd-hops SOCKET KEYFILE N GAP_US
 *
 * N rounds, each one forkd spawn of bench:byte (its stdout a pipe read
 * here) and one in-process fork() whose child writes a byte to a pipe,
 * in alternating order, GAP_US of sleep after each. Prints the p50 of
 * each, client-side (CLOCK_MONOTONIC): request -> first byte, request ->
 * spawn reply, request -> exit event; fork() -> first byte, fork() ->
 * waitpid. bench/harness/hops.sh runs it under perf with the scheduler
 * and system-call tracepoints and breaks each spawn into its hops
 * (hops.py); the marks this process leaves in the trace are its own
 * system calls (sendmsg of the request, the pipe read, the fork).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "forkd.h"

/* Monotonic nanoseconds. */
static uint64_t
hops_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int
hops_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 of n values, in microseconds (sorts v). */
static double
hops_p50_us(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof *v, hops_cmp);
	return (double)v[n / 2] / 1000.0;
}

/* Read one byte from fd (blocking). */
static void
hops_read_byte(int fd, const char *what)
{
	char	c;
	ssize_t	n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (n != 1) {
		fprintf(stderr, "forkd-hops: %s: no byte\n", what);
		exit(1);
	}
}

/* One forkd spawn of bench:byte: times of the byte, reply, exit event. */
static void
hops_forkd(struct forkd *h, int rfd, int wfd, uint64_t *ret_byte,
    uint64_t *ret_reply, uint64_t *ret_exit)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ex;
	uint64_t		t0;
	pid_t			pid;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = "bench:byte";
	o.stdout_fd = wfd;
	t0 = hops_now();
	if ((r = forkd_spawn(h, &o, &pid, NULL, 0)) < 0) {
		fprintf(stderr, "forkd-hops: spawn: %s (%s)\n",
		    forkd_strerror(r), forkd_errmsg(h));
		exit(1);
	}
	*ret_reply = hops_now() - t0;
	/* The byte may have come before the reply: the pipe keeps it, and
	 * the trace has the child's write. Client-side it is the later of
	 * the two. */
	hops_read_byte(rfd, "forkd child");
	*ret_byte = hops_now() - t0;
	if ((r = forkd_wait_exit_event(h, 30000, &ex)) < 0 ||
	    ex.pid != pid || ex.exitcode != 0) {
		fprintf(stderr, "forkd-hops: exit event: %s\n",
		    r < 0 ? forkd_strerror(r) : "wrong child or code");
		exit(1);
	}
	*ret_exit = hops_now() - t0;
}

/* One in-process fork(): the child writes a byte and exits. */
static void
hops_fork(int rfd, int wfd, uint64_t *ret_byte, uint64_t *ret_wait)
{
	uint64_t	t0;
	pid_t		pid;
	int		st;

	t0 = hops_now();
	if ((pid = fork()) < 0) {
		perror("forkd-hops: fork");
		exit(1);
	}
	if (pid == 0) {
		(void)!write(wfd, "x", 1);
		_exit(0);
	}
	hops_read_byte(rfd, "fork child");
	*ret_byte = hops_now() - t0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*ret_wait = hops_now() - t0;
}

int
main(int argc, char **argv)
{
	struct forkd	*h;
	uint64_t	*v[5];
	struct timespec	 gap;
	unsigned long	 n, gap_us;
	int		 p[2], r;

	if (argc != 5) {
		fprintf(stderr, "usage: forkd-hops SOCKET KEYFILE N GAP_US\n");
		return 2;
	}
	n = strtoul(argv[3], NULL, 10);
	gap_us = strtoul(argv[4], NULL, 10);
	if (n < 1 || n > 1000000) {
		fprintf(stderr, "forkd-hops: N: 1 to 1000000\n");
		return 2;
	}
	gap.tv_sec = (time_t)(gap_us / 1000000);
	gap.tv_nsec = (long)(gap_us % 1000000) * 1000;
	for (int i = 0; i < 5; i++)
		if ((v[i] = calloc(n, sizeof *v[i])) == NULL)
			return 1;
	if ((r = forkd_connect(&h, argv[1], argv[2])) < 0) {
		fprintf(stderr, "forkd-hops: connect: %s\n", forkd_strerror(r));
		return 1;
	}
	if (pipe(p) != 0) {
		perror("forkd-hops: pipe");
		return 1;
	}
	for (unsigned long i = 0; i < n; i++) {
		if (i % 2 == 0) {
			hops_forkd(h, p[0], p[1], &v[0][i], &v[1][i],
			    &v[2][i]);
			nanosleep(&gap, NULL);
			hops_fork(p[0], p[1], &v[3][i], &v[4][i]);
		} else {
			hops_fork(p[0], p[1], &v[3][i], &v[4][i]);
			nanosleep(&gap, NULL);
			hops_forkd(h, p[0], p[1], &v[0][i], &v[1][i],
			    &v[2][i]);
		}
		nanosleep(&gap, NULL);
	}
	printf("rounds %lu, gap %lu us, p50 in us\n", n, gap_us);
	printf("forkd: request -> first byte read %.1f, -> reply %.1f, "
	    "-> exit event %.1f\n", hops_p50_us(v[0], n), hops_p50_us(v[1], n),
	    hops_p50_us(v[2], n));
	printf("fork(): -> first byte read %.1f, -> waitpid %.1f\n",
	    hops_p50_us(v[3], n), hops_p50_us(v[4], n));
	forkd_close(h);
	return 0;
}
