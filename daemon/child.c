/* child.c: set-up of a forked child, in a safe order, then the target.
 *
 * Only async-signal-safe calls from here to the target: the daemon's heap,
 * stdio and libevent state are copies whose locks and invariants we do not
 * trust. A failing step writes {step, errno} to the error pipe and exits;
 * the daemon turns that into a spawn error reply (skalibs cspawn style).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#include "child.h"
#include "policy.h"
#include "secret.h"

extern char **environ;

static const char *const child_step_names[CHILD_STEP_MAX] = {
	[CHILD_STEP_NONE] = "none",
	[CHILD_STEP_SIGNALS] = "signals",
	[CHILD_STEP_SETSID] = "setsid",
	[CHILD_STEP_FDS] = "fds",
	[CHILD_STEP_CLOSE_FDS] = "close-fds",
	[CHILD_STEP_CHDIR] = "chdir",
	[CHILD_STEP_EXEC] = "exec",
	[CHILD_STEP_CGROUP] = "cgroup",
	[CHILD_STEP_RLIMITS] = "rlimits",
	[CHILD_STEP_UMASK] = "umask",
	[CHILD_STEP_NICE] = "nice",
	[CHILD_STEP_AFFINITY] = "affinity",
	[CHILD_STEP_PGROUP] = "pgroup",
	[CHILD_STEP_NAMESPACES] = "namespaces",
	[CHILD_STEP_GROUPS] = "groups",
	[CHILD_STEP_GID] = "gid",
	[CHILD_STEP_UID] = "uid",
	[CHILD_STEP_USERNS] = "userns",
	[CHILD_STEP_CAPS] = "caps",
	[CHILD_STEP_NO_NEW_PRIVS] = "no-new-privs",
	[CHILD_STEP_PDEATHSIG] = "pdeathsig",
	[CHILD_STEP_HANDOVER] = "hand-over",
	[CHILD_STEP_POLICY] = "policy",
};

/* Name of a set-up step, for error messages. */
const char *
child_step_name(int step)
{
	if (step < 0 || step >= CHILD_STEP_MAX)
		return "unknown";
	return child_step_names[step];
}

/* Signals whose disposition differs from SIG_DFL in forkd (libevent's
 * handlers, SIGPIPE ignored, anything a module set at load): children
 * reset these, one sigaction() each instead of one per signal. */
static sigset_t	child_sig_changed;
static int	child_sig_known;

/* Record which dispositions differ from the default; called once the
 * daemon's handlers are installed, before any child is forked. */
void
child_signals_init(void)
{
	struct sigaction old;

	sigemptyset(&child_sig_changed);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &old) != 0 ||
		    (old.sa_flags & SA_SIGINFO) != 0 ||
		    old.sa_handler != SIG_DFL)
			sigaddset(&child_sig_changed, sig);
	}
	child_sig_known = 1;
	(void)child_tid_field();
}

/* glibc's thread descriptor keeps the thread's id (mutex owners, robust
 * lists). glibc's fork() sets it in the child (CLONE_CHILD_SETTID);
 * forkd's raw clone3() children have the kernel do the same, so they are
 * like fork() children to glibc. Find the field: the one int in the
 * descriptor's first KiB equal to our tid. Computed once in the daemon (child_signals_init())
 * and inherited; NULL when not exactly one int matches. */
pid_t *
child_tid_field(void)
{
	static pid_t	*field;
	static int	 done;
	pid_t		 me, *p;

	if (done)
		return field;
	done = 1;
	me = (pid_t)syscall(SYS_gettid);
	p = (pid_t *)(void *)pthread_self();
	for (size_t i = 0; i < 1024 / sizeof *p; i++) {
		if (p[i] != me)
			continue;
		if (field != NULL) {
			field = NULL;
			break;
		}
		field = &p[i];
	}
	return field;
}

/* forkd raises its own soft RLIMIT_NOFILE to the hard limit (queued
 * pidfds, many clients); children get the soft limit forkd was started
 * with back, since select()-based programs break above 1024. */
static struct rlimit	child_nofile;
static int		child_nofile_raised;

/* Raise forkd's soft fd limit, remembering the old one for children. */
void
child_nofile_init(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &child_nofile) != 0 ||
	    child_nofile.rlim_cur >= child_nofile.rlim_max)
		return;
	rl = child_nofile;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		child_nofile_raised = 1;
}

/* With spawn_cpu, forkd runs on one CPU; children get this mask back. */
static cpu_set_t	child_cpus;
static int		child_cpus_pinned;

/* Pin forkd (and what it forks from now on) to cpu, remembering its
 * affinity for children. 0, or -errno (-EINVAL: not a CPU forkd may use). */
int
child_affinity_init(int cpu)
{
	cpu_set_t one;

	if (sched_getaffinity(0, sizeof child_cpus, &child_cpus) != 0)
		return -errno;
	if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &child_cpus))
		return -EINVAL;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof one, &one) != 0)
		return -errno;
	child_cpus_pinned = 1;
	return 0;
}

/* In a child: forkd's original soft fd limit. Async-signal-safe. */
int
child_nofile_reset(void)
{
	return child_nofile_raised ? setrlimit(RLIMIT_NOFILE, &child_nofile) :
	    0;
}

/* Back to default dispositions and an empty mask; async-signal-safe. */
int
child_signals_reset(void)
{
	struct sigaction	sa;
	sigset_t		set;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (child_sig_known && sigismember(&child_sig_changed, sig) != 1)
			continue;
		(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&set);
	return sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Report a failed step to the daemon and exit. */
static __attribute__((noreturn)) void
child_fail(int errfd, int step, int err)
{
	struct child_error ce = { step, err };

	(void)!write(errfd, &ce, sizeof ce);
	_exit(127);
}

/* errno, or EIO when a call failed without setting it (a short write). */
static int
child_errno(void)
{
	return errno != 0 ? errno : EIO;
}

/* Write all of buf[0..len) to path (open/write/close only). 0 or -1. */
static int
child_write_file(const char *path, const char *buf, size_t len)
{
	ssize_t	n;
	int	fd, err;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	errno = 0;
	n = write(fd, buf, len);
	err = child_errno();
	(void)close(fd);
	if (n != (ssize_t)len) {
		errno = err;
		return -1;
	}
	return 0;
}

/* "0 <id> 1\n" for a uid_map or gid_map, formatted by hand (snprintf is
 * not async-signal-safe). Returns the length. */
static size_t
child_idmap_line(char *buf, unsigned int id)
{
	char	digits[10];
	size_t	n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + id % 10);
		id /= 10;
	} while (id != 0);
	buf[len++] = '0';
	buf[len++] = ' ';
	while (n > 0)
		buf[len++] = digits[--n];
	buf[len++] = ' ';
	buf[len++] = '1';
	buf[len++] = '\n';
	return len;
}

/* Raw capset() (no libcap): clear the inheritable set, and with keep 0
 * the permitted and effective sets too; keep 1 leaves those as they are.
 * Nothing to clear (forkd not root, as under the shipped unit): no
 * capset() at all, which the unit's SystemCallFilter=~@privileged
 * refuses with EPERM even when it would change nothing. */
static int
child_capset(int keep)
{
	struct __user_cap_header_struct	hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct	data[_LINUX_CAPABILITY_U32S_3];
	int				held = 0;

	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -1;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
		held |= data[i].inheritable != 0 || (!keep &&
		    (data[i].permitted != 0 || data[i].effective != 0));
		data[i].inheritable = 0;
		if (!keep)
			data[i].permitted = data[i].effective = 0;
	}
	if (!held)
		return 0;
	return (int)syscall(SYS_capset, &hdr, data);
}

/* drop_caps, part 1 (still privileged): empty the bounding set, the
 * ambient set and the inheritable set. Emptying the bounding set needs
 * CAP_SETPCAP: without it (forkd not root, as under the shipped unit)
 * what can be dropped is, *ret_nnp is set, and the caller sets
 * no_new_privs instead, so that no exec can gain what stays in the
 * bounding set (setuid-root or file-capability programs). */
static int
child_drop_bounding(const struct child_plan *p, int *ret_nnp)
{
	for (int cap = 0; cap <= p->cp_cap_last; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		/* A kernel older than the header it was read from: its
		 * last capability is below cap. */
		if (errno == EINVAL && cap > 0)
			break;
		if (errno == EPERM) {
			*ret_nnp = 1;
			break;
		}
		return -1;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 &&
	    errno != EINVAL)
		return -1;
	return child_capset(1);
}

/* User namespace (step 10): unshare, then map the uid and gid we have now
 * to 0 inside. Returns the failing step or 0. */
static int
child_userns(const struct child_plan *p)
{
	char	line[32];
	size_t	len;
	uid_t	uid = (uid_t)syscall(SYS_geteuid);
	gid_t	gid = (gid_t)syscall(SYS_getegid);
	int	dumpable;

	/* A CLONE_VM child shares the daemon's mm: the kernel refuses a new
	 * user namespace there (clone_start_ex() must fork for NS_USER). */
	if (p->cp_shared_vm) {
		errno = EINVAL;
		return CHILD_STEP_USERNS;
	}
	/* After a uid change the process is not dumpable (fs.suid_dumpable),
	 * which makes /proc/self/ root-owned and its maps unwritable to us.
	 * The memory was wiped of keys at fork and is the target's to see
	 * anyway; dumpable is restored right after the maps are written. */
	if ((dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)) == 0 &&
	    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
		return CHILD_STEP_USERNS;
	if (unshare(CLONE_NEWUSER) != 0)
		return CHILD_STEP_USERNS;
	/* "deny" first: unprivileged gid_map writes need it (Linux 3.19+). */
	if (child_write_file("/proc/self/setgroups", "deny", 4) != 0 &&
	    errno != ENOENT)
		return CHILD_STEP_USERNS;
	len = child_idmap_line(line, (unsigned int)uid);
	if (child_write_file("/proc/self/uid_map", line, len) != 0)
		return CHILD_STEP_USERNS;
	len = child_idmap_line(line, (unsigned int)gid);
	if (child_write_file("/proc/self/gid_map", line, len) != 0)
		return CHILD_STEP_USERNS;
	if (dumpable == 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return CHILD_STEP_USERNS;
	if ((p->cp_unshare & ~CLONE_NEWUSER) != 0 &&
	    unshare(p->cp_unshare & ~CLONE_NEWUSER) != 0)
		return CHILD_STEP_NAMESPACES;
	return 0;
}

/* Close every fd from lo up, with close_range() or a loop as fallback. */
static int
child_close_from(int lo)
{
	struct rlimit	rl;

	if (syscall(SYS_close_range, (unsigned)lo, ~0U, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		rl.rlim_cur = 65536;
	for (rlim_t fd = (rlim_t)lo; fd < rl.rlim_cur; fd++)
		close((int)fd);
	return 0;
}

/* Specialize the child and run its target, in the order of PROTOCOL.md
 * "Child set-up" (steps 1-13): limits and namespaces while privileged,
 * capabilities and identity after, no_new_privs last before the target. */
void
child_run(const struct child_plan *p)
{
	int			tmp[LIMIT_FD_TARGET_MAX + 1];
	int			errfd = p->cp_errfd, base, r, caps_nnp = 0;

	/* 1. Signals (a pool child did this, setsid() and the key wipe when
	 * it was forked): dispositions set by the daemon (libevent's
	 * handlers) must not run in the child, and the mask is inherited. */
	if (!p->cp_presetup && (child_signals_reset() != 0 ||
	    child_nofile_reset() != 0))
		child_fail(errfd, CHILD_STEP_SIGNALS, errno);

	/* 2. Own session (detached from the daemon's tty), or only an own
	 * process group in forkd's session. A pool child is a session leader
	 * already and cannot leave its session: spawn.c does not hand it a
	 * PGROUP_GROUP request. */
	if (p->cp_pgroup_only) {
		if (p->cp_presetup)
			child_fail(errfd, CHILD_STEP_PGROUP, EINVAL);
		if (setpgid(0, 0) != 0)
			child_fail(errfd, CHILD_STEP_PGROUP, errno);
	} else if (!p->cp_presetup && setsid() < 0)
		child_fail(errfd, CHILD_STEP_SETSID, errno);

	/* Key material must not outlive the fork in a child's memory. */
	if (!p->cp_presetup && !p->cp_shared_vm)
		secret_wipe_all();
	(void)prctl(PR_SET_NAME, p->cp_name, 0, 0, 0);

	/* 3. Join the cgroup when it could not be done at clone time. */
	if (p->cp_cgroup_procs_fd >= 0) {
		errno = 0;
		if (write(p->cp_cgroup_procs_fd, "0", 1) != 1)
			child_fail(errfd, CHILD_STEP_CGROUP, child_errno());
	}

	/* 4. Limits, all before any privilege is dropped: raising a hard
	 * limit needs CAP_SYS_RESOURCE. RLIMIT_NOFILE is different: the fd
	 * shuffle of step 13 needs room above the targets, so here only a
	 * raised hard limit is applied; the limit itself comes after the
	 * shuffle (lowering is never privileged). */
	for (int i = 0; i < p->cp_nrlimits; i++) {
		struct rlimit rl = { p->cp_rlimits[i].soft,
		    p->cp_rlimits[i].hard };

		if (p->cp_rlimits[i].resource == RLIMIT_NOFILE) {
			struct rlimit cur;

			if (getrlimit(RLIMIT_NOFILE, &cur) != 0)
				child_fail(errfd, CHILD_STEP_RLIMITS, errno);
			if (rl.rlim_max <= cur.rlim_max)
				continue;
			rl.rlim_cur = cur.rlim_cur;
		}
		if (setrlimit(p->cp_rlimits[i].resource, &rl) != 0)
			child_fail(errfd, CHILD_STEP_RLIMITS, errno);
	}

	/* 5. Scheduling and file mode mask. */
	if (p->cp_nice_set && setpriority(PRIO_PROCESS, 0, p->cp_nice) != 0)
		child_fail(errfd, CHILD_STEP_NICE, errno);
	if (p->cp_ncpus > 0 &&
	    sched_setaffinity(0, sizeof p->cp_cpus, &p->cp_cpus) != 0)
		child_fail(errfd, CHILD_STEP_AFFINITY, errno);
	/* forkd's own CPUs, when spawn_cpu pinned forkd to one of them. */
	if (p->cp_ncpus == 0 && child_cpus_pinned &&
	    sched_setaffinity(0, sizeof child_cpus, &child_cpus) != 0)
		child_fail(errfd, CHILD_STEP_AFFINITY, errno);
	if (p->cp_umask >= 0)
		(void)umask((mode_t)p->cp_umask);

	/* 6. Namespaces other than user (PID is made at clone time) while
	 * still privileged; with a user namespace they come in step 10,
	 * owned by it. */
	if (p->cp_unshare != 0 && !(p->cp_unshare & CLONE_NEWUSER) &&
	    unshare(p->cp_unshare) != 0)
		child_fail(errfd, CHILD_STEP_NAMESPACES, errno);

	/* 7. Bounding, ambient and inheritable sets: needs CAP_SETPCAP, so
	 * before the uid change takes it away. */
	if (p->cp_drop_caps && child_drop_bounding(p, &caps_nnp) != 0)
		child_fail(errfd, CHILD_STEP_CAPS, errno);

	/* 8. Identity: groups, then gid, then uid (after the uid no longer
	 * 0 the others could not change). Raw syscalls: glibc's wrappers
	 * broadcast to all threads through its setxid machinery, which a
	 * CLONE_VM child sharing the daemon's memory must not touch; the
	 * kernel call changes this task only, which is what we want. */
	if (p->cp_identity) {
		if (syscall(SYS_setgroups, (size_t)p->cp_ngroups,
		    p->cp_groups) != 0)
			child_fail(errfd, CHILD_STEP_GROUPS, errno);
		if (syscall(SYS_setresgid, p->cp_gid, p->cp_gid,
		    p->cp_gid) != 0)
			child_fail(errfd, CHILD_STEP_GID, errno);
		if (syscall(SYS_setresuid, p->cp_uid, p->cp_uid,
		    p->cp_uid) != 0)
			child_fail(errfd, CHILD_STEP_UID, errno);
	}

	/* 9. Daemon-flag children die with forkd. A credential change clears
	 * the parent-death signal, so it is set after step 8. */
	if (p->cp_daemon) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
			child_fail(errfd, CHILD_STEP_PDEATHSIG, errno);
		/* forkd may have died before the prctl: then die now. */
		if (getppid() != p->cp_parent)
			_exit(128 + SIGKILL);
	}

	/* 10. User namespace, mapping the identity of step 8 to 0 inside,
	 * then the namespaces of step 6 owned by it. */
	if ((p->cp_unshare & CLONE_NEWUSER) && (r = child_userns(p)) != 0)
		child_fail(errfd, r, errno);
	/* A new user namespace starts with a full bounding set, which an
	 * exec as its uid 0 would turn into full capabilities there: empty
	 * it again (we hold CAP_SETPCAP inside). */
	if ((p->cp_unshare & CLONE_NEWUSER) && p->cp_drop_caps &&
	    child_drop_bounding(p, &caps_nnp) != 0)
		child_fail(errfd, CHILD_STEP_CAPS, errno);

	/* 11. Effective and permitted sets (they matter when the uid stayed
	 * 0, or inside a new user namespace). */
	if (p->cp_drop_caps && child_capset(0) != 0)
		child_fail(errfd, CHILD_STEP_CAPS, errno);

	/* 12. Nothing the target execs may gain privileges (setuid bits,
	 * file capabilities). */
	if ((p->cp_no_new_privs || caps_nnp) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		child_fail(errfd, CHILD_STEP_NO_NEW_PRIVS, errno);

	/* 13. fds, working directory and the target. Move every source fd
	 * and the error pipe above every target, so the dup2() calls below
	 * cannot clobber a source not yet placed. One above them already is
	 * safe where it is (no dup2() below writes there) and is closed with
	 * the rest after: an fcntl() less for each (issue 17: in a pool
	 * child the error pipe and forkd's /dev/null usually are). */
	base = p->cp_nfds + 1;
	if (errfd < base && (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, base)) < 0)
		child_fail(p->cp_errfd, CHILD_STEP_FDS, errno);
	for (int t = 0; t < p->cp_nfds; t++) {
		tmp[t] = p->cp_fds[t];
		if (tmp[t] >= 0 && tmp[t] < base &&
		    (tmp[t] = fcntl(p->cp_fds[t], F_DUPFD_CLOEXEC, base)) < 0)
			child_fail(errfd, CHILD_STEP_FDS, errno);
	}
	for (int t = 0; t < p->cp_nfds; t++) {
		if (tmp[t] < 0)
			(void)close(t);
		else if (dup2(tmp[t], t) < 0)	/* dup2 clears O_CLOEXEC */
			child_fail(errfd, CHILD_STEP_FDS, errno);
	}
	/* The error pipe goes right above the targets; all else is closed:
	 * listening socket, other clients' sockets, the key file, libevent. */
	if (dup2(errfd, p->cp_nfds) < 0 ||
	    fcntl(p->cp_nfds, F_SETFD, FD_CLOEXEC) < 0)
		child_fail(errfd, CHILD_STEP_FDS, errno);
	errfd = p->cp_nfds;
	if (child_close_from(errfd + 1) != 0)
		child_fail(errfd, CHILD_STEP_CLOSE_FDS, errno);
	/* RLIMIT_NOFILE, now that the fds are in place (see step 4). */
	for (int i = 0; i < p->cp_nrlimits; i++) {
		struct rlimit rl = { p->cp_rlimits[i].soft,
		    p->cp_rlimits[i].hard };

		if (p->cp_rlimits[i].resource == RLIMIT_NOFILE &&
		    setrlimit(RLIMIT_NOFILE, &rl) != 0)
			child_fail(errfd, CHILD_STEP_RLIMITS, errno);
	}

	if (!p->cp_cwd_done && chdir(p->cp_cwd) != 0)
		child_fail(errfd, CHILD_STEP_CHDIR, errno);

	if (p->cp_entry == NULL) {
		char	resolved[PATH_MAX];
		int	fd;

		if (p->cp_exec_policy == NULL) {
			execve(p->cp_path, p->cp_argv, p->cp_envp);
			child_fail(errfd, CHILD_STEP_EXEC, errno);
		}
		/* allow_exec_paths: resolved and checked here, not in forkd's
		 * loop, which a path on a hung mount would block. */
		if ((r = policy_exec_open(p->cp_exec_policy, p->cp_path,
		    resolved, &fd)) == -EPERM)
			child_fail(errfd, CHILD_STEP_POLICY, EPERM);
		else if (r != 0)
			child_fail(errfd, CHILD_STEP_EXEC, -r);
		/* The file that was checked, whatever happens to the path. */
		syscall(SYS_execveat, fd, "", p->cp_argv, p->cp_envp,
		    AT_EMPTY_PATH);
		/* A script cannot run from an O_CLOEXEC fd (its interpreter
		 * would open /dev/fd/N after the exec closed it): ENOENT;
		 * then the checked resolved path. */
		if (errno == ENOENT)
			execve(resolved, p->cp_argv, p->cp_envp);
		child_fail(errfd, CHILD_STEP_EXEC, errno);
	}

	/* An entry runs in this image: say "started" ({NONE, 0}), then
	 * close the pipe. A pipe closed without it means the child died
	 * before its target ran. */
	environ = p->cp_envp;
	{
		struct child_error started = { CHILD_STEP_NONE, 0 };

		(void)!write(errfd, &started, sizeof started);
	}
	(void)close(errfd);
	r = p->cp_entry->fn(p->cp_argc, p->cp_argv);
	fflush(NULL);
	_exit(r & 0xff);
}
