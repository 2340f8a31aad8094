/* clock.h: the daemon's two clocks, in milliseconds.
 *
 * Every interval and deadline (pool back-off, the zygote's answer
 * deadline, session idle time and spawn-rate buckets, cgroup retries, log
 * rate limits, uptime) runs on CLOCK_MONOTONIC, which never steps: when
 * time sync sets the wall clock back at boot, the moment forkd.socket
 * starts the daemon, a wall-clock interval would stall or wrap. The wall
 * clock is only for times shown to users (a child's start and end). */
#ifndef FORKD_CLOCK_H
#define FORKD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>

/* Milliseconds on the monotonic clock: for intervals and deadlines. */
uint64_t	clock_mono_ms(void);

/* Milliseconds since the epoch: only for times shown to users. */
uint64_t	clock_wall_ms(void);

/* Milliseconds from clock_mono_ms() until deadline_ms (0: passed). */
uint64_t	clock_left_ms(uint64_t deadline_ms);

/* Milliseconds since start_ms, a clock_mono_ms() value (0: not yet). */
uint64_t	clock_since_ms(uint64_t start_ms);

/* ms as a struct timeval, for libevent's timers. */
struct timeval	clock_tv(uint64_t ms);

#endif /* FORKD_CLOCK_H */
