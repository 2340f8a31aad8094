/* test_pool_shrink.c: a SIGHUP that shrinks the pool (pool_max) removes the
 * idle pool children beyond it even when they are stopped (SIGSTOP), which
 * would never see the EOF of their closed control socket. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

static struct harness	H;
static char		conf[HARNESS_PATH_MAX + 16];

#define POOL_N	4

/* Write the config file with pool_min = pool_max = n. */
static void
write_conf(int n)
{
	harness_conf_write(conf, "# written by test_pool_shrink\n"
	    "[limits]\n"
	    "pool_max = %d\n"
	    "pool_min = %d\n", n, n);
}

/* Stop every idle pool child, shrink the pool to 0 by SIGHUP: each is
 * gone (killed and reaped) within seconds, none left stopped. */
static void
test_shrink_kills_stopped(void **state)
{
	pid_t		 pc[POOL_N];
	int		 n = 0, left;
	int64_t		 end = harness_now_ms() + 10000 * harness_slow();

	(void)state;
	/* --pool (FORKD_TEST_POOL) overrides the file's pool_max. */
	if (getenv("FORKD_TEST_POOL") != NULL) {
		print_message("pool size set by FORKD_TEST_POOL: skipped\n");
		skip();
	}
	while ((n = harness_children_named(H.h_pid, "forkd-pool\n", pc,
	    POOL_N)) < POOL_N && harness_now_ms() < end)
		harness_sleep_ms(50);
	EXPECT_INT(n, POOL_N, "idle pool children after start");
	for (int i = 0; i < n; i++)
		assert_int_equal(kill(pc[i], SIGSTOP), 0);

	write_conf(0);
	kill(H.h_pid, SIGHUP);
	end = harness_now_ms() + 5000 * harness_slow();
	for (;;) {
		left = 0;
		for (int i = 0; i < n; i++)
			if (harness_pid_state(pc[i]) != 0)
				left++;
		if (left == 0 || harness_now_ms() > end)
			break;
		harness_sleep_ms(50);
	}
	for (int i = 0; i < n; i++)
		if (harness_pid_state(pc[i]) != 0)
			(void)kill(pc[i], SIGKILL);	/* no stray process */
	EXPECT_INT(left, 0, "stopped pool children left after SIGHUP "
	    "set pool_max 0");
}

static void
test_stop(void **state)
{
	(void)state;
	harness_stop_ok(&H);
}

static int
group_setup(void **state)
{
	const char	*extra[] = { "-c", conf, NULL };

	(void)state;
	if (harness_conf_new(conf, sizeof conf, "shrink") != 0)
		return -1;
	write_conf(POOL_N);
	return harness_start(&H, extra);
}

static int
group_teardown(void **state)
{
	(void)state;
	if (H.h_pid > 0)
		harness_stop(&H);
	unlink(conf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shrink_kills_stopped),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
