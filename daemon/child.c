/* child.c: set-up of a forked child, in a safe order, then the target.
 *
 * Only async-signal-safe calls from here to the target: the daemon's heap,
 * stdio and libevent state are copies whose locks and invariants we do not
 * trust. A failing step writes {step, errno} to the error pipe and exits;
 * the daemon turns that into a spawn error reply (skalibs cspawn style).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "child.h"
#include "server.h"

extern char **environ;

static const char *const child_step_names[CHILD_STEP_MAX] = {
	[CHILD_STEP_NONE] = "none",
	[CHILD_STEP_SIGNALS] = "signals",
	[CHILD_STEP_SETSID] = "setsid",
	[CHILD_STEP_FDS] = "fds",
	[CHILD_STEP_CLOSE_FDS] = "close-fds",
	[CHILD_STEP_CHDIR] = "chdir",
	[CHILD_STEP_EXEC] = "exec",
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

/* Specialize the child and run its target. */
void
child_run(const struct child_plan *p)
{
	int			tmp[LIMIT_FD_TARGET_MAX + 1];
	int			errfd = p->cp_errfd, base, r;

	if (p->cp_presetup)
		goto fds;
	/* Signals first: dispositions set by the daemon (libevent's handlers)
	 * must not run in the child, and the mask is inherited. */
	if (child_signals_reset() != 0)
		child_fail(errfd, CHILD_STEP_SIGNALS, errno);

	/* Own session and process group, detached from the daemon's tty. */
	if (setsid() < 0)
		child_fail(errfd, CHILD_STEP_SETSID, errno);

	/* Key material must not outlive the fork in a child's memory. */
	if (!p->cp_shared_vm)
		server_wipe_secrets();
fds:
	(void)prctl(PR_SET_NAME, p->cp_name, 0, 0, 0);
	if (p->cp_daemon) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
			child_fail(errfd, CHILD_STEP_SIGNALS, errno);
		/* forkd may have died before the prctl: then die now. */
		if (getppid() != p->cp_parent)
			_exit(128 + SIGKILL);
	}

	/* Move every source fd and the error pipe above every target, so the
	 * dup2() calls below cannot clobber a source not yet placed. */
	base = p->cp_nfds + 1;
	if ((r = fcntl(errfd, F_DUPFD_CLOEXEC, base)) < 0)
		child_fail(errfd, CHILD_STEP_FDS, errno);
	errfd = r;
	for (int t = 0; t < p->cp_nfds; t++) {
		tmp[t] = -1;
		if (p->cp_fds[t] >= 0 &&
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

	if (chdir(p->cp_cwd) != 0)
		child_fail(errfd, CHILD_STEP_CHDIR, errno);

	if (p->cp_entry == NULL) {
		execve(p->cp_path, p->cp_argv, p->cp_envp);
		child_fail(errfd, CHILD_STEP_EXEC, errno);
	}

	/* An entry runs in this image; closing the pipe says it started. */
	environ = p->cp_envp;
	(void)close(errfd);
	r = p->cp_entry->fn(p->cp_argc, p->cp_argv);
	fflush(NULL);
	_exit(r & 0xff);
}
