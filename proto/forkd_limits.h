/* forkd_limits.h: hard caps on what a peer controls, shared by forkd and libforkd.
 * The daemon's configurable limits default to these and may only be lower.
 * Changing one changes PROTOCOL.md ("Limits") too. */
#ifndef FORKD_LIMITS_H
#define FORKD_LIMITS_H

#define LIMIT_ARGV_MAX		1024	/* argv entries per spawn */
#define LIMIT_ENV_MAX		1024	/* env entries per spawn */
#define LIMIT_STRING_MAX	4096	/* bytes in one argv/env/cwd/target string */
#define LIMIT_NAME_MAX		64	/* bytes in a child name */
#define LIMIT_FD_TARGET_MAX	63	/* highest child fd number a client may set */
#define LIMIT_WAITS_PENDING_MAX	1024	/* unanswered waits per connection */
#define LIMIT_WAIT_MAX		64	/* children in one wait request */
#define LIMIT_PING_MAX		1024	/* bytes of ping data */
#define LIMIT_GROUPS_MAX	64	/* supplementary groups in a spawn's identity */
#define LIMIT_CPUS_MAX		1024	/* CPUs named in a spawn's affinity (CPU_SETSIZE) */
#define LIMIT_TIMEOUT_MS_MAX	(7U * 24 * 3600 * 1000)	/* a week */
#define LIMIT_RLIMITS_MAX	16	/* rlimits per spawn; resource numbers below it (RLIMIT_NLIMITS) */
#define LIMIT_CPU_NUMBER_MAX	1024	/* each CPU number below it (glibc's CPU_SETSIZE) */
#define LIMIT_CPU_PERIOD_MIN	1000	/* cpu_period_us bounds (the kernel's cpu.max) */
#define LIMIT_CPU_PERIOD_MAX	1000000
#define LIMIT_CPU_QUOTA_MIN	1000	/* cpu_quota_us at least */
#define LIMIT_KILL_GRACE_MS_MAX	600000	/* a spawn's kill_grace_ms, as [limits] kill_grace_ms */
#define LIMIT_NS_ALL		0x3f	/* every Namespace bit of forkd.proto ORed */
#define LIMIT_OUTQ_FDS_MAX	64	/* queued replies carrying a pidfd per connection */
#define LIMIT_OUTQ_MAX		4096	/* queued outgoing frames per connection */
#define LIMIT_OUTQ_BYTES_MAX	(2 * 1024 * 1024) /* and their bytes */

#endif
