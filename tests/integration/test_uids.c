/* test_uids.c: a client of another uid sees and touches only its own
 * children, and names are per uid (root only: the test drops to uid/gid
 * 65534 and 65533 in forked processes; skipped otherwise). */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

#define OTHER_UID	65534
#define THIRD_UID	65533

static struct harness	H;
static unsigned char	key[64];
static size_t		keylen;

/* Results the unprivileged process reports through a pipe. */
struct other_report {
	int	connect;	/* forkd_connect_key */
	int	listed_root;	/* root's child in its list? */
	int	sig;		/* forkd_terminate of root's child */
	int	wait;		/* forkd_wait on root's child */
	int	sig_name;	/* forkd_signal by name of root's child */
	int	spawn;		/* its own spawn */
	pid_t	own_pid;
	int	own_exit;	/* exit event of its own child */
	int	hist_wait;	/* wait on root's ended child (history) */
	char	errmsg[FORKD_ERRMSG_MAX];
	int	same_name;	/* its own spawn named like root's child */
	int	same_name_sig;	/* SIGKILL to that name */
	int	same_name_exit;	/* the exit event that follows */
	char	sig_name_msg[FORKD_ERRMSG_MAX];
};

/* In the forked process: drop to OTHER_UID and try things. */
static void
other_client(int wfd, pid_t root_child, pid_t root_ended)
{
	struct other_report	 rep;
	struct forkd		*f = NULL;
	struct forkd_child	*v = NULL;
	struct forkd_exit	 ev;
	struct forkd_spawn_opts	 o;
	const char		*ex[] = { "bench:exit", "33", NULL };
	const char		*sl[] = { "bench:sleep", "30", NULL };
	size_t			 n = 0;

	memset(&rep, 0, sizeof rep);
	if (setgroups(0, NULL) != 0 || setgid(OTHER_UID) != 0 ||
	    setuid(OTHER_UID) != 0)
		_exit(3);
	rep.connect = forkd_connect_key(&f, H.h_sock, key, keylen);
	if (rep.connect != 0)
		goto out;
	if (forkd_list(f, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (v[i].pid == root_child)
				rep.listed_root = 1;
		free(v);
	}
	rep.sig = forkd_terminate(f, root_child);
	rep.wait = forkd_wait(f, root_child, NULL, 0, &ev);
	rep.sig_name = forkd_signal(f, 0, "root-owned", SIGKILL);
	snprintf(rep.sig_name_msg, sizeof rep.sig_name_msg, "%s",
	    forkd_errmsg(f));
	rep.hist_wait = forkd_wait(f, root_ended, NULL, 0, &ev);
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = ex;
	o.name = "other-owned";
	rep.spawn = forkd_spawn(f, &o, &rep.own_pid, NULL, 0);
	snprintf(rep.errmsg, sizeof rep.errmsg, "%s", forkd_errmsg(f));
	if (rep.spawn == 0) {
		rep.own_exit = forkd_wait_exit_event(f, 10000, &ev) == 0 ?
		    ev.exitcode : -1000;
	}
	/* Names are per uid: root's "root-owned" neither blocks the name
	 * nor is what the name means here. */
	o.target = "bench:sleep";
	o.argv = sl;
	o.name = "root-owned";
	rep.same_name = forkd_spawn(f, &o, NULL, NULL, 0);
	if (rep.same_name == 0) {
		rep.same_name_sig = forkd_signal(f, 0, "root-owned", SIGKILL);
		rep.same_name_exit = forkd_wait_exit_event(f, 10000, &ev) ==
		    0 ? ev.exitcode : -1000;
	}
	forkd_close(f);
out:
	if (write(wfd, &rep, sizeof rep) != (ssize_t)sizeof rep)
		_exit(4);
	_exit(0);
}

static void
test_other_uid(void **state)
{
	struct forkd		*f;
	struct forkd_spawn_opts	 o;
	struct other_report	 rep;
	struct forkd_exit	 ev;
	const char		*sl[] = { "bench:sleep", "30", NULL };
	const char		*ex[] = { "bench:exit", "1", NULL };
	pid_t			 root_child, root_ended, pid;
	int			 pp[2], st;

	if (geteuid() != 0)
		skip();
	f = harness_connect(&H);
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = ex;
	EXPECT_OK(f, forkd_spawn(f, &o, &root_ended, NULL, 0));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	o.target = "bench:sleep";
	o.argv = sl;
	o.name = "root-owned";
	EXPECT_OK(f, forkd_spawn(f, &o, &root_child, NULL, 0));

	harness_pipe(pp);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pp[0]);
		other_client(pp[1], root_child, root_ended);
	}
	close(pp[1]);
	memset(&rep, 0, sizeof rep);
	if (read(pp[0], &rep, sizeof rep) != (ssize_t)sizeof rep) {
		waitpid(pid, &st, 0);
		fail_msg("unprivileged client process failed (status %#x)", st);
	}
	close(pp[0]);
	waitpid(pid, &st, 0);

	if (rep.connect != 0)
		fail_msg("uid %d could not connect to a 0666 socket: %d (%s)",
		    OTHER_UID, rep.connect, forkd_strerror(rep.connect));
	if (rep.listed_root)
		fail_msg("uid %d sees root's child %d in its list", OTHER_UID,
		    (int)root_child);
	EXPECT_INT(rep.sig, -EPERM, "uid 65534 terminating root's child");
	/* By name: not even whether root has a child of that name. */
	EXPECT_INT(rep.sig_name, -ESRCH,
	    "uid 65534 killing root's child by name");
	if (strstr(rep.sig_name_msg, "no child named 'root-owned'") == NULL)
		fail_msg("uid 65534 killing root's child by name: errmsg "
		    "\"%s\"", rep.sig_name_msg);
	EXPECT_INT(rep.wait, -EPERM, "uid 65534 waiting on root's child");
	EXPECT_INT(rep.hist_wait, -EPERM,
	    "uid 65534 waiting on root's ended child (history)");
	if (rep.spawn != 0)
		fail_msg("uid %d spawn: %d (%s) \"%s\"", OTHER_UID, rep.spawn,
		    forkd_strerror(rep.spawn), rep.errmsg);
	EXPECT_INT(rep.own_exit, 33, "exitcode of uid 65534's own child");
	EXPECT_INT(rep.same_name, 0, "uid 65534 spawning a child named like "
	    "root's running one");
	EXPECT_INT(rep.same_name_sig, 0, "uid 65534 killing its own "
	    "'root-owned' by name");
	EXPECT_INT(rep.same_name_exit, -SIGKILL, "exitcode of uid 65534's "
	    "own 'root-owned'");
	/* Root's child survived all that. */
	EXPECT_INT(harness_pid_state(root_child), 1,
	    "root's child after uid 65534's attempts (1 = running)");

	/* Root sees the other uid's ended child in the history, by pid and,
	 * having no child of its own of that name, by name. */
	EXPECT_OK(f, forkd_wait(f, rep.own_pid, NULL, 0, &ev));
	EXPECT_INT(ev.exitcode, 33, "root waiting on uid 65534's ended child");
	EXPECT_OK(f, forkd_wait(f, 0, "other-owned", 0, &ev));
	EXPECT_INT(ev.pid, rep.own_pid, "root waiting on 'other-owned'");
	/* "root-owned" is root's own, not uid 65534's ended one. */
	EXPECT_ERR(f, forkd_wait(f, 0, "root-owned", 0, &ev), -ETIMEDOUT);
	EXPECT_OK(f, forkd_kill(f, root_child));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of root's child");
	forkd_close(f);
}

/* Fork a process that drops to uid, spawns a bench:sleep 30 named name
 * (NULL: forkd picks) without the daemon flag, so that it outlives the
 * process, and exits. Returns the child's pid. */
static pid_t
spawn_as(uid_t uid, const char *name)
{
	int	pp[2], st;
	pid_t	pid, child = 0;

	harness_pipe(pp);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct forkd		*g = NULL;
		struct forkd_spawn_opts	 o;
		const char		*sl[] = { "bench:sleep", "30", NULL };
		pid_t			 c = -1;

		if (setgroups(0, NULL) != 0 || setgid(uid) != 0 ||
		    setuid(uid) != 0)
			_exit(3);
		if (forkd_connect_key(&g, H.h_sock, key, keylen) != 0)
			_exit(4);
		forkd_spawn_opts_init(&o);
		o.target = "bench:sleep";
		o.argv = sl;
		o.name = name;
		if (forkd_spawn(g, &o, &c, NULL, 0) != 0)
			_exit(5);
		(void)!write(pp[1], &c, sizeof c);
		_exit(0);
	}
	close(pp[1]);
	if (read(pp[0], &child, sizeof child) != (ssize_t)sizeof child) {
		waitpid(pid, &st, 0);
		fail_msg("spawner of uid %u failed (status %#x)", (unsigned)uid,
		    st);
	}
	close(pp[0]);
	waitpid(pid, &st, 0);
	return child;
}

/* What the uid that fills its history saw. */
struct hist_report {
	int	err;		/* first failure, or 0 */
	int	first_wait;	/* wait on its first child: flushed by its own */
	int	last_wait;	/* wait on its last child: remembered */
	int	last_exit;
	pid_t	last;
};

/* The exit history is per uid: another uid ending SPAWN_HISTORY + 76
 * children pushes out its own oldest records, not root's. */
static void
test_history_per_uid(void **state)
{
	struct hist_report	 rep;
	struct forkd		*f;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	const char		*ex[] = { "bench:exit", "33", NULL };
	pid_t			 mine, pid;
	int			 pp[2], st;

	if (geteuid() != 0)
		skip();
	f = harness_connect(&H);
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = ex;
	EXPECT_OK(f, forkd_spawn(f, &o, &mine, NULL, 0));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));

	harness_pipe(pp);
	if ((pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		struct forkd	*g = NULL;
		pid_t		 first = 0, last = 0, c;
		int		 r;

		memset(&rep, 0, sizeof rep);
		if (setgroups(0, NULL) != 0 || setgid(OTHER_UID) != 0 ||
		    setuid(OTHER_UID) != 0)
			_exit(3);
		if ((rep.err = forkd_connect_key(&g, H.h_sock, key,
		    keylen)) != 0)
			goto out;
		forkd_spawn_opts_init(&o);
		o.target = "bench:noop";
		for (int i = 0; i < 1100; i++) {
			while ((r = forkd_spawn(g, &o, &c, NULL, 0)) ==
			    -EAGAIN)	/* max_spawn_rate */
				harness_sleep_ms(50);
			if (r != 0 || (r = forkd_wait_exit_event(g, 10000,
			    &ev)) != 0) {
				rep.err = r;
				goto out;
			}
			if (first == 0)
				first = c;
			last = c;
		}
		rep.last = last;
		rep.first_wait = forkd_wait(g, first, NULL, 0, &ev);
		rep.last_wait = forkd_wait(g, last, NULL, 0, &ev);
		rep.last_exit = ev.exitcode;
		forkd_close(g);
out:
		(void)!write(pp[1], &rep, sizeof rep);
		_exit(0);
	}
	close(pp[1]);
	if (read(pp[0], &rep, sizeof rep) != (ssize_t)sizeof rep) {
		waitpid(pid, &st, 0);
		fail_msg("the uid %d client failed (status %#x)", OTHER_UID,
		    st);
	}
	close(pp[0]);
	waitpid(pid, &st, 0);
	EXPECT_INT(rep.err, 0, "uid 65534 spawning 1100 children");
	EXPECT_INT(rep.first_wait, -ESRCH, "uid 65534's first of 1100 ended "
	    "children (past its own 1024)");
	EXPECT_INT(rep.last_wait, 0, "uid 65534's last ended child");
	EXPECT_INT(rep.last_exit, 0, "its exitcode");
	/* Root's record survived the other uid's 1100. */
	EXPECT_OK(f, forkd_wait(f, mine, NULL, 0, &ev));
	EXPECT_INT(ev.pid, mine, "pid of root's remembered child");
	EXPECT_INT(ev.exitcode, 33, "exitcode of root's remembered child");
	/* Root's ps -a merges the uids' histories, newest first. */
	{
		struct forkd_child	*v = NULL;
		size_t			 n = 0, i, ended = 0;
		uint64_t		 prev = UINT64_MAX;

		EXPECT_OK(f, forkd_list_ex(f, FORKD_LIST_ENDED, &v, &n));
		for (i = 0; i < n && !v[i].ended; i++)
			;
		if (i == n)
			fail_msg("root's ps -a lists no ended child");
		EXPECT_INT(v[i].pid, rep.last, "newest ended child in root's "
		    "list (uid 65534's last)");
		for (; i < n; i++) {
			if (!v[i].ended)
				continue;
			ended++;
			if (v[i].ended_unix_ms > prev)
				fail_msg("ended records out of order at %zu", i);
			prev = v[i].ended_unix_ms;
		}
		if (ended < 100)
			fail_msg("root's ps -a lists %zu ended children", ended);
		free(v);
	}
	forkd_close(f);
}

/* Root lists another uid's running child, with its owner uid. */
static void
test_root_sees_all(void **state)
{
	struct forkd		*f;
	struct forkd_child	*v = NULL;
	size_t			 n = 0, i;
	pid_t			 child;

	if (geteuid() != 0)
		skip();
	child = spawn_as(OTHER_UID, NULL);
	f = harness_connect(&H);
	EXPECT_OK(f, forkd_list(f, &v, &n));
	for (i = 0; i < n && v[i].pid != child; i++)
		;
	if (i == n)
		fail_msg("root's list lacks uid %d's child %d", OTHER_UID,
		    (int)child);
	EXPECT_INT(v[i].owner_uid, OTHER_UID, "owner_uid of the child");
	EXPECT_INT(v[i].owned, 0, "owned flag for root");
	free(v);
	EXPECT_OK(f, forkd_kill(f, child));
	EXPECT_OK(f, forkd_wait(f, child, NULL, 10000, NULL));
	forkd_close(f);
}

/* Two other uids each run a child "dup": root, with none of its own, must
 * say which by pid; with one left, the name finds it; once root has its
 * own "dup", the name means root's. */
static void
test_root_names(void **state)
{
	struct forkd		*f;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	const char		*sl[] = { "bench:sleep", "30", NULL };
	pid_t			 a, b, mine;

	if (geteuid() != 0)
		skip();
	a = spawn_as(OTHER_UID, "dup");
	b = spawn_as(THIRD_UID, "dup");
	f = harness_connect(&H);
	EXPECT_ERR(f, forkd_signal(f, 0, "dup", 0), -EINVAL);
	EXPECT_CONTAINS(forkd_errmsg(f), "2 children of other uids are named "
	    "'dup': give the pid", "errmsg of an ambiguous name");
	{
		/* Waits on several children resolve names the same way. */
		pid_t		 pz[2] = { a, 0 };
		const char	*nm[2] = { NULL, "dup" };

		EXPECT_ERR(f, forkd_wait_refs(f, pz, nm, 2, 0, &ev), -EINVAL);
		pz[1] = b;
		EXPECT_ERR(f, forkd_wait_refs(f, pz, nm, 2, 0, &ev),
		    -ETIMEDOUT);
	}
	EXPECT_OK(f, forkd_kill(f, a));
	EXPECT_OK(f, forkd_wait(f, a, NULL, 10000 * harness_slow(), &ev));
	/* One "dup" left, uid 65533's: the name finds it. */
	EXPECT_OK(f, forkd_signal(f, 0, "dup", 0));
	EXPECT_ERR(f, forkd_wait(f, 0, "dup", 0, &ev), -ETIMEDOUT);
	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = sl;
	o.name = "dup";
	EXPECT_OK(f, forkd_spawn(f, &o, &mine, NULL, 0));
	/* Root's own "dup" is what the name means to root now. */
	EXPECT_OK(f, forkd_signal(f, 0, "dup", SIGKILL));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000 * harness_slow(), &ev));
	EXPECT_INT(ev.pid, mine, "root's own 'dup' ended");
	/* Root's ended "dup" (history) is now what the name means to root. */
	EXPECT_OK(f, forkd_wait(f, 0, "dup", 0, &ev));
	EXPECT_INT(ev.pid, mine, "root waiting on 'dup'");
	EXPECT_INT(harness_pid_state(b), 1, "uid 65533's 'dup' (1 = running)");
	EXPECT_OK(f, forkd_kill(f, b));
	EXPECT_OK(f, forkd_wait(f, b, NULL, 10000 * harness_slow(), &ev));
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
	const char	*extra[] = { "--socket-mode", "0666", NULL };
	ssize_t		 n;
	int		 fd;

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
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_other_uid),
		cmocka_unit_test(test_root_sees_all),
		cmocka_unit_test(test_history_per_uid),
		cmocka_unit_test(test_root_names),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_uids", tests,
	    group_setup, group_teardown);
}
