/* cgroup.h: per-spawn cgroup v2 directories under forkd's cgroup root.
 *
 * forkd picks every path: a client asks for "a cgroup" and limits, never
 * for a place. Directories are <root>/forkd-<seq>, made before the child
 * is created (clone3 CLONE_INTO_CGROUP puts it there) and removed after it
 * was reaped.
 */
#ifndef FORKD_CGROUP_H
#define FORKD_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Controllers forkd can limit, as bits. */
enum cgroup_controller {
	CGROUP_CTRL_MEMORY,
	CGROUP_CTRL_PIDS,
	CGROUP_CTRL_CPU,
	CGROUP_CTRL_MAX
};

const char *cgroup_controller_name(enum cgroup_controller);

/* What a spawn asked for; 0 means no limit. */
struct cgroup_limits {
	uint64_t	cl_memory_max;
	uint32_t	cl_pids_max;
	uint32_t	cl_cpu_quota_us;
	uint32_t	cl_cpu_period_us;	/* 0: 100000 */
};

/* One child's cgroup. */
struct cgroup_unit {
	char	*cu_path;	/* absolute directory */
	char	*cu_rel;	/* the same, from the cgroup2 mount ("/a/forkd-7") */
	int	 cu_dirfd;	/* O_PATH|O_DIRECTORY, for clone3; -1 once used */
};

/* At start, before the pool forks: resolve the cgroup2 mount and the root
 * from the [forkd] cgroup_root setting (NULL/"auto", "none" or a path),
 * moving forkd into a leaf and enabling controllers where needed. Never
 * fatal: failures are logged and cgroup spawns then fail clearly. */
void	cgroup_init(const char *setting);
/* Remove what is left (pending removals) and free the module's state. */
void	cgroup_shutdown(void);

/* Can a spawn with these limits get a cgroup? 0, or -EOPNOTSUPP with a
 * message naming the reason (no usable root, a controller not enabled). */
int	cgroup_check(const struct cgroup_limits *, char *errbuf, size_t errlen);
/* Make the next <root>/forkd-<seq> with the limits written. 0 with the
 * unit, or -errno with a message; nothing is left behind on failure. */
int	cgroup_create(const struct cgroup_limits *, struct cgroup_unit **ret,
	    char *errbuf, size_t errlen);
/* Open the unit's cgroup.procs for writing (the fallback without
 * CLONE_INTO_CGROUP: the child writes itself there). fd or -errno. */
int	cgroup_procs_open(const struct cgroup_unit *);
/* Did the unit's memory.events count an OOM kill? 1 or 0. */
int	cgroup_oom_killed(const struct cgroup_unit *);
/* The child was reaped (or never started): remove the directory (retried
 * later while a descendant keeps it busy) and free the unit. NULL is ok. */
void	cgroup_release(struct cgroup_unit *);
/* Pending removals (for tests and status). */
unsigned int cgroup_pending(void);

#endif
