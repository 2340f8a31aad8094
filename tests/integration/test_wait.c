/* test_wait.c: forkd_wait / forkd_wait_any: timeouts, children that already
 * ended, the first of several. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

static pid_t
spawn(struct forkd *f, const char *target, const char *const *argv,
    const char *name)
{
	struct forkd_spawn_opts	o;
	pid_t			pid = -1;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	o.name = name;
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	if (r != 0)
		fail_msg("forkd_spawn(%s): %d (%s) \"%s\"", target, r,
		    forkd_strerror(r), forkd_errmsg(f));
	return pid;
}

/* A wait that runs out: -ETIMEDOUT after about the timeout. */
static void
test_wait_timeout(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*sl[] = { "bench:sleep", "5", NULL };
	struct forkd_exit	 ev;
	int64_t			 t0, dt;
	pid_t			 pid;
	int			 r;

	pid = spawn(f, "bench:sleep", sl, NULL);
	t0 = harness_now_ms();
	r = forkd_wait(f, pid, NULL, 300, &ev);
	dt = harness_now_ms() - t0;
	if (r != -ETIMEDOUT)
		fail_msg("wait 300 ms on bench:sleep 5: %d (%s), expected "
		    "-ETIMEDOUT", r, forkd_strerror(r));
	if (dt < 250 || dt > 4000)
		fail_msg("wait with a 300 ms timeout took %lld ms",
		    (long long)dt);
	/* Poll (timeout 0): at once. */
	t0 = harness_now_ms();
	EXPECT_ERR(f, forkd_wait(f, pid, NULL, 0, &ev), -ETIMEDOUT);
	dt = harness_now_ms() - t0;
	if (dt > 1000)
		fail_msg("wait with timeout 0 took %lld ms", (long long)dt);
	/* The connection is fine afterwards, and the child still runs. */
	EXPECT_OK(f, forkd_ping(f));
	EXPECT_INT(harness_pid_state(pid), 1, "child running after the wait");
	EXPECT_OK(f, forkd_kill(f, pid));
	EXPECT_OK(f, forkd_wait(f, pid, NULL, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid");
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode after kill");
	forkd_close(f);
}

/* A wait for a running child returns when it ends. */
static void
test_wait_running(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*sl[] = { "bench:sleep", "0.3", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid;

	pid = spawn(f, "bench:sleep", sl, "waited-on");
	EXPECT_OK(f, forkd_wait(f, 0, "waited-on", FORKD_INFINITE, &ev));
	EXPECT_INT(ev.pid, pid, "pid from a wait by name");
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:sleep 0.3");
	EXPECT_STR(ev.name, "waited-on", "name");
	forkd_close(f);
}

/* A child that already ended is reported at once, by pid and by name,
 * also to another connection. */
static void
test_wait_exited(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd		*g = harness_connect(&H);
	const char		*ex[] = { "bench:exit", "42", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid;
	int64_t			 t0;

	pid = spawn(f, "bench:exit", ex, "already-gone");
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");

	t0 = harness_now_ms();
	EXPECT_OK(f, forkd_wait(f, pid, NULL, 5000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the wait reply");
	EXPECT_INT(ev.exitcode, 42, "exitcode of an ended child");
	if (harness_now_ms() - t0 > 1000)
		fail_msg("wait on an ended child took %lld ms",
		    (long long)(harness_now_ms() - t0));
	EXPECT_OK(f, forkd_wait(f, 0, "already-gone", 0, &ev));
	EXPECT_INT(ev.exitcode, 42, "exitcode by name, timeout 0");
	EXPECT_OK(g, forkd_wait(g, pid, NULL, 1000, &ev));
	EXPECT_INT(ev.exitcode, 42, "exitcode from another connection");
	forkd_close(g);
	forkd_close(f);
}

/* Unknown children: -ESRCH. */
static void
test_wait_unknown(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_exit	 ev;

	EXPECT_ERR(f, forkd_wait(f, getpid(), NULL, 1000, &ev), -ESRCH);
	EXPECT_ERR(f, forkd_wait(f, 0, "never-spawned", 1000, &ev), -ESRCH);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* wait_any over 3 returns the first to end. */
static void
test_wait_any(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*s01[] = { "bench:sleep", "0.1", NULL };
	const char		*s5[] = { "bench:sleep", "5", NULL };
	struct forkd_exit	 ev;
	pid_t			 pids[3];
	int64_t			 t0, dt;

	pids[0] = spawn(f, "bench:sleep", s5, NULL);
	pids[1] = spawn(f, "bench:sleep", s01, NULL);
	pids[2] = spawn(f, "bench:sleep", s5, NULL);
	t0 = harness_now_ms();
	EXPECT_OK(f, forkd_wait_any(f, pids, 3, 5000, &ev));
	dt = harness_now_ms() - t0;
	if (ev.pid != pids[1])
		fail_msg("wait_any returned pid %d (exitcode %d); the one that "
		    "ended first is %d (sleep 0.1)", (int)ev.pid, ev.exitcode,
		    (int)pids[1]);
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:sleep 0.1");
	if (dt > 3000)
		fail_msg("wait_any took %lld ms for a 0.1 s sleep",
		    (long long)dt);
	/* Again with a child that ended already: at once. */
	EXPECT_OK(f, forkd_wait_any(f, pids, 3, 0, &ev));
	EXPECT_INT(ev.pid, pids[1], "wait_any including an ended child");

	EXPECT_OK(f, forkd_kill(f, pids[0]));
	EXPECT_OK(f, forkd_kill(f, pids[2]));
	for (int i = 0; i < 3; i++)
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	/* Timeout over several running: -ETIMEDOUT. */
	pids[0] = spawn(f, "bench:sleep", s5, NULL);
	pids[1] = spawn(f, "bench:sleep", s5, NULL);
	EXPECT_ERR(f, forkd_wait_any(f, pids, 2, 200, &ev), -ETIMEDOUT);
	EXPECT_OK(f, forkd_kill(f, pids[0]));
	EXPECT_OK(f, forkd_kill(f, pids[1]));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	forkd_close(f);
}

/* Two connections waiting on the same child both get the answer. */
static void
test_wait_two_waiters(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd		*g = harness_connect(&H);
	const char		*sl[] = { "bench:sleep", "0.5", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid;

	pid = spawn(f, "bench:sleep", sl, NULL);
	/* g waits in the daemon while f waits too; calls are synchronous,
	 * so g's wait is started by a forked helper connection. */
	{
		pid_t	helper = fork();
		int	st;

		assert_true(helper >= 0);
		if (helper == 0) {
			struct forkd_exit e2;

			_exit(forkd_wait(g, pid, NULL, 10000, &e2) == 0 &&
			    e2.exitcode == 0 ? 0 : 1);
		}
		EXPECT_OK(f, forkd_wait(f, pid, NULL, 10000, &ev));
		EXPECT_INT(ev.exitcode, 0, "exitcode for the first waiter");
		assert_int_equal(waitpid(helper, &st, 0), helper);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fail_msg("second waiter on another connection: status "
			    "%#x", st);
	}
	forkd_close(g);
	forkd_close(f);
}

/* A connection that goes away while its wait is pending: forkd drops the
 * wait and keeps serving when the child ends later. */
static void
test_waiter_disconnects(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*sl[] = { "bench:sleep", "30", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid, helper;
	int			 st;

	pid = spawn(f, "bench:sleep", sl, NULL);
	for (int i = 0; i < 3; i++) {
		helper = fork();
		assert_true(helper >= 0);
		if (helper == 0) {
			struct forkd *g = NULL;

			if (forkd_connect(&g, H.h_sock, H.h_key) != 0)
				_exit(1);
			_exit(forkd_wait(g, pid, NULL, i == 0 ?
			    FORKD_INFINITE : 60000, &ev) == 0 ? 2 : 3);
		}
		harness_sleep_ms(200);
		kill(helper, SIGKILL);
		waitpid(helper, &st, 0);
		if (!WIFSIGNALED(st))
			fail_msg("waiting helper ended by itself (status %#x) "
			    "before it was killed", st);
	}
	harness_sleep_ms(100);
	EXPECT_OK(f, forkd_ping(f));
	EXPECT_OK(f, forkd_kill(f, pid));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode");
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
		cmocka_unit_test(test_wait_timeout),
		cmocka_unit_test(test_wait_running),
		cmocka_unit_test(test_wait_exited),
		cmocka_unit_test(test_wait_unknown),
		cmocka_unit_test(test_wait_any),
		cmocka_unit_test(test_wait_two_waiters),
		cmocka_unit_test(test_waiter_disconnects),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_wait", tests,
	    group_setup, group_teardown);
}
