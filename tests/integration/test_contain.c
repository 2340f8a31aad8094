/* test_contain.c: what forkd decides at a child's creation and over its
 * life (issue 5): the pidfd in the spawn reply (CLONE_PIDFD, SCM_RIGHTS),
 * wall-clock timeouts (SIGTERM, SIGKILL after the grace, timed_out in the
 * exit event and the history), per-spawn cgroups (placement at creation,
 * limits, OOM report, removal after the exit), a new PID namespace, and
 * the validation of these fields.
 *
 * libforkd does not encode these fields yet: requests go through
 * rawclient.c. forkd runs with cgroup_root set to a fresh directory under
 * the cgroup2 mount, made and removed here; cgroup tests skip with a
 * reason when there is none or a controller is not available. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "harness.h"
#include "forkd_limits.h"
#include "rawclient.h"

static struct harness	H;
static struct rawclient	RC;
static char		conf[HARNESS_PATH_MAX + 16];
static char		cg_mount[256];		/* cgroup2 mount, or "" */
static char		cg_root[320];		/* our cgroup_root, or "" */
static char		cg_skip[512];		/* why cgroup tests skip */
static int		fds_at_start;

/* Child pids a failed test may leave running. */
static pid_t		held[16];
static int		n_held;

/* cmocka's skip() says nothing: print the reason first. */
#define skip_msg(...) do {						\
	fprintf(stderr, "SKIP: ");					\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	skip();								\
} while (0)

static void
hold(pid_t pid)
{
	if (n_held < (int)(sizeof held / sizeof held[0]))
		held[n_held++] = pid;
}

static int
cleanup(void **state)
{
	for (int i = 0; i < n_held; i++)
		kill(held[i], SIGKILL);
	n_held = 0;
	return 0;
}

/* A SpawnRequest for argv (NULL-terminated; argv[0] is the target). */
static void
req_init(Forkd__SpawnRequest *sr, const char **argv)
{
	size_t n = 0;

	forkd__spawn_request__init(sr);
	while (argv[n] != NULL)
		n++;
	sr->target = (char *)argv[0];
	sr->argv = (char **)argv;
	sr->n_argv = n;
}

/* Spawn with stdout on outfd (or none); fail the test unless it worked.
 * Returns the reply message; *ret_fd gets the fd that came with it. */
static Forkd__ServerMessage *
spawn_ok(Forkd__SpawnRequest *sr, int outfd, int *ret_fd)
{
	Forkd__ServerMessage	*m;
	uint32_t		 one = 1;
	int			 r, fd;

	if (outfd >= 0) {
		sr->fd_targets = &one;
		sr->n_fd_targets = 1;
	}
	r = rawclient_spawn(&RC, sr, outfd >= 0 ? &outfd : NULL,
	    outfd >= 0 ? 1 : 0, 10000 * harness_slow(), &m, &fd);
	if (r != 0)
		fail_msg("spawn %s: no reply: %d (%s)", sr->target, r,
		    strerror(-r));
	if (m->body_case == FORKD__SERVER_MESSAGE__BODY_RESPONSE &&
	    m->response->error == -EOPNOTSUPP && m->response->message &&
	    strstr(m->response->message, "clone3") != NULL) {
		/* valgrind, for one, makes clone3() fail with ENOSYS. */
		forkd__server_message__free_unpacked(m, NULL);
		skip_msg("forkd cannot use clone3() here (under valgrind?): "
		    "no pidfd");
	}
	if (m->body_case != FORKD__SERVER_MESSAGE__BODY_RESPONSE ||
	    m->response->error != 0 ||
	    m->response->body_case != FORKD__RESPONSE__BODY_SPAWN)
		fail_msg("spawn %s: error %d \"%s\"", sr->target,
		    m->body_case == FORKD__SERVER_MESSAGE__BODY_RESPONSE ?
		    m->response->error : -1,
		    m->body_case == FORKD__SERVER_MESSAGE__BODY_RESPONSE &&
		    m->response->message ? m->response->message : "");
	hold(m->response->spawn->pid);
	*ret_fd = fd;
	return m;
}

/* Spawn that must fail with want; returns the error message (static). */
static const char *
spawn_err(Forkd__SpawnRequest *sr, int want)
{
	static char		 msg[512];
	Forkd__ServerMessage	*m;
	int			 r, fd;

	r = rawclient_spawn(&RC, sr, NULL, 0, 10000 * harness_slow(), &m,
	    &fd);
	if (r != 0)
		fail_msg("spawn %s: no reply: %d", sr->target, r);
	if (fd >= 0)
		fail_msg("an error reply carried fd %d", fd);
	if (m->response->error != want)
		fail_msg("spawn %s: error %d \"%s\", expected %d (%s)",
		    sr->target, m->response->error, m->response->message ?
		    m->response->message : "", want, strerror(-want));
	snprintf(msg, sizeof msg, "%s", m->response->message ?
	    m->response->message : "");
	forkd__server_message__free_unpacked(m, NULL);
	return msg;
}

/* "Pid:" (or another key) of an fdinfo/status file; -1 if absent. */
static long
proc_field(const char *path, const char *key, char *rest, size_t restlen)
{
	char	line[512];
	FILE	*f;
	long	v = -1;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		v = strtol(line + strlen(key), NULL, 10);
		if (rest != NULL && restlen > 0) {
			/* The rest of the line, cut to fit (the value is
			 * short; a plain snprintf of line is a truncation
			 * warning, an error with -O2's -Werror). */
			size_t n = strcspn(line + strlen(key), "\n");

			if (n >= restlen)
				n = restlen - 1;
			memcpy(rest, line + strlen(key), n);
			rest[n] = '\0';
		}
		break;
	}
	fclose(f);
	return v;
}

/* pidfd: given only when asked, names the child, readable at its end. */
static void
check_pidfd(const char **argv)
{
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	struct pollfd		 pfd;
	char			 path[64];
	pid_t			 pid;
	int			 fd;

	req_init(&sr, argv);
	m = spawn_ok(&sr, -1, &fd);
	if (fd >= 0 || m->response->spawn->pidfd)
		fail_msg("a spawn without want_pidfd got a pidfd");
	kill(m->response->spawn->pid, SIGKILL);
	forkd__server_message__free_unpacked(m, NULL);

	req_init(&sr, argv);
	sr.want_pidfd = 1;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	if (!m->response->spawn->pidfd || fd < 0)
		fail_msg("want_pidfd: reply pidfd=%d, fd %d",
		    m->response->spawn->pidfd, fd);
	forkd__server_message__free_unpacked(m, NULL);
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	EXPECT_INT(proc_field(path, "Pid:", NULL, 0), pid,
	    "Pid: in the pidfd's fdinfo vs the reply's pid");
	pfd.fd = fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	EXPECT_INT(poll(&pfd, 1, 0), 0, "poll on the pidfd of a live child");
	kill(pid, SIGTERM);
	pfd.revents = 0;
	EXPECT_INT(poll(&pfd, 1, 5000 * harness_slow()), 1,
	    "poll on the pidfd after SIGTERM");
	close(fd);
	if (rawclient_exit(&RC, pid, 5000 * harness_slow(), &x) != 0)
		fail_msg("no exit event for %d", (int)pid);
	EXPECT_INT(x.x_exitcode, -SIGTERM, "exitcode");
	EXPECT_INT(x.x_timed_out, 0, "timed_out without a timeout");
}

static void
test_pidfd_exec(void **state)
{
	const char *argv[] = { "/bin/sleep", "30", NULL };

	check_pidfd(argv);
}

/* Module entries: created by clone3 as a fork, not CLONE_VM. */
static void
test_pidfd_entry(void **state)
{
	const char *argv[] = { "bench:sleep", "30", NULL };

	check_pidfd(argv);
}

/* A timeout: SIGTERM to the child's group, timed_out in the exit event
 * and in a later wait (the history). */
static void
test_timeout_term(void **state)
{
	const char		*argv[] = { "/bin/sleep", "100", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m;
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__WaitRequest	 wr = FORKD__WAIT_REQUEST__INIT;
	Forkd__ChildRef		 ref = FORKD__CHILD_REF__INIT, *refs[1];
	struct raw_exit		 x;
	int64_t			 t0 = harness_now_ms(), dt;
	pid_t			 pid;
	int			 fd;

	req_init(&sr, argv);
	sr.timeout_ms = 200;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	forkd__server_message__free_unpacked(m, NULL);
	if (rawclient_exit(&RC, pid, 10000 * harness_slow(), &x) != 0)
		fail_msg("sleep 100 with timeout_ms 200: no exit in 10 s");
	dt = harness_now_ms() - t0;
	EXPECT_INT(x.x_exitcode, -SIGTERM, "exitcode after the timeout");
	EXPECT_INT(x.x_timed_out, 1, "timed_out");
	EXPECT_INT(x.x_oom_killed, 0, "oom_killed");
	if (dt < 150 || dt > 5000 * harness_slow())
		fail_msg("timeout of 200 ms ended the child after %lld ms",
		    (long long)dt);

	ref.pid = pid;
	refs[0] = &ref;
	wr.children = refs;
	wr.n_children = 1;
	wr.timeout_ms = 0;
	req.body_case = FORKD__REQUEST__BODY_WAIT;
	req.wait = &wr;
	if (rawclient_call(&RC, &req, NULL, 0, 5000, &m, &fd) != 0)
		fail_msg("wait: no reply");
	if (m->response->error != 0 || m->response->wait == NULL ||
	    m->response->wait->exit == NULL)
		fail_msg("wait for an ended child: error %d \"%s\"",
		    m->response->error, m->response->message);
	EXPECT_INT(m->response->wait->exit->timed_out, 1,
	    "timed_out in the history (wait)");
	EXPECT_INT(m->response->wait->exit->exitcode, -SIGTERM,
	    "exitcode in the history");
	forkd__server_message__free_unpacked(m, NULL);
}

/* A module entry's timeout (a pool child, unless the pool is off). */
static void
test_timeout_entry(void **state)
{
	const char		*argv[] = { "bench:sleep", "100", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	pid_t			 pid;
	int			 fd;

	req_init(&sr, argv);
	sr.timeout_ms = 150;
	sr.kill_grace_ms = 5000;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	forkd__server_message__free_unpacked(m, NULL);
	if (rawclient_exit(&RC, pid, 10000 * harness_slow(), &x) != 0)
		fail_msg("bench:sleep 100 with timeout_ms 150: no exit in 10 s");
	EXPECT_INT(x.x_exitcode, -SIGTERM, "exitcode after the timeout");
	EXPECT_INT(x.x_timed_out, 1, "timed_out");
}

/* SIGTERM ignored: SIGKILL after kill_grace_ms. The timeout runs from
 * the spawn, so a SIGTERM may come before the shell has set its trap on a
 * slow machine (no "ready" then): tried again with a longer timeout. */
static void
test_timeout_kill(void **state)
{
	const char		*argv[] = { "/bin/sh", "-c",
	    "trap '' TERM; echo ready; sleep 100", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	char			 buf[64];
	int64_t			 t0, dt;
	uint32_t		 tmo;
	ssize_t			 n;
	pid_t			 pid;
	int			 p[2], fd;

	for (tmo = 300;; tmo *= 4) {
		harness_pipe(p);
		req_init(&sr, argv);
		sr.timeout_ms = tmo;
		sr.kill_grace_ms = 400;
		t0 = harness_now_ms();
		m = spawn_ok(&sr, p[1], &fd);
		close(p[1]);
		pid = m->response->spawn->pid;
		forkd__server_message__free_unpacked(m, NULL);
		n = harness_read_all(p[0], buf, sizeof buf - 1,
		    (tmo + 5000) * harness_slow());
		close(p[0]);
		buf[n > 0 ? n : 0] = '\0';
		if (rawclient_exit(&RC, pid, (tmo + 10000) * harness_slow(),
		    &x) != 0)
			fail_msg("SIGTERM-ignoring child: no exit in 10 s");
		dt = harness_now_ms() - t0;
		if (strstr(buf, "ready") != NULL || tmo >= 19200)
			break;
	}
	if (strstr(buf, "ready") == NULL)
		fail_msg("the shell never got to set its trap, even with a "
		    "timeout of %u ms", tmo);
	EXPECT_INT(x.x_exitcode, -SIGKILL, "exitcode after timeout + grace");
	EXPECT_INT(x.x_timed_out, 1, "timed_out");
	if (dt < tmo + 300)
		fail_msg("SIGKILL came %lld ms after the spawn, before "
		    "timeout %u + grace 400", (long long)dt, tmo);
}

/* Does forkd lack clone3() (valgrind)? Then cgroups take the fallback,
 * where the child joins its cgroup itself (child.c's CGROUP step). */
static int
forkd_lacks_clone3(void)
{
	const char		*argv[] = { "/bin/true", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m;
	int			 r, fd, lacks;

	req_init(&sr, argv);
	sr.want_pidfd = 1;
	r = rawclient_spawn(&RC, &sr, NULL, 0, 10000 * harness_slow(), &m,
	    &fd);
	if (r != 0)
		return 0;
	if (fd >= 0)
		close(fd);
	lacks = m->response->error == -EOPNOTSUPP && m->response->message &&
	    strstr(m->response->message, "clone3") != NULL;
	forkd__server_message__free_unpacked(m, NULL);
	return lacks;
}

/* The child's cgroup: named in the reply, the one it runs in, gone
 * after it ended. */
static void
test_cgroup_placement(void **state)
{
	const char		*argv[] = { "/bin/cat", "/proc/self/cgroup",
	    NULL };
	const char		*argv_e[] = { "bench:sleep", "0", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__CgroupSpec	 cs = FORKD__CGROUP_SPEC__INIT;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	char			 out[4096], want[600], dir[600];
	pid_t			 pid;
	int			 p[2], fd, i;

	if (cg_root[0] == '\0')
		skip_msg("%s", cg_skip);
	harness_pipe(p);
	req_init(&sr, argv);
	sr.cgroup = &cs;
	m = spawn_ok(&sr, p[1], &fd);
	close(p[1]);
	pid = m->response->spawn->pid;
	if (m->response->spawn->cgroup == NULL ||
	    m->response->spawn->cgroup[0] != '/')
		fail_msg("reply has no cgroup path");
	snprintf(want, sizeof want, "0::%s\n", m->response->spawn->cgroup);
	snprintf(dir, sizeof dir, "%s%s", cg_mount,
	    m->response->spawn->cgroup);
	if (strncmp(dir, cg_root, strlen(cg_root)) != 0)
		fail_msg("cgroup %s is not under cgroup_root %s", dir, cg_root);
	forkd__server_message__free_unpacked(m, NULL);
	harness_read_all(p[0], out, sizeof out, 5000 * harness_slow());
	close(p[0]);
	if (strstr(out, want) == NULL && forkd_lacks_clone3()) {
		/* Let forkd reap it and remove the cgroup first. */
		(void)rawclient_exit(&RC, pid, 5000 * harness_slow(), &x);
		for (i = 0; i < 100 && access(dir, F_OK) == 0; i++)
			harness_sleep_ms(20);
		skip_msg("forkd cannot use clone3() here (under valgrind?) and "
		    "the child did not join %s itself", want);
	}
	EXPECT_CONTAINS(out, want, "the child's /proc/self/cgroup");
	if (rawclient_exit(&RC, pid, 5000 * harness_slow(), &x) != 0)
		fail_msg("no exit event");
	EXPECT_INT(x.x_exitcode, 0, "cat's exitcode");
	EXPECT_INT(x.x_oom_killed, 0, "oom_killed");
	for (i = 0; i < 100 && access(dir, F_OK) == 0; i++)
		harness_sleep_ms(20);
	if (access(dir, F_OK) == 0)
		fail_msg("cgroup %s still exists 2 s after the child ended",
		    dir);

	/* A module entry too (clone3 as a fork), and NS_PID with it. */
	req_init(&sr, argv_e);
	sr.cgroup = &cs;
	sr.namespaces = FORKD__NAMESPACE__NS_PID;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	snprintf(dir, sizeof dir, "%s%s", cg_mount,
	    m->response->spawn->cgroup);
	forkd__server_message__free_unpacked(m, NULL);
	if (rawclient_exit(&RC, pid, 5000 * harness_slow(), &x) != 0)
		fail_msg("no exit event for bench:sleep 0");
	EXPECT_INT(x.x_exitcode, 0, "bench:sleep 0 in a cgroup and PID ns");
	for (i = 0; i < 100 && access(dir, F_OK) == 0; i++)
		harness_sleep_ms(20);
	if (access(dir, F_OK) == 0)
		fail_msg("cgroup %s still exists after the entry ended", dir);
}

/* A grandchild keeps the cgroup busy after the child was reaped: forkd
 * retries the removal until it is gone. */
static void
test_cgroup_busy_removal(void **state)
{
	const char		*argv[] = { "/bin/sh", "-c",
	    "sleep 1 & exit 0", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__CgroupSpec	 cs = FORKD__CGROUP_SPEC__INIT;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	char			 dir[600];
	pid_t			 pid;
	int			 fd, i, busy;

	if (cg_root[0] == '\0')
		skip_msg("%s", cg_skip);
	if (forkd_lacks_clone3())
		skip_msg("forkd cannot use clone3() here (under valgrind?)");
	req_init(&sr, argv);
	sr.cgroup = &cs;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	snprintf(dir, sizeof dir, "%s%s", cg_mount,
	    m->response->spawn->cgroup);
	forkd__server_message__free_unpacked(m, NULL);
	if (rawclient_exit(&RC, pid, 5000 * harness_slow(), &x) != 0)
		fail_msg("no exit event");
	EXPECT_INT(x.x_exitcode, 0, "sh's exitcode");
	busy = access(dir, F_OK) == 0;
	for (i = 0; i < 250 && access(dir, F_OK) == 0; i++)
		harness_sleep_ms(20);
	if (access(dir, F_OK) == 0)
		fail_msg("cgroup %s still exists 5 s after its grandchild's "
		    "sleep 1", dir);
	if (!busy)
		fprintf(stderr, "note: %s was gone at the exit event already\n",
		    dir);
}

/* Is controller in cgroup_root's cgroup.controllers? */
static int
cg_has(const char *ctrl)
{
	char	path[400], buf[512];
	int	fd;
	ssize_t	n;

	snprintf(path, sizeof path, "%s/cgroup.controllers", cg_root);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (char *t = strtok(buf, " \n"); t != NULL; t = strtok(NULL, " \n"))
		if (strcmp(t, ctrl) == 0)
			return 1;
	return 0;
}

/* Read a cgroup file of dir into buf (first line). */
static void
cg_read(const char *dir, const char *file, char *buf, size_t cap)
{
	char	path[700];
	FILE	*f;

	buf[0] = '\0';
	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((f = fopen(path, "re")) == NULL)
		fail_msg("cannot open %s", path);
	if (fgets(buf, (int)cap, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* memory.max, pids.max, cpu.max as asked, read back while it runs. */
static void
test_cgroup_limits(void **state)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__CgroupSpec	 cs = FORKD__CGROUP_SPEC__INIT;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	char			 dir[600], v[128];
	pid_t			 pid;
	int			 fd;

	if (cg_root[0] == '\0')
		skip_msg("%s", cg_skip);
	if (!cg_has("memory") || !cg_has("pids") || !cg_has("cpu"))
		skip_msg("no delegated memory, pids and cpu controllers in %s "
		    "(cgroup.controllers); limits cannot be tested here",
		    cg_root);
	req_init(&sr, argv);
	cs.memory_max = 64 << 20;
	cs.pids_max = 17;
	cs.cpu_quota_us = 50000;
	cs.cpu_period_us = 200000;
	sr.cgroup = &cs;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	snprintf(dir, sizeof dir, "%s%s", cg_mount,
	    m->response->spawn->cgroup);
	forkd__server_message__free_unpacked(m, NULL);
	cg_read(dir, "memory.max", v, sizeof v);
	EXPECT_STR(v, "67108864", "memory.max");
	cg_read(dir, "pids.max", v, sizeof v);
	EXPECT_STR(v, "17", "pids.max");
	cg_read(dir, "cpu.max", v, sizeof v);
	EXPECT_STR(v, "50000 200000", "cpu.max");
	kill(pid, SIGKILL);
	if (rawclient_exit(&RC, pid, 5000 * harness_slow(), &x) != 0)
		fail_msg("no exit event");
}

/* A child over its memory.max is OOM-killed and the exit event says so. */
static void
test_cgroup_oom(void **state)
{
	const char		*argv[] = { "/bin/sh", "-c",
	    "a=$(head -c 268435456 /dev/zero | tr '\\0' x); echo ${#a}",
	    NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__CgroupSpec	 cs = FORKD__CGROUP_SPEC__INIT;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	pid_t			 pid;
	int			 fd;

	if (cg_root[0] == '\0')
		skip_msg("%s", cg_skip);
	if (!cg_has("memory"))
		skip_msg("no delegated memory controller in %s "
		    "(cgroup.controllers)", cg_root);
	req_init(&sr, argv);
	cs.memory_max = 16 << 20;
	sr.cgroup = &cs;
	m = spawn_ok(&sr, -1, &fd);
	pid = m->response->spawn->pid;
	forkd__server_message__free_unpacked(m, NULL);
	if (rawclient_exit(&RC, pid, 30000 * harness_slow(), &x) != 0)
		fail_msg("no exit event");
	EXPECT_INT(x.x_oom_killed, 1, "oom_killed with memory.max 16 MiB");
}

/* Limits whose controller is not enabled: EOPNOTSUPP naming it, and no
 * cgroup made. */
static void
test_cgroup_no_controller(void **state)
{
	const char		*argv[] = { "/bin/true", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__CgroupSpec	 cs = FORKD__CGROUP_SPEC__INIT;
	const char		*msg;
	DIR			*d;
	struct dirent		*de;

	if (cg_root[0] == '\0')
		skip_msg("%s", cg_skip);
	if (cg_has("memory"))
		skip_msg("the memory controller is available here");
	req_init(&sr, argv);
	cs.memory_max = 16 << 20;
	sr.cgroup = &cs;
	msg = spawn_err(&sr, -EOPNOTSUPP);
	EXPECT_CONTAINS(msg, "memory", "error message");
	if ((d = opendir(cg_root)) == NULL)
		fail_msg("opendir %s", cg_root);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "forkd-", 6) == 0)
			fail_msg("%s/%s left after a refused spawn", cg_root,
			    de->d_name);
	closedir(d);
}

/* NS_PID: pid 1 inside, the host pid in the reply. */
static void
test_newpid(void **state)
{
	const char		*argv[] = { "/bin/sh", "-c",
	    "echo $$; exec sleep 30", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m;
	struct raw_exit		 x;
	char			 out[64], path[64], ns[128];
	size_t			 len;
	pid_t			 pid;
	int			 p[2], fd, n;

	harness_pipe(p);
	req_init(&sr, argv);
	sr.namespaces = FORKD__NAMESPACE__NS_PID;
	m = spawn_ok(&sr, p[1], &fd);
	close(p[1]);
	pid = m->response->spawn->pid;
	forkd__server_message__free_unpacked(m, NULL);
	out[0] = '\0';
	/* Only the first line: sleep keeps the pipe open. */
	for (n = 0, len = 0; n < 200 && strchr(out, '\n') == NULL; n++) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		ssize_t k;

		if (poll(&pfd, 1, 50) == 1) {
			k = read(p[0], out + len, sizeof out - 1 - len);
			if (k <= 0)
				break;
			len += (size_t)k;
			out[len] = '\0';
		}
	}
	close(p[0]);
	EXPECT_STR(out, "1\n", "$$ in a new PID namespace");
	EXPECT_INT(kill(pid, 0), 0, "kill -0 of the reply's pid");
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if (proc_field(path, "NSpid:", ns, sizeof ns) != pid)
		fail_msg("NSpid of %d: %s", (int)pid, ns);
	{
		char	*end;
		long	 a = strtol(ns, &end, 10), b = strtol(end, NULL, 10);

		if (a != pid || b != 1)
			fail_msg("NSpid: \"%s\", expected \"%d 1\"", ns,
			    (int)pid);
	}
	/* SIGTERM is ignored by a PID namespace's init without a handler;
	 * SIGKILL is not. */
	kill(pid, SIGKILL);
	if (rawclient_exit(&RC, pid, 5000 * harness_slow(), &x) != 0)
		fail_msg("no exit event");
	EXPECT_INT(x.x_exitcode, -SIGKILL, "exitcode");
}

/* Bad fields: validation errors, nothing started. */
static void
test_validation(void **state)
{
	const char		*argv[] = { "/bin/true", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__CgroupSpec	 cs = FORKD__CGROUP_SPEC__INIT;
	const char		*msg;

	req_init(&sr, argv);
	sr.namespaces = 64;
	msg = spawn_err(&sr, -EINVAL);
	EXPECT_CONTAINS(msg, "namespace", "unknown namespace bit");
	sr.namespaces = 0x80000000u | FORKD__NAMESPACE__NS_PID;
	spawn_err(&sr, -EINVAL);
	sr.namespaces = 0;
	sr.timeout_ms = LIMIT_TIMEOUT_MS_MAX + 1;
	msg = spawn_err(&sr, -EINVAL);
	EXPECT_CONTAINS(msg, "timeout_ms", "timeout above the limit");
	sr.timeout_ms = 0;
	sr.kill_grace_ms = 0xffffffffu;
	spawn_err(&sr, -EINVAL);
	sr.kill_grace_ms = 0;
	sr.cgroup = &cs;
	cs.cpu_quota_us = 50000;
	cs.cpu_period_us = 999;
	msg = spawn_err(&sr, -EINVAL);
	EXPECT_CONTAINS(msg, "cpu_period_us", "period below 1000");
	cs.cpu_period_us = 1000001;
	spawn_err(&sr, -EINVAL);
	cs.cpu_period_us = 100000;
	cs.cpu_quota_us = 999;
	msg = spawn_err(&sr, -EINVAL);
	EXPECT_CONTAINS(msg, "cpu_quota_us", "quota below 1000");
	cs.cpu_quota_us = 0;
	spawn_err(&sr, -EINVAL);	/* a period without a quota */
	if (cg_root[0] == '\0') {
		/* No cgroup root: a cgroup spawn is refused clearly. */
		cs.cpu_period_us = 0;
		spawn_err(&sr, -EOPNOTSUPP);
	}
}

/* After all of it: no pidfd, cgroup fd or pipe left in forkd. */
static void
test_no_fd_leak(void **state)
{
	const char		*argv[] = { "/bin/sleep", "0.3", NULL };
	Forkd__SpawnRequest	 sr;
	Forkd__ServerMessage	*m = NULL;
	struct rawclient	 rc2;
	int			 n, fd = -1;

	cleanup(state);
	/* A client that leaves before its pidfd reply: forkd must not keep
	 * the pidfd (nor the cgroup's fds). */
	if (rawclient_connect(&rc2, H.h_sock, H.h_key) != 0)
		fail_msg("second raw client cannot connect");
	req_init(&sr, argv);
	sr.want_pidfd = 1;
	if (rawclient_spawn(&rc2, &sr, NULL, 0, 0, &m, &fd) == 0) {
		forkd__server_message__free_unpacked(m, NULL);
		if (fd >= 0)
			close(fd);
	}
	rawclient_close(&rc2);
	n = harness_wait_fds(H.h_pid, fds_at_start, 10000 * harness_slow());
	EXPECT_INT(n, fds_at_start, "forkd's open fds after the suite");
}

/* The cgroup2 mount from /proc/self/mountinfo. */
static int
find_cgroup2(char *out, size_t outlen)
{
	char	line[1024], *sep, *f[5], *save = NULL, *p;
	FILE	*fp;
	int	i, found = 0;

	if ((fp = fopen("/proc/self/mountinfo", "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, fp) != NULL) {
		if ((sep = strstr(line, " - cgroup2 ")) == NULL)
			continue;
		*sep = '\0';
		for (i = 0, p = line; i < 5; i++, p = NULL)
			if ((f[i] = strtok_r(p, " ", &save)) == NULL)
				break;
		if (i == 5 && strlen(f[4]) < outlen) {
			snprintf(out, outlen, "%s", f[4]);
			found = 1;
		}
	}
	fclose(fp);
	return found;
}

static int
group_setup(void **state)
{
	const char	*extra[] = { "-c", conf, NULL };

	signal(SIGPIPE, SIG_IGN);
	if (!find_cgroup2(cg_mount, sizeof cg_mount))
		snprintf(cg_skip, sizeof cg_skip, "no cgroup2 file system "
		    "mounted");
	else {
		snprintf(cg_root, sizeof cg_root, "%s/forkd-test-XXXXXX",
		    cg_mount);
		if (mkdtemp(cg_root) == NULL) {
			snprintf(cg_skip, sizeof cg_skip, "cannot make a "
			    "cgroup under %s: %s", cg_mount, strerror(errno));
			cg_root[0] = '\0';
		}
	}
	if (harness_conf_new(conf, sizeof conf, "contain") != 0)
		return -1;
	harness_conf_write(conf, "# written by test_contain\n[forkd]\n"
	    "cgroup_root = %s\n", cg_root[0] ? cg_root : "none");
	if (harness_start(&H, extra) != 0)
		return -1;
	if (rawclient_connect(&RC, H.h_sock, H.h_key) != 0) {
		fprintf(stderr, "raw client cannot connect\n");
		return -1;
	}
	fds_at_start = harness_settled_fds(H.h_pid);
	return 0;
}

static int
group_teardown(void **state)
{
	cleanup(state);
	rawclient_close(&RC);
	if (H.h_pid > 0)
		harness_stop(&H);
	unlink(conf);
	if (cg_root[0] != '\0') {
		DIR		*d = opendir(cg_root);
		struct dirent	*de;
		char		 sub[700];

		/* forkd removes its cgroups; a failed test may not have. */
		while (d != NULL && (de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "forkd", 5) != 0)
				continue;
			snprintf(sub, sizeof sub, "%s/%s", cg_root,
			    de->d_name);
			fprintf(stderr, "test_contain: %s left behind\n", sub);
			rmdir(sub);
		}
		if (d != NULL)
			closedir(d);
		if (rmdir(cg_root) != 0)
			fprintf(stderr, "test_contain: rmdir %s: %s\n",
			    cg_root, strerror(errno));
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_pidfd_exec, cleanup),
		cmocka_unit_test_teardown(test_pidfd_entry, cleanup),
		cmocka_unit_test_teardown(test_timeout_term, cleanup),
		cmocka_unit_test_teardown(test_timeout_entry, cleanup),
		cmocka_unit_test_teardown(test_timeout_kill, cleanup),
		cmocka_unit_test_teardown(test_cgroup_placement, cleanup),
		cmocka_unit_test_teardown(test_cgroup_busy_removal, cleanup),
		cmocka_unit_test_teardown(test_cgroup_limits, cleanup),
		cmocka_unit_test_teardown(test_cgroup_oom, cleanup),
		cmocka_unit_test_teardown(test_cgroup_no_controller, cleanup),
		cmocka_unit_test_teardown(test_newpid, cleanup),
		cmocka_unit_test_teardown(test_validation, cleanup),
		cmocka_unit_test(test_no_fd_leak),
	};

	return cmocka_run_group_tests_name("integration_contain", tests,
	    group_setup, group_teardown);
}
