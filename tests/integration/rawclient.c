/* rawclient.c: see rawclient.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <sodium.h>

#include "auth.h"
#include "rawclient.h"

static unsigned char	raw_buf[WIRE_FRAME_HARD_MAX + 1];

static int64_t
raw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Receive one frame (MAC'd when mac != NULL) within the deadline. */
static int
raw_recv(struct rawclient *rc, struct wire_mac *mac, int64_t deadline,
    Forkd__ServerMessage **ret, int *ret_fd)
{
	const unsigned char	*payload;
	struct pollfd		 pfd = { rc->rc_fd, POLLIN, 0 };
	int			 fds[WIRE_MAX_FDS];
	size_t			 nfds = 0, plen;
	ssize_t			 n;
	int			 r, left;

	*ret_fd = -1;
	left = (int)(deadline - raw_now_ms());
	if (left < 0 || poll(&pfd, 1, left) <= 0)
		return -ETIMEDOUT;
	n = wire_recv(rc->rc_fd, raw_buf, sizeof raw_buf, fds, WIRE_MAX_FDS,
	    &nfds);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (int)n;
	r = wire_open(mac, raw_buf, (size_t)n, WIRE_FRAME_HARD_MAX, &payload,
	    &plen);
	if (r != 0 || nfds > 1) {
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		return r != 0 ? r : -EBADMSG;
	}
	if ((*ret = forkd__server_message__unpack(NULL, plen, payload)) ==
	    NULL) {
		if (nfds > 0)
			close(fds[0]);
		return -EBADMSG;
	}
	if (nfds > 0)
		*ret_fd = fds[0];
	return 0;
}

void	(*rawclient_tamper)(unsigned char *, size_t);

/* Pack and send a ClientMessage. */
static int
raw_send(struct rawclient *rc, struct wire_mac *mac,
    const Forkd__ClientMessage *cm, const int *fds, size_t nfds)
{
	static unsigned char	pbuf[WIRE_FRAME_HARD_MAX], fbuf[WIRE_FRAME_HARD_MAX];
	size_t			plen, flen;
	int			r;

	plen = forkd__client_message__get_packed_size(cm);
	if (plen > sizeof pbuf - WIRE_OVERHEAD)
		return -EMSGSIZE;
	forkd__client_message__pack(cm, pbuf);
	if (rawclient_tamper != NULL)
		rawclient_tamper(pbuf, plen);
	if ((r = wire_seal(mac, pbuf, plen, fbuf, sizeof fbuf, &flen)) != 0)
		return r;
	return wire_send(rc->rc_fd, fbuf, flen, fds, nfds);
}

int
rawclient_connect(struct rawclient *rc, const char *sock, const char *keyfile)
{
	Forkd__ServerMessage	*m = NULL;
	Forkd__ClientMessage	 cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__Auth		 auth = FORKD__AUTH__INIT;
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	unsigned char		*key = NULL, sn[AUTH_NONCE_LEN];
	unsigned char		 cn[AUTH_NONCE_LEN], proof[AUTH_PROOF_LEN];
	char			 err[256];
	size_t			 keylen;
	int64_t			 deadline = raw_now_ms() + 10000;
	int			 r, fd;

	memset(rc, 0, sizeof *rc);
	rc->rc_fd = -1;
	if (sodium_init() < 0)
		return -EIO;
	if ((r = auth_key_load(keyfile, 0, &key, &keylen, err,
	    sizeof err)) != 0)
		return r;
	if ((rc->rc_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0)) < 0) {
		r = -errno;
		goto out;
	}
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock);
	if (connect(rc->rc_fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		r = -errno;
		goto out;
	}
	if ((r = raw_recv(rc, NULL, deadline, &m, &fd)) != 0)
		goto out;
	if (m->body_case != FORKD__SERVER_MESSAGE__BODY_HELLO ||
	    m->hello->server_nonce.len != AUTH_NONCE_LEN) {
		r = -EBADMSG;
		goto out;
	}
	memcpy(sn, m->hello->server_nonce.data, sizeof sn);
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
	if ((r = raw_send(rc, NULL, &cm, NULL, 0)) != 0)
		goto out;
	if ((r = raw_recv(rc, NULL, deadline, &m, &fd)) != 0)
		goto out;
	if (m->body_case != FORKD__SERVER_MESSAGE__BODY_AUTH_OK ||
	    auth_proof_verify(key, keylen, AUTH_ROLE_SERVER, sn, cn,
	    m->auth_ok->proof.data, m->auth_ok->proof.len) != 0) {
		r = -EKEYREJECTED;
		goto out;
	}
	auth_session_key(key, keylen, sn, cn, rc->rc_sk);
	wire_mac_init(&rc->rc_mac, rc->rc_sk, 0);
	r = 0;
out:
	if (m != NULL)
		forkd__server_message__free_unpacked(m, NULL);
	auth_key_free(key, keylen);
	if (r != 0 && rc->rc_fd >= 0) {
		close(rc->rc_fd);
		rc->rc_fd = -1;
	}
	return r;
}

void
rawclient_close(struct rawclient *rc)
{
	if (rc->rc_fd >= 0)
		close(rc->rc_fd);
	rc->rc_fd = -1;
}

/* Remember an exit event. */
static void
raw_note_exit(struct rawclient *rc, const Forkd__ExitInfo *xi)
{
	struct raw_exit *x;

	if (xi == NULL || rc->rc_nexits >= RAWCLIENT_EXITS)
		return;
	x = &rc->rc_exits[rc->rc_nexits++];
	x->x_pid = xi->pid;
	x->x_exitcode = xi->exitcode;
	x->x_timed_out = xi->timed_out;
	x->x_oom_killed = xi->oom_killed;
}

int
rawclient_call(struct rawclient *rc, Forkd__Request *req, const int *fds,
    size_t nfds, int timeout_ms, Forkd__ServerMessage **ret_msg, int *ret_fd)
{
	Forkd__ClientMessage	 cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__ServerMessage	*m;
	int64_t			 deadline = raw_now_ms() + timeout_ms;
	int			 r, fd;

	req->id = ++rc->rc_id;
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_REQUEST;
	cm.request = req;
	if ((r = raw_send(rc, &rc->rc_mac, &cm, fds, nfds)) != 0)
		return r;
	for (;;) {
		if ((r = raw_recv(rc, &rc->rc_mac, deadline, &m, &fd)) != 0)
			return r;
		if (m->body_case == FORKD__SERVER_MESSAGE__BODY_EXIT) {
			raw_note_exit(rc, m->exit->exit);
			forkd__server_message__free_unpacked(m, NULL);
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (m->body_case == FORKD__SERVER_MESSAGE__BODY_RESPONSE &&
		    m->response->id != req->id) {
			forkd__server_message__free_unpacked(m, NULL);
			if (fd >= 0)
				close(fd);
			continue;
		}
		*ret_msg = m;
		*ret_fd = fd;
		return 0;
	}
}

int
rawclient_spawn(struct rawclient *rc, Forkd__SpawnRequest *sr, const int *fds,
    size_t nfds, int timeout_ms, Forkd__ServerMessage **ret_msg, int *ret_fd)
{
	Forkd__Request req = FORKD__REQUEST__INIT;

	req.body_case = FORKD__REQUEST__BODY_SPAWN;
	req.spawn = sr;
	return rawclient_call(rc, &req, fds, nfds, timeout_ms, ret_msg,
	    ret_fd);
}

int
rawclient_exit(struct rawclient *rc, pid_t pid, int timeout_ms,
    struct raw_exit *ret)
{
	Forkd__ServerMessage	*m;
	int64_t			 deadline = raw_now_ms() + timeout_ms;
	int			 r, fd;

	for (;;) {
		for (int i = 0; i < rc->rc_nexits; i++) {
			if (rc->rc_exits[i].x_pid != pid)
				continue;
			*ret = rc->rc_exits[i];
			rc->rc_exits[i] = rc->rc_exits[--rc->rc_nexits];
			return 0;
		}
		if ((r = raw_recv(rc, &rc->rc_mac, deadline, &m, &fd)) != 0)
			return r;
		if (fd >= 0)
			close(fd);
		if (m->body_case == FORKD__SERVER_MESSAGE__BODY_EXIT)
			raw_note_exit(rc, m->exit->exit);
		forkd__server_message__free_unpacked(m, NULL);
	}
}
