/* test_spawn.c: spawning entries and executables, stdio, env, cwd, names,
 * list and status, against a real forkd. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

/* Spawn target with argv (NULL-terminated list after target). */
static pid_t
spawn_argv(struct forkd *f, struct forkd_spawn_opts *o, char *name,
    size_t namelen)
{
	pid_t	pid = -1;
	int	r;

	r = forkd_spawn(f, o, &pid, name, namelen);
	if (r != 0)
		fail_msg("forkd_spawn(%s): %d (%s), errmsg \"%s\"", o->target,
		    r, forkd_strerror(r), forkd_errmsg(f));
	if (pid <= 0)
		fail_msg("forkd_spawn(%s): pid %d", o->target, (int)pid);
	return pid;
}

/* Wait for the exit event of pid (the only child of f running). */
static struct forkd_exit
exit_event(struct forkd *f, pid_t pid)
{
	struct forkd_exit	ev;
	int			r;

	memset(&ev, 0, sizeof ev);
	r = forkd_wait_exit_event(f, 10000, &ev);
	if (r != 0)
		fail_msg("no exit event for pid %d within 10 s: %d (%s) \"%s\"",
		    (int)pid, r, forkd_strerror(r), forkd_errmsg(f));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	return ev;
}

/* Does s match the extended regex re? */
static int
matches(const char *s, const char *re)
{
	regex_t	rx;
	int	r;

	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	r = regexec(&rx, s, 0, NULL, 0);
	regfree(&rx);
	return r == 0;
}

/* bench:exit 7 -> pushed exit event with exitcode 7. */
static void
test_spawn_entry_exit_event(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*argv[] = { "bench:exit", "7", NULL };
	struct forkd_exit	 ev;
	char			 name[FORKD_NAME_MAX + 1];
	pid_t			 pid;

	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	pid = spawn_argv(f, &o, name, sizeof name);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 7, "exitcode of bench:exit 7");
	EXPECT_STR(ev.name, name, "name in the exit event");
	/* Exactly once: no second event for it. */
	EXPECT_ERR(f, forkd_wait_exit_event(f, 300, &ev), -ETIMEDOUT);
	EXPECT_ERR(f, forkd_next_exit(f, &ev), -EAGAIN);
	forkd_close(f);
}

/* Events queue up while other calls run; forkd_process + next_exit. */
static void
test_exit_event_queued(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*argv[] = { "bench:exit", "3", NULL };
	struct forkd_exit	 ev;
	pid_t			 pid;
	int			 n = 0;

	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	pid = spawn_argv(f, &o, NULL, 0);
	/* Poll with forkd_process() for up to 10 s. */
	for (int64_t end = harness_now_ms() + 10000; n == 0 &&
	    harness_now_ms() < end;) {
		int r = forkd_process(f);

		if (r < 0)
			fail_msg("forkd_process: %d (%s)", r, forkd_strerror(r));
		n = r;
		if (n == 0)
			harness_sleep_ms(5);
	}
	EXPECT_INT(n, 1, "exit events queued by forkd_process");
	EXPECT_OK(f, forkd_next_exit(f, &ev));
	EXPECT_INT(ev.pid, pid, "pid");
	EXPECT_INT(ev.exitcode, 3, "exitcode");
	EXPECT_ERR(f, forkd_next_exit(f, &ev), -EAGAIN);

	/* An event arriving during a ping is kept for later. */
	pid = spawn_argv(f, &o, NULL, 0);
	{
		/* The event is on the socket, unread, when the ping goes. */
		struct pollfd pfd = { .fd = forkd_fd(f), .events = POLLIN };

		if (poll(&pfd, 1, 10000 * harness_slow()) != 1)
			fail_msg("no exit event within 10 s of bench:exit 3");
	}
	EXPECT_OK(f, forkd_ping(f));
	EXPECT_OK(f, forkd_next_exit(f, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the event queued during a ping");
	forkd_close(f);
}

/* /bin/sh -c 'exit 3' -> 3. */
static void
test_spawn_exec(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	char			 name[FORKD_NAME_MAX + 1];
	struct forkd_exit	 ev;
	pid_t			 pid;

	forkd_spawn_opts_init(&o);
	o.target = "/bin/sh";
	o.argv = argv;
	pid = spawn_argv(f, &o, name, sizeof name);
	if (!matches(name, "^sh-[0-9]+$"))
		fail_msg("exec of /bin/sh named \"%s\", expected sh-N", name);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 3, "exitcode of sh -c 'exit 3'");

	/* Without argv: argv is { target }. */
	o.argv = NULL;
	o.target = "/bin/true";
	pid = spawn_argv(f, &o, NULL, 0);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 0, "exitcode of /bin/true");
	forkd_close(f);
}

/* Run o with stdout a pipe; its output, once it exited 0. */
static const char *
run_output(struct forkd *f, struct forkd_spawn_opts *o)
{
	static char		out[65536];
	struct forkd_exit	ev;
	int			pp[2];
	pid_t			pid;

	harness_pipe(pp);
	o->stdout_fd = pp[1];
	pid = spawn_argv(f, o, NULL, 0);
	close(pp[1]);
	harness_read_all(pp[0], out, sizeof out, 10000);
	close(pp[0]);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 0, o->target);
	return out;
}

/* pi:hello with a pipe as stdout; bench:byte (the benchmark's first
 * byte) writes exactly "x". */
static void
test_stdout_pipe(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	char			 out[256], want[64];
	struct forkd_exit	 ev;
	int			 pp[2];
	pid_t			 pid;

	harness_pipe(pp);
	forkd_spawn_opts_init(&o);
	o.target = "pi:hello";
	o.stdout_fd = pp[1];
	pid = spawn_argv(f, &o, NULL, 0);
	close(pp[1]);
	harness_read_all(pp[0], out, sizeof out, 10000);
	close(pp[0]);
	snprintf(want, sizeof want, "hello from forkd child %d\n", (int)pid);
	EXPECT_STR(out, want, "stdout of pi:hello");
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 0, "exitcode of pi:hello");

	forkd_spawn_opts_init(&o);
	o.target = "bench:byte";
	EXPECT_STR(run_output(f, &o), "x", "stdout of bench:byte");
	forkd_close(f);
}

/* bench:echo copies a stdin pipe to a stdout pipe; stderr separate. */
static void
test_stdin_stdout_stderr(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*bad[] = { "bench:exit", "nope", NULL };
	char			 out[256];
	struct forkd_exit	 ev;
	int			 in[2], op[2], ep[2];
	pid_t			 pid;

	harness_pipe(in);
	harness_pipe(op);
	forkd_spawn_opts_init(&o);
	o.target = "bench:echo";
	o.stdin_fd = in[0];
	o.stdout_fd = op[1];
	pid = spawn_argv(f, &o, NULL, 0);
	close(in[0]);
	close(op[1]);
	assert_int_equal(write(in[1], "ping\nline two\n", 14), 14);
	close(in[1]);
	harness_read_all(op[0], out, sizeof out, 10000);
	close(op[0]);
	EXPECT_STR(out, "ping\nline two\n", "bench:echo output");
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:echo");

	/* A usage error goes to the stderr pipe, not stdout. */
	harness_pipe(op);
	harness_pipe(ep);
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = bad;
	o.stdout_fd = op[1];
	o.stderr_fd = ep[1];
	pid = spawn_argv(f, &o, NULL, 0);
	close(op[1]);
	close(ep[1]);
	harness_read_all(ep[0], out, sizeof out, 10000);
	EXPECT_CONTAINS(out, "usage", "stderr of bench:exit nope");
	harness_read_all(op[0], out, sizeof out, 10000);
	EXPECT_STR(out, "", "stdout of bench:exit nope");
	close(op[0]);
	close(ep[0]);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 2, "exitcode of bench:exit nope");

	/* Without stdin: /dev/null, so echo ends at once. */
	forkd_spawn_opts_init(&o);
	o.target = "bench:echo";
	EXPECT_STR(run_output(f, &o), "", "bench:echo with /dev/null stdin");
	forkd_close(f);
}

/* Lines of out equal to or starting with prefix. */
static int
count_lines(const char *out, const char *prefix)
{
	size_t	l = strlen(prefix);
	int	n = 0;

	for (const char *p = out; *p != '\0';) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, l) == 0)
			n++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* env added to the daemon's, replacing a variable, or the whole env. */
static void
test_env(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*add[] = { "FOO=bar", "EMPTY=", NULL };
	const char		*repl[] = { "FORKD_TEST_MARKER=client", NULL };
	const char		*only[] = { "ONLY=1", "TWO=2", NULL };
	const char		*out;

	/* The daemon's own environment reaches the child by default. */
	forkd_spawn_opts_init(&o);
	o.target = "testing:env";
	out = run_output(f, &o);
	if (count_lines(out, "FORKD_TEST_MARKER=daemon\n") != 1)
		fail_msg("testing:env without env: no FORKD_TEST_MARKER=daemon "
		    "line in:\n%s", out);

	forkd_spawn_opts_init(&o);
	o.target = "testing:env";
	o.env = add;
	out = run_output(f, &o);
	if (count_lines(out, "FOO=bar\n") != 1 ||
	    count_lines(out, "EMPTY=\n") != 1)
		fail_msg("added FOO=bar and EMPTY= missing from:\n%s", out);
	if (count_lines(out, "FORKD_TEST_MARKER=daemon\n") != 1)
		fail_msg("adding variables lost the daemon's environment:\n%s",
		    out);

	forkd_spawn_opts_init(&o);
	o.target = "testing:env";
	o.env = repl;
	out = run_output(f, &o);
	if (count_lines(out, "FORKD_TEST_MARKER=") != 1 ||
	    count_lines(out, "FORKD_TEST_MARKER=client\n") != 1)
		fail_msg("FORKD_TEST_MARKER=client should replace the daemon's "
		    "value (one line); got:\n%s", out);

	forkd_spawn_opts_init(&o);
	o.target = "testing:env";
	o.env = only;
	o.env_replace = 1;
	out = run_output(f, &o);
	EXPECT_STR(out, "ONLY=1\nTWO=2\n", "testing:env with env_replace");

	/* Duplicate keys: the last one wins, in the place of its last
	 * occurrence; a key that prefixes another is not the same key. */
	{
		const char *dup[] = { "A=1", "AB=x", "B=2", "A=3", "B=4",
		    "C=5", NULL };

		forkd_spawn_opts_init(&o);
		o.target = "testing:env";
		o.env = dup;
		o.env_replace = 1;
		out = run_output(f, &o);
		EXPECT_STR(out, "AB=x\nA=3\nB=4\nC=5\n",
		    "testing:env with duplicate keys");
	}
	/* 1,000 distinct keys and 24 repeats over the daemon's environment
	 * (built in linear time): each key once, with its last value. */
	{
		static char	 ebuf[1024][16];
		const char	*big[1025];
		char		 line[32];

		for (int i = 0; i < 1024; i++) {
			snprintf(ebuf[i], sizeof ebuf[i], "K%d=%d", i % 1000, i);
			big[i] = ebuf[i];
		}
		big[1024] = NULL;
		forkd_spawn_opts_init(&o);
		o.target = "testing:env";
		o.env = big;
		out = run_output(f, &o);
		if (count_lines(out, "FORKD_TEST_MARKER=daemon\n") != 1)
			fail_msg("1,024 variables lost the daemon's");
		for (int i = 0; i < 1000; i++) {
			snprintf(line, sizeof line, "\nK%d=%d\n", i,
			    i < 24 ? i + 1000 : i);
			if (strstr(out, line) == NULL)
				fail_msg("no line%.*s in the 1,024-variable "
				    "environment", (int)strlen(line) - 1, line);
			snprintf(line, sizeof line, "\nK%d=", i);
			if (strstr(strstr(out, line) + 1, line) != NULL)
				fail_msg("K%d twice in the environment", i);
		}
	}

	/* Replace with nothing: empty environment. */
	forkd_spawn_opts_init(&o);
	o.target = "testing:env";
	o.env_replace = 1;
	out = run_output(f, &o);
	EXPECT_STR(out, "", "testing:env with an empty replaced env");
	forkd_close(f);
}

/* cwd given, and "/" by default. */
static void
test_cwd(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	char			 want[PATH_MAX + 2], real[PATH_MAX];
	const char		*out;

	forkd_spawn_opts_init(&o);
	o.target = "testing:cwd";
	out = run_output(f, &o);
	EXPECT_STR(out, "/\n", "default cwd");

	assert_non_null(realpath(H.h_dir, real));
	snprintf(want, sizeof want, "%s\n", real);
	forkd_spawn_opts_init(&o);
	o.target = "testing:cwd";
	o.cwd = H.h_dir;
	out = run_output(f, &o);
	EXPECT_STR(out, want, "cwd of testing:cwd");

	/* An exec target gets the cwd too. */
	{
		const char *argv[] = { "/bin/sh", "-c", "pwd", NULL };

		forkd_spawn_opts_init(&o);
		o.target = "/bin/sh";
		o.argv = argv;
		o.cwd = H.h_dir;
		out = run_output(f, &o);
		EXPECT_STR(out, want, "cwd of an exec'd /bin/sh");
	}
	forkd_close(f);
}

/* A module's forkd_module_pool_warm() runs once in each pool child, before
 * the spawn it serves, and never in a child forkd forks for the spawn
 * (--pool 0: FORKD_TEST_POOL=0). */
static void
test_pool_warm_hook(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*pool = getenv("FORKD_TEST_POOL");
	const char		*want;

	(void)state;
	want = pool != NULL && strcmp(pool, "0") == 0 ? "0\n" : "1\n";
	for (int i = 0; i < 3; i++) {
		pid_t	pc[16];
		int64_t	end = harness_now_ms() + 10000 * harness_slow();

		/* With the pool on, let an idle pool child be there to take
		 * it (a spawn finding the pool empty is forked by forkd). */
		while (want[0] == '1' && harness_children_named(H.h_pid,
		    "forkd-pool\n", pc, 16) < 1 && harness_now_ms() < end)
			harness_sleep_ms(20);
		forkd_spawn_opts_init(&o);
		o.target = "testing:warmed";
		EXPECT_STR(run_output(f, &o), want,
		    "pool-warm hook calls seen by the child");
	}
	forkd_close(f);
}

/* Automatic names: "<entry>-N", unique; custom names; duplicates. */
static void
test_names(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*ex[] = { "bench:exit", "0", NULL };
	const char		*sl[] = { "bench:sleep", "30", NULL };
	char			 n1[FORKD_NAME_MAX + 1], n2[FORKD_NAME_MAX + 1];
	struct forkd_exit	 ev;
	pid_t			 p1, p2;

	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = ex;
	p1 = spawn_argv(f, &o, n1, sizeof n1);
	ev = exit_event(f, p1);
	p2 = spawn_argv(f, &o, n2, sizeof n2);
	ev = exit_event(f, p2);
	if (!matches(n1, "^exit-[0-9]+$") || !matches(n2, "^exit-[0-9]+$"))
		fail_msg("automatic names \"%s\", \"%s\"; expected exit-N", n1,
		    n2);
	if (strcmp(n1, n2) == 0)
		fail_msg("two spawns both named \"%s\"", n1);

	/* A custom name, reported back and in the exit event. */
	o.name = "my-worker.1";
	p1 = spawn_argv(f, &o, n1, sizeof n1);
	EXPECT_STR(n1, "my-worker.1", "custom name");
	ev = exit_event(f, p1);
	EXPECT_STR(ev.name, "my-worker.1", "custom name in the exit event");

	/* The same name while the first runs: -EEXIST, also from another
	 * connection. */
	{
		struct forkd *g = harness_connect(&H);

		forkd_spawn_opts_init(&o);
		o.target = "bench:sleep";
		o.argv = sl;
		o.name = "dup";
		p1 = spawn_argv(f, &o, n1, sizeof n1);
		EXPECT_ERR(f, forkd_spawn(f, &o, &p2, NULL, 0), -EEXIST);
		EXPECT_ERR(g, forkd_spawn(g, &o, &p2, NULL, 0), -EEXIST);
		EXPECT_CONTAINS(forkd_errmsg(g), "dup", "errmsg of -EEXIST");
		/* Signal by name works; then the name is free again. */
		EXPECT_OK(f, forkd_signal(f, 0, "dup", SIGKILL));
		ev = exit_event(f, p1);
		EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of dup");
		o.argv = ex;
		o.target = "bench:exit";
		p2 = spawn_argv(g, &o, n2, sizeof n2);
		EXPECT_STR(n2, "dup", "name reused after the child ended");
		ev = exit_event(g, p2);
		forkd_close(g);
	}

	/* Invalid names are refused. */
	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.name = "has space";
	EXPECT_ERR(f, forkd_spawn(f, &o, &p1, NULL, 0), -EINVAL);
	o.name = "a/b";
	EXPECT_ERR(f, forkd_spawn(f, &o, &p1, NULL, 0), -EINVAL);
	o.name = "12345";
	EXPECT_ERR(f, forkd_spawn(f, &o, &p1, NULL, 0), -EINVAL);
	o.name = "-9";	/* "forkctl kill -9" would take it for an option */
	EXPECT_ERR(f, forkd_spawn(f, &o, &p1, NULL, 0), -EINVAL);
	EXPECT_ERR(f, forkd_wait_exit_event(f, 200, &ev), -ETIMEDOUT);
	forkd_close(f);
}

/* Exit events go only to the connection that spawned the child. */
static void
test_events_to_owner_only(void **state)
{
	struct forkd		*a = harness_connect(&H);
	struct forkd		*b = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*ea[] = { "bench:exit", "11", NULL };
	const char		*eb[] = { "bench:exit", "22", NULL };
	struct forkd_exit	 ev;
	pid_t			 pa, pb;

	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = ea;
	pa = spawn_argv(a, &o, NULL, 0);
	o.argv = eb;
	pb = spawn_argv(b, &o, NULL, 0);
	ev = exit_event(a, pa);
	EXPECT_INT(ev.exitcode, 11, "A's child");
	ev = exit_event(b, pb);
	EXPECT_INT(ev.exitcode, 22, "B's child");
	EXPECT_ERR(a, forkd_wait_exit_event(a, 200, &ev), -ETIMEDOUT);
	EXPECT_ERR(b, forkd_wait_exit_event(b, 200, &ev), -ETIMEDOUT);
	forkd_close(a);
	forkd_close(b);
}

/* A request larger than forkd's frame limit fails in the client with
 * -EMSGSIZE; the connection stays usable. Big but legal requests work. */
static void
test_large_requests(void **state)
{
	enum { N = 1000 };
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	static char		 arg[N][101];
	static const char	*argv[N + 2];
	pid_t			 pid;

	argv[0] = "bench:exit";
	for (int i = 0; i < N; i++) {
		memset(arg[i], 'a' + i % 26, 100);
		arg[i][100] = '\0';
		argv[i + 1] = arg[i];
	}
	argv[N + 1] = NULL;
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EMSGSIZE);
	EXPECT_OK(f, forkd_ping(f));

	/* 299 arguments of 100 bytes (about 30 KB): fine, all arrive. */
	{
		const char *sh[303];

		sh[0] = "/bin/sh";
		sh[1] = "-c";
		sh[2] = "echo $#";
		for (int i = 0; i < 299; i++)
			sh[3 + i] = arg[i];
		sh[302] = NULL;
		forkd_spawn_opts_init(&o);
		o.target = "/bin/sh";
		o.argv = sh;
		/* $0 is the first extra argument, $# counts the other 298. */
		EXPECT_STR(run_output(f, &o), "298\n",
		    "argument count seen by sh");
	}
	forkd_close(f);
}

/* A spawn whose plan is too big for one datagram to a pool child (a
 * request just under what the client's socket takes, plus forkd's
 * environment and the plan's fixed part) is forked instead: it works,
 * every variable arrives, and the idle pool children are left alone (the
 * next spawn is served by one of them). */
static void
test_plan_too_big_for_pool(void **state)
{
	enum { NV = 54, VLEN = 4000 };
	static char		 vars[NV][VLEN + 16];
	static char		 out[NV * (VLEN + 16) + 65536];
	static const char	*env[NV + 1];
	char			 conf[HARNESS_PATH_MAX + 16], want[32];
	const char		*extra[] = { "-c", conf, NULL };
	struct harness		 h2;
	struct forkd		*f;
	struct forkd_spawn_opts	 o;
	struct forkd_status	*st = NULL, *st2 = NULL;
	struct forkd_exit	 ev;
	uint64_t		 served;
	int			 pp[2], r = -EMSGSIZE, fd, last = VLEN;
	pid_t			 pid = -1;

	/* A frame limit as large as the wire allows. */
	snprintf(conf, sizeof conf, "%s/bigframe.conf", H.h_dir);
	if ((fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0 || write(fd, "[limits]\nmax_frame = 262144\n", 28) !=
	    28 || close(fd) != 0)
		fail_msg("%s: %s", conf, strerror(errno));
	if (harness_start(&h2, extra) != 0)
		fail_msg("cannot start forkd with max_frame = 262144");
	f = harness_connect(&h2);
	/* The pool as forkd fills it at start: wait until it stops growing
	 * (the same idle count four times, 50 ms apart). */
	EXPECT_OK(f, forkd_status(f, &st));
	for (int same = 0, i = 0; same < 4 && i < 100; i++) {
		uint32_t idle = st->pool_idle;

		harness_sleep_ms(50);
		forkd_status_free(st);
		EXPECT_OK(f, forkd_status(f, &st));
		same = st->pool_idle == idle ? same + 1 : 0;
	}
	served = st->pool_spawns;

	for (int i = 0; i < NV; i++) {
		snprintf(vars[i], sizeof vars[i], "K%02d=", i);
		memset(vars[i] + 4, 'a' + i % 26, VLEN);
		vars[i][4 + VLEN] = '\0';
		env[i] = vars[i];
	}
	env[NV] = NULL;
	/* Shorten the last variable until the client's socket takes the
	 * request: then it is within 100 bytes of that limit. */
	for (; r == -EMSGSIZE && last > 0; last -= 100) {
		vars[NV - 1][4 + last] = '\0';
		harness_pipe(pp);
		forkd_spawn_opts_init(&o);
		o.target = "testing:env";
		o.env = env;
		o.stdout_fd = pp[1];
		r = forkd_spawn(f, &o, &pid, NULL, 0);
		close(pp[1]);
		if (r != 0)
			close(pp[0]);
	}
	if (r != 0)
		fail_msg("spawn with a %d-byte last variable: %d (%s) \"%s\"",
		    last + 100, r, forkd_strerror(r), forkd_errmsg(f));
	if (last + 100 == VLEN)
		fail_msg("the first request already fit the client's socket: "
		    "not near its limit, raise NV");
	harness_read_all(pp[0], out, sizeof out, 10000);
	close(pp[0]);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 0, "testing:env with a big environment");
	for (int i = 0; i < NV; i++) {
		snprintf(want, sizeof want, "K%02d=%c", i, 'a' + i % 26);
		if (count_lines(out, want) != 1)
			fail_msg("%s... not once in the child's environment",
			    want);
	}

	EXPECT_OK(f, forkd_status(f, &st2));
	if (st->pool_idle > 0) {
		/* Forked, not handed to (and not lost with) a pool child. */
		if (st2->pool_spawns != served)
			fail_msg("the big spawn went to a pool child (%llu "
			    "served, was %llu)", (unsigned long long)
			    st2->pool_spawns, (unsigned long long)served);
		EXPECT_INT(st2->pool_idle, st->pool_idle,
		    "idle pool children after the big spawn");
		forkd_spawn_opts_init(&o);
		o.target = "bench:noop";
		pid = spawn_argv(f, &o, NULL, 0);
		ev = exit_event(f, pid);
		forkd_status_free(st2);
		EXPECT_OK(f, forkd_status(f, &st2));
		if (st2->pool_spawns != served + 1)
			fail_msg("the next small spawn was not served by the "
			    "pool (%llu served, was %llu)", (unsigned long long)
			    st2->pool_spawns, (unsigned long long)served);
	}
	forkd_status_free(st);
	forkd_status_free(st2);
	forkd_close(f);
	harness_stop_ok(&h2);
}

/* Find a module by name in a status reply. */
static const struct forkd_module_desc *
find_module(const struct forkd_status *st, const char *name)
{
	for (size_t i = 0; i < st->n_modules; i++)
		if (strcmp(st->modules[i].name, name) == 0)
			return &st->modules[i];
	return NULL;
}

static int
has_entry(const struct forkd_module_desc *m, const char *e)
{
	for (size_t i = 0; i < m->n_entries; i++)
		if (strcmp(m->entries[i], e) == 0)
			return 1;
	return 0;
}

/* status: version, pid, modules with entries, counters. */
static void
test_status(void **state)
{
	static const char *const bench_entries[] = { "noop", "touch", "exit",
	    "sleep", "echo", "byte", "state" };
	static const char *const testing_entries[] = { "fds", "env", "cwd",
	    "crash", "cat", "readlink" };
	struct forkd			*f = harness_connect(&H);
	struct forkd			*g = harness_connect(&H);
	struct forkd_status		*st = NULL, *st2 = NULL;
	const struct forkd_module_desc	*m;
	struct forkd_spawn_opts		 o;
	struct forkd_exit		 ev;
	pid_t				 pid;

	EXPECT_OK(f, forkd_status(f, &st));
	EXPECT_INT(st->pid, H.h_pid, "status pid");
	if (st->version[0] == '\0')
		fail_msg("status has an empty version");
	if (st->connections < 2)
		fail_msg("status: %u connections with 2 open", st->connections);
	if ((m = find_module(st, "pi")) == NULL)
		fail_msg("status lists %zu modules, none named pi",
		    st->n_modules);
	if (!has_entry(m, "leibniz") || !has_entry(m, "hello"))
		fail_msg("module pi lacks leibniz/hello (%zu entries)",
		    m->n_entries);
	EXPECT_CONTAINS(m->path, "pi.so", "path of module pi");
	if ((m = find_module(st, "bench")) == NULL)
		fail_msg("status lists no module named bench");
	for (size_t i = 0; i < sizeof bench_entries / sizeof bench_entries[0];
	    i++)
		if (!has_entry(m, bench_entries[i]))
			fail_msg("module bench lacks entry %s",
			    bench_entries[i]);
	/* The file reader and other test entries are not in bench. */
	if (has_entry(m, "cat") || has_entry(m, "env"))
		fail_msg("module bench has the tests' entries cat/env");
	if ((m = find_module(st, "testing")) == NULL)
		fail_msg("status lists no module named testing");
	for (size_t i = 0; i < sizeof testing_entries /
	    sizeof testing_entries[0]; i++)
		if (!has_entry(m, testing_entries[i]))
			fail_msg("module testing lacks entry %s",
			    testing_entries[i]);

	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	pid = spawn_argv(f, &o, NULL, 0);
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:noop");
	/* A failed spawn counts as a failure. */
	o.target = "bench:nosuchentry";
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -ENOENT);

	EXPECT_OK(f, forkd_status(f, &st2));
	if (st2->spawned_total < st->spawned_total + 1)
		fail_msg("spawned_total %llu -> %llu after a spawn",
		    (unsigned long long)st->spawned_total,
		    (unsigned long long)st2->spawned_total);
	if (st2->exited_total < st->exited_total + 1)
		fail_msg("exited_total %llu -> %llu after a child ended",
		    (unsigned long long)st->exited_total,
		    (unsigned long long)st2->exited_total);
	if (st2->uptime_ms < st->uptime_ms)
		fail_msg("uptime went back: %llu -> %llu",
		    (unsigned long long)st->uptime_ms,
		    (unsigned long long)st2->uptime_ms);
	forkd_status_free(st);
	forkd_status_free(st2);
	forkd_status_free(NULL);
	forkd_close(g);
	forkd_close(f);
}

/* list: a running child with name, target, daemon flag, owner. */
static void
test_list(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd		*g = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*sl[] = { "bench:sleep", "30", NULL };
	struct forkd_child	*v = NULL;
	struct forkd_exit	 ev;
	size_t			 n = 0, i;
	pid_t			 pid;

	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = sl;
	o.name = "lister";
	o.daemon = 1;
	pid = spawn_argv(f, &o, NULL, 0);

	EXPECT_OK(f, forkd_list(f, &v, &n));
	for (i = 0; i < n && v[i].pid != pid; i++)
		;
	if (i == n)
		fail_msg("list from the owner: %zu children, pid %d missing", n,
		    (int)pid);
	EXPECT_STR(v[i].name, "lister", "listed name");
	EXPECT_STR(v[i].target, "bench:sleep", "listed target");
	EXPECT_INT(v[i].daemon, 1, "listed daemon flag");
	EXPECT_INT(v[i].owned, 1, "owned flag for the spawning connection");
	EXPECT_INT(v[i].owner_uid, getuid(), "owner uid");
	if (v[i].started_unix_ms == 0)
		fail_msg("listed start time is 0");
	free(v);

	v = NULL;
	EXPECT_OK(g, forkd_list(g, &v, &n));
	for (i = 0; i < n && v[i].pid != pid; i++)
		;
	if (i == n)
		fail_msg("list from another connection: pid %d missing",
		    (int)pid);
	EXPECT_INT(v[i].owned, 0, "owned flag for another connection");
	free(v);

	EXPECT_OK(f, forkd_terminate(f, pid));
	ev = exit_event(f, pid);
	EXPECT_INT(ev.exitcode, -SIGTERM, "exitcode after forkd_terminate");

	/* Gone from the list. */
	v = NULL;
	EXPECT_OK(f, forkd_list(f, &v, &n));
	for (i = 0; i < n; i++)
		if (v[i].pid == pid)
			fail_msg("ended child %d still listed", (int)pid);
	free(v);
	forkd_close(g);
	forkd_close(f);
}

/* Last: forkd stops cleanly with exit status 0. */
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
		cmocka_unit_test(test_spawn_entry_exit_event),
		cmocka_unit_test(test_exit_event_queued),
		cmocka_unit_test(test_spawn_exec),
		cmocka_unit_test(test_stdout_pipe),
		cmocka_unit_test(test_stdin_stdout_stderr),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_pool_warm_hook),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_events_to_owner_only),
		cmocka_unit_test(test_large_requests),
		cmocka_unit_test(test_plan_too_big_for_pool),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_spawn", tests,
	    group_setup, group_teardown);
}
