/* test_clock.c: intervals and deadlines survive a wall-clock step
 * (daemon/clock.c, the pool's back-off and zygote deadline).
 *
 * The test defines clock_gettime() itself: the daemon objects linked into
 * this executable call it instead of libc's (no LD_PRELOAD). It reads the
 * real clocks through the system call and moves the wall clock back and the
 * monotonic clock forward on request, as time sync at boot does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "clock.h"
#include "pool.h"

#define HOUR_MS		(3600ULL * 1000)

static int64_t	fake_wall_ms;	/* added to CLOCK_REALTIME */
static int64_t	fake_mono_ms;	/* added to CLOCK_MONOTONIC */

/* Add ms to ts. */
static void
ts_add_ms(struct timespec *ts, int64_t ms)
{
	int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec +
	    ms * 1000000;

	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
}

/* The clocks the daemon code sees: the real ones, shifted. */
int
clock_gettime(clockid_t id, struct timespec *ts)
{
	if (syscall(SYS_clock_gettime, id, ts) != 0)
		return -1;
	if (id == CLOCK_REALTIME)
		ts_add_ms(ts, fake_wall_ms);
	else if (id == CLOCK_MONOTONIC)
		ts_add_ms(ts, fake_mono_ms);
	return 0;
}

/* Each test starts with unshifted clocks. */
static int
reset(void **state)
{
	(void)state;
	fake_wall_ms = 0;
	fake_mono_ms = 0;
	return 0;
}

/* The fake works: the wall clock steps back, the monotonic one does not. */
static void
test_wall_step_back(void **state)
{
	uint64_t wall = clock_wall_ms(), mono = clock_mono_ms();

	(void)state;
	fake_wall_ms = -(int64_t)HOUR_MS;
	assert_true(clock_wall_ms() + HOUR_MS - 1000 < wall);
	assert_true(clock_mono_ms() >= mono);
	assert_true(clock_mono_ms() - mono < 1000);
}

/* An idle child died: the refill waits its 10 ms, not 10 ms plus the size
 * of a wall-clock step back (on the wall clock pool_fill() would have
 * scheduled the refill an hour later). */
static void
test_pool_backoff_wall_step(void **state)
{
	(void)state;
	pool_backoff_start(10);
	assert_in_range(pool_backoff_left_ms(), 1, 10);
	fake_wall_ms = -(int64_t)HOUR_MS;
	assert_in_range(pool_backoff_left_ms(), 0, 10);
	fake_mono_ms = 20;
	assert_int_equal(pool_backoff_left_ms(), 0);
	/* Stepping forward does not end it early either. */
	fake_wall_ms = (int64_t)HOUR_MS;
	pool_backoff_start(5000);
	assert_true(pool_backoff_left_ms() > 4000);
}

/* The zygote's answer deadline (clock_since_ms() of the ask): a wall step
 * back right after an ask does not make it look late (on the wall clock
 * the difference wrapped and forkd gave the zygote up for good), a step
 * forward does not either, and real time does. */
static void
test_since_wall_step(void **state)
{
	uint64_t asked = clock_mono_ms();

	(void)state;
	fake_wall_ms = -(int64_t)HOUR_MS;
	assert_true(clock_since_ms(asked) < 1000);
	fake_wall_ms = (int64_t)HOUR_MS;
	assert_true(clock_since_ms(asked) < 1000);
	fake_mono_ms = 6000;
	assert_true(clock_since_ms(asked) >= 6000);
	/* An instant in the future counts as now, never as a wrap. */
	assert_int_equal(clock_since_ms(clock_mono_ms() + HOUR_MS), 0);
}

/* A deadline: time left, zero once passed, never a wrap. */
static void
test_left(void **state)
{
	uint64_t due = clock_mono_ms() + 100;

	(void)state;
	assert_in_range(clock_left_ms(due), 1, 100);
	fake_wall_ms = -(int64_t)HOUR_MS;
	assert_in_range(clock_left_ms(due), 0, 100);
	fake_mono_ms = 200;
	assert_int_equal(clock_left_ms(due), 0);
}

/* clock_tv(): milliseconds as libevent's struct timeval. */
static void
test_tv(void **state)
{
	struct timeval tv;

	(void)state;
	tv = clock_tv(0);
	assert_int_equal(tv.tv_sec, 0);
	assert_int_equal(tv.tv_usec, 0);
	tv = clock_tv(999);
	assert_int_equal(tv.tv_sec, 0);
	assert_int_equal(tv.tv_usec, 999000);
	tv = clock_tv(3001);
	assert_int_equal(tv.tv_sec, 3);
	assert_int_equal(tv.tv_usec, 1000);
	/* A 32-bit limit in ms: no overflow on the way. */
	tv = clock_tv(UINT32_MAX);
	assert_int_equal(tv.tv_sec, UINT32_MAX / 1000);
	assert_int_equal(tv.tv_usec, (UINT32_MAX % 1000) * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_wall_step_back, reset),
		cmocka_unit_test_setup(test_pool_backoff_wall_step, reset),
		cmocka_unit_test_setup(test_since_wall_step, reset),
		cmocka_unit_test_setup(test_left, reset),
		cmocka_unit_test(test_tv),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
