/* zygote.c: the pool's zygote, a child forked once from the warm image
 * (no keys, no client sockets, signals reset) that makes pool children on
 * request with clone3(CLONE_PARENT) (clone() where clone3() is refused),
 * so that they are forkd's own children while forkd never forks for the
 * pool (see pool.c). Here: its start and self-test, the requests, the
 * answers (each child's pid and socket, handed to the pool), the answer
 * deadline, and giving up on it (forkd then forks pool children itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "child.h"
#include "clock.h"
#include "clone.h"
#include "log.h"
#include "pool.h"
#include "secret.h"
#include "server.h"
#include "spawn.h"
#include "wire.h"
#include "zygote.h"

#define ZYGOTE_WAIT_MS	2	/* for its next child, when the pool is empty */

#if defined(__SANITIZE_ADDRESS__)
#define ZYGOTE_NONE	1	/* ASan's fork bookkeeping needs glibc fork() */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ZYGOTE_NONE	1
#endif
#endif


/* The zygote, from the daemon's side. */
static pid_t		 zygote_pid = -1;
static int		 zygote_fd = -1;
static struct event	*zygote_ev;
static unsigned int	 zygote_pending_n;	/* asked, not yet here */
static int		 zygote_gave_up;	/* gave up on it: fork here */
/* Set by zygote_start(): the pool child's main, the pool's hand for a new
 * child (pid, the daemon's end of its socket), and its refill. */
static void		(*zygote_child_main)(int, pid_t);
static void		(*zygote_adopt)(pid_t, int);
static void		(*zygote_off_cb)(void);

/* Pids of forkd's children reaped while unknown: a pool child the zygote
 * made but whose message forkd had not read yet. Its message must then
 * not make an idle entry, whose pid could by now be another process's. */
#define ZYGOTE_GONE_MAX	64
static pid_t		 zygote_gone[ZYGOTE_GONE_MAX];
static unsigned int	 zygote_gone_next;
static uint64_t		 zygote_asked_ms;	/* oldest unanswered (0 none) */
#define ZYGOTE_LATE_MS	2000	/* no answer by then: it is stuck */

/* What the zygote sends per child (with the daemon's socket end). */
struct zygote_msg {
	int32_t	zm_pid;		/* > 0, or 0 with zm_errno */
	int32_t	zm_errno;
};


#ifndef ZYGOTE_NONE
/* A child that gets its tid in *tidp (CLONE_CHILD_SETTID/CLEARTID), with
 * parent the caller's parent (CLONE_PARENT), else the caller's own child:
 * clone3(), or clone() where clone3() is refused (clone_clone3_probe(),
 * run by forkd before the zygote was forked). Returns as fork(). */
static pid_t
zygote_clone_settid(int parent, pid_t *tidp)
{
	struct clone_args	ca;
	unsigned long		flags = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;

	if (parent)
		flags |= CLONE_PARENT;
	if (!clone_clone3_probe())
		return (pid_t)clone_sys_clone(flags | (parent ? 0 : SIGCHLD),
		    NULL, tidp);
	memset(&ca, 0, sizeof ca);
	ca.flags = flags;
	ca.child_tid = (uint64_t)(uintptr_t)tidp;
	/* With CLONE_PARENT the kernel takes the exit signal from the caller
	 * (the zygote's: SIGCHLD) and refuses one given here. */
	ca.exit_signal = parent ? 0 : SIGCHLD;
	return (pid_t)clone_sys_clone3(&ca, sizeof ca);
}

/* Can this zygote make working children? Check with one that is its own
 * child: zygote_clone_settid() must work and put the child's tid in the
 * field. */
static int
zygote_selftest(pid_t *tidp)
{
	pid_t	pid;
	int	st;

	pid = zygote_clone_settid(0, tidp);
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(*tidp == (pid_t)syscall(SYS_gettid) &&
		    pthread_kill(pthread_self(), 0) == 0 ? 0 : 1);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The zygote: read a count, make that many pool children, send each one's
 * pid and socket to forkd. It holds nothing a client sent and no key. */
static __attribute__((noreturn)) void
zygote_main(int zfd, pid_t daemon_pid)
{
	struct zygote_msg	 m;
	pid_t			*tidp;
	uint32_t		 count;
	ssize_t			 n;
	int			 sv[2];

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != daemon_pid)
		_exit(0);
	(void)child_signals_reset();
	(void)child_nofile_reset();
	(void)prctl(PR_SET_NAME, "forkd-zygote", 0, 0, 0);
	secret_wipe_all();
	pool_close_all_but(zfd, server_devnull());
	if ((tidp = child_tid_field()) == NULL ||
	    zygote_selftest(tidp) != 0) {
		m.zm_pid = 0;
		m.zm_errno = ENOTSUP;
		(void)!write(zfd, &m, sizeof m);
		_exit(0);
	}
	for (;;) {
		n = recv(zfd, &count, sizeof count, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof count)
			_exit(0);	/* forkd closed the socket, or nonsense */
		while (count-- > 0) {
			pid_t pid;

			m.zm_pid = 0;
			m.zm_errno = 0;
			if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
			    0, sv) != 0) {
				m.zm_errno = errno;
				(void)wire_send(zfd, (unsigned char *)&m,
				    sizeof m, NULL, 0);
				break;
			}
			pid = zygote_clone_settid(1, tidp);
			if (pid == 0) {
				close(zfd);
				close(sv[0]);
				zygote_child_main(sv[1], daemon_pid);
				_exit(127);	/* not reached */
			}
			close(sv[1]);
			if (pid < 0)
				m.zm_errno = errno;
			else
				m.zm_pid = pid;
			if (wire_send(zfd, (unsigned char *)&m, sizeof m,
			    pid > 0 ? &sv[0] : NULL, pid > 0 ? 1 : 0) != 0) {
				if (pid > 0)
					kill(pid, SIGKILL);
				_exit(0);
			}
			close(sv[0]);
			if (pid < 0)
				break;
		}
	}
}

/* Stop using the zygote (dead, broken or stuck): forkd forks pool
 * children itself from now on. */
void
zygote_give_up(const char *why)
{
	log_warnx("pool: zygote %s; forking pool children in forkd from now "
	    "on", why);
	if (zygote_ev != NULL)
		event_free(zygote_ev);
	zygote_ev = NULL;
	if (zygote_fd >= 0)
		close(zygote_fd);
	zygote_fd = -1;
	if (zygote_pid > 0)
		kill(zygote_pid, SIGKILL);	/* unreaped: still ours */
	zygote_gave_up = 1;
	zygote_pending_n = 0;
	zygote_asked_ms = 0;
	zygote_off_cb();
}

/* Pool children (and errors) arriving from the zygote. */
static void
zygote_cb(evutil_socket_t fd, short what, void *arg)
{
	struct zygote_msg	 m;
	size_t			 nfds = 0;
	ssize_t			 n;
	int			 cfd[1];

	for (;;) {
		n = wire_recv(zygote_fd, (unsigned char *)&m, sizeof m, cfd,
		    1, &nfds);
		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0 || n != (ssize_t)sizeof m ||
		    (m.zm_pid > 0) != (nfds == 1)) {
			if (nfds == 1)
				close(cfd[0]);
			/* The zygote is gone (the reaper logs how). */
			zygote_give_up(n == 0 ? "exited" :
			    "sent nonsense");
			return;
		}
		if (m.zm_pid <= 0) {
			if (m.zm_errno == ENOTSUP)
				log_info("pool: zygote cannot clone here; "
				    "forking pool children in forkd");
			else
				log_warnx("pool: zygote cannot fork: %s",
				    strerror(m.zm_errno));
			zygote_pending_n = 0;
			if (m.zm_errno == ENOTSUP) {
				zygote_gave_up = 1;
				zygote_off_cb();
			}
			continue;
		}
		if (zygote_pending_n > 0)
			zygote_pending_n--;
		zygote_asked_ms = zygote_pending_n > 0 ? clock_mono_ms() : 0;
		for (unsigned int i = 0; i < ZYGOTE_GONE_MAX; i++)
			if (zygote_gone[i] == m.zm_pid) {
				zygote_gone[i] = 0;
				m.zm_pid = 0;	/* died before we knew it */
			}
		if (m.zm_pid == 0) {
			close(cfd[0]);	/* its process is gone */
			continue;
		}
		zygote_adopt(m.zm_pid, cfd[0]);
	}
}

#endif /* !ZYGOTE_NONE */

/* Start the zygote; -errno when there is none (forkd forks itself). */
int
zygote_start(void (*child_main)(int, pid_t), void (*adopt)(pid_t, int),
    void (*off_cb)(void))
{
	if (zygote_gave_up)
		return -ENOTSUP;
	zygote_child_main = child_main;
	zygote_adopt = adopt;
	zygote_off_cb = off_cb;
#ifdef ZYGOTE_NONE
	return -ENOTSUP;
#else
	pid_t	pid, self = getpid();
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		zygote_main(sv[1], self);
	}
	close(sv[1]);
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		return -err;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	zygote_ev = event_new(server_evbase(), sv[0], EV_READ | EV_PERSIST,
	    zygote_cb, NULL);
	if (zygote_ev == NULL || event_add(zygote_ev, NULL) != 0) {
		if (zygote_ev != NULL)
			event_free(zygote_ev);
		zygote_ev = NULL;
		close(sv[0]);
		kill(pid, SIGKILL);
		return -ENOMEM;
	}
	zygote_pid = pid;
	zygote_fd = sv[0];
	return 0;
#endif
}

/* Ask the zygote for n more children. */
int
zygote_ask(unsigned int n)
{
	uint32_t count = n;

	if (send(zygote_fd, &count, sizeof count, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof count)
		return -errno;
	if (zygote_pending_n == 0)
		zygote_asked_ms = clock_mono_ms();
	zygote_pending_n += n;
	return 0;
}

/* Is the zygote there to ask? */
int
zygote_active(void)
{
	return zygote_fd >= 0;
}

/* Children asked of the zygote and not yet here. */
unsigned int
zygote_pending(void)
{
	return zygote_pending_n;
}

/* The pool is empty and children are on their way: wait a little for the
 * next one (the loop is blocked either way), or give up on a zygote that
 * has not answered for ZYGOTE_LATE_MS (stopped or stuck). */
void
zygote_wait_one(void)
{
#ifndef ZYGOTE_NONE
	struct pollfd pfd = { zygote_fd, POLLIN, 0 };

	if (zygote_fd < 0 || zygote_pending_n == 0)
		return;
	if (zygote_asked_ms != 0 &&
	    clock_since_ms(zygote_asked_ms) > ZYGOTE_LATE_MS)
		zygote_give_up("does not answer");
	else if (poll(&pfd, 1, ZYGOTE_WAIT_MS) == 1)
		zygote_cb(zygote_fd, EV_READ, NULL);
#endif
}

/* The reaper found pid: 1 if it was the zygote. */
int
zygote_reaped(pid_t pid, int wstatus)
{
	if (pid != zygote_pid)
		return 0;
	zygote_pid = -1;
	if (!server_stopping())
		log_warnx("pool: zygote %d ended (exitcode %d)", (int)pid,
		    spawn_exitcode(wstatus));
	return 1;
}

/* The reaper found pid, not a known child: while children are asked of
 * the zygote, note it (perhaps one whose message is not read yet). */
void
zygote_unknown_reaped(pid_t pid)
{
	if (zygote_pending_n > 0) {
		zygote_gone[zygote_gone_next] = pid;
		zygote_gone_next = (zygote_gone_next + 1) % ZYGOTE_GONE_MAX;
	}
}

/* Stop: close the socket; the zygote sees EOF and exits, and so do the
 * children it made meanwhile. */
void
zygote_stop(void)
{
	if (zygote_ev != NULL) {
		event_free(zygote_ev);
		zygote_ev = NULL;
	}
	if (zygote_fd >= 0) {
		close(zygote_fd);
		zygote_fd = -1;
	}
	zygote_pending_n = 0;
}
