/* pyfs.c: driving pyfs_worker.py. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "pyfs.h"
#include "util.h"

#define PYFS_START_MS	180000	/* forkserver start + preloading 1 GiB */
#define PYFS_CMD_MS	120000

extern char **environ;

/* Read one line (without the newline) into line; 0 or -errno. */
static int
pyfs_readline(struct pyfs *p, char *line, size_t linelen, int timeout_ms)
{
	char	*nl;
	ssize_t	 n;
	int	 r;

	for (;;) {
		nl = memchr(p->py_buf, '\n', p->py_len);
		if (nl != NULL) {
			size_t k = (size_t)(nl - p->py_buf);

			if (k >= linelen)
				k = linelen - 1;
			memcpy(line, p->py_buf, k);
			line[k] = '\0';
			k = (size_t)(nl - p->py_buf) + 1;
			memmove(p->py_buf, p->py_buf + k, p->py_len - k);
			p->py_len -= k;
			return 0;
		}
		if (p->py_len == sizeof p->py_buf)
			return -EMSGSIZE;
		{
			struct pollfd pfd = { .fd = p->py_out, .events = POLLIN };

			r = poll(&pfd, 1, timeout_ms);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return -errno;
			if (r == 0)
				return -ETIMEDOUT;
		}
		n = read(p->py_out, p->py_buf + p->py_len,
		    sizeof p->py_buf - p->py_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p->py_len += (size_t)n;
	}
}

/* Fork and exec the Python worker. */
void
pyfs_launch(struct pyfs *p, const char *python, const char *script,
    unsigned long mb)
{
	char	mbenv[64];
	int	in[2], out[2];

	memset(p, 0, sizeof *p);
	p->py_mb = mb;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
		util_die("pipe: %s", strerror(errno));
	snprintf(mbenv, sizeof mbenv, "%lu", mb);
	fflush(NULL);
	p->py_pid = fork();
	if (p->py_pid < 0)
		util_die("fork: %s", strerror(errno));
	if (p->py_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		setenv("FORKD_BENCH_STATE_MB", mbenv, 1);
		setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
		execl(python, python, "-u", script, (char *)NULL);
		_exit(127);
	}
	util_track(p->py_pid);
	close(in[0]);
	close(out[1]);
	p->py_in = in[1];
	p->py_out = out[0];
}

/* Wait for the worker's "ready" line. */
int
pyfs_ready(struct pyfs *p, char *err, size_t errlen)
{
	char	line[256];
	int	r;

	r = pyfs_readline(p, line, sizeof line, PYFS_START_MS);
	if (r == 0 && strncmp(line, "ready ", 6) == 0) {
		const char *v = strchr(line + 6, ' ');

		snprintf(p->py_version, sizeof p->py_version, "%s",
		    v != NULL ? v + 1 : "?");
		return 0;
	}
	snprintf(err, errlen, "%s", r != 0 ? (r == -EPIPE ?
	    "python exited at start-up" : strerror(-r)) : line);
	pyfs_stop(p);
	return r != 0 ? r : -EIO;
}

/* Have the worker time one run; its nanoseconds. */
uint64_t
pyfs_measure(struct pyfs *p, const char *cmd)
{
	char		line[256];
	char		*end;
	uint64_t	ns;
	int		r;

	snprintf(line, sizeof line, "%s\n", cmd);
	if ((r = util_write_full(p->py_in, line, strlen(line))) != 0 ||
	    (r = pyfs_readline(p, line, sizeof line, PYFS_CMD_MS)) != 0)
		util_die("python forkserver (%lu MiB), %s: %s", p->py_mb, cmd,
		    strerror(-r));
	errno = 0;
	ns = strtoull(line, &end, 10);
	if (errno != 0 || end == line || *end != '\0')
		util_die("python forkserver (%lu MiB), %s: %s", p->py_mb, cmd,
		    line);
	return ns;
}

/* Ask the worker to quit and reap it. */
void
pyfs_stop(struct pyfs *p)
{
	if (p->py_pid <= 0)
		return;
	(void)util_write_full(p->py_in, "quit\n", 5);
	close(p->py_in);
	close(p->py_out);
	util_reap(p->py_pid, 10000, NULL);
	p->py_pid = 0;
}
