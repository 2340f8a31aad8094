/* test_adversarial.c: hostile and broken clients against a real forkd,
 * each case with a well-behaved client W connected before it and checked
 * after it (ping, spawn of bench:exit 3), forkd's fd count unchanged and
 * no zombie among its children. Where the attack asks forkd to run
 * something, it asks for /bin/sh -c 'touch MARKER' and MARKER must not
 * exist afterwards.
 *
 * Frame-level attacks (tampered, replayed, reflected, truncated frames,
 * wrong keys, slowloris, oversized requests, more than 16 fds) need a
 * client that can forge frames: they are in tests/pyclient/test_attacks.py.
 * Here: unknown targets and unrunnable paths, fds of unusual kinds, 1,000
 * connections at once, forkd out of fds, and clients SIGKILLed in the
 * middle of their work. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "harness.h"

static struct harness	H;
static char		conf[HARNESS_PATH_MAX + 16];

/* What a failed test may leave behind; cleanup() undoes it. */
#define MAX_HELD	1100
static int		held_fd[MAX_HELD];	/* our flood sockets */
static int		n_held_fd;
static pid_t		held_pid[64];		/* forked clients */
static int		n_held_pid;
static struct rlimit	held_rlimit;		/* forkd's, if lowered */
static int		rlimit_lowered;

static void
hold_fd(int fd)
{
	if (n_held_fd < MAX_HELD)
		held_fd[n_held_fd++] = fd;
}

static void
hold_pid(pid_t pid)
{
	if (n_held_pid < (int)(sizeof held_pid / sizeof held_pid[0]))
		held_pid[n_held_pid++] = pid;
}

/* Per-test teardown: forkd's fd limit back, flood sockets closed, forked
 * clients killed, so one failure does not spill into the next test. */
static int
cleanup(void **state)
{
	if (rlimit_lowered)
		(void)prlimit(H.h_pid, RLIMIT_NOFILE, &held_rlimit, NULL);
	rlimit_lowered = 0;
	for (int i = 0; i < n_held_fd; i++)
		if (held_fd[i] >= 0)
			close(held_fd[i]);
	n_held_fd = 0;
	for (int i = 0; i < n_held_pid; i++) {
		kill(held_pid[i], SIGKILL);
		(void)waitpid(held_pid[i], NULL, 0);
	}
	n_held_pid = 0;
	return 0;
}

/* The well-behaved client of one case, and forkd's fds before it. */
struct par {
	struct forkd	*p_w;
	int		 p_fds;
	const char	*p_what;
};

/* fds and zombies first, then W connects: before the attack. */
static void
par_begin(struct par *p, const char *what)
{
	p->p_what = what;
	p->p_fds = harness_settled_fds(H.h_pid);
	if (p->p_fds < 0)
		fail_msg("%s: cannot read /proc/%d/fd", what, (int)H.h_pid);
	p->p_w = harness_connect(&H);
	EXPECT_OK(p->p_w, forkd_ping(p->p_w));
}

/* W pings and runs bench:exit 3. */
static void
par_serving(struct par *p, const char *when)
{
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	const char		*argv[] = { "bench:exit", "3", NULL };
	pid_t			 pid;
	int			 r;

	if ((r = forkd_ping(p->p_w)) != 0)
		fail_msg("%s: the well-behaved client's ping %s: %d (%s) "
		    "\"%s\"", p->p_what, when, r, forkd_strerror(r),
		    forkd_errmsg(p->p_w));
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	if ((r = forkd_spawn(p->p_w, &o, &pid, NULL, 0)) != 0)
		fail_msg("%s: the well-behaved client's spawn %s: %d (%s) "
		    "\"%s\"", p->p_what, when, r, forkd_strerror(r),
		    forkd_errmsg(p->p_w));
	if ((r = forkd_wait(p->p_w, pid, NULL, 10000 * harness_slow(),
	    &ev)) != 0)
		fail_msg("%s: waiting for the well-behaved client's bench:exit "
		    "%s: %d (%s)", p->p_what, when, r, forkd_strerror(r));
	if (ev.exitcode != 3)
		fail_msg("%s: the well-behaved client's bench:exit 3 %s "
		    "reported exitcode %d", p->p_what, when, ev.exitcode);
}

/* After the attack: marker absent, W served, fds back, no zombies. */
static void
par_end(struct par *p, const char *marker)
{
	int	n, all, zombies;

	harness_sleep_ms(300);
	if (marker != NULL && access(marker, F_OK) == 0)
		fail_msg("%s: the attack's request ran: %s exists", p->p_what,
		    marker);
	if (harness_pid_state(H.h_pid) != 1)
		fail_msg("%s: forkd (pid %d) is gone", p->p_what,
		    (int)H.h_pid);
	par_serving(p, "after the attack");
	forkd_close(p->p_w);
	p->p_w = NULL;
	/* Sessions close and the pool refills asynchronously. */
	n = harness_wait_fds(H.h_pid, p->p_fds, 10000 * harness_slow());
	if (n != p->p_fds)
		fail_msg("%s: forkd had %d fds open before the attack and %d "
		    "after it (with every connection closed)", p->p_what,
		    p->p_fds, n);
	harness_children(H.h_pid, &all, &zombies);
	if (zombies != 0)
		fail_msg("%s: %d of forkd's %d children are zombies",
		    p->p_what, zombies, all);
}

/* A marker path in the harness dir (not created). */
static void
marker_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/marker-%s", H.h_dir, name);
	unlink(buf);
}

/* Spawn must fail with want, an errmsg naming needle, no exit event and
 * the connection still usable. */
static void
expect_refused2(struct forkd *f, struct forkd_spawn_opts *o, int want,
    const char *needle, const char *needle2)
{
	struct forkd_exit	ev;
	pid_t			pid = -1;
	int			r;

	r = forkd_spawn(f, o, &pid, NULL, 0);
	if (r != want)
		fail_msg("spawn of \"%s\": returned %d (%s) \"%s\" (pid %d); "
		    "expected %d (%s)", o->target, r, forkd_strerror(r),
		    forkd_errmsg(f), (int)pid, want, forkd_strerror(want));
	if (needle != NULL && strstr(forkd_errmsg(f), needle) == NULL)
		fail_msg("spawn of \"%s\" refused with \"%s\", which does not "
		    "name \"%s\"", o->target, forkd_errmsg(f), needle);
	if (needle2 != NULL && strstr(forkd_errmsg(f), needle2) == NULL)
		fail_msg("spawn of \"%s\" refused with \"%s\", which does not "
		    "say \"%s\"", o->target, forkd_errmsg(f), needle2);
	if ((r = forkd_ping(f)) != 0)
		fail_msg("ping after the refused spawn of \"%s\": %d (%s)",
		    o->target, r, forkd_strerror(r));
	r = forkd_wait_exit_event(f, 100, &ev);
	if (r != -ETIMEDOUT)
		fail_msg("refused spawn of \"%s\" was followed by %s (pid %d "
		    "exitcode %d)", o->target, r == 0 ? "an exit event" :
		    forkd_strerror(r), r == 0 ? (int)ev.pid : 0,
		    r == 0 ? ev.exitcode : 0);
}

static void
expect_refused(struct forkd *f, struct forkd_spawn_opts *o, int want,
    const char *needle)
{
	expect_refused2(f, o, want, needle, NULL);
}

/* Write a file with mode. */
static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
	if (chmod(path, mode) != 0)
		fail_msg("chmod %s: %s", path, strerror(errno));
}

/* Unknown module and entry, unrunnable paths: a clear error each, the
 * touch never runs, the connection stays usable. */
static void
test_unknown_targets(void **state)
{
	struct par		 p;
	struct forkd		*a;
	struct forkd_spawn_opts	 o;
	char			 m[HARNESS_PATH_MAX + 32];
	char			 cmd[HARNESS_PATH_MAX * 2];
	char			 noexec[HARNESS_PATH_MAX + 32];
	char			 noshebang[HARNESS_PATH_MAX + 32];
	char			 loop[HARNESS_PATH_MAX + 32];
	char			 text[HARNESS_PATH_MAX * 3];
	const char		*argv[] = { "sh", "-c", cmd, NULL };
	static const struct {
		const char	*target;
		int		 err;
		const char	*needle;	/* NULL: the target itself */
	} bad[] = {
		{ "nosuchmodule:sh", -ENOENT, NULL },
		{ "bench:nosuchentry", -ENOENT, NULL },
		{ "bench:", -ENOENT, NULL },
		{ ":sh", -ENOENT, NULL },
		{ "sh", -EINVAL, "absolute" },
		{ "./sh", -EINVAL, "absolute" },
		{ "/nonexistent-forkd-dir/sh", -ENOENT, NULL },
		{ "/bin/sh/", -ENOTDIR, NULL },
		{ "/", -EACCES, NULL },
		{ "/etc/passwd", -EACCES, NULL },
	};

	marker_path(m, sizeof m, "targets");
	snprintf(cmd, sizeof cmd, "touch '%s'", m);
	snprintf(noexec, sizeof noexec, "%s/touch-noexec.sh", H.h_dir);
	snprintf(noshebang, sizeof noshebang, "%s/touch-noshebang", H.h_dir);
	snprintf(loop, sizeof loop, "%s/loop", H.h_dir);
	snprintf(text, sizeof text, "#!/bin/sh\n%s\n", cmd);
	write_file(noexec, text, 0644);
	write_file(noshebang, cmd, 0755);
	unlink(loop);
	if (symlink(loop, loop) != 0)
		fail_msg("symlink %s: %s", loop, strerror(errno));

	par_begin(&p, "unknown targets");
	a = harness_connect(&H);
	forkd_spawn_opts_init(&o);
	o.argv = argv;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o.target = bad[i].target;
		expect_refused(a, &o, bad[i].err, bad[i].needle != NULL ?
		    bad[i].needle : bad[i].target);
	}
	/* Scripts that would touch the marker if they could run. */
	o.target = noexec;
	o.argv = NULL;
	expect_refused2(a, &o, -EACCES, noexec, "exec");
	o.target = noshebang;
	expect_refused2(a, &o, -ENOEXEC, noshebang, "exec");
	o.target = loop;
	expect_refused2(a, &o, -ELOOP, loop, "exec");
	forkd_close(a);
	par_end(&p, m);
	unlink(noexec);
	unlink(noshebang);
	unlink(loop);
}

/* A listening AF_UNIX socket at path; returns its fd. */
static int
listen_at(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	unlink(path);
	if (strlen(path) >= sizeof sun.sun_path)
		fail_msg("path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(fd, 4) != 0)
		fail_msg("listening socket %s: %s", path, strerror(errno));
	return fd;
}

/* fds of unusual kinds: a directory as stdin, a listening socket as
 * stderr, an O_PATH fd. SCM_RIGHTS carries any open file and forkd
 * passes it through unchanged (inetd-style servers get a listening socket
 * as stdin): the child sees exactly what was passed, and forkd keeps no
 * copy. */
static void
test_fds_of_unusual_kinds(void **state)
{
	struct par		 p;
	struct forkd		*a;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	char			 sockpath[HARNESS_PATH_MAX + 32];
	char			 out[4096], want[256];
	const char		*sh[] = { "/bin/sh", "-c",
	    "readlink /proc/$$/fd/0; readlink /proc/$$/fd/2; "
	    "cat <&0 >/dev/null 2>&1; echo cat=$?", NULL };
	struct stat		 st;
	int			 dir, lsock, opath, pp[2], c;
	pid_t			 pid;

	snprintf(sockpath, sizeof sockpath, "%s/listen.sock", H.h_dir);
	par_begin(&p, "fds of unusual kinds");
	a = harness_connect(&H);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	lsock = listen_at(sockpath);
	if (dir < 0 || fstat(lsock, &st) != 0)
		fail_msg("open / or fstat: %s", strerror(errno));
	harness_pipe(pp);
	forkd_spawn_opts_init(&o);
	o.target = "/bin/sh";
	o.argv = sh;
	o.stdin_fd = dir;
	o.stdout_fd = pp[1];
	o.stderr_fd = lsock;
	EXPECT_OK(a, forkd_spawn(a, &o, &pid, NULL, 0));
	close(pp[1]);
	harness_read_all(pp[0], out, sizeof out, 10000 * harness_slow());
	close(pp[0]);
	EXPECT_OK(a, forkd_wait_exit_event(a, 10000 * harness_slow(), &ev));
	EXPECT_INT(ev.pid, pid, "pid of the exit event");
	EXPECT_INT(ev.exitcode, 0, "exitcode of the sh with odd fds");
	snprintf(want, sizeof want, "/\nsocket:[%lu]\ncat=1\n",
	    (unsigned long)st.st_ino);
	EXPECT_STR(out, want, "what the child saw at fd 0 (a directory) and "
	    "fd 2 (a listening socket), and cat reading the directory");

	/* The socket is still ours and listening: connect to it. */
	{
		struct sockaddr_un	sun = { .sun_family = AF_UNIX };

		memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(c, (struct sockaddr *)&sun, sizeof sun) != 0)
			fail_msg("connect to the listening socket passed as "
			    "stderr: %s", strerror(errno));
		close(c);
	}

	/* An O_PATH fd: the kernel passes it too; a child can stat it. */
	opath = open("/etc", O_PATH | O_CLOEXEC);
	if (opath < 0)
		fail_msg("open /etc O_PATH: %s", strerror(errno));
	{
		const char *sh2[] = { "/bin/sh", "-c",
		    "readlink /proc/$$/fd/0; cat <&0 2>/dev/null; echo cat=$?",
		    NULL };

		harness_pipe(pp);
		o.argv = sh2;
		o.stdin_fd = opath;
		o.stderr_fd = -1;
		o.stdout_fd = pp[1];
		EXPECT_OK(a, forkd_spawn(a, &o, &pid, NULL, 0));
		close(pp[1]);
		harness_read_all(pp[0], out, sizeof out, 10000 *
		    harness_slow());
		close(pp[0]);
		EXPECT_OK(a, forkd_wait_exit_event(a, 10000 * harness_slow(),
		    &ev));
		EXPECT_INT(ev.exitcode, 0, "exitcode of the sh with an O_PATH "
		    "stdin");
		EXPECT_STR(out, "/etc\ncat=1\n", "what the child saw at fd 0 "
		    "(an O_PATH fd of /etc)");
	}
	close(opath);
	close(dir);
	close(lsock);
	unlink(sockpath);
	forkd_close(a);
	par_end(&p, NULL);
}

/* First datagram of a flood connection: 1 Hello, 2 Error -EUSERS
 * followed by EOF, 3 EOF or reset, -1 anything else (*ret_code). */
static int
classify(int fd, int timeout_ms, int *ret_code)
{
	unsigned char	buf[512];
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	ssize_t		n;
	uint64_t	v = 0;
	size_t		i;

	*ret_code = 0;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	n = recv(fd, buf, sizeof buf, 0);
	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return 3;
	if (n < 18)
		return -1;
	/* ServerMessage field 1 (hello) or 5 (error), length-delimited. */
	if (buf[16] == 0x0a)
		return 1;
	if (buf[16] != 0x2a || buf[17] >= 0x80 || buf[18] != 0x08)
		return -1;
	/* Error.code: an int32 as a (10-byte, if negative) varint. */
	for (i = 19; i < (size_t)n && i < 29; i++) {
		v |= (uint64_t)(buf[i] & 0x7f) << (7 * (i - 19));
		if ((buf[i] & 0x80) == 0)
			break;
	}
	*ret_code = (int)(int32_t)v;
	pfd.revents = 0;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	n = recv(fd, buf, sizeof buf, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET) ? 2 : -1;
}

/* 1,000 connections at once, over max_connections (64), none of which
 * ever answers its Hello: each one over the limit takes the slot of the
 * oldest connection still in its handshake (which gets Error -EUSERS and
 * is closed), so the flood cannot lock key holders out: W is served
 * throughout, a key holder connecting with the last 63 still open gets in,
 * and forkd ends with the fds it started with. */
static void
test_thousand_connections(void **state)
{
	enum { NCONN = 1000 };
	int			*s = held_fd;
	static char		 connected[NCONN];
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct rlimit		 rl;
	struct par		 p;
	struct forkd		*late = NULL;
	int			 nconn = 0, hello = 0, refused = 0, closed = 0;
	int			 other = 0, badcode = 0, code, r;
	int64_t			 end;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		fail_msg("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < NCONN + 200) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		if (rl.rlim_cur < NCONN + 200 ||
		    setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fail_msg("cannot raise RLIMIT_NOFILE to %d (hard limit "
			    "%llu)", NCONN + 200,
			    (unsigned long long)rl.rlim_max);
	}
	memcpy(sun.sun_path, H.h_sock, strlen(H.h_sock) + 1);
	par_begin(&p, "1000 connections");

	for (int i = 0; i < NCONN; i++) {
		hold_fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0));
		if (s[i] < 0)
			fail_msg("socket %d: %s", i, strerror(errno));
		connected[i] = 0;
	}
	/* Non-blocking connects; a full backlog says EAGAIN: retry. */
	end = harness_now_ms() + 30000 * harness_slow();
	while (nconn < NCONN && harness_now_ms() < end) {
		for (int i = 0; i < NCONN; i++) {
			if (connected[i])
				continue;
			if (connect(s[i], (struct sockaddr *)&sun,
			    sizeof sun) == 0 || errno == EISCONN) {
				connected[i] = 1;
				nconn++;
			} else if (errno != EAGAIN && errno != EINPROGRESS &&
			    errno != EALREADY)
				fail_msg("connect %d: %s", i, strerror(errno));
		}
		if (nconn < NCONN)
			harness_sleep_ms(2);
	}
	if (nconn < NCONN)
		fail_msg("only %d of %d connects got through in 30 s", nconn,
		    NCONN);

	/* W is served while the flood is held open. */
	par_serving(&p, "during the flood");

	for (int i = 0; i < NCONN; i++) {
		switch (classify(s[i], 10000 * harness_slow(), &code)) {
		case 1:
			hello++;
			break;
		case 2:
			refused++;
			if (code != -EUSERS)
				badcode = code;
			break;
		case 3:
			closed++;
			break;
		default:
			other++;
			break;
		}
	}
	if (other != 0 || badcode != 0 || hello + refused + closed != NCONN)
		fail_msg("of %d connections: %d got a Hello, %d Error -EUSERS "
		    "then EOF, %d only EOF, %d something else or nothing in "
		    "10 s; an Error code other than -EUSERS: %d", NCONN, hello,
		    refused, closed, other, badcode);
	/* A slot held by an unanswered handshake is never a reason to
	 * refuse: every connection was accepted (Hello), some then closed
	 * for a newer one. */
	if (hello != NCONN)
		fail_msg("%d of %d connections got a Hello with W connected "
		    "and max_connections 64 (refused %d, closed %d)", hello,
		    NCONN, refused, closed);
	/* Full house of unanswered handshakes: a key holder still gets in
	 * (it takes the oldest one's slot), and W is still served. */
	r = forkd_connect(&late, H.h_sock, H.h_key);
	if (r != 0)
		fail_msg("a key holder with 63 unanswered handshakes open: %d "
		    "(%s), expected to get in", r, forkd_strerror(r));
	EXPECT_OK(late, forkd_ping(late));
	forkd_close(late);
	late = NULL;
	par_serving(&p, "with the accepted flood connections still open");
	cleanup(NULL);		/* closes the flood */
	par_end(&p, NULL);

	/* A new client is served afterwards. */
	end = harness_now_ms() + 5000 * harness_slow();
	while ((r = forkd_connect(&late, H.h_sock, H.h_key)) == -EUSERS &&
	    harness_now_ms() < end)
		harness_sleep_ms(20);
	if (r != 0)
		fail_msg("connect after the flood: %d (%s)", r,
		    forkd_strerror(r));
	EXPECT_OK(late, forkd_ping(late));
	forkd_close(late);
}

/* How many times does forkd's log hold needle? */
static int
log_count(const char *needle)
{
	return harness_log_count(&H, needle);
}

/* Does forkd's log contain needle? */
static int
log_mentions(const char *needle)
{
	return log_count(needle) > 0;
}

/* A connection that sends one datagram of garbage without the key, then
 * waits for forkd to close it. */
static void
garbage_connection(const struct sockaddr_un *sun, int i)
{
	unsigned char	junk[64];
	int		fd;

	memset(junk, 0x5a, sizeof junk);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		fail_msg("socket: %s", strerror(errno));
	if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) != 0)
		fail_msg("connect %d: %s", i, strerror(errno));
	if (send(fd, junk, sizeof junk, MSG_NOSIGNAL) < 0)
		fail_msg("send %d: %s", i, strerror(errno));
	/* forkd's Hello, then EOF once it has refused the garbage. */
	for (char b[512]; recv(fd, b, sizeof b, 0) > 0;)
		;
	close(fd);
}

/* 300 connections that each send garbage without the key: every one is
 * refused, but forkd logs at most 20 such lines per 5 s (a flood must not
 * flood the log), W is served, and the next line after a quiet 5 s says
 * how many were left out. */
static void
test_garbage_flood_log(void **state)
{
	enum { NFLOOD = 300 };
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct par		 p;
	int			 before, after, most;
	int64_t			 t0;

	memcpy(sun.sun_path, H.h_sock, strlen(H.h_sock) + 1);
	par_begin(&p, "a garbage flood");
	before = log_count("protocol error");
	t0 = harness_now_ms();
	for (int i = 0; i < NFLOOD; i++)
		garbage_connection(&sun, i);
	/* 20 lines per 5 s window; the flood may straddle a few. */
	most = 20 * (int)((harness_now_ms() - t0) / 5000 + 2);
	par_serving(&p, "after the flood");
	after = log_count("protocol error");
	if (after - before > most)
		fail_msg("%d \"protocol error\" lines logged for %d "
		    "connections that sent garbage (expected at most %d)",
		    after - before, NFLOOD, most);
	harness_sleep_ms(5200);
	garbage_connection(&sun, NFLOOD);
	if (log_count("protocol error") != after + 1 ||
	    !log_mentions("similar lines not logged)"))
		fail_msg("the first garbage connection after 5 quiet seconds: "
		    "%d new \"protocol error\" lines, expected 1 saying how "
		    "many were not logged", log_count("protocol error") -
		    after);
	par_end(&p, NULL);
}

/* utime + stime of pid in clock ticks, from /proc/PID/stat. */
static long long
cpu_ticks(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	long long	 ut = -1, st = -1;
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0 || (p = strrchr((buf[n] = '\0', buf), ')')) == NULL)
		return -1;
	/* Fields 14 and 15 (utime, stime); p is at the end of field 2. */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld "
	    "%lld", &ut, &st) != 2)
		return -1;
	return ut + st;
}

/* forkd out of fds (its RLIMIT_NOFILE lowered to what it uses plus a few,
 * then a flood of connections): it pauses accepting instead of spinning,
 * W keeps its connection and gets answers (a spawn may fail, with a clear
 * error), and once the flood is gone and the limit restored everything
 * is as before. */
static void
test_fd_exhaustion(void **state)
{
	enum { NFLOOD = 100 };
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct rlimit		 old, low;
	struct par		 p;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ev;
	struct forkd		*late = NULL;
	const char		*argv[] = { "bench:exit", "3", NULL };
	int			*s = held_fd, used, r;
	long long		 t0, t1;
	pid_t			 pid;

	memcpy(sun.sun_path, H.h_sock, strlen(H.h_sock) + 1);
	par_begin(&p, "fd exhaustion");
	used = harness_settled_fds(H.h_pid);
	if (prlimit(H.h_pid, RLIMIT_NOFILE, NULL, &old) != 0)
		fail_msg("prlimit get: %s", strerror(errno));
	low = old;
	low.rlim_cur = (rlim_t)used + 4;
	held_rlimit = old;
	rlimit_lowered = 1;
	if (prlimit(H.h_pid, RLIMIT_NOFILE, &low, NULL) != 0)
		fail_msg("prlimit set: %s", strerror(errno));
	for (int i = 0; i < NFLOOD; i++) {
		hold_fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0));
		if (s[i] < 0)
			fail_msg("socket: %s", strerror(errno));
		(void)connect(s[i], (struct sockaddr *)&sun, sizeof sun);
	}
	harness_sleep_ms(300);
	/* forkd did run out: it says so when it pauses accepting. */
	if (!log_mentions("accept (pausing for 1 s): Too many open files"))
		fail_msg("forkd (RLIMIT_NOFILE %d, %d fds open, %d connects) "
		    "never logged an accept() EMFILE pause", used + 4,
		    harness_count_fds(H.h_pid), NFLOOD);

	/* No busy loop while out of fds. */
	t0 = cpu_ticks(H.h_pid);
	harness_sleep_ms(1000);
	t1 = cpu_ticks(H.h_pid);
	if (t0 < 0 || t1 < 0)
		fail_msg("cannot read forkd's CPU time");
	if (t1 - t0 > sysconf(_SC_CLK_TCK) / 4 * harness_slow())
		fail_msg("forkd used %lld ticks of CPU in 1 s while out of fds "
		    "(%ld ticks per second): spinning", t1 - t0,
		    sysconf(_SC_CLK_TCK));

	/* W is answered; a spawn (which needs fds in forkd) works or fails
	 * with an error reply, never silence, and W stays connected. */
	EXPECT_OK(p.p_w, forkd_ping(p.p_w));
	forkd_spawn_opts_init(&o);
	o.target = "bench:exit";
	o.argv = argv;
	r = forkd_spawn(p.p_w, &o, &pid, NULL, 0);
	if (r == 0) {
		EXPECT_OK(p.p_w, forkd_wait_exit_event(p.p_w, 10000 *
		    harness_slow(), &ev));
		EXPECT_INT(ev.exitcode, 3, "exitcode of W's spawn while forkd "
		    "is out of fds");
	} else if (r == -ECONNRESET || r == -ETIMEDOUT ||
	    forkd_errmsg(p.p_w)[0] == '\0')
		fail_msg("W's spawn while forkd is out of fds: %d (%s) \"%s\"",
		    r, forkd_strerror(r), forkd_errmsg(p.p_w));
	EXPECT_OK(p.p_w, forkd_ping(p.p_w));

	cleanup(NULL);		/* forkd's limit back, the flood closed */
	/* The pool may be refilling with back-off. */
	harness_sleep_ms(1000);
	par_end(&p, NULL);
	r = forkd_connect(&late, H.h_sock, H.h_key);
	if (r != 0)
		fail_msg("connect after the fd exhaustion: %d (%s)", r,
		    forkd_strerror(r));
	EXPECT_OK(late, forkd_ping(late));
	forkd_close(late);
}

/* Read n pids from fd (a pipe from a forked client), 20 s at most. */
static void
read_pids(int fd, pid_t *pids, size_t n)
{
	size_t	want = n * sizeof *pids, got = 0;
	int64_t	end = harness_now_ms() + 20000 * harness_slow();

	while (got < want && harness_now_ms() < end) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		ssize_t		r;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(fd, (char *)pids + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got != want)
		fail_msg("forked client sent %zu of %zu bytes of pids", got,
		    want);
}

/* In a forked client: spawn target/argv with the daemon flag or not. */
static pid_t
child_spawn(struct forkd *f, const char *target, const char *const *argv,
    int daemon)
{
	struct forkd_spawn_opts	o;
	pid_t			pid;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	o.daemon = daemon;
	if (forkd_spawn(f, &o, &pid, NULL, 0) != 0)
		_exit(2);
	return pid;
}

/* Fork a client that spawns a daemon-flag bench:sleep, a daemon-flag sh
 * ignoring SIGTERM and a plain bench:sleep, sends their pids up the pipe
 * and then blocks in a wait for the first (request sent, reply pending). */
static pid_t
fork_spawner(struct par *p, int *ret_rfd)
{
	const char	*sl[] = { "bench:sleep", "60", NULL };
	const char	*sh[] = { "/bin/sh", "-c",
	    "trap '' TERM; while :; do sleep 0.05; done", NULL };
	int		 pp[2];
	pid_t		 cpid;

	harness_pipe(pp);
	cpid = fork();
	if (cpid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (cpid == 0) {
		struct forkd		*f = NULL;
		struct forkd_exit	 ev;
		pid_t			 pids[3];

		close(pp[0]);
		close(forkd_fd(p->p_w));	/* our copy of W's socket */
		if (forkd_connect(&f, H.h_sock, H.h_key) != 0)
			_exit(2);
		pids[0] = child_spawn(f, "bench:sleep", sl, 1);
		pids[1] = child_spawn(f, "/bin/sh", sh, 1);
		pids[2] = child_spawn(f, "bench:sleep", sl, 0);
		if (write(pp[1], pids, sizeof pids) != (ssize_t)sizeof pids)
			_exit(2);
		if (forkd_wait(f, pids[0], NULL, FORKD_INFINITE, &ev) != 0)
			_exit(4);
		_exit(3);
	}
	close(pp[1]);
	*ret_rfd = pp[0];
	return cpid;
}

/* SIGKILL a forked client and reap it. */
static void
kill_client(pid_t cpid)
{
	int st = 0;

	kill(cpid, SIGKILL);
	if (waitpid(cpid, &st, 0) == cpid)
		/* Reaped: cleanup() must not kill the pid again. */
		for (int i = 0; i < n_held_pid; i++)
			if (held_pid[i] == cpid)
				held_pid[i] = held_pid[--n_held_pid];
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
		fail_msg("forked client %d: status %#x, expected killed by "
		    "SIGKILL (did its spawns fail?)", (int)cpid, st);
}

/* Wait until pid is gone (reaped, not a zombie); fail after ms. */
static void
expect_gone(pid_t pid, int ms, const char *what)
{
	int64_t	end = harness_now_ms() + ms;
	int	s;

	while ((s = harness_pid_state(pid)) != 0 && harness_now_ms() < end)
		harness_sleep_ms(20);
	if (s != 0)
		fail_msg("%s (pid %d) still %s %d ms after its client was "
		    "SIGKILLed", what, (int)pid, s == 2 ? "a zombie" :
		    "running", ms);
}

/* A client SIGKILLed while its wait is pending: its daemon-flag children
 * are terminated (the one ignoring SIGTERM is SIGKILLed after
 * kill_grace_ms), the plain one runs on. */
static void
test_client_killed_mid_request(void **state)
{
	struct par		 p;
	struct forkd_exit	 ev;
	pid_t			 pids[3], cpid;
	int			 rfd, slow = harness_slow();

	par_begin(&p, "client killed mid-request");
	cpid = fork_spawner(&p, &rfd);
	hold_pid(cpid);
	read_pids(rfd, pids, 3);
	close(rfd);
	harness_wait_ignored(pids[1], SIGTERM, 5000 * slow);
	harness_sleep_ms(200);		/* the wait request is on its way */
	kill_client(cpid);

	expect_gone(pids[0], 3000 * slow, "daemon-flag bench:sleep");
	/* kill_grace_ms is 1000 in this suite's config. */
	expect_gone(pids[1], 4000 * slow, "daemon-flag sh ignoring SIGTERM");
	EXPECT_OK(p.p_w, forkd_wait(p.p_w, pids[0], NULL, 5000, &ev));
	EXPECT_INT(ev.exitcode, -SIGTERM, "exitcode of the daemon-flag "
	    "bench:sleep of the killed client");
	EXPECT_OK(p.p_w, forkd_wait(p.p_w, pids[1], NULL, 5000, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of the daemon-flag sh "
	    "ignoring SIGTERM, after the grace period");
	EXPECT_INT(harness_pid_state(pids[2]), 1, "state of the plain child "
	    "of the killed client (1 = running)");
	EXPECT_OK(p.p_w, forkd_kill(p.p_w, pids[2]));
	EXPECT_OK(p.p_w, forkd_wait(p.p_w, pids[2], NULL, 5000 * slow, &ev));
	EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of the plain child");
	par_end(&p, NULL);
}

/* 20 clients, each with three children, SIGKILLed at the same moment. */
static void
test_many_clients_killed(void **state)
{
	enum { NCLIENT = 20 };
	struct par		 p;
	struct forkd_exit	 ev;
	pid_t			 pids[NCLIENT][3], cpid[NCLIENT];
	int			 rfd, slow = harness_slow(), all, z;

	par_begin(&p, "20 clients killed at once");
	for (int i = 0; i < NCLIENT; i++) {
		cpid[i] = fork_spawner(&p, &rfd);
		hold_pid(cpid[i]);
		read_pids(rfd, pids[i], 3);
		close(rfd);
	}
	harness_sleep_ms(200);
	for (int i = 0; i < NCLIENT; i++)
		kill(cpid[i], SIGKILL);
	for (int i = 0; i < NCLIENT; i++)
		kill_client(cpid[i]);
	par_serving(&p, "while 40 daemon children are terminated");
	for (int i = 0; i < NCLIENT; i++) {
		expect_gone(pids[i][0], 3000 * slow, "daemon-flag bench:sleep");
		expect_gone(pids[i][1], 4000 * slow, "daemon-flag sh");
		EXPECT_INT(harness_pid_state(pids[i][2]), 1, "state of a plain "
		    "child of a killed client (1 = running)");
	}
	harness_children(H.h_pid, &all, &z);
	if (all != NCLIENT || z != 0)
		fail_msg("forkd has %d children (%d zombies) after the daemon "
		    "children of %d killed clients ended; expected the %d "
		    "plain ones", all, z, NCLIENT, NCLIENT);
	for (int i = 0; i < NCLIENT; i++)
		EXPECT_OK(p.p_w, forkd_kill(p.p_w, pids[i][2]));
	for (int i = 0; i < NCLIENT; i++) {
		EXPECT_OK(p.p_w, forkd_wait(p.p_w, pids[i][2], NULL,
		    5000 * slow, &ev));
		EXPECT_INT(ev.exitcode, -SIGKILL, "exitcode of a plain child");
	}
	par_end(&p, NULL);
	harness_children(H.h_pid, &all, &z);
	if (all != 0)
		fail_msg("%d children (%d zombies) of forkd left", all, z);
}

static void
test_stop(void **state)
{
	harness_stop_ok(&H);
}

static int
group_setup(void **state)
{
	const char	*extra[] = { "-c", conf, NULL };

	/* Writes to the dead clients' sockets must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	if (harness_conf_new(conf, sizeof conf, "adv") != 0)
		return -1;
	/* A long handshake deadline keeps the 1,000-connection count exact;
	 * a short grace keeps the SIGTERM-ignoring children quick. */
	harness_conf_write(conf, "# written by test_adversarial\n[limits]\n"
	    "max_connections = 64\nhandshake_timeout_ms = 60000\n"
	    "kill_grace_ms = 1000\n");
	return harness_start(&H, extra);
}

static int
group_teardown(void **state)
{
	if (H.h_pid > 0)
		harness_stop(&H);
	unlink(conf);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_unknown_targets, cleanup),
		cmocka_unit_test_teardown(test_fds_of_unusual_kinds, cleanup),
		cmocka_unit_test_teardown(test_thousand_connections, cleanup),
		cmocka_unit_test_teardown(test_garbage_flood_log, cleanup),
		cmocka_unit_test_teardown(test_fd_exhaustion, cleanup),
		cmocka_unit_test_teardown(test_client_killed_mid_request,
		    cleanup),
		cmocka_unit_test_teardown(test_many_clients_killed, cleanup),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests_name("integration_adversarial", tests,
	    group_setup, group_teardown);
}
