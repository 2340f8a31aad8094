/* clone.h: process creation for a child plan (clone3, clone, fork, and the
 * CLONE_VM child of exec targets). */
#ifndef FORKD_CLONE_H
#define FORKD_CLONE_H

#include <stddef.h>
#include <sys/types.h>

struct child_plan;
struct clone_args;

/* clone3(2) without CLONE_VM (replaced by the fuzz harness). */
long	clone_sys_clone3(struct clone_args *, size_t);
/* clone(2) like fork(), for where clone3() is refused: ptid gets the pidfd
 * with CLONE_PIDFD, ctid is for CLONE_CHILD_SETTID/CLEARTID. */
long	clone_sys_clone(unsigned long flags, int *ptid, pid_t *ctid);
/* 1 if clone3() works here, 0 if it fails with ENOSYS (a seccomp filter
 * such as systemd's RestrictNamespaces=, or an old kernel); probed and
 * logged once. */
int	clone_clone3_probe(void);

/* What must happen at creation (clone3 flags), for clone_start_ex(). */
struct clone_create {
	int	sc_want_pidfd;	/* CLONE_PIDFD: *ret_pidfd gets it */
	int	sc_cgroup_fd;	/* CLONE_INTO_CGROUP target dir, or -1 */
	int	sc_procs_fd;	/* its cgroup.procs for the fallback, or -1 */
	int	sc_newpid;	/* CLONE_NEWPID */
	int	sc_newuser;	/* the child unshares a user ns */
};
/* Start a process for plan with creation flags: 0 with its pid and the
 * read end of its error pipe; ret_pidfd gets the pidfd or -1. -EOPNOTSUPP
 * when a pidfd is wanted and ret_pidfd is NULL. With ret_vm, an exec
 * target may start in a CLONE_VM child whose area goes to *ret_vm. */
int	clone_start_ex(struct child_plan *, const struct clone_create *,
	    pid_t *ret_pid, int *ret_errfd, int *ret_pidfd, void **ret_vm);
/* A pidfd (O_CLOEXEC) for pid, which must be forkd's own child not yet
 * reaped (a pool child just handed a spawn), so the pid cannot have been
 * reused: pidfd_open(2). -errno on failure. */
int	clone_pidfd_of_child(pid_t pid);
/* 1 if pidfd_open(2) works here (probed once), else 0. */
int	clone_pidfd_open_works(void);
/* Unmap the area of a CLONE_VM exec child (c_vm); NULL is fine. */
void	clone_vm_free(void *area);

#endif /* FORKD_CLONE_H */
