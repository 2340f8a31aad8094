/* test_sandbox.c: forkd's default features under the seccomp filter of
 * its shipped unit (issue 13), approximated without systemd as PID 1 by
 * tests/integration/seccomp_wrap.c (see there for what it approximates):
 *   - clone3: clone3() fails with ENOSYS, as under RestrictNamespaces=;
 *   - unit: that, plus RestrictNamespaces=yes and
 *     SystemCallFilter=~@privileged, and as root PrivateNetwork=,
 *     PrivateMounts= and CapabilityBoundingSet= (no capabilities).
 * In each: forkd says clone3 is unavailable; the zygote makes the pool
 * (clone(CLONE_PARENT)), a spawn is served by a pool child, --pidfd works
 * (clone(CLONE_PIDFD)), and exec and module targets run. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

/* forkd has no zygote in ASan builds (daemon/pool.c POOL_NO_ZYGOTE); the
 * tests are built with the same flags. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ZYGOTE	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ZYGOTE	0
#endif
#endif
#ifndef SANDBOX_ZYGOTE
#define SANDBOX_ZYGOTE	1
#endif

/* Run forkd under seccomp_wrap in mode; skip where the wrapper cannot. */
static int
start_wrapped(struct harness *h, const char *mode)
{
	char	out[256];
	const char *probe[] = { SECCOMP_WRAP, mode, "/bin/true", NULL };
	int	st;

	st = harness_run(probe, out, sizeof out, 5000);
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			print_message("seccomp_wrap %s: %s", mode, out);
			return 77;
		}
		fail_msg("seccomp_wrap %s /bin/true: status %d: %s", mode, st,
		    out);
	}
	setenv("SECCOMP_WRAP_EXEC", harness_forkd_bin(), 1);
	setenv("SECCOMP_WRAP_MODE", mode, 1);
	setenv("FORKD_TEST_BIN", SECCOMP_WRAP, 1);
	setenv("FORKD_TEST_POOL", "4", 1);
	if (harness_start(h, NULL) != 0)
		fail_msg("forkd did not start under seccomp_wrap %s", mode);
	unsetenv("FORKD_TEST_BIN");
	unsetenv("SECCOMP_WRAP_MODE");
	unsetenv("SECCOMP_WRAP_EXEC");
	return 0;
}

/* As root in unit mode: forkd has no capabilities and its own network
 * namespace (what seccomp_wrap approximates of the unit besides the
 * filter). */
static void
check_root_sandbox(pid_t pid)
{
	char		path[64], line[256];
	struct stat	a, b;
	FILE		*fp;
	int		seen = 0;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, fp) != NULL)
		if (strncmp(line, "CapBnd:", 7) == 0 ||
		    strncmp(line, "CapEff:", 7) == 0) {
			seen++;
			if (strstr(line, "0000000000000000") == NULL)
				fail_msg("forkd under seccomp_wrap unit: %s",
				    line);
		}
	fclose(fp);
	EXPECT_INT(seen, 2, "CapBnd and CapEff lines");
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	if (stat(path, &a) != 0 || stat("/proc/self/ns/net", &b) != 0)
		fail_msg("stat ns/net: %s", strerror(errno));
	if (a.st_ino == b.st_ino)
		fail_msg("forkd under seccomp_wrap unit shares our network "
		    "namespace");
}

/* Spawn target; its exit event must say want. Returns the pid. */
static pid_t
spawn_exits(struct forkd *f, const char *target, int want_pidfd, int want)
{
	struct forkd_spawn_opts	o;
	struct forkd_spawned	sp;
	struct forkd_exit	ev;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.want_pidfd = want_pidfd;
	EXPECT_OK(f, forkd_spawn_ex(f, &o, &sp));
	if (want_pidfd) {
		struct pollfd pfd = { sp.pidfd, POLLIN, 0 };

		if (sp.pidfd < 0)
			fail_msg("spawn %s with want_pidfd: no pidfd", target);
		if (poll(&pfd, 1, 10000) != 1)
			fail_msg("pidfd of %s: not readable at its exit",
			    target);
		close(sp.pidfd);
	}
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, sp.pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, want, target);
	return sp.pid;
}

/* Spawn target with drop_caps: it must run and exit 0. */
static void
spawn_drop_caps(struct forkd *f, const char *target)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	pid_t			pid;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.drop_caps = 1;
	if ((r = forkd_spawn(f, &o, &pid, NULL, 0)) != 0)
		fail_msg("spawn %s with drop_caps: %d (%s) \"%s\"", target, r,
		    forkd_strerror(r), forkd_errmsg(f));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, 0, target);
}

/* Every default feature under the filter of mode. */
static void
run_features(const char *mode)
{
	struct harness	 h;
	struct forkd	*f;
	pid_t		 pool[16], pid;
	int		 n, found = 0;

	if (start_wrapped(&h, mode) == 77)
		skip();
	/* The zygote made the pool; it did not give up. */
	harness_wait_log(&h, SANDBOX_ZYGOTE ? "asked of the zygote" :
	    "pre-forked", 1, 5000);
	if (strcmp(mode, "unit") == 0 && geteuid() == 0)
		check_root_sandbox(h.h_pid);
	f = harness_connect(&h);
	for (int64_t end = harness_now_ms() + 5000 * harness_slow();
	    (n = harness_children_named(h.h_pid, "forkd-pool\n", pool, 16)) <
	    4 && harness_now_ms() < end;)
		harness_sleep_ms(20);
	if (n < 1)
		fail_msg("no idle pool child under seccomp_wrap %s", mode);
	if (SANDBOX_ZYGOTE && harness_children_named(h.h_pid,
	    "forkd-zygote\n", &pid, 1) != 1)
		fail_msg("no zygote under seccomp_wrap %s", mode);
	if (SANDBOX_ZYGOTE && harness_log_count(&h, "zygote") !=
	    harness_log_count(&h, "asked of the zygote"))
		fail_msg("the zygote failed under seccomp_wrap %s", mode);
	/* A module entry, served by one of the pool children. */
	pid = spawn_exits(f, "bench:noop", 0, 0);
	for (int i = 0; i < n; i++)
		found |= pool[i] == pid;
	if (!found)
		fail_msg("bench:noop ran as pid %d, not one of the %d idle pool "
		    "children", (int)pid, n);
	spawn_exits(f, "pi:hello", 0, 0);
	/* An exec target, and the pidfd (clone(CLONE_PIDFD)). */
	spawn_exits(f, "/bin/true", 0, 0);
	spawn_exits(f, "bench:noop", 1, 0);
	spawn_exits(f, "/bin/true", 1, 0);
	/* --drop-caps with nothing to drop: no capset(), which the unit's
	 * ~@privileged refuses with EPERM. */
	if (strcmp(mode, "unit") == 0 && geteuid() == 0) {
		spawn_drop_caps(f, "bench:noop");
		spawn_drop_caps(f, "/bin/true");
	}
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	/* And it says why it uses clone(). */
	harness_wait_log(&h, "clone3() is not available", 1, 5000);
	if (harness_log_count(&h, "nonsense") != 0)
		fail_msg("forkd logged 'nonsense' under seccomp_wrap %s", mode);
	if (getenv("SANDBOX_TEST_LOG") != NULL)
		harness_dump_log(&h);
	harness_stop_ok(&h);
}

/* clone3() refused with ENOSYS (RestrictNamespaces= of any kind). */
static void
test_clone3_enosys(void **state)
{
	(void)state;
	run_features("clone3");
}

/* The unit's filter, approximated (seccomp_wrap.c says how). */
static void
test_unit_filter(void **state)
{
	(void)state;
	run_features("unit");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clone3_enosys),
		cmocka_unit_test(test_unit_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
