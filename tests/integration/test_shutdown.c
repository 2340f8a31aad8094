/* test_shutdown.c: forkd's signals: SIGTERM/SIGINT stop it cleanly after
 * ending daemon-flag children (whose owners get their exit events), SIGHUP
 * does not stop it; a stale socket file does not stop a new forkd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "harness.h"

/* Wait for forkd (h->h_pid) to exit by itself within ms; status or -1. */
static int
wait_exit(struct harness *h, int ms)
{
	int	st;

	for (int64_t end = harness_now_ms() + ms;;) {
		if (waitpid(h->h_pid, &st, WNOHANG) == h->h_pid) {
			h->h_pid = -1;
			return st;
		}
		if (harness_now_ms() > end)
			return -1;
		harness_sleep_ms(10);
	}
}

/* Spawn bench:sleep 60 with the daemon flag. */
static pid_t
spawn_sleeper(struct forkd *f, int daemon)
{
	const char		*sl[] = { "bench:sleep", "60", NULL };
	struct forkd_spawn_opts	 o;
	pid_t			 pid = -1;

	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = sl;
	o.daemon = daemon;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	return pid;
}

/* Stop h by signal sig, expecting exit 0 within 15 s. */
static void
expect_clean_exit(struct harness *h, int sig, const char *what)
{
	int st;

	if (h->h_pid > 0)
		kill(h->h_pid, sig);
	st = wait_exit(h, 15000);
	if (st == -1) {
		harness_dump_log(h);
		fail_msg("%s: forkd still running 15 s after the signal", what);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		harness_dump_log(h);
		fail_msg("%s: forkd status %#x (exit %d, signal %d), expected "
		    "exit 0", what, st, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
}

/* SIGTERM with a daemon-flag child: the child is terminated, its owner
 * gets the exit event before the connection closes, forkd exits 0. */
static void
test_sigterm_daemon_child(void **state)
{
	struct harness		h;
	struct forkd		*f;
	struct forkd_exit	 ev;
	pid_t			 pid;
	int			 r;

	if (harness_start(&h, NULL) != 0)
		fail_msg("forkd did not start");
	f = harness_connect(&h);
	pid = spawn_sleeper(f, 1);
	EXPECT_INT(harness_pid_state(pid), 1, "child running before SIGTERM");

	kill(h.h_pid, SIGTERM);
	r = forkd_wait_exit_event(f, 10000, &ev);
	if (r != 0)
		fail_msg("after SIGTERM to forkd, no exit event for its "
		    "daemon-flag child: %d (%s) \"%s\"", r, forkd_strerror(r),
		    forkd_errmsg(f));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, -SIGTERM, "exitcode of the daemon-flag child");
	/* Then the connection closes. */
	r = forkd_wait_exit_event(f, 10000, &ev);
	if (r != -ECONNRESET)
		fail_msg("after the last exit event the connection should "
		    "close (-ECONNRESET); got %d (%s)", r, forkd_strerror(r));
	EXPECT_INT(forkd_ping(f), -ECONNRESET, "ping on the closed handle");
	forkd_close(f);
	expect_clean_exit(&h, 0, "SIGTERM with a daemon-flag child");
	EXPECT_INT(harness_pid_state(pid), 0, "child after forkd exited");
	harness_cleanup(&h);
}

/* The same, reading only after forkd has exited: the exit event and the
 * end of the connection are then both waiting in the socket, and the
 * event must still come first. */
static void
test_sigterm_event_read_after_exit(void **state)
{
	struct harness		h;
	struct forkd		*f;
	struct forkd_exit	 ev;
	pid_t			 pid;
	int			 r;

	if (harness_start(&h, NULL) != 0)
		fail_msg("forkd did not start");
	f = harness_connect(&h);
	pid = spawn_sleeper(f, 1);
	expect_clean_exit(&h, SIGTERM, "SIGTERM with a daemon-flag child");
	r = forkd_wait_exit_event(f, 5000, &ev);
	if (r != 0) {
		int q = forkd_next_exit(f, &ev);

		fail_msg("forkd_wait_exit_event after forkd exited: %d (%s); "
		    "expected the exit event first (forkd_next_exit then "
		    "gives %d%s)", r, forkd_strerror(r), q,
		    q == 0 ? ": the event had been received and queued, "
		    "but the call reported the closed connection instead" :
		    "");
	}
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, -SIGTERM, "exitcode of the daemon-flag child");
	EXPECT_INT(forkd_wait_exit_event(f, 5000, &ev), -ECONNRESET,
	    "next wait for an event on the closed connection");
	forkd_close(f);
	harness_cleanup(&h);
}

/* SIGTERM with a daemon-flag child that ignores SIGTERM: SIGKILL after
 * the grace period, still a clean exit. */
static void
test_sigterm_stubborn_child(void **state)
{
	const char		*sh[] = { "/bin/sh", "-c",
	    "trap '' TERM; while :; do sleep 0.05; done", NULL };
	struct harness		 h;
	struct forkd		*f, *g;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	pid_t			 pid = -1;
	int64_t			 t0;
	int			 r;

	if (harness_start(&h, NULL) != 0)
		fail_msg("forkd did not start");
	f = harness_connect(&h);
	forkd_spawn_opts_init(&o);
	o.target = "/bin/sh";
	o.argv = sh;
	o.daemon = 1;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	g = harness_connect(&h);
	harness_wait_ignored(pid, SIGTERM, 5000 * harness_slow());
	t0 = harness_now_ms();
	kill(h.h_pid, SIGTERM);
	/* While stopping: no new connections, no new children. The log line
	 * comes after forkd closed its socket and began refusing spawns. */
	harness_wait_log(&h, "stopping: no new connections", 1,
	    5000 * harness_slow());
	{
		struct forkd		*x = NULL;
		struct forkd_spawn_opts	 o2;
		pid_t			 p2;

		r = forkd_connect(&x, h.h_sock, h.h_key);
		if (r == 0) {
			forkd_close(x);
			fail_msg("a new connection was accepted while forkd "
			    "was stopping");
		}
		forkd_spawn_opts_init(&o2);
		o2.target = "bench:noop";
		r = forkd_spawn(g, &o2, &p2, NULL, 0);
		if (r == 0)
			fail_msg("spawn accepted while forkd was stopping "
			    "(pid %d)", (int)p2);
		EXPECT_INT(r, -ESHUTDOWN, "spawn while forkd is stopping");
	}
	r = forkd_wait_exit_event(f, 15000, &ev);
	if (r != 0)
		fail_msg("no exit event for a child ignoring SIGTERM: %d (%s)",
		    r, forkd_strerror(r));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of the stubborn child");
	if (harness_now_ms() - t0 < 1500)
		fail_msg("stubborn child killed after %lld ms, before the "
		    "2000 ms grace period", (long long)(harness_now_ms() - t0));
	forkd_close(g);
	forkd_close(f);
	expect_clean_exit(&h, 0, "SIGTERM with a stubborn child");
	harness_cleanup(&h);
}

/* SIGINT: clean exit too; a non-daemon child is left running. */
static void
test_sigint(void **state)
{
	struct harness	 h;
	struct forkd	*f;
	pid_t		 pid;

	if (harness_start(&h, NULL) != 0)
		fail_msg("forkd did not start");
	f = harness_connect(&h);
	pid = spawn_sleeper(f, 0);
	kill(h.h_pid, SIGINT);
	{
		int st = wait_exit(&h, 15000);

		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			harness_dump_log(&h);
			kill(pid, SIGKILL);
			fail_msg("SIGINT: forkd status %#x, expected exit 0",
			    st);
		}
	}
	forkd_close(f);
	/* Not forkd's business any more; clean up. */
	if (harness_pid_state(pid) != 1)
		fail_msg("non-daemon child %d did not outlive forkd's SIGINT",
		    (int)pid);
	kill(pid, SIGKILL);
	harness_cleanup(&h);
}

/* SIGHUP without a config file: still serving. */
static void
test_sighup(void **state)
{
	struct harness	 h;
	struct forkd	*f;

	if (harness_start(&h, NULL) != 0)
		fail_msg("forkd did not start");
	f = harness_connect(&h);
	kill(h.h_pid, SIGHUP);
	harness_sleep_ms(200);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	f = harness_connect(&h);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	harness_stop_ok(&h);
}

/* A SIGKILLed forkd leaves its socket file; the next one starts anyway. */
static void
test_stale_socket(void **state)
{
	struct harness	 a, b;
	char		 sock[HARNESS_PATH_MAX];
	const char	*extra[] = { "-s", sock, NULL };
	struct forkd	*f;
	int		 st;

	if (harness_start(&a, NULL) != 0)
		fail_msg("forkd did not start");
	snprintf(sock, sizeof sock, "%s", a.h_sock);
	kill(a.h_pid, SIGKILL);
	waitpid(a.h_pid, &st, 0);
	a.h_pid = -1;
	if (access(sock, F_OK) != 0)
		skip();		/* nothing stale to test with */
	if (harness_start(&b, extra) != 0)
		fail_msg("forkd did not start on the stale socket %s", sock);
	f = harness_connect(&b);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	harness_stop_ok(&b);
	harness_cleanup(&a);
}

/* A socket whose listener died but whose fd another process still holds
 * (what forkd-closer, sharing a killed forkd's fd table, does until it
 * notices): connect() succeeds, nobody will ever accept. forkd takes the
 * path over: the process that listened is gone. Here the listener is a
 * child of the test that passes the fd to a sleeping grandchild and
 * exits, so the state lasts as long as the test needs it. */
static void
test_stale_socket_held(void **state)
{
	struct harness		 b;
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	char			 sock[HARNESS_PATH_MAX];
	const char		*extra[] = { "-s", sock, NULL };
	struct forkd		*f;
	pid_t			 pid, holder = -1;
	int			 p[2], st, fd;
	char			 dir[] = "/tmp/forkd-held.XXXXXX";

	assert_non_null(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/forkd.sock", dir);
	assert_true(strlen(sock) < sizeof sun.sun_path);
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sun,
		    sizeof sun) != 0 || listen(fd, 8) != 0) {
			fprintf(stderr, "listener at %s: %s\n", sock,
			    strerror(errno));
			_exit(1);
		}
		if ((holder = fork()) == 0) {
			close(p[0]);
			close(p[1]);
			pause();
			_exit(0);
		}
		(void)!write(p[1], &holder, sizeof holder);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &holder, sizeof holder),
	    (ssize_t)sizeof holder);
	close(p[0]);
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
	if (harness_start(&b, extra) != 0) {
		kill(holder, SIGKILL);
		fail_msg("forkd did not take over %s, held open by a process "
		    "whose listener is gone", sock);
	}
	f = harness_connect(&b);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	harness_stop_ok(&b);
	kill(holder, SIGKILL);
	(void)unlink(sock);
	(void)rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_daemon_child),
		cmocka_unit_test(test_sigterm_event_read_after_exit),
		cmocka_unit_test(test_sigterm_stubborn_child),
		cmocka_unit_test(test_sigint),
		cmocka_unit_test(test_sighup),
		cmocka_unit_test(test_stale_socket),
		cmocka_unit_test(test_stale_socket_held),
	};

	return cmocka_run_group_tests_name("integration_shutdown", tests,
	    NULL, NULL);
}
