/* closer.c: fds that came from clients are closed off the event loop.
 *
 * A client chooses the file behind every fd it passes, and close() can
 * block in the caller:
 * - a TCP socket with SO_LINGER {1, N} and a full send buffer: its last
 *   close() waits up to N seconds (turning lingering off avoids that);
 * - a file on a FUSE mount whose server does not answer: *every* close()
 *   of an fd of it, the last or not, sends FLUSH and waits for the answer
 *   (so handing the file to another process and closing forkd's own fd
 *   afterwards still blocks forkd); fstat() asks the server too (getattr);
 * - a tty draining its output, an NFS file flushing, and an AF_UNIX socket
 *   whose queue holds any of the above (they are released with it).
 * Nothing forkd could look at first (fstat: getattr) tells them apart
 * without itself touching the file.
 *
 * So forkd never closes a client's fd: wire_close_fds() hands its number
 * to forkd-closer, a process that shares forkd's fd table (CLONE_FILES,
 * not its memory: a process, not a thread, so forkd stays single-threaded
 * and fork-safe). It is made at start-up, before the key is read and the
 * modules are loaded, so it holds no secret and little memory. It hands
 * the numbers, a batch at a time, to a worker that shares the same table
 * and closes them there, sockets with lingering turned off. close() takes
 * an fd out of the table before it flushes, so a close that hangs hangs
 * the worker only, never forkd and never the closer, and the number is
 * free again at once; a worker busy for CLOSER_STUCK_MS is let go and a
 * new one takes the next batches. forkd sends the numbers over a
 * non-blocking pipe; a number stays open in forkd's table (and unused)
 * until a worker closes it. The fds of a batch after one whose close
 * hangs wait in the table with it.
 *
 * Only when the closer is gone (killed), or could not start (valgrind
 * does not run clone(CLONE_FILES)), does forkd close fds itself, with
 * lingering turned off first, and say so in the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CLOSER_ON_VALGRIND()	RUNNING_ON_VALGRIND
#endif
#endif
#ifndef CLOSER_ON_VALGRIND
#define CLOSER_ON_VALGRIND()	0
#endif

#include "clock.h"
#include "closer.h"
#include "log.h"
#include "server.h"
#include "wire.h"

/* fd numbers per write: within PIPE_BUF, so a write is never split. */
#define CLOSER_BATCH		(512 / sizeof(int))
/* fd numbers one worker closes. */
#define CLOSER_WORKER_FDS	1024
/* Workers let go (stuck in a close) alive at once; over it, the closer
 * closes batches itself. */
#define CLOSER_WORKERS_MAX	64
/* A batch not done in this time means a close() hangs: next worker. */
#define CLOSER_STUCK_MS		50
/* fd numbers the closer holds while its worker is busy. */
#define CLOSER_PENDING_MAX	4096

static int		 closer_wfd = -1;	/* forkd: numbers go here */
static pid_t		 closer_cpid = -1;	/* forkd-closer */
static pid_t		 closer_owner;		/* forkd: its children close */
static int		*closer_pending;	/* numbers not yet sent */
static size_t		 closer_npending, closer_cap;
static struct event	*closer_wev;
static int		 closer_broken;		/* closer gone: close here */

static void	closer_writable_cb(evutil_socket_t, short, void *);

/* Close fd without lingering: a socket's queued data is then sent (or
 * dropped) by the kernel after close() returns. setsockopt() on a
 * non-socket fails with ENOTSOCK and touches no file system. */
static void
closer_close_one(int fd)
{
	struct linger nl = { 0, 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &nl, sizeof nl);
	(void)close(fd);
}

/* fork(), sharing the caller's fd table. */
static pid_t
closer_clone_files(void)
{
	return (pid_t)syscall(SYS_clone, CLONE_FILES | SIGCHLD, NULL, NULL,
	    NULL, NULL);
}

/* Reap finished workers; return how many are still alive. */
static unsigned int
closer_reap(unsigned int alive)
{
	while (alive > 0 && waitpid(-1, NULL, WNOHANG) > 0)
		alive--;
	return alive;
}

/* Is forkd gone? Its pidfd turned readable, or, without one, no process
 * has its pid any more. */
static int
closer_forkd_gone(const struct pollfd *pidpfd, pid_t forkd)
{
	if (pidpfd->fd >= 0)
		return (pidpfd->revents & (POLLIN | POLLHUP | POLLERR)) != 0;
	return kill(forkd, 0) != 0 && errno == ESRCH;
}

/* A worker: close the batches that come on fd, in the shared table, and
 * acknowledge each; exit at EOF (the closer let go of it) or when forkd
 * is gone. Its own end is the one fd it closes besides the batches. */
static void
closer_worker_main(int fd, int pidfd, pid_t forkd)
{
	static int	batch[CLOSER_WORKER_FDS];
	struct pollfd	pfd[2] = { { fd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
	ssize_t		r;
	char		ack = 'k';

	for (;;) {
		if (poll(pfd, 2, pidfd < 0 ? 1000 : -1) < 0 && errno != EINTR)
			break;
		if (closer_forkd_gone(&pfd[1], forkd))
			break;
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv(fd, batch, sizeof batch, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		for (size_t i = 0; i < (size_t)r / sizeof(int); i++)
			closer_close_one(batch[i]);
		(void)send(fd, &ack, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	close(fd);
	_exit(0);
}

/* forkd-closer's current worker. */
struct closer_worker {
	int		w_fd;		/* the closer's end, or -1 */
	unsigned int	w_busy;		/* batches not acknowledged */
	uint64_t	w_since_ms;	/* since when it has been busy */
};

/* Start a worker sharing the table. 0 or -1. */
static int
closer_worker_new(struct closer_worker *w, int pidfd, pid_t forkd)
{
	int	sv[2];
	pid_t	pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	pid = closer_clone_files();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0)
		closer_worker_main(sv[1], pidfd, forkd);
	/* sv[1] is the worker's: it closes it itself (the table is shared;
	 * a number closed here could be reused under the worker). */
	w->w_fd = sv[0];
	w->w_busy = 0;
	return 0;
}

/* Let worker w go (stuck or dead): it finishes and exits on its own. */
static void
closer_let_go(struct closer_worker *w, unsigned int *gone)
{
	close(w->w_fd);
	w->w_fd = -1;
	(*gone)++;
}

/* Read w's acknowledgements of closed batches; a worker that died is let
 * go. */
static void
closer_acks(struct closer_worker *w, uint64_t now, unsigned int *gone)
{
	char	acks[64];
	ssize_t	r;

	r = recv(w->w_fd, acks, sizeof acks, MSG_DONTWAIT);
	if (r > 0) {
		w->w_busy = w->w_busy > (unsigned int)r ?
		    w->w_busy - (unsigned int)r : 0;
		w->w_since_ms = now;
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR))
		closer_let_go(w, gone);
}

/* Hand the next batch of pend to worker w (a new one if it was let go),
 * or close it here when too many workers hang. 0 when the batch is off
 * pend; -1 when w failed to take it (let go: the next worker takes it). */
static int
closer_hand_over(struct closer_worker *w, int *pend, size_t *npend,
    int pidfd, pid_t forkd, uint64_t now, unsigned int *gone)
{
	size_t k = *npend < CLOSER_WORKER_FDS ? *npend : CLOSER_WORKER_FDS;

	if (w->w_fd < 0 && (*gone >= CLOSER_WORKERS_MAX ||
	    closer_worker_new(w, pidfd, forkd) != 0)) {
		/* Too many hang (or no clone): close here, slowly. */
		for (size_t i = 0; i < k; i++)
			closer_close_one(pend[i]);
	} else if (send(w->w_fd, pend, k * sizeof(int),
	    MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		closer_let_go(w, gone);
		return -1;
	} else {
		w->w_busy = 1;
		w->w_since_ms = now;
	}
	memmove(pend, pend + k, (*npend - k) * sizeof(int));
	*npend -= k;
	return 0;
}

/* forkd-closer: take fd numbers from forkd and hand them, one batch at a
 * time, to a worker that closes them. A worker that has not finished a
 * batch within CLOSER_STUCK_MS (a close() that hangs) is let go, to
 * finish and exit on its own, and a new one takes the next batches.
 * Exits when forkd is gone or the pipe ends. */
static void
closer_main(int rfd, int pidfd, pid_t forkd, int readyfd)
{
	static int		pend[CLOSER_PENDING_MAX];
	struct closer_worker	w = { -1, 0, 0 };
	struct pollfd		pfd[3];
	unsigned int		gone = 0;	/* workers let go, alive */
	size_t			npend = 0;
	uint64_t		now;
	ssize_t			r;
	int			eof = 0, timeout;

	prctl(PR_SET_NAME, "forkd-closer", 0, 0, 0);
	/* forkd's signals are forkd's business. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/* The first worker now, while forkd starts: its socket is then part
	 * of forkd's fd table from the start, not a change later on. */
	(void)closer_worker_new(&w, pidfd, forkd);
	{
		pid_t self = getpid();

		/* forkd waits for this before it goes on. */
		(void)!write(readyfd, &self, sizeof self);
	}
	for (;;) {
		now = clock_mono_ms();
		if (w.w_busy > 0)
			timeout = (int)(w.w_since_ms + CLOSER_STUCK_MS > now ?
			    w.w_since_ms + CLOSER_STUCK_MS - now : 0);
		else
			timeout = gone > 0 || pidfd < 0 ? 1000 : -1;
		pfd[0].fd = !eof && npend < CLOSER_PENDING_MAX ? rfd : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = pidfd;
		pfd[1].events = POLLIN;
		pfd[2].fd = w.w_fd;
		pfd[2].events = POLLIN;
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			break;
		gone = closer_reap(gone);
		if (closer_forkd_gone(&pfd[1], forkd))
			break;
		now = clock_mono_ms();
		if (pfd[2].revents != 0)
			closer_acks(&w, now, &gone);
		if (pfd[0].revents != 0) {
			r = read(rfd, pend + npend, (CLOSER_PENDING_MAX -
			    npend) * sizeof(int));
			if (r > 0)
				npend += (size_t)r / sizeof(int);
			else if (r == 0)
				eof = 1;
		}
		/* Stuck: let it go; it exits when its close() returns. */
		if (w.w_fd >= 0 && w.w_busy > 0 &&
		    now >= w.w_since_ms + CLOSER_STUCK_MS)
			closer_let_go(&w, &gone);
		if (npend > 0 && w.w_busy == 0 && closer_hand_over(&w, pend,
		    &npend, pidfd, forkd, now, &gone) != 0)
			continue;	/* a new worker takes them */
		if (eof && npend == 0 && w.w_busy == 0)
			break;
	}
	/* The worker reads EOF and exits; the table goes with the last. */
	if (w.w_fd >= 0)
		close(w.w_fd);
	_exit(0);
}

/* Start forkd-closer; before the key is read, the modules loaded and the
 * loop set up. It is made by an intermediate process that exits, so that
 * it is not forkd's child: forkd's reaper and a count of forkd's children
 * never see it. */
int
closer_start(void)
{
	int	pp[2], ip[2], pidfd, st, e;
	pid_t	pid, cpid = -1, owner;

	/* valgrind ends the process at a clone() it does not know. */
	if (CLOSER_ON_VALGRIND() || (getenv("LD_PRELOAD") != NULL &&
	    strstr(getenv("LD_PRELOAD"), "vgpreload") != NULL))
		return -ENOTSUP;
	/* -1 where pidfd_open() is missing: the closer then polls. */
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pipe2(pp, O_CLOEXEC) != 0) {
		e = errno;
		if (pidfd >= 0)
			close(pidfd);
		return -e;
	}
	/* The closer says its pid on this pipe once it is ready. */
	if (pipe2(ip, O_CLOEXEC) != 0) {
		e = errno;
		close(pp[0]);
		close(pp[1]);
		if (pidfd >= 0)
			close(pidfd);
		return -e;
	}
	owner = getpid();
	pid = closer_clone_files();
	if (pid < 0) {
		e = errno;
		close(pp[0]);
		close(pp[1]);
		close(ip[0]);
		close(ip[1]);
		if (pidfd >= 0)
			close(pidfd);
		return -e;
	}
	if (pid == 0) {
		pid = closer_clone_files();
		if (pid == 0)
			closer_main(pp[0], pidfd, owner, ip[1]);
		_exit(pid > 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* Bounded: the write end is in the shared table, no EOF comes. */
	{
		struct pollfd rp = { ip[0], POLLIN, 0 };

		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
		    poll(&rp, 1, 5000) != 1 ||
		    read(ip[0], &cpid, sizeof cpid) != (ssize_t)sizeof cpid)
			cpid = -1;
	}
	close(ip[0]);
	close(ip[1]);
	/* The read end and the pidfd are the closer's: they stay in the
	 * shared table, unused by forkd. */
	if (cpid <= 0 || fcntl(pp[1], F_SETFL, O_NONBLOCK) != 0) {
		close(pp[1]);	/* the closer, if any, reads EOF */
		return -ECHILD;
	}
	closer_wfd = pp[1];
	closer_cpid = cpid;
	closer_owner = getpid();
	wire_set_fd_disposer(closer_dispose);
	return 0;
}

/* The closer is gone: close what waits here, without lingering. */
static void
closer_give_up(int err)
{
	if (!closer_broken)
		log_warnx("fd closer is gone (%s): forkd closes clients' fds "
		    "itself from now on, without lingering", strerror(-err));
	closer_broken = 1;
	for (size_t i = 0; i < closer_npending; i++)
		closer_close_one(closer_pending[i]);
	closer_npending = 0;
	if (closer_wev != NULL)
		event_del(closer_wev);
}

/* Send what waits, as far as the pipe takes it. */
static void
closer_flush(void)
{
	size_t	done = 0, k;
	ssize_t	r = 0;

	while (done < closer_npending) {
		k = closer_npending - done;
		if (k > CLOSER_BATCH)
			k = CLOSER_BATCH;
		do {
			r = write(closer_wfd, closer_pending + done,
			    k * sizeof(int));
		} while (r < 0 && errno == EINTR);
		if (r < 0)
			break;
		/* Within PIPE_BUF: all or nothing. */
		done += k;
	}
	memmove(closer_pending, closer_pending + done,
	    (closer_npending - done) * sizeof(int));
	closer_npending -= done;
	if (r < 0 && errno == EAGAIN && closer_cpid > 0 &&
	    kill(closer_cpid, 0) != 0 && errno == ESRCH)
		errno = EPIPE;	/* full because no one reads: killed */
	if (r < 0 && errno != EAGAIN) {
		closer_give_up(-errno);
		return;
	}
	if (closer_wev == NULL && closer_npending > 0 &&
	    server_evbase() != NULL)
		closer_wev = event_new(server_evbase(), closer_wfd, EV_WRITE |
		    EV_PERSIST, closer_writable_cb, NULL);
	if (closer_wev != NULL) {
		if (closer_npending > 0)
			event_add(closer_wev, NULL);
		else
			event_del(closer_wev);
	}
}

/* The closer's pipe has room again. */
static void
closer_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	closer_flush();
}

/* wire_close_fds() of the daemon: take the fds, never block. */
void
closer_dispose(int *fds, size_t n)
{
	size_t	want;
	int	*p;

	if (getpid() != closer_owner || closer_wfd < 0 || closer_broken) {
		/* A forked child of forkd (the pool, a child before its
		 * target) has a table of its own; or there is no closer. */
		for (size_t i = 0; i < n; i++)
			if (fds[i] >= 0)
				closer_close_one(fds[i]);
		return;
	}
	want = closer_npending + n;
	if (want > closer_cap) {
		size_t cap = closer_cap ? closer_cap : 64;

		while (cap < want)
			cap *= 2;
		if ((p = realloc(closer_pending, cap * sizeof *p)) == NULL) {
			for (size_t i = 0; i < n; i++)
				if (fds[i] >= 0)
					closer_close_one(fds[i]);
			return;
		}
		closer_pending = p;
		closer_cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			closer_pending[closer_npending++] = fds[i];
	closer_flush();
}

/* forkd-closer's pid, or -1: it goes where forkd goes in the cgroup tree
 * (cgroup.c), since no process may stay in a cgroup that gives its
 * children controllers. */
pid_t
closer_pid(void)
{
	return closer_cpid;
}

/* Stop: send what waits (best effort), then close the pipe; the closer
 * reads EOF and exits, its workers finish on their own. */
void
closer_stop(void)
{
	if (closer_wfd < 0)
		return;
	if (closer_npending > 0 && !closer_broken)
		closer_flush();
	closer_broken = 1;
	for (size_t i = 0; i < closer_npending; i++)
		closer_close_one(closer_pending[i]);
	closer_npending = 0;
	wire_set_fd_disposer(NULL);
	if (closer_wev != NULL)
		event_free(closer_wev);
	closer_wev = NULL;
	close(closer_wfd);
	closer_wfd = -1;
	free(closer_pending);
	closer_pending = NULL;
	closer_cap = 0;
}
