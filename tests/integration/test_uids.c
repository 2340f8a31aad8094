/* test_uids.c: a client of another uid sees and touches only its own
 * children (root only: the test drops to uid/gid 65534 in a forked
 * process; skipped otherwise). */
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
	EXPECT_INT(rep.sig_name, -EPERM,
	    "uid 65534 killing root's child by name");
	EXPECT_INT(rep.wait, -EPERM, "uid 65534 waiting on root's child");
	EXPECT_INT(rep.hist_wait, -EPERM,
	    "uid 65534 waiting on root's ended child (history)");
	if (rep.spawn != 0)
		fail_msg("uid %d spawn: %d (%s) \"%s\"", OTHER_UID, rep.spawn,
		    forkd_strerror(rep.spawn), rep.errmsg);
	EXPECT_INT(rep.own_exit, 33, "exitcode of uid 65534's own child");
	/* Root's child survived all that. */
	EXPECT_INT(harness_pid_state(root_child), 1,
	    "root's child after uid 65534's attempts (1 = running)");

	/* Root sees the other uid's ended child in the history. */
	EXPECT_OK(f, forkd_wait(f, rep.own_pid, NULL, 0, &ev));
	EXPECT_INT(ev.exitcode, 33, "root waiting on uid 65534's ended child");
	EXPECT_OK(f, forkd_kill(f, root_child));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of root's child");
	forkd_close(f);
}

/* Root lists another uid's running child, with its owner uid. */
static void
test_root_sees_all(void **state)
{
	struct forkd		*f;
	struct forkd_child	*v = NULL;
	size_t			 n = 0, i;
	int			 pp[2], st;
	pid_t			 pid, child = 0;

	if (geteuid() != 0)
		skip();
	harness_pipe(pp);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct forkd		*g = NULL;
		struct forkd_spawn_opts	 o;
		const char		*sl[] = { "bench:sleep", "30", NULL };
		pid_t			 c = -1;

		if (setgroups(0, NULL) != 0 || setgid(OTHER_UID) != 0 ||
		    setuid(OTHER_UID) != 0)
			_exit(3);
		if (forkd_connect_key(&g, H.h_sock, key, keylen) != 0)
			_exit(4);
		forkd_spawn_opts_init(&o);
		o.target = "bench:sleep";
		o.argv = sl;
		if (forkd_spawn(g, &o, &c, NULL, 0) != 0)
			_exit(5);
		/* A child without the daemon flag outlives this process. */
		(void)!write(pp[1], &c, sizeof c);
		_exit(0);
	}
	close(pp[1]);
	if (read(pp[0], &child, sizeof child) != (ssize_t)sizeof child) {
		waitpid(pid, &st, 0);
		fail_msg("unprivileged spawner failed (status %#x)", st);
	}
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
	close(pp[0]);
	waitpid(pid, &st, 0);
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
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_uids", tests,
	    group_setup, group_teardown);
}
