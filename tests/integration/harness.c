/* harness.c: a real forkd per test group, in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "harness.h"

#ifndef FORKD_TEST_BIN
#define FORKD_TEST_BIN		"forkd"
#endif
#ifndef FORKD_TEST_MODULE_DIR
#define FORKD_TEST_MODULE_DIR	"modules"
#endif

/* Readiness and shutdown bounds; generous for sanitizer builds. */
#define HARNESS_START_MS	20000
#define HARNESS_STOP_MS		20000

/* Path of the forkd binary. */
const char *
harness_forkd_bin(void)
{
	const char *s = getenv("FORKD_TEST_BIN");

	return s != NULL && *s != '\0' ? s : FORKD_TEST_BIN;
}

/* Directory of pi.so and bench.so. */
const char *
harness_module_dir(void)
{
	const char *s = getenv("FORKD_TEST_MODULE_DIR");

	return s != NULL && *s != '\0' ? s : FORKD_TEST_MODULE_DIR;
}

/* Milliseconds on the monotonic clock. */
int64_t
harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
harness_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
harness_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		fail_msg("pipe2: %s", strerror(errno));
}

/* Close every fd from 3 up (in a forked child before exec). */
static void
close_from_3(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0) == 0)
		return;
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

/* Write a 0600 key of 32 random bytes. */
static int
write_key(const char *path)
{
	unsigned char	key[32];
	int		fd;

	if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, key, sizeof key) != (ssize_t)sizeof key) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Print the last 8 KiB of forkd's log. */
void
harness_dump_log(const struct harness *h)
{
	char	buf[8192];
	ssize_t	n;
	off_t	size;
	int	fd;

	if ((fd = open(h->h_log, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)sizeof buf - 1 ? size - (off_t)sizeof buf + 1 :
	    0, SEEK_SET);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	fprintf(stderr, "---- forkd log %s (tail) ----\n%s---- end of log ----\n",
	    h->h_log, buf);
}

/* Remove the temp dir. */
void
harness_cleanup(struct harness *h)
{
	char	path[HARNESS_PATH_MAX * 2 + 8];

	if (h->h_dir[0] == '\0')
		return;
	unlink(h->h_sock);
	unlink(h->h_key);
	unlink(h->h_log);
	/* Tests may leave a few files of their own. */
	{
		DIR		*d = opendir(h->h_dir);
		struct dirent	*de;

		while (d != NULL && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", h->h_dir,
			    de->d_name);
			if (unlink(path) != 0)
				rmdir(path);
		}
		if (d != NULL)
			closedir(d);
	}
	rmdir(h->h_dir);
	h->h_dir[0] = '\0';
}

/* Where temp files go: TMPDIR when set and short enough for a socket
 * path under it, else /tmp. */
static const char *
harness_tmpdir(void)
{
	const char	*tmp = getenv("TMPDIR");

	return tmp != NULL && *tmp != '\0' && strlen(tmp) < 60 ? tmp : "/tmp";
}

/* Start forkd and wait until it answers a ping. */
int
harness_start(struct harness *h, const char *const *extra)
{
	char		 pi[HARNESS_PATH_MAX + 16], bench[HARNESS_PATH_MAX + 16];
	char		 testing[HARNESS_PATH_MAX + 16];
	const char	*argv[64];
	size_t		 argc = 0;
	int64_t		 deadline;
	pid_t		 parent = getpid();
	int		 st, r = -1;

	memset(h, 0, sizeof *h);
	h->h_pid = -1;
	snprintf(h->h_dir, sizeof h->h_dir, "%s/forkd-it.XXXXXX",
	    harness_tmpdir());
	if (mkdtemp(h->h_dir) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", h->h_dir,
		    strerror(errno));
		h->h_dir[0] = '\0';
		return -1;
	}
	snprintf(h->h_sock, sizeof h->h_sock, "%s/forkd.sock", h->h_dir);
	snprintf(h->h_key, sizeof h->h_key, "%s/authkey", h->h_dir);
	snprintf(h->h_log, sizeof h->h_log, "%s/forkd.log", h->h_dir);
	if (write_key(h->h_key) != 0) {
		fprintf(stderr, "harness: key %s: %s\n", h->h_key,
		    strerror(errno));
		return -1;
	}
	snprintf(pi, sizeof pi, "%s/pi.so", harness_module_dir());
	snprintf(bench, sizeof bench, "%s/bench.so", harness_module_dir());
	snprintf(testing, sizeof testing, "%s/testing.so",
	    harness_module_dir());

	argv[argc++] = harness_forkd_bin();
	argv[argc++] = "-s";
	argv[argc++] = h->h_sock;
	argv[argc++] = "-k";
	argv[argc++] = h->h_key;
	argv[argc++] = "-m";
	argv[argc++] = pi;
	argv[argc++] = "-m";
	argv[argc++] = bench;
	argv[argc++] = "-m";
	argv[argc++] = testing;
	/* FORKD_TEST_POOL=N runs the suite with N pre-forked children (0:
	 * pool off); ctest runs every integration suite both ways. */
	if (getenv("FORKD_TEST_POOL") != NULL &&
	    getenv("FORKD_TEST_POOL")[0] != '\0') {
		argv[argc++] = "--pool";
		argv[argc++] = getenv("FORKD_TEST_POOL");
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 62;
	    i++) {
		/* A later -s wins in forkd; the harness must use it too. */
		if (strcmp(extra[i], "-s") == 0 && extra[i + 1] != NULL)
			snprintf(h->h_sock, sizeof h->h_sock, "%s",
			    extra[i + 1]);
		argv[argc++] = extra[i];
	}
	argv[argc] = NULL;

	h->h_pid = fork();
	if (h->h_pid < 0) {
		fprintf(stderr, "harness: fork: %s\n", strerror(errno));
		return -1;
	}
	if (h->h_pid == 0) {
		int	log = open(h->h_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int	null = open("/dev/null", O_RDONLY);

		/* forkd dies with the test, even if the test crashes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(126);
		if (log < 0 || null < 0 || dup2(null, 0) < 0 ||
		    dup2(log, 1) < 0 || dup2(log, 2) < 0)
			_exit(126);
		close_from_3();
		/* A variable the env tests look for in the children. */
		setenv("FORKD_TEST_MARKER", "daemon", 1);
		unsetenv("NOTIFY_SOCKET");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0],
		    strerror(errno));
		_exit(127);
	}

	deadline = harness_now_ms() + HARNESS_START_MS;
	for (;;) {
		struct forkd	*f = NULL;

		if (waitpid(h->h_pid, &st, WNOHANG) == h->h_pid) {
			fprintf(stderr, "harness: forkd exited during start-up "
			    "(status %#x)\n", st);
			h->h_pid = -1;
			goto fail;
		}
		if (forkd_connect(&f, h->h_sock, h->h_key) == 0) {
			r = forkd_ping(f);
			forkd_close(f);
			if (r == 0)
				return 0;
		}
		if (harness_now_ms() > deadline) {
			fprintf(stderr, "harness: forkd not answering after "
			    "%d ms (last ping %d)\n", HARNESS_START_MS, r);
			break;
		}
		harness_sleep_ms(20);
	}
fail:
	harness_dump_log(h);
	if (h->h_pid > 0) {
		kill(h->h_pid, SIGKILL);
		waitpid(h->h_pid, &st, 0);
		h->h_pid = -1;
	}
	return -1;
}

/* Stop forkd with SIGTERM. */
int
harness_stop(struct harness *h)
{
	int64_t	deadline;
	int	st = -1;

	if (h->h_pid <= 0)
		return -1;
	kill(h->h_pid, SIGTERM);
	deadline = harness_now_ms() + HARNESS_STOP_MS;
	for (;;) {
		pid_t r = waitpid(h->h_pid, &st, WNOHANG);

		if (r == h->h_pid)
			break;
		if (r < 0) {
			st = -1;
			break;
		}
		if (harness_now_ms() > deadline) {
			fprintf(stderr, "harness: forkd %d did not exit %d ms "
			    "after SIGTERM; killing it\n", (int)h->h_pid,
			    HARNESS_STOP_MS);
			kill(h->h_pid, SIGKILL);
			waitpid(h->h_pid, NULL, 0);
			st = -1;
			break;
		}
		harness_sleep_ms(10);
	}
	h->h_pid = -1;
	if (getenv("FORKD_TEST_KEEP") != NULL)
		fprintf(stderr, "harness: FORKD_TEST_KEEP set; keeping %s\n",
		    h->h_dir);
	else if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		harness_cleanup(h);
	else {
		fprintf(stderr, "harness: forkd stopped with status %#x "
		    "(exit %d, signal %d); keeping %s\n", st,
		    st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		    st != -1 && WIFSIGNALED(st) ? WTERMSIG(st) : 0, h->h_dir);
		harness_dump_log(h);
	}
	return st;
}

/* Stop and require exit status 0. */
void
harness_stop_ok(struct harness *h)
{
	int st = harness_stop(h);

	if (st == -1)
		fail_msg("forkd did not exit after SIGTERM (killed)");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("forkd after SIGTERM: status %#x (exit %d, signal %d), "
		    "expected exit 0", st, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Connect with the harness's key. */
struct forkd *
harness_connect(const struct harness *h)
{
	struct forkd	*f = NULL;
	int		 r;

	r = forkd_connect(&f, h->h_sock, h->h_key);
	if (r != 0)
		fail_msg("forkd_connect(%s): %d (%s)", h->h_sock, r,
		    forkd_strerror(r));
	return f;
}

/* Read until EOF or timeout. */
ssize_t
harness_read_all(int fd, char *buf, size_t cap, int timeout_ms)
{
	int64_t	deadline = harness_now_ms() + timeout_ms;
	size_t	off = 0;

	while (off + 1 < cap) {
		struct pollfd	pfd = { .fd = fd, .events = POLLIN };
		int64_t		left = deadline - harness_now_ms();
		ssize_t		n;

		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(fd, buf + off, cap - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	return (ssize_t)off;
}

/* Run argv with output captured and a timeout. */
int
harness_run(const char *const *argv, char *out, size_t outlen,
    int timeout_ms)
{
	int	pp[2], st;
	pid_t	pid;

	harness_pipe(pp);
	pid = fork();
	if (pid < 0)
		fail_msg("fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(pp[1], 1);
		dup2(pp[1], 2);
		close_from_3();
		execv(argv[0], (char *const *)argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pp[1]);
	harness_read_all(pp[0], out, outlen, timeout_ms);
	close(pp[0]);
	for (int64_t end = harness_now_ms() + timeout_ms;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		if (harness_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		harness_sleep_ms(10);
	}
}

/* Count /proc/PID/fd entries. */
int
harness_count_fds(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* Our own listing fd shows up only for pid == self. */
	return pid == getpid() ? n - 1 : n;
}

/* Parse state and ppid from /proc/PID/stat; 0 ok. */
static int
proc_stat(const char *pidstr, char *ret_state, pid_t *ret_ppid)
{
	char	 path[64], buf[512], *p;
	ssize_t	 n;
	int	 fd, ppid;

	snprintf(path, sizeof path, "/proc/%s/stat", pidstr);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and ')': use the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 1, " %c %d", ret_state, &ppid) != 2)
		return -1;
	*ret_ppid = ppid;
	return 0;
}

/* Running, gone or zombie. */
int
harness_pid_state(pid_t pid)
{
	char	s[32], state;
	pid_t	ppid;

	snprintf(s, sizeof s, "%d", (int)pid);
	if (proc_stat(s, &state, &ppid) != 0)
		return 0;
	return state == 'Z' ? 2 : 1;
}

/* comm of /proc/<pidstr> into buf (with its newline); 0 ok. */
static int
harness_comm(const char *pidstr, char *buf, size_t len)
{
	char	path[300];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%s/comm", pidstr);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Is pidstr an idle pool child (comm "forkd-pool") or the pool's zygote
 * (comm "forkd-zygote"), or a child of ppid
 * forked a moment ago that has not named itself yet (its comm still the
 * parent's): a pool child being made or a spawn in its first
 * microseconds, not a leak. */
static int
harness_is_pool_child(const char *pidstr, pid_t ppid)
{
	char	comm[32] = "", pcomm[32] = "", pp[32];

	if (harness_comm(pidstr, comm, sizeof comm) != 0)
		return 0;
	if (strcmp(comm, "forkd-pool\n") == 0 ||
	    strcmp(comm, "forkd-zygote\n") == 0)
		return 1;
	snprintf(pp, sizeof pp, "%d", (int)ppid);
	return harness_comm(pp, pcomm, sizeof pcomm) == 0 &&
	    strcmp(comm, pcomm) == 0;
}

/* Live children of ppid named comm_nl (with the newline /proc gives, as
 * "forkd-pool\n"), by scanning /proc: up to max pids into out; how many. */
int
harness_children_named(pid_t ppid, const char *comm_nl, pid_t *out, int max)
{
	DIR		*d = opendir("/proc");
	struct dirent	*de;
	char		 state, comm[32];
	pid_t		 pp;
	int		 n = 0;

	if (d == NULL)
		fail_msg("opendir /proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL && n < max) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (proc_stat(de->d_name, &state, &pp) != 0 || pp != ppid ||
		    state == 'Z')
			continue;
		if (harness_comm(de->d_name, comm, sizeof comm) == 0 &&
		    strcmp(comm, comm_nl) == 0)
			out[n++] = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return n;
}

/* Children of ppid, by scanning /proc (idle pool children left out). */
void
harness_children(pid_t ppid, int *ret_all, int *ret_zombies)
{
	DIR		*d = opendir("/proc");
	struct dirent	*de;
	char		 state;
	pid_t		 pp;

	*ret_all = 0;
	*ret_zombies = 0;
	if (d == NULL)
		fail_msg("opendir /proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (proc_stat(de->d_name, &state, &pp) != 0 || pp != ppid)
			continue;
		/* Idle pre-forked pool children are forkd's own, not leaks. */
		if (state != 'Z' && harness_is_pool_child(de->d_name, ppid))
			continue;
		(*ret_all)++;
		if (state == 'Z')
			(*ret_zombies)++;
	}
	closedir(d);
}

/* fd count once stable for 300 ms. */
int
harness_settled_fds(pid_t pid)
{
	int	n = harness_count_fds(pid), same = 0;

	for (int64_t end = harness_now_ms() + 5000; same < 6 &&
	    harness_now_ms() < end;) {
		int m;

		harness_sleep_ms(50);
		m = harness_count_fds(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/* Wait for pid's fd count to reach want. */
int
harness_wait_fds(pid_t pid, int want, int timeout_ms)
{
	int64_t	end = harness_now_ms() + timeout_ms;
	int	n;

	while ((n = harness_count_fds(pid)) != want && harness_now_ms() < end)
		harness_sleep_ms(20);
	return n;
}

/* Time factor for sanitizer builds, or as FORKD_TEST_SLOW says (1..20). */
int
harness_slow(void)
{
	const char	*s = getenv("FORKD_TEST_SLOW");
	long		 n;

	if (s != NULL && (n = strtol(s, NULL, 10)) >= 1 && n <= 20)
		return (int)n;
	s = getenv("ASAN_OPTIONS");
	return s != NULL && *s != '\0' ? 3 : 1;
}

int
harness_log_count(const struct harness *h, const char *needle)
{
	struct stat	 st;
	char		*buf, *p;
	ssize_t		 n;
	int		 fd, count = 0;

	if ((fd = open(h->h_log, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &st) != 0 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		count++;
	free(buf);
	return count;
}

void
harness_wait_log(const struct harness *h, const char *needle, int n,
    int timeout_ms)
{
	int64_t	end = harness_now_ms() + timeout_ms;
	int	k;

	while ((k = harness_log_count(h, needle)) < n &&
	    harness_now_ms() < end)
		harness_sleep_ms(10);
	if (k < n)
		fail_msg("forkd's log holds \"%s\" %d times after %d ms, "
		    "expected %d", needle, k, timeout_ms, n);
}

/* Is sig in pid's ignored-signal mask? 1 yes, 0 no, -1 no such process. */
static int
harness_ignores(pid_t pid, int sig)
{
	char			 path[64], line[256];
	FILE			*f;
	unsigned long long	 mask;
	int			 r = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "SigIgn: %llx", &mask) == 1) {
			r = (mask >> (sig - 1)) & 1;
			break;
		}
	fclose(f);
	return r;
}

void
harness_wait_ignored(pid_t pid, int sig, int timeout_ms)
{
	int64_t	end = harness_now_ms() + timeout_ms;
	int	r;

	while ((r = harness_ignores(pid, sig)) == 0 &&
	    harness_now_ms() < end)
		harness_sleep_ms(5);
	if (r != 1)
		fail_msg("process %d %s signal %d after %d ms", (int)pid,
		    r < 0 ? "is gone instead of ignoring" : "still does not "
		    "ignore", sig, timeout_ms);
}

int
harness_conf_new(char *path, size_t len, const char *tag)
{
	int	n, fd;

	n = snprintf(path, len, "%s/forkd-%s.XXXXXX", harness_tmpdir(), tag);
	if (n < 0 || (size_t)n >= len || (fd = mkstemp(path)) < 0)
		return -1;
	close(fd);
	return 0;
}

void
harness_conf_write(const char *path, const char *fmt, ...)
{
	FILE	*f = fopen(path, "w");
	va_list	 ap;
	int	 r;

	if (f == NULL)
		fail_msg("fopen %s: %s", path, strerror(errno));
	va_start(ap, fmt);
	r = vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || r < 0)
		fail_msg("writing %s failed", path);
}
