/* test_exitcodes.c: exit codes as clients see them: exit status, or -N for
 * death by signal N. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

/* Spawn target with argv; fails the test on error. */
static pid_t
spawn(struct forkd *f, const char *target, const char *const *argv)
{
	struct forkd_spawn_opts	o;
	pid_t			pid = -1;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	if (r != 0)
		fail_msg("forkd_spawn(%s): %d (%s) \"%s\"", target, r,
		    forkd_strerror(r), forkd_errmsg(f));
	return pid;
}

/* Next exit event, which must be pid's. */
static int
exitcode_of(struct forkd *f, pid_t pid)
{
	struct forkd_exit	ev;
	int			r;

	r = forkd_wait_exit_event(f, 10000, &ev);
	if (r != 0) {
		char	path[64], buf[4096] = "", *p, line[512] = "";
		FILE	*fp;

		/* Say what the child is doing: state and signal masks. */
		snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
		if ((fp = fopen(path, "r")) != NULL) {
			while (fgets(line, sizeof line, fp) != NULL)
				if (strncmp(line, "State", 5) == 0 ||
				    strncmp(line, "Sig", 3) == 0 ||
				    strncmp(line, "ShdPnd", 6) == 0 ||
				    strncmp(line, "PPid", 4) == 0 ||
				    strncmp(line, "Name", 4) == 0)
					strncat(buf, line, sizeof buf -
					    strlen(buf) - 1);
			fclose(fp);
		} else
			snprintf(buf, sizeof buf, "(no such process)");
		for (p = buf; *p != '\0'; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		fail_msg("no exit event for pid %d within 10 s: %d (%s); the "
		    "process: %s", (int)pid, r, forkd_strerror(r), buf);
	}
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	return ev.exitcode;
}

/* testing:crash dies by SIGSEGV: -11. */
static void
test_crash(void **state)
{
	struct forkd	*f = harness_connect(&H);
	pid_t		 pid = spawn(f, "testing:crash", NULL);

	EXPECT_INT(exitcode_of(f, pid), -SIGSEGV, "exitcode of testing:crash");
	forkd_close(f);
}

/* forkd_kill: -9; forkd_terminate: -15; other signals by number. */
static void
test_signals(void **state)
{
	struct forkd	*f = harness_connect(&H);
	const char	*sl[] = { "bench:sleep", "30", NULL };
	pid_t		 pid;

	pid = spawn(f, "bench:sleep", sl);
	EXPECT_OK(f, forkd_kill(f, pid));
	EXPECT_INT(exitcode_of(f, pid), -SIGKILL, "exitcode after forkd_kill");

	pid = spawn(f, "bench:sleep", sl);
	EXPECT_OK(f, forkd_terminate(f, pid));
	EXPECT_INT(exitcode_of(f, pid), -SIGTERM,
	    "exitcode after forkd_terminate");

	pid = spawn(f, "bench:sleep", sl);
	EXPECT_OK(f, forkd_signal(f, pid, NULL, SIGUSR1));
	EXPECT_INT(exitcode_of(f, pid), -SIGUSR1, "exitcode after SIGUSR1");

	/* An exec'd child too, and signal 0 only probes. */
	{
		const char *sl2[] = { "/bin/sleep", "30", NULL };

		pid = spawn(f, "/bin/sleep", sl2);
		EXPECT_OK(f, forkd_signal(f, pid, NULL, 0));
		EXPECT_OK(f, forkd_signal(f, pid, NULL, SIGINT));
		EXPECT_INT(exitcode_of(f, pid), -SIGINT,
		    "exitcode of /bin/sleep after SIGINT");
	}

	/* Bad signal numbers and unknown children. */
	pid = spawn(f, "bench:sleep", sl);
	EXPECT_ERR(f, forkd_signal(f, pid, NULL, 65), -EINVAL);
	EXPECT_ERR(f, forkd_signal(f, pid, NULL, -1), -EINVAL);
	EXPECT_OK(f, forkd_kill(f, pid));
	EXPECT_INT(exitcode_of(f, pid), -SIGKILL, "exitcode");
	EXPECT_ERR(f, forkd_kill(f, pid), -ESRCH);
	EXPECT_ERR(f, forkd_signal(f, 0, "no-such-child", SIGTERM), -ESRCH);
	/* A process that is not forkd's child cannot be signalled. */
	EXPECT_ERR(f, forkd_kill(f, getpid()), -ESRCH);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* Every exit status 0..255 comes back unchanged. */
static void
test_all_codes(void **state)
{
	struct forkd		*f = harness_connect(&H);
	pid_t			 pids[256];
	int			 seen[256] = { 0 };
	struct forkd_exit	 ev;
	char			 code[8];
	const char		*argv[] = { "bench:exit", code, NULL };

	for (int i = 0; i < 256; i++) {
		snprintf(code, sizeof code, "%d", i);
		pids[i] = spawn(f, "bench:exit", argv);
	}
	for (int n = 0; n < 256; n++) {
		int r = forkd_wait_exit_event(f, 10000, &ev), i;

		if (r != 0)
			fail_msg("only %d of 256 exit events arrived: %d (%s)",
			    n, r, forkd_strerror(r));
		for (i = 0; i < 256 && pids[i] != ev.pid; i++)
			;
		if (i == 256)
			fail_msg("exit event for unknown pid %d", (int)ev.pid);
		if (seen[i]++)
			fail_msg("second exit event for pid %d (code %d)",
			    (int)ev.pid, i);
		if (ev.exitcode != i)
			fail_msg("bench:exit %d: exitcode %d", i, ev.exitcode);
	}
	EXPECT_ERR(f, forkd_wait_exit_event(f, 200, &ev), -ETIMEDOUT);
	forkd_close(f);
}

/* Exec'd exit codes and an exec'd process killed by a signal. */
static void
test_exec_codes(void **state)
{
	struct forkd	*f = harness_connect(&H);
	const char	*a[] = { "/bin/sh", "-c", "exit 255", NULL };
	const char	*b[] = { "/bin/sh", "-c", "kill -SEGV $$", NULL };
	pid_t		 pid;

	pid = spawn(f, "/bin/sh", a);
	EXPECT_INT(exitcode_of(f, pid), 255, "sh -c 'exit 255'");
	pid = spawn(f, "/bin/sh", b);
	EXPECT_INT(exitcode_of(f, pid), -SIGSEGV, "sh killing itself by SEGV");
	forkd_close(f);
}

/* rusage comes with the exit event. */
static void
test_rusage(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*sh[] = { "/bin/sh", "-c",
	    "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid;

	pid = spawn(f, "/bin/sh", sh);
	EXPECT_OK(f, forkd_wait_exit_event(f, 30000, &ev));
	EXPECT_INT(ev.pid, pid, "pid");
	EXPECT_INT(ev.exitcode, 0, "exitcode of the busy loop");
	if (ev.rusage.utime_us + ev.rusage.stime_us == 0)
		fail_msg("busy child reports 0 us of CPU time");
	if (ev.rusage.maxrss_kb == 0)
		fail_msg("child reports maxrss 0 kB");
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
		cmocka_unit_test(test_crash),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_all_codes),
		cmocka_unit_test(test_exec_codes),
		cmocka_unit_test(test_rusage),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_exitcodes", tests,
	    group_setup, group_teardown);
}
