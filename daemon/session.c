/* session.c: one client connection: handshake, frames, replies, teardown.
 *
 * States change only through session_set_state(). Before authentication
 * only the handshake handler is reachable; after it, request_dispatch().
 * A session is never freed inside its own callback: session_close() marks
 * it CLOSING and a deferred event frees it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <sodium.h>

#include "admit.h"
#include "clock.h"
#include "forkd.pb-c.h"
#include "forkd_limits.h"
#include "log.h"
#include "request.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "wire.h"

/* Datagrams handled per read event, so one client cannot starve others. */
#define SESSION_FRAMES_PER_EVENT	16

struct session_list	 sessions = TAILQ_HEAD_INITIALIZER(sessions);
static struct session_list session_dead = TAILQ_HEAD_INITIALIZER(session_dead);
static struct event	*session_gc_ev;
static uint64_t		 session_next_id = 1;
static unsigned int	 session_n;
/* One receive buffer for all sessions: the loop is single-threaded. */
static unsigned char	 session_rbuf[WIRE_FRAME_HARD_MAX + 1];
/* How much of session_rbuf may hold a client's bytes since it was last
 * wiped (session_rbuf_wipe()). */
static size_t		 session_rbuf_dirty;

static const char *const session_state_names[SESSION_STATE_MAX] = {
	[SESSION_HELLO_SENT] = "HELLO_SENT",
	[SESSION_AUTHED] = "AUTHED",
	[SESSION_CLOSING] = "CLOSING",
};

static void	session_read_cb(evutil_socket_t, short, void *);
static void	session_write_cb(evutil_socket_t, short, void *);
static void	session_timeout_cb(evutil_socket_t, short, void *);

const char *
session_state_name(enum session_state st)
{
	return st < SESSION_STATE_MAX ? session_state_names[st] : "?";
}

unsigned int
session_count(void)
{
	return session_n;
}

/* Log a line prefixed with the session and its peer. */
void
session_log(const struct session *s, int level, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	if (level > log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_at(level, "session %llu (uid %u pid %d): %s",
	    (unsigned long long)s->s_id, (unsigned)s->s_uid, (int)s->s_pid,
	    buf);
}

/* A notice with the session prefix, within rl's budget (see
 * log_notice_limited()). 1 if it was logged. */
int
session_log_limited(const struct session *s, struct log_ratelimit *rl,
    const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return log_notice_limited(rl, "session %llu (uid %u pid %d): %s",
	    (unsigned long long)s->s_id, (unsigned)s->s_uid, (int)s->s_pid,
	    buf);
}

/* Count s in (add 1) or out (-1) of its uid's connections (admit.c). */
static void
session_uid_count(const struct session *s, int add)
{
	if (s->s_state == SESSION_HELLO_SENT || s->s_state == SESSION_AUTHED)
		admit_count(s->s_uid, s->s_state == SESSION_AUTHED, add);
}

/* Notices a peer can cause at will, without the key (a bad frame, a failed
 * or unfinished handshake): one budget over all sessions, so that a
 * connection flood cannot flood the log. */
static struct log_ratelimit	session_peer_rl;

/* Move to a new state if the move is legal. */
static int
session_set_state(struct session *s, enum session_state to)
{
	enum session_state from = s->s_state;
	int ok;

	switch (to) {
	case SESSION_AUTHED:
		ok = from == SESSION_HELLO_SENT;
		break;
	case SESSION_CLOSING:
		ok = from != SESSION_CLOSING;
		break;
	default:
		ok = 0;
		break;
	}
	if (!ok) {
		session_log(s, LOG_LVL_WARNING, "illegal state change %s -> %s",
		    session_state_name(from), session_state_name(to));
		return -EINVAL;
	}
	session_log(s, LOG_LVL_DEBUG, "%s -> %s", session_state_name(from),
	    session_state_name(to));
	session_uid_count(s, -1);
	s->s_state = to;
	session_uid_count(s, 1);
	return 0;
}

/* Receive one datagram into session_rbuf (wire_recv()), noting how much
 * of it now holds the client's bytes. */
static ssize_t
session_recv(int fd, int *fds, size_t *ret_nfds)
{
	ssize_t	n;

	n = wire_recv(fd, session_rbuf, sizeof session_rbuf, fds,
	    WIRE_MAX_FDS, ret_nfds);
	if (n == -EMSGSIZE)
		session_rbuf_dirty = sizeof session_rbuf;
	else if (n > 0 && (size_t)n > session_rbuf_dirty)
		session_rbuf_dirty = (size_t)n;
	return n;
}

/* Wipe what clients' datagrams left in session_rbuf: no child forkd forks
 * later (a pool refill without a zygote, --pool 0) may inherit another
 * client's request, its environment and argv (issue 13). Only the bytes
 * used, not the whole 256 KiB buffer per datagram. */
static void
session_rbuf_wipe(void)
{
	sodium_memzero(session_rbuf, session_rbuf_dirty);
	session_rbuf_dirty = 0;
}

/* Read and drop whatever the peer still has queued, handing its fds to
 * wire_close_fds() (off the loop): closing a socket releases the fds
 * queued in it right there, in forkd, where a lingering socket among them
 * would block. An empty queue also keeps the kernel from reporting
 * ECONNRESET to the peer ahead of the Error frame forkd sent it. The
 * peer cannot add more after session_close()'s shutdown(SHUT_RD). */
static void
session_drain(struct session *s)
{
	int	fds[WIRE_MAX_FDS];
	size_t	nfds;
	ssize_t	n;

	/* Bounded: the queue holds at most the listen backlog's worth. */
	for (int i = 0; i < 1024; i++) {
		n = session_recv(s->s_fd, fds, &nfds);
		if (n >= 0)
			wire_close_fds(fds, nfds);
		if (n <= 0 && n != -EMSGSIZE)
			break;
	}
	session_rbuf_wipe();
}

/* Free a closed session: from the loop, never from its own callback. */
static void
session_free(struct session *s)
{
	struct session_frame *f;

	while ((f = STAILQ_FIRST(&s->s_outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&s->s_outq, f_entry);
		if (f->f_fd >= 0)
			close(f->f_fd);
		free(f);
	}
	if (s->s_rev != NULL)
		event_free(s->s_rev);
	if (s->s_wev != NULL)
		event_free(s->s_wev);
	if (s->s_timer != NULL)
		event_free(s->s_timer);
	if (s->s_fd >= 0) {
		session_drain(s);
		close(s->s_fd);
	}
	if (s->s_key != NULL) {
		secret_unregister(&s->s_key_secret);
		sodium_free(s->s_key);
	}
	free(s);
}

static void
session_gc_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&session_dead)) != NULL) {
		TAILQ_REMOVE(&session_dead, s, s_entry);
		session_free(s);
	}
	server_check_shutdown();
}

/* Write queued frames until the socket would block. */
static int
session_flush(struct session *s)
{
	struct session_frame	*f;
	int			 r;

	while ((f = STAILQ_FIRST(&s->s_outq)) != NULL) {
		r = wire_send(s->s_fd, f->f_data, f->f_len,
		    f->f_fd >= 0 ? &f->f_fd : NULL, f->f_fd >= 0 ? 1 : 0);
		if (r == -EAGAIN)
			return -EAGAIN;
		if (r != 0)
			return r;
		STAILQ_REMOVE_HEAD(&s->s_outq, f_entry);
		s->s_outq_len--;
		s->s_outq_bytes -= f->f_len;
		if (f->f_fd >= 0) {
			close(f->f_fd);
			s->s_outq_fds--;
		}
		free(f);
	}
	return 0;
}

/* Pack, seal (MAC'd once authenticated) and send or queue a message with
 * fd (or -1), which is consumed: sent and closed, or closed when the frame
 * is dropped. */
static void
session_send_fd(struct session *s, const Forkd__ServerMessage *m, int fd)
{
	struct session_frame	*f;
	static unsigned char	 pbuf[WIRE_FRAME_HARD_MAX];
	size_t			 plen, flen;
	int			 r;

	if (s->s_fd < 0)
		goto drop;
	plen = forkd__server_message__get_packed_size(m);
	if (plen > sizeof pbuf - WIRE_OVERHEAD) {
		session_log(s, LOG_LVL_WARNING, "reply of %zu bytes too large",
		    plen);
		session_close(s, "reply too large");
		goto drop;
	}
	forkd__server_message__pack(m, pbuf);
	/* Frames and bytes: a list reply can be 256 KiB, and a client that
	 * asks for one again and again without reading must not grow forkd
	 * by gigabytes. */
	if (s->s_outq_len >= LIMIT_OUTQ_MAX || s->s_outq_bytes + plen +
	    WIRE_OVERHEAD > LIMIT_OUTQ_BYTES_MAX) {
		session_close(s, "client does not read its replies");
		goto drop;
	}
	/* A queued pidfd is an fd of forkd's own: a client that asks for
	 * pidfds and reads nothing must not run forkd out of them. */
	if (fd >= 0 && s->s_outq_fds >= LIMIT_OUTQ_FDS_MAX) {
		session_close(s, "client does not read its replies (pidfds)");
		goto drop;
	}
	f = malloc(sizeof *f + plen + WIRE_OVERHEAD);
	if (f == NULL) {
		session_close(s, "out of memory");
		goto drop;
	}
	r = wire_seal(s->s_state == SESSION_AUTHED ? &s->s_mac : NULL, pbuf,
	    plen, f->f_data, plen + WIRE_OVERHEAD, &flen);
	if (r != 0) {
		free(f);
		session_close(s, "cannot seal reply");
		goto drop;
	}
	f->f_len = flen;
	f->f_fd = fd;
	STAILQ_INSERT_TAIL(&s->s_outq, f, f_entry);
	s->s_outq_len++;
	s->s_outq_bytes += flen;
	if (fd >= 0)
		s->s_outq_fds++;
	r = session_flush(s);
	if (r == -EAGAIN) {
		if (s->s_state != SESSION_CLOSING)
			event_add(s->s_wev, NULL);
	} else if (r != 0 && s->s_state != SESSION_CLOSING) {
		errno = -r;
		session_close(s, "write failed");
	}
	return;
drop:
	if (fd >= 0)
		close(fd);
}

static void
session_send(struct session *s, const Forkd__ServerMessage *m)
{
	session_send_fd(s, m, -1);
}

/* Socket writable again. */
static void
session_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	int		 r;

	r = session_flush(s);
	if (r == 0)
		event_del(s->s_wev);
	else if (r != -EAGAIN)
		session_close(s, "write failed");
}

/* Send a fatal Error message (MAC'd once authenticated). */
static void
session_send_error(struct session *s, int code, const char *msg)
{
	Forkd__ServerMessage	m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__Error		e = FORKD__ERROR__INIT;

	e.code = code;
	e.message = (char *)msg;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_ERROR;
	m.error = &e;
	session_send(s, &m);
}

/* One teardown for every reason. */
void
session_close(struct session *s, const char *reason)
{
	if (s->s_state == SESSION_CLOSING)
		return;
	s->s_close_reason = reason;
	session_log(s, LOG_LVL_DEBUG, "closing: %s", reason);
	session_set_state(s, SESSION_CLOSING);
	if (s->s_rev != NULL)
		event_del(s->s_rev);
	if (s->s_wev != NULL)
		event_del(s->s_wev);
	if (s->s_timer != NULL)
		event_del(s->s_timer);
	/* Best effort: push out what is queued (e.g. the error reply). */
	(void)session_flush(s);
	/* The peer may send nothing more (its sends fail with EPIPE): what
	 * is queued now is all session_drain() has to take. */
	if (s->s_fd >= 0)
		(void)shutdown(s->s_fd, SHUT_RD);
	spawn_session_gone(s);
	s->s_children = 0;
	TAILQ_REMOVE(&sessions, s, s_entry);
	session_n--;
	TAILQ_INSERT_TAIL(&session_dead, s, s_entry);
	event_active(session_gc_ev, EV_TIMEOUT, 0);
	server_status_changed();
}

/* A protocol violation: count it, tell the peer when sensible, close. */
static void
session_protocol_error(struct session *s, int code, const char *what)
{
	server_stats_count(SERVER_STAT_PROTOCOL_ERROR);
	session_log_limited(s, &session_peer_rl, "protocol error: %s", what);
	session_send_error(s, code, what);
	session_close(s, what);
}

/* Close the oldest session of uid still in its handshake, for a new
 * connection (admit_connection()); -ENOENT if it has none. */
static int
session_evict(uid_t uid, const char *why)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, s_entry)
		if (s->s_state == SESSION_HELLO_SENT && s->s_uid == uid)
			break;
	if (s == NULL)
		return -ENOENT;
	server_stats_count(SERVER_STAT_AUTH_FAILURE);
	session_log_limited(s, &session_peer_rl, "handshake not finished when "
	    "%s: closed for a new connection", why);
	session_send_error(s, -EUSERS, "too many connections: closed for a "
	    "newer one before the handshake finished");
	session_close(s, "evicted in its handshake");
	return 0;
}

/* A connection from uid was accepted: make room for it (admit.c). */
int
session_admit(uid_t uid)
{
	return admit_connection(uid, &server_config_get()->limits,
	    session_evict);
}

/* Accept a new connection: credentials (peer, or read here when NULL),
 * Hello, handshake deadline. */
int
session_create(int fd, const struct ucred *peer)
{
	Forkd__ServerMessage	 m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__Hello		 h = FORKD__HELLO__INIT;
	struct session		*s;
	struct ucred		 uc;
	socklen_t		 ucl = sizeof uc, sbl = sizeof(int);
	struct timeval		 tv;
	int			 sndbuf;

	if (session_gc_ev == NULL) {
		session_gc_ev = event_new(server_evbase(), -1, 0, session_gc_cb,
		    NULL);
		if (session_gc_ev == NULL)
			return -ENOMEM;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return -ENOMEM;
	s->s_fd = fd;
	s->s_id = session_next_id++;
	s->s_state = SESSION_HELLO_SENT;
	STAILQ_INIT(&s->s_outq);
	/* The largest datagram this socket sends: the kernel refuses one
	 * over its send buffer less 32 bytes (EMSGSIZE), and the default
	 * buffer (208 KiB) is below the largest frame. */
	s->s_max_send = WIRE_FRAME_HARD_MAX;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sbl) == 0 &&
	    sndbuf > 32 && (size_t)sndbuf - 32 < s->s_max_send)
		s->s_max_send = (size_t)sndbuf - 32;
	if (peer == NULL &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ucl) == 0)
		peer = &uc;
	if (peer != NULL) {
		s->s_uid = peer->uid;
		s->s_gid = peer->gid;
		s->s_pid = peer->pid;
	} else {
		/* Unknown peer: treat as nobody, never as root. */
		s->s_uid = (uid_t)-2;
		s->s_gid = (gid_t)-2;
		s->s_pid = 0;
	}
	s->s_rev = event_new(server_evbase(), fd, EV_READ | EV_PERSIST,
	    session_read_cb, s);
	s->s_wev = event_new(server_evbase(), fd, EV_WRITE | EV_PERSIST,
	    session_write_cb, s);
	s->s_timer = evtimer_new(server_evbase(), session_timeout_cb, s);
	if (s->s_rev == NULL || s->s_wev == NULL || s->s_timer == NULL) {
		s->s_fd = -1;	/* the caller closes fd */
		session_free(s);
		return -ENOMEM;
	}
	TAILQ_INSERT_TAIL(&sessions, s, s_entry);
	session_n++;
	session_uid_count(s, 1);
	session_log(s, LOG_LVL_DEBUG, "connected (gid %u)", (unsigned)s->s_gid);

	auth_nonce(s->s_sn);
	h.version = WIRE_VERSION;
	h.server_nonce.data = s->s_sn;
	h.server_nonce.len = sizeof s->s_sn;
	h.max_frame = server_config_get()->limits.max_frame;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_HELLO;
	m.hello = &h;
	tv = clock_tv(server_config_get()->limits.handshake_timeout_ms);
	evtimer_add(s->s_timer, &tv);
	event_add(s->s_rev, NULL);
	session_send(s, &m);
	server_status_changed();
	return 0;
}

/* Let the idle timer of an authenticated session fire in ms; off when
 * idle_timeout_ms is 0. */
static void
session_idle_arm(struct session *s, uint64_t ms)
{
	struct timeval tv;

	if (s->s_state != SESSION_AUTHED)
		return;
	if (server_config_get()->limits.idle_timeout_ms == 0) {
		event_del(s->s_timer);
		return;
	}
	tv = clock_tv(ms);
	evtimer_add(s->s_timer, &tv);
}

/* Idle timer: close a connection that has asked nothing, been told
 * nothing, owned no live child and waited for nothing for
 * idle_timeout_ms. */
static void
session_idle_check(struct session *s)
{
	uint64_t	limit = server_config_get()->limits.idle_timeout_ms;
	uint64_t	idle;
	char		msg[96];

	if (limit == 0)
		return;
	if (s->s_children > 0 || s->s_waits > 0) {
		session_idle_arm(s, limit);
		return;
	}
	idle = clock_since_ms(s->s_active_ms);
	if (idle < limit) {
		session_idle_arm(s, limit - idle);
		return;
	}
	session_log(s, LOG_LVL_INFO, "idle for %llu ms (idle_timeout_ms "
	    "%llu): closing", (unsigned long long)idle,
	    (unsigned long long)limit);
	snprintf(msg, sizeof msg, "connection idle for %llu ms "
	    "(idle_timeout_ms)", (unsigned long long)limit);
	session_send_error(s, -ETIMEDOUT, msg);
	session_close(s, "idle timeout");
}

/* The limits changed: let every idle timer look again soon. */
void
session_limits_changed(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, s_entry)
		session_idle_arm(s, 0);
}

/* Handshake deadline passed (slowloris), or the idle timer. */
static void
session_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	if (s->s_state == SESSION_AUTHED) {
		session_idle_check(s);
		return;
	}
	if (s->s_state != SESSION_HELLO_SENT)
		return;
	server_stats_count(SERVER_STAT_AUTH_FAILURE);
	session_log_limited(s, &session_peer_rl, "handshake not finished within %u ms",
	    server_config_get()->limits.handshake_timeout_ms);
	session_send_error(s, -ETIMEDOUT, "handshake timed out");
	session_close(s, "handshake timed out");
}

/* The client's Auth: check version and proof, answer, derive the key. */
static void
session_handle_auth(struct session *s, const unsigned char *payload,
    size_t len)
{
	Forkd__ServerMessage	 m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__AuthOk		 ok = FORKD__AUTH_OK__INIT;
	Forkd__ClientMessage	*cm;
	Forkd__Auth		*a;
	unsigned char		 proof[AUTH_PROOF_LEN];
	const unsigned char	*key;
	size_t			 keylen, keymat;

	cm = forkd__client_message__unpack(NULL, len, payload);
	if (cm == NULL || cm->body_case != FORKD__CLIENT_MESSAGE__BODY_AUTH) {
		if (cm != NULL)
			forkd__client_message__free_unpacked(cm, NULL);
		server_stats_count(SERVER_STAT_AUTH_FAILURE);
		session_protocol_error(s, -EBADMSG, "expected an Auth message");
		return;
	}
	a = cm->auth;
	if (a->version != WIRE_VERSION) {
		char msg[96];

		snprintf(msg, sizeof msg, "protocol version %u not supported "
		    "(server speaks %u)", a->version, WIRE_VERSION);
		forkd__client_message__free_unpacked(cm, NULL);
		server_stats_count(SERVER_STAT_AUTH_FAILURE);
		session_protocol_error(s, -EPROTONOSUPPORT, msg);
		return;
	}
	key = server_authkey(&keylen);
	if (a->client_nonce.len != AUTH_NONCE_LEN ||
	    auth_proof_verify(key, keylen, AUTH_ROLE_CLIENT,
	    s->s_sn, a->client_nonce.data, a->proof.data, a->proof.len) != 0) {
		forkd__client_message__free_unpacked(cm, NULL);
		server_stats_count(SERVER_STAT_AUTH_FAILURE);
		session_log_limited(s, &session_peer_rl, "authentication failed");
		session_send_error(s, -EKEYREJECTED, "authentication failed");
		session_close(s, "authentication failed");
		return;
	}
	/* One key holder cannot take every slot. */
	if (admit_authed(s->s_uid) >=
	    server_config_get()->limits.max_connections_per_uid) {
		char msg[128];

		forkd__client_message__free_unpacked(cm, NULL);
		server_stats_count(SERVER_STAT_REFUSED);
		session_log_limited(s, &session_peer_rl, "refused: uid %u has "
		    "%u authenticated connections (max_connections_per_uid)",
		    (unsigned)s->s_uid, admit_authed(s->s_uid));
		snprintf(msg, sizeof msg, "too many connections for uid %u "
		    "(max_connections_per_uid %u)", (unsigned)s->s_uid,
		    server_config_get()->limits.max_connections_per_uid);
		session_send_error(s, -EUSERS, msg);
		session_close(s, "max_connections_per_uid");
		return;
	}
	/* The key and its keyed HMAC state (as secret as the key): one
	 * secure region, wiped in every child. */
	keymat = WIRE_KEY_LEN + wire_mac_keyed_size();
	s->s_key = sodium_malloc(keymat);
	if (s->s_key == NULL) {
		forkd__client_message__free_unpacked(cm, NULL);
		session_send_error(s, -ENOMEM, "out of memory");
		session_close(s, "out of secure memory");
		return;
	}
	secret_register(&s->s_key_secret, s->s_key, keymat, 0);
	auth_session_key(key, keylen, s->s_sn,
	    a->client_nonce.data, s->s_key);
	auth_proof(key, keylen, AUTH_ROLE_SERVER, s->s_sn,
	    a->client_nonce.data, proof);
	forkd__client_message__free_unpacked(cm, NULL);

	ok.proof.data = proof;
	ok.proof.len = sizeof proof;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_AUTH_OK;
	m.auth_ok = &ok;
	session_send(s, &m);	/* still unauthenticated: no MAC */
	if (s->s_state == SESSION_CLOSING)
		return;
	event_del(s->s_timer);
	wire_mac_init_keyed(&s->s_mac, s->s_key, s->s_key + WIRE_KEY_LEN, 1);
	session_set_state(s, SESSION_AUTHED);
	session_log(s, LOG_LVL_INFO, "authenticated");
	s->s_active_ms = clock_mono_ms();
	session_idle_arm(s, server_config_get()->limits.idle_timeout_ms);
}

/* One authenticated frame: check MAC and sequence, decode, dispatch. */
static void
session_handle_frame(struct session *s, size_t len, int *fds, size_t nfds)
{
	const unsigned char	*payload;
	Forkd__ClientMessage	*cm;
	size_t			 plen;
	int			 r, nul;

	r = wire_open(&s->s_mac, session_rbuf, len,
	    server_config_get()->limits.max_frame, &payload, &plen);
	if (r != 0) {
		wire_close_fds(fds, nfds);
		/* Nothing the frame asked for is done. */
		session_protocol_error(s, r == -EMSGSIZE ? -EMSGSIZE : -EPROTO,
		    wire_strerror(r));
		return;
	}
	cm = forkd__client_message__unpack(NULL, plen, payload);
	/* A string cut at a NUL byte would run something else than asked
	 * (protobuf-c cuts it; only the encoded bytes tell). */
	nul = cm != NULL && wire_has_nul_string(
	    &forkd__client_message__descriptor, payload, plen);
	/* Decoded (copied out): wiped before anything can fork. */
	session_rbuf_wipe();
	if (cm == NULL || cm->body_case != FORKD__CLIENT_MESSAGE__BODY_REQUEST) {
		if (cm != NULL)
			forkd__client_message__free_unpacked(cm, NULL);
		wire_close_fds(fds, nfds);
		session_protocol_error(s, -EBADMSG, "undecodable request");
		return;
	}
	s->s_requests++;
	s->s_active_ms = clock_mono_ms();
	if (nul)
		request_refuse(s, cm->request->id, fds, nfds, -EINVAL,
		    "a string field holds a NUL byte");
	else
		request_dispatch(s, cm->request, fds, nfds);
	forkd__client_message__free_unpacked(cm, NULL);
}

/* Handle a bounded number of datagrams from s's socket fd. */
static void
session_read_frames(struct session *s, int fd)
{
	int		 fds[WIRE_MAX_FDS];
	size_t		 nfds;
	ssize_t		 n;

	for (int i = 0; i < SESSION_FRAMES_PER_EVENT; i++) {
		if (s->s_state == SESSION_CLOSING)
			return;
		n = session_recv(fd, fds, &nfds);
		if (n == -EAGAIN)
			return;
		if (n == -EMSGSIZE) {
			session_protocol_error(s, -EMSGSIZE, "frame too large "
			    "or too many fds");
			return;
		}
		if (n < 0) {
			errno = (int)-n;
			session_close(s, "read failed");
			return;
		}
		if (n == 0) {
			/* An empty datagram may still carry fds. */
			wire_close_fds(fds, nfds);
			session_close(s, "peer closed the connection");
			return;
		}
		if (s->s_state == SESSION_HELLO_SENT) {
			const unsigned char	*payload;
			size_t			 plen;
			int			 r;

			if (nfds > 0) {
				wire_close_fds(fds, nfds);
				server_stats_count(SERVER_STAT_AUTH_FAILURE);
				session_protocol_error(s, -EBADMSG,
				    "fds passed before authentication");
				return;
			}
			r = wire_open(NULL, session_rbuf, (size_t)n,
			    server_config_get()->limits.max_frame, &payload,
			    &plen);
			if (r != 0) {
				server_stats_count(SERVER_STAT_AUTH_FAILURE);
				session_protocol_error(s, r, wire_strerror(r));
				return;
			}
			session_handle_auth(s, payload, plen);
		} else
			session_handle_frame(s, (size_t)n, fds, nfds);
	}
}

/* Socket readable: handle its datagrams, then wipe what they left. */
static void
session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	session_read_frames(arg, fd);
	session_rbuf_wipe();
}

/* Send a Response with fd (or -1), which is consumed either way; nothing
 * unless s is authenticated. */
void
session_reply_fd(struct session *s, Forkd__Response *resp, int fd)
{
	Forkd__ServerMessage m = FORKD__SERVER_MESSAGE__INIT;

	if (s == NULL || s->s_state != SESSION_AUTHED) {
		if (fd >= 0)
			close(fd);
		return;
	}
	s->s_active_ms = clock_mono_ms();
	m.body_case = FORKD__SERVER_MESSAGE__BODY_RESPONSE;
	m.response = resp;
	session_send_fd(s, &m, fd);
}

/* Send a Response (no-op unless authenticated). */
void
session_reply(struct session *s, Forkd__Response *resp)
{
	session_reply_fd(s, resp, -1);
}

/* Push an ExitEvent (no-op unless authenticated). */
void
session_push_exit(struct session *s, Forkd__ExitEvent *ev)
{
	Forkd__ServerMessage	m = FORKD__SERVER_MESSAGE__INIT;

	if (s->s_state != SESSION_AUTHED)
		return;
	s->s_active_ms = clock_mono_ms();
	m.body_case = FORKD__SERVER_MESSAGE__BODY_EXIT;
	m.exit = ev;
	session_send(s, &m);
}

/* Try once to flush every session (shutdown). */
void
session_flush_all(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, s_entry)
		(void)session_flush(s);
}

/* Count one in (delta > 0) or out (delta < 0) of *n, never below 0. */
static void
session_counter(unsigned int *n, int delta)
{
	if (delta > 0)
		(*n)++;
	else if (*n > 0)
		(*n)--;
}

/* Count a live child of s in or out. */
void
session_count_child(struct session *s, int delta)
{
	session_counter(&s->s_children, delta);
}

/* Count a pending wait of s in or out. */
void
session_count_wait(struct session *s, int delta)
{
	session_counter(&s->s_waits, delta);
}

/* Pending waits of s. */
unsigned int
session_waits(const struct session *s)
{
	return s->s_waits;
}

/* Free everything now (exit path). */
void
session_free_all(void)
{
	struct session *s;

	while ((s = TAILQ_FIRST(&sessions)) != NULL)
		session_close(s, "forkd is stopping");
	while ((s = TAILQ_FIRST(&session_dead)) != NULL) {
		TAILQ_REMOVE(&session_dead, s, s_entry);
		session_free(s);
	}
	if (session_gc_ev != NULL)
		event_free(session_gc_ev);
	session_gc_ev = NULL;
	admit_free_all();
}
