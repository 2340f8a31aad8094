/* fuzz_session.c: a real forkd session inside a fuzzer (fuzz_session.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <sodium.h>

#include "auth.h"
#include "clock.h"
#include "clone.h"
#include "config.h"
#include "forkd.pb-c.h"
#include "fuzz_session.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "wire.h"

/* Most descriptors one record may send (FUZZ_REC_FDS). */
#define FUZZ_FDS_MAX		31
/* Descriptors, from the lowest one free at set-up, that must be closed
 * after each input; one input never has more open at once. */
#define FUZZ_FD_SCAN		128

const unsigned char fuzz_authkey[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
const unsigned char fuzz_client_nonce[AUTH_NONCE_LEN] = {
	0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
	0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f,
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
	0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
};

static int		fuzz_fd_base = -1;
/* Which of the scanned descriptors were open when this input began: ones
 * inherited (e.g. from a CI runner) or opened by the sanitizers between
 * inputs (LeakSanitizer starts a symbolizer with pipes). */
static unsigned char	fuzz_fd_preset[FUZZ_FD_SCAN];
static unsigned char	fuzz_rbuf[WIRE_FRAME_HARD_MAX + 1];

/* Never start a process from a fuzzer (fuzz_session.h): these definitions
 * take the place of libc's for the daemon objects linked into the fuzzers.
 * libc itself (system(), posix_spawn(), raise()), libevent and the
 * sanitizer runtimes do not go through these symbols. */
int		fuzz_fake_children;

/* A fake child: alive until ended, then dead until reaped. */
static struct fuzz_fake {
	pid_t	pid;
	int	dead;		/* an exit is queued for wait4() */
	int	wstatus;
} fuzz_fakes[FUZZ_FAKE_MAX];
static size_t	fuzz_nfakes;
static pid_t	fuzz_fake_next = FUZZ_FAKE_PID_BASE;
static int	fuzz_sleeps;

static struct fuzz_fake *
fuzz_fake_find(pid_t pid)
{
	for (size_t i = 0; i < fuzz_nfakes; i++)
		if (fuzz_fakes[i].pid == pid)
			return &fuzz_fakes[i];
	return NULL;
}

/* forkd asks for a child: none, or a fake one. */
static pid_t
fuzz_fake_start(void)
{
	if (!fuzz_fake_children || fuzz_nfakes == FUZZ_FAKE_MAX) {
		errno = EAGAIN;
		return -1;
	}
	fuzz_fakes[fuzz_nfakes].pid = fuzz_fake_next++;
	fuzz_fakes[fuzz_nfakes].dead = 0;
	return fuzz_fakes[fuzz_nfakes++].pid;
}

pid_t
fork(void)
{
	return fuzz_fake_start();
}

int
clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	return fuzz_fake_start();
}

/* forkd's clone3() (pidfd, cgroup, PID namespace requests): refused like a
 * fork that fails, so no fuzzed request ever makes a real process. (A fake
 * child would need a fake pidfd.) */
long
clone_sys_clone3(struct clone_args *ca, size_t size)
{
	(void)ca;
	(void)size;
	errno = EAGAIN;
	return -1;
}

int
kill(pid_t pid, int sig)
{
	struct fuzz_fake *f;

	/* A negative pid is the process group a (fake) child leads: the
	 * same rules as for the child's own pid. */
	if (pid < -1)
		pid = -pid;
	f = fuzz_fake_find(pid);

	if (f == NULL && pid >= FUZZ_FAKE_PID_BASE && pid < fuzz_fake_next)
		fuzz_fail("forkd sent signal %d to pid %d after reaping it (by "
		    "now the pid may be another process's)", sig, (int)pid);
	if (f == NULL)
		fuzz_fail("forkd sent signal %d to pid %d, which it never "
		    "started", sig, (int)pid);
	if (sig < 0 || sig >= NSIG) {
		errno = EINVAL;
		return -1;
	}
	switch (sig) {
	case 0: case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
	case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
		return 0;
	}
	if (!f->dead) {
		f->dead = 1;
		f->wstatus = sig;	/* killed by sig, as W_EXITCODE(0, sig) */
	}
	return 0;
}

pid_t
wait4(pid_t pid, int *wstatus, int options, struct rusage *ru)
{
	if (pid != -1 || !(options & WNOHANG))
		fuzz_fail("wait4(%d, %#x): forkd's reaper waits for any child "
		    "without blocking", (int)pid, options);
	for (size_t i = 0; i < fuzz_nfakes; i++) {
		struct fuzz_fake f = fuzz_fakes[i];

		if (!f.dead)
			continue;
		fuzz_fakes[i] = fuzz_fakes[--fuzz_nfakes];
		if (wstatus != NULL)
			*wstatus = f.wstatus;
		if (ru != NULL) {
			memset(ru, 0, sizeof *ru);
			ru->ru_utime.tv_usec = 1000;
			ru->ru_maxrss = 1024;
		}
		return f.pid;
	}
	if (fuzz_nfakes > 0)
		return 0;
	errno = ECHILD;
	return -1;
}

void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* The daemon's globals, as server_init() would set them, minus the
 * listener, signals and modules. */
void
fuzz_session_setup(void)
{
	static int	 done;
	const char	*lvl = getenv("FORKD_FUZZ_LOG");
	struct event_base *base;
	unsigned char	*key;
	int		 level = LOG_LVL_ERR, fd;

	if (done)
		return;
	done = 1;
	/* FORKD_FUZZ_LOG=debug shows forkd's log when reproducing a crash. */
	if (lvl != NULL && log_level_parse(lvl) > 0)
		level = log_level_parse(lvl);
	log_init(level, 0);
	if (sodium_init() < 0)
		fuzz_fail("sodium_init");
	signal(SIGPIPE, SIG_IGN);
	if ((base = event_base_new()) == NULL)
		fuzz_fail("event_base_new");
	if ((key = sodium_malloc(sizeof fuzz_authkey)) == NULL)
		fuzz_fail("sodium_malloc");
	memcpy(key, fuzz_authkey, sizeof fuzz_authkey);
	sodium_mprotect_readonly(key);
	server_test_init(base, key, sizeof fuzz_authkey);
	server_devnull_set(open("/dev/null", O_RDWR | O_CLOEXEC));
	if (server_devnull() < 0)
		fuzz_fail("/dev/null: %s", strerror(errno));
	/* The lowest free descriptor: fuzz_check_fds() scans from here. */
	if ((fd = fcntl(server_devnull(), F_DUPFD_CLOEXEC, 0)) < 0)
		fuzz_fail("F_DUPFD: %s", strerror(errno));
	close(fd);
	fuzz_fd_base = fd;
}

/* Check one frame from forkd as a client would, and take note of it. */
static void
fuzz_peer_frame(struct fuzz_peer *p, const unsigned char *frame, size_t len)
{
	Forkd__ServerMessage	*m;
	const unsigned char	*payload;
	size_t			 plen;
	int			 r;

	if (p->got_error)
		fuzz_fail("frame after the fatal Error");
	r = wire_open(p->authed ? &p->mac : NULL, frame, len,
	    WIRE_FRAME_HARD_MAX, &payload, &plen);
	if (r != 0)
		fuzz_fail("forkd sent a %s frame of %zu bytes its client "
		    "cannot open: %s", p->authed ? "sealed" : "handshake", len,
		    wire_strerror(r));
	if ((m = forkd__server_message__unpack(NULL, plen, payload)) == NULL)
		fuzz_fail("forkd sent an undecodable ServerMessage");
	switch (m->body_case) {
	case FORKD__SERVER_MESSAGE__BODY_HELLO:
		if (p->max_frame != 0 || p->authed)
			fuzz_fail("Hello twice");
		if (m->hello->version != WIRE_VERSION ||
		    m->hello->server_nonce.len != AUTH_NONCE_LEN ||
		    m->hello->max_frame !=
		    server_config_get()->limits.max_frame)
			fuzz_fail("bad Hello");
		memcpy(p->sn, m->hello->server_nonce.data, AUTH_NONCE_LEN);
		p->max_frame = m->hello->max_frame;
		break;
	case FORKD__SERVER_MESSAGE__BODY_AUTH_OK:
		/* The one message that must never reach a peer without the
		 * key. */
		if (!p->sent_auth || p->authed)
			fuzz_fail("AuthOk to a peer that did not authenticate");
		if (auth_proof_verify(fuzz_authkey, sizeof fuzz_authkey,
		    AUTH_ROLE_SERVER, p->sn, fuzz_client_nonce,
		    m->auth_ok->proof.data, m->auth_ok->proof.len) != 0)
			fuzz_fail("AuthOk with a wrong server proof");
		auth_session_key(fuzz_authkey, sizeof fuzz_authkey, p->sn,
		    fuzz_client_nonce, p->key);
		wire_mac_init(&p->mac, p->key, 0);
		p->authed = 1;
		break;
	case FORKD__SERVER_MESSAGE__BODY_RESPONSE:
		if (!p->authed)
			fuzz_fail("Response before authentication");
		if (m->response->error > 0 || (m->response->error < 0 &&
		    m->response->body_case != FORKD__RESPONSE__BODY__NOT_SET))
			fuzz_fail("Response %u: error %d with body %d",
			    m->response->id, m->response->error,
			    (int)m->response->body_case);
		if (m->response->body_case == FORKD__RESPONSE__BODY_SPAWN &&
		    m->response->spawn->pid < FUZZ_FAKE_PID_BASE)
			fuzz_fail("spawn reply with pid %d, which forkd never "
			    "started", m->response->spawn->pid);
		if (p->n_responses < FUZZ_MAX_RESPONSES)
			p->response_ids[p->n_responses] = m->response->id;
		p->n_responses++;
		break;
	case FORKD__SERVER_MESSAGE__BODY_EXIT:
		if (!p->authed || !fuzz_fake_children ||
		    m->exit->exit == NULL ||
		    m->exit->exit->pid < FUZZ_FAKE_PID_BASE)
			fuzz_fail("ExitEvent for a child forkd never started");
		break;
	case FORKD__SERVER_MESSAGE__BODY_ERROR:
		if (m->error->code >= 0)
			fuzz_fail("Error with code %d", m->error->code);
		p->got_error = 1;
		break;
	default:
		fuzz_fail("ServerMessage without body");
	}
	forkd__server_message__free_unpacked(m, NULL);
}

/* Read everything forkd has sent so far. */
static void
fuzz_peer_drain(struct fuzz_peer *p)
{
	struct iovec	iov = { fuzz_rbuf, sizeof fuzz_rbuf };
	struct msghdr	msg;
	ssize_t		n;

	while (!p->eof && !p->shut_rd) {
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		n = recvmsg(p->fd, &msg, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			p->eof = 1;
			return;
		}
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
			fuzz_fail("forkd sent a frame over %d bytes or fds",
			    WIRE_FRAME_HARD_MAX);
		fuzz_peer_frame(p, fuzz_rbuf, (size_t)n);
	}
}

/* Let forkd handle what is pending, then read its answers. */
static void
fuzz_run(struct fuzz_peer *p)
{
	for (int i = 0; i < 2; i++) {
		if (event_base_loop(server_evbase(), EVLOOP_NONBLOCK) < 0)
			fuzz_fail("event_base_loop");
		fuzz_peer_drain(p);
	}
}

/* Which of the FUZZ_FD_SCAN descriptors from fuzz_fd_base are open: one
 * poll() (POLLNVAL marks a closed one) instead of a syscall per fd. */
static void
fuzz_fds_open(unsigned char open_fds[FUZZ_FD_SCAN])
{
	struct pollfd pfd[FUZZ_FD_SCAN];

	for (int i = 0; i < FUZZ_FD_SCAN; i++) {
		pfd[i].fd = fuzz_fd_base + i;
		pfd[i].events = 0;
		pfd[i].revents = 0;
	}
	if (poll(pfd, FUZZ_FD_SCAN, 0) < 0)
		fuzz_fail("poll: %s", strerror(errno));
	for (int i = 0; i < FUZZ_FD_SCAN; i++)
		open_fds[i] = !(pfd[i].revents & POLLNVAL);
}

void
fuzz_peer_clear(struct fuzz_peer *p)
{
	p->n_responses = 0;
}

void
fuzz_session_begin(struct fuzz_peer *p)
{
	int sv[2];

	memset(p, 0, sizeof *p);
	fuzz_fds_open(fuzz_fd_preset);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) != 0)
		fuzz_fail("socketpair: %s", strerror(errno));
	if (session_create(sv[0], NULL) != 0)
		fuzz_fail("session_create");
	p->fd = sv[1];
	fuzz_run(p);
	if (p->max_frame == 0)
		fuzz_fail("no Hello");
}

void
fuzz_session_auth(struct fuzz_peer *p)
{
	Forkd__ClientMessage	cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__Auth		a = FORKD__AUTH__INIT;
	unsigned char		proof[AUTH_PROOF_LEN];
	unsigned char		pbuf[256], fbuf[256 + WIRE_OVERHEAD];
	size_t			plen, flen;

	auth_proof(fuzz_authkey, sizeof fuzz_authkey, AUTH_ROLE_CLIENT, p->sn,
	    fuzz_client_nonce, proof);
	a.version = WIRE_VERSION;
	a.client_nonce.data = (uint8_t *)fuzz_client_nonce;
	a.client_nonce.len = AUTH_NONCE_LEN;
	a.proof.data = proof;
	a.proof.len = sizeof proof;
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_AUTH;
	cm.auth = &a;
	plen = forkd__client_message__pack(&cm, pbuf);
	if (wire_seal(NULL, pbuf, plen, fbuf, sizeof fbuf, &flen) != 0)
		fuzz_fail("seal Auth");
	p->sent_auth = 1;
	if (fuzz_session_send(p, fbuf, flen, 0) != 0 || !p->authed)
		fuzz_fail("a valid Auth was not answered with AuthOk");
}

int
fuzz_session_send(struct fuzz_peer *p, const void *buf, size_t len,
    unsigned int nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FUZZ_FDS_MAX)];
	} cbuf;
	struct iovec	 iov = { (void *)buf, len };
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	int		 fds[FUZZ_FDS_MAX];

	if (p->eof || p->got_error)
		return -1;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > FUZZ_FDS_MAX)
		nfds = FUZZ_FDS_MAX;
	if (nfds > 0) {
		/* The kernel gives forkd its own copies; ours stay. */
		for (unsigned int i = 0; i < nfds; i++)
			fds[i] = server_devnull();
		memset(&cbuf, 0, sizeof cbuf);
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	for (int tries = 0;; tries++) {
		if (sendmsg(p->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN && tries < 16) {
			fuzz_run(p);	/* forkd reads, we read */
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET) {
			fuzz_run(p);
			return -1;
		}
		fuzz_fail("sendmsg of %zu bytes, %u fds: %s", len, nfds,
		    strerror(errno));
	}
	fuzz_run(p);
	return p->eof || p->got_error ? -1 : 0;
}

/* Every descriptor opened since fuzz_session_begin() is closed again. */
static void
fuzz_check_fds(void)
{
	unsigned char	now[FUZZ_FD_SCAN];
	char		proc[64], what[256];
	ssize_t		n;
	int		fd;

	fuzz_fds_open(now);
	for (int i = 0; i < FUZZ_FD_SCAN; i++) {
		if (!now[i] || fuzz_fd_preset[i])
			continue;
		fd = fuzz_fd_base + i;
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		n = readlink(proc, what, sizeof what - 1);
		what[n > 0 ? n : 0] = '\0';
		fuzz_fail("descriptor %d (%s) left open after the input", fd,
		    what);
	}
}

void
fuzz_session_end(struct fuzz_peer *p)
{
	close(p->fd);
	p->fd = -1;
	/* forkd must notice the closed connection by itself. */
	for (int i = 0; i < 64 && session_count() > 0; i++)
		if (event_base_loop(server_evbase(), EVLOOP_NONBLOCK) < 0)
			fuzz_fail("event_base_loop");
	if (session_count() != 0)
		fuzz_fail("forkd kept a session whose peer is gone");
	/* One more turn for the deferred free, then free anything left (the
	 * gc event, fake children and their waits) so that nothing but the
	 * exit history carries over to the next input. */
	if (event_base_loop(server_evbase(), EVLOOP_NONBLOCK) < 0)
		fuzz_fail("event_base_loop");
	session_free_all();
	spawn_reap();		/* daemon children killed at the close */
	spawn_free_all();
	fuzz_nfakes = 0;
	fuzz_sleeps = 0;
	fuzz_check_fds();
}

void
fuzz_fake_event(struct fuzz_peer *p, const uint8_t *data, size_t len)
{
	size_t alive = 0, k;

	if (len == 0) {
		/* Time passes, a little and not too often. */
		if (fuzz_sleeps++ < 4)
			usleep(5000);
	} else if (data[0] == 0xff) {
		/* forkd's sends fail with EPIPE from now on. */
		if (shutdown(p->fd, SHUT_RD) != 0)
			fuzz_fail("shutdown: %s", strerror(errno));
		p->shut_rd = 1;
	} else {
		for (size_t i = 0; i < fuzz_nfakes; i++)
			alive += !fuzz_fakes[i].dead;
		if (alive > 0) {
			k = data[0] % alive;
			for (size_t i = 0; i < fuzz_nfakes; i++) {
				struct fuzz_fake *f = &fuzz_fakes[i];
				int how = len > 1 ? data[1] : 0;

				if (f->dead || k-- > 0)
					continue;
				f->dead = 1;
				f->wstatus = how < 128 ? W_EXITCODE(how, 0) :
				    W_EXITCODE(0, (how - 128) % 31 + 1);
				break;
			}
		}
	}
	fuzz_fake_reap(p);
}

void
fuzz_fake_reap(struct fuzz_peer *p)
{
	/* What forkd's SIGCHLD callback does. */
	spawn_reap();
	fuzz_run(p);
}

int
fuzz_next_record(const uint8_t **p, size_t *left, struct fuzz_record *r)
{
	size_t n;

	if (*left == 0)
		return 0;
	r->flags = (*p)[0];
	if (*left < 3) {
		r->data = *p + 1;
		r->len = *left - 1;
		*p += *left;
		*left = 0;
		return 1;
	}
	n = (size_t)(*p)[1] << 8 | (*p)[2];
	if (n > *left - 3)
		n = *left - 3;
	r->data = *p + 3;
	r->len = n;
	*p += 3 + n;
	*left -= 3 + n;
	return 1;
}
