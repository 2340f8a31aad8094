/* test_hung_fs.c: a path on a hung file system must not freeze forkd
 * (issue 13 item 4). A FUSE mount whose server never answers (this
 * process opens /dev/fuse and never reads it), in a private mount
 * namespace; forkd is started inside it. Spawns with --cwd there (a
 * module entry and an exec target), an exec target there, and the same
 * with allow_exec_paths (which forkd used to resolve in its loop) hang in
 * their set-up, while another client's pings answer at once; the hung
 * spawns fail with ETIMEDOUT at their set-up deadline. Skipped (with the
 * reason) without root, /dev/fuse or mount(2). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "harness.h"

#define SETUP_DEADLINE_MS	10000	/* SPAWN_SETUP_DEADLINE_MS */
#define HUNG_MAX		4

static struct harness	H;
static char		tmpdir[] = "/tmp/forkd-hungfs.XXXXXX";
static char		mnt[sizeof tmpdir + 8], conf[sizeof tmpdir + 16];
static char		prog[sizeof mnt + 8];
static int		fuse_fd = -1;

/* One spawn that is expected to hang, in its own thread and connection. */
struct hung {
	pthread_t	 t;
	const char	*target;
	const char	*cwd;
	int		 rc;
	char		 errmsg[256];
	int64_t		 ms;	/* how long until the reply */
};

/* Write the config: [policy] body. */
static void
write_conf(const char *policy)
{
	FILE *f = fopen(conf, "w");

	if (f == NULL)
		fail_msg("fopen %s: %s", conf, strerror(errno));
	fprintf(f, "[policy]\n%s\n", policy);
	fclose(f);
}

/* The hung mount, or a reason to skip in why. 0 or -1. */
static int
mount_hung(char *why, size_t len)
{
	char opts[128];

	if (geteuid() != 0) {
		snprintf(why, len, "not root (mounting FUSE needs it)");
		return -1;
	}
	if ((fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(why, len, "/dev/fuse: %s", strerror(errno));
		return -1;
	}
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(why, len, "private mount namespace: %s",
		    strerror(errno));
		return -1;
	}
	if (mkdtemp(tmpdir) == NULL) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(mnt, sizeof mnt, "%s/mnt", tmpdir);
	snprintf(conf, sizeof conf, "%s/forkd.conf", tmpdir);
	snprintf(prog, sizeof prog, "%s/prog", mnt);
	if (mkdir(mnt, 0755) != 0) {
		snprintf(why, len, "mkdir %s: %s", mnt, strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,"
	    "group_id=0,allow_other", fuse_fd);
	if (mount("forkd-hung", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) != 0) {
		snprintf(why, len, "mount fuse on %s: %s", mnt,
		    strerror(errno));
		rmdir(mnt);
		return -1;
	}
	return 0;
}

/* Unmount (closing the device aborts what still waits on it). */
static void
unmount_hung(void)
{
	if (fuse_fd >= 0)
		close(fuse_fd);
	fuse_fd = -1;
	if (mnt[0] != '\0') {
		(void)umount2(mnt, MNT_DETACH);
		rmdir(mnt);
		unlink(conf);
		rmdir(tmpdir);
	}
}

/* Thread: the spawn that hangs. */
static void *
hung_spawn(void *arg)
{
	struct hung		*h = arg;
	struct forkd_spawn_opts	 o;
	struct forkd		*f;
	pid_t			 pid;
	int64_t			 t0 = harness_now_ms();

	if (forkd_connect(&f, H.h_sock, H.h_key) != 0) {
		h->rc = -EPIPE;
		return NULL;
	}
	forkd_spawn_opts_init(&o);
	o.target = h->target;
	o.cwd = h->cwd;
	h->rc = forkd_spawn(f, &o, &pid, NULL, 0);
	snprintf(h->errmsg, sizeof h->errmsg, "%s", forkd_errmsg(f));
	h->ms = harness_now_ms() - t0;
	forkd_close(f);
	return NULL;
}

/* Start the hung spawns, ping from another connection meanwhile (each
 * ping well under a second), then check each hung spawn failed with
 * ETIMEDOUT at its deadline. */
static void
hang_and_ping(struct hung *hs, int n)
{
	struct forkd	*f = harness_connect(&H);
	int64_t		 worst = 0, end;
	int		 pings = 0;

	for (int i = 0; i < n; i++)
		if (pthread_create(&hs[i].t, NULL, hung_spawn, &hs[i]) != 0)
			fail_msg("pthread_create");
	/* Let them reach forkd and hang. */
	harness_sleep_ms(300);
	end = harness_now_ms() + 3000;
	while (harness_now_ms() < end) {
		int64_t t0 = harness_now_ms(), dt;

		EXPECT_OK(f, forkd_ping(f));
		dt = harness_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		pings++;
		harness_sleep_ms(50);
	}
	if (worst > 500 * harness_slow())
		fail_msg("a ping took %lld ms while spawns hung on %s",
		    (long long)worst, mnt);
	forkd_close(f);
	for (int i = 0; i < n; i++) {
		pthread_join(hs[i].t, NULL);
		if (hs[i].rc != -ETIMEDOUT)
			fail_msg("spawn %s (cwd %s): returned %d (%s), errmsg "
			    "\"%s\"; expected ETIMEDOUT at the set-up deadline",
			    hs[i].target, hs[i].cwd ? hs[i].cwd : "/",
			    hs[i].rc, forkd_strerror(hs[i].rc), hs[i].errmsg);
		if (hs[i].ms < SETUP_DEADLINE_MS - 1000 ||
		    hs[i].ms > SETUP_DEADLINE_MS + 5000 * harness_slow())
			fail_msg("spawn %s failed after %lld ms, not at the %d "
			    "ms deadline", hs[i].target, (long long)hs[i].ms,
			    SETUP_DEADLINE_MS);
	}
	printf("# %d pings, the slowest %lld ms, while %d spawns hung\n",
	    pings, (long long)worst, n);
}

/* --cwd on the mount (module entry and exec target) and an exec target on
 * it; then the exec target with allow_exec_paths set. */
static void
test_hung_mount(void **state)
{
	const char	*extra[] = { "-c", conf, NULL };
	struct hung	 hs[HUNG_MAX];
	char		 why[256], policy[512];
	struct forkd	*f;

	(void)state;
	if (mount_hung(why, sizeof why) != 0) {
		unmount_hung();
		fprintf(stderr, "# skipped: %s\n", why);
		skip();
	}
	write_conf("allow_exec = yes\n");
	if (harness_start(&H, extra) != 0) {
		unmount_hung();
		fail_msg("forkd did not start");
	}
	memset(hs, 0, sizeof hs);
	hs[0].target = "bench:noop";
	hs[0].cwd = mnt;
	hs[1].target = "/bin/true";
	hs[1].cwd = mnt;
	hs[2].target = prog;
	hang_and_ping(hs, 3);

	/* allow_exec_paths: forkd used to open the client's path itself. */
	snprintf(policy, sizeof policy, "allow_exec = yes\n"
	    "allow_exec_paths = /bin/true %s/\n", tmpdir);
	write_conf(policy);
	{
		int before = harness_log_count(&H, "SIGHUP: limits and policy");

		kill(H.h_pid, SIGHUP);
		harness_wait_log(&H, "SIGHUP: limits and policy", before + 1,
		    10000);
	}
	memset(hs, 0, sizeof hs);
	hs[0].target = prog;
	hang_and_ping(hs, 1);

	/* Still serving, and what is allowed still runs. */
	f = harness_connect(&H);
	{
		struct forkd_spawn_opts	o;
		struct forkd_exit	ev;
		pid_t			pid;

		forkd_spawn_opts_init(&o);
		o.target = "/bin/true";
		EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
		EXPECT_OK(f, forkd_wait_exit_event(f, 10000, &ev));
		EXPECT_INT(ev.exitcode, 0, "/bin/true after the hung spawns");
	}
	forkd_close(f);
	unmount_hung();
	harness_stop_ok(&H);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hung_mount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
