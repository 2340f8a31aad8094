/* child.h: what runs in a new child between fork() and the target.
 * Everything here is async-signal-safe: no malloc, stdio, log or libevent. */
#ifndef FORKD_CHILD_H
#define FORKD_CHILD_H

#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "forkd_limits.h"
#include "forkd_module.h"

struct config_policy;

/* Set-up steps, reported through the error pipe when one fails. */
enum child_step {
	CHILD_STEP_NONE = 0,
	CHILD_STEP_SIGNALS,
	CHILD_STEP_SETSID,
	CHILD_STEP_FDS,
	CHILD_STEP_CLOSE_FDS,
	CHILD_STEP_CHDIR,
	CHILD_STEP_EXEC,
	/* Issue 5 set-up steps; numbers are protocol (spawn_step), so new
	 * steps are appended, whatever order they run in (see child.c). */
	CHILD_STEP_CGROUP,		/* 7: joining the child's cgroup */
	CHILD_STEP_RLIMITS,		/* 8 */
	CHILD_STEP_UMASK,		/* 9 (cannot fail; kept for the table) */
	CHILD_STEP_NICE,		/* 10 */
	CHILD_STEP_AFFINITY,		/* 11 */
	CHILD_STEP_PGROUP,		/* 12: setpgid() */
	CHILD_STEP_NAMESPACES,		/* 13: unshare() */
	CHILD_STEP_GROUPS,		/* 14: setgroups() */
	CHILD_STEP_GID,			/* 15: setresgid() */
	CHILD_STEP_UID,			/* 16: setresuid() */
	CHILD_STEP_USERNS,		/* 17: uid_map / gid_map */
	CHILD_STEP_CAPS,		/* 18: bounding / ambient / capset */
	CHILD_STEP_NO_NEW_PRIVS,	/* 19 */
	CHILD_STEP_PDEATHSIG,		/* 20 */
	CHILD_STEP_HANDOVER,		/* 21: a pool child takes the plan */
	/* 22: allow_exec_paths refused the exec target in the child (which
	 * resolves it, not forkd's loop); the reply is the same EPERM as a
	 * refusal in forkd, with step 0. */
	CHILD_STEP_POLICY,
	CHILD_STEP_MAX
};

#define CHILD_RLIMIT_MAX	LIMIT_RLIMITS_MAX
#define CHILD_GROUPS_MAX	LIMIT_GROUPS_MAX

/* What the error pipe carries when a step fails; nothing means started. */
struct child_error {
	int	ce_step;
	int	ce_errno;
};

/* Everything the child needs, prepared by the parent before fork(). */
struct child_plan {
	const struct forkd_module_entry	*cp_entry;	/* NULL: exec cp_path */
	const char			*cp_path;
	char				**cp_argv;
	int				  cp_argc;
	char				**cp_envp;
	const char			*cp_cwd;
	const char			*cp_name;
	/* cp_fds[t] is the fd to become child fd t, or -1 to leave t closed. */
	int				  cp_fds[LIMIT_FD_TARGET_MAX + 1];
	int				  cp_nfds;	/* highest target + 1 */
	int				  cp_errfd;	/* write end, O_CLOEXEC */
	/* Running in a CLONE_VM child: memory is the daemon's own, so no
	 * wiping (execve replaces the image anyway). forkd runs on beside it
	 * (no CLONE_VFORK): the plan is a copy in the child's own area. */
	int				  cp_shared_vm;
	/* A pool child did the signal reset, setsid() and key wipe already,
	 * before it waited for a request. */
	int				  cp_presetup;
	/* The pool child is in "/" already (chdir at idle) and cp_cwd is
	 * "/", with no identity or namespace change that could make the
	 * chdir of step 13 resolve or fail differently: it is skipped. */
	int				  cp_cwd_done;
	/* Daemon-flag child: dies with forkd (PR_SET_PDEATHSIG), since the
	 * connection that owns it cannot outlive forkd either. */
	int				  cp_daemon;
	pid_t				  cp_parent;	/* forkd's pid */

	/* Issue 5 set-up; zero values mean "leave as inherited". */
	struct child_rlimit {
		int	resource;
		rlim_t	soft, hard;
	}				  cp_rlimits[CHILD_RLIMIT_MAX];
	int				  cp_nrlimits;
	int				  cp_umask;	/* -1: inherit */
	int				  cp_nice_set;
	int				  cp_nice;
	int				  cp_ncpus;	/* 0: inherit affinity */
	cpu_set_t			  cp_cpus;
	int				  cp_pgroup_only; /* setpgid, not setsid */
	int				  cp_identity;	/* change uid/gid/groups */
	uid_t				  cp_uid;
	gid_t				  cp_gid;
	int				  cp_ngroups;
	gid_t				  cp_groups[CHILD_GROUPS_MAX];
	int				  cp_no_new_privs;
	int				  cp_drop_caps;
	/* Namespaces to unshare() in the child (CLONE_NEW* flags; PID is
	 * done by the daemon at clone time and not repeated here). */
	int				  cp_unshare;
	/* cgroup.procs of the child's cgroup when it must join it itself
	 * (no CLONE_INTO_CGROUP); -1 otherwise. */
	int				  cp_cgroup_procs_fd;
	/* Highest capability number of the running kernel, read before
	 * fork (/proc/sys/kernel/cap_last_cap) for drop_caps. */
	int				  cp_cap_last;
	/* allow_exec_paths in force for an exec target: the child resolves
	 * cp_path and checks it (policy_exec_open()) before it execs; NULL:
	 * no list. Only in forkd's own children (plan_pack() refuses it, as a
	 * pool child's copy of the policy may be older); a CLONE_VM child
	 * gets a copy in its own area (spawn.c). */
	const struct config_policy	 *cp_exec_policy;
};

const char *child_step_name(int step);
/* Note which signal dispositions the daemon changed (after its handlers
 * are installed); children then reset just those. */
void	child_signals_init(void);
/* Where glibc keeps this thread's tid (for CLONE_CHILD_SETTID in raw
 * clone3() children), or NULL if unknown. */
pid_t	*child_tid_field(void);
/* Raise forkd's soft RLIMIT_NOFILE; children get the old one back with
 * child_nofile_reset() (async-signal-safe). */
void	child_nofile_init(void);
/* spawn_cpu: pin forkd to cpu; children get the affinity forkd had back
 * in child_run() (step 5, unless the request names CPUs). 0 or -errno. */
int	child_affinity_init(int cpu);
int	child_nofile_reset(void);
/* In a child: default dispositions, empty mask. Async-signal-safe. */
int	child_signals_reset(void);
/* Run in the child after fork(); never returns. */
__attribute__((noreturn)) void child_run(const struct child_plan *);

#endif
