/* test_async.c: requests without waiting (issue 16 item 8):
 * forkd_spawn_start(), forkd_wait_start(), forkd_signal_start() and
 * forkd_next_reply() beside forkd_next_exit(), against a real forkd. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static struct harness H;

#define NSPAWN	48

/* Wait (bounded) for the next reply, reading with forkd_process(). */
static void
next_reply(struct forkd *f, struct forkd_reply *rp)
{
	int64_t	end = harness_now_ms() + 10000 * harness_slow();
	int	r;

	while ((r = forkd_next_reply(f, rp)) == -EAGAIN) {
		struct pollfd pfd = { .fd = forkd_fd(f), .events = POLLIN };

		if (harness_now_ms() > end)
			fail_msg("no reply within 10 s (%zu pending)",
			    forkd_pending(f));
		poll(&pfd, 1, 100);
		r = forkd_process(f);
		if (r < 0)
			fail_msg("forkd_process: %d (%s), errmsg \"%s\"", r,
			    forkd_strerror(r), forkd_errmsg(f));
	}
	if (r != 0)
		fail_msg("forkd_next_reply: %d (%s)", r, forkd_strerror(r));
}

/* Many spawns in flight on one connection: one reply per id, each with
 * a pid, then one exit event per pid with the code it was given. */
static void
test_many_spawns(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_reply	 rp;
	struct forkd_exit	 ev;
	uint32_t		 ids[NSPAWN];
	pid_t			 pids[NSPAWN];
	char			 codes[NSPAWN][8];
	const char		*argv[NSPAWN][3];
	int			 got = 0, exits = 0, seen[NSPAWN] = { 0 };

	for (int i = 0; i < NSPAWN; i++) {
		snprintf(codes[i], sizeof codes[i], "%d", i + 1);
		argv[i][0] = "bench:exit";
		argv[i][1] = codes[i];
		argv[i][2] = NULL;
		forkd_spawn_opts_init(&o);
		o.target = "bench:exit";
		o.argv = argv[i];
		EXPECT_OK(f, forkd_spawn_start(f, &o, &ids[i]));
		pids[i] = 0;
	}
	EXPECT_INT(forkd_pending(f), NSPAWN, "requests in flight");
	for (int i = 0; i < NSPAWN; i++) {
		for (int j = 0; j < i; j++)
			if (ids[j] == ids[i])
				fail_msg("request ids %d and %d are both %u",
				    j, i, ids[i]);
	}
	while (got < NSPAWN) {
		int k = -1;

		next_reply(f, &rp);
		for (int i = 0; i < NSPAWN; i++)
			if (ids[i] == rp.id)
				k = i;
		if (k < 0)
			fail_msg("reply with unknown id %u", rp.id);
		if (pids[k] != 0)
			fail_msg("two replies for request %u", rp.id);
		EXPECT_INT(rp.kind, FORKD_REPLY_SPAWN, "reply kind");
		if (rp.error != 0)
			fail_msg("spawn %d: %d (%s) %s", k, rp.error,
			    forkd_strerror(rp.error), rp.errmsg);
		EXPECT_INT(rp.spawned.pidfd, -1, "pidfd without want_pidfd");
		assert_true(rp.spawned.pid > 0);
		pids[k] = rp.spawned.pid;
		got++;
	}
	EXPECT_INT(forkd_pending(f), 0, "requests in flight after replies");
	EXPECT_ERR(f, forkd_next_reply(f, &rp), -EAGAIN);
	while (exits < NSPAWN) {
		int k = -1;

		EXPECT_OK(f, forkd_wait_exit_event(f, 10000 * harness_slow(),
		    &ev));
		for (int i = 0; i < NSPAWN; i++)
			if (pids[i] == ev.pid)
				k = i;
		if (k < 0 || seen[k])
			fail_msg("exit event for pid %d: unknown or twice",
			    (int)ev.pid);
		seen[k] = 1;
		EXPECT_INT(ev.exitcode, k + 1, "exit code of a started child");
		exits++;
	}
	forkd_close(f);
}

/* Replies come in forkd's order, not the requests': a wait sent first is
 * answered after a signal sent later, which ends the child. */
static void
test_reply_order(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_reply	 rp;
	const char		*argv[] = { "bench:sleep", "30", NULL };
	uint32_t		 sid, wid, kid;
	pid_t			 pid;

	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = argv;
	EXPECT_OK(f, forkd_spawn_start(f, &o, &sid));
	next_reply(f, &rp);
	EXPECT_INT(rp.id, sid, "spawn reply id");
	EXPECT_INT(rp.error, 0, "spawn error");
	pid = rp.spawned.pid;

	EXPECT_OK(f, forkd_wait_start(f, &pid, NULL, 1, FORKD_INFINITE, &wid));
	EXPECT_OK(f, forkd_signal_start(f, pid, NULL, SIGTERM, &kid));
	EXPECT_INT(forkd_pending(f), 2, "wait and signal in flight");
	next_reply(f, &rp);
	EXPECT_INT(rp.id, kid, "first reply: the signal's");
	EXPECT_INT(rp.kind, FORKD_REPLY_SIGNAL, "kind");
	EXPECT_INT(rp.error, 0, "signal error");
	next_reply(f, &rp);
	EXPECT_INT(rp.id, wid, "second reply: the wait's");
	EXPECT_INT(rp.kind, FORKD_REPLY_WAIT, "kind");
	EXPECT_INT(rp.error, 0, "wait error");
	EXPECT_INT(rp.exit.pid, pid, "waited pid");
	EXPECT_INT(rp.exit.exitcode, -SIGTERM, "exit code after SIGTERM");
	forkd_close(f);
}

/* A reply that arrives during a blocking call is kept for
 * forkd_next_reply(); errors come as the blocking calls give them. */
static void
test_interleaved_and_errors(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct forkd_spawn_opts	 o;
	struct forkd_reply	 rp;
	struct forkd_exit	 ex;
	const char		*sleep_argv[] = { "bench:sleep", "30", NULL };
	uint32_t		 id, id2, wid;
	pid_t			 pid;
	int			 r;

	/* The spawn's reply comes while forkd_ping() waits for its own. */
	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.want_pidfd = 1;
	EXPECT_OK(f, forkd_spawn_start(f, &o, &id));
	EXPECT_OK(f, forkd_ping(f));
	{
		/* Not necessarily read by then: forkd answers a spawn once
		 * the child's set-up is done. Poll a little. */
		int64_t end = harness_now_ms() + 10000 * harness_slow();

		while ((r = forkd_next_reply(f, &rp)) == -EAGAIN &&
		    harness_now_ms() < end) {
			EXPECT_OK(f, forkd_ping(f));
			harness_sleep_ms(5);
		}
		EXPECT_INT(r, 0, "reply collected through forkd_ping()");
	}
	EXPECT_INT(rp.id, id, "reply id");
	EXPECT_INT(rp.error, 0, "spawn error");
	if (rp.spawned.pidfd < 0)
		fail_msg("want_pidfd gave no pidfd through forkd_spawn_start()");
	close(rp.spawned.pidfd);
	EXPECT_OK(f, forkd_wait(f, rp.spawned.pid, NULL, 10000, &ex));
	EXPECT_INT(ex.exitcode, 0, "noop exit code");

	/* Bad arguments: refused before sending, nothing in flight. */
	forkd_spawn_opts_init(&o);
	EXPECT_ERR(f, forkd_spawn_start(f, &o, &id), -EINVAL);
	EXPECT_ERR(f, forkd_wait_start(f, NULL, NULL, 0, 0, &id), -EINVAL);
	EXPECT_ERR(f, forkd_signal_start(f, 0, NULL, SIGTERM, &id), -EINVAL);
	EXPECT_INT(forkd_pending(f), 0, "nothing in flight after refusals");

	/* forkd's refusal comes as the reply's error, with its reason. */
	o.target = "bench:no-such-entry";
	EXPECT_OK(f, forkd_spawn_start(f, &o, &id));
	next_reply(f, &rp);
	EXPECT_INT(rp.id, id, "refused spawn's id");
	if (rp.error >= 0 || rp.errmsg[0] == '\0')
		fail_msg("unknown entry: error %d, message \"%s\"", rp.error,
		    rp.errmsg);
	{
		/* The same as the blocking call's. */
		pid_t p;

		r = forkd_spawn(f, &o, &p, NULL, 0);
		EXPECT_INT(rp.error, r, "error of spawn_start and spawn");
	}

	/* A wait with timeout 0 on a running child: -ETIMEDOUT. */
	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = sleep_argv;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	EXPECT_OK(f, forkd_wait_start(f, &pid, NULL, 1, 0, &wid));
	next_reply(f, &rp);
	EXPECT_INT(rp.id, wid, "wait id");
	EXPECT_INT(rp.error, -ETIMEDOUT, "wait 0 on a running child");
	/* A signal to a pid that is not a child: -ESRCH. */
	EXPECT_OK(f, forkd_signal_start(f, 1, NULL, 0, &id2));
	next_reply(f, &rp);
	EXPECT_INT(rp.id, id2, "signal id");
	if (rp.error != -ESRCH && rp.error != -EPERM)
		fail_msg("signal to pid 1: %d (%s)", rp.error, rp.errmsg);
	EXPECT_OK(f, forkd_kill(f, pid));

	/* A reply still queued at forkd_close() (with a pidfd) is freed:
	 * ASan and valgrind see to that. */
	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	o.want_pidfd = 1;
	EXPECT_OK(f, forkd_spawn_start(f, &o, &id));
	next_reply(f, &rp);
	close(rp.spawned.pidfd);
	EXPECT_OK(f, forkd_spawn_start(f, &o, &id));
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
}

HARNESS_STANDARD_GROUP(H)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_spawns),
		cmocka_unit_test(test_reply_order),
		cmocka_unit_test(test_interleaved_and_errors),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_async", tests,
	    group_setup, group_teardown);
}
