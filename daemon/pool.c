/* pool.c: children forked ahead of demand, specialized on request.
 *
 * Like Android's USAP pool: each idle pool child is a fork of the warm
 * image (modules loaded, keys wiped, every fd but its control socket and
 * /dev/null closed) blocked in recvmsg() on a SOCK_SEQPACKET control socket.
 * A spawn sends it one datagram with the client's fds: the plan forkd
 * built for that spawn, flattened (plan.c), which the pool child takes back
 * out of the buffer without parsing or allocating, then runs child_run(),
 * using the control socket as its error pipe ("started", or EOF). So
 * the fork is off the critical path, and the pid, exit events and set-up
 * errors are those of a directly forked child. The daemon refills the pool
 * from a timer after demand, with back-off if pool children die unused.
 *
 * The forking is done by a zygote (zygote.c): a child forked once from the
 * warm image (no keys, no client sockets, signals reset) that makes pool
 * children on request with clone3(CLONE_PARENT), so they are forkd's own
 * children (forkd reaps them, their pids and exit events are as before) while
 * forkd itself never forks for the pool. That keeps fork()'s cost off the
 * daemon's event loop (the zygote runs on another core), and spares forkd
 * the copy-on-write faults (and, on a VM, the TLB shoot-down IPIs) that
 * every fork costs the parent on its next writes: the zygote's working set
 * is a few pages, the daemon's is not. Where clone3() is refused (systemd's
 * RestrictNamespaces= filters it out), the zygote uses clone(CLONE_PARENT).
 * If the zygote dies, forkd forks pool children itself as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include <pthread.h>
#include <sched.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/event.h>

#include <sodium.h>

#include "child.h"
#include "clock.h"
#include "clone.h"
#include "forkd.pb-c.h"
#include "log.h"
#include "module.h"
#include "plan.h"
#include "pool.h"
#include "secret.h"
#include "server.h"
#include "spawn.h"
#include "wire.h"
#include "zygote.h"

#define POOL_REFILL_DELAY_MS	1	/* let the current spawns go first */
#define POOL_REFILL_LAZY_MS	20	/* top up to pool_max when quiet */
#define POOL_STEP_MS		1	/* below pool_min: refill this long
					 * after the spawn */
#define POOL_BACKOFF_MAX_MS	5000

struct pool_child {
	TAILQ_ENTRY(pool_child)	 p_entry;
	pid_t			 p_pid;
	int			 p_fd;		/* daemon's end of the socket */
	/* Its report event, made when it joined (not added): the spawn
	 * that takes it assigns its callback (NULL if event_new failed). */
	struct event		*p_ev;
};

struct pool_counters	 pool_stats;
static TAILQ_HEAD(pool_child_list, pool_child) pool_idle =
    TAILQ_HEAD_INITIALIZER(pool_idle);
static struct event	*pool_refill_ev;
static struct event	*pool_lazy_ev;	/* the top-up after a quiet spell */
static struct event	*pool_step_ev;	/* the refill after a spawn */
static unsigned int	 pool_failures;	/* consecutive deaths while idle */
static uint64_t		 pool_backoff_until;	/* mono ms; no refill before */
/* A flattened plan: forkd packs into it, a pool child receives into it and
 * its plan then points into it for life. */
static unsigned char	 pool_buf[WIRE_FRAME_HARD_MAX + 1]
    __attribute__((aligned(16)));

static void	pool_schedule(unsigned int);

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

/* Close every fd from 3 up except a and b (either may be below 3). */
void
pool_close_all_but(int a, int b)
{
	int		keep[2] = { a < b ? a : b, a < b ? b : a };
	unsigned int	next = 3;

	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)next)
			continue;
		pool_close_range(next, (unsigned int)keep[i] - 1);
		next = (unsigned int)keep[i] + 1;
	}
	pool_close_range(next, ~0U);
}

/* Write now, while idle, to the pages that specializing will write: the
 * receive buffer, the stack, the plan, libc's environ. Right after fork()
 * each is a shared copy-on-write page, and a fault costs tens of
 * microseconds in a VM: taken here they are off the critical path of the
 * spawn that picks this child. A dry run of plan_unpack() over a packed
 * plan touches the same code and data as the real one. */
static void
pool_child_warm(struct child_plan *plan)
{
	extern char		**environ;
	char			 *argv[] = { "warm", NULL };
	char			 *envp[] = { "WARM=1", NULL };
	struct child_plan	  p;
	volatile char		  stack[16 * 1024];
	char			**volatile env = environ;
	size_t			  len;

	for (size_t i = 0; i < sizeof stack; i += 1024)
		stack[i] = 0;
	environ = env;
	memset(pool_buf, 0, 2 * 4096);
	memset(&p, 0, sizeof p);
	p.cp_argc = 1;
	p.cp_argv = argv;
	/* Not environ: packing forkd's environment here would read pages
	 * the real unpack never reads (that copy comes in the buffer). */
	p.cp_envp = envp;
	p.cp_path = "/";
	p.cp_cwd = "/";
	p.cp_name = argv[0];
	p.cp_cgroup_procs_fd = -1;
	if (plan_pack(&p, NULL, 0, -1, pool_buf, sizeof pool_buf, &len) == 0)
		(void)plan_unpack(pool_buf, len, NULL, 0, -1, plan);
}

/* In a new pool child: wait for one plan, then become that child. A
 * child of the zygote inherits what the zygote did once (signals reset,
 * RLIMIT_NOFILE back, keys wiped, every other fd closed) and skips it. */
static __attribute__((noreturn)) void
pool_child_main(int ctl, pid_t daemon_pid, int from_zygote)
{
	/* Static: the plan (which points into pool_buf) outlives this frame
	 * while the target runs. */
	static struct child_plan plan;
	struct child_error	 ce = { CHILD_STEP_HANDOVER, 0 };
	int			 fds[WIRE_MAX_FDS];
	size_t			 nfds;
	ssize_t			 n;
	int			 cwd_root;

	/* Idle pool children die with the daemon; a specialized one lives
	 * on like any child (see below). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != daemon_pid)
		_exit(0);
	if (!from_zygote) {
		(void)child_signals_reset();
		(void)child_nofile_reset();
		secret_wipe_all();
		/* Keep only the control socket and /dev/null (the plan's
		 * default stdio); the listener and other clients' sockets
		 * must not linger. */
		pool_close_all_but(ctl, server_devnull());
	}
	(void)prctl(PR_SET_NAME, "forkd-pool", 0, 0, 0);
	/* What child_run() would do first, done now, off the critical path;
	 * and the chdir of the usual cwd "/". */
	if (setsid() < 0)
		_exit(127);
	cwd_root = chdir("/") == 0;
	pool_child_warm(&plan);
	/* The modules' own warm-up (forkd_module_pool_warm()), here, off a
	 * spawn's path. */
	module_pool_warm();

	n = wire_recv(ctl, pool_buf, sizeof pool_buf, fds, WIRE_MAX_FDS,
	    &nfds);
	if (n == 0)
		_exit(0);	/* the daemon closed the pool */
	/* A message cut short or with too many fds (wire_recv() closed
	 * them): say so, as a set-up step that failed. */
	if ((ce.ce_errno = (int)-n) > 0)
		goto fail;
	/* forkd built and checked the plan (plan_build()): here it
	 * is only taken back out of the buffer, without allocating. An
	 * entry must be one of the modules' own (the image is forkd's). */
	if ((ce.ce_errno = -plan_unpack(pool_buf, (size_t)n, fds, nfds,
	    server_devnull(), &plan)) != 0)
		goto fail;
	if (plan.cp_entry != NULL && !module_entry_known(plan.cp_entry)) {
		ce.ce_errno = EBADMSG;
		goto fail;
	}
	/* From here this is an ordinary child: it outlives forkd. */
	(void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	plan.cp_errfd = ctl;
	plan.cp_presetup = 1;
	plan.cp_cwd_done = cwd_root && strcmp(plan.cp_cwd, "/") == 0 &&
	    !plan.cp_identity && plan.cp_unshare == 0;
	child_run(&plan);
fail:
	(void)!write(ctl, &ce, sizeof ce);
	_exit(127);
}


/* Kill an unwanted pool child whose socket is fd, before fd is closed: a
 * SIGSTOPped one would never see the EOF. A socket at EOF means the
 * process is gone (and its pid maybe reused): leave it. Otherwise it is
 * alive and unreaped (the reaper runs in this loop), the pid ours. */
static void
pool_kill_unless_gone(pid_t pid, int fd)
{
	char c;

	if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0)
		kill(pid, SIGKILL);
}

/* Placeholder callback of an idle child's event: it is never added
 * before spawn_register() assigns the real one. */
static void
pool_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* An idle child pc joins the pool: fd non-blocking, its event made now
 * (off the spawn path: a spawn only assigns and adds it). */
static void
pool_join(struct pool_child *pc, pid_t pid, int fd)
{
	fcntl(fd, F_SETFL, O_NONBLOCK);
	pc->p_pid = pid;
	pc->p_fd = fd;
	pc->p_ev = server_evbase() != NULL ? event_new(server_evbase(), fd,
	    EV_READ | EV_PERSIST, pool_idle_cb, NULL) : NULL;
	TAILQ_INSERT_TAIL(&pool_idle, pc, p_entry);
	pool_stats.idle++;
	pool_stats.forked++;
}

/* A pool child the zygote made: forkd's end of its socket is fd. Keep it
 * idle, or end it when the pool is full or forkd stops. */
static void
pool_adopt(pid_t pid, int fd)
{
	struct pool_child *pc;

	if (server_stopping() ||
	    pool_stats.idle >= server_config_get()->limits.pool_max ||
	    (pc = calloc(1, sizeof *pc)) == NULL) {
		/* Not kept: a stopped child would not see EOF. */
		pool_kill_unless_gone(pid, fd);
		close(fd);
		return;
	}
	pool_join(pc, pid, fd);
}

/* In a child of the zygote: become an idle pool child. */
static void
pool_zygote_child_main(int ctl, pid_t daemon_pid)
{
	pool_child_main(ctl, daemon_pid, 1);
}

/* The zygote was given up on: forkd forks the pool children now. */
static void
pool_zygote_off(void)
{
	pool_schedule(POOL_REFILL_DELAY_MS);
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
		pool_child_main(sv[1], self, 0);
	}
	close(sv[1]);
	if (pid < 0) {
		int err = errno;

		close(sv[0]);
		free(pc);
		return -err;
	}
	pool_join(pc, pid, sv[0]);
	return 0;
}

/* No refill for delay_ms (an idle child died). */
void
pool_backoff_start(unsigned int delay_ms)
{
	pool_backoff_until = clock_mono_ms() + delay_ms;
}

/* How long the refill back-off still runs. */
uint64_t
pool_backoff_left_ms(void)
{
	return clock_left_ms(pool_backoff_until);
}

/* Top the pool up to pool_max. */
static void
pool_fill(void)
{
	unsigned int	max = server_config_get()->limits.pool_max;
	uint64_t	wait = pool_backoff_left_ms();

	if (server_stopping())
		return;
	if (wait > 0) {
		pool_schedule((unsigned int)wait);
		return;
	}
	if (zygote_active()) {
		unsigned int have = pool_stats.idle + zygote_pending();
		unsigned int room = server_config_get()->limits.max_children;

		room = room > spawn_stats.live + have ?
		    room - spawn_stats.live - have : 0;
		if (have < max && room > 0 && zygote_ask(
		    max - have < room ? max - have : room) != 0)
			log_warnx("pool: cannot reach the zygote");
		return;
	}
	while (pool_stats.idle < max &&
	    spawn_stats.live + pool_stats.idle <
	    server_config_get()->limits.max_children) {
		int r = pool_fork_one();

		if (r != 0) {
			log_warnx("pool: cannot fork: %s", strerror(-r));
			break;
		}
	}
}

/* A refill timer fired (pool_refill_ev, pool_lazy_ev or pool_step_ev):
 * fill the pool, all that is missing in one request to the zygote. */
static void
pool_refill_cb(evutil_socket_t fd, short what, void *arg)
{
	pool_fill();
}

/* (Re)arm the refill timer *evp (made on first use) to fire in delay_ms:
 * a pending one is pushed back when push, else left as it is. */
static void
pool_timer(struct event **evp, unsigned int delay_ms, int push)
{
	struct timeval tv = clock_tv(delay_ms);

	if (*evp == NULL)
		*evp = evtimer_new(server_evbase(), pool_refill_cb, NULL);
	if (*evp != NULL && (push || !evtimer_pending(*evp, NULL)))
		evtimer_add(*evp, &tv);
}

/* Schedule a refill after delay_ms, unless one is pending; an urgent one
 * (POOL_REFILL_DELAY_MS or less) brings a pending one forward. */
static void
pool_schedule(unsigned int delay_ms)
{
	pool_timer(&pool_refill_ev, delay_ms, delay_ms <= POOL_REFILL_DELAY_MS);
}

/* Free a refill timer made by pool_timer(). */
static void
pool_timer_free(struct event **evp)
{
	if (*evp != NULL) {
		event_free(*evp);
		*evp = NULL;
	}
}

/* A spawn took an idle child: refill so that the zygote's clones (130 us
 * of a CPU each at 0 MiB of state, 750 us at 1 GiB on the 2-vCPU
 * benchmark VM) land beside as few spawns as they can: a spawn with a
 * clone running beside it took 3 to 10 times as long to its first byte
 * at 1 GiB (bench/README.md, hops). So they come in batches (one clone
 * per spawn measured worse: more spawns had one beside them), started
 * POOL_STEP_MS after the spawn that left the pool below pool_min (its
 * set-up is done by then), and the top-up to pool_max waits for
 * POOL_REFILL_LAZY_MS without a spawn (re-armed by every spawn, where it
 * used to fire 20 ms after the first spawn of a series, beside a later
 * one). Running dry (under half of pool_min), the zygote is asked at
 * once: throughput first. */
static void
pool_after_launch(void)
{
	unsigned int min = server_config_get()->limits.pool_min;
	unsigned int have = pool_stats.idle + zygote_pending();

	if (!zygote_active()) {
		/* forkd forks them itself, 1 ms later, after this spawn. */
		if (pool_stats.idle < min)
			pool_schedule(POOL_REFILL_DELAY_MS);
		else
			pool_timer(&pool_lazy_ev, POOL_REFILL_LAZY_MS, 1);
		return;
	}
	if (have < (min + 1) / 2)
		pool_fill();
	else if (have < min)
		pool_timer(&pool_step_ev, POOL_STEP_MS, 0);
	pool_timer(&pool_lazy_ev, POOL_REFILL_LAZY_MS, 1);
}

/* Fill the pool at start-up. */
void
pool_init(void)
{
	int r;

	/* Before the zygote is forked: it inherits the answer. */
	(void)clone_clone3_probe();
	if (server_config_get()->limits.pool_max > 0 &&
	    (r = zygote_start(pool_zygote_child_main, pool_adopt,
	    pool_zygote_off)) != 0)
		log_info("pool: no zygote (%s); forkd forks pool children",
		    strerror(-r));
	pool_fill();
	if (server_config_get()->limits.pool_max > 0)
		log_info("pool: %u children %s", pool_stats.idle +
		    zygote_pending(), zygote_active() ? "asked of the zygote" :
		    "pre-forked");
}

/* Remove and free an idle entry (its process is not touched). */
static void
pool_drop(struct pool_child *pc)
{
	if (pc->p_ev != NULL)
		event_free(pc->p_ev);
	TAILQ_REMOVE(&pool_idle, pc, p_entry);
	pool_stats.idle--;
	free(pc);
}

/* Hand a spawn's plan to the first idle pool child. */
int
pool_launch(const struct child_plan *plan, const int *fds, size_t nfds,
    pid_t *ret_pid, int *ret_ctlfd, struct event **ret_ev)
{
	struct pool_child	*pc;
	size_t			 len = 0;
	int			 err;

	/* A pool child is a session leader already (setsid() at fork) and
	 * cannot join a process group of forkd's session: fork afresh. */
	if (plan->cp_pgroup_only)
		return -EOPNOTSUPP;
	/* Empty, but the zygote is making children: its next one comes
	 * sooner than a fork here would finish, and costs this loop no
	 * copy-on-write faults. Wait for it a little (the loop is blocked
	 * either way), then fork if it is late. */
	if (TAILQ_EMPTY(&pool_idle))
		zygote_wait_one();
	/* Too big for one message (a huge environment): fork instead. */
	if (!TAILQ_EMPTY(&pool_idle) && (err = plan_pack(plan, fds, nfds,
	    server_devnull(), pool_buf, sizeof pool_buf, &len)) != 0) {
		sodium_memzero(pool_buf, sizeof pool_buf);	/* part of it */
		return err;
	}
	while ((pc = TAILQ_FIRST(&pool_idle)) != NULL) {
		err = wire_send(pc->p_fd, pool_buf, len, fds, nfds);
		/* Sent, or going the fork way: the pool children forkd
		 * forks later must not inherit this client's plan. */
		if (err == 0 || err == -EMSGSIZE)
			sodium_memzero(pool_buf, len);
		/* Larger than the socket takes: the child is fine, the plan
		 * goes the fork way. */
		if (err == -EMSGSIZE)
			return err;
		if (err != 0) {
			/* A dead or stuck pool child: discard it, try the next;
			 * the reaper collects the process. */
			log_debug("pool: child %d unusable: %s", (int)pc->p_pid,
			    strerror(-err));
			/* Alive but not reading: kill it. Otherwise it is gone
			 * (perhaps reaped already: its pid may be reused). */
			if (err == -EAGAIN)
				kill(pc->p_pid, SIGKILL);
			close(pc->p_fd);
			pool_drop(pc);
			continue;
		}
		*ret_pid = pc->p_pid;
		*ret_ctlfd = pc->p_fd;
		*ret_ev = pc->p_ev;	/* the caller's now */
		pc->p_ev = NULL;
		pool_drop(pc);
		pool_stats.launched++;
		pool_failures = 0;
		/* A fork running beside a spawn slows it down even on
		 * another core (the harness measured cycles 1.5-2x slower
		 * with eager refills, and no throughput gained). */
		pool_after_launch();
		return 0;
	}
	sodium_memzero(pool_buf, len);	/* no child took it: it forks */
	if (server_config_get()->limits.pool_max > 0) {
		if (zygote_active())
			pool_fill();
		else
			pool_schedule(POOL_REFILL_DELAY_MS);
	}
	return -EAGAIN;
}

/* An idle pool child ended: drop it and refill with back-off. */
int
pool_reaped(pid_t pid, int wstatus)
{
	struct pool_child	*pc;
	unsigned int		 delay;

	if (zygote_reaped(pid, wstatus))
		return 1;
	TAILQ_FOREACH(pc, &pool_idle, p_entry)
		if (pc->p_pid == pid)
			break;
	if (pc == NULL) {
		zygote_unknown_reaped(pid);
		return 0;
	}
	close(pc->p_fd);
	pool_drop(pc);
	pool_stats.died_idle++;
	if (server_stopping())
		return 1;
	/* 10 ms, 20 ms, ... up to 5 s: a crash loop cannot spin the CPU. */
	delay = pool_failures >= 9 ? POOL_BACKOFF_MAX_MS :
	    10U << pool_failures;
	if (delay > POOL_BACKOFF_MAX_MS)
		delay = POOL_BACKOFF_MAX_MS;
	pool_failures++;
	pool_backoff_start(delay);
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

	while (pool_stats.idle > server_config_get()->limits.pool_max &&
	    (pc = TAILQ_LAST(&pool_idle, pool_child_list)) != NULL) {
		/* A stopped child would not see EOF: kill it too. */
		pool_kill_unless_gone(pc->p_pid, pc->p_fd);
		close(pc->p_fd);
		pool_drop(pc);
	}
	pool_schedule(0);
}

/* Kill every idle pool child (a stopped one would not see EOF) and let the
 * zygote make fresh ones: after a pool child hung in set-up, the others
 * may be stopped too. */
void
pool_flush_idle(void)
{
	struct pool_child *pc;

	while ((pc = TAILQ_FIRST(&pool_idle)) != NULL) {
		pool_kill_unless_gone(pc->p_pid, pc->p_fd);
		close(pc->p_fd);
		pool_drop(pc);
	}
	pool_schedule(POOL_REFILL_DELAY_MS);
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
	pool_timer_free(&pool_refill_ev);
	pool_timer_free(&pool_lazy_ev);
	pool_timer_free(&pool_step_ev);
	/* The zygote sees EOF and exits; children it made meanwhile see EOF
	 * on their sockets (closed with its end) and exit too. */
	zygote_stop();
}
