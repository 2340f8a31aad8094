/* test_closer_pipe.c: forkd never closes a client's fd itself, not even an
 * anonymous pipe's end (issue 17 asked whether pipes could be closed
 * inline, off forkd-closer; issue 13 item 2). The last close of a pipe
 * end takes the pipe's lock, which a writer holds while it copies from
 * its buffer, and a fault in that copy can wait forever (a userfaultfd
 * region, as here, or a page of a hung FUSE mmap): forkd would block.
 * So a pipe whose lock is held that way, passed to forkd and left with
 * forkd's copy as its last reference, must not stop forkd. And a pipe,
 * a FIFO and an AF_UNIX socket all go to forkd-closer: with it stopped,
 * forkd's copy stays open and the reader sees no EOF until it runs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "harness.h"

static struct harness	H;
#define CLOSERS_MAX	16
static pid_t		closers[CLOSERS_MAX];
static int		nclosers;

/* Does pid share forkd's fd table? Every socket fd of forkd is the same
 * socket under the same number in pid's table. */
static int
shares_table(pid_t forkd, pid_t pid)
{
	char		 dir[64], path[384], a[64], b[64];
	DIR		*d;
	struct dirent	*de;
	ssize_t		 na, nb;
	int		 same = 0, differ = 0;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)forkd);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((na = readlink(path, a, sizeof a - 1)) <= 0)
			continue;
		a[na] = '\0';
		if (strncmp(a, "socket:[", 8) != 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/fd/%s", (int)pid,
		    de->d_name);
		nb = readlink(path, b, sizeof b - 1);
		if (nb > 0)
			b[nb] = '\0';
		if (nb == na && strcmp(a, b) == 0)
			same++;
		else
			differ++;
	}
	closedir(d);
	return same > 0 && differ == 0;
}

/* forkd-closer and its workers: the forkd-closer processes that share
 * forkd's fd table. */
static int
find_closers(void)
{
	DIR		*d = opendir("/proc");
	struct dirent	*de;
	char		 path[300], comm[32];
	FILE		*fp;

	assert_non_null(d);
	nclosers = 0;
	while ((de = readdir(d)) != NULL && nclosers < CLOSERS_MAX) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/comm", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof comm, fp) != NULL &&
		    strcmp(comm, "forkd-closer\n") == 0 &&
		    shares_table(H.h_pid, (pid_t)atoi(de->d_name)))
			closers[nclosers++] = (pid_t)atoi(de->d_name);
		fclose(fp);
	}
	closedir(d);
	return nclosers;
}

/* What forkd and every forkd-closer process are doing (state, kernel wait
 * channel), and forkd's log: printed when a test here fails. */
static void
diagnose(const char *why)
{
	DIR		*d = opendir("/proc");
	struct dirent	*de;
	char		 path[300], buf[512];
	FILE		*fp;

	fprintf(stderr, "---- %s: forkd %d and forkd-closer processes ----\n",
	    why, (int)H.h_pid);
	while (d != NULL && (de = readdir(d)) != NULL) {
		pid_t	pid = (pid_t)atoi(de->d_name);
		size_t	n;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof buf - 1, fp);
		buf[n] = '\0';
		fclose(fp);
		if (pid != H.h_pid && strstr(buf, "(forkd-closer)") == NULL)
			continue;
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(stderr, "%.120s%s", buf, pid == H.h_pid ? "" :
		    shares_table(H.h_pid, pid) ? " [shares forkd's table]" :
		    " [another table]");
		snprintf(path, sizeof path, "/proc/%s/wchan", de->d_name);
		if ((fp = fopen(path, "r")) != NULL) {
			n = fread(buf, 1, sizeof buf - 1, fp);
			buf[n] = '\0';
			fclose(fp);
			fprintf(stderr, " wchan=%s", buf);
		}
		fputc('\n', stderr);
	}
	if (d != NULL)
		closedir(d);
	harness_dump_log(&H);
}

/* Stop or continue every forkd-closer process of this forkd. */
static void
closers_signal(int sig)
{
	for (int i = 0; i < nclosers; i++)
		(void)kill(closers[i], sig);
}

/* Spawn bench:byte with stdout fd, and wait for its exit. */
static void
spawn_byte(struct forkd *f, int fd)
{
	struct forkd_spawn_opts	o;
	struct forkd_exit	ev;
	pid_t			pid;

	forkd_spawn_opts_init(&o);
	o.target = "bench:byte";
	o.stdout_fd = fd;
	EXPECT_OK(f, forkd_spawn(f, &o, &pid, NULL, 0));
	EXPECT_OK(f, forkd_wait_exit_event(f, 10000 * harness_slow(), &ev));
	EXPECT_INT(ev.pid, pid, "pid of bench:byte's exit");
	EXPECT_INT(ev.exitcode, 0, "exitcode of bench:byte");
}

/* Read rfd (non-blocking) into buf (cap 64, *got bytes in it already)
 * until EOF or timeout_ms: 1 at EOF, 0 if none came. */
static int
eof_within(int rfd, int timeout_ms, char *buf, size_t *got)
{
	int64_t		end = harness_now_ms() + timeout_ms;
	struct pollfd	p = { rfd, POLLIN, 0 };
	ssize_t		n;

	for (;;) {
		int left = (int)(end - harness_now_ms());

		if (left < 0)
			left = 0;
		int r = poll(&p, 1, left);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail_msg("poll: %s", strerror(errno));
		if (r == 0)
			return 0;
		n = read(rfd, buf + *got, 63 - *got);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail_msg("read: %s", strerror(errno));
		if (n > 0)
			*got += (size_t)n;
		if (*got >= 63)
			fail_msg("more output than bench:byte writes");
	}
	buf[*got] = '\0';
	return 1;
}

/* fd (the write side of something that reads at rfd) goes to the closer:
 * no EOF while it is stopped, EOF once it runs. */
static void
via_closer(int fd, int rfd, const char *what)
{
	struct forkd	*f = harness_connect(&H);
	char		 out[64];
	size_t		 got = 0;

	assert_true(find_closers() >= 1);
	closers_signal(SIGSTOP);
	spawn_byte(f, fd);
	close(fd);
	if (eof_within(rfd, 300, out, &got)) {
		closers_signal(SIGCONT);
		fail_msg("%s: EOF with forkd-closer stopped: forkd closed "
		    "it itself", what);
	}
	closers_signal(SIGCONT);
	if (!eof_within(rfd, 5000 * harness_slow(), out, &got)) {
		diagnose(what);
		fail_msg("%s: no EOF after forkd-closer went on", what);
	}
	EXPECT_STR(out, "x", what);
	close(rfd);
	forkd_close(f);
}

/* A pipe's end goes to the closer too. */
static void
test_pipe_via_closer(void **state)
{
	int	pp[2];

	(void)state;
	harness_pipe(pp);
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	via_closer(pp[1], pp[0], "a pipe");
}

/* Has pid's fd table an fd of the pipe whose inode is ino? */
static int
has_pipe(pid_t pid, ino_t ino)
{
	char		 dir[64], path[384], link[64], want[64];
	DIR		*d;
	struct dirent	*de;
	ssize_t		 n;
	int		 found = 0;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof want, "pipe:[%llu]", (unsigned long long)ino);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if ((n = readlink(path, link, sizeof link - 1)) <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return found;
}

/* forkd's count of failed authentications. */
static uint64_t
auth_failures(struct forkd *f)
{
	struct forkd_status	*st;
	uint64_t		 n;

	EXPECT_OK(f, forkd_status(f, &st));
	n = st->auth_failures;
	forkd_status_free(st);
	return n;
}

/* A writer stuck in a pipe's write, on a userfaultfd page, holding the
 * pipe's lock; released by stuck_release() (the test's end, or the group
 * teardown when the test failed half-way). */
static struct stuck_writer {
	int		sw_fd;		/* the pipe's write end */
	char		*sw_buf;	/* the page it writes from */
	int		sw_uffd;
	pthread_t	sw_thread;
	int		sw_running;
} stuck = { -1, NULL, -1, 0, 0 };

/* Let the writer go (a zero page), so that the last close of the read
 * end (forkd-closer's) ends too; then free it all. */
static void
stuck_release(void)
{
	struct uffdio_zeropage zp;

	if (stuck.sw_running) {
		memset(&zp, 0, sizeof zp);
		zp.range.start = (unsigned long)stuck.sw_buf;
		zp.range.len = 4096;
		(void)ioctl(stuck.sw_uffd, UFFDIO_ZEROPAGE, &zp);
		pthread_join(stuck.sw_thread, NULL);
		stuck.sw_running = 0;
	}
	if (stuck.sw_fd >= 0)
		close(stuck.sw_fd);
	if (stuck.sw_uffd >= 0)
		close(stuck.sw_uffd);
	if (stuck.sw_buf != NULL)
		munmap(stuck.sw_buf, 4096);
	stuck.sw_fd = stuck.sw_uffd = -1;
	stuck.sw_buf = NULL;
}

/* Write a page from a region no page is mapped in yet: the copy faults
 * and waits on the userfaultfd, holding the pipe's lock. */
static void *
stuck_writer_main(void *arg)
{
	struct stuck_writer *w = arg;

	(void)!write(w->sw_fd, w->sw_buf, 4096);
	return NULL;
}

/* A pipe whose lock a stuck writer holds, its read end passed to forkd
 * (before authentication, with a bad frame) and closed here first, so
 * that forkd's copy is the last: forkd goes on answering. */
static void
test_pipe_lock_held(void **state)
{
	struct uffdio_api	 api = { .api = UFFD_API };
	struct uffdio_register	 reg;
	struct pollfd		 pfd;
	struct msghdr		 msg = { 0 };
	struct cmsghdr		*cm;
	struct iovec		 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct forkd		*f;
	struct stat		 st;
	int64_t			 end;
	char			 junk = 'j';
	uint64_t		 failures0;
	int			 uffd, pp[2], s;

	(void)state;
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) != 0) {
		fprintf(stderr, "userfaultfd: %s; skipped\n", strerror(errno));
		if (uffd >= 0)
			close(uffd);
		skip();
	}
	stuck.sw_uffd = uffd;
	stuck.sw_buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (stuck.sw_buf == MAP_FAILED)
		stuck.sw_buf = NULL;
	assert_non_null(stuck.sw_buf);
	memset(&reg, 0, sizeof reg);
	reg.range.start = (unsigned long)stuck.sw_buf;
	reg.range.len = 4096;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	assert_int_equal(ioctl(uffd, UFFDIO_REGISTER, &reg), 0);
	harness_pipe(pp);
	assert_int_equal(fstat(pp[0], &st), 0);
	stuck.sw_fd = pp[1];
	assert_int_equal(pthread_create(&stuck.sw_thread, NULL,
	    stuck_writer_main, &stuck), 0);
	stuck.sw_running = 1;
	/* The writer is in its fault (with the pipe's lock) once the
	 * userfaultfd has a message. */
	pfd.fd = uffd;
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);

	/* forkd stopped while the frame and pp[0] are in flight and pp[0]
	 * is closed here: forkd's copy is then the last. */
	assert_true((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0))
	    >= 0);
	assert_true(strlen(H.h_sock) < sizeof sun.sun_path);
	memcpy(sun.sun_path, H.h_sock, strlen(H.h_sock) + 1);
	assert_int_equal(connect(s, (struct sockaddr *)&sun, sizeof sun), 0);
	f = harness_connect(&H);
	failures0 = auth_failures(f);
	assert_int_equal(kill(H.h_pid, SIGSTOP), 0);
	iov.iov_base = &junk;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof cbuf.buf;
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pp[0], sizeof(int));
	assert_int_equal(sendmsg(s, &msg, 0), 1);
	close(pp[0]);
	assert_int_equal(kill(H.h_pid, SIGCONT), 0);
	/* Until forkd has read the frame (it counts an authentication
	 * failure) and its table holds the pipe's end no more: a spawn
	 * before that, with the pool off, would fork a child that inherits
	 * it and hangs in its own last close instead. */
	end = harness_now_ms() + 10000 * harness_slow();
	while (auth_failures(f) == failures0 && harness_now_ms() < end)
		harness_sleep_ms(5);
	while (has_pipe(H.h_pid, st.st_ino) && harness_now_ms() < end)
		harness_sleep_ms(5);
	if (auth_failures(f) == failures0) {
		diagnose("the bad frame");
		fail_msg("forkd did not read the bad frame in 10 s");
	}
	if (has_pipe(H.h_pid, st.st_ino)) {
		diagnose("the pipe's read end");
		fail_msg("forkd still holds the pipe's read end");
	}

	/* forkd still serves: a spawn and its exit (SIGALRM ends the test
	 * if forkd hangs). */
	alarm(30 * harness_slow());
	harness_pipe(pp);
	fcntl(pp[0], F_SETFL, O_NONBLOCK);
	spawn_byte(f, pp[1]);
	close(pp[1]);
	forkd_close(f);
	alarm(0);

	stuck_release();
	close(pp[0]);
	close(s);
}

/* A FIFO on a file system goes to the closer (its last close may call
 * the file system). */
static void
test_fifo_via_closer(void **state)
{
	char	path[HARNESS_PATH_MAX + 16];
	int	rfd, wfd;

	(void)state;
	snprintf(path, sizeof path, "%s/fifo", H.h_dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rfd >= 0);
	wfd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(wfd >= 0);
	unlink(path);
	via_closer(wfd, rfd, "a FIFO");
}

/* So does a socket (its queue may hold fds whose close blocks). */
static void
test_socket_via_closer(void **state)
{
	int	sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	via_closer(sv[1], sv[0], "an AF_UNIX socket");
}

static int
group_setup(void **state)
{
	(void)state;
	return harness_start(&H, NULL);
}

static int
group_teardown(void **state)
{
	(void)state;
	closers_signal(SIGCONT);
	stuck_release();
	if (H.h_pid > 0)
		harness_stop(&H);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_lock_held),
		cmocka_unit_test(test_pipe_via_closer),
		cmocka_unit_test(test_fifo_via_closer),
		cmocka_unit_test(test_socket_via_closer),
	};

	return cmocka_run_group_tests_name("integration_closer_pipe", tests,
	    group_setup, group_teardown);
}
