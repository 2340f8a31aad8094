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
 * modules are loaded, so it holds no secret and little memory. For each
 * batch of numbers it forks a short-lived worker that shares the same
 * table and closes them there, sockets with lingering turned off. close()
 * takes an fd out of the table before it flushes, so a close that hangs
 * hangs one worker, never forkd and never the closer, and the number is
 * free again at once. forkd sends the numbers over a non-blocking pipe;
 * a number stays open in forkd's table (and unused) until its worker
 * closes it.
 *
 * Only when the closer is gone (killed) does forkd close fds itself, with
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

#include "closer.h"
#include "log.h"
#include "server.h"
#include "wire.h"

/* fd numbers per write: within PIPE_BUF, so a write is never split. */
#define CLOSER_BATCH		(512 / sizeof(int))
/* fd numbers one worker closes. */
#define CLOSER_WORKER_FDS	1024
/* Workers alive at once; over it, the closer closes a batch itself. */
#define CLOSER_WORKERS_MAX	64

static int		 closer_wfd = -1;	/* forkd: numbers go here */
static pid_t		 closer_cpid = -1;	/* forkd-closer */
static pid_t		 closer_owner;		/* forkd: its children close */
static int		*closer_pending;	/* numbers not yet sent */
static size_t		 closer_npending, closer_cap;
static struct event	*closer_wev;
static int		 closer_broken;		/* closer gone: close here */
static uint64_t		 closer_handed;		/* fds handed over */

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

/* forkd-closer: read fd numbers, have workers close them, exit when forkd
 * is gone (its pidfd turns readable) or the pipe ends. */
static void
closer_main(int rfd, int pidfd, pid_t forkd)
{
	static int	 batch[CLOSER_WORKER_FDS];
	struct pollfd	 pfd[2];
	unsigned int	 alive = 0;
	ssize_t		 r;
	size_t		 n;
	pid_t		 pid;

	prctl(PR_SET_NAME, "forkd-closer", 0, 0, 0);
	/* forkd's signals are forkd's business. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	pfd[0].fd = rfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = pidfd;
	pfd[1].events = POLLIN;
	for (;;) {
		/* Without a pidfd (valgrind has no pidfd_open): look for
		 * forkd once a second. */
		if (poll(pfd, 2, alive > 0 || pidfd < 0 ? 1000 : -1) < 0 &&
		    errno != EINTR)
			_exit(1);
		alive = closer_reap(alive);
		/* forkd exited: the table goes with us. */
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			_exit(0);
		if (pidfd < 0 && kill(forkd, 0) != 0 && errno == ESRCH)
			_exit(0);
		if (!(pfd[0].revents & (POLLIN | POLLHUP)))
			continue;
		r = read(rfd, batch, sizeof batch);
		if (r == 0)
			_exit(0);
		if (r < 0)
			continue;
		n = (size_t)r / sizeof(int);
		if (alive < CLOSER_WORKERS_MAX &&
		    (pid = closer_clone_files()) >= 0) {
			if (pid == 0) {
				/* The worker: close in the shared table. */
				for (size_t i = 0; i < n; i++)
					closer_close_one(batch[i]);
				_exit(0);
			}
			alive++;
			continue;
		}
		/* Too many workers hang (or no clone): close here, slowly. */
		for (size_t i = 0; i < n; i++)
			closer_close_one(batch[i]);
	}
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
	/* The intermediate's own pipe (not shared) tells the closer's pid. */
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
			closer_main(pp[0], pidfd, owner);
		(void)!write(ip[1], &pid, sizeof pid);
		_exit(pid > 0 ? 0 : 1);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (read(ip[0], &cpid, sizeof cpid) != (ssize_t)sizeof cpid)
		cpid = -1;
	close(ip[0]);
	close(ip[1]);
	/* The read end and the pidfd are the closer's: they stay in the
	 * shared table, unused by forkd. */
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
	    fcntl(pp[1], F_SETFL, O_NONBLOCK) != 0) {
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
		closer_handed += k;
	}
	memmove(closer_pending, closer_pending + done,
	    (closer_npending - done) * sizeof(int));
	closer_npending -= done;
	if (r < 0 && errno != EAGAIN) {
		closer_give_up(-errno);
		return;
	}
	if (closer_wev == NULL && closer_npending > 0 && server_base != NULL)
		closer_wev = event_new(server_base, closer_wfd, EV_WRITE |
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

/* fds handed to the closer so far. */
uint64_t
closer_handed_count(void)
{
	return closer_handed;
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
