/* test_limits.c: [limits] from a config file (-c), enforced by a real forkd,
 * and re-read on SIGHUP. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness	H;
/* Short, so the deadline test is quick; every legitimate handshake of the
 * suite must finish within it too, hence scaled. */
#define HANDSHAKE_MS	(300 * harness_slow())
static char		conf[HARNESS_PATH_MAX + 16];

/* Write the config file with max_children n. */
static void
write_conf(const char *path, int max_children)
{
	harness_conf_write(path, "# written by test_limits\n"
	    "[limits]\n"
	    "max_connections = 3\n"
	    "max_children = %d\n"
	    "max_argv = 4\n"
	    "max_env = 2\n"
	    "max_fds = 2\n"
	    "handshake_timeout_ms = %d\n"
	    "kill_grace_ms = 500\n", max_children, HANDSHAKE_MS);
}

static pid_t
spawn_sleep(struct forkd *f, int *ret_err)
{
	const char		*sl[] = { "bench:sleep", "30", NULL };
	struct forkd_spawn_opts	 o;
	pid_t			 pid = -1;

	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = sl;
	*ret_err = forkd_spawn(f, &o, &pid, NULL, 0);
	return pid;
}

/* A connection that is forkd's only one: connections closed a moment ago
 * (the harness's readiness check, an earlier test's) may still hold their
 * slots until forkd has read their end, so retry while -EUSERS, then wait
 * until forkd's status counts this connection alone. */
static struct forkd *
connect_alone(void)
{
	struct forkd		*f = NULL;
	struct forkd_status	*st = NULL;
	int64_t			 end = harness_now_ms() + 5000 * harness_slow();
	int			 r;

	while ((r = forkd_connect(&f, H.h_sock, H.h_key)) == -EUSERS &&
	    harness_now_ms() < end)
		harness_sleep_ms(20);
	if (r != 0)
		fail_msg("connect: %d (%s)", r, forkd_strerror(r));
	for (;;) {
		EXPECT_OK(f, forkd_status(f, &st));
		r = (int)st->connections;
		forkd_status_free(st);
		if (r == 1)
			return f;
		if (harness_now_ms() >= end)
			fail_msg("forkd still counts %d connections 5 s after "
			    "the others closed", r);
		harness_sleep_ms(20);
	}
}

/* Open connections up to max_connections; one more is refused. */
static void
test_max_connections(void **state)
{
	struct forkd	*c[3], *x = NULL;
	int		 r = 0;

	c[0] = connect_alone();
	for (int i = 1; i < 3; i++)
		c[i] = harness_connect(&H);
	r = forkd_connect(&x, H.h_sock, H.h_key);
	if (r != -EUSERS)
		fail_msg("connection 4 with max_connections 3: %d (%s), "
		    "expected -EUSERS", r, forkd_strerror(r));
	for (int i = 0; i < 3; i++)
		EXPECT_OK(c[i], forkd_ping(c[i]));
	/* One leaves: a new one gets in (once forkd has noticed). */
	forkd_close(c[2]);
	for (int64_t end = harness_now_ms() + 3000; harness_now_ms() < end;) {
		r = forkd_connect(&c[2], H.h_sock, H.h_key);
		if (r == 0)
			break;
		harness_sleep_ms(20);
	}
	if (r != 0)
		fail_msg("connection after one of 3 closed: %d (%s)", r,
		    forkd_strerror(r));
	EXPECT_OK(c[2], forkd_ping(c[2]));
	for (int i = 0; i < 3; i++)
		forkd_close(c[i]);
}

/* A client that connects and says nothing is dropped after the handshake
 * deadline, and does not hold up others meanwhile. */
static void
test_handshake_deadline(void **state)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct forkd		*f, *p;
	unsigned char		 buf[4096];
	int64_t			 t0;
	ssize_t			 n = -1;
	int			 s;

	/* Slots: p, the silent client and f (max_connections 3). */
	p = connect_alone();
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	if (strlen(H.h_sock) >= sizeof sun.sun_path)
		fail_msg("socket path too long: %s", H.h_sock);
	memcpy(sun.sun_path, H.h_sock, strlen(H.h_sock) + 1);
	t0 = harness_now_ms();		/* the deadline runs from accept */
	if (connect(s, (struct sockaddr *)&sun, sizeof sun) != 0)
		fail_msg("connect: %s", strerror(errno));
	/* Another client is served meanwhile. */
	f = harness_connect(&H);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	/* Read the hello, maybe an error, then EOF. */
	for (;;) {
		struct pollfd pfd = { .fd = s, .events = POLLIN };

		if (poll(&pfd, 1, 5000) <= 0)
			break;
		n = recv(s, buf, sizeof buf, 0);
		if (n <= 0)
			break;
	}
	if (n != 0)
		fail_msg("a silent client was not disconnected within 5 s "
		    "(handshake_timeout_ms %d): last recv %zd", HANDSHAKE_MS, n);
	/* forkd arms the deadline from libevent's time of the loop turn
	 * that accepted, which may be a little older than t0. */
	if (harness_now_ms() - t0 < HANDSHAKE_MS * 2 / 3)
		fail_msg("silent client disconnected after %lld ms, before the "
		    "%d ms deadline", (long long)(harness_now_ms() - t0),
		    HANDSHAKE_MS);
	close(s);
	EXPECT_OK(p, forkd_ping(p));
	forkd_close(p);
}

/* max_children live children; the next spawn fails until one ends. */
static void
test_max_children(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_exit	 ev;
	pid_t			 a, b, c;
	int			 r;

	a = spawn_sleep(f, &r);
	EXPECT_INT(r, 0, "spawn 1 of 2");
	b = spawn_sleep(f, &r);
	EXPECT_INT(r, 0, "spawn 2 of 2");
	c = spawn_sleep(f, &r);
	if (r == 0)
		fail_msg("spawn 3 with max_children 2 succeeded (pid %d)",
		    (int)c);
	EXPECT_INT(r, -EAGAIN, "spawn over max_children");
	EXPECT_CONTAINS(forkd_errmsg(f), "children", "errmsg over the limit");
	EXPECT_OK(f, forkd_kill(f, a));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	c = spawn_sleep(f, &r);
	EXPECT_INT(r, 0, "spawn after one child ended");
	EXPECT_OK(f, forkd_kill(f, b));
	EXPECT_OK(f, forkd_kill(f, c));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	forkd_close(f);
}

/* max_argv, max_env, max_fds. */
static void
test_request_limits(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	const char		*argv4[] = { "bench:noop", "1", "2", "3", NULL };
	const char		*argv5[] = { "bench:noop", "1", "2", "3", "4",
	    NULL };
	const char		*env2[] = { "A=1", "B=2", NULL };
	const char		*env3[] = { "A=1", "B=2", "C=3", NULL };
	pid_t			 pid;

	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.argv = argv4;
	o.env = env2;
	o.stdout_fd = 1;
	o.stderr_fd = 2;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));

	o.argv = argv5;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -E2BIG);
	o.argv = argv4;
	o.env = env3;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -E2BIG);
	o.env = env2;
	o.stdin_fd = 0;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EMFILE);
	EXPECT_ERR(f, forkd_wait_exit_event(f, 200, &ev), -ETIMEDOUT);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* SIGHUP re-reads [limits]: max_children 2 -> 3. */
static void
test_sighup_reload(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_exit	 ev;
	pid_t			 p[3];
	int			 r;

	write_conf(conf, 3);
	kill(H.h_pid, SIGHUP);
	/* The reload happens in forkd's loop; retry briefly. */
	p[0] = spawn_sleep(f, &r);
	EXPECT_INT(r, 0, "spawn 1");
	p[1] = spawn_sleep(f, &r);
	EXPECT_INT(r, 0, "spawn 2");
	for (int64_t end = harness_now_ms() + 3000;;) {
		p[2] = spawn_sleep(f, &r);
		if (r != -EAGAIN || harness_now_ms() > end)
			break;
		harness_sleep_ms(50);
	}
	if (r != 0)
		fail_msg("third child after SIGHUP raised max_children to 3: "
		    "%d (%s) \"%s\"", r, forkd_strerror(r), forkd_errmsg(f));
	for (int i = 0; i < 3; i++)
		EXPECT_OK(f, forkd_kill(f, p[i]));
	for (int i = 0; i < 3; i++)
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));

	/* A broken file on SIGHUP keeps the current limits. */
	{
		FILE *fp = fopen(conf, "w");

		assert_non_null(fp);
		fputs("[limits]\nmax_children = many\n", fp);
		fclose(fp);
	}
	kill(H.h_pid, SIGHUP);
	harness_sleep_ms(200);
	for (int i = 0; i < 3; i++) {
		p[i] = spawn_sleep(f, &r);
		if (r != 0)
			fail_msg("spawn %d after a SIGHUP with a broken config: "
			    "%d (%s); the old limit 3 should still hold", i + 1,
			    r, forkd_strerror(r));
	}
	for (int i = 0; i < 3; i++)
		EXPECT_OK(f, forkd_kill(f, p[i]));
	for (int i = 0; i < 3; i++)
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

static void
test_stop(void **state)
{
	harness_stop_ok(&H);
}

static int
group_setup(void **state)
{
	const char	*extra[] = { "-c", conf, NULL };

	if (harness_conf_new(conf, sizeof conf, "limits") != 0)
		return -1;
	write_conf(conf, 2);
	return harness_start(&H, extra);
}

static int
group_teardown(void **state)
{
	if (H.h_pid > 0)
		harness_stop(&H);
	unlink(conf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_max_connections),
		cmocka_unit_test(test_handshake_deadline),
		cmocka_unit_test(test_max_children),
		cmocka_unit_test(test_request_limits),
		cmocka_unit_test(test_sighup_reload),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_limits", tests,
	    group_setup, group_teardown);
}
