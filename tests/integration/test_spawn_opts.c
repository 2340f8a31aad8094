/* test_spawn_opts.c: libforkd's side of the child set-up options: the
 * defaults of forkd_spawn_opts_init(), refusal of obviously bad options
 * before anything is sent (-EINVAL with a message, the connection still
 * usable, nothing spawned), and forkd_spawn_ex()'s reply. Whether the
 * daemon applies the options is tested by the daemon's suites and
 * tests/integration/forkctl_test.sh. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static struct harness H;

static void
test_defaults(void **state)
{
	struct forkd_spawn_opts	o;

	(void)state;
	memset(&o, 0x5a, sizeof o);
	forkd_spawn_opts_init(&o);
	assert_null(o.target);
	assert_int_equal(o.stdin_fd, -1);
	assert_int_equal(o.stdout_fd, -1);
	assert_int_equal(o.stderr_fd, -1);
	assert_null(o.rlimits);
	assert_int_equal(o.n_rlimits, 0);
	assert_int_equal(o.umask, -1);
	assert_int_equal(o.nice_set, 0);
	assert_null(o.cpus);
	assert_int_equal(o.n_cpus, 0);
	assert_int_equal(o.pgroup, FORKD_PGROUP_SESSION);
	assert_int_equal(o.timeout_ms, 0);
	assert_int_equal(o.kill_grace_ms, 0);
	assert_int_equal(o.identity_set, 0);
	assert_int_equal(o.n_groups, 0);
	assert_int_equal(o.no_new_privs, 0);
	assert_int_equal(o.drop_caps, 0);
	assert_int_equal(o.cgroup, 0);
	assert_int_equal(o.memory_max, 0);
	assert_int_equal(o.pids_max, 0);
	assert_int_equal(o.cpu_quota_us, 0);
	assert_int_equal(o.cpu_period_us, 0);
	assert_int_equal(o.namespaces, 0);
	assert_int_equal(o.want_pidfd, 0);
}

/* One bad option set: what to break and a word the message must have. */
struct bad_case {
	const char	*what;
	const char	*needle;
	void		(*mutate)(struct forkd_spawn_opts *);
};

static struct forkd_rlimit	rl17[17], rl_dup[2], rl_bad[1];
static int			cpus_bad[1] = { 1024 }, cpus_neg[1] = { -1 };
static gid_t			groups65[65];

static void m_rl_many(struct forkd_spawn_opts *o)
{ o->rlimits = rl17; o->n_rlimits = 17; }
static void m_rl_null(struct forkd_spawn_opts *o)
{ o->rlimits = NULL; o->n_rlimits = 1; }
static void m_rl_dup(struct forkd_spawn_opts *o)
{ o->rlimits = rl_dup; o->n_rlimits = 2; }
static void m_rl_res(struct forkd_spawn_opts *o)
{ rl_bad[0] = (struct forkd_rlimit){ 16, 1, 1 };
  o->rlimits = rl_bad; o->n_rlimits = 1; }
static void m_rl_order(struct forkd_spawn_opts *o)
{ rl_bad[0] = (struct forkd_rlimit){ 7, 10, 5 };
  o->rlimits = rl_bad; o->n_rlimits = 1; }
static void m_umask(struct forkd_spawn_opts *o) { o->umask = 01000; }
static void m_umask_neg(struct forkd_spawn_opts *o) { o->umask = -2; }
static void m_nice(struct forkd_spawn_opts *o)
{ o->nice_set = 1; o->nice = 20; }
static void m_nice_low(struct forkd_spawn_opts *o)
{ o->nice_set = 1; o->nice = -21; }
static void m_cpus_many(struct forkd_spawn_opts *o)
{ static int c[1025]; o->cpus = c; o->n_cpus = 1025; }
static void m_cpus_null(struct forkd_spawn_opts *o)
{ o->cpus = NULL; o->n_cpus = 2; }
static void m_cpus_big(struct forkd_spawn_opts *o)
{ o->cpus = cpus_bad; o->n_cpus = 1; }
static void m_cpus_neg(struct forkd_spawn_opts *o)
{ o->cpus = cpus_neg; o->n_cpus = 1; }
static void m_pgroup(struct forkd_spawn_opts *o) { o->pgroup = 2; }
static void m_timeout(struct forkd_spawn_opts *o)
{ o->timeout_ms = 7U * 24 * 3600 * 1000 + 1; }
static void m_grace(struct forkd_spawn_opts *o) { o->kill_grace_ms = 100; }
static void m_groups_many(struct forkd_spawn_opts *o)
{ o->identity_set = 1; o->uid = 1; o->gid = 1; o->groups = groups65;
  o->n_groups = 65; }
static void m_groups_null(struct forkd_spawn_opts *o)
{ o->identity_set = 1; o->uid = 1; o->gid = 1; o->groups = NULL;
  o->n_groups = 3; }
static void m_groups_noid(struct forkd_spawn_opts *o)
{ o->groups = groups65; o->n_groups = 1; }
static void m_uid_neg(struct forkd_spawn_opts *o)
{ o->identity_set = 1; o->uid = (uid_t)-1; o->gid = 1; }
static void m_cg_nocg(struct forkd_spawn_opts *o)
{ o->memory_max = 1 << 20; }
static void m_cg_period(struct forkd_spawn_opts *o)
{ o->cgroup = 1; o->cpu_period_us = 100000; }
static void m_cg_quota(struct forkd_spawn_opts *o)
{ o->cgroup = 1; o->cpu_quota_us = 999; }
static void m_cg_period_big(struct forkd_spawn_opts *o)
{ o->cgroup = 1; o->cpu_quota_us = 5000; o->cpu_period_us = 1000001; }
static void m_ns(struct forkd_spawn_opts *o)
{ o->namespaces = FORKD_NS_PID | 0x40; }

static const struct bad_case bad_cases[] = {
	{ "17 rlimits", "at most 16", m_rl_many },
	{ "NULL rlimits", "NULL", m_rl_null },
	{ "duplicate rlimit", "twice", m_rl_dup },
	{ "unknown resource", "unknown resource", m_rl_res },
	{ "soft above hard", "above the hard", m_rl_order },
	{ "umask 01000", "umask", m_umask },
	{ "umask -2", "umask", m_umask_neg },
	{ "nice 20", "nice", m_nice },
	{ "nice -21", "nice", m_nice_low },
	{ "1025 cpus", "at most 1024", m_cpus_many },
	{ "NULL cpus", "NULL", m_cpus_null },
	{ "CPU 1024", "CPU 1024", m_cpus_big },
	{ "CPU -1", "CPU -1", m_cpus_neg },
	{ "pgroup 2", "pgroup", m_pgroup },
	{ "timeout over a week", "timeout_ms", m_timeout },
	{ "grace without timeout", "kill_grace_ms", m_grace },
	{ "65 groups", "at most 64", m_groups_many },
	{ "NULL groups", "NULL", m_groups_null },
	{ "groups without identity", "identity_set", m_groups_noid },
	{ "uid -1", "-1", m_uid_neg },
	{ "memory_max without cgroup", "cgroup is 0", m_cg_nocg },
	{ "period without quota", "cpu_quota_us", m_cg_period },
	{ "quota 999", "below 1000", m_cg_quota },
	{ "period 1000001", "1000..1000000", m_cg_period_big },
	{ "unknown namespace bit", "namespace", m_ns },
};

/* Each bad option set is refused with -EINVAL and a message before it is
 * sent: forkd counts no spawn, the connection stays usable, the out
 * parameters are untouched. */
static void
test_bad_opts(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_status	*st;
	struct forkd_spawn_opts	 o;
	struct forkd_spawned	 sp;
	struct forkd_exit	 ev;
	uint64_t		 before, fails;
	int			 r;

	(void)state;
	rl_dup[0] = (struct forkd_rlimit){ 7, 10, 10 };
	rl_dup[1] = (struct forkd_rlimit){ 7, 20, 20 };
	for (int i = 0; i < 17; i++)
		rl17[i] = (struct forkd_rlimit){ i % 16, 1, 1 };
	EXPECT_OK(f, forkd_status(f, &st));
	before = st->spawned_total;
	fails = st->spawn_failures;
	forkd_status_free(st);

	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];

		forkd_spawn_opts_init(&o);
		o.target = "bench:exit";
		bc->mutate(&o);
		memset(&sp, 0x5a, sizeof sp);
		r = forkd_spawn_ex(f, &o, &sp);
		if (r != -EINVAL)
			fail_msg("%s: returned %d (%s), errmsg \"%s\"; "
			    "expected -EINVAL", bc->what, r, forkd_strerror(r),
			    forkd_errmsg(f));
		if (strstr(forkd_errmsg(f), bc->needle) == NULL)
			fail_msg("%s: errmsg \"%s\" lacks \"%s\"", bc->what,
			    forkd_errmsg(f), bc->needle);
		if (sp.pid != (pid_t)0x5a5a5a5a || sp.pidfd != 0x5a5a5a5a)
			fail_msg("%s: the refused spawn touched ret", bc->what);
		/* forkd_spawn() goes through the same checks. */
		EXPECT_ERR(f, forkd_spawn(f, &o, NULL, NULL, 0), -EINVAL);
	}
	EXPECT_OK(f, forkd_ping(f));
	EXPECT_OK(f, forkd_status(f, &st));
	EXPECT_INT(st->spawned_total, before, "spawns counted by forkd");
	EXPECT_INT(st->spawn_failures, fails, "spawn failures counted");
	forkd_status_free(st);
	EXPECT_ERR(f, forkd_wait_exit_event(f, 200, &ev), -ETIMEDOUT);
	forkd_close(f);
}

/* Values at the edges of the client's checks pass them. The daemon in
 * use may or may not apply them, so only the encoding is at stake: a
 * plain child with set-up fields that change nothing observable. */
static void
test_edges_pass(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_spawned	 sp;
	struct forkd_exit	 ev;
	/* Lowering RLIMIT_CORE works for any daemon user. */
	struct forkd_rlimit	 rl[1] = { { 4 /* RLIMIT_CORE */, 0, 0 } };
	const char		*argv[] = { "bench:exit", "3", NULL };

	(void)state;
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	o.rlimits = rl;
	o.n_rlimits = 1;
	o.umask = 022;
	o.timeout_ms = 7U * 24 * 3600 * 1000;
	o.kill_grace_ms = 1;
	memset(&sp, 0x5a, sizeof sp);
	EXPECT_OK(f, forkd_spawn_ex(f, &o, &sp));
	assert_true(sp.pid > 0);
	assert_true(sp.name[0] != '\0');
	EXPECT_INT(sp.pidfd, -1, "pidfd without want_pidfd");
	EXPECT_STR(sp.cgroup, "", "cgroup without cgroup");
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000 * harness_slow(), &ev));
	EXPECT_INT(ev.pid, sp.pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, 3, "exit code");
	EXPECT_INT(ev.timed_out, 0, "timed_out of a child that exited");
	EXPECT_INT(ev.oom_killed, 0, "oom_killed of a child that exited");
	forkd_close(f);
}

/* With want_pidfd the reply's pidfd becomes readable when the child
 * ends. Needs a daemon that passes pidfds (issue 5's daemon side):
 * skipped, saying so, with one that does not. */
static void
test_pidfd(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_spawned	 sp;
	struct forkd_exit	 ev;
	struct pollfd		 pfd;
	const char		*argv[] = { "bench:sleep", "30", NULL };
	int			 r;

	(void)state;
	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = argv;
	o.want_pidfd = 1;
	EXPECT_OK(f, forkd_spawn_ex(f, &o, &sp));
	if (sp.pidfd < 0) {
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
		forkd_close(f);
		fprintf(stderr, "forkd does not pass pidfds: skipped\n");
		skip();
	}
	pfd.fd = sp.pidfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	r = poll(&pfd, 1, 0);
	EXPECT_INT(r, 0, "pidfd readable while the child runs");
	EXPECT_OK(f, forkd_kill(f, sp.pid));
	r = poll(&pfd, 1, 10000 * harness_slow());
	EXPECT_INT(r, 1, "pidfd readable once the child ended");
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, sp.pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of the killed child");
	close(sp.pidfd);
	forkd_close(f);
}

/* A spawn that asks for a pidfd is served by an idle pool child like any
 * other (forkd takes the pidfd with pidfd_open()): Python's forkd.Process
 * asks for one every time. */
static void
test_pidfd_from_pool(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_spawned	 sp;
	struct forkd_status	*st;
	struct forkd_exit	 ev;
	struct pollfd		 pfd;
	const char		*argv[] = { "bench:exit", "5", NULL };
	uint64_t		 before = 0;
	uint32_t		 idle = 0;

	(void)state;
	if (getenv("FORKD_TEST_POOL") != NULL) {
		forkd_close(f);
		skip();
	}
	for (int64_t end = harness_now_ms() + 10000 * harness_slow();
	    harness_now_ms() < end; harness_sleep_ms(50)) {
		EXPECT_OK(f, forkd_status(f, &st));
		idle = st->pool_idle;
		before = st->pool_spawns;
		forkd_status_free(st);
		if (idle > 0)
			break;
	}
	if (idle == 0)
		fail_msg("no idle pool child after 10 s");
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	o.want_pidfd = 1;
	EXPECT_OK(f, forkd_spawn_ex(f, &o, &sp));
	if (sp.pidfd < 0)
		fail_msg("no pidfd from a spawn served by the pool");
	pfd.fd = sp.pidfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	EXPECT_INT(poll(&pfd, 1, 10000 * harness_slow()), 1,
	    "pool child's pidfd readable once it ended");
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, sp.pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, 5, "exit code");
	close(sp.pidfd);
	EXPECT_OK(f, forkd_status(f, &st));
	EXPECT_INT(st->pool_spawns, before + 1, "spawns served by the pool");
	forkd_status_free(st);
	forkd_close(f);
}

/* An extra fd reaches the child at the number asked for: a pipe's write
 * end at fd 3 (and at fd 9, with stdout given too) carries what the child
 * writes there. Bad extra fds are refused before sending. */
static void
test_extra_fds(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	const char		*argv[] = { "/bin/sh", "-c",
	    "echo three >&3; echo nine >&9", NULL };
	int			 p3[2], p9[2], fds[2], targets[2] = { 3, 9 };
	int			 bad_targets[2] = { 3, 3 }, big[1] = { 64 };
	int			 badfd[1] = { 987 };
	char			 buf[64];
	pid_t			 pid;
	ssize_t			 n;

	(void)state;
	assert_int_equal(pipe(p3), 0);
	assert_int_equal(pipe(p9), 0);
	fds[0] = p3[1];
	fds[1] = p9[1];
	forkd_spawn_opts_init(&o);
	o.target = "/bin/sh";
	o.argv = argv;
	o.fds = fds;
	o.fd_targets = targets;
	o.n_fds = 2;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	close(p3[1]);
	close(p9[1]);
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000 * harness_slow(), &ev));
	EXPECT_INT(ev.exitcode, 0, "exit code of sh writing to fds 3 and 9");
	n = read(p3[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	EXPECT_STR(buf, "three\n", "what the child wrote to fd 3");
	n = read(p9[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	EXPECT_STR(buf, "nine\n", "what the child wrote to fd 9");
	close(p3[0]);
	close(p9[0]);

	/* Refused before sending, the connection still usable. */
	fds[0] = fds[1] = STDIN_FILENO;
	o.fd_targets = bad_targets;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EINVAL);
	assert_non_null(strstr(forkd_errmsg(f), "twice"));
	o.fd_targets = big;
	o.n_fds = 1;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EINVAL);
	assert_non_null(strstr(forkd_errmsg(f), "0..63"));
	o.fds = badfd;
	o.fd_targets = targets;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EBADF);
	o.fds = NULL;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EINVAL);
	o.fds = fds;
	o.stdout_fd = 1;
	targets[0] = 1;
	EXPECT_ERR(f, forkd_spawn(f, &o, &pid, NULL, 0), -EINVAL);
	targets[0] = 3;
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

static void
test_stop(void **state)
{
	(void)state;
	harness_stop_ok(&H);
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
	if (H.h_pid > 0)
		harness_stop(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_edges_pass),
		cmocka_unit_test(test_pidfd),
		cmocka_unit_test(test_pidfd_from_pool),
		cmocka_unit_test(test_extra_fds),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_spawn_opts", tests,
	    group_setup, group_teardown);
}
