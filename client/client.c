/* client.c: libforkd, the client side of the forkd protocol.
 *
 * One struct forkd is one blocking AF_UNIX SOCK_SEQPACKET connection. Every
 * call sends one request and reads frames until the response with the same
 * id arrives, queueing exit events met on the way. Timeouts are poll()
 * deadlines on a monotonic clock; sends are bounded by SO_SNDTIMEO. Only the
 * 32-byte session key is kept, in sodium_malloc'd read-only memory; the
 * authkey itself is wiped as soon as the handshake is over.
 *
 * Any protocol violation by the daemon (bad MAC, bad sequence, undecodable
 * or unexpected message) makes the handle dead: the socket is shut down and
 * every later call returns -ECONNRESET.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <sodium.h>

#include "forkd.h"
#include "forkd.pb-c.h"
#include "forkd_limits.h"
#include "auth.h"
#include "wire.h"

#define FORKD_API		__attribute__((visibility("default")))

_Static_assert(FORKD_PROTOCOL_VERSION == WIRE_VERSION,
    "forkd.h's FORKD_PROTOCOL_VERSION follows proto/wire.h");
_Static_assert(FORKD_KEY_BYTES >= AUTH_KEY_MIN, "a generated key is usable");
_Static_assert(FORKD_CPUS_MAX == LIMIT_CPUS_MAX &&
    FORKD_GROUPS_MAX == LIMIT_GROUPS_MAX &&
    FORKD_TIMEOUT_MS_MAX == LIMIT_TIMEOUT_MS_MAX &&
    FORKD_WAIT_MAX == LIMIT_WAIT_MAX &&
    FORKD_FD_TARGET_MAX == LIMIT_FD_TARGET_MAX &&
    FORKD_RLIMITS_MAX == LIMIT_RLIMITS_MAX &&
    FORKD_CPU_NUMBER_MAX == LIMIT_CPU_NUMBER_MAX &&
    FORKD_NAME_MAX == LIMIT_NAME_MAX &&
    FORKD_TARGET_MAX == LIMIT_STRING_MAX &&
    (FORKD_NS_PID | FORKD_NS_MOUNT | FORKD_NS_NET | FORKD_NS_IPC |
    FORKD_NS_UTS | FORKD_NS_USER) == LIMIT_NS_ALL,
    "forkd.h's limits follow proto/forkd_limits.h");

/* The whole connect + handshake must finish within this. */
#define CLIENT_HANDSHAKE_MS	10000
/* Ordinary requests (and every send) must be answered within this. */
#define CLIENT_REQUEST_MS	30000
/* Added to a wait's own timeout: the daemon answers -ETIMEDOUT itself. */
#define CLIENT_WAIT_MARGIN_MS	5000
/* Exit event queue: grows on demand up to CLIENT_EVQ_MAX, then the oldest
 * event is dropped for each new one. */
#define CLIENT_EVQ_INIT		16
#define CLIENT_EVQ_MAX		65536
/* Most children accepted in one list reply (struct forkd_child is 4 KiB). */
#define CLIENT_LIST_MAX		65536
/* One byte more than any legal frame, so an oversized one is detected. */
#define CLIENT_RBUF_LEN		(WIRE_FRAME_HARD_MAX + 1)
/* Smallest frame limit a server may announce and still be usable. */
#define CLIENT_MIN_FRAME	1024
/* Requests sent with forkd_*_start() and not answered yet, at most. */
#define CLIENT_PENDING_MAX	4096

/* A request sent by forkd_*_start() whose reply is still to come. */
struct client_pending {
	uint32_t	p_id;
	int		p_kind;		/* FORKD_REPLY_* */
	int		p_want_pidfd;	/* spawn: the caller asked for one */
};

/* A reply of such a request, queued for forkd_next_reply(). */
struct client_reply {
	struct client_reply	*r_next;
	struct forkd_reply	 r_reply;
};

struct forkd {
	int			 f_fd;
	int			 f_dead;	/* 0, or why the handle died */
	uint32_t		 f_next_id;
	uint32_t		 f_abandoned;	/* requests given up on */
	size_t			 f_max_frame;	/* the daemon's frame limit */
	unsigned char		*f_sk;		/* session key, sodium_malloc */
	struct wire_mac		 f_mac;
	unsigned char		*f_rbuf;	/* CLIENT_RBUF_LEN bytes */
	struct forkd_exit	*f_evq;		/* ring of exit events */
	size_t			 f_evq_head;
	size_t			 f_evq_len;
	size_t			 f_evq_cap;
	struct client_pending	*f_pend;	/* requests in flight */
	size_t			 f_npend;
	size_t			 f_pend_cap;
	struct client_reply	*f_rq_head;	/* replies to collect */
	struct client_reply	*f_rq_tail;
	size_t			 f_rq_len;
	char			 f_errmsg[FORKD_ERRMSG_MAX];
};

/* Milliseconds on the monotonic clock. */
static int64_t
client_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline timeout_ms from now; -1 (none) for a negative timeout. */
static int64_t
client_deadline(int64_t timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return client_now_ms() + timeout_ms;
}

/* Write the detail of the current failure, replacing control characters. */
static void __attribute__((format(printf, 2, 3)))
client_seterr(struct forkd *f, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(f->f_errmsg, sizeof f->f_errmsg, fmt, ap);
	va_end(ap);
	for (char *p = f->f_errmsg; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
}

/* Mark the handle dead and stop the socket both ways; returns err. */
static int
client_kill(struct forkd *f, int err)
{
	if (f->f_dead == 0) {
		f->f_dead = err;
		if (f->f_fd >= 0)
			shutdown(f->f_fd, SHUT_RDWR);
	}
	return err;
}

/* Common start of every call on a handle. */
static int
client_begin(struct forkd *f)
{
	if (f == NULL)
		return -EINVAL;
	if (f->f_dead != 0) {
		if (f->f_errmsg[0] == '\0')
			client_seterr(f, "the connection to forkd is closed");
		return -ECONNRESET;
	}
	f->f_errmsg[0] = '\0';
	return 0;
}

/* Copy a string into a fixed buffer, truncating. */
static void
client_strcpy(char *dst, size_t dstlen, const char *src)
{
	size_t	n;

	if (dstlen == 0)
		return;
	if (src == NULL)
		src = "";
	n = strnlen(src, dstlen - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* A plausible negative errno-style code from the daemon, or 0. */
static int
client_errcode(int32_t code)
{
	if (code < 0 && code > -4096)
		return code;
	return 0;
}

/* The daemon sent a fatal Error message: record it, kill the handle. */
static int
client_server_error(struct forkd *f, const Forkd__Error *e)
{
	int	code;

	if (e == NULL) {
		client_seterr(f, "forkd sent an empty error message");
		return client_kill(f, -EBADMSG);
	}
	code = client_errcode(e->code);
	if (code == 0) {
		client_seterr(f, "forkd closed the connection with invalid "
		    "error code %d: %s", (int)e->code,
		    e->message != NULL ? e->message : "");
		return client_kill(f, -EPROTO);
	}
	if (e->message != NULL && e->message[0] != '\0')
		client_seterr(f, "%s", e->message);
	else
		client_seterr(f, "forkd closed the connection: %s",
		    strerror(-code));
	return client_kill(f, code);
}

/* fds that came with one frame: at most one is kept (cf_fd, or -1);
 * cf_extra counts those that came and were closed at once; cf_lost: fds
 * forkd sent that this process could not take (its fd limit). */
struct client_fds {
	int	cf_fd;
	size_t	cf_extra;
	int	cf_lost;
};

/* Close the kept fd, if any. NULL is fine. */
static void
client_fds_close(struct client_fds *cf)
{
	if (cf != NULL && cf->cf_fd >= 0) {
		close(cf->cf_fd);
		cf->cf_fd = -1;
	}
}

/* Wait until the socket is readable or the deadline (-1: none) passes. */
static int
client_poll_in(struct forkd *f, int64_t deadline)
{
	struct pollfd	pfd;
	int64_t		left;
	int		tmo, r;

	for (;;) {
		tmo = -1;
		if (deadline >= 0) {
			left = deadline - client_now_ms();
			if (left < 0)
				left = 0;
			tmo = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd.fd = f->f_fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, tmo);
		if (r > 0)
			return 0;
		if (r == 0) {
			if (tmo == 0 || client_now_ms() >= deadline)
				return -ETIMEDOUT;
			continue;
		}
		if (errno == EINTR)
			continue;
		return -errno;
	}
}

/* Receive and decode one frame, waiting until deadline (-1: none, 0: only
 * if one is ready). Every failure except -ETIMEDOUT kills the handle. */
static int
client_recv(struct forkd *f, int64_t deadline, int handshake,
    Forkd__ServerMessage **ret, struct client_fds *ret_fds)
{
	const unsigned char	*payload;
	Forkd__ServerMessage	*m;
	int			 fds[WIRE_MAX_FDS];
	size_t			 nfds = 0, plen;
	ssize_t			 n;
	int			 r, lost;

	r = client_poll_in(f, deadline);
	if (r == -ETIMEDOUT)
		return r;
	if (r < 0) {
		client_seterr(f, "poll: %s", strerror(-r));
		return client_kill(f, r);
	}
	n = wire_recv_ex(f->f_fd, f->f_rbuf, CLIENT_RBUF_LEN, fds,
	    WIRE_MAX_FDS, &nfds, &lost);
	/* Only a spawn reply may carry an fd (the pidfd), and only one: keep
	 * a single fd for the caller to judge once the frame is decoded and
	 * authenticated, close everything else so nothing leaks. */
	if (n > 0 && ret_fds != NULL && nfds == 1 && !handshake && !lost) {
		ret_fds->cf_fd = fds[0];
		ret_fds->cf_extra = 0;
		ret_fds->cf_lost = 0;
		fds[0] = -1;
		nfds = 0;
	} else if (ret_fds != NULL) {
		ret_fds->cf_fd = -1;
		ret_fds->cf_extra = nfds;
		ret_fds->cf_lost = lost;
	}
	wire_close_fds(fds, nfds);
	if (n == 0 || n == -ECONNRESET || n == -EPIPE)
		return client_kill(f, -ECONNRESET);
	/* Where no fd may come, fds that could not be taken are as bad as
	 * fds that came (the frame's check says so where one may). */
	if (n > 0 && lost && (ret_fds == NULL || handshake)) {
		client_seterr(f, "a frame from forkd came with fds this process "
		    "could not take (its open files limit?)");
		return client_kill(f, -EMFILE);
	}
	if (n == -EMSGSIZE) {
		client_seterr(f, "frame from forkd is larger than %d bytes",
		    WIRE_FRAME_HARD_MAX);
		return client_kill(f, -EMSGSIZE);
	}
	if (n < 0) {
		client_seterr(f, "receive: %s", strerror((int)-n));
		return client_kill(f, (int)n);
	}
	r = wire_open(handshake ? NULL : &f->f_mac, f->f_rbuf, (size_t)n,
	    WIRE_FRAME_HARD_MAX, &payload, &plen);
	if (r < 0) {
		client_fds_close(ret_fds);
		client_seterr(f, "bad frame from forkd: %s", wire_strerror(r));
		/* A bad MAC after the handshake is a protocol error, not a
		 * key problem: keep -EKEYREJECTED for authentication. */
		if (r == -EKEYREJECTED)
			r = -EPROTO;
		return client_kill(f, r);
	}
	m = forkd__server_message__unpack(NULL, plen, payload);
	if (m == NULL || wire_has_nul_string(&forkd__server_message__descriptor,
	    payload, plen)) {
		if (m != NULL)
			forkd__server_message__free_unpacked(m, NULL);
		client_fds_close(ret_fds);
		client_seterr(f, m == NULL ? "undecodable message from forkd" :
		    "a string from forkd holds a NUL byte");
		return client_kill(f, -EBADMSG);
	}
	*ret = m;
	return 0;
}

/* Check an ExitInfo from the daemon and convert it. */
static int
client_exit_from(const Forkd__ExitInfo *e, struct forkd_exit *out)
{
	if (e == NULL || e->pid <= 0 || e->name == NULL ||
	    strlen(e->name) > FORKD_NAME_MAX ||
	    e->exitcode < -127 || e->exitcode > 255)
		return -EBADMSG;
	memset(out, 0, sizeof *out);
	out->pid = e->pid;
	client_strcpy(out->name, sizeof out->name, e->name);
	out->exitcode = e->exitcode;
	out->timed_out = e->timed_out != 0;
	out->oom_killed = e->oom_killed != 0;
	if (e->rusage != NULL) {
		out->rusage.utime_us = e->rusage->utime_us;
		out->rusage.stime_us = e->rusage->stime_us;
		out->rusage.maxrss_kb = e->rusage->maxrss_kb;
	}
	return 0;
}

/* Append an exit event to the queue, growing it or dropping the oldest. */
static int
client_evq_push(struct forkd *f, const struct forkd_exit *ev)
{
	struct forkd_exit	*nq;
	size_t			 ncap;

	if (f->f_evq_len == f->f_evq_cap) {
		ncap = f->f_evq_cap == 0 ? CLIENT_EVQ_INIT : f->f_evq_cap * 2;
		if (ncap > CLIENT_EVQ_MAX)
			ncap = CLIENT_EVQ_MAX;
		nq = NULL;
		if (ncap > f->f_evq_cap)
			nq = calloc(ncap, sizeof *nq);
		if (nq != NULL) {
			for (size_t i = 0; i < f->f_evq_len; i++)
				nq[i] = f->f_evq[(f->f_evq_head + i) %
				    f->f_evq_cap];
			free(f->f_evq);
			f->f_evq = nq;
			f->f_evq_cap = ncap;
			f->f_evq_head = 0;
		} else if (f->f_evq_cap == 0)
			return -ENOMEM;
		else {
			/* Full: the oldest event nobody collected goes. */
			f->f_evq_head = (f->f_evq_head + 1) % f->f_evq_cap;
			f->f_evq_len--;
		}
	}
	f->f_evq[(f->f_evq_head + f->f_evq_len) % f->f_evq_cap] = *ev;
	f->f_evq_len++;
	return 0;
}

/* Take the oldest queued exit event; -EAGAIN when none. */
static int
client_evq_pop(struct forkd *f, struct forkd_exit *ret)
{
	if (f->f_evq_len == 0)
		return -EAGAIN;
	if (ret != NULL)
		*ret = f->f_evq[f->f_evq_head];
	f->f_evq_head = (f->f_evq_head + 1) % f->f_evq_cap;
	f->f_evq_len--;
	return 0;
}

static ssize_t	client_pending_find(const struct forkd *, uint32_t);
static int	client_async_reply(struct forkd *, const Forkd__Response *,
		    size_t, struct client_fds *);

/* Handle a frame that is not the awaited response: queue exit events and
 * replies to forkd_*_start() requests (taking the frame's fd from cf for a
 * spawn's pidfd), drop late replies to abandoned requests. Returns 1 when
 * an exit event was queued, 0 when the message was consumed, or a negative
 * error. m is freed unless *ret_resp is set (the response with id want,
 * want != 0). */
static int
client_dispatch(struct forkd *f, Forkd__ServerMessage *m, uint32_t want,
    Forkd__ServerMessage **ret_resp, struct client_fds *cf)
{
	struct forkd_exit	ev;
	Forkd__Response		*resp;
	ssize_t			 pi;
	int			 r = 0;

	switch (m->body_case) {
	case FORKD__SERVER_MESSAGE__BODY_EXIT:
		if (m->exit == NULL || client_exit_from(m->exit->exit,
		    &ev) != 0) {
			client_seterr(f, "malformed exit event from forkd");
			r = client_kill(f, -EBADMSG);
			break;
		}
		r = client_evq_push(f, &ev);
		if (r == 0)
			r = 1;
		else
			client_seterr(f, "out of memory queueing exit event");
		break;
	case FORKD__SERVER_MESSAGE__BODY_ERROR:
		r = client_server_error(f, m->error);
		break;
	case FORKD__SERVER_MESSAGE__BODY_RESPONSE:
		resp = m->response;
		if (resp == NULL) {
			client_seterr(f, "empty response from forkd");
			r = client_kill(f, -EBADMSG);
			break;
		}
		if (want != 0 && resp->id == want) {
			*ret_resp = m;
			return 0;
		}
		if ((pi = client_pending_find(f, resp->id)) >= 0) {
			r = client_async_reply(f, resp, (size_t)pi, cf);
			break;
		}
		/* A reply to a request that timed out earlier. */
		if (f->f_abandoned > 0 && resp->id != 0 &&
		    (int32_t)(f->f_next_id - resp->id) > 0) {
			f->f_abandoned--;
			break;
		}
		client_seterr(f, "response from forkd with unexpected id %u",
		    (unsigned)resp->id);
		r = client_kill(f, -EBADMSG);
		break;
	default:
		client_seterr(f, "unexpected message type %d from forkd",
		    (int)m->body_case);
		r = client_kill(f, -EBADMSG);
		break;
	}
	forkd__server_message__free_unpacked(m, NULL);
	return r;
}

/* Seal and send one message (with fds). On a failure that sent nothing
 * the MAC sequence is given back so the connection stays usable. */
static int
client_send(struct forkd *f, const ProtobufCMessage *msg, int handshake,
    const int *fds, size_t nfds)
{
	unsigned char	*payload = NULL, *frame = NULL;
	size_t		 plen, flen, cap;
	int		 r;

	plen = protobuf_c_message_get_packed_size(msg);
	cap = plen + WIRE_OVERHEAD;
	if (cap > f->f_max_frame) {
		client_seterr(f, "request of %zu bytes exceeds forkd's frame "
		    "limit of %zu bytes", cap, f->f_max_frame);
		return -EMSGSIZE;
	}
	payload = malloc(plen > 0 ? plen : 1);
	frame = malloc(cap);
	if (payload == NULL || frame == NULL) {
		r = -ENOMEM;
		client_seterr(f, "out of memory");
		goto out;
	}
	protobuf_c_message_pack(msg, payload);
	r = wire_seal(handshake ? NULL : &f->f_mac, payload, plen, frame, cap,
	    &flen);
	if (r < 0) {
		client_seterr(f, "request too large");
		goto out;
	}
	r = wire_send(f->f_fd, frame, flen, fds, nfds);
	switch (r) {
	case 0:
		break;
	case -EAGAIN:
	case -EBADF:
	case -EINVAL:
	case -ENOMEM:
	case -ENOBUFS:
	case -ETOOMANYREFS:
	case -EMSGSIZE:
		/* Nothing went out: a datagram is sent whole or not at all. */
		if (!handshake)
			f->f_mac.send_seq--;
		if (r == -EAGAIN) {
			r = -ETIMEDOUT;
			client_seterr(f, "forkd is not reading requests "
			    "(send timed out)");
		} else if (r == -EMSGSIZE)
			client_seterr(f, "request of %zu bytes is more than the "
			    "socket takes in one datagram (its SO_SNDBUF)", flen);
		else if (r == -EBADF && nfds > 0)
			client_seterr(f, "passing fds: %s", strerror(-r));
		else
			client_seterr(f, "send: %s", strerror(-r));
		break;
	case -EPIPE:
	case -ECONNRESET:
	case -ENOTCONN:
		r = client_kill(f, -ECONNRESET);
		break;
	default:
		client_seterr(f, "send: %s", strerror(-r));
		r = client_kill(f, r);
		break;
	}
out:
	if (payload != NULL)
		sodium_memzero(payload, plen);
	free(payload);
	free(frame);
	return r;
}

/* Give req the next request id and send it (with fds). */
static int
client_send_request(struct forkd *f, Forkd__Request *req, const int *fds,
    size_t nfds)
{
	Forkd__ClientMessage	cm = FORKD__CLIENT_MESSAGE__INIT;

	req->id = f->f_next_id++;
	if (f->f_next_id == 0)
		f->f_next_id = 1;
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_REQUEST;
	cm.request = req;
	return client_send(f, &cm.base, 0, fds, nfds);
}

/* Send a request and wait for its response. timeout_ms < 0: no limit. On
 * success *ret is the whole ServerMessage (free with
 * forkd__server_message__free_unpacked) whose response has error 0 and
 * body body (NOT_SET: any). */
static int
client_call_fds(struct forkd *f, Forkd__Request *req, const int *fds,
    size_t nfds, int64_t timeout_ms, Forkd__Response__BodyCase body,
    Forkd__ServerMessage **ret, struct client_fds *ret_fds)
{
	Forkd__ServerMessage	*m = NULL, *resp = NULL;
	Forkd__Response		*rs;
	struct client_fds	 cf = { -1, 0, 0 };
	int64_t			 deadline;
	int			 r, code;

	r = client_send_request(f, req, fds, nfds);
	if (r < 0)
		return r;

	deadline = client_deadline(timeout_ms);
	while (resp == NULL) {
		r = client_recv(f, deadline, 0, &m, &cf);
		if (r == -ETIMEDOUT) {
			f->f_abandoned++;
			client_seterr(f, "no reply from forkd within %lld ms",
			    (long long)timeout_ms);
			return r;
		}
		if (r < 0)
			return r;
		r = client_dispatch(f, m, req->id, &resp, &cf);
		/* An fd on any frame but the awaited reply is not kept. */
		if (resp == NULL || ret_fds == NULL)
			client_fds_close(&cf);
		if (r < 0)
			return r;
	}

	rs = resp->response;
	if (rs->error != 0)
		client_fds_close(&cf);
	if (rs->error != 0) {
		code = client_errcode(rs->error);
		if (code == 0) {
			client_seterr(f, "forkd replied with invalid error "
			    "code %d", (int)rs->error);
			forkd__server_message__free_unpacked(resp, NULL);
			return client_kill(f, -EBADMSG);
		}
		if (rs->message != NULL && rs->message[0] != '\0')
			client_seterr(f, "%s", rs->message);
		forkd__server_message__free_unpacked(resp, NULL);
		return code;
	}
	if (body != FORKD__RESPONSE__BODY__NOT_SET && rs->body_case != body) {
		client_fds_close(&cf);
		client_seterr(f, "reply from forkd lacks its body "
		    "(got type %d, want %d)", (int)rs->body_case, (int)body);
		forkd__server_message__free_unpacked(resp, NULL);
		return client_kill(f, -EBADMSG);
	}
	*ret = resp;
	if (ret_fds != NULL)
		*ret_fds = cf;
	return 0;
}

/* client_call_fds() for replies that carry no fd (any that came is
 * closed). */
static int
client_call(struct forkd *f, Forkd__Request *req, const int *fds,
    size_t nfds, int64_t timeout_ms, Forkd__Response__BodyCase body,
    Forkd__ServerMessage **ret)
{
	return client_call_fds(f, req, fds, nfds, timeout_ms, body, ret,
	    NULL);
}

/* Receive one handshake message of the expected type; a server Error
 * becomes its code. */
static int
client_hs_recv(struct forkd *f, int64_t deadline,
    Forkd__ServerMessage__BodyCase want, const char *what,
    Forkd__ServerMessage **ret)
{
	Forkd__ServerMessage	*m = NULL;
	int			 r;

	r = client_recv(f, deadline, 1, &m, NULL);
	if (r == -ETIMEDOUT) {
		client_seterr(f, "no %s from forkd within %d ms", what,
		    CLIENT_HANDSHAKE_MS);
		return client_kill(f, r);
	}
	if (r < 0) {
		if (r == -ECONNRESET)
			client_seterr(f, "forkd closed the connection before "
			    "sending %s", what);
		return r;
	}
	if (m->body_case == FORKD__SERVER_MESSAGE__BODY_ERROR) {
		r = client_server_error(f, m->error);
		forkd__server_message__free_unpacked(m, NULL);
		return r;
	}
	if (m->body_case != want || m->hello == NULL) {
		client_seterr(f, "expected %s from forkd, got message type %d",
		    what, (int)m->body_case);
		forkd__server_message__free_unpacked(m, NULL);
		return client_kill(f, -EBADMSG);
	}
	*ret = m;
	return 0;
}

/* Mutual authentication and session key set-up (see proto/auth.h). */
static int
client_handshake(struct forkd *f, const unsigned char *key, size_t keylen,
    int64_t deadline)
{
	Forkd__ServerMessage	*m = NULL;
	Forkd__ClientMessage	 cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__Auth		 auth = FORKD__AUTH__INIT;
	Forkd__AuthOk		*ok;
	unsigned char		 sn[AUTH_NONCE_LEN], cn[AUTH_NONCE_LEN];
	unsigned char		 proof[AUTH_PROOF_LEN];
	int			 r;

	r = client_hs_recv(f, deadline, FORKD__SERVER_MESSAGE__BODY_HELLO,
	    "hello", &m);
	if (r < 0)
		return r;
	if (m->hello->version != WIRE_VERSION) {
		client_seterr(f, "forkd speaks protocol version %u, libforkd "
		    "speaks %d", (unsigned)m->hello->version, WIRE_VERSION);
		r = client_kill(f, -EPROTONOSUPPORT);
		goto out;
	}
	if (m->hello->server_nonce.len != AUTH_NONCE_LEN ||
	    m->hello->server_nonce.data == NULL) {
		client_seterr(f, "hello from forkd has a bad nonce");
		r = client_kill(f, -EBADMSG);
		goto out;
	}
	memcpy(sn, m->hello->server_nonce.data, AUTH_NONCE_LEN);
	f->f_max_frame = m->hello->max_frame;
	if (f->f_max_frame == 0)
		f->f_max_frame = WIRE_FRAME_DEFAULT_MAX;
	if (f->f_max_frame > WIRE_FRAME_HARD_MAX)
		f->f_max_frame = WIRE_FRAME_HARD_MAX;
	if (f->f_max_frame < CLIENT_MIN_FRAME) {
		client_seterr(f, "forkd announces an unusable frame limit of "
		    "%zu bytes", f->f_max_frame);
		r = client_kill(f, -EPROTO);
		goto out;
	}
	forkd__server_message__free_unpacked(m, NULL);
	m = NULL;

	auth_nonce(cn);
	auth_proof(key, keylen, AUTH_ROLE_CLIENT, sn, cn, proof);
	auth.version = WIRE_VERSION;
	auth.client_nonce.data = cn;
	auth.client_nonce.len = sizeof cn;
	auth.proof.data = proof;
	auth.proof.len = sizeof proof;
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_AUTH;
	cm.auth = &auth;
	r = client_send(f, &cm.base, 1, NULL, 0);
	sodium_memzero(proof, sizeof proof);
	if (r < 0) {
		client_kill(f, r);
		goto out;
	}

	r = client_hs_recv(f, deadline, FORKD__SERVER_MESSAGE__BODY_AUTH_OK,
	    "authentication reply", &m);
	if (r < 0) {
		if (r == -EKEYREJECTED && f->f_errmsg[0] == '\0')
			client_seterr(f, "forkd rejected the key");
		goto out;
	}
	ok = m->auth_ok;
	if (auth_proof_verify(key, keylen, AUTH_ROLE_SERVER, sn, cn,
	    ok->proof.data, ok->proof.len) != 0) {
		client_seterr(f, "the server failed to prove that it holds "
		    "the key (not the forkd you meant?)");
		r = client_kill(f, -EKEYREJECTED);
		goto out;
	}

	f->f_sk = sodium_malloc(WIRE_KEY_LEN);
	if (f->f_sk == NULL) {
		client_seterr(f, "out of secure memory");
		r = client_kill(f, -ENOMEM);
		goto out;
	}
	auth_session_key(key, keylen, sn, cn, f->f_sk);
	sodium_mprotect_readonly(f->f_sk);
	wire_mac_init(&f->f_mac, f->f_sk, 0);
	r = 0;
out:
	if (m != NULL)
		forkd__server_message__free_unpacked(m, NULL);
	return r;
}

/* Set the socket's send timeout. */
static int
client_sndtimeo(int fd, int64_t ms)
{
	struct timeval	tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
		return -errno;
	return 0;
}

/* The environment variable's value, unless unset, empty or the process is
 * privileged (a setuid caller must not let its user pick a key file). */
static const char *
client_getenv(const char *name, const char *dflt)
{
	const char	*v = secure_getenv(name);

	return v != NULL && v[0] != '\0' ? v : dflt;
}

/* Allocate a handle. */
static struct forkd *
client_new(void)
{
	struct forkd	*f;

	f = calloc(1, sizeof *f);
	if (f == NULL)
		return NULL;
	f->f_fd = -1;
	f->f_next_id = 1;
	f->f_max_frame = WIRE_FRAME_DEFAULT_MAX;
	f->f_rbuf = malloc(CLIENT_RBUF_LEN);
	if (f->f_rbuf == NULL) {
		free(f);
		return NULL;
	}
	return f;
}

/* Fill *e (when not NULL) with a failure: code, step, path and a
 * message; control characters become '?'. Returns code. */
static int __attribute__((format(printf, 5, 6)))
client_fail(struct forkd_error *e, int code, int step, const char *path,
    const char *fmt, ...)
{
	va_list	ap;

	if (e == NULL)
		return code;
	e->code = code;
	e->step = step;
	client_strcpy(e->path, sizeof e->path, path);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
	for (char *p = e->message; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	for (char *p = e->path; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return code;
}

/* Clear *e (when not NULL): no failure. */
static void
client_fail_clear(struct forkd_error *e)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->step = FORKD_STEP_NONE;
	e->path[0] = '\0';
	e->message[0] = '\0';
}

/* Name of a FORKD_STEP_*. */
FORKD_API const char *
forkd_step_name(int step)
{
	static const char *const names[FORKD_STEP_MAX] = {
		[FORKD_STEP_NONE] = "",
		[FORKD_STEP_KEY] = "key",
		[FORKD_STEP_SOCKET] = "socket",
		[FORKD_STEP_CONNECT] = "connect",
		[FORKD_STEP_HANDSHAKE] = "handshake",
	};

	if (step < 0 || step >= FORKD_STEP_MAX)
		return "?";
	return names[step];
}

/* A failed connect() to sock, in the user's terms; -ECONNREFUSED on
 * something that is not a socket becomes -ENOTSOCK. */
static int
client_connect_fail(struct forkd_error *e, int r, const char *sock)
{
	struct stat	st;
	const char	*hint = "";

	if (r == -ECONNREFUSED && stat(sock, &st) == 0 &&
	    !S_ISSOCK(st.st_mode))
		r = -ENOTSOCK;
	switch (r) {
	case -ENOENT:
		hint = " (no socket there; is forkd running?)";
		break;
	case -ECONNREFUSED:
		hint = " (nothing listens there; is forkd running?)";
		break;
	case -EACCES:
	case -EPERM:
		hint = " (no permission to use the socket)";
		break;
	case -ENOTSOCK:
		return client_fail(e, r, FORKD_STEP_SOCKET, sock,
		    "connect to %s: not a socket (is it the right path?)",
		    sock);
	case -ETIMEDOUT:
		hint = " (forkd did not accept within 10 s)";
		break;
	default:
		break;
	}
	return client_fail(e, r, FORKD_STEP_CONNECT, sock, "connect to %s: "
	    "%s%s", sock, forkd_strerror(r), hint);
}

/* A failed handshake on f, in the user's terms; keyf may be NULL. */
static int
client_handshake_fail(struct forkd_error *e, int r, struct forkd *f,
    const char *sock, const char *keyf)
{
	char	hint[FORKD_ERROR_MAX];

	switch (r) {
	case -EKEYREJECTED:
		if (keyf != NULL)
			snprintf(hint, sizeof hint, "key file %s is not "
			    "forkd's key", keyf);
		else
			snprintf(hint, sizeof hint, "not forkd's key");
		if (strstr(f->f_errmsg, "failed to prove") != NULL)
			snprintf(hint, sizeof hint, "%s", f->f_errmsg);
		break;
	case -ETIMEDOUT:
		snprintf(hint, sizeof hint, "no answer from forkd within "
		    "10 s");
		break;
	case -ECONNRESET:
		snprintf(hint, sizeof hint, "forkd closed the connection "
		    "during the handshake%s%s", f->f_errmsg[0] != '\0' ?
		    ": " : "", f->f_errmsg);
		break;
	case -EPROTONOSUPPORT:
		snprintf(hint, sizeof hint, "this libforkd and that forkd "
		    "speak different protocols");
		break;
	default:
		snprintf(hint, sizeof hint, "%s", f->f_errmsg);
		break;
	}
	return client_fail(e, r, FORKD_STEP_HANDSHAKE, sock, "connect to %s: "
	    "%s%s%s%s", sock, forkd_strerror(r), hint[0] != '\0' ? " (" : "",
	    hint, hint[0] != '\0' ? ")" : "");
}

/* Connect and authenticate with a key in memory; keyf names the key's
 * file in messages (NULL: given in memory). */
static int
client_connect(struct forkd **ret, const char *socket_path,
    const void *key, size_t keylen, const char *keyf, struct forkd_error *e)
{
	struct sockaddr_un	 sun;
	struct forkd		*f;
	int64_t			 deadline;
	int			 r;

	if (ret == NULL || key == NULL || keylen < AUTH_KEY_MIN ||
	    keylen >= AUTH_KEY_MAX)
		return client_fail(e, -EINVAL, FORKD_STEP_KEY, keyf, "a key "
		    "must be %d to %d bytes", AUTH_KEY_MIN, AUTH_KEY_MAX - 1);
	if (sodium_init() < 0)
		return client_fail(e, -EIO, FORKD_STEP_NONE, NULL,
		    "cannot initialise libsodium");
	if (socket_path == NULL)
		socket_path = client_getenv(FORKD_ENV_SOCKET,
		    FORKD_DEFAULT_SOCKET);
	if (socket_path[0] == '\0')
		return client_fail(e, -EINVAL, FORKD_STEP_SOCKET, "",
		    "the socket path is empty");
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof sun.sun_path)
		return client_fail(e, -ENAMETOOLONG, FORKD_STEP_SOCKET,
		    socket_path, "connect to %s: the path is %zu bytes; a Unix "
		    "socket path must be shorter than %zu", socket_path,
		    strlen(socket_path), sizeof sun.sun_path);
	memcpy(sun.sun_path, socket_path, strlen(socket_path));

	deadline = client_deadline(CLIENT_HANDSHAKE_MS);
	f = client_new();
	if (f == NULL)
		return client_fail(e, -ENOMEM, FORKD_STEP_NONE, NULL,
		    "out of memory");
	f->f_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (f->f_fd < 0) {
		r = client_fail(e, -errno, FORKD_STEP_CONNECT, socket_path,
		    "socket: %s", strerror(errno));
		goto fail;
	}
	/* A full listen backlog blocks connect() up to SO_SNDTIMEO. */
	r = client_sndtimeo(f->f_fd, CLIENT_HANDSHAKE_MS);
	if (r < 0) {
		client_fail(e, r, FORKD_STEP_CONNECT, socket_path,
		    "setsockopt: %s", strerror(-r));
		goto fail;
	}
	do {
		r = connect(f->f_fd, (struct sockaddr *)&sun, sizeof sun);
	} while (r != 0 && errno == EINTR);
	if (r != 0) {
		r = -errno;
		if (r == -EAGAIN || r == -EINPROGRESS)
			r = -ETIMEDOUT;
		r = client_connect_fail(e, r, socket_path);
		goto fail;
	}
	r = client_handshake(f, key, keylen, deadline);
	if (r < 0) {
		client_handshake_fail(e, r, f, socket_path, keyf);
		goto fail;
	}
	r = client_sndtimeo(f->f_fd, CLIENT_REQUEST_MS);
	if (r < 0) {
		client_fail(e, r, FORKD_STEP_CONNECT, socket_path,
		    "setsockopt: %s", strerror(-r));
		goto fail;
	}
	f->f_errmsg[0] = '\0';
	client_fail_clear(e);
	*ret = f;
	return 0;
fail:
	forkd_close(f);
	return r;
}

/* Connect and authenticate with a key in memory. */
FORKD_API int
forkd_connect_key(struct forkd **ret, const char *socket_path,
    const void *key, size_t keylen)
{
	return client_connect(ret, socket_path, key, keylen, NULL, NULL);
}

/* Connect and authenticate with a key file, explaining a failure. */
FORKD_API int
forkd_connect_ex(struct forkd **ret, const char *socket_path,
    const char *key_file, struct forkd_error *e)
{
	unsigned char	*key = NULL;
	size_t		 keylen = 0;
	char		 errbuf[FORKD_ERROR_MAX];
	int		 r;

	if (ret == NULL)
		return client_fail(e, -EINVAL, FORKD_STEP_NONE, NULL,
		    "no place for the handle (ret is NULL)");
	if (sodium_init() < 0)
		return client_fail(e, -EIO, FORKD_STEP_NONE, NULL,
		    "cannot initialise libsodium");
	if (key_file == NULL)
		key_file = client_getenv(FORKD_ENV_KEY_FILE,
		    FORKD_DEFAULT_KEY_FILE);
	/* The daemon checks its key's owner; a client only reads it. */
	r = auth_key_load(key_file, 0, &key, &keylen, errbuf, sizeof errbuf);
	if (r < 0)
		return client_fail(e, r, FORKD_STEP_KEY, key_file, "%s",
		    errbuf);
	r = client_connect(ret, socket_path, key, keylen, key_file, e);
	auth_key_free(key, keylen);
	return r;
}

/* Connect and authenticate with a key file. */
FORKD_API int
forkd_connect(struct forkd **ret, const char *socket_path,
    const char *key_file)
{
	return forkd_connect_ex(ret, socket_path, key_file, NULL);
}

/* The key path: path, else $FORKD_KEY_FILE, else the default. */
static const char *
client_key_path(const char *path)
{
	if (path != NULL)
		return path;
	return client_getenv(FORKD_ENV_KEY_FILE, FORKD_DEFAULT_KEY_FILE);
}

/* The checks forkd_key_check() and forkd_key_generate() begin with: only
 * the known flags, a key file name, libsodium ready. 0 or -errno. */
static int
client_key_begin(const char *path, unsigned int flags, unsigned int known,
    struct forkd_error *e)
{
	if ((flags & ~known) != 0)
		return client_fail(e, -EINVAL, FORKD_STEP_NONE, NULL,
		    "unknown flags %#x", flags);
	if (path[0] == '\0')
		return client_fail(e, -EINVAL, FORKD_STEP_KEY, "",
		    "the key file name is empty");
	if (sodium_init() < 0)
		return client_fail(e, -EIO, FORKD_STEP_NONE, NULL,
		    "cannot initialise libsodium");
	return 0;
}

/* Check that a key file is usable (and, with flags, as forkd wants it). */
FORKD_API int
forkd_key_check(const char *path, unsigned int flags,
    struct forkd_error *e)
{
	unsigned char	*key = NULL;
	size_t		 keylen = 0;
	char		 errbuf[FORKD_ERROR_MAX];
	int		 how = 0, r;

	path = client_key_path(path);
	if ((r = client_key_begin(path, flags, FORKD_KEY_CHECK_MODE |
	    FORKD_KEY_CHECK_OWNER, e)) < 0)
		return r;
	if (flags & FORKD_KEY_CHECK_OWNER)
		how = AUTH_KEY_CHECK_OWNER;
	else if (flags & FORKD_KEY_CHECK_MODE)
		how = AUTH_KEY_CHECK_MODE;
	r = auth_key_load(path, how, &key, &keylen, errbuf, sizeof errbuf);
	if (r < 0)
		return client_fail(e, r, FORKD_STEP_KEY, path, "%s", errbuf);
	auth_key_free(key, keylen);
	client_fail_clear(e);
	return 0;
}

/* Flush the directory entry of path to disk (best effort). */
static void
client_sync_dir(const char *path)
{
	char	*copy;
	int	 fd;

	copy = strdup(path);
	if (copy == NULL)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Write a new key file, optionally replacing a regular file. */
FORKD_API int
forkd_key_generate(const char *path, unsigned int flags,
    struct forkd_error *e)
{
	struct stat	 st;
	char		*copy = NULL, *dir, *tmp = NULL;
	int		 r;

	path = client_key_path(path);
	if ((r = client_key_begin(path, flags, FORKD_KEY_REPLACE, e)) < 0)
		return r;
	/* The directory must exist: say so, rather than ENOENT. */
	copy = strdup(path);
	if (copy == NULL)
		return client_fail(e, -ENOMEM, FORKD_STEP_NONE, NULL,
		    "out of memory");
	dir = dirname(copy);
	if (stat(dir, &st) != 0) {
		r = -errno;
		if (r == -ENOENT)
			client_fail(e, r, FORKD_STEP_KEY, path, "directory %s "
			    "does not exist; create it first (mode 0700 if "
			    "only forkd's user should reach the key)", dir);
		else
			client_fail(e, r, FORKD_STEP_KEY, path, "%s: %s", dir,
			    strerror(-r));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		r = client_fail(e, -ENOTDIR, FORKD_STEP_KEY, path, "%s is not "
		    "a directory", dir);
		goto out;
	}
	if (!(flags & FORKD_KEY_REPLACE)) {
		r = auth_key_generate(path, FORKD_KEY_BYTES);
		goto done;
	}
	/* Replace a key file, nothing else: not a device (/dev/null), a
	 * FIFO, a socket, a directory or a symbolic link (rename() would
	 * put the file in the link's place, not its target's). */
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT) {
			r = client_fail(e, -errno, FORKD_STEP_KEY, path,
			    "%s: %s", path, strerror(errno));
			goto out;
		}
	} else if (!S_ISREG(st.st_mode)) {
		r = client_fail(e, -EINVAL, FORKD_STEP_KEY, path, "%s is not "
		    "a regular file; not replacing it", path);
		goto out;
	}
	r = -EEXIST;
	for (int i = 0; i < 100 && r == -EEXIST; i++) {
		free(tmp);
		if (asprintf(&tmp, "%s.tmp%08x", path,
		    (unsigned)randombytes_random()) < 0) {
			tmp = NULL;
			r = -ENOMEM;
			break;
		}
		r = auth_key_generate(tmp, FORKD_KEY_BYTES);
	}
	if (r == 0 && rename(tmp, path) != 0) {
		r = -errno;
		unlink(tmp);
	}
done:
	if (r == -EEXIST)
		client_fail(e, r, FORKD_STEP_KEY, path, "%s already exists; "
		    "not replacing it", path);
	else if (r < 0)
		client_fail(e, r, FORKD_STEP_KEY, path, "%s: %s", path,
		    strerror(-r));
	else {
		client_sync_dir(path);
		client_fail_clear(e);
	}
out:
	free(tmp);
	free(copy);
	return r;
}

/* Close the connection and free the handle. */
FORKD_API void
forkd_close(struct forkd *f)
{
	if (f == NULL)
		return;
	if (f->f_fd >= 0)
		close(f->f_fd);
	if (f->f_sk != NULL)
		sodium_free(f->f_sk);
	free(f->f_rbuf);
	free(f->f_evq);
	free(f->f_pend);
	while (f->f_rq_head != NULL) {
		struct client_reply *cr = f->f_rq_head;

		f->f_rq_head = cr->r_next;
		if (cr->r_reply.spawned.pidfd >= 0)
			close(cr->r_reply.spawned.pidfd);
		free(cr);
	}
	free(f);
}

/* The connection's socket. */
FORKD_API int
forkd_fd(const struct forkd *f)
{
	if (f == NULL)
		return -EINVAL;
	return f->f_fd;
}

/* Detail of the last failure on this handle. */
FORKD_API const char *
forkd_errmsg(const struct forkd *f)
{
	if (f == NULL)
		return "";
	return f->f_errmsg;
}

/* Describe an error code. */
FORKD_API const char *
forkd_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case -EKEYREJECTED:
		return "authentication failed (wrong key?)";
	case -EPROTO:
		return "protocol error";
	case -EPROTONOSUPPORT:
		return "forkd speaks an unsupported protocol version";
	case -EBADMSG:
		return "malformed message from forkd";
	case -EMSGSIZE:
		return "message too large";
	case -ECONNRESET:
		return "connection closed by forkd";
	case -ECONNREFUSED:
		return "connection refused";
	case -ETIMEDOUT:
		return "timed out";
	case -EUSERS:
		return "forkd has too many connections";
	case -ESRCH:
		return "no such child";
	case -ENAMETOOLONG:
		return "name too long";
	default:
		return strerror(-err);
	}
}

/* Defaults: inherit nothing, /dev/null for stdio, no child set-up (all
 * zero but umask, whose "inherit" is -1). */
FORKD_API void
forkd_spawn_opts_init(struct forkd_spawn_opts *o)
{
	if (o == NULL)
		return;
	memset(o, 0, sizeof *o);
	o->stdin_fd = -1;
	o->stdout_fd = -1;
	o->stderr_fd = -1;
	o->umask = -1;
	o->pgroup = FORKD_PGROUP_SESSION;
}

/* Count a NULL-terminated string vector, checking the limits. */
static int
client_count_strv(struct forkd *f, const char *const *v, size_t max,
    const char *what, int need_eq, size_t *ret_n)
{
	size_t	n = 0;

	if (v == NULL) {
		*ret_n = 0;
		return 0;
	}
	for (; v[n] != NULL; n++) {
		if (n >= max) {
			client_seterr(f, "%s has more than %zu entries", what,
			    max);
			return -E2BIG;
		}
		if (strlen(v[n]) > LIMIT_STRING_MAX) {
			client_seterr(f, "%s[%zu] is longer than %d bytes",
			    what, n, LIMIT_STRING_MAX);
			return -E2BIG;
		}
		if (need_eq && (v[n][0] == '=' || strchr(v[n], '=') == NULL)) {
			client_seterr(f, "%s[%zu] is not KEY=VALUE", what, n);
			return -EINVAL;
		}
	}
	*ret_n = n;
	return 0;
}


/* Everything the encoder points into while the request is sent. */
struct client_setup {
	Forkd__Rlimit		 cs_rl[LIMIT_RLIMITS_MAX];
	Forkd__Rlimit		*cs_rlp[LIMIT_RLIMITS_MAX];
	Forkd__UInt32Value	 cs_umask;
	Forkd__Int32Value	 cs_nice;
	uint32_t		 cs_cpus[LIMIT_CPUS_MAX];
	Forkd__Identity		 cs_id;
	uint32_t		 cs_groups[LIMIT_GROUPS_MAX];
	Forkd__CgroupSpec	 cs_cg;
};

/* Check the child set-up fields of o (obviously bad values: the daemon
 * checks again, with what only it knows) and encode them into sp. */
static int
client_encode_setup(struct forkd *f, const struct forkd_spawn_opts *o,
    struct client_setup *cs, Forkd__SpawnRequest *sp)
{
	unsigned int	seen = 0;

	if (o->n_rlimits > LIMIT_RLIMITS_MAX || (o->n_rlimits > 0 &&
	    o->rlimits == NULL)) {
		client_seterr(f, o->rlimits == NULL ? "n_rlimits is %zu but "
		    "rlimits is NULL" : "%zu rlimits, at most 16 (one per "
		    "resource)", o->n_rlimits);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->n_rlimits; i++) {
		const struct forkd_rlimit *rl = &o->rlimits[i];

		if (rl->resource < 0 || rl->resource >= LIMIT_RLIMITS_MAX) {
			client_seterr(f, "rlimits[%zu]: unknown resource %d",
			    i, rl->resource);
			return -EINVAL;
		}
		if (seen & (1U << rl->resource)) {
			client_seterr(f, "rlimits[%zu]: resource %d given "
			    "twice", i, rl->resource);
			return -EINVAL;
		}
		seen |= 1U << rl->resource;
		if (rl->soft > rl->hard) {
			client_seterr(f, "rlimits[%zu]: soft limit %llu is "
			    "above the hard limit %llu", i,
			    (unsigned long long)rl->soft,
			    (unsigned long long)rl->hard);
			return -EINVAL;
		}
		forkd__rlimit__init(&cs->cs_rl[i]);
		cs->cs_rl[i].resource = (uint32_t)rl->resource;
		cs->cs_rl[i].soft = rl->soft;	/* UINT64_MAX: infinity */
		cs->cs_rl[i].hard = rl->hard;
		cs->cs_rlp[i] = &cs->cs_rl[i];
	}
	sp->n_rlimits = o->n_rlimits;
	sp->rlimits = cs->cs_rlp;

	if (o->umask != -1) {
		if (o->umask < 0 || o->umask > 0777) {
			client_seterr(f, "umask %#o is not -1 or 0..0777",
			    (unsigned)o->umask);
			return -EINVAL;
		}
		forkd__uint32_value__init(&cs->cs_umask);
		cs->cs_umask.value = (uint32_t)o->umask;
		sp->umask = &cs->cs_umask;
	}
	if (o->nice_set) {
		if (o->nice < -20 || o->nice > 19) {
			client_seterr(f, "nice %d is not in -20..19", o->nice);
			return -EINVAL;
		}
		forkd__int32_value__init(&cs->cs_nice);
		cs->cs_nice.value = o->nice;
		sp->nice = &cs->cs_nice;
	}

	if (o->n_cpus > LIMIT_CPUS_MAX || (o->n_cpus > 0 && o->cpus == NULL)) {
		client_seterr(f, o->cpus == NULL ? "n_cpus is %zu but cpus is "
		    "NULL" : "%zu cpus, at most 1024", o->n_cpus);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->n_cpus; i++) {
		if (o->cpus[i] < 0 || o->cpus[i] >= LIMIT_CPU_NUMBER_MAX) {
			client_seterr(f, "cpus[%zu]: CPU %d is not in 0..%d", i,
			    o->cpus[i], LIMIT_CPU_NUMBER_MAX - 1);
			return -EINVAL;
		}
		cs->cs_cpus[i] = (uint32_t)o->cpus[i];
	}
	sp->n_cpus = o->n_cpus;
	sp->cpus = cs->cs_cpus;

	switch (o->pgroup) {
	case FORKD_PGROUP_SESSION:
		sp->pgroup = FORKD__PROCESS_GROUP__PGROUP_SESSION;
		break;
	case FORKD_PGROUP_GROUP:
		sp->pgroup = FORKD__PROCESS_GROUP__PGROUP_GROUP;
		break;
	default:
		client_seterr(f, "unknown pgroup %d", o->pgroup);
		return -EINVAL;
	}

	if (o->timeout_ms > LIMIT_TIMEOUT_MS_MAX ||
	    o->kill_grace_ms > LIMIT_TIMEOUT_MS_MAX) {
		client_seterr(f, "%s of %u ms is over the limit of %u ms (a "
		    "week)", o->timeout_ms > LIMIT_TIMEOUT_MS_MAX ?
		    "timeout_ms" : "kill_grace_ms",
		    o->timeout_ms > LIMIT_TIMEOUT_MS_MAX ? o->timeout_ms :
		    o->kill_grace_ms, LIMIT_TIMEOUT_MS_MAX);
		return -EINVAL;
	}
	if (o->kill_grace_ms > 0 && o->timeout_ms == 0) {
		client_seterr(f, "kill_grace_ms without timeout_ms");
		return -EINVAL;
	}
	sp->timeout_ms = o->timeout_ms;
	sp->kill_grace_ms = o->kill_grace_ms;

	if (o->n_groups > 0 && !o->identity_set) {
		client_seterr(f, "groups given but identity_set is 0");
		return -EINVAL;
	}
	if (o->identity_set) {
		if (o->n_groups > LIMIT_GROUPS_MAX || (o->n_groups > 0 &&
		    o->groups == NULL)) {
			client_seterr(f, o->groups == NULL ? "n_groups is %zu "
			    "but groups is NULL" : "%zu supplementary groups, "
			    "at most 64", o->n_groups);
			return -EINVAL;
		}
		if (o->uid == (uid_t)-1 || o->gid == (gid_t)-1) {
			client_seterr(f, "uid and gid must not be -1");
			return -EINVAL;
		}
		forkd__identity__init(&cs->cs_id);
		cs->cs_id.uid = (uint32_t)o->uid;
		cs->cs_id.gid = (uint32_t)o->gid;
		for (size_t i = 0; i < o->n_groups; i++) {
			if (o->groups[i] == (gid_t)-1) {
				client_seterr(f, "groups[%zu] is -1", i);
				return -EINVAL;
			}
			cs->cs_groups[i] = (uint32_t)o->groups[i];
		}
		cs->cs_id.n_groups = o->n_groups;
		cs->cs_id.groups = cs->cs_groups;
		sp->identity = &cs->cs_id;
	}
	sp->no_new_privs = o->no_new_privs != 0;
	sp->drop_caps = o->drop_caps != 0;

	if (!o->cgroup && (o->memory_max != 0 || o->pids_max != 0 ||
	    o->cpu_quota_us != 0 || o->cpu_period_us != 0)) {
		client_seterr(f, "cgroup limits given but cgroup is 0");
		return -EINVAL;
	}
	if (o->cgroup) {
		if (o->cpu_period_us != 0 && o->cpu_quota_us == 0) {
			client_seterr(f, "cpu_period_us without cpu_quota_us");
			return -EINVAL;
		}
		if (o->cpu_period_us != 0 &&
		    (o->cpu_period_us < LIMIT_CPU_PERIOD_MIN ||
		    o->cpu_period_us > LIMIT_CPU_PERIOD_MAX)) {
			client_seterr(f, "cpu_period_us %u is not in "
			    "1000..1000000", o->cpu_period_us);
			return -EINVAL;
		}
		if (o->cpu_quota_us != 0 &&
		    o->cpu_quota_us < LIMIT_CPU_QUOTA_MIN) {
			client_seterr(f, "cpu_quota_us %u is below 1000",
			    o->cpu_quota_us);
			return -EINVAL;
		}
		forkd__cgroup_spec__init(&cs->cs_cg);
		cs->cs_cg.memory_max = o->memory_max;
		cs->cs_cg.pids_max = o->pids_max;
		cs->cs_cg.cpu_quota_us = o->cpu_quota_us;
		cs->cs_cg.cpu_period_us = o->cpu_period_us;
		sp->cgroup = &cs->cs_cg;
	}

	if (o->namespaces & ~(unsigned int)LIMIT_NS_ALL) {
		client_seterr(f, "unknown namespace bits %#x",
		    o->namespaces & ~(unsigned int)LIMIT_NS_ALL);
		return -EINVAL;
	}
	sp->namespaces = o->namespaces;
	sp->want_pidfd = o->want_pidfd != 0;
	return 0;
}

/* Is fd a pidfd of pid? Judged from /proc/self/fdinfo ("Pid:" is only
 * there for pidfds; -1 once the process is gone, 0 when it is outside
 * our PID namespace). Without /proc nothing can be checked: yes. */
static int
client_is_pidfd(int fd, pid_t pid)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 n;
	long	 v;
	int	 pfd;

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return 1;
	n = read(pfd, buf, sizeof buf - 1);
	close(pfd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	p = strstr(buf, "\nPid:");
	if (p == NULL)
		p = strncmp(buf, "Pid:", 4) == 0 ? buf : NULL;
	else
		p++;
	if (p == NULL)
		return 0;
	v = strtol(p + 4, NULL, 10);
	return v <= 0 || v == (long)pid;
}

/* Append the caller's extra fds (o->fds at o->fd_targets) after the
 * stdio ones already in fds/targets, checking each target. */
static int
client_add_fds(struct forkd *f, const struct forkd_spawn_opts *o, int *fds,
    uint32_t *targets, size_t *nfds)
{
	if (o->n_fds == 0)
		return 0;
	if (o->fds == NULL || o->fd_targets == NULL) {
		client_seterr(f, "n_fds is %zu but fds or fd_targets is NULL",
		    o->n_fds);
		return -EINVAL;
	}
	if (o->n_fds > FORKD_FDS_MAX - *nfds) {
		client_seterr(f, "too many fds: %zu with stdio, at most %d",
		    o->n_fds + *nfds, FORKD_FDS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->n_fds; i++) {
		int t = o->fd_targets[i];

		if (t < 0 || t > FORKD_FD_TARGET_MAX) {
			client_seterr(f, "fd target %d is not in 0..%d", t,
			    FORKD_FD_TARGET_MAX);
			return -EINVAL;
		}
		for (size_t j = 0; j < *nfds; j++) {
			if (targets[j] == (uint32_t)t) {
				client_seterr(f, "fd target %d is given twice",
				    t);
				return -EINVAL;
			}
		}
		if (o->fds[i] < 0 || fcntl(o->fds[i], F_GETFD) < 0) {
			client_seterr(f, "fd %d (for child fd %d) is not open",
			    o->fds[i], t);
			return -EBADF;
		}
		fds[*nfds] = o->fds[i];
		targets[*nfds] = (uint32_t)t;
		(*nfds)++;
	}
	return 0;
}

/* A spawn request encoded, with what it points into. */
struct client_spawn_req {
	Forkd__Request		 sr_req;
	Forkd__SpawnRequest	 sr_sp;
	struct client_setup	*sr_cs;
	int			 sr_fds[FORKD_FDS_MAX];
	uint32_t		 sr_targets[FORKD_FDS_MAX];
	size_t			 sr_nfds;
};

/* Check o and encode it into sr (free sr_cs afterwards, even on error). */
static int
client_spawn_prepare(struct forkd *f, const struct forkd_spawn_opts *o,
    struct client_spawn_req *sr)
{
	Forkd__SpawnRequest	*sp = &sr->sr_sp;
	size_t			 n;
	int			 r;

	forkd__request__init(&sr->sr_req);
	forkd__spawn_request__init(sp);
	sr->sr_cs = NULL;
	sr->sr_nfds = 0;
	if (o == NULL || o->target == NULL || o->target[0] == '\0') {
		client_seterr(f, "no target given");
		return -EINVAL;
	}
	if (strlen(o->target) > FORKD_TARGET_MAX) {
		client_seterr(f, "target is longer than %d bytes",
		    FORKD_TARGET_MAX);
		return -ENAMETOOLONG;
	}
	if (o->name != NULL && strlen(o->name) > FORKD_NAME_MAX) {
		client_seterr(f, "name \"%.32s...\" is longer than %d bytes",
		    o->name, FORKD_NAME_MAX);
		return -ENAMETOOLONG;
	}
	if (o->cwd != NULL && strlen(o->cwd) > LIMIT_STRING_MAX) {
		client_seterr(f, "cwd is longer than %d bytes",
		    LIMIT_STRING_MAX);
		return -ENAMETOOLONG;
	}
	if ((r = client_count_strv(f, o->argv, LIMIT_ARGV_MAX, "argv", 0,
	    &n)) < 0)
		return r;
	sp->n_argv = n;
	sp->argv = (char **)o->argv;
	if ((r = client_count_strv(f, o->env, LIMIT_ENV_MAX, "env", 1,
	    &n)) < 0)
		return r;
	sp->n_env = n;
	sp->env = (char **)o->env;
	sp->target = (char *)o->target;
	sp->env_replace = o->env_replace != 0;
	if (o->cwd != NULL)
		sp->cwd = (char *)o->cwd;
	if (o->name != NULL)
		sp->name = (char *)o->name;
	sp->daemon = o->daemon != 0;
	{
		const int	stdfds[3] = { o->stdin_fd, o->stdout_fd,
		    o->stderr_fd };

		for (int i = 0; i < 3; i++) {
			if (stdfds[i] < 0)
				continue;
			sr->sr_fds[sr->sr_nfds] = stdfds[i];
			sr->sr_targets[sr->sr_nfds] = (uint32_t)i;
			sr->sr_nfds++;
		}
	}
	if ((r = client_add_fds(f, o, sr->sr_fds, sr->sr_targets,
	    &sr->sr_nfds)) < 0)
		return r;
	sp->n_fd_targets = sr->sr_nfds;
	sp->fd_targets = sr->sr_targets;
	/* About 5 KiB: on the heap, not on a caller's small stack. */
	sr->sr_cs = calloc(1, sizeof *sr->sr_cs);
	if (sr->sr_cs == NULL) {
		client_seterr(f, "out of memory");
		return -ENOMEM;
	}
	if ((r = client_encode_setup(f, o, sr->sr_cs, sp)) < 0)
		return r;
	sr->sr_req.body_case = FORKD__REQUEST__BODY_SPAWN;
	sr->sr_req.spawn = sp;
	return 0;
}

/* Check a spawn reply and the fd that came with it (cf's, taken on
 * success) and fill *ret. A bad reply kills the handle. */
static int
client_spawn_reply(struct forkd *f, const Forkd__SpawnReply *rep,
    int want_pidfd, struct client_fds *cf, struct forkd_spawned *ret)
{
	int	lost;

	if (rep == NULL || rep->pid <= 0 || rep->name == NULL ||
	    strlen(rep->name) > FORKD_NAME_MAX || (rep->cgroup != NULL &&
	    strlen(rep->cgroup) > FORKD_TARGET_MAX)) {
		client_seterr(f, "malformed spawn reply from forkd");
		return client_kill(f, -EBADMSG);
	}
	/* Exactly one fd, and only when we asked and the reply says so; or
	 * none, when this process could not take it (EMFILE: its open files
	 * limit): the child runs all the same, and the spawn succeeded, its
	 * pidfd -1. Failing it would leave a child nobody knows of. */
	lost = rep->pidfd && want_pidfd && cf->cf_fd < 0 &&
	    cf->cf_extra == 0 && cf->cf_lost;
	if (!lost && (rep->pidfd ? (!want_pidfd || cf->cf_fd < 0 ||
	    cf->cf_extra > 0) : (cf->cf_fd >= 0 || cf->cf_extra > 0 ||
	    cf->cf_lost))) {
		client_seterr(f, "spawn reply from forkd %s", rep->pidfd ?
		    (want_pidfd ? "announces a pidfd but does not carry "
		    "exactly one fd" : "carries a pidfd nobody asked for") :
		    "carries fds it does not announce");
		return client_kill(f, -EBADMSG);
	}
	if (cf->cf_fd >= 0 && !client_is_pidfd(cf->cf_fd, rep->pid)) {
		client_seterr(f, "the fd in forkd's spawn reply is not the "
		    "pidfd of child %ld", (long)rep->pid);
		return client_kill(f, -EBADMSG);
	}
	memset(ret, 0, sizeof *ret);
	ret->pid = rep->pid;
	client_strcpy(ret->name, sizeof ret->name, rep->name);
	ret->pidfd = cf->cf_fd;
	cf->cf_fd = -1;
	client_strcpy(ret->cgroup, sizeof ret->cgroup, rep->cgroup);
	return 0;
}

/* Start a child and return all of the reply. */
FORKD_API int
forkd_spawn_ex(struct forkd *f, const struct forkd_spawn_opts *o,
    struct forkd_spawned *ret)
{
	struct client_spawn_req	 sr;
	struct forkd_spawned	 sp;
	Forkd__ServerMessage	*m = NULL;
	struct client_fds	 cf = { -1, 0, 0 };
	int			 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if ((r = client_spawn_prepare(f, o, &sr)) < 0)
		goto out;
	r = client_call_fds(f, &sr.sr_req, sr.sr_fds, sr.sr_nfds,
	    CLIENT_REQUEST_MS, FORKD__RESPONSE__BODY_SPAWN, &m, &cf);
	if (r < 0)
		goto out;
	r = client_spawn_reply(f, m->response->spawn, o->want_pidfd, &cf,
	    &sp);
	if (r < 0)
		goto out;
	if (ret != NULL)
		*ret = sp;
	else if (sp.pidfd >= 0)
		close(sp.pidfd);
out:
	client_fds_close(&cf);
	if (m != NULL)
		forkd__server_message__free_unpacked(m, NULL);
	free(sr.sr_cs);
	return r;
}

/* Index of the pending request id, or -1. */
static ssize_t
client_pending_find(const struct forkd *f, uint32_t id)
{
	for (size_t i = 0; i < f->f_npend; i++) {
		if (f->f_pend[i].p_id == id)
			return (ssize_t)i;
	}
	return -1;
}

/* Room for one more request in flight: 0, -EBUSY or -ENOMEM. */
static int
client_pending_reserve(struct forkd *f)
{
	struct client_pending	*np;
	size_t			 ncap;

	if (f->f_npend + f->f_rq_len >= CLIENT_PENDING_MAX) {
		client_seterr(f, "%d requests in flight or uncollected; "
		    "collect replies with forkd_next_reply() first",
		    CLIENT_PENDING_MAX);
		return -EBUSY;
	}
	if (f->f_npend < f->f_pend_cap)
		return 0;
	ncap = f->f_pend_cap == 0 ? 16 : f->f_pend_cap * 2;
	np = reallocarray(f->f_pend, ncap, sizeof *np);
	if (np == NULL) {
		client_seterr(f, "out of memory");
		return -ENOMEM;
	}
	f->f_pend = np;
	f->f_pend_cap = ncap;
	return 0;
}

/* Record a sent request as in flight (room was reserved). */
static void
client_pending_add(struct forkd *f, uint32_t id, int kind, int want_pidfd)
{
	f->f_pend[f->f_npend].p_id = id;
	f->f_pend[f->f_npend].p_kind = kind;
	f->f_pend[f->f_npend].p_want_pidfd = want_pidfd;
	f->f_npend++;
}

/* The reply to pending request pi arrived: check it, queue it for
 * forkd_next_reply(), forget the request. A malformed reply kills the
 * handle. */
static int
client_async_reply(struct forkd *f, const Forkd__Response *rs, size_t pi,
    struct client_fds *cf)
{
	struct client_pending	 p = f->f_pend[pi];
	struct client_reply	*cr;
	struct forkd_reply	*out;
	int			 code, r = 0;

	f->f_pend[pi] = f->f_pend[--f->f_npend];
	cr = calloc(1, sizeof *cr);
	if (cr == NULL) {
		client_seterr(f, "out of memory queueing a reply");
		return client_kill(f, -ENOMEM);
	}
	out = &cr->r_reply;
	out->id = p.p_id;
	out->kind = p.p_kind;
	out->spawned.pidfd = -1;
	if (rs->error != 0) {
		code = client_errcode(rs->error);
		if (code == 0) {
			free(cr);
			client_seterr(f, "forkd replied with invalid error "
			    "code %d", (int)rs->error);
			return client_kill(f, -EBADMSG);
		}
		out->error = code;
		client_strcpy(out->errmsg, sizeof out->errmsg, rs->message);
		for (char *c = out->errmsg; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		}
	} else {
		switch (p.p_kind) {
		case FORKD_REPLY_SPAWN:
			if (rs->body_case != FORKD__RESPONSE__BODY_SPAWN)
				goto bad;
			r = client_spawn_reply(f, rs->spawn, p.p_want_pidfd,
			    cf, &out->spawned);
			break;
		case FORKD_REPLY_WAIT:
			if (rs->body_case != FORKD__RESPONSE__BODY_WAIT ||
			    rs->wait == NULL || client_exit_from(
			    rs->wait->exit, &out->exit) != 0)
				goto bad;
			break;
		default:
			break;
		}
		if (r < 0) {
			free(cr);
			return r;
		}
	}
	if (f->f_rq_tail != NULL)
		f->f_rq_tail->r_next = cr;
	else
		f->f_rq_head = cr;
	f->f_rq_tail = cr;
	f->f_rq_len++;
	return 0;
bad:
	free(cr);
	client_seterr(f, "malformed reply from forkd to request %u",
	    (unsigned)p.p_id);
	return client_kill(f, -EBADMSG);
}

/* Send req as a request whose reply forkd_next_reply() collects. */
static int
client_start(struct forkd *f, Forkd__Request *req, const int *fds,
    size_t nfds, int kind, int want_pidfd, uint32_t *ret_id)
{
	int	r;

	if ((r = client_pending_reserve(f)) < 0)
		return r;
	if ((r = client_send_request(f, req, fds, nfds)) < 0)
		return r;
	client_pending_add(f, req->id, kind, want_pidfd);
	if (ret_id != NULL)
		*ret_id = req->id;
	return 0;
}

/* Send a spawn request without waiting for its reply. */
FORKD_API int
forkd_spawn_start(struct forkd *f, const struct forkd_spawn_opts *o,
    uint32_t *ret_id)
{
	struct client_spawn_req	sr;
	int			r;

	if ((r = client_begin(f)) < 0)
		return r;
	if ((r = client_spawn_prepare(f, o, &sr)) == 0)
		r = client_start(f, &sr.sr_req, sr.sr_fds, sr.sr_nfds,
		    FORKD_REPLY_SPAWN, o->want_pidfd != 0, ret_id);
	free(sr.sr_cs);
	return r;
}

/* Take the oldest reply to a forkd_*_start() request. */
FORKD_API int
forkd_next_reply(struct forkd *f, struct forkd_reply *ret)
{
	struct client_reply	*cr;

	if (f == NULL || ret == NULL)
		return -EINVAL;
	if ((cr = f->f_rq_head) == NULL)
		return f->f_dead != 0 ? -ECONNRESET : -EAGAIN;
	f->f_rq_head = cr->r_next;
	if (f->f_rq_head == NULL)
		f->f_rq_tail = NULL;
	f->f_rq_len--;
	*ret = cr->r_reply;
	free(cr);
	return 0;
}

/* Requests sent with forkd_*_start() still waiting for their reply. */
FORKD_API size_t
forkd_pending(const struct forkd *f)
{
	return f != NULL ? f->f_npend : 0;
}

/* Start a child: forkd_spawn_ex() without the pidfd. */
FORKD_API int
forkd_spawn(struct forkd *f, const struct forkd_spawn_opts *o,
    pid_t *ret_pid, char *ret_name, size_t namelen)
{
	struct forkd_spawned	sp;
	int			r;

	r = forkd_spawn_ex(f, o, &sp);
	if (r < 0)
		return r;
	if (sp.pidfd >= 0)
		close(sp.pidfd);
	if (ret_pid != NULL)
		*ret_pid = sp.pid;
	if (ret_name != NULL)
		client_strcpy(ret_name, namelen, sp.name);
	return 0;
}

/* Check a child reference (pid, or name when pid is 0) and fill ref. */
static int
client_childref(struct forkd *f, pid_t pid, const char *name,
    Forkd__ChildRef *ref)
{
	forkd__child_ref__init(ref);
	if (pid < 0 || (pid > 0 && name != NULL) ||
	    (pid == 0 && (name == NULL || name[0] == '\0'))) {
		client_seterr(f, "give a child's pid or its name");
		return -EINVAL;
	}
	if (name != NULL && strlen(name) > FORKD_NAME_MAX) {
		client_seterr(f, "name is longer than %d bytes",
		    FORKD_NAME_MAX);
		return -EINVAL;
	}
	ref->pid = pid;
	if (name != NULL)
		ref->name = (char *)name;
	return 0;
}

/* Check a signal request's arguments and fill req, sr and ref. */
static int
client_signal_prepare(struct forkd *f, pid_t pid, const char *name, int sig,
    Forkd__Request *req, Forkd__SignalRequest *sr, Forkd__ChildRef *ref)
{
	int	r;

	if ((r = client_begin(f)) < 0)
		return r;
	if ((r = client_childref(f, pid, name, ref)) < 0)
		return r;
	if (sig < 0 || sig >= NSIG) {
		client_seterr(f, "invalid signal number %d", sig);
		return -EINVAL;
	}
	sr->child = ref;
	sr->signal = sig;
	req->body_case = FORKD__REQUEST__BODY_SIGNAL;
	req->signal = sr;
	return 0;
}

/* Send a signal to a child. */
FORKD_API int
forkd_signal(struct forkd *f, pid_t pid, const char *name, int sig)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__SignalRequest	 sr = FORKD__SIGNAL_REQUEST__INIT;
	Forkd__ChildRef		 ref;
	Forkd__ServerMessage	*m = NULL;
	int			 r;

	if ((r = client_signal_prepare(f, pid, name, sig, &req, &sr,
	    &ref)) < 0)
		return r;
	r = client_call(f, &req, NULL, 0, CLIENT_REQUEST_MS,
	    FORKD__RESPONSE__BODY__NOT_SET, &m);
	if (r < 0)
		return r;
	forkd__server_message__free_unpacked(m, NULL);
	return 0;
}

/* Send a signal request without waiting for its reply. */
FORKD_API int
forkd_signal_start(struct forkd *f, pid_t pid, const char *name, int sig,
    uint32_t *ret_id)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__SignalRequest	 sr = FORKD__SIGNAL_REQUEST__INIT;
	Forkd__ChildRef		 ref;
	int			 r;

	if ((r = client_signal_prepare(f, pid, name, sig, &req, &sr,
	    &ref)) < 0)
		return r;
	return client_start(f, &req, NULL, 0, FORKD_REPLY_SIGNAL, 0, ret_id);
}

/* SIGTERM a child by pid. */
FORKD_API int
forkd_terminate(struct forkd *f, pid_t pid)
{
	return forkd_signal(f, pid, NULL, SIGTERM);
}

/* SIGKILL a child by pid. */
FORKD_API int
forkd_kill(struct forkd *f, pid_t pid)
{
	return forkd_signal(f, pid, NULL, SIGKILL);
}

/* Send a wait request for refs and convert the reply. */
static int
client_wait(struct forkd *f, Forkd__ChildRef **refs, size_t n,
    int timeout_ms, struct forkd_exit *ret)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__WaitRequest	 wr = FORKD__WAIT_REQUEST__INIT;
	Forkd__ServerMessage	*m = NULL;
	struct forkd_exit	 ex;
	int64_t			 client_ms;
	int			 r;

	if (timeout_ms < 0)
		timeout_ms = FORKD_INFINITE;
	wr.n_children = n;
	wr.children = refs;
	wr.timeout_ms = timeout_ms;
	req.body_case = FORKD__REQUEST__BODY_WAIT;
	req.wait = &wr;
	/* The daemon times the wait; give its -ETIMEDOUT time to arrive. */
	client_ms = timeout_ms < 0 ? -1 :
	    (int64_t)timeout_ms + CLIENT_WAIT_MARGIN_MS;
	r = client_call(f, &req, NULL, 0, client_ms,
	    FORKD__RESPONSE__BODY_WAIT, &m);
	if (r < 0)
		return r;
	if (m->response->wait == NULL ||
	    client_exit_from(m->response->wait->exit, &ex) != 0) {
		client_seterr(f, "malformed wait reply from forkd");
		forkd__server_message__free_unpacked(m, NULL);
		return client_kill(f, -EBADMSG);
	}
	forkd__server_message__free_unpacked(m, NULL);
	if (ret != NULL)
		*ret = ex;
	return 0;
}

/* Wait for one child by pid or name. */
FORKD_API int
forkd_wait(struct forkd *f, pid_t pid, const char *name, int timeout_ms,
    struct forkd_exit *ret)
{
	Forkd__ChildRef	 ref, *refs[1];
	int		 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if ((r = client_childref(f, pid, name, &ref)) < 0)
		return r;
	refs[0] = &ref;
	return client_wait(f, refs, 1, timeout_ms, ret);
}

/* Wait for the first of n children to end. */
FORKD_API int
forkd_wait_any(struct forkd *f, const pid_t *pids, size_t n, int timeout_ms,
    struct forkd_exit *ret)
{
	Forkd__ChildRef	 refv[LIMIT_WAIT_MAX], *refs[LIMIT_WAIT_MAX];
	int		 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if (pids == NULL || n == 0 || n > LIMIT_WAIT_MAX) {
		client_seterr(f, "wait for 1 to %d children", LIMIT_WAIT_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (pids[i] <= 0) {
			client_seterr(f, "invalid pid %ld", (long)pids[i]);
			return -EINVAL;
		}
		forkd__child_ref__init(&refv[i]);
		refv[i].pid = pids[i];
		refs[i] = &refv[i];
	}
	return client_wait(f, refs, n, timeout_ms, ret);
}

/* Check n child references (each a pid, or a name from names, which may
 * be NULL, when its pid is 0) and fill refv and refs. */
static int
client_wait_refs_fill(struct forkd *f, const pid_t *pids,
    const char *const *names, size_t n, Forkd__ChildRef *refv,
    Forkd__ChildRef **refs)
{
	int	r;

	if (pids == NULL || n == 0 || n > LIMIT_WAIT_MAX) {
		client_seterr(f, "wait for 1 to %d children", LIMIT_WAIT_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = client_childref(f, pids[i], pids[i] == 0 &&
		    names != NULL ? names[i] : NULL, &refv[i])) < 0)
			return r;
		refs[i] = &refv[i];
	}
	return 0;
}

/* Wait for the first of n children, each by pid, or by name when its pid
 * is 0: the daemon resolves names with its own rules. */
FORKD_API int
forkd_wait_refs(struct forkd *f, const pid_t *pids, const char *const *names,
    size_t n, int timeout_ms, struct forkd_exit *ret)
{
	Forkd__ChildRef	 refv[LIMIT_WAIT_MAX], *refs[LIMIT_WAIT_MAX];
	int		 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if (names == NULL) {
		client_seterr(f, "wait for 1 to %d children", LIMIT_WAIT_MAX);
		return -EINVAL;
	}
	if ((r = client_wait_refs_fill(f, pids, names, n, refv, refs)) < 0)
		return r;
	return client_wait(f, refs, n, timeout_ms, ret);
}

/* Send a wait request (as forkd_wait_refs(); names may be NULL) without
 * waiting for its reply. */
FORKD_API int
forkd_wait_start(struct forkd *f, const pid_t *pids, const char *const *names,
    size_t n, int timeout_ms, uint32_t *ret_id)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__WaitRequest	 wr = FORKD__WAIT_REQUEST__INIT;
	Forkd__ChildRef		 refv[LIMIT_WAIT_MAX], *refs[LIMIT_WAIT_MAX];
	int			 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if ((r = client_wait_refs_fill(f, pids, names, n, refv, refs)) < 0)
		return r;
	wr.n_children = n;
	wr.children = refs;
	wr.timeout_ms = timeout_ms < 0 ? FORKD_INFINITE : timeout_ms;
	req.body_case = FORKD__REQUEST__BODY_WAIT;
	req.wait = &wr;
	return client_start(f, &req, NULL, 0, FORKD_REPLY_WAIT, 0, ret_id);
}

/* List live children. */
FORKD_API int
forkd_list(struct forkd *f, struct forkd_child **ret, size_t *ret_n)
{
	return forkd_list_ex(f, 0, ret, ret_n);
}

/* List live children, and with FORKD_LIST_ENDED the exit history. */
FORKD_API int
forkd_list_ex(struct forkd *f, unsigned int flags, struct forkd_child **ret,
    size_t *ret_n)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__ListRequest	 lr = FORKD__LIST_REQUEST__INIT;
	Forkd__ServerMessage	*m = NULL;
	Forkd__ListReply	*rep;
	struct forkd_child	*v;
	size_t			 n;
	int			 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if (ret == NULL || ret_n == NULL || (flags & ~FORKD_LIST_ENDED) != 0)
		return -EINVAL;
	lr.all = (flags & FORKD_LIST_ENDED) != 0;
	req.body_case = FORKD__REQUEST__BODY_LIST;
	req.list = &lr;
	r = client_call(f, &req, NULL, 0, CLIENT_REQUEST_MS,
	    FORKD__RESPONSE__BODY_LIST, &m);
	if (r < 0)
		return r;
	rep = m->response->list;
	n = rep != NULL ? rep->n_children : 0;
	if (n > CLIENT_LIST_MAX) {
		client_seterr(f, "forkd listed %zu children, more than %d", n,
		    CLIENT_LIST_MAX);
		r = client_kill(f, -EBADMSG);
		goto out;
	}
	v = calloc(n > 0 ? n : 1, sizeof *v);
	if (v == NULL) {
		client_seterr(f, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const Forkd__ChildInfo *ci = rep->children[i];

		if (ci == NULL || ci->pid <= 0 || ci->name == NULL ||
		    ci->target == NULL || strlen(ci->name) > FORKD_NAME_MAX ||
		    strlen(ci->target) > FORKD_TARGET_MAX) {
			free(v);
			client_seterr(f, "malformed child list from forkd");
			r = client_kill(f, -EBADMSG);
			goto out;
		}
		v[i].pid = ci->pid;
		client_strcpy(v[i].name, sizeof v[i].name, ci->name);
		client_strcpy(v[i].target, sizeof v[i].target, ci->target);
		v[i].daemon = ci->daemon != 0;
		v[i].owner_uid = ci->owner_uid;
		v[i].started_unix_ms = ci->started_unix_ms;
		v[i].owned = ci->owned_by_me != 0;
		v[i].run_uid = ci->run_uid;
		v[i].ended = ci->ended != 0;
		v[i].exitcode = ci->exitcode;
		v[i].ended_unix_ms = ci->ended_unix_ms;
		v[i].timed_out = ci->timed_out != 0;
		v[i].oom_killed = ci->oom_killed != 0;
	}
	*ret = v;
	*ret_n = n;
	r = 0;
out:
	forkd__server_message__free_unpacked(m, NULL);
	return r;
}

/* Free a status from forkd_status(). */
FORKD_API void
forkd_status_free(struct forkd_status *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_modules && st->modules != NULL; i++) {
		struct forkd_module_desc *md = &st->modules[i];

		free(md->name);
		free(md->path);
		free(md->description);
		for (size_t j = 0; j < md->n_entries && md->entries != NULL;
		    j++)
			free(md->entries[j]);
		free(md->entries);
		for (size_t j = 0; j < md->n_entries && md->entry_help != NULL;
		    j++)
			free(md->entry_help[j]);
		free(md->entry_help);
	}
	free(st->modules);
	free(st);
}

/* Copy one ModuleInfo; 0 or -ENOMEM (md is then freeable). */
static int
client_module_from(const Forkd__ModuleInfo *mi, struct forkd_module_desc *md)
{
	md->name = strdup(mi->name != NULL ? mi->name : "");
	md->path = strdup(mi->path != NULL ? mi->path : "");
	md->description = strdup(mi->description != NULL ?
	    mi->description : "");
	if (md->name == NULL || md->path == NULL || md->description == NULL)
		return -ENOMEM;
	if (mi->n_entries == 0)
		return 0;
	md->entries = calloc(mi->n_entries, sizeof *md->entries);
	md->entry_help = calloc(mi->n_entries, sizeof *md->entry_help);
	if (md->entries == NULL || md->entry_help == NULL)
		return -ENOMEM;
	for (size_t j = 0; j < mi->n_entries; j++) {
		md->entries[j] = strdup(mi->entries[j] != NULL ?
		    mi->entries[j] : "");
		/* entry_help is parallel to entries (none from an old forkd). */
		md->entry_help[j] = strdup(j < mi->n_entry_help &&
		    mi->entry_help[j] != NULL ? mi->entry_help[j] : "");
		md->n_entries = j + 1;
		if (md->entries[j] == NULL || md->entry_help[j] == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* Daemon status. */
FORKD_API int
forkd_status(struct forkd *f, struct forkd_status **ret)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__StatusRequest	 sr = FORKD__STATUS_REQUEST__INIT;
	Forkd__ServerMessage	*m = NULL;
	Forkd__StatusReply	*rep;
	struct forkd_status	*st = NULL;
	int			 r;

	if ((r = client_begin(f)) < 0)
		return r;
	if (ret == NULL)
		return -EINVAL;
	req.body_case = FORKD__REQUEST__BODY_STATUS;
	req.status = &sr;
	r = client_call(f, &req, NULL, 0, CLIENT_REQUEST_MS,
	    FORKD__RESPONSE__BODY_STATUS, &m);
	if (r < 0)
		return r;
	rep = m->response->status;
	if (rep == NULL || rep->pid <= 0) {
		client_seterr(f, "malformed status reply from forkd");
		r = client_kill(f, -EBADMSG);
		goto out;
	}
	for (size_t i = 0; i < rep->n_modules; i++) {
		if (rep->modules[i] == NULL) {
			client_seterr(f, "malformed status reply from forkd");
			r = client_kill(f, -EBADMSG);
			goto out;
		}
	}
	r = -ENOMEM;
	st = calloc(1, sizeof *st);
	if (st == NULL)
		goto nomem;
	client_strcpy(st->version, sizeof st->version, rep->version);
	st->pid = rep->pid;
	st->uptime_ms = rep->uptime_ms;
	st->children = rep->children;
	st->connections = rep->connections;
	st->spawned_total = rep->spawned_total;
	st->spawn_failures = rep->spawn_failures;
	st->exited_total = rep->exited_total;
	st->auth_failures = rep->auth_failures;
	st->protocol_errors = rep->protocol_errors;
	st->pool_idle = rep->pool_idle;
	st->pool_spawns = rep->pool_spawns;
	if (rep->n_modules > 0) {
		st->modules = calloc(rep->n_modules, sizeof *st->modules);
		if (st->modules == NULL)
			goto nomem;
	}
	for (size_t i = 0; i < rep->n_modules; i++) {
		st->n_modules = i + 1;
		if (client_module_from(rep->modules[i], &st->modules[i]) != 0)
			goto nomem;
	}
	*ret = st;
	st = NULL;
	r = 0;
	goto out;
nomem:
	client_seterr(f, "out of memory");
out:
	forkd_status_free(st);
	forkd__server_message__free_unpacked(m, NULL);
	return r;
}

/* Round trip to the daemon. */
FORKD_API int
forkd_ping(struct forkd *f)
{
	Forkd__Request		 req = FORKD__REQUEST__INIT;
	Forkd__PingRequest	 pr = FORKD__PING_REQUEST__INIT;
	Forkd__ServerMessage	*m = NULL;
	int			 r;

	if ((r = client_begin(f)) < 0)
		return r;
	req.body_case = FORKD__REQUEST__BODY_PING;
	req.ping = &pr;
	r = client_call(f, &req, NULL, 0, CLIENT_REQUEST_MS,
	    FORKD__RESPONSE__BODY_PING, &m);
	if (r < 0)
		return r;
	forkd__server_message__free_unpacked(m, NULL);
	return 0;
}

/* Read frames until deadline (0: only those ready now) or, when stop is
 * set, until an exit event has been queued. Returns events queued. An
 * error after some events were queued (typically forkd exiting right after
 * reporting its children) is left for the next call: the handle is dead
 * by then, and the events are worth more than the news. */
static int
client_pump(struct forkd *f, int64_t deadline, int stop)
{
	Forkd__ServerMessage	*m = NULL, *resp = NULL;
	struct client_fds	 cf = { -1, 0, 0 };
	int			 r, queued = 0;

	for (;;) {
		r = client_recv(f, queued > 0 && stop ? 0 : deadline, 0, &m,
		    &cf);
		if (r == -ETIMEDOUT)
			return queued;
		if (r < 0)
			return queued > 0 ? queued : r;
		r = client_dispatch(f, m, 0, &resp, &cf);
		/* A spawn reply's pidfd was taken; any other fd goes. */
		client_fds_close(&cf);
		if (r < 0)
			return queued > 0 ? queued : r;
		queued += r;
	}
}

/* Read every frame available now and queue exit events. */
FORKD_API int
forkd_process(struct forkd *f)
{
	int	r;

	if ((r = client_begin(f)) < 0)
		return r;
	return client_pump(f, 0, 0);
}

/* Take the oldest queued exit event. */
FORKD_API int
forkd_next_exit(struct forkd *f, struct forkd_exit *ret)
{
	if (f == NULL)
		return -EINVAL;
	if (client_evq_pop(f, ret) == 0)
		return 0;
	return f->f_dead != 0 ? -ECONNRESET : -EAGAIN;
}

/* Block up to timeout_ms for the next exit event. */
FORKD_API int
forkd_wait_exit_event(struct forkd *f, int timeout_ms,
    struct forkd_exit *ret)
{
	int64_t	deadline;
	int	r;

	if (f == NULL)
		return -EINVAL;
	if (client_evq_pop(f, ret) == 0)
		return 0;
	if ((r = client_begin(f)) < 0)
		return r;
	deadline = client_deadline(timeout_ms);
	r = client_pump(f, deadline, 1);
	if (r < 0)
		return r;
	if (client_evq_pop(f, ret) == 0)
		return 0;
	client_seterr(f, "no exit event within %d ms", timeout_ms);
	return -ETIMEDOUT;
}
