/* test_lifecycle.c: what happens around connections: daemon-flag children
 * die with their connection, children inherit no stray fds, forkd leaves
 * no zombies and leaks no fds of its own. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

static pid_t
spawn_opts(struct forkd *f, struct forkd_spawn_opts *o)
{
	pid_t	pid = -1;
	int	r;

	r = forkd_spawn(f, o, &pid, NULL, 0);
	if (r != 0)
		fail_msg("forkd_spawn(%s): %d (%s) \"%s\"", o->target, r,
		    forkd_strerror(r), forkd_errmsg(f));
	return pid;
}

static pid_t
spawn(struct forkd *f, const char *target, const char *const *argv,
    int daemon)
{
	struct forkd_spawn_opts	o;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	o.daemon = daemon;
	return spawn_opts(f, &o);
}

/* Is pid in forkd's list? */
static int
listed(struct forkd *f, pid_t pid)
{
	struct forkd_child	*v = NULL;
	size_t			 n = 0;
	int			 found = 0;

	EXPECT_OK(f, forkd_list(f, &v, &n));
	for (size_t i = 0; i < n; i++)
		if (v[i].pid == pid)
			found = 1;
	free(v);
	return found;
}

/* Client A closes: its daemon-flag child is terminated, the other stays. */
static void
test_disconnect_kills_daemon_children(void **state)
{
	struct forkd		*a = harness_connect(&H);
	struct forkd		*b = harness_connect(&H);
	const char		*sl[] = { "bench:sleep", "60", NULL };
	struct forkd_exit	 ev;
	pid_t			 dpid, npid;
	int64_t			 t0;
	int			 s;

	dpid = spawn(a, "bench:sleep", sl, 1);
	npid = spawn(a, "bench:sleep", sl, 0);
	EXPECT_INT(harness_pid_state(dpid), 1, "daemon child before close");
	forkd_close(a);

	t0 = harness_now_ms();
	while ((s = harness_pid_state(dpid)) != 0 &&
	    harness_now_ms() - t0 < 3000)
		harness_sleep_ms(20);
	if (s != 0)
		fail_msg("daemon-flag child %d still %s 3 s after its "
		    "connection closed", (int)dpid,
		    s == 2 ? "a zombie (not reaped)" : "running");
	if (kill(dpid, 0) == 0 || errno != ESRCH)
		fail_msg("kill(%d, 0) after the child ended: %s", (int)dpid,
		    strerror(errno));
	EXPECT_OK(b, forkd_wait(b, dpid, NULL, 5000, &ev));
	EXPECT_INT(ev.exitcode, -SIGTERM,
	    "exitcode of the daemon-flag child, seen from client B");
	if (listed(b, dpid))
		fail_msg("ended daemon-flag child %d still listed", (int)dpid);

	/* The non-daemon child runs on, orphaned but listed. */
	EXPECT_INT(harness_pid_state(npid), 1,
	    "non-daemon child after its connection closed (1 = running)");
	if (!listed(b, npid))
		fail_msg("non-daemon child %d not listed after its connection "
		    "closed", (int)npid);
	EXPECT_OK(b, forkd_kill(b, npid));
	EXPECT_OK(b, forkd_wait(b, npid, NULL, 5000, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of the non-daemon child");
	/* B spawned nothing: no exit events for it. */
	EXPECT_ERR(b, forkd_wait_exit_event(b, 100, &ev), -ETIMEDOUT);
	forkd_close(b);
}

/* A daemon-flag child that ignores SIGTERM is killed after the grace. */
static void
test_disconnect_sigkill_after_grace(void **state)
{
	struct forkd		*a = harness_connect(&H);
	struct forkd		*b = harness_connect(&H);
	const char		*sh[] = { "/bin/sh", "-c",
	    "trap '' TERM; while :; do sleep 0.05; done", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid;

	pid = spawn(a, "/bin/sh", sh, 1);
	harness_wait_ignored(pid, SIGTERM, 5000 * harness_slow());
	forkd_close(a);
	/* kill_grace_ms is 2000 by default. */
	EXPECT_OK(b, forkd_wait(b, pid, NULL, 8000, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL,
	    "exitcode of a child ignoring SIGTERM after the grace period");
	forkd_close(b);
}

/* Parse "0\n1\n2\n" style output into a printable list. */
static void
expect_fds_012(const char *out, const char *what)
{
	if (strcmp(out, "0\n1\n2\n") != 0)
		fail_msg("%s: child's open fds were \"%s\", expected exactly "
		    "0 1 2", what, out);
}

/* Run testing:fds with stdout a pipe; return its output. */
static const char *
child_fds(struct forkd *f, int with_stdin, int with_stderr)
{
	static char		out[4096];
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	int			pp[2], in[2];
	pid_t			pid;

	harness_pipe(pp);
	harness_pipe(in);
	forkd_spawn_opts_init(&o);
	o.target = "testing:fds";
	o.stdout_fd = pp[1];
	if (with_stdin)
		o.stdin_fd = in[0];
	if (with_stderr)
		o.stderr_fd = pp[1];
	pid = spawn_opts(f, &o);
	close(pp[1]);
	close(in[0]);
	harness_read_all(pp[0], out, sizeof out, 10000);
	close(pp[0]);
	close(in[1]);
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid");
	EXPECT_INT(ev.exitcode, 0, "exitcode of testing:fds");
	return out;
}

/* No fd leaks into children, also with other clients connected and with
 * an exec'd child. */
static void
test_no_fd_leak_into_children(void **state)
{
	struct forkd	*f = harness_connect(&H);
	struct forkd	*others[4];

	expect_fds_012(child_fds(f, 0, 0), "testing:fds, stdout only");
	expect_fds_012(child_fds(f, 1, 1), "testing:fds, all three stdio");

	for (int i = 0; i < 4; i++)
		others[i] = harness_connect(&H);
	/* One other client has a child with pipes of its own running. */
	{
		const char		*sl[] = { "bench:sleep", "30", NULL };
		struct forkd_spawn_opts	 o;
		struct forkd_exit	 ev;
		int			 pp[2];
		pid_t			 pid;

		harness_pipe(pp);
		forkd_spawn_opts_init(&o);
		o.target = "bench:sleep";
		o.argv = sl;
		o.stdout_fd = pp[1];
		o.stdin_fd = pp[0];
		pid = spawn_opts(others[0], &o);
		close(pp[0]);
		close(pp[1]);
		expect_fds_012(child_fds(f, 0, 0),
		    "testing:fds with 5 clients connected");
		expect_fds_012(child_fds(f, 1, 0),
		    "testing:fds with 5 clients connected, stdin too");
		EXPECT_OK(others[0], forkd_kill(others[0], pid));
		EXPECT_OK(others[0], forkd_wait_exit_event(others[0], 10000,
		    &ev));
	}
	/* An exec'd child: the shell probes its fds 0..255 with test -e,
	 * which opens nothing itself. */
	{
		const char		*sh[] = { "/bin/sh", "-c",
		    "i=0; while [ $i -lt 256 ]; do "
		    "[ -e /proc/$$/fd/$i ] && echo $i; i=$((i+1)); done; "
		    "exit 0", NULL };
		struct forkd_spawn_opts	 o;
		struct forkd_exit	 ev;
		char			 out[1024];
		int			 pp[2];

		harness_pipe(pp);
		forkd_spawn_opts_init(&o);
		o.target = "/bin/sh";
		o.argv = sh;
		o.stdout_fd = pp[1];
		(void)spawn_opts(f, &o);
		close(pp[1]);
		harness_read_all(pp[0], out, sizeof out, 10000);
		close(pp[0]);
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
		if (strcmp(out, "0\n1\n2\n") != 0)
			fail_msg("exec'd sh sees fds \"%s\", expected 0 1 2",
			    out);
	}
	for (int i = 0; i < 4; i++)
		forkd_close(others[i]);
	forkd_close(f);
}

/* 300 spawns, all exit events, then no zombies under forkd. */
static void
test_no_zombies(void **state)
{
	enum { N = 300 };
	struct forkd		*f = harness_connect(&H);
	static pid_t		 pids[N];
	static char		 seen[N];
	struct forkd_exit	 ev;
	int			 all, zombies, i;

	memset(seen, 0, sizeof seen);
	for (i = 0; i < N; i++)
		pids[i] = spawn(f, "bench:noop", NULL, 0);
	for (int n = 0; n < N; n++) {
		int r = forkd_wait_exit_event(f, 10000, &ev);

		if (r != 0)
			fail_msg("after %d of %d exit events: %d (%s)", n, N, r,
			    forkd_strerror(r));
		for (i = 0; i < N && pids[i] != ev.pid; i++)
			;
		if (i == N)
			fail_msg("exit event for unknown pid %d", (int)ev.pid);
		if (seen[i]++)
			fail_msg("two exit events for pid %d", (int)ev.pid);
		if (ev.exitcode != 0)
			fail_msg("bench:noop pid %d: exitcode %d", (int)ev.pid,
			    ev.exitcode);
	}
	harness_children(H.h_pid, &all, &zombies);
	if (zombies != 0 || all != 0)
		fail_msg("after all %d exit events forkd has %d children, %d "
		    "of them zombies", N, all, zombies);
	forkd_close(f);
}

/* forkd's fd count once it stayed the same for 300 ms (at most 5 s). */
static int
settled_fds(pid_t pid)
{
	int	n = harness_count_fds(pid), same = 0;

	for (int64_t end = harness_now_ms() + 5000; same < 6 &&
	    harness_now_ms() < end;) {
		int m;

		harness_sleep_ms(50);
		m = harness_count_fds(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* forkd's fd count is the same before and after 200 connect / spawn with
 * fds / close cycles (some closing with a child still running). */
static void
test_no_fd_leak_in_daemon(void **state)
{
	const char		*sl[] = { "bench:sleep", "30", NULL };
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	int			 before, after = -1;

	/* Earlier tests' sessions may still be going away: settle first. */
	before = settled_fds(H.h_pid);
	if (before < 0)
		fail_msg("cannot read /proc/%d/fd", (int)H.h_pid);
	for (int i = 0; i < 200; i++) {
		struct forkd	*f = harness_connect(&H);
		int		 in[2], out[2];
		pid_t		 pid;

		harness_pipe(in);
		harness_pipe(out);
		forkd_spawn_opts_init(&o);
		o.stdin_fd = in[0];
		o.stdout_fd = out[1];
		o.stderr_fd = out[1];
		switch (i % 4) {
		case 0:
		case 1:
			o.target = "bench:noop";
			pid = spawn_opts(f, &o);
			EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
			EXPECT_INT(ev.pid, pid, "pid");
			break;
		case 2:
			/* A failed spawn with fds. */
			o.target = "bench:noop";
			o.cwd = "/nonexistent-forkd-test-dir";
			EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0),
			    -ENOENT);
			break;
		case 3:
			/* Close with a daemon-flag child running. */
			o.target = "bench:sleep";
			o.argv = sl;
			o.daemon = 1;
			(void)spawn_opts(f, &o);
			break;
		}
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		forkd_close(f);
	}
	/* Sessions and children are torn down asynchronously. */
	for (int64_t end = harness_now_ms() + 5000; harness_now_ms() < end;) {
		int all, z;

		after = harness_count_fds(H.h_pid);
		harness_children(H.h_pid, &all, &z);
		if (after == before && all == 0)
			break;
		harness_sleep_ms(50);
	}
	if (after != before)
		fail_msg("forkd had %d fds open before 200 connect/spawn/close "
		    "cycles and %d after", before, after);
	{
		int all, z;

		harness_children(H.h_pid, &all, &z);
		if (all != 0)
			fail_msg("%d children (%d zombies) left after the "
			    "cycles", all, z);
	}
}

static void
test_stop(void **state)
{
	harness_stop_ok(&H);
}

static int
group_setup(void **state)
{
	return harness_start(&H, NULL);
}

static int
group_teardown(void **state)
{
	if (H.h_pid > 0)
		harness_stop(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disconnect_kills_daemon_children),
		cmocka_unit_test(test_disconnect_sigkill_after_grace),
		cmocka_unit_test(test_no_fd_leak_into_children),
		cmocka_unit_test(test_no_zombies),
		cmocka_unit_test(test_no_fd_leak_in_daemon),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_lifecycle", tests,
	    group_setup, group_teardown);
}
