/* test_children.c: children that end badly or oddly: crashes and aborts,
 * SIGKILL (or SIGSTOP) from outside forkd, grandchildren left behind,
 * children that never exit, idle pool children killed. forkd reports each exit once, with the right
 * code (-N for signal N), never hangs on what a child leaves behind, and
 * keeps reaping: a burst of 200 short children afterwards all report, and
 * no zombie is ever left among forkd's children.
 *
 * Exit statuses 0..255 of module entries and the SIGSEGV of testing:crash are
 * in test_exitcodes.c; here the exec path gets every status. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

/* Spawn target/argv (stdout to out_fd if >= 0); fails the test on error. */
static pid_t
spawn_out(struct forkd *f, const char *target, const char *const *argv,
    int out_fd)
{
	struct forkd_spawn_opts	o;
	pid_t			pid = -1;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	o.stdout_fd = out_fd;
	/* Core files, if any, land in the test's directory. */
	o.cwd = H.h_dir;
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	if (r != 0)
		fail_msg("forkd_spawn(%s): %d (%s) \"%s\"", target, r,
		    forkd_strerror(r), forkd_errmsg(f));
	return pid;
}

static pid_t
spawn(struct forkd *f, const char *target, const char *const *argv)
{
	return spawn_out(f, target, argv, -1);
}

/* The next exit event, which must be pid's; returns its exitcode. */
static int
exitcode_of(struct forkd *f, pid_t pid, const char *what)
{
	struct forkd_exit	ev;
	int			r;

	r = forkd_wait_exit_event(f, 10000 * harness_slow(), &ev);
	if (r != 0)
		fail_msg("%s (pid %d): no exit event within %d s: %d (%s); "
		    "process state %d (0 gone, 1 running, 2 zombie)", what,
		    (int)pid, 10 * harness_slow(), r, forkd_strerror(r),
		    harness_pid_state(pid));
	if (ev.pid != pid)
		fail_msg("%s: exit event for pid %d (exitcode %d), expected "
		    "pid %d", what, (int)ev.pid, ev.exitcode, (int)pid);
	return ev.exitcode;
}

/* No exit event arrives within ms. */
static void
expect_no_event(struct forkd *f, int ms, const char *what)
{
	struct forkd_exit	ev;
	int			r = forkd_wait_exit_event(f, ms, &ev);

	if (r != -ETIMEDOUT)
		fail_msg("%s: %s (pid %d exitcode %d)", what, r == 0 ?
		    "unexpected exit event" : forkd_strerror(r),
		    r == 0 ? (int)ev.pid : 0, r == 0 ? ev.exitcode : 0);
}

/* forkd has no zombie children (and, if none_left, no children). */
static void
expect_no_zombies(const char *what, int none_left)
{
	int all, zombies;

	harness_children(H.h_pid, &all, &zombies);
	if (zombies != 0 || (none_left && all != 0))
		fail_msg("%s: forkd has %d children, %d of them zombies", what,
		    all, zombies);
}

/* Deaths by signal, raised by the child itself: -N for signal N. */
static void
test_crashes(void **state)
{
	static const struct {
		const char	*target;
		const char	*cmd;		/* for /bin/sh -c */
		int		 code;
	} c[] = {
		{ "testing:crash", NULL, -SIGSEGV },
		{ "/bin/sh", "kill -ABRT $$", -SIGABRT },
		{ "/bin/sh", "kill -BUS $$", -SIGBUS },
		{ "/bin/sh", "kill -FPE $$", -SIGFPE },
		{ "/bin/sh", "kill -ILL $$", -SIGILL },
		{ "/bin/sh", "kill -QUIT $$", -SIGQUIT },
		{ "/bin/sh", "kill -TERM $$", -SIGTERM },
		{ "/bin/sh", "kill -KILL $$", -SIGKILL },
		{ "/bin/sh", "kill -USR2 $$", -SIGUSR2 },
	};
	struct forkd	*f = harness_connect(&H);
	pid_t		 pids[sizeof c / sizeof c[0]];
	char		 what[128];

	/* All at once, then the events in any order. */
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		const char *argv[] = { "sh", "-c", c[i].cmd, NULL };

		pids[i] = spawn(f, c[i].target, c[i].cmd ? argv : NULL);
	}
	for (size_t n = 0; n < sizeof c / sizeof c[0]; n++) {
		struct forkd_exit	ev;
		size_t			i;
		int			r;

		r = forkd_wait_exit_event(f, 10000 * harness_slow(), &ev);
		if (r != 0)
			fail_msg("only %zu of %zu crashing children reported: "
			    "%d (%s)", n, sizeof c / sizeof c[0], r,
			    forkd_strerror(r));
		for (i = 0; i < sizeof c / sizeof c[0] && pids[i] != ev.pid;
		    i++)
			;
		if (i == sizeof c / sizeof c[0])
			fail_msg("exit event for unknown pid %d", (int)ev.pid);
		snprintf(what, sizeof what, "exitcode of %s %s", c[i].target,
		    c[i].cmd ? c[i].cmd : "");
		EXPECT_INT(ev.exitcode, c[i].code, what);
		pids[i] = -1;
	}
	expect_no_event(f, 200, "after the crashes");
	expect_no_zombies("after the crashes", 1);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* Every exit status through the exec path: /bin/sh -c 'exit N'. Statuses
 * 129..255 stay positive (they are not deaths by signal). */
static void
test_exec_exit_statuses(void **state)
{
	struct forkd		*f = harness_connect(&H);
	static pid_t		 pids[256];
	static char		 cmds[256][16];
	int			 seen[256] = { 0 };
	struct forkd_exit	 ev;

	for (int i = 0; i < 256; i++) {
		const char *argv[] = { "sh", "-c", cmds[i], NULL };

		snprintf(cmds[i], sizeof cmds[i], "exit %d", i);
		pids[i] = spawn(f, "/bin/sh", argv);
	}
	for (int n = 0; n < 256; n++) {
		int r, i;

		r = forkd_wait_exit_event(f, 10000 * harness_slow(), &ev);
		if (r != 0)
			fail_msg("only %d of 256 exit events arrived: %d (%s)",
			    n, r, forkd_strerror(r));
		for (i = 0; i < 256 && pids[i] != ev.pid; i++)
			;
		if (i == 256)
			fail_msg("exit event for unknown pid %d", (int)ev.pid);
		if (seen[i]++)
			fail_msg("second exit event for pid %d (sh -c 'exit "
			    "%d')", (int)ev.pid, i);
		if (ev.exitcode != i)
			fail_msg("sh -c 'exit %d': exitcode %d", i,
			    ev.exitcode);
	}
	expect_no_event(f, 200, "after 256 exit events");
	expect_no_zombies("after 256 exec'd children", 1);
	forkd_close(f);
}

/* Signals from outside forkd, sent straight to the pid (as the OOM killer
 * or an admin would): -9 / -15; a stopped child is no exit; a killed
 * process group. */
static void
test_killed_from_outside(void **state)
{
	struct forkd	*f = harness_connect(&H);
	const char	*sl[] = { "bench:sleep", "1000", NULL };
	const char	*sl2[] = { "/bin/sleep", "1000", NULL };
	const char	*grp[] = { "sh", "-c",
	    "sleep 1000 & sleep 1000 & wait", NULL };
	pid_t		 pid;

	pid = spawn(f, "bench:sleep", sl);
	if (kill(pid, SIGKILL) != 0)
		fail_msg("kill %d: %s", (int)pid, strerror(errno));
	EXPECT_INT(exitcode_of(f, pid, "bench:sleep"), -SIGKILL,
	    "exitcode of bench:sleep after kill -9 from outside");

	pid = spawn(f, "/bin/sleep", sl2);
	harness_sleep_ms(50);	/* let it exec */
	kill(pid, SIGKILL);
	EXPECT_INT(exitcode_of(f, pid, "/bin/sleep"), -SIGKILL,
	    "exitcode of /bin/sleep after kill -9 from outside");

	pid = spawn(f, "bench:sleep", sl);
	kill(pid, SIGTERM);
	EXPECT_INT(exitcode_of(f, pid, "bench:sleep"), -SIGTERM,
	    "exitcode of bench:sleep after kill -15 from outside");

	/* Stopped and continued: not an exit. */
	pid = spawn(f, "bench:sleep", sl);
	kill(pid, SIGSTOP);
	expect_no_event(f, 300, "a child stopped by SIGSTOP");
	EXPECT_OK(f, forkd_signal(f, pid, NULL, 0));
	kill(pid, SIGCONT);
	expect_no_event(f, 300, "a child continued by SIGCONT");
	kill(pid, SIGSTOP);
	kill(pid, SIGKILL);
	EXPECT_INT(exitcode_of(f, pid, "stopped bench:sleep"), -SIGKILL,
	    "exitcode of a stopped child after kill -9");

	/* The child's whole process group (it is a session leader). */
	pid = spawn(f, "/bin/sh", grp);
	harness_sleep_ms(100);
	if (kill(-pid, SIGKILL) != 0)
		fail_msg("kill -9 -%d: %s", (int)pid, strerror(errno));
	EXPECT_INT(exitcode_of(f, pid, "sh with two sleeps"), -SIGKILL,
	    "exitcode of a shell whose process group got kill -9");

	expect_no_event(f, 200, "after the outside kills");
	expect_no_zombies("after the outside kills", 1);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* ppid of pid from /proc, or -1. */
static pid_t
ppid_of(pid_t pid)
{
	char	path[64], buf[512], *p;
	int	fd, ppid;
	ssize_t	n;
	char	st;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %d", &st, &ppid) != 2)
		return -1;
	return ppid;
}

/* Read one line (a pid) from fd. */
static pid_t
read_pid_line(int fd)
{
	char	buf[64];
	size_t	n = 0;

	for (int64_t end = harness_now_ms() + 10000 * harness_slow();
	    n < sizeof buf - 1 && harness_now_ms() < end;) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		r;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((r = read(fd, buf + n, 1)) <= 0)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

/* Spawn sh (its argv) on d with the daemon flag, stdout on a pipe; the
 * grandchild's pid, which sh prints first. */
static pid_t
spawn_daemon_sh(struct forkd *d, const char **sh, pid_t *ret_pid)
{
	struct forkd_spawn_opts	o;
	pid_t			g;
	int			pq[2];

	harness_pipe(pq);
	forkd_spawn_opts_init(&o);
	o.target = "/bin/sh";
	o.argv = sh;
	o.stdout_fd = pq[1];
	o.daemon = 1;
	EXPECT_OK(d, forkd_spawn(d, &o, ret_pid, NULL, 0));
	close(pq[1]);
	g = read_pid_line(pq[0]);
	close(pq[0]);
	return g;
}

/* A child that forks a grandchild and exits: exit event 0 at once, even
 * though the grandchild lives on holding the child's stdout; the
 * grandchild is not forkd's child and forkd does not wait for it. */
static void
test_grandchildren(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*sh[] = { "sh", "-c",
	    "sleep 30 & echo $!; exit 0", NULL };
	pid_t			 pid, g[2];
	int64_t			 t0;
	int			 pp[2], all, z;

	harness_pipe(pp);
	t0 = harness_now_ms();
	pid = spawn_out(f, "/bin/sh", sh, pp[1]);
	close(pp[1]);
	g[0] = read_pid_line(pp[0]);
	if (g[0] <= 0)
		fail_msg("no grandchild pid from sh -c 'sleep 30 & echo $!'");
	EXPECT_INT(exitcode_of(f, pid, "sh leaving a grandchild"), 0,
	    "exitcode of sh -c 'sleep 30 & exit 0'");
	if (harness_now_ms() - t0 > 3000 * harness_slow())
		fail_msg("the exit event of a child leaving a grandchild came "
		    "%lld ms after the spawn", (long long)(harness_now_ms() -
		    t0));
	EXPECT_INT(harness_pid_state(g[0]), 1, "grandchild state (1 = "
	    "running)");
	if (ppid_of(g[0]) == H.h_pid)
		fail_msg("grandchild %d has forkd (%d) as its parent",
		    (int)g[0], (int)H.h_pid);

	/* The same from a daemon-flag child on a connection that closes. */
	{
		struct forkd	*d = harness_connect(&H);

		g[1] = spawn_daemon_sh(d, sh, &pid);
		EXPECT_INT(exitcode_of(d, pid, "daemon-flag sh"), 0,
		    "exitcode of a daemon-flag sh leaving a grandchild");
		forkd_close(d);
	}

	/* forkd is not blocked by either and has no child left. */
	harness_sleep_ms(100);
	EXPECT_OK(f, forkd_ping(f));
	harness_children(H.h_pid, &all, &z);
	if (all != 0)
		fail_msg("forkd has %d children (%d zombies) after two "
		    "children exited leaving grandchildren", all, z);
	for (int i = 0; i < 2; i++)
		if (g[i] > 0 && harness_pid_state(g[i]) == 1)
			kill(g[i], SIGKILL);
	close(pp[0]);
	expect_no_event(f, 200, "after the grandchildren were killed");
	forkd_close(f);
}

/* A daemon-flag child that is still running when its connection closes
 * is terminated with what it started: forkd signals its process group
 * (as a timeout does), so its background grandchild goes too. */
static void
test_daemon_child_group(void **state)
{
	struct forkd		*d = harness_connect(&H), *f;
	const char		*sh[] = { "sh", "-c",
	    "sleep 30 & echo $!; wait", NULL };
	pid_t			 pid, g;

	g = spawn_daemon_sh(d, sh, &pid);
	if (g <= 0)
		fail_msg("no grandchild pid from sh -c 'sleep 30 & echo $!'");
	EXPECT_INT(harness_pid_state(g), 1, "grandchild state before the "
	    "close (1 = running)");
	forkd_close(d);
	for (int64_t end = harness_now_ms() + 5000 * harness_slow();
	    harness_pid_state(g) == 1 && harness_now_ms() < end;)
		harness_sleep_ms(20);
	if (harness_pid_state(g) == 1) {
		kill(g, SIGKILL);
		fail_msg("the background sleep of a daemon-flag sh still runs "
		    "5 s after its connection closed");
	}
	f = harness_connect(&H);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* Children that never exit by themselves: they run, are listed, a wait
 * times out, and they end only when killed at the end. */
static void
test_never_exit(void **state)
{
	struct forkd		*f = harness_connect(&H);
	const char		*sl[] = { "bench:sleep", "1000", NULL };
	const char		*sl2[] = { "/bin/sleep", "1000", NULL };
	const char		*stub[] = { "sh", "-c",
	    "trap '' TERM INT HUP; while :; do sleep 1; done", NULL };
	struct forkd_child	*v = NULL;
	struct forkd_exit	 ev;
	pid_t			 pid[3];
	size_t			 n = 0, listed = 0;

	pid[0] = spawn(f, "bench:sleep", sl);
	pid[1] = spawn(f, "/bin/sleep", sl2);
	pid[2] = spawn(f, "/bin/sh", stub);
	harness_sleep_ms(300);
	EXPECT_ERR(f, forkd_wait_any(f, pid, 3, 300, &ev), -ETIMEDOUT);
	EXPECT_OK(f, forkd_list(f, &v, &n));
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 3; k++)
			if (v[i].pid == pid[k])
				listed++;
	free(v);
	EXPECT_INT(listed, 3, "children that never exit, listed by forkd");
	for (int k = 0; k < 3; k++)
		EXPECT_INT(harness_pid_state(pid[k]), 1, "state of a child "
		    "that never exits (1 = running)");

	/* SIGTERM ends two; the third ignores it. */
	for (int k = 0; k < 3; k++)
		EXPECT_OK(f, forkd_terminate(f, pid[k]));
	/* Their two events, in either order. */
	for (int k = 0; k < 2; k++) {
		int r = forkd_wait_exit_event(f, 10000 * harness_slow(), &ev);

		if (r != 0)
			fail_msg("%d of 2 exit events after SIGTERM to "
			    "bench:sleep and /bin/sleep: %d (%s)", k, r,
			    forkd_strerror(r));
		if (ev.pid != pid[0] && ev.pid != pid[1])
			fail_msg("exit event for pid %d (exitcode %d), "
			    "expected %d or %d", (int)ev.pid, ev.exitcode,
			    (int)pid[0], (int)pid[1]);
		EXPECT_INT(ev.exitcode, -SIGTERM, ev.pid == pid[0] ?
		    "exitcode of bench:sleep 1000 after SIGTERM" :
		    "exitcode of /bin/sleep 1000 after SIGTERM");
		pid[ev.pid == pid[0] ? 0 : 1] = -1;
	}
	expect_no_event(f, 300, "a child ignoring SIGTERM");
	EXPECT_OK(f, forkd_kill(f, pid[2]));
	EXPECT_INT(exitcode_of(f, pid[2], "sh ignoring SIGTERM"), -SIGKILL,
	    "exitcode of the sh ignoring SIGTERM after SIGKILL");
	expect_no_zombies("after the never-exiting children", 1);
	forkd_close(f);
}

/* After all that, a burst of 200 short children (module entries and
 * exec'd shells, spawned from 4 connections in turn) all report, each
 * once, to its own connection. */
static void
test_burst_after(void **state)
{
	enum { N = 200, NC = 4 };
	struct forkd		*f[NC];
	static pid_t		 pids[N];
	static char		 codes[N][8];
	static char		 cmds[N][16];
	int			 seen[N] = { 0 };
	struct forkd_exit	 ev;

	for (int c = 0; c < NC; c++)
		f[c] = harness_connect(&H);
	for (int i = 0; i < N; i++) {
		const char *ex[] = { "bench:exit", codes[i], NULL };
		const char *sh[] = { "sh", "-c", cmds[i], NULL };

		snprintf(codes[i], sizeof codes[i], "%d", i % 256);
		snprintf(cmds[i], sizeof cmds[i], "exit %d", i % 256);
		pids[i] = i % 4 == 3 ? spawn(f[i % NC], "/bin/sh", sh) :
		    spawn(f[i % NC], "bench:exit", ex);
	}
	for (int c = 0; c < NC; c++) {
		for (int n = 0; n < N / NC; n++) {
			int r = forkd_wait_exit_event(f[c], 10000 *
			    harness_slow(), &ev), i;

			if (r != 0)
				fail_msg("connection %d: %d of %d exit events, "
				    "then %d (%s)", c, n, N / NC, r,
				    forkd_strerror(r));
			for (i = 0; i < N && pids[i] != ev.pid; i++)
				;
			if (i == N)
				fail_msg("exit event for unknown pid %d",
				    (int)ev.pid);
			if (i % NC != c)
				fail_msg("exit event of pid %d (spawned on "
				    "connection %d) came to connection %d",
				    (int)ev.pid, i % NC, c);
			if (seen[i]++)
				fail_msg("second exit event for pid %d",
				    (int)ev.pid);
			if (ev.exitcode != i % 256)
				fail_msg("child %d (%s %d): exitcode %d", i,
				    i % 4 == 3 ? "sh -c exit" : "bench:exit",
				    i % 256, ev.exitcode);
		}
		expect_no_event(f[c], 100, "after the burst");
	}
	expect_no_zombies("after the burst of 200", 1);
	for (int c = 0; c < NC; c++)
		forkd_close(f[c]);
}

/* Live children of forkd named comm ("forkd-pool\n", with the newline
 * /proc gives). */
static int
children_named(const char *comm_nl, pid_t *out, int max)
{
	return harness_children_named(H.h_pid, comm_nl, out, max);
}

/* Idle pre-forked pool children of forkd (comm "forkd-pool"). */
static int
pool_children(pid_t *out, int max)
{
	return children_named("forkd-pool\n", out, max);
}

/* The OOM killer may well pick forkd's idle pre-forked children (they
 * share its big state): kill -9 every idle pool child, then spawn at
 * once, ten times over. A spawn racing with the kills may land on a
 * pool child that is already dying: it then fails with an error reply
 * (-ECHILD: died before its target started), never reports a child that
 * "ran" and died of the -9 meant for the idle one; it must not hang, and
 * forkd must not lose track. Once the killed pool children are reaped, every
 * spawn runs its target; nothing is left behind and the pool refills.
 * (Without a pool this is just the spawns.) */
static void
test_pool_children_killed(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*ex[] = { "bench:exit", "7", NULL };
	const char		*sh[] = { "sh", "-c", "exit 9", NULL };
	pid_t			 pool[64], pid;
	int			 killed = 0, lost = 0, refused = 0, r, code;

	for (int round = 0; round < 10; round++) {
		int n = pool_children(pool, 64);

		for (int i = 0; i < n; i++)
			if (kill(pool[i], SIGKILL) == 0)
				killed++;
		/* Right away: may race with the dying pool children. */
		forkd_spawn_opts_init(&o);
		o.target = round % 2 ? "/bin/sh" : "bench:exit";
		o.argv = round % 2 ? sh : ex;
		r = forkd_spawn(f, &o, &pid, NULL, 0);
		if (r == -ECONNRESET || r == -ETIMEDOUT ||
		    (r != 0 && forkd_errmsg(f)[0] == '\0'))
			fail_msg("spawn of %s right after kill -9 of the idle "
			    "pool children: %d (%s) \"%s\"", o.target, r,
			    forkd_strerror(r), forkd_errmsg(f));
		if (r != 0)
			refused++;
		else if ((code = exitcode_of(f, pid, o.target)) == -SIGKILL)
			lost++;
		else
			EXPECT_INT(code, round % 2 ? 9 : 7, "exitcode of a "
			    "spawn right after the idle pool children got "
			    "kill -9");
		/* Once forkd has reaped them, no dead pool child is used. */
		harness_sleep_ms(200);
		pid = spawn(f, "bench:exit", ex);
		EXPECT_INT(exitcode_of(f, pid, "bench:exit 7"), 7,
		    "exitcode of bench:exit 7 spawned 200 ms after the idle "
		    "pool children got kill -9");
		pid = spawn(f, "/bin/sh", sh);
		EXPECT_INT(exitcode_of(f, pid, "sh -c 'exit 9'"), 9,
		    "exitcode of sh -c 'exit 9' spawned 200 ms after the idle "
		    "pool children got kill -9");
	}
	if (lost > 0)
		fail_msg("%d of 10 spawns racing with kill -9 of the idle pool "
		    "children were reported started, then exit -9, without "
		    "running their target", lost);
	if (refused > 0)
		print_message("note: %d of 10 spawns racing with kill -9 of "
		    "the idle pool children got an error reply\n", refused);
	expect_no_event(f, 200, "after the pool kills");
	/* The killed pool children were reaped, not left as zombies. */
	expect_no_zombies("after killing pool children", 1);
	if (getenv("FORKD_TEST_POOL") == NULL ||
	    strcmp(getenv("FORKD_TEST_POOL"), "0") != 0) {
		int n = 0;

		/* The pool was on (default 4): there was something to kill,
		 * and forkd refills it (back-off at most 5 s). */
		if (killed == 0)
			fail_msg("no idle forkd-pool child found to kill in 10 "
			    "rounds, with the pool on");
		for (int64_t end = harness_now_ms() + 10000 * harness_slow();
		    (n = pool_children(pool, 64)) == 0 &&
		    harness_now_ms() < end;)
			harness_sleep_ms(50);
		if (n == 0)
			fail_msg("the pool was not refilled within 10 s after "
			    "%d idle pool children were killed", killed);
	}
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

static unsigned long long	start_time_of(pid_t);

/* Idle pool children stopped from outside (SIGSTOP): a spawn handed to
 * one must not hang its client. forkd gives the set-up 10 s, then kills
 * the child and fails the spawn with -ETIMEDOUT, and starts the pool
 * afresh, so the next spawn runs at once. (Without a pool: skipped.) */
static void
test_pool_children_stopped(void **state)
{
	struct forkd		*f;
	struct forkd_spawn_opts	 o;
	const char		*ex[] = { "bench:exit", "7", NULL };
	pid_t			 pool[64], pid;
	unsigned long long	 born[64];
	int64_t			 t0, took, gone_by;
	int			 n, r;

	if (getenv("FORKD_TEST_POOL") != NULL &&
	    strcmp(getenv("FORKD_TEST_POOL"), "0") == 0) {
		print_message("SKIP: forkd runs without a pool here\n");
		skip();
	}
	f = harness_connect(&H);
	/* A full pool: wait for the zygote to make it. */
	for (int64_t end = harness_now_ms() + 5000 * harness_slow();
	    (n = pool_children(pool, 64)) < 2 && harness_now_ms() < end;)
		harness_sleep_ms(50);
	if (n == 0)
		fail_msg("no idle pool child to stop");
	for (int i = 0; i < n; i++) {
		born[i] = start_time_of(pool[i]);
		kill(pool[i], SIGSTOP);
	}
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = ex;
	t0 = harness_now_ms();
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	took = harness_now_ms() - t0;
	if (r == 0)
		EXPECT_INT(exitcode_of(f, pid, "bench:exit 7"), 7,
		    "a spawn while the idle pool children are stopped");
	else if (r != -ETIMEDOUT || strstr(forkd_errmsg(f), "set-up") == NULL)
		fail_msg("spawn handed to a stopped pool child: %d (%s) \"%s\", "
		    "expected -ETIMEDOUT naming the set-up", r,
		    forkd_strerror(r), forkd_errmsg(f));
	else if (took < 9000 || took > 20000 * harness_slow())
		fail_msg("-ETIMEDOUT after %lld ms, expected about 10 s",
		    (long long)took);
	/* The pool was started afresh: the next spawn runs now. */
	t0 = harness_now_ms();
	pid = spawn(f, "bench:exit", ex);
	EXPECT_INT(exitcode_of(f, pid, "bench:exit 7"), 7,
	    "the spawn after the stopped pool children");
	if ((took = harness_now_ms() - t0) > 5000 * harness_slow())
		fail_msg("the spawn after the stopped pool children took %lld "
		    "ms", (long long)took);
	/* Nothing stopped is left behind: forkd killed them and reaped
	 * them. kill() only queues the SIGKILL: a stopped child it wakes
	 * shows 'R' until the scheduler runs it to its exit (then forkd
	 * reaps it), which under load can be after the next spawn's reply.
	 * So wait up to 5 s for each to be gone: one forkd did not kill
	 * stays stopped, alive, for good. A pid that now names another
	 * process (start time differs) is gone. */
	gone_by = harness_now_ms() + 5000 * harness_slow();
	for (int i = 0; i < n; i++) {
		int st;

		while ((st = harness_pid_state(pool[i])) != 0 &&
		    start_time_of(pool[i]) == born[i] &&
		    harness_now_ms() < gone_by)
			harness_sleep_ms(20);
		if (st == 0 || start_time_of(pool[i]) != born[i])
			continue;
		if (st == 1) {
			kill(pool[i], SIGCONT);
			fail_msg("stopped idle pool child %d still alive 5 s "
			    "after the flush", (int)pool[i]);
		}
		fail_msg("stopped idle pool child %d killed but not reaped "
		    "5 s after the flush", (int)pool[i]);
	}
	expect_no_zombies("after the stopped pool children", 1);
	forkd_close(f);
}

/* Start time of pid (field 22 of /proc/PID/stat, clock ticks), 0 if gone. */
static unsigned long long
start_time_of(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 v = 0;
	ssize_t			 n;
	int			 fd, field = 2;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (p++; *p != '\0' && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		v = strtoull(p, NULL, 10);
	return v;
}

/* forkd's zygote stopped from outside (SIGSTOP): spawns must go on (forkd
 * forks them itself), and once the zygote has not answered for 2 s forkd
 * gives it up and kills it. (No pool, or no zygote as under ASan:
 * skipped.) */
static void
test_zygote_stopped(void **state)
{
	struct forkd	*f;
	const char	*ex[] = { "bench:exit", "7", NULL };
	pid_t		 zygote = 0, pid, named[16];
	unsigned long long zstart = 0;
	int64_t		 end;
	int		 n;

	if (getenv("FORKD_TEST_POOL") != NULL &&
	    strcmp(getenv("FORKD_TEST_POOL"), "0") == 0) {
		print_message("SKIP: forkd runs without a pool here\n");
		skip();
	}
	/* A pool child the zygote has just made still bears its name for a
	 * moment: the zygote is the oldest process so named. */
	n = children_named("forkd-zygote\n", named, 16);
	for (int i = 0; i < n; i++) {
		unsigned long long st = start_time_of(named[i]);

		if (zygote == 0 || st < zstart) {
			zygote = named[i];
			zstart = st;
		}
	}
	if (zygote == 0) {
		print_message("SKIP: forkd has no zygote here (sanitizer "
		    "build or no clone3)\n");
		skip();
	}
	f = harness_connect(&H);
	kill(zygote, SIGSTOP);
	/* Use up the pool and go on for well over 2 s. */
	end = harness_now_ms() + 3000;
	for (int i = 0; i < 12 || harness_now_ms() < end; i++) {
		pid = spawn(f, "bench:exit", ex);
		EXPECT_INT(exitcode_of(f, pid, "bench:exit 7"), 7,
		    "a spawn while forkd's zygote is stopped");
		harness_sleep_ms(100);
	}
	for (end = harness_now_ms() + 5000 * harness_slow();
	    harness_pid_state(zygote) == 1 && harness_now_ms() < end;)
		harness_sleep_ms(50);
	if (harness_pid_state(zygote) == 1) {
		kill(zygote, SIGCONT);
		fail_msg("forkd did not give up its stopped zygote %d",
		    (int)zygote);
	}
	expect_no_zombies("after the stopped zygote", 1);
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
		cmocka_unit_test(test_crashes),
		cmocka_unit_test(test_exec_exit_statuses),
		cmocka_unit_test(test_killed_from_outside),
		cmocka_unit_test(test_grandchildren),
		cmocka_unit_test(test_daemon_child_group),
		cmocka_unit_test(test_never_exit),
		cmocka_unit_test(test_pool_children_killed),
		cmocka_unit_test(test_pool_children_stopped),
		cmocka_unit_test(test_zygote_stopped),
		cmocka_unit_test(test_burst_after),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_children", tests,
	    group_setup, group_teardown);
}
