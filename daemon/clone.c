/* clone.c: process creation. clone3() with the creation-time flags a spawn
 * asks for (CLONE_PIDFD, CLONE_INTO_CGROUP, CLONE_NEWPID), clone() where
 * clone3() is refused, fork() otherwise, and the CLONE_VM child of exec
 * targets with its own stack and thread area. The child runs child_run(). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/sched.h>	/* struct clone_args, CLONE_PIDFD, CLONE_INTO_CGROUP */

#include "child.h"
#include "clone.h"
#include "config.h"
#include "forkd_limits.h"
#include "log.h"
#include "plan.h"
#include "server.h"

/* What this kernel (or the seccomp filter forkd runs under) lacks, learned
 * at start-up (clone_clone3_probe()) or at the first refusal. */
static int	clone_no_clone3;	/* ENOSYS */
static int	clone_clone3_probed;
static int	clone_no_into_cgroup;	/* CLONE_INTO_CGROUP refused */

/* Is clone3() there? systemd's RestrictNamespaces= (>= 251) and other
 * seccomp filters make it fail with ENOSYS whatever its arguments, since
 * seccomp cannot look at the flags it points to; a kernel before 5.3 has
 * none. A call with a too-small size tells without making a process:
 * EINVAL where clone3 exists. Logged once; then forkd uses clone(), which
 * does everything forkd needs but CLONE_INTO_CGROUP. */
int
clone_clone3_probe(void)
{
	if (clone_clone3_probed)
		return !clone_no_clone3;
	clone_clone3_probed = 1;
	if (syscall(SYS_clone3, NULL, (size_t)0) < 0 && errno == ENOSYS) {
		clone_no_clone3 = 1;
		log_info("clone3() is not available (ENOSYS: a seccomp filter, "
		    "such as systemd's RestrictNamespaces=, or a kernel before "
		    "5.3); using clone() with CLONE_PARENT and CLONE_PIDFD "
		    "instead, and --cgroup children join their cgroup "
		    "themselves");
	}
	return !clone_no_clone3;
}

/* clone3(2) for a child that does not share our memory. Weak, so that the
 * fuzz harness (tests/fuzz/fuzz_session.c) can replace it as it replaces
 * fork() and clone(): a fuzzed request must never make a real process. */
__attribute__((weak)) long
clone_sys_clone3(struct clone_args *ca, size_t size)
{
	return syscall(SYS_clone3, ca, size);
}

/* clone(2) without a new stack, like fork(): the child returns 0 here with
 * a copy of our memory. ptid gets the pidfd with CLONE_PIDFD; ctid is for
 * CLONE_CHILD_SETTID/CLEARTID. The raw call's argument order differs
 * between architectures (tls and child_tid swap places where the kernel
 * has CLONE_BACKWARDS): ctid goes in both places, and without CLONE_SETTLS
 * the kernel ignores the tls one. Weak, like clone_sys_clone3(). */
__attribute__((weak)) long
clone_sys_clone(unsigned long flags, int *ptid, pid_t *ctid)
{
#if defined(__s390__) || defined(__CRIS__)
	/* CLONE_BACKWARDS2: the stack comes first. */
	return syscall(SYS_clone, 0UL, flags, ptid, ctid, ctid);
#else
	return syscall(SYS_clone, flags, 0UL, ptid, ctid, ctid);
#endif
}

/* clone() with the flags clone3() would have had (no CLONE_INTO_CGROUP):
 * CLONE_PIDFD, CLONE_NEWPID; the child runs child_run(plan). Parent: pid
 * or -1 with errno. */
static pid_t
clone_fallback(struct child_plan *plan, uint64_t flags, int *ret_pidfd)
{
	unsigned long	cf = SIGCHLD;
	pid_t		*tid = child_tid_field();
	long		 r;

	if (flags & CLONE_PIDFD)
		cf |= CLONE_PIDFD;
	if (flags & CLONE_NEWPID)
		cf |= CLONE_NEWPID;
	/* Like glibc's fork(): the child's thread descriptor gets its own
	 * tid, or raise()/abort() there would miss it. */
	if (tid != NULL)
		cf |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	r = clone_sys_clone(cf, (flags & CLONE_PIDFD) ? ret_pidfd : NULL, tid);
	if (r == 0)
		child_run(plan);
	return (pid_t)r;
}

#if defined(__SANITIZE_ADDRESS__)
#define CLONE_AREA_OFF	1	/* ASan cannot follow a CLONE_VM child */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLONE_AREA_OFF	1
#endif
#endif

#if defined(__x86_64__) && !defined(CLONE_AREA_OFF)
/* Exec targets start in a CLONE_VM child, as posix_spawn() does (no page
 * tables copied: the cost of fork() grows with forkd's memory), but
 * without CLONE_VFORK: forkd does not wait for its execve(), which a path
 * on a hung mount could hold forever (issue 13). So the child cannot use
 * anything forkd may change or free meanwhile. It gets an area of its own
 * (clone_vm_prepare()): its stack; its plan, copied there (plan_pack());
 * and its own thread pointer (CLONE_SETTLS), since sharing forkd's would
 * share errno and glibc's thread descriptor with a thread that keeps
 * running. The thread area is a copy of the start of glibc's descriptor
 * (the fields the child's libc calls read: the stack guard, the
 * single-thread flag) with zeros around it; errno lands in it. forkd
 * releases the area when the child has exec'd or exited (clone_vm_free()),
 * keeping a few for the next spawns. Areas are MADV_DONTFORK: they hold a
 * client's argv and environment, which no child forkd forks may inherit.
 * With allow_exec_paths the list is copied there too. Elsewhere, and in
 * ASan builds, exec targets fork. */
#define CLONE_AREA_ON		1
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CLONE_AREA_VALGRIND		1
#endif
#endif
#define CLONE_AREA_STACK		(64 * 1024)
#define CLONE_AREA_TLS_BELOW	(16 * 1024)	/* room for errno's offset */
#define CLONE_AREA_TLS_ABOVE	(4 * 1024)
#define CLONE_AREA_TCB_COPY	768		/* < sizeof(struct pthread) */
#define CLONE_AREA_PLAN_MAX	(256 * 1024)
#define CLONE_AREA_PLAN_OFF	(CLONE_AREA_STACK + CLONE_AREA_TLS_BELOW + \
	CLONE_AREA_TLS_ABOVE)
#define CLONE_AREA_BUF_OFF	(CLONE_AREA_PLAN_OFF + \
	((sizeof(struct child_plan) + 63) & ~(size_t)63))
#define CLONE_AREA_POLICY_OFF	(CLONE_AREA_BUF_OFF + CLONE_AREA_PLAN_MAX)
#define CLONE_AREA_POLICY_MAX	(64 * 1024)	/* allow_exec_paths copy */
#define CLONE_AREA_SIZE		(CLONE_AREA_POLICY_OFF + CLONE_AREA_POLICY_MAX)

/* errno's offset from the thread pointer; 1 once known to fit the area,
 * -1 if it does not (then exec targets fork). */
static long	clone_vm_errno_off;
static int	clone_vm_usable;
/* Areas of children that have exec'd, kept for the next ones: no mmap(),
 * munmap() or page faults on the way of most spawns. */
#define CLONE_AREA_CACHE		8
static void	*clone_vm_cache[CLONE_AREA_CACHE];
static int	 clone_vm_ncached;

/* This thread's thread pointer (x86_64: %fs:0 holds it). */
static char *
clone_vm_tp(void)
{
	char *tp;

	__asm__("movq %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* The child: run the plan copied into its area. */
static int
clone_vm_child(void *arg)
{
	child_run(arg);
}

/* Copy allow_exec_paths (all the child's policy_exec_open() reads) into
 * buf, cap bytes: the config may change (SIGHUP) while the child runs.
 * The copy, or NULL when it does not fit. */
static const struct config_policy *
clone_vm_copy_policy(const struct config_policy *p, char *buf, size_t cap)
{
	struct config_policy	*q = (struct config_policy *)(void *)buf;
	size_t			 off, len;
	char			**v;

	off = sizeof *q + p->n_exec_paths * sizeof *v;
	if (off > cap)
		return NULL;
	memset(q, 0, sizeof *q);
	q->allow_exec = 1;
	q->exec_paths_set = 1;
	q->n_exec_paths = p->n_exec_paths;
	v = (char **)(void *)(buf + sizeof *q);
	for (size_t i = 0; i < p->n_exec_paths; i++) {
		len = strlen(p->exec_paths[i]) + 1;
		if (len > cap - off)
			return NULL;
		v[i] = memcpy(buf + off, p->exec_paths[i], len);
		off += len;
	}
	q->exec_paths = v;
	return q;
}

/* Copy plan into a new area; the copy's address in *ret_plan, the new
 * thread pointer in *ret_tp. The area, or NULL (then fork). */
static void *
clone_vm_prepare(const struct child_plan *plan, struct child_plan **ret_plan,
    char **ret_tp)
{
	int			 fds[LIMIT_FD_TARGET_MAX + 1];
	size_t			 nfds = 0, len;
	struct child_plan	*q, bare;
	char			*area, *tp, *mine;

	if (clone_vm_usable == 0) {
		clone_vm_errno_off = (long)((char *)&errno - clone_vm_tp());
		clone_vm_usable = (clone_vm_errno_off < 0 &&
		    clone_vm_errno_off > -(long)CLONE_AREA_TLS_BELOW + 64) ?
		    1 : -1;
		if (clone_vm_usable < 0)
			log_info("exec targets fork: errno at offset %ld of "
			    "the thread pointer", clone_vm_errno_off);
#ifdef CLONE_AREA_VALGRIND
		/* valgrind runs fork-, vfork- and thread-like clones only,
		 * and exits at any other. */
		if (RUNNING_ON_VALGRIND)
			clone_vm_usable = -1;
#endif
	}
	if (clone_vm_usable < 0)
		return NULL;
	/* plan_pack() names each fd by its index in fds. */
	for (int t = 0; t < plan->cp_nfds; t++) {
		size_t i;

		if (plan->cp_fds[t] < 0 || plan->cp_fds[t] == server_devnull())
			continue;
		for (i = 0; i < nfds && fds[i] != plan->cp_fds[t]; i++)
			;
		if (i == nfds)
			fds[nfds++] = plan->cp_fds[t];
	}
	if (clone_vm_ncached > 0)
		area = clone_vm_cache[--clone_vm_ncached];
	else {
		area = mmap(NULL, CLONE_AREA_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (area == MAP_FAILED)
			return NULL;
		if (madvise(area, CLONE_AREA_SIZE, MADV_DONTFORK) != 0) {
			munmap(area, CLONE_AREA_SIZE);
			return NULL;
		}
	}
	q = (struct child_plan *)(void *)(area + CLONE_AREA_PLAN_OFF);
	/* plan_pack() refuses an exec policy (a pool child's could be
	 * stale): this copy gets one of its own, below. */
	memcpy(&bare, plan, sizeof bare);
	bare.cp_exec_policy = NULL;
	if (plan_pack(&bare, fds, nfds, server_devnull(),
	    (unsigned char *)area + CLONE_AREA_BUF_OFF, CLONE_AREA_PLAN_MAX,
	    &len) != 0 ||
	    plan_unpack((unsigned char *)area + CLONE_AREA_BUF_OFF, len, fds,
	    nfds, server_devnull(), q) != 0) {
		clone_vm_free(area);
		return NULL;
	}
	/* What plan_unpack() leaves out: the sender's own. */
	q->cp_errfd = plan->cp_errfd;
	q->cp_cgroup_procs_fd = plan->cp_cgroup_procs_fd;
	q->cp_parent = plan->cp_parent;
	q->cp_shared_vm = 1;
	if (plan->cp_exec_policy != NULL &&
	    (q->cp_exec_policy = clone_vm_copy_policy(plan->cp_exec_policy,
	    area + CLONE_AREA_POLICY_OFF, CLONE_AREA_POLICY_MAX)) == NULL) {
		clone_vm_free(area);
		return NULL;
	}
	/* The thread area: glibc's descriptor header, pointing to itself. */
	mine = clone_vm_tp();
	tp = area + CLONE_AREA_STACK + CLONE_AREA_TLS_BELOW;
	memcpy(tp, mine, CLONE_AREA_TCB_COPY);
	memcpy(tp, &tp, sizeof tp);			/* header.tcb */
	memcpy(tp + 2 * sizeof tp, &tp, sizeof tp);	/* header.self */
	*ret_plan = q;
	*ret_tp = tp;
	return area;
}

/* Start the CLONE_VM child of plan in area; pid or -1 with errno. */
static pid_t
clone_vm_clone(struct child_plan *q, char *area, char *tp,
    const struct clone_create *sc, int *ret_pidfd)
{
	sigset_t	all, old;
	pid_t		pid;
	int		err, flags = CLONE_VM | CLONE_SETTLS | SIGCHLD;

	if (sc->sc_want_pidfd)
		flags |= CLONE_PIDFD;
	if (sc->sc_newpid)
		flags |= CLONE_NEWPID;
	/* No handler of ours may run in the child: it starts with every
	 * signal blocked and resets them (child_run() step 1). */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = clone(clone_vm_child, area + CLONE_AREA_STACK, flags, q,
	    sc->sc_want_pidfd ? ret_pidfd : NULL, tp, NULL);
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return pid;
}
#endif

/* Unmap a CLONE_VM child's area (clone_vm_prepare()); NULL is fine. Only
 * once the child has exec'd or exited. */
void
clone_vm_free(void *area)
{
#ifdef CLONE_AREA_ON
	if (area != NULL && clone_vm_ncached < CLONE_AREA_CACHE)
		clone_vm_cache[clone_vm_ncached++] = area;
	else if (area != NULL)
		munmap(area, CLONE_AREA_SIZE);
#else
	(void)area;
#endif
}

/* Create the process: clone3() when a creation flag asks for it, else
 * fork(); clone() where clone3() is refused. Never CLONE_VM|CLONE_VFORK:
 * a child forkd is suspended for could hold forkd's only thread in a
 * chdir() or execve() on a hung mount (issue 13). Parent: pid or -1 with
 * errno. */
static pid_t
clone_process(struct child_plan *plan, const struct clone_create *sc,
    int *ret_pidfd)
{
	struct clone_args	ca;
	uint64_t		flags = 0;
	pid_t			pid;

	if (sc->sc_want_pidfd)
		flags |= CLONE_PIDFD;
	if (sc->sc_newpid)
		flags |= CLONE_NEWPID;
	if (sc->sc_cgroup_fd >= 0) {
		if (clone_no_into_cgroup || clone_no_clone3)
			plan->cp_cgroup_procs_fd = sc->sc_procs_fd;
		else
			flags |= CLONE_INTO_CGROUP;
	}
	while (flags != 0 && !clone_no_clone3) {
		memset(&ca, 0, sizeof ca);
		ca.flags = flags;
		ca.pidfd = (uint64_t)(uintptr_t)ret_pidfd;
		ca.cgroup = (flags & CLONE_INTO_CGROUP) ?
		    (uint64_t)sc->sc_cgroup_fd : 0;
		ca.exit_signal = SIGCHLD;
		/* Like glibc's fork(): the child's thread descriptor gets its
		 * own tid, or raise()/abort() there would miss it. */
		if (child_tid_field() != NULL) {
			ca.flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
			ca.child_tid = (uint64_t)(uintptr_t)child_tid_field();
		}
		/* Like fork(): the child returns here with a copy of our
		 * memory. */
		pid = (pid_t)clone_sys_clone3(&ca, sizeof ca);
		if (pid == 0)
			child_run(plan);
		if (pid >= 0)
			return pid;
		if (errno == ENOSYS) {
			if (!clone_clone3_probed)
				(void)clone_clone3_probe();
			clone_no_clone3 = 1;
			break;
		}
		if ((errno == EINVAL || errno == E2BIG) &&
		    (flags & CLONE_INTO_CGROUP)) {
			/* Before 5.7: the child joins its cgroup itself. */
			log_info("clone3: CLONE_INTO_CGROUP not supported (%s); "
			    "children join their cgroup themselves",
			    strerror(errno));
			clone_no_into_cgroup = 1;
			flags &= ~(uint64_t)CLONE_INTO_CGROUP;
			plan->cp_cgroup_procs_fd = sc->sc_procs_fd;
			if (flags != 0)
				continue;
			break;
		}
		return -1;
	}
	/* No clone3() made it: the child joins its cgroup itself. */
	if (sc->sc_cgroup_fd >= 0)
		plan->cp_cgroup_procs_fd = sc->sc_procs_fd;
	flags &= ~(uint64_t)CLONE_INTO_CGROUP;
	if (flags != 0)
		return clone_fallback(plan, flags, ret_pidfd);
	return fork();
}

/* Start a process for plan with creation-time flags (clone3, or clone where clone3
 * is refused): CLONE_PIDFD, CLONE_INTO_CGROUP, CLONE_NEWPID. With ret_vm,
 * an exec target may start in a CLONE_VM child (see CLONE_AREA_ON); then
 * *ret_vm is its area, for clone_vm_free() once it has exec'd or exited. */
int
clone_start_ex(struct child_plan *plan, const struct clone_create *sc,
    pid_t *ret_pid, int *ret_errfd, int *ret_pidfd, void **ret_vm)
{
	int	p[2], err, pidfd = -1;
	pid_t	pid;
	void	*area = NULL;

	if (ret_pidfd != NULL)
		*ret_pidfd = -1;
	if (ret_vm != NULL)
		*ret_vm = NULL;
	if (sc->sc_want_pidfd && ret_pidfd == NULL)
		return -EOPNOTSUPP;
	plan->cp_cgroup_procs_fd = -1;
	/* In a new PID namespace getppid() is 0: forkd is outside it. */
	if (sc->sc_newpid)
		plan->cp_parent = 0;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -errno;
	plan->cp_errfd = p[1];
	/* No buffered output may be duplicated into the child. */
	fflush(NULL);
#ifdef CLONE_AREA_ON
	/* An exec target; not for a cgroup (clone3 only), a user namespace
	 * (refused to a shared mm) or other namespaces, nor an identity
	 * change ("dumpable" belongs to the shared mm). */
	if (ret_vm != NULL && plan->cp_entry == NULL && sc->sc_cgroup_fd < 0 &&
	    !sc->sc_newuser && plan->cp_unshare == 0 && !plan->cp_identity) {
		struct child_plan	*q;
		char			*tp;

		if ((area = clone_vm_prepare(plan, &q, &tp)) != NULL) {
			pid = clone_vm_clone(q, area, tp, sc, &pidfd);
			if (pid < 0) {
				/* EINVAL: a kernel or emulator that takes
				 * only fork-, vfork- and thread-like clones:
				 * fork from now on. */
				if (errno == EINVAL) {
					log_info("exec targets fork: CLONE_VM "
					    "without CLONE_VFORK refused");
					clone_vm_usable = -1;
				}
				clone_vm_free(area);
				area = NULL;
			}
		}
	}
	if (area == NULL)
#endif
		pid = clone_process(plan, sc, &pidfd);
	if (pid == 0)
		child_run(plan);
	err = errno;
	close(p[1]);
	plan->cp_errfd = -1;
	if (pid < 0) {
		if (pidfd >= 0)
			close(pidfd);
		close(p[0]);
		return -err;
	}
	if (ret_vm != NULL)
		*ret_vm = area;
	*ret_pid = pid;
	*ret_errfd = p[0];
	if (ret_pidfd != NULL)
		*ret_pidfd = sc->sc_want_pidfd ? pidfd : -1;
	return 0;
}

/* A pidfd for forkd's own unreaped child (see clone.h). */
int
clone_pidfd_of_child(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd >= 0 ? fd : -errno;
}

/* Does pidfd_open(2) work here? Asked of forkd's own pid, once. */
int
clone_pidfd_open_works(void)
{
	static int	works = -1;
	int		fd;

	if (works < 0) {
		fd = clone_pidfd_of_child(getpid());
		works = fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	return works;
}
