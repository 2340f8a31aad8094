/* test_nonroot.c: forkd running as a user with no capabilities, as under
 * the shipped unit (run as root, the test drops to uid/gid 65534 first).
 * drop_caps succeeds there, dropping what can be dropped: the child has no
 * capability in any set, and no_new_privs stands in for the bounding set
 * it cannot empty (issue 13 item 8). */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#define OTHER_UID	65534

static struct harness	H;

/* Run target argv with drop_caps; its stdout, and the spawn's result. */
static int
run_caps(struct forkd *f, const char *const *argv, char *out, size_t cap)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	pid_t			pid;
	int			p[2], r;

	harness_pipe(p);
	forkd_spawn_opts_init(&o);
	o.target = argv[0];
	o.argv = argv;
	o.drop_caps = 1;
	o.stdout_fd = p[1];
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	close(p[1]);
	out[0] = '\0';
	if (r == 0) {
		(void)harness_read_all(p[0], out, cap, 10000);
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
		EXPECT_INT(ev.exitcode, 0, "exitcode of the drop_caps child");
	}
	close(p[0]);
	return r;
}

/* Is "Key:\t<want>" a line of the status text? */
static void
expect_field(const char *text, const char *key, const char *want)
{
	char line[128];

	snprintf(line, sizeof line, "\n%s:\t%s\n", key, want);
	if (strstr(text, line) == NULL)
		fail_msg("%s is not %s in the child's status:\n%s", key, want,
		    text);
}

/* drop_caps for a module entry and an exec target. */
static void
test_drop_caps_nonroot(void **state)
{
	static const char *const mod[] = { "testing:cat",
	    "/proc/self/status", NULL };
	static const char *const ex[] = { "/bin/cat", "/proc/self/status",
	    NULL };
	const char *const	*argvs[] = { mod, ex };
	struct forkd		*f = harness_connect(&H);
	char			 out[8192];
	int			 r;

	for (int i = 0; i < 2; i++) {
		r = run_caps(f, argvs[i], out, sizeof out);
		if (r != 0)
			fail_msg("%s with drop_caps, forkd as uid %u: %d (%s) "
			    "\"%s\"", argvs[i][0], (unsigned)geteuid(), r,
			    forkd_strerror(r), forkd_errmsg(f));
		expect_field(out, "CapInh", "0000000000000000");
		expect_field(out, "CapPrm", "0000000000000000");
		expect_field(out, "CapEff", "0000000000000000");
		expect_field(out, "CapAmb", "0000000000000000");
		expect_field(out, "NoNewPrivs", "1");
	}
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

static int
group_setup(void **state)
{
	/* /tmp: the other uid cannot write to root's TMPDIR. */
	if (geteuid() == 0 && (setenv("TMPDIR", "/tmp", 1) != 0 ||
	    setgroups(0, NULL) != 0 || setgid(OTHER_UID) != 0 ||
	    setuid(OTHER_UID) != 0))
		return -1;
	return harness_start(&H, NULL);
}

static int
group_teardown(void **state)
{
	harness_stop_ok(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_caps_nonroot),
	};

	return cmocka_run_group_tests_name("integration_nonroot", tests,
	    group_setup, group_teardown);
}
