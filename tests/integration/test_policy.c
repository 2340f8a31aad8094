/* test_policy.c: [policy] and the per-uid, rate and idle limits of
 * [limits], enforced by a real forkd started with a config file (-c) and
 * changed at run time with SIGHUP. */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define OTHER_UID	65534
#define PBUF		1024	/* paths under the harness's temp dir */

static struct harness	H;
static char		conf[HARNESS_PATH_MAX + 16];
static unsigned char	key[64];
static size_t		keylen;

/* Write the config file: a [limits] and a [policy] body. */
static void
write_conf(const char *limits, const char *policy)
{
	harness_conf_write(conf, "# written by test_policy\n[limits]\n%s\n"
	    "[policy]\n%s\n", limits, policy);
}

/* How often needle occurs in forkd's log. */
static int
log_count(const char *needle)
{
	return harness_log_count(&H, needle);
}

/* Rewrite the config, SIGHUP forkd and wait until its log says it read
 * the file (needle: the line that tells). */
static void
reload_expect(const char *limits, const char *policy, const char *needle)
{
	int before = log_count(needle);

	write_conf(limits, policy);
	if (kill(H.h_pid, SIGHUP) != 0)
		fail_msg("kill SIGHUP %d: %s", (int)H.h_pid, strerror(errno));
	for (int64_t end = harness_now_ms() + 10000; log_count(needle) <=
	    before;) {
		if (harness_now_ms() > end) {
			harness_dump_log(&H);
			fail_msg("forkd did not log \"%s\" within 10 s of "
			    "SIGHUP", needle);
		}
		harness_sleep_ms(10);
	}
}

/* Reload a good config. */
static void
reload(const char *limits, const char *policy)
{
	reload_expect(limits, policy, "SIGHUP: limits and policy re-read");
}

/* Spawn target with argv (NULL: none) and stdio to /dev/null. */
static int
spawn(struct forkd *f, const char *target, const char *const *argv,
    pid_t *ret_pid)
{
	struct forkd_spawn_opts	o;
	pid_t			pid = -1;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	r = forkd_spawn(f, &o, &pid, NULL, 0);
	if (ret_pid != NULL)
		*ret_pid = pid;
	return r;
}

/* Spawn that must succeed, then its exit event with exitcode want. */
static void
spawn_exits(struct forkd *f, const char *target, const char *const *argv,
    int want)
{
	struct forkd_exit	ev;
	char			what[128];
	pid_t			pid;

	snprintf(what, sizeof what, "spawn %s", target);
	EXPECT_OK(f, spawn(f, target, argv, &pid));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	snprintf(what, sizeof what, "exitcode of %s", target);
	EXPECT_INT(ev.exitcode, want, what);
}

/* Spawn that must fail with want and an errmsg mentioning needle. */
static void
spawn_refused(struct forkd *f, const char *target, const char *const *argv,
    int want, const char *needle)
{
	pid_t	pid = 12345;
	int	r;

	r = spawn(f, target, argv, &pid);
	if (r != want)
		fail_msg("spawn %s: returned %d (%s), errmsg \"%s\", pid %d; "
		    "expected %d (%s)", target, r, forkd_strerror(r),
		    forkd_errmsg(f), (int)pid, want, forkd_strerror(want));
	EXPECT_CONTAINS(forkd_errmsg(f), needle, "errmsg of the refused spawn");
}

/* Path of a file in the harness's temp dir. */
static const char *
tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", H.h_dir, name);
	return buf;
}

/* Does path exist? */
static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* allow_exec = no: every path target is EPERM and nothing runs; module
 * entries still run. */
static void
test_exec_refused(void **state)
{
	struct forkd	*f;
	char		 marker[PBUF], cmd[PBUF + 8];
	const char	*sh[] = { "/bin/sh", "-c", cmd, NULL };

	reload("", "allow_exec = no\n");
	f = harness_connect(&H);
	tmp_path(marker, sizeof marker, "exec-refused-marker");
	snprintf(cmd, sizeof cmd, "touch %s", marker);
	spawn_refused(f, "/bin/sh", sh, -EPERM, "allow_exec");
	spawn_refused(f, "/no/such/program", NULL, -EPERM, "allow_exec");
	harness_sleep_ms(300);
	if (exists(marker))
		fail_msg("%s exists: the refused /bin/sh ran", marker);
	spawn_exits(f, "bench:noop", NULL, 0);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* allow_targets: patterns allow, everything else is EPERM (unknown
 * modules too: a refused client learns nothing about what exists). */
static void
test_allow_targets(void **state)
{
	struct forkd	*f;
	const char	*ex[] = { "bench:exit", "7", NULL };
	const char	*sl[] = { "bench:sleep", "30", NULL };

	reload("", "allow_targets = pi:*, bench:exit\n");
	f = harness_connect(&H);
	spawn_exits(f, "pi:hello", NULL, 0);
	spawn_exits(f, "bench:exit", ex, 7);
	spawn_refused(f, "bench:noop", NULL, -EPERM, "allow_targets");
	spawn_refused(f, "bench:sleep", sl, -EPERM, "bench:sleep");
	spawn_refused(f, "nosuch:thing", NULL, -EPERM, "allow_targets");
	/* Exec targets are not module targets: still allowed here. */
	spawn_exits(f, "/bin/true", NULL, 0);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);

	/* An empty list allows no module entry. */
	reload("", "allow_targets =\n");
	f = harness_connect(&H);
	spawn_refused(f, "pi:hello", NULL, -EPERM, "allow_targets");
	forkd_close(f);
}

/* allow_exec_paths: /bin/true and programs directly in an allowed
 * directory run; /bin/sh, a symlink in the allowed directory pointing
 * outside, ../ escapes and subdirectories are EPERM, and nothing runs. */
static void
test_allow_exec_paths(void **state)
{
	struct forkd	*f;
	char		 dir[PBUF / 2], sub[PBUF], prog[PBUF], esc[PBUF];
	char		 deep[PBUF * 2], dots[PBUF], marker[PBUF];
	char		 policy[PBUF * 2], cmd[PBUF * 2];
	const char	*sh[] = { "/bin/sh", "-c", cmd, NULL };
	const char	*viaesc[] = { esc, "-c", cmd, NULL };
	const char	*viadots[] = { dots, "-c", cmd, NULL };
	FILE		*fp;

	tmp_path(dir, sizeof dir, "allowed");
	snprintf(sub, sizeof sub, "%s/sub", dir);
	snprintf(prog, sizeof prog, "%s/prog", dir);
	snprintf(esc, sizeof esc, "%s/escape", dir);
	snprintf(deep, sizeof deep, "%s/prog", sub);
	/* From the allowed dir up to / and down to /bin/sh. */
	snprintf(dots, sizeof dots, "%s/../../../../../../../../bin/sh", dir);
	tmp_path(marker, sizeof marker, "exec-paths-marker");
	snprintf(cmd, sizeof cmd, "touch %s", marker);
	if (mkdir(dir, 0755) != 0 || mkdir(sub, 0755) != 0)
		fail_msg("mkdir %s: %s", dir, strerror(errno));
	if (symlink("/bin/sh", esc) != 0)
		fail_msg("symlink %s: %s", esc, strerror(errno));
	for (int i = 0; i < 2; i++) {
		if ((fp = fopen(i == 0 ? prog : deep, "w")) == NULL)
			fail_msg("fopen: %s", strerror(errno));
		fprintf(fp, "#!/bin/sh\nexit %d\n", 40 + i);
		fclose(fp);
		chmod(i == 0 ? prog : deep, 0755);
	}

	snprintf(policy, sizeof policy, "allow_exec = yes\n"
	    "allow_exec_paths = /bin/true %s/\n", dir);
	reload("", policy);
	f = harness_connect(&H);
	spawn_exits(f, "/bin/true", NULL, 0);
	spawn_exits(f, prog, NULL, 40);
	spawn_refused(f, "/bin/sh", sh, -EPERM, "allow_exec_paths");
	spawn_refused(f, esc, viaesc, -EPERM, "allow_exec_paths");
	spawn_refused(f, dots, viadots, -EPERM, "allow_exec_paths");
	spawn_refused(f, deep, NULL, -EPERM, "allow_exec_paths");
	/* Outside the allowed places a missing file is EPERM too. */
	spawn_refused(f, "/no/such/program", NULL, -EPERM, "allow_exec_paths");
	/* Inside, the real error. */
	snprintf(cmd, sizeof cmd, "%s/missing", dir);
	spawn_refused(f, cmd, NULL, -ENOENT, "No such file");
	harness_sleep_ms(300);
	if (exists(marker))
		fail_msg("%s exists: a refused shell ran", marker);
	/* Module entries are not exec paths. */
	spawn_exits(f, "bench:noop", NULL, 0);
	forkd_close(f);
	unlink(esc);
	unlink(prog);
	unlink(deep);
	rmdir(sub);
	rmdir(dir);
}

/* Spawn target with argv and env, wait for its exit: the exitcode, or
 * the spawn's error (negative) with the errmsg in errbuf. */
static int
spawn_env(struct forkd *f, const char *target, const char *const *argv,
    const char *const *env, char *errbuf, size_t errlen)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	pid_t			pid = -1;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	o.env = env;
	if ((r = forkd_spawn(f, &o, &pid, NULL, 0)) != 0) {
		snprintf(errbuf, errlen, "%s", forkd_errmsg(f));
		return r;
	}
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	return ev.exitcode;
}

/* The environment is part of what runs: under allow_exec_paths the
 * loader's and interpreters' variables are refused (LD_PRELOAD would run
 * any code inside an allowed program); allow_env narrows names further,
 * the refused name is in the error; an unsafe name needs an exact
 * allow_env entry; an unrestricted policy refuses nothing. */
static void
test_allow_env(void **state)
{
	struct forkd	*f;
	char		 marker[PBUF], cmd[PBUF * 2], err[FORKD_ERRMSG_MAX];
	char		 got[64] = "";
	const char	*sh[] = { "/bin/sh", "-c", cmd, NULL };
	const char	*unsafe[] = { "LD_PRELOAD=/tmp/evil.so",
	    "LD_AUDIT=/tmp/evil.so", "LD_LIBRARY_PATH=/tmp", "GCONV_PATH=/tmp",
	    "BASH_ENV=/tmp/evil.sh", "PYTHONPATH=/tmp", "PERL5OPT=-Mevil",
	    "NODE_OPTIONS=--require=/tmp/x.js", "PATH=/tmp", NULL };
	int		 r, fd;

	tmp_path(marker, sizeof marker, "allow-env-marker");
	snprintf(cmd, sizeof cmd, "printf %%s \"$FOO_X\" > %s", marker);
	reload("", "allow_exec = yes\nallow_exec_paths = /bin/true /bin/sh\n");
	f = harness_connect(&H);
	for (int i = 0; unsafe[i] != NULL; i++) {
		const char	*env[] = { "LANG=C", unsafe[i], NULL };
		char		 name[32];

		snprintf(name, sizeof name, "%.*s",
		    (int)strcspn(unsafe[i], "="), unsafe[i]);
		r = spawn_env(f, "/bin/true", NULL, env, err, sizeof err);
		if (r != -EPERM)
			fail_msg("%s under allow_exec_paths: %d (%s), expected "
			    "EPERM", unsafe[i], r, forkd_strerror(r));
		EXPECT_CONTAINS(err, name, "errmsg names the refused variable");
		EXPECT_CONTAINS(err, "allow_env", "errmsg names the setting");
	}
	{
		const char *env[] = { "FOO_X=plain", "LANG=C", NULL };

		EXPECT_INT(spawn_env(f, "/bin/sh", sh, env, err, sizeof err), 0,
		    "exitcode with harmless variables under allow_exec_paths");
	}
	forkd_close(f);

	/* allow_env: only these names; LD_LIBRARY_PATH named exactly. */
	reload("", "allow_exec = yes\nallow_exec_paths = /bin/true /bin/sh\n"
	    "allow_env = FOO_* LD_LIBRARY_PATH\n");
	f = harness_connect(&H);
	{
		const char *env[] = { "FOO_X=allowed", "LD_LIBRARY_PATH=/nope",
		    NULL };
		const char *bad[] = { "FOO_X=1", "BAR=1", NULL };
		const char *pre[] = { "LD_PRELOAD=/tmp/evil.so", NULL };

		EXPECT_INT(spawn_env(f, "/bin/sh", sh, env, err, sizeof err), 0,
		    "exitcode with variables allow_env lists");
		if ((fd = open(marker, O_RDONLY)) < 0)
			fail_msg("%s: %s: the allowed spawn did not run",
			    marker, strerror(errno));
		(void)!read(fd, got, sizeof got - 1);
		close(fd);
		EXPECT_STR(got, "allowed", "FOO_X as the child saw it");
		r = spawn_env(f, "/bin/true", NULL, bad, err, sizeof err);
		EXPECT_INT(r, -EPERM, "BAR, not in allow_env");
		EXPECT_CONTAINS(err, "env[1]: variable BAR is not in policy "
		    "allow_env", "errmsg of a name allow_env does not list");
		r = spawn_env(f, "/bin/true", NULL, pre, err, sizeof err);
		EXPECT_INT(r, -EPERM, "LD_PRELOAD, not in allow_env");
		EXPECT_CONTAINS(err, "LD_PRELOAD", "errmsg names LD_PRELOAD");
	}
	forkd_close(f);

	/* A wildcard does not allow an unsafe name; module targets
	 * restricted by allow_targets count as restricted too. */
	reload("", "allow_targets = bench:*\nallow_env = *\n");
	f = harness_connect(&H);
	{
		const char *pre[] = { "LD_PRELOAD=/tmp/evil.so", NULL };
		const char *ok[] = { "ANYTHING=1", NULL };

		r = spawn_env(f, "bench:noop", NULL, pre, err, sizeof err);
		EXPECT_INT(r, -EPERM, "LD_PRELOAD with allow_env = *");
		EXPECT_CONTAINS(err, "LD_PRELOAD", "errmsg names LD_PRELOAD");
		EXPECT_INT(spawn_env(f, "bench:noop", NULL, ok, err,
		    sizeof err), 0, "exitcode of bench:noop with ANYTHING=1");
	}
	forkd_close(f);

	/* No restriction: the key holder's choice, as before. */
	reload("", "allow_exec = yes\n");
	f = harness_connect(&H);
	{
		const char *env[] = { "LD_PRELOAD=", "PYTHONPATH=/tmp", NULL };

		EXPECT_INT(spawn_env(f, "/bin/true", NULL, env, err,
		    sizeof err), 0, "exitcode with LD_PRELOAD= unrestricted");
	}
	forkd_close(f);
	unlink(marker);
}

/* What the process running as OTHER_UID saw. */
struct other_report {
	int	connect;
	int	ping;
	int	spawn;
	int	ping2;		/* the connection stays open */
	char	errmsg[FORKD_ERRMSG_MAX];
};

/* Fork, drop to OTHER_UID, connect, ping, spawn, ping; report. */
static void
run_other(struct other_report *rep)
{
	int	pp[2], st;
	pid_t	pid;

	memset(rep, 0, sizeof *rep);
	harness_pipe(pp);
	if ((pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		struct forkd	*g = NULL;

		close(pp[0]);
		if (setgroups(0, NULL) != 0 || setgid(OTHER_UID) != 0 ||
		    setuid(OTHER_UID) != 0)
			_exit(3);
		rep->connect = forkd_connect_key(&g, H.h_sock, key, keylen);
		if (rep->connect == 0) {
			rep->ping = forkd_ping(g);
			snprintf(rep->errmsg, sizeof rep->errmsg, "%s",
			    forkd_errmsg(g));
			rep->spawn = spawn(g, "bench:noop", NULL, NULL);
			rep->ping2 = forkd_ping(g);
			forkd_close(g);
		}
		(void)!write(pp[1], rep, sizeof *rep);
		_exit(0);
	}
	close(pp[1]);
	if (read(pp[0], rep, sizeof *rep) != (ssize_t)sizeof *rep) {
		waitpid(pid, &st, 0);
		fail_msg("the uid %d client process failed (status %#x)",
		    OTHER_UID, st);
	}
	close(pp[0]);
	waitpid(pid, &st, 0);
}

/* allow_uids: a uid not listed gets EPERM for every request, on an open
 * connection; listing it with SIGHUP lets it in. */
static void
test_allow_uids(void **state)
{
	struct other_report	 rep;
	struct forkd		*f;

	if (geteuid() != 0)
		skip();
	reload("", "allow_uids = root\n");
	run_other(&rep);
	if (rep.connect != 0)
		fail_msg("uid %d could not connect: %d (%s)", OTHER_UID,
		    rep.connect, forkd_strerror(rep.connect));
	EXPECT_INT(rep.ping, -EPERM, "ping by uid 65534 not in allow_uids");
	EXPECT_CONTAINS(rep.errmsg, "allow_uids", "errmsg of the refused ping");
	EXPECT_INT(rep.spawn, -EPERM, "spawn by uid 65534 not in allow_uids");
	EXPECT_INT(rep.ping2, -EPERM, "second ping on the same connection "
	    "(-EPERM: still open)");
	f = harness_connect(&H);
	EXPECT_OK(f, forkd_ping(f));
	spawn_exits(f, "bench:noop", NULL, 0);
	forkd_close(f);

	reload("", "allow_uids = 0, 65534\n");
	run_other(&rep);
	EXPECT_INT(rep.ping, 0, "ping by uid 65534 once listed");
	EXPECT_INT(rep.spawn, 0, "spawn by uid 65534 once listed");
}

/* max_children_per_uid: the next spawn of that uid, on any connection,
 * is EAGAIN until one of its children ends. */
static void
test_children_per_uid(void **state)
{
	struct forkd		*f, *g;
	struct forkd_exit	 ev;
	const char		*sl[] = { "bench:sleep", "30", NULL };
	pid_t			 p[3];

	reload("max_children_per_uid = 2\n", "");
	f = harness_connect(&H);
	g = harness_connect(&H);
	EXPECT_OK(f, spawn(f, "bench:sleep", sl, &p[0]));
	EXPECT_OK(f, spawn(f, "bench:sleep", sl, &p[1]));
	spawn_refused(f, "bench:sleep", sl, -EAGAIN, "too many children for "
	    "uid 0 (limit 2");
	/* Per uid, not per connection. */
	spawn_refused(g, "bench:noop", NULL, -EAGAIN, "max_children_per_uid");
	if (log_count("spawn refused: too many children for uid 0") == 0)
		fail_msg("no log line for the refused spawn in %s", H.h_log);
	EXPECT_OK(f, forkd_kill(f, p[0]));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.pid, p[0], "pid of the killed child's exit event");
	EXPECT_OK(g, spawn(g, "bench:sleep", sl, &p[2]));
	EXPECT_OK(f, forkd_kill(f, p[1]));
	EXPECT_OK(g, forkd_kill(g, p[2]));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_OK(g, forkd_wait_exit_event(g, 10000, &ev));
	forkd_close(f);
	forkd_close(g);
}

/* max_spawn_rate: a burst of rate spawns, then EAGAIN, and spawns work
 * again once tokens came back. The bucket is the uid's, not the
 * connection's: another connection of the same uid (or a reconnect) gets
 * only what came back since, not a fresh burst. */
static void
test_spawn_rate(void **state)
{
	struct forkd		*f, *g;
	struct forkd_exit	 ev;
	int			 ok = 0, gok = 0, r = 0, most;
	int64_t			 t0 = 0, tb, dt;

	reload("max_spawn_rate = 5\n", "");
	g = harness_connect(&H);	/* connected before the burst */
	f = harness_connect(&H);
	tb = harness_now_ms();
	for (int i = 0; i < 40; i++) {
		t0 = harness_now_ms();
		if ((r = spawn(f, "bench:noop", NULL, NULL)) != 0)
			break;
		ok++;
	}
	if (r == 0)
		fail_msg("40 spawns in a row with max_spawn_rate 5 all "
		    "succeeded");
	EXPECT_INT(r, -EAGAIN, "spawn over max_spawn_rate");
	EXPECT_CONTAINS(forkd_errmsg(f), "spawn rate limit 5/s exceeded "
	    "for uid", "errmsg over max_spawn_rate");
	/* The burst, and what came back at 5/s while it went on. */
	most = 5 + (int)((t0 - tb + 2) * 5 / 1000);
	if (ok < 5 || ok > most)
		fail_msg("%d spawns succeeded before the rate limit in %lld ms, "
		    "expected the burst of 5 (at most %d)", ok,
		    (long long)(t0 - tb), most);
	/* The other connection: the bucket held less than one token when f
	 * was refused (after t0), and gains 5 a second since. A bucket of
	 * its own would give g the whole burst of 5. */
	for (int i = 0; i < 40; i++) {
		if ((r = spawn(g, "bench:noop", NULL, NULL)) != 0)
			break;
		gok++;
	}
	dt = harness_now_ms() - t0;
	EXPECT_INT(r, -EAGAIN, "spawn over max_spawn_rate on another "
	    "connection of the same uid");
	if (gok > 1 + (dt + 2) * 5 / 1000)
		fail_msg("a second connection of the same uid made %d spawns "
		    "within %lld ms of the first one's refusal (at 5/s, at "
		    "most %lld): it has a bucket of its own", gok,
		    (long long)dt, (long long)(1 + (dt + 2) * 5 / 1000));
	for (int i = 0; i < gok; i++)
		EXPECT_OK(g, forkd_wait_exit_event(g, 10000, &ev));
	forkd_close(g);
	/* 5/s: a token every 200 ms. */
	harness_sleep_ms(500);
	EXPECT_OK(f, spawn(f, "bench:noop", NULL, NULL));
	for (int i = 0; i <= ok; i++)
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* Wait until f's socket is readable, at most ms; 1 readable, 0 not. */
static int
readable(struct forkd *f, int ms)
{
	struct pollfd pfd = { .fd = forkd_fd(f), .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* idle_timeout_ms: an idle connection is closed with an ETIMEDOUT error;
 * one with a live child is not. */
static void
test_idle_timeout(void **state)
{
	struct forkd		*f, *g;
	struct forkd_exit	 ev;
	const char		*sl[] = { "bench:sleep", "1", NULL };
	int64_t			 t0, dt;
	int			 r;

	reload("idle_timeout_ms = 300\n", "");
	t0 = harness_now_ms();	/* f's idle time starts after this */
	f = harness_connect(&H);
	g = harness_connect(&H);
	EXPECT_OK(g, spawn(g, "bench:sleep", sl, NULL));
	if (!readable(f, 5000))
		fail_msg("an idle connection (idle_timeout_ms 300) got nothing "
		    "in 5 s");
	dt = harness_now_ms() - t0;
	r = forkd_process(f);
	EXPECT_INT(r, -ETIMEDOUT, "forkd_process on the idle connection");
	EXPECT_CONTAINS(forkd_errmsg(f), "idle", "errmsg of the idle close");
	if (dt < 250)
		fail_msg("idle connection closed after %lld ms, before the "
		    "300 ms timeout", (long long)dt);
	EXPECT_ERR(f, forkd_ping(f), -ECONNRESET);
	forkd_close(f);
	/* g owned a child for a second: still open, gets its exit event. */
	EXPECT_OK(g, forkd_wait_exit_event(g, 10000, &ev));
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:sleep 1");
	EXPECT_OK(g, forkd_ping(g));
	/* Then idle again: closed. */
	if (!readable(g, 5000))
		fail_msg("connection idle after its child ended got nothing "
		    "in 5 s");
	EXPECT_INT(forkd_process(g), -ETIMEDOUT, "forkd_process after idle");
	forkd_close(g);
	if (log_count("(idle_timeout_ms 300): closing") < 2)
		fail_msg("forkd logged %d idle closes, expected 2",
		    log_count("(idle_timeout_ms 300): closing"));

	/* Off again: a connection stays open. */
	reload("idle_timeout_ms = 0\n", "");
	f = harness_connect(&H);
	if (readable(f, 600))
		fail_msg("with idle_timeout_ms 0 forkd sent something to an "
		    "idle connection");
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

/* SIGHUP changes limits and policy of open connections; a broken file
 * keeps both as they were. */
static void
test_sighup(void **state)
{
	struct forkd		*f;
	struct forkd_exit	 ev;
	const char		*sl[] = { "bench:sleep", "30", NULL };
	pid_t			 a, b;

	reload("max_children_per_uid = 1\n", "allow_exec = no\n"
	    "allow_targets = bench:sleep\n");
	f = harness_connect(&H);
	spawn_refused(f, "/bin/true", NULL, -EPERM, "allow_exec");
	spawn_refused(f, "bench:noop", NULL, -EPERM, "allow_targets");
	EXPECT_OK(f, spawn(f, "bench:sleep", sl, &a));
	spawn_refused(f, "bench:sleep", sl, -EAGAIN, "limit 1");

	reload("max_children_per_uid = 2\n", "allow_exec = yes\n");
	spawn_exits(f, "/bin/true", NULL, 0);
	spawn_exits(f, "bench:noop", NULL, 0);
	EXPECT_OK(f, spawn(f, "bench:sleep", sl, &b));

	/* A bad file: the same connection keeps what was in force. */
	reload_expect("max_children_per_uid = 5\n", "allow_targets = pi\n",
	    "keeping the current limits and policy");
	spawn_refused(f, "bench:sleep", sl, -EAGAIN, "limit 2");
	EXPECT_OK(f, forkd_kill(f, a));
	EXPECT_OK(f, forkd_kill(f, b));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	spawn_exits(f, "/bin/true", NULL, 0);
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

static void
test_stop(void **state)
{
	reload("", "");
	harness_stop_ok(&H);
}

static int
group_setup(void **state)
{
	const char	*extra[] = { "-c", conf, "--socket-mode", "0666",
	    NULL };
	ssize_t		 n;
	int		 fd;

	if (harness_conf_new(conf, sizeof conf, "policy") != 0)
		return -1;
	write_conf("", "allow_exec = no\n");
	if (harness_start(&H, extra) != 0)
		return -1;
	/* The other uid must reach the socket in the temp dir. */
	if (chmod(H.h_dir, 0711) != 0)
		return -1;
	if ((fd = open(H.h_key, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, key, sizeof key);
	close(fd);
	if (n < 32)
		return -1;
	keylen = (size_t)n;
	return 0;
}

static int
group_teardown(void **state)
{
	if (H.h_pid > 0)
		harness_stop(&H);
	unlink(conf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_refused),
		cmocka_unit_test(test_allow_targets),
		cmocka_unit_test(test_allow_exec_paths),
		cmocka_unit_test(test_allow_uids),
		cmocka_unit_test(test_children_per_uid),
		cmocka_unit_test(test_spawn_rate),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_sighup),
		/* Last but test_stop: its refusals use up the log budget. */
		cmocka_unit_test(test_allow_env),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_policy", tests,
	    group_setup, group_teardown);
}
