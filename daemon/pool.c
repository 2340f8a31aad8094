/* pool.c: children forked ahead of demand, specialized on request.
 *
 * Like Android's USAP pool: each idle pool child is a fork of the warm
 * image (modules loaded, keys wiped, every fd but its control socket and
 * /dev/null closed) blocked in recvmsg() on a SOCK_SEQPACKET control socket.
 * A spawn sends it one PoolSpawn datagram with the client's fds; it builds
 * the plan exactly as the daemon would and runs child_run(), using the
 * control socket as its error pipe (close-on-exec: EOF means started). So
 * the fork is off the critical path, and the pid, exit events and set-up
 * errors are those of a directly forked child. The daemon refills the pool
 * from a timer after demand, with back-off if pool children die unused.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "child.h"
#include "forkd.pb-c.h"
#include "log.h"
#include "pool.h"
#include "server.h"
#include "spawn.h"
#include "wire.h"

#define POOL_REFILL_DELAY_MS	1	/* let the current spawns go first */
#define POOL_REFILL_LAZY_MS	20	/* top up to pool_max when quiet */
#define POOL_BACKOFF_MAX_MS	5000

struct pool_child {
	TAILQ_ENTRY(pool_child)	 p_entry;
	pid_t			 p_pid;
	int			 p_fd;		/* daemon's end of the socket */
};

struct pool_counters	 pool_stats;
static TAILQ_HEAD(pool_child_list, pool_child) pool_idle =
    TAILQ_HEAD_INITIALIZER(pool_idle);
static struct event	*pool_refill_ev;
static unsigned int	 pool_failures;	/* consecutive deaths while idle */
static uint64_t		 pool_backoff_until;	/* ms; no refill before */
static unsigned char	 pool_buf[WIRE_FRAME_HARD_MAX + 1];

/* Close [lo, hi] with close_range(), or one by one where it is missing. */
static void
pool_close_range(unsigned int lo, unsigned int hi)
{
	if (lo > hi)
		return;
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	for (unsigned int fd = lo; fd <= hi && fd < 65536; fd++)
		(void)close((int)fd);
}

/* Close every fd from 3 up except a and b. */
static void
pool_close_all_but(int a, int b)
{
	unsigned int lo = (unsigned int)(a < b ? a : b);
	unsigned int hi = (unsigned int)(a < b ? b : a);

	pool_close_range(3, lo - 1);
	pool_close_range(lo + 1, hi - 1);
	pool_close_range(hi + 1, ~0U);
}

/* In a new pool child: wait for one request, then become that child. */
static __attribute__((noreturn)) void
pool_child_main(int ctl, pid_t daemon_pid)
{
	/* Static and volatile: the request and plan stay reachable while the
	 * target runs, so leak checkers do not call them lost. */
	static Forkd__PoolSpawn	*volatile ps;
	static struct child_plan plan;
	struct child_error	 ce = { CHILD_STEP_NONE, 0 };
	struct sigaction	 sa;
	sigset_t		 set;
	int			 fds[WIRE_MAX_FDS];
	size_t			 nfds;
	ssize_t			 n;

	/* Idle pool children die with the daemon; a specialized one lives
	 * on like any child (see below). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != daemon_pid)
		_exit(0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	(void)prctl(PR_SET_NAME, "forkd-pool", 0, 0, 0);
	server_wipe_secrets();
	/* What child_run() would do first, done now, off the critical path. */
	if (setsid() < 0)
		_exit(127);
	/* Keep only the control socket and /dev/null (the plan's default
	 * stdio); the listener and other clients' sockets must not linger. */
	pool_close_all_but(ctl, server_devnull);

	n = wire_recv(ctl, pool_buf, sizeof pool_buf, fds, WIRE_MAX_FDS,
	    &nfds);
	if (n <= 0)
		_exit(0);	/* the daemon closed the pool */
	ps = forkd__pool_spawn__unpack(NULL, (size_t)n, pool_buf);
	if (ps == NULL || ps->request == NULL || ps->name == NULL ||
	    nfds != ps->request->n_fd_targets) {
		ce.ce_errno = EBADMSG;
		goto fail;
	}
	if ((ce.ce_errno = -spawn_plan_build(ps->request, fds, nfds, ps->name,
	    ps->exec_path != NULL && ps->exec_path[0] != '\0' ?
	    ps->exec_path : NULL, &plan)) != 0)
		goto fail;
	/* From here this is an ordinary child: it outlives forkd. */
	(void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	plan.cp_errfd = ctl;
	plan.cp_presetup = 1;
	child_run(&plan);
fail:
	(void)!write(ctl, &ce, sizeof ce);
	_exit(127);
}

/* Fork one pool child. */
static int
pool_fork_one(void)
{
	struct pool_child	*pc;
	pid_t			 pid, self = getpid();
	int			 sv[2];

	if ((pc = calloc(1, sizeof *pc)) == NULL)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		free(pc);
		return -errno;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		pool_child_main(sv[1], self);
	}
	close(sv[1]);
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		free(pc);
		return -err;
	}
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	pc->p_pid = pid;
	pc->p_fd = sv[0];
	TAILQ_INSERT_TAIL(&pool_idle, pc, p_entry);
	pool_stats.idle++;
	pool_stats.forked++;
	return 0;
}

static void	pool_schedule(unsigned int);

/* Top the pool up to pool_max. */
static void
pool_fill(void)
{
	unsigned int	max = server_config.limits.pool_max;
	uint64_t	now = spawn_now_ms();

	if (server_shutting_down)
		return;
	if (now < pool_backoff_until) {
		pool_schedule((unsigned int)(pool_backoff_until - now));
		return;
	}
	while (pool_stats.idle < max &&
	    spawn_stats.live + pool_stats.idle < server_config.limits.max_children) {
		int r = pool_fork_one();

		if (r != 0) {
			log_warnx("pool: cannot fork: %s", strerror(-r));
			break;
		}
	}
}

static void
pool_refill_cb(evutil_socket_t fd, short what, void *arg)
{
	pool_fill();
}

/* Schedule a refill after delay_ms, unless one is pending. */
static void
pool_schedule(unsigned int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };

	if (pool_refill_ev == NULL)
		pool_refill_ev = evtimer_new(server_base, pool_refill_cb, NULL);
	/* A pending lazy top-up is brought forward by an urgent refill. */
	if (pool_refill_ev != NULL && (!evtimer_pending(pool_refill_ev, NULL) ||
	    delay_ms <= POOL_REFILL_DELAY_MS))
		evtimer_add(pool_refill_ev, &tv);
}

/* Fill the pool at start-up. */
void
pool_init(void)
{
	pool_fill();
	if (server_config.limits.pool_max > 0)
		log_info("pool: %u children pre-forked", pool_stats.idle);
}

/* Remove and free an idle entry (its process is not touched). */
static void
pool_drop(struct pool_child *pc)
{
	TAILQ_REMOVE(&pool_idle, pc, p_entry);
	pool_stats.idle--;
	free(pc);
}

/* Hand a request to the first idle pool child. */
int
pool_launch(const Forkd__SpawnRequest *r, const char *name,
    const char *exec_path, const int *fds, size_t nfds, pid_t *ret_pid,
    int *ret_ctlfd)
{
	Forkd__PoolSpawn	 ps = FORKD__POOL_SPAWN__INIT;
	struct pool_child	*pc;
	size_t			 len;
	int			 err;

	/* A pool child is a session leader already (setsid() at fork) and
	 * cannot join a process group of forkd's session: fork afresh. */
	if (r->pgroup == FORKD__PROCESS_GROUP__PGROUP_GROUP)
		return -EOPNOTSUPP;
	while ((pc = TAILQ_FIRST(&pool_idle)) != NULL) {
		ps.request = (Forkd__SpawnRequest *)r;
		ps.name = (char *)name;
		ps.exec_path = (char *)(exec_path != NULL ? exec_path : "");
		len = forkd__pool_spawn__get_packed_size(&ps);
		if (len > sizeof pool_buf)
			return -EMSGSIZE;
		forkd__pool_spawn__pack(&ps, pool_buf);
		err = wire_send(pc->p_fd, pool_buf, len, fds, nfds);
		if (err != 0) {
			/* A dead or stuck pool child: discard it, try the next;
			 * the reaper collects the process. */
			log_debug("pool: child %d unusable: %s", (int)pc->p_pid,
			    strerror(-err));
			kill(pc->p_pid, SIGKILL);
			close(pc->p_fd);
			pool_drop(pc);
			continue;
		}
		*ret_pid = pc->p_pid;
		*ret_ctlfd = pc->p_fd;
		pool_drop(pc);
		pool_stats.launched++;
		pool_failures = 0;
		/* Below pool_min: refill at once; else top up lazily. */
		pool_schedule(pool_stats.idle < server_config.limits.pool_min ?
		    POOL_REFILL_DELAY_MS : POOL_REFILL_LAZY_MS);
		return 0;
	}
	if (server_config.limits.pool_max > 0)
		pool_schedule(POOL_REFILL_DELAY_MS);
	return -EAGAIN;
}

/* An idle pool child ended: drop it and refill with back-off. */
int
pool_reaped(pid_t pid, int wstatus)
{
	struct pool_child	*pc;
	unsigned int		 delay;

	TAILQ_FOREACH(pc, &pool_idle, p_entry)
		if (pc->p_pid == pid)
			break;
	if (pc == NULL)
		return 0;
	close(pc->p_fd);
	pool_drop(pc);
	pool_stats.died_idle++;
	if (server_shutting_down)
		return 1;
	/* 10 ms, 20 ms, ... up to 5 s: a crash loop cannot spin the CPU. */
	delay = pool_failures >= 9 ? POOL_BACKOFF_MAX_MS :
	    10U << pool_failures;
	if (delay > POOL_BACKOFF_MAX_MS)
		delay = POOL_BACKOFF_MAX_MS;
	pool_failures++;
	pool_backoff_until = spawn_now_ms() + delay;
	log_warnx("pool: idle child %d died (exitcode %d); refilling in %u ms",
	    (int)pid, spawn_exitcode(wstatus), delay);
	pool_schedule(delay);
	return 1;
}

/* Limits changed: trim the surplus or refill. */
void
pool_config_changed(void)
{
	struct pool_child *pc;

	while (pool_stats.idle > server_config.limits.pool_max &&
	    (pc = TAILQ_LAST(&pool_idle, pool_child_list)) != NULL) {
		close(pc->p_fd);	/* it sees EOF and exits */
		pool_drop(pc);
	}
	pool_schedule(0);
}

/* Close every idle child's socket: each exits on EOF. */
void
pool_shutdown(void)
{
	struct pool_child *pc;

	while ((pc = TAILQ_FIRST(&pool_idle)) != NULL) {
		close(pc->p_fd);
		pool_drop(pc);
	}
	if (pool_refill_ev != NULL) {
		event_free(pool_refill_ev);
		pool_refill_ev = NULL;
	}
}
