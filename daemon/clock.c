/* clock.c: milliseconds on the monotonic and the wall clock. */
#include <stdint.h>
#include <time.h>

#include "clock.h"

/* Milliseconds on clock id. */
static uint64_t
clock_ms(clockid_t id)
{
	struct timespec	ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds on the monotonic clock. */
uint64_t
clock_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* Milliseconds since the epoch. */
uint64_t
clock_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* Time left until a monotonic deadline. */
uint64_t
clock_left_ms(uint64_t deadline_ms)
{
	uint64_t now = clock_mono_ms();

	return deadline_ms > now ? deadline_ms - now : 0;
}

/* Time elapsed since a monotonic instant. */
uint64_t
clock_since_ms(uint64_t start_ms)
{
	uint64_t now = clock_mono_ms();

	return now > start_ms ? now - start_ms : 0;
}

/* ms as a struct timeval, for libevent's timers. */
struct timeval
clock_tv(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}
