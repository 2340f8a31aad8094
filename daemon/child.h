/* child.h: what runs in a new child between fork() and the target.
 * Everything here is async-signal-safe: no malloc, stdio, log or libevent. */
#ifndef FORKD_CHILD_H
#define FORKD_CHILD_H

#include "forkd_limits.h"
#include "forkd_module.h"

/* Set-up steps, reported through the error pipe when one fails. */
enum child_step {
	CHILD_STEP_NONE = 0,
	CHILD_STEP_SIGNALS,
	CHILD_STEP_SETSID,
	CHILD_STEP_FDS,
	CHILD_STEP_CLOSE_FDS,
	CHILD_STEP_CHDIR,
	CHILD_STEP_EXEC,
	CHILD_STEP_MAX
};

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
	 * wiping (execve replaces the image anyway). */
	int				  cp_shared_vm;
	/* A pool child did the signal reset, setsid() and key wipe already,
	 * before it waited for a request. */
	int				  cp_presetup;
	/* Daemon-flag child: dies with forkd (PR_SET_PDEATHSIG), since the
	 * connection that owns it cannot outlive forkd either. */
	int				  cp_daemon;
	pid_t				  cp_parent;	/* forkd's pid */
};

const char *child_step_name(int step);
/* Run in the child after fork(); never returns. */
__attribute__((noreturn)) void child_run(const struct child_plan *);

#endif
