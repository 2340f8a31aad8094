/* anchor.c: in-process fork anchors and the SOCK_SEQPACKET echo. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "anchor.h"
#include "util.h"

#define ANCHOR_TIMEOUT_MS	120000	/* any single command */
#define ANCHOR_LAT_PER_MS	100	/* looper sample room: 10 us cycles */

enum {
	ANCHOR_CMD_TTFI = 'T',
	ANCHOR_CMD_CYCLE = 'C',
	ANCHOR_CMD_LOOP = 'L',
	ANCHOR_CMD_QUIT = 'Q',
};

/* Wire structs between harness and worker: change both sides together. */
struct anchor_req {
	uint32_t	ar_cmd;
	uint32_t	ar_workers;
	uint32_t	ar_ms;
};

struct anchor_loop_reply {
	int64_t		al_status;	/* 0 or -errno */
	uint64_t	al_cycles;
	uint64_t	al_elapsed_ns;
	uint64_t	al_nlat;	/* followed by al_nlat uint64_t */
};

/* What a looper shares with the worker. */
struct anchor_looper {
	uint64_t	l_count;
	uint64_t	l_done_ns;
	uint64_t	l_lat[];
};

/* In a freshly forked helper: die with the harness, keep only fd as 3. */
static void
anchor_child_setup(int fd)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		_exit(1);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fd != 3 && dup2(fd, 3) < 0)
		_exit(1);
	if (syscall(SYS_close_range, 4U, ~0U, 0) != 0)
		for (int i = 4; i < 1024; i++)
			close(i);
}

/* Worker side of ttfi: fork, the child writes one byte, read it. */
static int64_t
anchor_do_ttfi(int rfd, int wfd)
{
	uint64_t	t0, t1;
	pid_t		pid;
	char		c;
	int		r;

	t0 = util_now_ns();
	pid = fork();
	if (pid == 0) {
		(void)!write(wfd, "x", 1);
		_exit(0);
	}
	if (pid < 0)
		return -errno;
	r = util_read_full(rfd, &c, 1, -1);
	t1 = util_now_ns();
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r < 0 ? r : (int64_t)(t1 - t0);
}

/* Worker side of a cycle: fork, _exit(0), waitpid. */
static int64_t
anchor_do_cycle(void)
{
	uint64_t	t0, t1;
	pid_t		pid;
	int		st;

	t0 = util_now_ns();
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -errno;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t1 = util_now_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -EIO;
	return (int64_t)(t1 - t0);
}

/* Looper: fork/_exit/waitpid until the deadline. */
static void __attribute__((noreturn))
anchor_looper_run(struct anchor_looper *l, size_t cap, int startfd,
    volatile uint64_t *deadline)
{
	uint64_t	t0, t1;
	char		c;
	pid_t		pid;

	(void)!read(startfd, &c, 1);		/* EOF: go */
	for (;;) {
		t0 = util_now_ns();
		if (t0 >= *deadline)
			break;
		pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0)
			_exit(1);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		t1 = util_now_ns();
		if (l->l_count < cap)
			l->l_lat[l->l_count] = t1 - t0;
		l->l_count++;
	}
	l->l_done_ns = util_now_ns();
	_exit(0);
}

/* Worker side of a throughput trial. */
static void
anchor_do_loop(int fd, unsigned workers, unsigned ms)
{
	struct anchor_loop_reply rep = { 0 };
	volatile uint64_t	*deadline;
	size_t			 cap = (size_t)ms * ANCHOR_LAT_PER_MS + 1000;
	size_t			 slot = sizeof(struct anchor_looper) +
				    cap * sizeof(uint64_t);
	size_t			 size = 64 + slot * workers;
	unsigned char		*shm;
	pid_t			 pids[64];
	int			 sp[2];
	uint64_t		 start, done = 0;
	unsigned		 n = 0;

	if (workers == 0 || workers > 64) {
		rep.al_status = -EINVAL;
		goto reply;
	}
	shm = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		rep.al_status = -errno;
		goto reply;
	}
	deadline = (volatile uint64_t *)shm;
	*deadline = UINT64_MAX;
	if (pipe2(sp, O_CLOEXEC) != 0) {
		rep.al_status = -errno;
		munmap(shm, size);
		goto reply;
	}
	for (; n < workers; n++) {
		struct anchor_looper *l = (void *)(shm + 64 + slot * n);

		pids[n] = fork();
		if (pids[n] == 0) {
			close(sp[1]);
			anchor_looper_run(l, cap, sp[0], deadline);
		}
		if (pids[n] < 0) {
			rep.al_status = -errno;
			break;
		}
	}
	start = util_now_ns();
	*deadline = rep.al_status == 0 ? start + (uint64_t)ms * 1000000ULL : 0;
	close(sp[1]);
	close(sp[0]);
	for (unsigned i = 0; i < n; i++) {
		struct anchor_looper *l = (void *)(shm + 64 + slot * i);
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			rep.al_status = -EIO;
		rep.al_cycles += l->l_count;
		rep.al_nlat += l->l_count < cap ? l->l_count : cap;
		if (l->l_done_ns > done)
			done = l->l_done_ns;
	}
	rep.al_elapsed_ns = done > start ? done - start : 0;
	if (rep.al_status != 0)
		rep.al_nlat = 0;
	if (util_write_full(fd, &rep, sizeof rep) != 0)
		_exit(1);
	for (unsigned i = 0; rep.al_nlat > 0 && i < n; i++) {
		struct anchor_looper *l = (void *)(shm + 64 + slot * i);
		size_t k = l->l_count < cap ? l->l_count : cap;

		if (util_write_full(fd, l->l_lat, k * sizeof(uint64_t)) != 0)
			_exit(1);
	}
	munmap(shm, size);
	return;
reply:
	if (util_write_full(fd, &rep, sizeof rep) != 0)
		_exit(1);
}

/* The worker's command loop. */
static void __attribute__((noreturn))
anchor_serve(int fd, unsigned long mb)
{
	struct anchor_req	req;
	int			p[2];
	int64_t			ns;

	(void)util_state_alloc(mb);
	if (pipe2(p, O_CLOEXEC) != 0)
		_exit(1);
	if (util_write_full(fd, "R", 1) != 0)
		_exit(1);
	for (;;) {
		if (util_read_full(fd, &req, sizeof req, -1) != 0)
			_exit(0);
		switch (req.ar_cmd) {
		case ANCHOR_CMD_TTFI:
			ns = anchor_do_ttfi(p[0], p[1]);
			break;
		case ANCHOR_CMD_CYCLE:
			ns = anchor_do_cycle();
			break;
		case ANCHOR_CMD_LOOP:
			anchor_do_loop(fd, req.ar_workers, req.ar_ms);
			continue;
		case ANCHOR_CMD_QUIT:
		default:
			_exit(0);
		}
		if (util_write_full(fd, &ns, sizeof ns) != 0)
			_exit(1);
	}
}

/* Fork an anchor worker that loads mb MiB. */
void
anchor_launch(struct anchor *a, unsigned long mb)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		util_die("socketpair: %s", strerror(errno));
	fflush(NULL);
	a->a_pid = fork();
	if (a->a_pid < 0)
		util_die("fork: %s", strerror(errno));
	if (a->a_pid == 0) {
		anchor_child_setup(sv[1]);
		anchor_serve(3, mb);
	}
	util_track(a->a_pid);
	close(sv[1]);
	a->a_fd = sv[0];
	a->a_mb = mb;
}

/* Wait until a launched worker holds its state. */
void
anchor_ready(struct anchor *a)
{
	char	c;
	int	r;

	if ((r = util_read_full(a->a_fd, &c, 1, ANCHOR_TIMEOUT_MS)) != 0)
		util_die("anchor worker (%lu MiB) did not start: %s", a->a_mb,
		    strerror(-r));
}

/* Send a command and read an int64 answer. */
static uint64_t
anchor_call(struct anchor *a, uint32_t cmd, const char *what)
{
	struct anchor_req	req = { .ar_cmd = cmd };
	int64_t			ns;
	int			r;

	if ((r = util_write_full(a->a_fd, &req, sizeof req)) != 0 ||
	    (r = util_read_full(a->a_fd, &ns, sizeof ns,
	    ANCHOR_TIMEOUT_MS)) != 0)
		util_die("anchor worker (%lu MiB), %s: %s", a->a_mb, what,
		    strerror(-r));
	if (ns < 0)
		util_die("anchor worker (%lu MiB), %s: %s", a->a_mb, what,
		    strerror((int)-ns));
	return (uint64_t)ns;
}

/* Time one in-process fork to first byte. */
uint64_t
anchor_ttfi(struct anchor *a)
{
	return anchor_call(a, ANCHOR_CMD_TTFI, "fork ttfi");
}

/* Time one in-process fork/_exit/waitpid. */
uint64_t
anchor_cycle(struct anchor *a)
{
	return anchor_call(a, ANCHOR_CMD_CYCLE, "fork cycle");
}

/* Run one fork-loop throughput trial in the worker. */
void
anchor_loop(struct anchor *a, unsigned workers, unsigned ms,
    uint64_t *ret_cycles, uint64_t *ret_elapsed_ns, struct stats *lat)
{
	struct anchor_req	 req = { ANCHOR_CMD_LOOP, workers, ms };
	struct anchor_loop_reply rep;
	uint64_t		 buf[1024];
	uint64_t		 left;
	int			 r;

	if ((r = util_write_full(a->a_fd, &req, sizeof req)) != 0 ||
	    (r = util_read_full(a->a_fd, &rep, sizeof rep,
	    ANCHOR_TIMEOUT_MS)) != 0)
		util_die("anchor worker (%lu MiB), fork loop: %s", a->a_mb,
		    strerror(-r));
	if (rep.al_status < 0)
		util_die("anchor worker (%lu MiB), fork loop: %s", a->a_mb,
		    strerror((int)-rep.al_status));
	for (left = rep.al_nlat; left > 0;) {
		size_t k = left < 1024 ? (size_t)left : 1024;

		if ((r = util_read_full(a->a_fd, buf, k * sizeof *buf,
		    ANCHOR_TIMEOUT_MS)) != 0)
			util_die("anchor worker, fork loop samples: %s",
			    strerror(-r));
		for (size_t i = 0; i < k; i++)
			stats_add(lat, buf[i]);
		left -= k;
	}
	*ret_cycles = rep.al_cycles;
	*ret_elapsed_ns = rep.al_elapsed_ns;
}

/* Ask the worker to quit and reap it. */
void
anchor_stop(struct anchor *a)
{
	struct anchor_req req = { .ar_cmd = ANCHOR_CMD_QUIT };

	if (a->a_pid <= 0)
		return;
	(void)util_write_full(a->a_fd, &req, sizeof req);
	close(a->a_fd);
	util_reap(a->a_pid, 5000, NULL);
	a->a_pid = 0;
}

/* The echo process: send back every datagram until EOF. */
static void __attribute__((noreturn))
anchor_echo_serve(int fd)
{
	char	buf[256];
	ssize_t	n;

	for (;;) {
		n = recv(fd, buf, sizeof buf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			_exit(1);
	}
}

/* Fork the SOCK_SEQPACKET echo process. */
void
anchor_echo_start(struct anchor_echo *e)
{
	int	sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		util_die("socketpair: %s", strerror(errno));
	fflush(NULL);
	e->e_pid = fork();
	if (e->e_pid < 0)
		util_die("fork: %s", strerror(errno));
	if (e->e_pid == 0) {
		anchor_child_setup(sv[1]);
		anchor_echo_serve(3);
	}
	util_track(e->e_pid);
	close(sv[1]);
	e->e_fd = sv[0];
}

/* Time one 1-byte round trip through the echo process. */
uint64_t
anchor_echo_rtt(struct anchor_echo *e)
{
	uint64_t	t0, t1;
	char		c = 'x';
	ssize_t		n;

	t0 = util_now_ns();
	if (send(e->e_fd, &c, 1, MSG_NOSIGNAL) != 1)
		util_die("seqpacket send: %s", strerror(errno));
	while ((n = recv(e->e_fd, &c, 1, 0)) < 0 && errno == EINTR)
		;
	t1 = util_now_ns();
	if (n != 1)
		util_die("seqpacket echo: %s", n < 0 ? strerror(errno) :
		    "closed");
	return t1 - t0;
}

/* Close the echo socket and reap the process. */
void
anchor_echo_stop(struct anchor_echo *e)
{
	if (e->e_pid <= 0)
		return;
	close(e->e_fd);
	util_reap(e->e_pid, 5000, NULL);
	e->e_pid = 0;
}
