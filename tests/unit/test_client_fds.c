/* test_client_fds.c: libforkd against a fake, hostile forkd that attaches
 * fds to its frames. Only the single fd of a spawn reply that announces a
 * pidfd the client asked for may reach the caller; every other fd is
 * closed at once, and a spawn reply with unannounced, extra or non-pidfd
 * fds is a protocol error. The client's fd count is the witness.
 *
 * The fake server runs in a forked process, speaks the real handshake
 * (proto/auth.h, proto/wire.h) and reacts to the name of each spawn
 * request, which names the misbehaviour to show. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sodium.h>

#include "forkd.h"
#include "forkd.pb-c.h"
#include "auth.h"
#include "wire.h"

static unsigned char	key[32];
static char		dir[48], path[64];
static pid_t		server = -1;
/* In the fake server: a child kept alive until the connection ends. */
static pid_t		srv_linger = -1;

/* Open fds of this process. */
static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	int		 n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static int	srv_nul;	/* srv_send(): \x7f -> NUL */

/* Seal and send one server message with nfds fds. */
static void
srv_send(int s, struct wire_mac *mac, Forkd__ServerMessage *m, const int *fds,
    size_t nfds)
{
	unsigned char	payload[4096], frame[4096 + WIRE_OVERHEAD];
	size_t		plen, flen;

	plen = forkd__server_message__pack(m, payload);
	/* Scenario nul-name: its \x7f bytes become NULs, inside a string. */
	for (size_t i = 0; srv_nul && i < plen; i++)
		if (payload[i] == 0x7f)
			payload[i] = 0;
	if (wire_seal(mac, payload, plen, frame, sizeof frame, &flen) != 0 ||
	    wire_send(s, frame, flen, fds, nfds) != 0)
		_exit(10);
}

/* Receive one client message. NULL at EOF. */
static Forkd__ClientMessage *
srv_recv(int s, struct wire_mac *mac)
{
	unsigned char		 buf[WIRE_FRAME_HARD_MAX];
	const unsigned char	*payload;
	int			 fds[WIRE_MAX_FDS];
	size_t			 nfds = 0, plen;
	ssize_t			 n;

	n = wire_recv(s, buf, sizeof buf, fds, WIRE_MAX_FDS, &nfds);
	wire_close_fds(fds, nfds);
	if (n <= 0)
		return NULL;
	if (wire_open(mac, buf, (size_t)n, WIRE_FRAME_HARD_MAX, &payload,
	    &plen) != 0)
		_exit(11);
	return forkd__client_message__unpack(NULL, plen, payload);
}

/* A reply with body spawn for request id. */
static void
srv_spawn_reply(int s, struct wire_mac *mac, uint32_t id, pid_t pid,
    const char *name, int pidfd_flag, const int *fds, size_t nfds)
{
	Forkd__ServerMessage	m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__Response		r = FORKD__RESPONSE__INIT;
	Forkd__SpawnReply	sr = FORKD__SPAWN_REPLY__INIT;

	sr.pid = pid;
	sr.name = (char *)name;
	sr.pidfd = pidfd_flag;
	r.id = id;
	r.body_case = FORKD__RESPONSE__BODY_SPAWN;
	r.spawn = &sr;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_RESPONSE;
	m.response = &r;
	srv_send(s, mac, &m, fds, nfds);
}

/* Answer one request according to the scenario in its name. */
static void
srv_request(int s, struct wire_mac *mac, const Forkd__Request *rq)
{
	Forkd__ServerMessage	m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__Response		r = FORKD__RESPONSE__INIT;
	Forkd__PingReply	pr = FORKD__PING_REPLY__INIT;
	Forkd__ExitEvent	ee = FORKD__EXIT_EVENT__INIT;
	Forkd__ExitInfo		ei = FORKD__EXIT_INFO__INIT;
	const char		*sc;
	int			 fds[3], pfd;
	pid_t			 child;

	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[2] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (rq->body_case == FORKD__REQUEST__BODY_PING) {
		/* A reply that carries no fd by right: with three. */
		r.id = rq->id;
		r.body_case = FORKD__RESPONSE__BODY_PING;
		r.ping = &pr;
		m.body_case = FORKD__SERVER_MESSAGE__BODY_RESPONSE;
		m.response = &r;
		srv_send(s, mac, &m, fds, 3);
		goto out;
	}
	if (rq->body_case != FORKD__REQUEST__BODY_SPAWN)
		_exit(12);
	sc = rq->spawn->name;
	if (strcmp(sc, "exit-fd") == 0) {
		/* An exit event with an fd, then a clean reply. */
		ei.pid = 999;
		ei.name = "other";
		ee.exit = &ei;
		m.body_case = FORKD__SERVER_MESSAGE__BODY_EXIT;
		m.exit = &ee;
		srv_send(s, mac, &m, fds, 1);
		srv_spawn_reply(s, mac, rq->id, 4242, sc, 0, NULL, 0);
	} else if (strcmp(sc, "error-fd") == 0) {
		r.id = rq->id;
		r.error = -ENOENT;
		r.message = "no such target";
		m.body_case = FORKD__SERVER_MESSAGE__BODY_RESPONSE;
		m.response = &r;
		srv_send(s, mac, &m, fds, 1);
	} else if (strcmp(sc, "nul-name") == 0) {
		srv_nul = 1;
		srv_spawn_reply(s, mac, rq->id, 4242, "nul\x7fname", 0, NULL,
		    0);
		srv_nul = 0;
	} else if (strcmp(sc, "unannounced") == 0)
		srv_spawn_reply(s, mac, rq->id, 4242, sc, 0, fds, 1);
	else if (strcmp(sc, "two-fds") == 0)
		srv_spawn_reply(s, mac, rq->id, 4242, sc, 1, fds, 2);
	else if (strcmp(sc, "no-fd") == 0)
		srv_spawn_reply(s, mac, rq->id, 4242, sc, 1, NULL, 0);
	else if (strcmp(sc, "not-pidfd") == 0 || strcmp(sc, "unasked") == 0)
		srv_spawn_reply(s, mac, rq->id, 4242, sc, 1, fds, 1);
	else if (strcmp(sc, "good") == 0 || strcmp(sc, "other-pid") == 0) {
		child = fork();
		if (child == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			pause();
			_exit(0);
		}
		pfd = (int)syscall(SYS_pidfd_open, child, 0);
		if (pfd < 0)
			_exit(13);
		if (strcmp(sc, "good") == 0) {
			/* Gone before the reply: the pidfd is readable. */
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		} else
			srv_linger = child;	/* fdinfo must name it */
		srv_spawn_reply(s, mac, rq->id, strcmp(sc, "good") == 0 ?
		    child : getpid(), sc, 1, &pfd, 1);
		close(pfd);
	} else
		_exit(14);
out:
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

/* Serve one connection: handshake, then requests until EOF. */
static void
srv_conn(int s)
{
	Forkd__ServerMessage	 m = FORKD__SERVER_MESSAGE__INIT;
	Forkd__Hello		 h = FORKD__HELLO__INIT;
	Forkd__AuthOk		 ok = FORKD__AUTH_OK__INIT;
	Forkd__ClientMessage	*cm;
	struct wire_mac		 mac;
	unsigned char		 sn[AUTH_NONCE_LEN], cn[AUTH_NONCE_LEN];
	unsigned char		 proof[AUTH_PROOF_LEN], sk[32];

	auth_nonce(sn);
	h.version = WIRE_VERSION;
	h.server_nonce.data = sn;
	h.server_nonce.len = sizeof sn;
	h.max_frame = WIRE_FRAME_DEFAULT_MAX;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_HELLO;
	m.hello = &h;
	srv_send(s, NULL, &m, NULL, 0);
	cm = srv_recv(s, NULL);
	if (cm == NULL || cm->body_case != FORKD__CLIENT_MESSAGE__BODY_AUTH ||
	    cm->auth->client_nonce.len != AUTH_NONCE_LEN)
		_exit(15);
	memcpy(cn, cm->auth->client_nonce.data, AUTH_NONCE_LEN);
	forkd__client_message__free_unpacked(cm, NULL);
	auth_proof(key, sizeof key, AUTH_ROLE_SERVER, sn, cn, proof);
	ok.proof.data = proof;
	ok.proof.len = sizeof proof;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_AUTH_OK;
	m.auth_ok = &ok;
	srv_send(s, NULL, &m, NULL, 0);
	auth_session_key(key, sizeof key, sn, cn, sk);
	wire_mac_init(&mac, sk, 1);
	while ((cm = srv_recv(s, &mac)) != NULL) {
		if (cm->body_case == FORKD__CLIENT_MESSAGE__BODY_REQUEST)
			srv_request(s, &mac, cm->request);
		forkd__client_message__free_unpacked(cm, NULL);
	}
	if (srv_linger > 0) {
		kill(srv_linger, SIGKILL);
		waitpid(srv_linger, NULL, 0);
		srv_linger = -1;
	}
}

static int
group_setup(void **state)
{
	struct sockaddr_un	sa;
	int			ls, s;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(key, sizeof key);
	snprintf(dir, sizeof dir, "/tmp/forkd-client-fds.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/sock", dir);
	ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(ls, 8) < 0)
		return -1;
	server = fork();
	if (server < 0)
		return -1;
	if (server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			s = accept(ls, NULL, NULL);
			if (s < 0)
				_exit(16);
			srv_conn(s);
			close(s);
		}
	}
	close(ls);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
	}
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Spawn with scenario name sc; returns the result, fills sp. */
static int
spawn_sc(struct forkd *f, const char *sc, int want_pidfd,
    struct forkd_spawned *sp)
{
	struct forkd_spawn_opts	o;

	forkd_spawn_opts_init(&o);
	o.target = "fake:entry";
	o.name = sc;
	o.want_pidfd = want_pidfd;
	sp->pidfd = -7;
	return forkd_spawn_ex(f, &o, sp);
}

static struct forkd *
conn(void)
{
	struct forkd	*f = NULL;
	int		 r = forkd_connect_key(&f, path, key, sizeof key);

	if (r != 0)
		fail_msg("connect to the fake forkd: %s", forkd_strerror(r));
	return f;
}

/* fds on an exit event, an error reply and a ping reply are closed; the
 * calls themselves work. */
static void
test_fds_on_other_frames(void **state)
{
	struct forkd		*f;
	struct forkd_spawned	 sp;
	struct forkd_exit	 ev;
	int			 base;

	(void)state;
	f = conn();
	base = count_fds();
	assert_int_equal(spawn_sc(f, "exit-fd", 0, &sp), 0);
	assert_int_equal(sp.pid, 4242);
	assert_int_equal(sp.pidfd, -1);
	assert_int_equal(count_fds(), base);
	assert_int_equal(forkd_next_exit(f, &ev), 0);
	assert_int_equal(ev.pid, 999);
	assert_int_equal(spawn_sc(f, "error-fd", 1, &sp), -ENOENT);
	assert_int_equal(sp.pidfd, -7);
	assert_int_equal(count_fds(), base);
	assert_int_equal(forkd_ping(f), 0);
	assert_int_equal(count_fds(), base);
	forkd_close(f);
}

/* Each bad spawn reply is -EBADMSG, kills the handle, leaks nothing. */
static void
test_bad_spawn_replies(void **state)
{
	static const struct {
		const char	*sc;
		int		 want_pidfd;
	} bad[] = {
		{ "unannounced", 0 }, { "unannounced", 1 }, { "two-fds", 1 },
		{ "no-fd", 1 }, { "not-pidfd", 1 }, { "unasked", 0 },
		{ "other-pid", 1 },
	};
	struct forkd		*f;
	struct forkd_spawned	 sp;
	int			 base, r;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f = conn();
		base = count_fds();
		r = spawn_sc(f, bad[i].sc, bad[i].want_pidfd, &sp);
		if (r != -EBADMSG)
			fail_msg("%s (want_pidfd %d): returned %d (%s), "
			    "expected -EBADMSG", bad[i].sc,
			    bad[i].want_pidfd, r, forkd_strerror(r));
		if (sp.pidfd != -7)
			fail_msg("%s: ret touched", bad[i].sc);
		if (count_fds() != base)
			fail_msg("%s: %d fds before, %d after", bad[i].sc,
			    base, count_fds());
		if (strstr(forkd_errmsg(f), "spawn reply") == NULL &&
		    strstr(forkd_errmsg(f), "pidfd") == NULL)
			fail_msg("%s: errmsg \"%s\"", bad[i].sc,
			    forkd_errmsg(f));
		assert_int_equal(forkd_ping(f), -ECONNRESET);
		forkd_close(f);
	}
}

/* A string with a NUL byte inside from forkd is a malformed message, not
 * a name cut short ("nul"). */
static void
test_nul_string_reply(void **state)
{
	struct forkd		*f;
	struct forkd_spawned	 sp;
	int			 r;

	(void)state;
	f = conn();
	r = spawn_sc(f, "nul-name", 0, &sp);
	if (r != -EBADMSG || strstr(forkd_errmsg(f), "NUL") == NULL)
		fail_msg("reply name with a NUL: %d (%s) \"%s\", expected "
		    "-EBADMSG naming the NUL", r, forkd_strerror(r),
		    forkd_errmsg(f));
	forkd_close(f);
}

/* The one legitimate case: a pidfd of the child the reply names. */
static void
test_good_pidfd(void **state)
{
	struct forkd		*f;
	struct forkd_spawned	 sp;
	struct pollfd		 p;
	int			 base;

	(void)state;
	f = conn();
	base = count_fds();
	assert_int_equal(spawn_sc(f, "good", 1, &sp), 0);
	assert_true(sp.pidfd >= 0);
	assert_int_equal(count_fds(), base + 1);
	assert_true(fcntl(sp.pidfd, F_GETFD) & FD_CLOEXEC);
	/* The fake server killed its child: the pidfd is readable. */
	p.fd = sp.pidfd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 5000), 1);
	close(sp.pidfd);
	/* forkd_spawn() closes it itself. */
	{
		struct forkd_spawn_opts	o;
		pid_t			pid;

		forkd_spawn_opts_init(&o);
		o.target = "fake:entry";
		o.name = "good";
		o.want_pidfd = 1;
		assert_int_equal(forkd_spawn(f, &o, &pid, NULL, 0), 0);
		assert_true(pid > 0);
	}
	assert_int_equal(count_fds(), base);
	forkd_close(f);
}

/* At its open files limit the client cannot take the pidfd (the kernel
 * drops it: MSG_CTRUNC). The child runs, so the spawn succeeds with pidfd
 * -1 and the connection serves on; it was -EMSGSIZE ("frame larger than")
 * and a dead connection, whose daemon children forkd then ended. */
static void
test_pidfd_at_fd_limit(void **state)
{
	struct forkd		*f;
	struct forkd_spawned	 sp;
	struct rlimit		 old, lim;
	int			 lowest;

	(void)state;
	f = conn();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	lim = old;
	lim.rlim_cur = (rlim_t)lowest;	/* no new fd number fits */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	assert_true(dup(0) < 0 && errno == EMFILE);
	assert_int_equal(spawn_sc(f, "good", 1, &sp), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(sp.pid > 0);
	assert_int_equal(sp.pidfd, -1);
	/* The connection still serves, pidfds included. */
	assert_int_equal(spawn_sc(f, "good", 1, &sp), 0);
	assert_true(sp.pidfd >= 0);
	close(sp.pidfd);
	forkd_close(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fds_on_other_frames),
		cmocka_unit_test(test_bad_spawn_replies),
		cmocka_unit_test(test_nul_string_reply),
		cmocka_unit_test(test_good_pidfd),
		cmocka_unit_test(test_pidfd_at_fd_limit),
	};

	return cmocka_run_group_tests_name("unit_client_fds", tests,
	    group_setup, group_teardown);
}
