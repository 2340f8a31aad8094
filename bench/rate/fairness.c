/* fairness.c: forkd-fairness, what max_spawn_rate protects (issue 17).
 *
 * One forkd, two client uids. A flooder uid runs N connections that spawn
 * bench:noop and wait for its exit as fast as forkd lets them (a refused
 * spawn, EAGAIN from the rate limit, is counted and retried after 1 ms).
 * A victim uid (the caller's own) runs one connection doing the same, and
 * its cycle latency is what the other uid's flood costs it. The victim
 * first runs alone for the same time, as the baseline. It prints one line
 * per phase; it judges nothing.
 *
 * Run as root (the flooders drop to -u UID after reading the key); forkd's
 * socket and its directory must let that uid connect. run-fairness.sh does
 * all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "forkd.h"

#define FAIR_FLOODERS_MAX	64
#define FAIR_LAT_MAX		(1 << 20)

/* What each flooder process reports through shared memory. */
struct fair_count {
	unsigned long	fc_cycles;
	unsigned long	fc_refused;
};

/* CLOCK_MONOTONIC in nanoseconds. */
static uint64_t
fair_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Print a message and exit 2. */
static void __attribute__((noreturn))
fair_die(const char *what, int r)
{
	fprintf(stderr, "forkd-fairness: %s: %s\n", what, strerror(-r));
	exit(2);
}

/* One spawn -> exit event cycle: 0, or -EAGAIN when refused. */
static int
fair_cycle(struct forkd *h)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ex;
	pid_t			pid;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	if ((r = forkd_spawn(h, &o, &pid, NULL, 0)) < 0)
		return r;
	if ((r = forkd_wait_exit_event(h, 30000, &ex)) < 0)
		return r;
	return ex.pid == pid && ex.exitcode == 0 ? 0 : -EIO;
}

/* A flooder process: drop to uid, connect, cycle until the deadline. */
static void __attribute__((noreturn))
fair_flood(const char *sock, const unsigned char *key, size_t keylen,
    uid_t uid, uint64_t deadline, struct fair_count *fc)
{
	struct forkd	*h;
	int		 r;

	if (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
		_exit(3);
	if ((r = forkd_connect_key(&h, sock, key, keylen)) < 0)
		fair_die("flooder connect", r);
	while (fair_now_ns() < deadline) {
		r = fair_cycle(h);
		if (r == -EAGAIN) {
			fc->fc_refused++;
			usleep(1000);
		} else if (r < 0)
			fair_die("flooder cycle", r);
		else
			fc->fc_cycles++;
	}
	forkd_close(h);
	_exit(0);
}

/* Sort helper. */
static int
fair_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The victim: cycles for ms; prints its rate, p50 and p99. */
static void
fair_victim(struct forkd *h, unsigned ms, const char *phase)
{
	static uint64_t	lat[FAIR_LAT_MAX];
	uint64_t	t0 = fair_now_ns(), end = t0 + (uint64_t)ms * 1000000;
	size_t		n = 0;
	unsigned long	refused = 0;
	int		r;

	while (fair_now_ns() < end && n < FAIR_LAT_MAX) {
		uint64_t s = fair_now_ns();

		if ((r = fair_cycle(h)) == -EAGAIN) {
			refused++;
			usleep(1000);
			continue;
		}
		if (r < 0)
			fair_die("victim cycle", r);
		lat[n++] = fair_now_ns() - s;
	}
	qsort(lat, n, sizeof lat[0], fair_cmp);
	printf("%-28s victim: %7.0f cycles/s, p50 %7.1f us, p99 %8.1f us, "
	    "%lu refused\n", phase, (double)n * 1e3 / ms,
	    n ? (double)lat[n / 2] / 1e3 : 0,
	    n ? (double)lat[(n * 99) / 100] / 1e3 : 0, refused);
}

/* Parse arguments, run the baseline and the flood phase. */
int
main(int argc, char **argv)
{
	const char		*sock = NULL, *keyfile = NULL;
	unsigned char		 key[256];
	struct fair_count	*fc;
	struct forkd		*h;
	pid_t			 pids[FAIR_FLOODERS_MAX];
	unsigned		 nflood = 16, ms = 3000;
	unsigned long		 cyc = 0, ref = 0;
	uid_t			 uid = 65534;
	ssize_t			 keylen;
	uint64_t		 deadline;
	int			 ch, fd, r;

	while ((ch = getopt(argc, argv, "s:k:c:u:t:h")) != -1) {
		switch (ch) {
		case 's': sock = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'c': nflood = (unsigned)atoi(optarg); break;
		case 'u': uid = (uid_t)atoi(optarg); break;
		case 't': ms = (unsigned)atoi(optarg); break;
		default:
			fprintf(ch == 'h' ? stdout : stderr, "usage: "
			    "forkd-fairness -s SOCKET -k KEYFILE [-c FLOODERS] "
			    "[-u FLOOD_UID] [-t MS]\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (sock == NULL || keyfile == NULL || nflood < 1 ||
	    nflood > FAIR_FLOODERS_MAX || ms < 100)
		fair_die("usage (-s, -k, -c 1..64, -t >= 100 needed)", -EINVAL);
	if ((fd = open(keyfile, O_RDONLY | O_CLOEXEC)) < 0)
		fair_die(keyfile, -errno);
	keylen = read(fd, key, sizeof key);
	close(fd);
	if (keylen <= 0)
		fair_die("key", -EINVAL);
	if ((r = forkd_connect_key(&h, sock, key, (size_t)keylen)) < 0)
		fair_die("victim connect", r);
	fc = mmap(NULL, sizeof *fc * FAIR_FLOODERS_MAX, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fc == MAP_FAILED)
		fair_die("mmap", -errno);
	memset(fc, 0, sizeof *fc * FAIR_FLOODERS_MAX);

	fair_victim(h, ms, "alone");
	fflush(stdout);
	/* Flooders start, get 200 ms to ramp up, then the victim measures
	 * while they run. */
	deadline = fair_now_ns() + (uint64_t)(ms + 400) * 1000000;
	for (unsigned i = 0; i < nflood; i++) {
		if ((pids[i] = fork()) < 0)
			fair_die("fork", -errno);
		if (pids[i] == 0)
			fair_flood(sock, key, (size_t)keylen, uid, deadline,
			    &fc[i]);
	}
	usleep(200000);
	for (unsigned i = 0; i < nflood; i++)
		fc[i].fc_cycles = fc[i].fc_refused = 0;
	{
		char phase[64];

		snprintf(phase, sizeof phase, "beside %u flooders (uid %d)",
		    nflood, (int)uid);
		fair_victim(h, ms, phase);
		for (unsigned i = 0; i < nflood; i++) {
			cyc += fc[i].fc_cycles;
			ref += fc[i].fc_refused;
		}
		printf("%-28s flooders during it: %7.0f cycles/s, %lu "
		    "refused\n", "", (double)cyc * 1e3 / ms, ref);
	}
	for (unsigned i = 0; i < nflood; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fair_die("a flooder failed", -EIO);
	}
	forkd_close(h);
	return 0;
}
