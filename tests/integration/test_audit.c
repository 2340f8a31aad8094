/* test_audit.c: every started child is logged at info with who asked, what
 * runs and the policy rule that allowed it; client strings (target, cwd)
 * reach the log escaped at every level, so no client can write a line of
 * its own or a forged "<0>" priority (issue 13 item 9, issue 16 item 16). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static struct harness	H;
static char		conf[HARNESS_PATH_MAX + 16];

/* Spawn with opts; 0 and the exit event, or the spawn's error. */
static int
run(struct forkd *f, const char *target, const char *cwd, const char *name,
    pid_t *ret_pid)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	pid_t			pid = -1;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.cwd = cwd;
	o.name = name;
	if ((r = forkd_spawn(f, &o, &pid, NULL, 0)) != 0)
		return r;
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	if (ret_pid != NULL)
		*ret_pid = pid;
	return 0;
}

/* Read forkd's whole log. */
static char *
read_log(void)
{
	static char	buf[1 << 20];
	ssize_t		n;
	int		fd;

	if ((fd = open(H.h_log, O_RDONLY | O_CLOEXEC)) < 0)
		fail_msg("%s: %s", H.h_log, strerror(errno));
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The audit line names client uid and pid, child pid and name, target and
 * rule; for a module entry and for an exec target. */
static void
test_audit_line(void **state)
{
	struct forkd	*f = harness_connect(&H);
	char		 want[512];
	pid_t		 pid;

	EXPECT_OK(f, run(f, "bench:noop", NULL, "audited", &pid));
	snprintf(want, sizeof want, "(uid %u pid %d): spawned child %d "
	    "(audited): bench:noop, allowed by allow_targets bench:n*",
	    (unsigned)getuid(), (int)getpid(), (int)pid);
	if (harness_log_count(&H, want) != 1) {
		harness_dump_log(&H);
		fail_msg("no audit line \"%s\"", want);
	}
	EXPECT_OK(f, run(f, "/bin/true", NULL, "tru", &pid));
	snprintf(want, sizeof want, "spawned child %d (tru): /bin/true, "
	    "allowed by allow_exec = yes, allow_exec_paths unset", (int)pid);
	if (harness_log_count(&H, want) != 1) {
		harness_dump_log(&H);
		fail_msg("no audit line \"%s\"", want);
	}
	forkd_close(f);
}

/* Newlines and "<0>" in a target and a cwd: forkd runs at debug level
 * here; every line of its log still starts with its own prefix, and the
 * client's bytes are there escaped. */
static void
test_escaped(void **state)
{
	struct forkd	*f = harness_connect(&H);
	const char	*target = "/no/such\n<0>forged-target\r\x1b[2J";
	const char	*cwd = "/no/such\n<0>forged-cwd";
	char		*log, *line;
	int		 r;

	r = run(f, target, NULL, NULL, NULL);
	if (r == 0)
		fail_msg("spawn of %s succeeded", "/no/such...");
	r = run(f, "bench:noop", cwd, NULL, NULL);
	if (r == 0)
		fail_msg("spawn with cwd /no/such... succeeded");
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	harness_sleep_ms(200);
	log = read_log();
	if (strstr(log, "\\x0a<0>forged-target\\x0d\\x1b[2J") == NULL ||
	    strstr(log, "\\x0a<0>forged-cwd") == NULL) {
		harness_dump_log(&H);
		fail_msg("the escaped target and cwd are not in the log");
	}
	for (line = log; *line != '\0'; line = strchr(line, '\n') + 1) {
		/* Lines are "YYYY-MM-DD hh:mm:ss forkd[PID]: level: ...". */
		if (strncmp(line, "20", 2) != 0 || strchr(line, '\n') == NULL) {
			harness_dump_log(&H);
			fail_msg("a log line of the client's making: \"%.60s\"",
			    line);
		}
		if (memchr(line, '\r', (size_t)(strchr(line, '\n') - line)) !=
		    NULL || memchr(line, '\x1b', (size_t)(strchr(line, '\n') -
		    line)) != NULL)
			fail_msg("a raw control byte in \"%.60s\"", line);
	}
}

static int
group_setup(void **state)
{
	const char	*extra[] = { "-v", "-c", conf, NULL };

	/* The plain log format, also when the tests run under systemd
	 * (CI runners): forkd would take journald's otherwise. */
	unsetenv("INVOCATION_ID");
	unsetenv("JOURNAL_STREAM");
	if (harness_conf_new(conf, sizeof conf, "audit") != 0)
		return -1;
	harness_conf_write(conf, "[policy]\nallow_targets = bench:n* "
	    "bench:exit pi:* testing:*\n");
	return harness_start(&H, extra);
}

static int
group_teardown(void **state)
{
	harness_stop_ok(&H);
	unlink(conf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_line),
		cmocka_unit_test(test_escaped),
	};

	return cmocka_run_group_tests_name("integration_audit", tests,
	    group_setup, group_teardown);
}
