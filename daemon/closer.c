/* closer.c: fds that came from clients are closed off the event loop.
 *
 * close() of the last reference to a file runs that file's release code in
 * the caller, and a client chooses the file: a TCP socket with SO_LINGER
 * {1, N} and a full send buffer blocks close() for N seconds; a file on a
 * FUSE mount whose server does not answer blocks it (FLUSH) for ever; so
 * does a tty draining its output, an NFS file flushing, and an AF_UNIX
 * socket whose queue holds any of these (its queued fds are released with
 * it). Turning lingering off covers the first case only, and telling the
 * others apart would itself touch the file (fstat() asks FUSE: getattr).
 *
 * So forkd never closes a client's fd itself: wire_close_fds() hands it,
 * over a socketpair, to a small process forked at start-up (before the
 * key is read and the modules are loaded: it holds no secret and little
 * memory). That process collects what is queued, forks a short-lived
 * worker that holds the batch, drops its own references (not the last
 * ones: the worker holds them) and lets the worker close the batch, with
 * lingering turned off on sockets first. A close that hangs hangs one
 * worker, never forkd and never the closer. A process, not a thread: forkd
 * forks children and must stay single-threaded.
 *
 * forkd's end is non-blocking: when the closer falls behind, fds wait in
 * a list in forkd and go out when the socket is writable again. Only when
 * the closer is gone (killed) does forkd close fds itself, with lingering
 * turned off first, and says so in the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "closer.h"
#include "log.h"
#include "server.h"
#include "wire.h"

/* fds per datagram to the closer (the kernel's limit is 253). */
#define CLOSER_BATCH		64
/* fds one worker closes; the closer drains its queue up to this. */
#define CLOSER_WORKER_FDS	1024
/* Workers alive at once; over it, the closer closes a batch itself. */
#define CLOSER_WORKERS_MAX	64

static int		 closer_fd = -1;	/* forkd's end, non-blocking */
static pid_t		 closer_pid = -1;
static pid_t		 closer_owner;		/* forkd: children close */
static int		*closer_pending;	/* waiting for room */
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

/* In a worker: close the batch, then exit. */
static void
closer_worker(int syncfd, int *fds, size_t n)
{
	char c;

	/* Wait until the closer dropped its references: ours are then the
	 * last, and a close that blocks blocks here. */
	while (read(syncfd, &c, 1) < 0 && errno == EINTR)
		;
	for (size_t i = 0; i < n; i++)
		closer_close_one(fds[i]);
	_exit(0);
}

/* Reap finished workers; return how many are still alive. */
static unsigned int
closer_reap(unsigned int alive)
{
	while (alive > 0 && waitpid(-1, NULL, WNOHANG) > 0)
		alive--;
	return alive;
}

/* The closer process: receive fds from forkd, close them in workers. */
static void
closer_main(int sock)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * WIRE_SCM_MAX_FD)];
	} cm;
	static int	 batch[CLOSER_WORKER_FDS + WIRE_SCM_MAX_FD];
	unsigned int	 alive = 0;
	size_t		 n;
	int		 eof = 0;

	prctl(PR_SET_NAME, "forkd-closer", 0, 0, 0);
	/* forkd's signals are forkd's business: the closer ends at EOF. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	while (!eof) {
		n = 0;
		/* Block for the first datagram, then take what is queued. */
		for (int flags = 0; n < CLOSER_WORKER_FDS;
		    flags = MSG_DONTWAIT) {
			struct iovec	 iov;
			struct msghdr	 msg = { 0 };
			struct cmsghdr	*c;
			char		 b;
			ssize_t		 r;

			iov.iov_base = &b;
			iov.iov_len = 1;
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			msg.msg_control = cm.buf;
			msg.msg_controllen = sizeof cm.buf;
			r = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				eof = r == 0 || (errno != EAGAIN &&
				    errno != EWOULDBLOCK);
				break;
			}
			for (c = CMSG_FIRSTHDR(&msg); c != NULL;
			    c = CMSG_NXTHDR(&msg, c)) {
				size_t	k;

				if (c->cmsg_level != SOL_SOCKET ||
				    c->cmsg_type != SCM_RIGHTS)
					continue;
				k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < k; i++)
					memcpy(&batch[n++], CMSG_DATA(c) +
					    i * sizeof(int), sizeof(int));
			}
		}
		if (n == 0)
			continue;
		alive = closer_reap(alive);
		if (alive < CLOSER_WORKERS_MAX) {
			int	sync[2] = { -1, -1 };
			pid_t	pid = -1;

			if (pipe2(sync, O_CLOEXEC) == 0) {
				pid = fork();
				if (pid == 0) {
					close(sync[1]);
					close(sock);
					closer_worker(sync[0], batch, n);
				}
				close(sync[0]);
			}
			if (pid > 0) {
				/* Not the last references: the worker's are. */
				for (size_t i = 0; i < n; i++)
					close(batch[i]);
				close(sync[1]);	/* the worker may go */
				alive++;
				continue;
			}
			if (sync[1] >= 0)
				close(sync[1]);
		}
		/* Too many workers hang (or no fork): close here, slowly. */
		for (size_t i = 0; i < n; i++)
			closer_close_one(batch[i]);
	}
	_exit(0);
}

/* Fork the closer; before the key is read, the modules loaded and the
 * loop set up. It is forked twice over, so that it is not forkd's child:
 * forkd's reaper and the count of forkd's children never see it. */
int
closer_start(void)
{
	int	sv[2], st, pp[2];
	pid_t	pid, cpid = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	if (pipe2(pp, O_CLOEXEC) != 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		close(pp[0]);
		close(pp[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		close(pp[0]);
		cpid = fork();
		if (cpid != 0) {
			(void)!write(pp[1], &cpid, sizeof cpid);
			_exit(cpid > 0 ? 0 : 1);
		}
		close(pp[1]);
		/* Keep stdio (log lines) and the socket, nothing else. */
		if (sv[1] != 3 && dup2(sv[1], 3) < 0)
			_exit(1);
		(void)syscall(SYS_close_range, 4U, ~0U, 0U);
		closer_main(3);
	}
	close(sv[1]);
	close(pp[1]);
	if (read(pp[0], &cpid, sizeof cpid) != (ssize_t)sizeof cpid)
		cpid = -1;
	close(pp[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (cpid <= 0) {
		close(sv[0]);
		return -ECHILD;
	}
	pid = cpid;
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0) {
		int e = errno;

		close(sv[0]);
		return -e;
	}
	closer_fd = sv[0];
	closer_pid = pid;
	closer_owner = getpid();
	wire_set_fd_disposer(closer_dispose);
	return 0;
}

/* Send up to n pending-or-new fds; returns how many were taken, or -errno
 * (-EAGAIN: the closer's queue is full). */
static ssize_t
closer_send(const int *fds, size_t n)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * CLOSER_BATCH)];
	} cm;
	struct iovec	 iov = { .iov_base = "c", .iov_len = 1 };
	struct msghdr	 msg = { 0 };
	struct cmsghdr	*c;
	ssize_t		 r;

	if (n > CLOSER_BATCH)
		n = CLOSER_BATCH;
	memset(&cm, 0, sizeof cm);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	do {
		r = sendmsg(closer_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* Our references go now; the in-flight ones are the closer's. */
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	closer_handed += n;
	return (ssize_t)n;
}

/* The closer is gone: close what waits here, without lingering. */
static void
closer_give_up(int err)
{
	if (!closer_broken)
		log_warnx("fd closer (pid %d) is gone (%s): forkd closes "
		    "clients' fds itself from now on, without lingering",
		    (int)closer_pid, strerror(-err));
	closer_broken = 1;
	for (size_t i = 0; i < closer_npending; i++)
		closer_close_one(closer_pending[i]);
	closer_npending = 0;
	if (closer_wev != NULL)
		event_del(closer_wev);
}

/* Hand over what waits, as far as the closer takes it. */
static void
closer_flush(void)
{
	size_t	done = 0;
	ssize_t	r = 0;

	while (done < closer_npending) {
		r = closer_send(closer_pending + done, closer_npending - done);
		if (r < 0)
			break;
		done += (size_t)r;
	}
	memmove(closer_pending, closer_pending + done,
	    (closer_npending - done) * sizeof(int));
	closer_npending -= done;
	if (r < 0 && r != -EAGAIN) {
		closer_give_up((int)r);
		return;
	}
	if (closer_wev == NULL && closer_npending > 0 && server_base != NULL)
		closer_wev = event_new(server_base, closer_fd, EV_WRITE |
		    EV_PERSIST, closer_writable_cb, NULL);
	if (closer_wev != NULL) {
		if (closer_npending > 0)
			event_add(closer_wev, NULL);
		else
			event_del(closer_wev);
	}
}

/* The closer's socket has room again. */
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

	if (getpid() != closer_owner || closer_fd < 0 || closer_broken) {
		/* A forked child of forkd (the pool, a child before its
		 * target), or no closer: plain close, without lingering. */
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
			/* No memory for the list: out of the loop's way as
			 * far as possible. */
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

/* fds handed to the closer so far (tests, status). */
uint64_t
closer_handed_count(void)
{
	return closer_handed;
}

/* Stop: hand over what waits (best effort) and close our end; the closer
 * sees EOF and exits, its workers finish on their own. */
void
closer_stop(void)
{
	if (closer_fd < 0)
		return;
	if (closer_npending > 0 && !closer_broken)
		closer_flush();
	/* Whatever the closer could not take now is closed here. */
	closer_broken = 1;
	for (size_t i = 0; i < closer_npending; i++)
		closer_close_one(closer_pending[i]);
	closer_npending = 0;
	wire_set_fd_disposer(NULL);
	if (closer_wev != NULL)
		event_free(closer_wev);
	closer_wev = NULL;
	close(closer_fd);
	closer_fd = -1;
	free(closer_pending);
	closer_pending = NULL;
	closer_cap = 0;
}
