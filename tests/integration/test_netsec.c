/* test_netsec.c: what a client does with fds and connections cannot stall
 * forkd or crowd out other clients (issue 13, items 2, 5, 12, 13 and
 * issue 16 item 17):
 * - an fd whose close() blocks (a TCP socket lingering with a full send
 *   buffer, or a Unix socket holding one in its queue), passed before
 *   authentication, with a refused spawn, or left queued when forkd closes
 *   the connection, never delays another client's ping;
 * - an fd on an otherwise correct Auth frame always gets Error -EBADMSG,
 *   even when the client sends more behind it;
 * - the key file is re-read on SIGHUP; a bad one changes nothing;
 * - a keyless flood from one uid does not fail another uid's handshakes,
 *   and one uid cannot hold more than max_connections_per_uid;
 * - socket_group/socket_mode, and no chmod through a symlink after bind.
 */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <sodium.h>

#include "auth.h"
#include "forkd.pb-c.h"
#include "harness.h"
#include "rawclient.h"
#include "wire.h"

#define OTHER_UID	65534
#define LINGER_S	4

static struct harness	H;

/* A TCP socket whose close() blocks for secs: SO_LINGER {1, secs} and a
 * send buffer its peer never reads. *ret_keep holds the listener and the
 * peer (close them when done). */
static int
linger_socket(int secs, int ret_keep[2])
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		sl = sizeof sin;
	struct linger		lg = { 1, secs };
	char			buf[65536];
	int			l, c, a, small = 4096;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
	a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(a >= 0);
	setsockopt(a, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	memset(buf, 'x', sizeof buf);
	fcntl(c, F_SETFL, O_NONBLOCK);
	while (send(c, buf, sizeof buf, MSG_NOSIGNAL) > 0)
		;
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg),
	    0);
	ret_keep[0] = l;
	ret_keep[1] = a;
	return c;
}

/* A Unix socket that holds a lingering TCP socket in its queue: closing
 * its last reference closes the TCP socket in the closer's context. */
static int
nested_linger_socket(int secs, int ret_keep[2])
{
	int	sv[2], t;

	t = linger_socket(secs, ret_keep);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
	    0);
	assert_int_equal(wire_send(sv[0], (const unsigned char *)"x", 1, &t, 1),
	    0);
	close(t);
	close(sv[0]);
	return sv[1];
}

static int
raw_connect(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_true(strlen(H.h_sock) < sizeof sun.sun_path);
	memcpy(sun.sun_path, H.h_sock, strlen(H.h_sock) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		fail_msg("connect %s: %s", H.h_sock, strerror(errno));
	return fd;
}


/* The longest of forkd_ping()s on f over ms milliseconds. */
static int64_t
max_ping_ms(struct forkd *f, int ms)
{
	int64_t end = harness_now_ms() + ms, worst = 0, t0, d;

	while (harness_now_ms() < end) {
		t0 = harness_now_ms();
		EXPECT_OK(f, forkd_ping(f));
		d = harness_now_ms() - t0;
		if (d > worst)
			worst = d;
		harness_sleep_ms(10);
	}
	return worst;
}

static void
expect_no_stall(struct forkd *f, const char *what)
{
	int64_t worst = max_ping_ms(f, 600);

	if (worst >= 1000 * harness_slow())
		fail_msg("%s: another client's ping took %lld ms (forkd blocked "
		    "closing the client's fd)", what, (long long)worst);
}

/* forkd is stopped while a test hands it an fd and drops its own copy
 * (forkd's reference is then the last), or queues several datagrams,
 * whatever the scheduling. */
static void
forkd_pause(int on)
{
	assert_int_equal(kill(H.h_pid, on ? SIGSTOP : SIGCONT), 0);
}

/* Read the Hello; return the server nonce. */
static void
read_hello(int fd, unsigned char sn[AUTH_NONCE_LEN])
{
	static unsigned char	 buf[WIRE_FRAME_HARD_MAX];
	const unsigned char	*p;
	size_t			 plen, nfds;
	int			 fds[WIRE_MAX_FDS];
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	Forkd__ServerMessage	*m;
	ssize_t			 n;

	assert_true(poll(&pfd, 1, 5000 * harness_slow()) == 1);
	n = wire_recv(fd, buf, sizeof buf, fds, WIRE_MAX_FDS, &nfds);
	assert_true(n > 0);
	assert_int_equal(wire_open(NULL, buf, (size_t)n, sizeof buf, &p,
	    &plen), 0);
	m = forkd__server_message__unpack(NULL, plen, p);
	assert_non_null(m);
	assert_int_equal(m->body_case, FORKD__SERVER_MESSAGE__BODY_HELLO);
	assert_int_equal(m->hello->server_nonce.len, AUTH_NONCE_LEN);
	memcpy(sn, m->hello->server_nonce.data, AUTH_NONCE_LEN);
	forkd__server_message__free_unpacked(m, NULL);
}

/* A correct Auth frame for key into out; its length. */
static size_t
auth_frame(const unsigned char *key, size_t keylen,
    const unsigned char sn[AUTH_NONCE_LEN], unsigned char *out, size_t cap)
{
	Forkd__ClientMessage	cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__Auth		a = FORKD__AUTH__INIT;
	unsigned char		cn[AUTH_NONCE_LEN], proof[AUTH_PROOF_LEN];
	unsigned char		pb[256];
	size_t			plen, flen;

	randombytes_buf(cn, sizeof cn);
	auth_proof(key, keylen, AUTH_ROLE_CLIENT, sn, cn, proof);
	a.version = WIRE_VERSION;
	a.client_nonce.data = cn;
	a.client_nonce.len = sizeof cn;
	a.proof.data = proof;
	a.proof.len = sizeof proof;
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_AUTH;
	cm.auth = &a;
	plen = forkd__client_message__get_packed_size(&cm);
	assert_true(plen <= sizeof pb);
	forkd__client_message__pack(&cm, pb);
	assert_int_equal(wire_seal(NULL, pb, plen, out, cap, &flen), 0);
	return flen;
}

/* The code of the first Error frame on fd before EOF, or 1 when the
 * connection ended without one (recv error or EOF first). */
static int
final_error(int fd)
{
	static unsigned char	 buf[WIRE_FRAME_HARD_MAX];
	const unsigned char	*p;
	size_t			 plen, nfds;
	int			 fds[WIRE_MAX_FDS], code = 1;
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	Forkd__ServerMessage	*m;
	ssize_t			 n;

	for (;;) {
		if (poll(&pfd, 1, 5000 * harness_slow()) != 1)
			return 2;	/* not closed */
		n = wire_recv(fd, buf, sizeof buf, fds, WIRE_MAX_FDS, &nfds);
		if (n <= 0)
			return code;
		if (wire_open(NULL, buf, (size_t)n, sizeof buf, &p, &plen) != 0)
			continue;
		m = forkd__server_message__unpack(NULL, plen, p);
		if (m != NULL && m->body_case ==
		    FORKD__SERVER_MESSAGE__BODY_ERROR && code == 1)
			code = m->error->code;
		if (m != NULL)
			forkd__server_message__free_unpacked(m, NULL);
	}
}

static unsigned char *
read_key(const char *path, size_t *ret_len)
{
	static unsigned char	k[4096];
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t			n;

	assert_true(fd >= 0);
	n = read(fd, k, sizeof k);
	close(fd);
	assert_true(n >= 32);
	*ret_len = (size_t)n;
	return k;
}

/* Item 2: a lingering socket passed before authentication. */
static void
test_linger_before_auth(void **state)
{
	struct forkd	*f = harness_connect(&H);
	unsigned char	 sn[AUTH_NONCE_LEN];
	int		 keep[2], t, c;

	c = raw_connect();
	read_hello(c, sn);
	t = linger_socket(LINGER_S, keep);
	/* Not even a frame: a byte with the fd. */
	forkd_pause(1);
	assert_int_equal(wire_send(c, (const unsigned char *)"?", 1, &t, 1), 0);
	close(t);
	forkd_pause(0);
	expect_no_stall(f, "lingering socket before authentication");
	close(c);
	/* The nested shape: a Unix socket with the lingering one queued. */
	c = raw_connect();
	read_hello(c, sn);
	close(keep[0]);
	close(keep[1]);
	t = nested_linger_socket(LINGER_S, keep);
	forkd_pause(1);
	assert_int_equal(wire_send(c, (const unsigned char *)"?", 1, &t, 1), 0);
	close(t);
	forkd_pause(0);
	expect_no_stall(f, "Unix socket holding a lingering socket, before "
	    "authentication");
	close(c);
	close(keep[0]);
	close(keep[1]);
	forkd_close(f);
}

#ifdef NETSEC_HUNGFUSE
/* The FUSE server and mount of test_hung_fuse_fd, for the group
 * teardown when the test fails half-way. */
static pid_t	fuse_srv = -1;
static char	fuse_mnt[64];

/* Unmount and stop the FUSE server, if there is one. */
static void
fuse_cleanup(void)
{
	int st;

	if (fuse_mnt[0] != '\0')
		umount2(fuse_mnt, MNT_DETACH);
	if (fuse_srv > 0) {
		for (int64_t end = harness_now_ms() + 5000;
		    waitpid(fuse_srv, &st, WNOHANG) == 0;) {
			if (harness_now_ms() > end) {
				kill(fuse_srv, SIGKILL);
				waitpid(fuse_srv, &st, 0);
				break;
			}
			harness_sleep_ms(20);
		}
	}
	if (fuse_mnt[0] != '\0')
		rmdir(fuse_mnt);
	fuse_srv = -1;
	fuse_mnt[0] = '\0';
}
#endif

/* Item 2: a file on a FUSE mount whose server does not answer FLUSH
 * (which every close() of an fd of it sends), passed before
 * authentication. Root and /dev/fuse only; hungfuse answers after 3 s. */
static void
test_hung_fuse_fd(void **state)
{
#ifndef NETSEC_HUNGFUSE
	print_message("SKIP: built without libfuse3\n");
	skip();
#else
	struct forkd	*f;
	char		 mnt[] = "/tmp/forkd-netsec-fuse.XXXXXX", file[64];
	unsigned char	 sn[AUTH_NONCE_LEN];
	int		 hang[2], fd = -1, c;
	pid_t		 srv;

	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		print_message("SKIP: needs root and /dev/fuse\n");
		skip();
	}
	assert_non_null(mkdtemp(mnt));
	snprintf(file, sizeof file, "%s/f", mnt);
	harness_pipe(hang);
	srv = fork();
	assert_true(srv >= 0);
	fuse_srv = srv;
	snprintf(fuse_mnt, sizeof fuse_mnt, "%s", mnt);
	if (srv == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(hang[0], 0);
		dup2(null, 1);
		dup2(null, 2);
		setenv("HUNGFUSE_HANG_MS", "3000", 1);
		execl(NETSEC_HUNGFUSE, "hungfuse", mnt, (char *)NULL);
		_exit(127);
	}
	close(hang[0]);
	for (int64_t end = harness_now_ms() + 5000 * harness_slow();
	    (fd = open(file, O_RDWR | O_CLOEXEC)) < 0 &&
	    harness_now_ms() < end;)
		harness_sleep_ms(20);
	if (fd < 0) {
		kill(srv, SIGKILL);
		close(hang[1]);
		fuse_cleanup();
		print_message("SKIP: cannot mount a FUSE file system here\n");
		skip();
	}
	f = harness_connect(&H);
	c = raw_connect();
	read_hello(c, sn);
	forkd_pause(1);
	assert_int_equal(wire_send(c, (const unsigned char *)"?", 1, &fd, 1),
	    0);
	forkd_pause(0);
	expect_no_stall(f, "a file on a FUSE mount that does not answer");
	close(c);
	/* The same file as fd 3 of an exec target: forkd waits for the
	 * child until it execs (CLONE_VFORK), so nothing the child does
	 * before execve() may close it. */
	{
		struct rawclient	 rc;
		Forkd__ClientMessage	 cm = FORKD__CLIENT_MESSAGE__INIT;
		Forkd__Request		 rq = FORKD__REQUEST__INIT;
		Forkd__SpawnRequest	 sr = FORKD__SPAWN_REQUEST__INIT;
		uint32_t		 tgt = 3;
		unsigned char		 pb[512], fr[1024];
		size_t			 plen, flen;

		assert_int_equal(rawclient_connect(&rc, H.h_sock, H.h_key), 0);
		sr.target = "/bin/true";
		sr.n_fd_targets = 1;
		sr.fd_targets = &tgt;
		rq.id = 1;
		rq.body_case = FORKD__REQUEST__BODY_SPAWN;
		rq.spawn = &sr;
		cm.body_case = FORKD__CLIENT_MESSAGE__BODY_REQUEST;
		cm.request = &rq;
		plen = forkd__client_message__get_packed_size(&cm);
		forkd__client_message__pack(&cm, pb);
		assert_int_equal(wire_seal(&rc.rc_mac, pb, plen, fr, sizeof fr,
		    &flen), 0);
		assert_int_equal(wire_send(rc.rc_fd, fr, flen, &fd, 1), 0);
		expect_no_stall(f, "a FUSE file that does not answer, as fd 3 "
		    "of an exec target");
		rawclient_close(&rc);
	}
	forkd_close(f);
	/* Let the server answer, then unmount it. */
	close(hang[1]);
	close(fd);
	fuse_cleanup();
#endif
}

/* Item 2: with a refused spawn, and queued when forkd closes. */
static void
test_linger_refused_and_queued(void **state)
{
	struct forkd		*f = harness_connect(&H);
	struct rawclient	 rc;
	Forkd__ClientMessage	 cm = FORKD__CLIENT_MESSAGE__INIT;
	Forkd__Request		 rq = FORKD__REQUEST__INIT;
	Forkd__SpawnRequest	 sr = FORKD__SPAWN_REQUEST__INIT;
	uint32_t		 tgt = 3;
	unsigned char		 sn[AUTH_NONCE_LEN], pb[512], fr[1024];
	size_t			 plen, flen;
	int			 keep[2], t, c;

	assert_int_equal(rawclient_connect(&rc, H.h_sock, H.h_key), 0);
	t = linger_socket(LINGER_S, keep);
	/* A spawn refused for its target, with the fd as fd 3. */
	sr.target = "nosuchmodule:entry";
	sr.n_fd_targets = 1;
	sr.fd_targets = &tgt;
	rq.id = 1;
	rq.body_case = FORKD__REQUEST__BODY_SPAWN;
	rq.spawn = &sr;
	cm.body_case = FORKD__CLIENT_MESSAGE__BODY_REQUEST;
	cm.request = &rq;
	plen = forkd__client_message__get_packed_size(&cm);
	assert_true(plen <= sizeof pb);
	forkd__client_message__pack(&cm, pb);
	assert_int_equal(wire_seal(&rc.rc_mac, pb, plen, fr, sizeof fr, &flen),
	    0);
	forkd_pause(1);
	assert_int_equal(wire_send(rc.rc_fd, fr, flen, &t, 1), 0);
	close(t);
	forkd_pause(0);
	expect_no_stall(f, "lingering socket with a refused spawn");
	rawclient_close(&rc);
	close(keep[0]);
	close(keep[1]);

	/* A bad frame, then one with the fd: forkd closes the connection
	 * with the second still queued. */
	c = raw_connect();
	read_hello(c, sn);
	t = linger_socket(LINGER_S, keep);
	forkd_pause(1);
	assert_int_equal(wire_send(c, (const unsigned char *)"bad", 3, NULL,
	    0), 0);
	assert_int_equal(wire_send(c, (const unsigned char *)"?", 1, &t, 1), 0);
	close(t);
	forkd_pause(0);
	expect_no_stall(f, "lingering socket queued when forkd closes the "
	    "connection");
	close(c);
	close(keep[0]);
	close(keep[1]);
	forkd_close(f);
}

/* Item 2: an fd on a correct Auth frame gets Error -EBADMSG every time,
 * also when the client sends more behind it (forkd used to close with
 * those unread, and the kernel then reported ECONNRESET ahead of the
 * queued Error). */
static void
test_fd_on_auth_error(void **state)
{
	unsigned char	 sn[AUTH_NONCE_LEN], fr[512], *key;
	size_t		 keylen, flen;
	int		 p[2], c, code, missing = 0, other = 0;

	key = read_key(H.h_key, &keylen);
	harness_pipe(p);
	for (int i = 0; i < 60; i++) {
		c = raw_connect();
		read_hello(c, sn);
		flen = auth_frame(key, keylen, sn, fr, sizeof fr);
		/* All queued before forkd reads the first. */
		forkd_pause(1);
		assert_int_equal(wire_send(c, fr, flen, &p[1], 1), 0);
		for (int j = 0; j < 3; j++)
			(void)wire_send(c, (const unsigned char *)"more", 4,
			    NULL, 0);
		forkd_pause(0);
		code = final_error(c);
		if (code == 1)
			missing++;
		else if (code != -EBADMSG)
			other++;
		close(c);
	}
	close(p[0]);
	close(p[1]);
	if (missing > 0 || other > 0)
		fail_msg("fd on a correct Auth frame: %d of 60 connections "
		    "ended without an Error frame, %d with another code than "
		    "-EBADMSG", missing, other);
}

/* Item 13: SIGHUP re-reads the key; a bad new key changes nothing. */
static void
test_key_rotation(void **state)
{
	struct forkd	*old_sess, *f;
	unsigned char	 a[32], b[32], *k;
	char		 tmp[HARNESS_PATH_MAX + 8];
	size_t		 kl;
	int		 fd;

	k = read_key(H.h_key, &kl);
	assert_int_equal(kl, sizeof a);
	memcpy(a, k, sizeof a);
	old_sess = harness_connect(&H);
	randombytes_buf(b, sizeof b);
	snprintf(tmp, sizeof tmp, "%s.new", H.h_key);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, sizeof b), (ssize_t)sizeof b);
	close(fd);
	assert_int_equal(rename(tmp, H.h_key), 0);
	assert_int_equal(kill(H.h_pid, SIGHUP), 0);
	harness_wait_log(&H, "key re-read", 1, 5000 * harness_slow());
	/* The old key no longer opens a connection; the new one does. */
	if (forkd_connect_key(&f, H.h_sock, a, sizeof a) == 0) {
		forkd_close(f);
		fail_msg("the old key still authenticates after a rotation "
		    "and SIGHUP");
	}
	EXPECT_OK(NULL, forkd_connect_key(&f, H.h_sock, b, sizeof b));
	EXPECT_OK(f, forkd_ping(f));
	forkd_close(f);
	/* A session opened before keeps its session key. */
	EXPECT_OK(old_sess, forkd_ping(old_sess));
	forkd_close(old_sess);

	/* A bad key (group/world readable): nothing changes, the log says
	 * why. */
	assert_int_equal(chmod(H.h_key, 0644), 0);
	fd = open(H.h_key, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, a, sizeof a), (ssize_t)sizeof a);
	close(fd);
	assert_int_equal(kill(H.h_pid, SIGHUP), 0);
	harness_wait_log(&H, "keeping the current key", 1,
	    5000 * harness_slow());
	EXPECT_OK(NULL, forkd_connect_key(&f, H.h_sock, b, sizeof b));
	forkd_close(f);
	if (forkd_connect_key(&f, H.h_sock, a, sizeof a) == 0) {
		forkd_close(f);
		fail_msg("a key file refused on SIGHUP was used anyway");
	}
	/* Leave the harness a good key. */
	fd = open(H.h_key, O_WRONLY | O_TRUNC | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, sizeof b), (ssize_t)sizeof b);
	close(fd);
	assert_int_equal(chmod(H.h_key, 0600), 0);
}

/* Run f in a child as uid/gid with groups; its result is the exit code. */
static int
as_user(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups,
    int (*f)(void))
{
	pid_t	pid = fork();
	int	st;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(ngroups, groups) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0)
			_exit(100);
		_exit(f());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static const char *connect_path;

/* 0 if connect() to connect_path works, else its errno. */
static int
try_connect(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	memcpy(sun.sun_path, connect_path, strlen(connect_path) + 1);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		return errno;
	close(fd);
	return 0;
}

/* Issue 16 item 17: socket_group and socket_mode in the config give a
 * group access to the socket without systemd. */
static void
test_socket_group(void **state)
{
	struct harness	 h2;
	char		 dir[] = "/tmp/forkd-netsec.XXXXXX", conf[64];
	const char	*args[] = { "-c", conf, NULL };
	const gid_t	 member[] = { 65534 };
	struct stat	 st;
	FILE		*fp;

	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof conf, "%s/forkd.conf", dir);
	fp = fopen(conf, "w");
	assert_non_null(fp);
	fprintf(fp, "[forkd]\nsocket_group = 65534\nsocket_mode = 0660\n");
	fclose(fp);
	memset(&h2, 0, sizeof h2);
	assert_int_equal(harness_start(&h2, args), 0);
	assert_int_equal(lstat(h2.h_sock, &st), 0);
	EXPECT_INT(st.st_gid, 65534, "group of the socket (socket_group)");
	EXPECT_INT(st.st_mode & 07777, 0660, "mode of the socket "
	    "(socket_mode)");
	assert_int_equal(chmod(h2.h_dir, 0711), 0);
	connect_path = h2.h_sock;
	/* A member of the group may connect; another user may not. */
	EXPECT_INT(as_user(65533, 65533, member, 1, try_connect), 0,
	    "connect() by a member of socket_group (errno)");
	EXPECT_INT(as_user(65533, 65533, NULL, 0, try_connect), EACCES,
	    "connect() by a non-member (errno)");
	harness_stop_ok(&h2);
	unlink(conf);
	rmdir(dir);
}

/* Item 12: a socket replaced by a symlink right after bind() (a directory
 * others may write to): forkd changes nothing through the link and
 * refuses to start. */
static void
test_socket_symlink(void **state)
{
	char		 dir[] = "/tmp/forkd-netsec.XXXXXX";
	char		 sock[96], victim[96], aside[112], out[4096];
	char		 asan[1024];
	const char	*old_asan = getenv("ASAN_OPTIONS");
	const char	*argv[] = { harness_forkd_bin(), "-s", sock, "-k",
			    H.h_key, "--socket-mode", "0666", "--pool", "0",
			    NULL };
	struct stat	 st;
	int		 fd, status;

	assert_non_null(mkdtemp(dir));
	/* Writable by all and not sticky: anyone may swap the socket. */
	assert_int_equal(chmod(dir, 0777), 0);
	snprintf(sock, sizeof sock, "%s/forkd.sock", dir);
	snprintf(victim, sizeof victim, "%s/victim", dir);
	snprintf(aside, sizeof aside, "%s.aside", sock);
	fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(victim, 0640), 0);

	setenv("LD_PRELOAD", NETSEC_BINDSWAP, 1);
	setenv("FORKD_TEST_BINDSWAP_VICTIM", victim, 1);
	/* A sanitizer build wants its runtime first in the list. */
	snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0",
	    old_asan ? old_asan : "", old_asan ? ":" : "");
	setenv("ASAN_OPTIONS", asan, 1);
	status = harness_run(argv, out, sizeof out, 3000 * harness_slow());
	unsetenv("LD_PRELOAD");
	unsetenv("FORKD_TEST_BINDSWAP_VICTIM");
	if (old_asan != NULL)
		setenv("ASAN_OPTIONS", old_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");

	assert_int_equal(stat(victim, &st), 0);
	if ((st.st_mode & 07777) != 0640)
		fail_msg("forkd changed the mode of the file a symlink at its "
		    "socket path points to: %04o, was 0640 (forkd: %s)",
		    (unsigned)(st.st_mode & 07777), out);
	if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 1)
		fail_msg("forkd with its socket swapped for a symlink: status "
		    "%#x, expected exit 1 (%s)", status, out);
	EXPECT_CONTAINS(out, "replaced right after bind", "forkd's message");
	unlink(sock);
	unlink(aside);
	unlink(victim);
	rmdir(dir);
}

/* Start h with the config text conf (and a 0666 socket in a 0711 dir,
 * for other uids). */
static void
start_with_conf(struct harness *h, const char *conftext, char *dir,
    char *conf, size_t conflen)
{
	const char	*args[] = { "-c", conf, "--socket-mode", "0666",
			    NULL };
	FILE		*fp;

	assert_non_null(mkdtemp(dir));
	snprintf(conf, conflen, "%s/forkd.conf", dir);
	fp = fopen(conf, "w");
	assert_non_null(fp);
	fputs(conftext, fp);
	fclose(fp);
	memset(h, 0, sizeof *h);
	assert_int_equal(harness_start(h, args), 0);
	assert_int_equal(chmod(h->h_dir, 0711), 0);
}

/* Item 5: a keyless flood from uid 65534 fails none of root's
 * handshakes (it failed 38-43 % of another uid's pings before). */
static void
test_flood_other_uid(void **state)
{
	const char	*argv[] = { NETSEC_FLOOD, H.h_sock, H.h_key, "3",
			    "65534", "0", NULL };
	char		 out[1024];
	const char	*p;
	unsigned long	 connects = 0, ok = 0, failed = 0;
	int		 st;

	if (geteuid() != 0)
		skip();
	assert_int_equal(chmod(H.h_dir, 0711), 0);
	st = harness_run(argv, out, sizeof out, 30000 * harness_slow());
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("forkd_flood: status %#x: %s", st, out);
	print_message("%s", out);
	p = strstr(out, "flood: ");
	if (p == NULL || sscanf(p, "flood: %lu connects", &connects) != 1 ||
	    (p = strstr(p, "uid 0: ")) == NULL ||
	    sscanf(p, "uid 0: %lu handshake+ping, %lu failed", &ok,
	    &failed) != 2)
		fail_msg("forkd_flood said: %s", out);
	/* The flood was one: many more connections than slots. */
	if (connects < 1000)
		fail_msg("only %lu flood connections in 3 s: %s", connects,
		    out);
	if (ok < 10 || failed > 0)
		fail_msg("uid 0's handshakes during uid 65534's flood: %lu "
		    "ok, %lu failed (%s)", ok, failed, out);
	/* forkd still serves. */
	{
		struct forkd *f = harness_connect(&H);

		EXPECT_OK(f, forkd_ping(f));
		forkd_close(f);
	}
}

static unsigned char	cap_key[4096];
static size_t		cap_keylen;

/* 0 if a key holder gets in and pings, else -the error. */
static int
try_forkd(void)
{
	struct forkd	*f;
	int		 r;

	r = forkd_connect_key(&f, connect_path, cap_key, cap_keylen);
	if (r == 0) {
		r = forkd_ping(f);
		forkd_close(f);
	}
	return r == 0 ? 0 : (-r & 0x7f);
}

/* Item 5: one uid holds at most max_connections_per_uid authenticated
 * connections; another uid still gets in. */
static void
test_connections_per_uid(void **state)
{
	struct harness	 h2;
	struct forkd	*f[4] = { NULL };
	char		 dir[] = "/tmp/forkd-netsec.XXXXXX", conf[64];
	unsigned char	*k;
	int		 r;

	if (geteuid() != 0)
		skip();
	start_with_conf(&h2, "[limits]\nmax_connections_per_uid = 3\n"
	    "max_handshakes_per_uid = 2\n", dir, conf, sizeof conf);
	for (int i = 0; i < 3; i++)
		f[i] = harness_connect(&h2);
	r = forkd_connect(&f[3], h2.h_sock, h2.h_key);
	if (r != -EUSERS) {
		if (r == 0)
			forkd_close(f[3]);
		fail_msg("4th connection of uid 0 with max_connections_per_uid "
		    "3: %d (%s), expected -EUSERS", r, forkd_strerror(r));
	}
	harness_wait_log(&h2, "max_connections_per_uid", 1,
	    5000 * harness_slow());
	k = read_key(h2.h_key, &cap_keylen);
	memcpy(cap_key, k, cap_keylen);
	connect_path = h2.h_sock;
	EXPECT_INT(as_user(65534, 65534, NULL, 0, try_forkd), 0,
	    "uid 65534 connecting while uid 0 is at its cap (errno)");
	/* One of uid 0's closes: uid 0 gets in again. */
	forkd_close(f[0]);
	f[0] = NULL;
	{
		int64_t end = harness_now_ms() + 5000 * harness_slow();

		while ((r = forkd_connect(&f[3], h2.h_sock, h2.h_key)) ==
		    -EUSERS && harness_now_ms() < end)
			harness_sleep_ms(20);
	}
	EXPECT_OK(f[3], r);
	for (int i = 0; i < 4; i++)
		if (f[i] != NULL)
			forkd_close(f[i]);

	/* max_handshakes_per_uid 2: a third unanswered connection of uid 0
	 * closes its first (Error -EUSERS); the second stays open. */
	{
		struct sockaddr_un	sun = { .sun_family = AF_UNIX };
		unsigned char		sn[AUTH_NONCE_LEN];
		struct pollfd		pfd;
		int			c[3];

		memcpy(sun.sun_path, h2.h_sock, strlen(h2.h_sock) + 1);
		for (int i = 0; i < 3; i++) {
			c[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
			    0);
			assert_int_equal(connect(c[i], (struct sockaddr *)&sun,
			    sizeof sun), 0);
			read_hello(c[i], sn);
		}
		EXPECT_INT(final_error(c[0]), -EUSERS, "Error code to the "
		    "oldest of 3 handshakes with max_handshakes_per_uid 2");
		pfd.fd = c[1];
		pfd.events = POLLIN;
		EXPECT_INT(poll(&pfd, 1, 300), 0, "events on the second "
		    "handshake (still open, nothing sent)");
		for (int i = 0; i < 3; i++)
			close(c[i]);
	}
	harness_stop_ok(&h2);
	unlink(conf);
	rmdir(dir);
}

static int
setup(void **state)
{
	static const char *const args[] = { "--socket-mode", "0666", NULL };

	return harness_start(&H, args) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
#ifdef NETSEC_HUNGFUSE
	/* A failed test_hung_fuse_fd left its mount (the server exits with
	 * it: its FLUSH answers after 3 s at most). */
	fuse_cleanup();
#endif
	harness_stop_ok(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linger_before_auth),
		cmocka_unit_test(test_linger_refused_and_queued),
		cmocka_unit_test(test_hung_fuse_fd),
		cmocka_unit_test(test_fd_on_auth_error),
		cmocka_unit_test(test_key_rotation),
		cmocka_unit_test(test_flood_other_uid),
		cmocka_unit_test(test_connections_per_uid),
		cmocka_unit_test(test_socket_group),
		cmocka_unit_test(test_socket_symlink),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
