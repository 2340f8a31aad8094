/* test_spawn_errors.c: spawns that fail before the target runs become error
 * replies with the failing step's errno, and no exit event. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness H;

/* Expect spawning o to fail with want and errmsg containing needle (if not
 * NULL), and no exit event to follow. */
static char	last_errmsg[FORKD_ERRMSG_MAX];

static void
expect_spawn_error(struct forkd *f, struct forkd_spawn_opts *o, int want,
    const char *needle)
{
	struct forkd_exit	ev;
	char			name[FORKD_NAME_MAX + 1] = "untouched";
	pid_t			pid = 12345;
	int			r;

	r = forkd_spawn(f, o, &pid, name, sizeof name);
	if (r != want)
		fail_msg("spawn of \"%s\" (cwd %s): returned %d (%s), errmsg "
		    "\"%s\"; expected %d (%s)", o->target,
		    o->cwd ? o->cwd : "-", r, forkd_strerror(r),
		    forkd_errmsg(f), want, forkd_strerror(want));
	if (pid != 12345 || strcmp(name, "untouched") != 0)
		fail_msg("failed spawn of \"%s\" set pid %d / name \"%s\"",
		    o->target, (int)pid, name);
	if (forkd_errmsg(f)[0] == '\0')
		fail_msg("failed spawn of \"%s\": empty errmsg", o->target);
	if (needle != NULL && strstr(forkd_errmsg(f), needle) == NULL)
		fail_msg("spawn of \"%s\": errmsg \"%s\" does not mention "
		    "\"%s\"", o->target, forkd_errmsg(f), needle);
	snprintf(last_errmsg, sizeof last_errmsg, "%s", forkd_errmsg(f));
	r = forkd_wait_exit_event(f, 300, &ev);
	if (r != -ETIMEDOUT)
		fail_msg("failed spawn of \"%s\" was followed by %s "
		    "(pid %d exitcode %d)", o->target,
		    r == 0 ? "an exit event" : forkd_strerror(r),
		    r == 0 ? (int)ev.pid : 0, r == 0 ? ev.exitcode : 0);
}

/* After failures, forkd still serves: ping and a good spawn. */
static void
expect_serving(struct forkd *f)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	const char		*argv[] = { "bench:exit", "5", NULL };
	pid_t			pid;

	EXPECT_OK(f, forkd_ping(f));
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the next good spawn's event");
	EXPECT_INT(ev.exitcode, 5, "exitcode of the next good spawn");
}

/* Unknown module or entry: -ENOENT. */
static void
test_unknown_target(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;

	forkd_spawn_opts_init(&o);
	o.target = "nosuchmodule:noop";
	expect_spawn_error(f, &o, -ENOENT, "nosuchmodule");
	o.target = "bench:nosuchentry";
	expect_spawn_error(f, &o, -ENOENT, "nosuchentry");
	expect_serving(f);
	forkd_close(f);
}

/* A cwd that does not exist: -ENOENT from the chdir step. */
static void
test_bad_cwd(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;

	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.cwd = "/nonexistent-forkd-test-dir";
	expect_spawn_error(f, &o, -ENOENT, "chdir");
	if (strstr(last_errmsg, "/nonexistent-forkd-test-dir") == NULL)
		fail_msg("chdir error \"%s\" does not name the directory",
		    last_errmsg);
	/* Same for an exec target. */
	o.target = "/bin/true";
	expect_spawn_error(f, &o, -ENOENT, "chdir");
	/* A file as cwd: -ENOTDIR. */
	o.target = "bench:noop";
	o.cwd = H.h_key;
	expect_spawn_error(f, &o, -ENOTDIR, "chdir");
	expect_serving(f);
	forkd_close(f);
}

/* Executables that cannot run. */
static void
test_bad_exec(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	char			 path[HARNESS_PATH_MAX + 16];
	int			 fd;

	/* A 0644 file: not executable. */
	snprintf(path, sizeof path, "%s/not-exec.sh", H.h_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	forkd_spawn_opts_init(&o);
	o.target = path;
	expect_spawn_error(f, &o, -EACCES, NULL);

	/* Missing executable. */
	o.target = "/nonexistent-forkd-test/bin/prog";
	expect_spawn_error(f, &o, -ENOENT, NULL);

	/* A directory. */
	o.target = "/";
	expect_spawn_error(f, &o, -EACCES, NULL);

	/* Relative paths are refused. */
	o.target = "foo";
	expect_spawn_error(f, &o, -EINVAL, NULL);
	o.target = "./foo";
	expect_spawn_error(f, &o, -EINVAL, NULL);
	o.target = "bin/sh";
	expect_spawn_error(f, &o, -EINVAL, NULL);
	expect_serving(f);
	forkd_close(f);
}

/* Bad fields: env entries without '=', invalid names. */
static void
test_bad_fields(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	const char		*env[] = { "NOEQUALS", NULL };

	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.env = env;
	expect_spawn_error(f, &o, -EINVAL, NULL);
	forkd_spawn_opts_init(&o);
	o.target = "";
	expect_spawn_error(f, &o, -EINVAL, NULL);
	expect_serving(f);
	forkd_close(f);
}

/* The failures are counted, and no child is left behind. */
static void
test_failures_counted(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_status	*a = NULL, *b = NULL;
	struct forkd_spawn_opts	 o;
	int			 all, zombies;

	EXPECT_OK(f, forkd_status(f, &a));
	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.cwd = "/nonexistent-forkd-test-dir";
	expect_spawn_error(f, &o, -ENOENT, "chdir");
	EXPECT_OK(f, forkd_status(f, &b));
	if (b->spawn_failures < a->spawn_failures + 1)
		fail_msg("spawn_failures %llu -> %llu after a failed spawn",
		    (unsigned long long)a->spawn_failures,
		    (unsigned long long)b->spawn_failures);
	/* The error reply goes out before forkd reaps the failed child, and
	 * status counts children until they are reaped: give it time. */
	for (int64_t end = harness_now_ms() + 3000 * harness_slow();
	    b->children != 0 && harness_now_ms() < end;) {
		harness_sleep_ms(20);
		forkd_status_free(b);
		EXPECT_OK(f, forkd_status(f, &b));
	}
	if (b->children != 0)
		fail_msg("status shows %u children 3 s after only failed "
		    "spawns", b->children);
	forkd_status_free(a);
	forkd_status_free(b);
	/* The failed children were reaped. */
	for (int64_t end = harness_now_ms() + 3000 * harness_slow();;) {
		harness_children(H.h_pid, &all, &zombies);
		if (all == 0 || harness_now_ms() > end)
			break;
		harness_sleep_ms(20);
	}
	if (all != 0)
		fail_msg("forkd has %d child processes (%d zombies) after only "
		    "failed spawns", all, zombies);
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
		cmocka_unit_test(test_unknown_target),
		cmocka_unit_test(test_bad_cwd),
		cmocka_unit_test(test_bad_exec),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_failures_counted),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_spawn_errors", tests,
	    group_setup, group_teardown);
}
