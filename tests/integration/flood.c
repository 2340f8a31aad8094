/* flood.c: forkd_flood, a keyless connection flood from one uid against
 * the handshakes of another (issue 13 item 5). Not a test by itself:
 * test_netsec runs it, and it measures by hand:
 *
 *   forkd_flood SOCKET KEYFILE SECONDS [FLOOD_UID [PING_UID [JOBS]]]
 *
 * JOBS processes (default 1) running as FLOOD_UID connect as fast as they
 * can and never answer the Hello, each holding its newest 256 connections
 * open; meanwhile one process as PING_UID connects with the key, pings and
 * disconnects in a loop. Uids are switched to only when running as root.
 * Prints one line:
 *   flood: N connects in S s (R/s) from uid A; uid B: P handshake+ping,
 *   F failed (X %) [first error]
 * and exits 0 (the numbers are the result). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "forkd.h"

#define FLOOD_HOLD	256

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
become(long uid)
{
	if (uid < 0 || geteuid() != 0)
		return;
	if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 ||
	    setuid((uid_t)uid) != 0) {
		perror("forkd_flood: setuid");
		_exit(2);
	}
}

/* Connect until the deadline; the count goes to wfd. */
static void
flooder(const char *path, double end, int wfd)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 held[FLOOD_HOLD];
	unsigned long		 n = 0;
	size_t			 next = 0;

	for (size_t i = 0; i < FLOOD_HOLD; i++)
		held[i] = -1;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	while (now_s() < end) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);

		if (fd < 0)
			break;
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
			close(fd);
			continue;	/* backlog full: try again */
		}
		n++;
		if (held[next] >= 0)
			close(held[next]);
		held[next] = fd;
		next = (next + 1) % FLOOD_HOLD;
	}
	if (write(wfd, &n, sizeof n) != (ssize_t)sizeof n)
		_exit(1);
	_exit(0);
}

int
main(int argc, char **argv)
{
	unsigned char	 key[4096];
	char		 first[256] = "";
	const char	*path, *keyfile;
	unsigned long	 total = 0, ok = 0, failed = 0, got;
	double		 secs, t0, end;
	long		 flood_uid = -1, ping_uid = -1;
	int		 jobs = 1, pp[2], fd;
	ssize_t		 keylen;
	pid_t		 pids[64];

	if (argc < 4) {
		fprintf(stderr, "usage: forkd_flood SOCKET KEYFILE SECONDS "
		    "[FLOOD_UID [PING_UID [JOBS]]]\n");
		return 2;
	}
	path = argv[1];
	keyfile = argv[2];
	secs = atof(argv[3]);
	if (argc > 4)
		flood_uid = atol(argv[4]);
	if (argc > 5)
		ping_uid = atol(argv[5]);
	if (argc > 6)
		jobs = atoi(argv[6]);
	if (jobs < 1 || jobs > 64 || strlen(path) >= sizeof(((struct
	    sockaddr_un *)0)->sun_path))
		return 2;
	if ((fd = open(keyfile, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (keylen = read(fd, key, sizeof key)) <= 0) {
		perror(keyfile);
		return 2;
	}
	close(fd);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(pp) != 0)
		return 2;
	t0 = now_s();
	end = t0 + secs;
	for (int j = 0; j < jobs; j++) {
		pids[j] = fork();
		if (pids[j] < 0)
			return 2;
		if (pids[j] == 0) {
			close(pp[0]);
			become(flood_uid);
			flooder(path, end, pp[1]);
		}
	}
	close(pp[1]);
	become(ping_uid);
	/* Let the flood start first. */
	usleep(100000);
	while (now_s() < end) {
		struct forkd	*f = NULL;
		int		 r;

		r = forkd_connect_key(&f, path, key, (size_t)keylen);
		if (r == 0)
			r = forkd_ping(f);
		if (r == 0)
			ok++;
		else {
			failed++;
			if (first[0] == '\0')
				snprintf(first, sizeof first, "%s (%d): %s",
				    forkd_strerror(r), r,
				    f != NULL ? forkd_errmsg(f) : "");
		}
		if (f != NULL)
			forkd_close(f);
	}
	for (int j = 0; j < jobs; j++) {
		if (read(pp[0], &got, sizeof got) == (ssize_t)sizeof got)
			total += got;
		waitpid(pids[j], NULL, 0);
	}
	secs = now_s() - t0;
	printf("flood: %lu connects in %.1f s (%.0f/s) from uid %ld; uid %ld: "
	    "%lu handshake+ping, %lu failed (%.1f %%)%s%s\n", total, secs,
	    (double)total / secs, flood_uid < 0 ? (long)geteuid() : flood_uid,
	    (long)geteuid(), ok, failed,
	    ok + failed ? 100.0 * (double)failed / (double)(ok + failed) : 0.0,
	    first[0] ? "; first error: " : "", first);
	return 0;
}
