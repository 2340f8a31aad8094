/* test_closer_pipe.c: which of a client's fds forkd closes itself (issue
 * 17). An anonymous pipe's end, whose close() cannot block, is closed by
 * forkd as soon as the spawn is done with it: with forkd-closer stopped,
 * the client still reads EOF once the child exits. Anything else, here a
 * FIFO (a pipe with a name on a file system) and an AF_UNIX socket, still
 * goes to forkd-closer (issue 13 item 2): while it is stopped, forkd's
 * copy stays open and no EOF comes; once it runs again, EOF comes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "harness.h"

static struct harness	H;
#define CLOSERS_MAX	16
static pid_t		closers[CLOSERS_MAX];
static int		nclosers;

/* Does pid share forkd's fd table? Every socket fd of forkd is the same
 * socket under the same number in pid's table. */
static int
shares_table(pid_t forkd, pid_t pid)
{
	char		 dir[64], path[384], a[64], b[64];
	DIR		*d;
	struct dirent	*de;
	ssize_t		 na, nb;
	int		 same = 0, differ = 0;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)forkd);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((na = readlink(path, a, sizeof a - 1)) <= 0)
			continue;
		a[na] = '\0';
		if (strncmp(a, "socket:[", 8) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid,
		    de->d_name);
		nb = readlink(path, b, sizeof b - 1);
		if (nb > 0)
			b[nb] = '\0';
		if (nb == na && strcmp(a, b) == 0)
			same++;
		else
			differ++;
	}
	closedir(d);
	return same > 0 && differ == 0;
}

/* forkd-closer and its workers: the forkd-closer processes that share
 * forkd's fd table. */
static int
find_closers(void)
{
	DIR		*d = opendir("/proc");
	struct dirent	*de;
	char		 path[300], comm[32];
	FILE		*fp;

	assert_non_null(d);
	nclosers = 0;
	while ((de = readdir(d)) != NULL && nclosers < CLOSERS_MAX) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/comm", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof comm, fp) != NULL &&
		    strcmp(comm, "forkd-closer\n") == 0 &&
		    shares_table(H.h_pid, (pid_t)atoi(de->d_name)))
			closers[nclosers++] = (pid_t)atoi(de->d_name);
		fclose(fp);
	}
	closedir(d);
	return nclosers;
}

/* Stop or continue every forkd-closer process of this forkd. */
static void
closers_signal(int sig)
{
	for (int i = 0; i < nclosers; i++)
		(void)kill(closers[i], sig);
}

/* Spawn bench:byte with stdout fd, and wait for its exit. */
static void
spawn_byte(struct forkd *f, int fd)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	pid_t			pid;

	forkd_spawn_opts_init(&o);
	o.target = "bench:byte";
	o.stdout_fd = fd;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000 * harness_slow(), &ev));
	EXPECT_INT(ev.pid, pid, "pid of bench:byte's exit");
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:byte");
}

/* Read rfd (non-blocking) into buf (cap 64, *got bytes in it already)
 * until EOF or timeout_ms: 1 at EOF, 0 if none came. */
static int
eof_within(int rfd, int timeout_ms, char *buf, size_t *got)
{
	int64_t		end = harness_now_ms() + timeout_ms;
	struct pollfd	p = { rfd, POLLIN, 0 };
	ssize_t		n;

	for (;;) {
		int left = (int)(end - harness_now_ms());

		if (left < 0)
			left = 0;
		if (poll(&p, 1, left) <= 0)
			return 0;
		n = read(rfd, buf + *got, 63 - *got);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_msg("read: %s", strerror(errno));
		if (n > 0)
			*got += (size_t)n;
		if (*got >= 63)
			fail_msg("more output than bench:byte writes");
	}
	buf[*got] = '\0';
	return 1;
}

/* A pipe's write end: forkd closes its copy itself, the closer stopped. */
static void
test_pipe_closed_inline(void **state)
{
	struct forkd	*f = harness_connect(&H);
	char		 out[64];
	size_t		 got = 0;
	int		 pp[2];

	(void)state;
	assert_true(find_closers() >= 1);
	closers_signal(SIGSTOP);
	harness_pipe(pp);
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	spawn_byte(f, pp[1]);
	close(pp[1]);
	if (!eof_within(pp[0], 5000 * harness_slow(), out, &got)) {
		closers_signal(SIGCONT);
		fail_msg("no EOF on a pipe with forkd-closer stopped: forkd "
		    "did not close its copy itself");
	}
	closers_signal(SIGCONT);
	EXPECT_STR(out, "x", "output of bench:byte");
	close(pp[0]);
	forkd_close(f);
}

/* fd (the write side of something that reads at rfd) goes to the closer:
 * no EOF while it is stopped, EOF once it runs. */
static void
via_closer(int fd, int rfd, const char *what)
{
	struct forkd	*f = harness_connect(&H);
	char		 out[64];
	size_t		 got = 0;

	assert_true(find_closers() >= 1);
	closers_signal(SIGSTOP);
	spawn_byte(f, fd);
	close(fd);
	if (eof_within(rfd, 300, out, &got)) {
		closers_signal(SIGCONT);
		fail_msg("%s: EOF with forkd-closer stopped: forkd closed "
		    "it itself", what);
	}
	closers_signal(SIGCONT);
	if (!eof_within(rfd, 5000 * harness_slow(), out, &got))
		fail_msg("%s: no EOF after forkd-closer went on", what);
	EXPECT_STR(out, "x", what);
	close(rfd);
	forkd_close(f);
}

/* A FIFO on a file system is not closed inline (its last close may call
 * the file system). */
static void
test_fifo_via_closer(void **state)
{
	char	path[HARNESS_PATH_MAX + 16];
	int	rfd, wfd;

	(void)state;
	snprintf(path, sizeof path, "%s/fifo", H.h_dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);
	wfd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(wfd >= 0);
	unlink(path);
	via_closer(wfd, rfd, "a FIFO");
}

/* Nor is a socket (its queue may hold fds whose close blocks). */
static void
test_socket_via_closer(void **state)
{
	int	sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	via_closer(sv[1], sv[0], "an AF_UNIX socket");
}

static int
group_setup(void **state)
{
	(void)state;
	return harness_start(&H, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	closers_signal(SIGCONT);
	if (H.h_pid > 0)
		harness_stop(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_closed_inline),
		cmocka_unit_test(test_fifo_via_closer),
		cmocka_unit_test(test_socket_via_closer),
	};

	return cmocka_run_group_tests_name("integration_closer_pipe", tests,
	    group_setup, group_teardown);
}
