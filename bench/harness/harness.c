/* harness.c: forkd-bench, the benchmark harness of issue 4.
 *
 * It starts, for every preloaded state size, two forkds with the bench
 * module (bench.so:size_mb=N): one as configured by default (pre-forked
 * pool on) and one with --pool 0; an in-process anchor worker holding N MiB
 * in plain pages; and a Python multiprocessing forkserver with N MiB
 * preloaded; plus one SOCK_SEQPACKET echo process. Then it measures in
 * rounds: each round runs every method once, against every state, in a
 * fresh random order, so the drift of a noisy shared machine hits all
 * methods alike. Then the interleaved mode: first bytes back to back with
 * the caller's own work between them, so the pool's refill lands beside
 * the next spawn. Throughput trials are interleaved the same way, with
 * blocking clients and with pipelined ones (several forkd_spawn_start()
 * in flight each). Last, it counts the memory of live children.
 *
 * Only this process talks to forkd; the anchors time themselves in-process
 * and report nanoseconds. Every helper is forked before the first thread
 * starts, dies with the harness (PR_SET_PDEATHSIG) and is stopped on exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "forkd.h"
#include "anchor.h"
#include "harness.h"
#include "pyfs.h"
#include "report.h"
#include "util.h"

#define H_KEY_LEN		32
#define H_START_MS		120000	/* forkd start-up, 1 GiB init included */
#define H_EVENT_MS		30000	/* one exit event */
#define H_BYTE_MS		30000	/* one first byte */
#define H_SLEEP_SECONDS		"120"	/* PSS children; bounded if we die */
#define H_WARMUP_MAX_S		20	/* warm-up rounds stop after this */

extern char **environ;

/* One forkd under test. */
struct h_forkd {
	pid_t		 d_pid;
	unsigned long	 d_mb;
	int		 d_pool;	/* 0: started with --pool 0 */
	char		 d_sock[108];
	char		 d_log[4096];
	struct forkd	*d_main;
	struct forkd	*d_clients[64];
	size_t		 d_nclients;
};

/* Everything live for one state size. */
struct h_target {
	struct h_forkd	 t_forkd;	/* pool on (forkd's default) */
	struct h_forkd	 t_forkd_np;	/* --pool 0 */
	struct anchor	 t_anchor;
	struct pyfs	 t_py;
	struct h_state	*t_state;
};

static unsigned char	h_key[H_KEY_LEN];
static struct h_target	h_targets[H_STATES_MAX];
static size_t		h_ntargets;
static struct anchor_echo h_echo;
static int		h_python_ok;

/* First-byte pipe: a reader thread stamps each byte's arrival, so a byte
 * that beats forkd's spawn reply is timed when it lands, not after. */
static int		h_byte_rfd = -1, h_byte_wfd = -1;
static sem_t		h_byte_sem;
static _Atomic uint64_t	h_byte_ns;

/* Direct pipe for posix_spawn's first byte, read in this thread. */
static int		h_spawn_rfd = -1, h_spawn_wfd = -1;
static posix_spawn_file_actions_t h_spawn_fa;

static uint64_t		h_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t		h_t0;		/* start of the run, for progress */

/* A progress line on stderr, with the seconds since the start. */
static void __attribute__((format(printf, 1, 2)))
h_progress(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "[%5.1f s] ", (double)(util_now_ns() - h_t0) / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* xorshift64*: the shuffle of each round. */
static uint64_t
h_rand(void)
{
	h_rng ^= h_rng >> 12;
	h_rng ^= h_rng << 25;
	h_rng ^= h_rng >> 27;
	return h_rng * 0x2545f4914f6cdd1dULL;
}

/* Fisher-Yates shuffle of a round's jobs. */
static void
h_shuffle(unsigned *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t	 j = (size_t)(h_rand() % i);
		unsigned t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* The reader thread of the first-byte pipe. */
static void *
h_byte_reader(void *arg)
{
	char	c;
	ssize_t	n;

	for (;;) {
		n = read(h_byte_rfd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		atomic_store(&h_byte_ns, util_now_ns());
		sem_post(&h_byte_sem);
	}
}

/* Wait for the reader thread to see the next byte; its arrival time. */
static uint64_t
h_byte_wait(const char *what)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += H_BYTE_MS / 1000;
	while (sem_timedwait(&h_byte_sem, &ts) != 0) {
		if (errno == EINTR)
			continue;
		util_die("%s: no first byte within %d s: %s", what,
		    H_BYTE_MS / 1000, strerror(errno));
	}
	return atomic_load(&h_byte_ns);
}

/* Wait for the exit event of pid on h and check it exited 0. */
static void
h_forkd_reap(struct forkd *h, pid_t pid, const char *what)
{
	struct forkd_exit	ex;
	int			r;

	if ((r = forkd_wait_exit_event(h, H_EVENT_MS, &ex)) < 0)
		util_die("%s: exit event: %s (%s)", what, forkd_strerror(r),
		    forkd_errmsg(h));
	if (ex.pid != pid || ex.exitcode != 0)
		util_die("%s: child %d ended with %d (expected %d, 0)", what,
		    (int)ex.pid, ex.exitcode, (int)pid);
}

/* forkd spawn request -> first byte on the pipe (the target writes it:
 * bench:byte first thing, /bin/echo once it runs). */
static uint64_t
h_forkd_ttfi(struct forkd *h, const char *target, const char *const *argv)
{
	struct forkd_spawn_opts	o;
	uint64_t		t0, t1;
	pid_t			pid;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	o.argv = argv;
	o.stdout_fd = h_byte_wfd;
	t0 = util_now_ns();
	if ((r = forkd_spawn(h, &o, &pid, NULL, 0)) < 0)
		util_die("spawn %s: %s (%s)", target, forkd_strerror(r),
		    forkd_errmsg(h));
	t1 = h_byte_wait(target);
	h_forkd_reap(h, pid, target);
	return t1 - t0;
}

/* forkd spawn request -> exit event: one cycle. */
static uint64_t
h_forkd_cycle(struct forkd *h, const char *target, struct stats *lat)
{
	struct forkd_spawn_opts	o;
	uint64_t		t0, t1;
	pid_t			pid;
	int			r;

	forkd_spawn_opts_init(&o);
	o.target = target;
	t0 = util_now_ns();
	if ((r = forkd_spawn(h, &o, &pid, NULL, 0)) < 0)
		util_die("spawn %s: %s (%s)", target, forkd_strerror(r),
		    forkd_errmsg(h));
	h_forkd_reap(h, pid, target);
	t1 = util_now_ns();
	if (lat != NULL)
		stats_add(lat, t1 - t0);
	return t1 - t0;
}

/* Time one forkd_ping(). */
static uint64_t
h_forkd_ping(struct forkd *h)
{
	uint64_t	t0 = util_now_ns();
	int		r;

	if ((r = forkd_ping(h)) < 0)
		util_die("ping: %s", forkd_strerror(r));
	return util_now_ns() - t0;
}

/* posix_spawn /bin/true + waitpid. */
static uint64_t
h_spawn_cycle(void)
{
	char *const	argv[] = { "/bin/true", NULL };
	uint64_t	t0, t1;
	pid_t		pid;
	int		r, st;

	t0 = util_now_ns();
	if ((r = posix_spawn(&pid, "/bin/true", NULL, NULL, argv,
	    environ)) != 0)
		util_die("posix_spawn /bin/true: %s", strerror(r));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t1 = util_now_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		util_die("/bin/true failed");
	return t1 - t0;
}

/* posix_spawn /bin/echo -n x -> first byte read here. */
static uint64_t
h_spawn_ttfi(void)
{
	char *const	argv[] = { "/bin/echo", "-n", "x", NULL };
	uint64_t	t0, t1;
	pid_t		pid;
	char		c;
	int		r;

	t0 = util_now_ns();
	if ((r = posix_spawn(&pid, "/bin/echo", &h_spawn_fa, NULL, argv,
	    environ)) != 0)
		util_die("posix_spawn /bin/echo: %s", strerror(r));
	if ((r = util_read_full(h_spawn_rfd, &c, 1, H_BYTE_MS)) != 0)
		util_die("/bin/echo: %s", strerror(-r));
	t1 = util_now_ns();
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return t1 - t0;
}

/* Connect to a forkd, waiting for it to come up; dies with its log if it
 * exits first. */
static struct forkd *
h_connect(struct h_forkd *d, int wait_ms)
{
	uint64_t	 deadline = util_now_ns() + (uint64_t)wait_ms * 1000000;
	struct forkd	*h;
	int		 r, st;

	for (;;) {
		r = forkd_connect_key(&h, d->d_sock, h_key, sizeof h_key);
		if (r == 0)
			return h;
		if (waitpid(d->d_pid, &st, WNOHANG) == d->d_pid) {
			char	cmd[4200];

			util_untrack(d->d_pid);
			fprintf(stderr, "forkd (%lu MiB, pool %s) exited at "
			    "start-up; its log:\n", d->d_mb,
			    d->d_pool ? "on" : "off");
			snprintf(cmd, sizeof cmd, "cat '%s' >&2", d->d_log);
			(void)!system(cmd);
			util_die("cannot start forkd");
		}
		if (util_now_ns() >= deadline)
			util_die("forkd (%lu MiB) at %s: %s after %d s",
			    d->d_mb, d->d_sock, forkd_strerror(r),
			    wait_ms / 1000);
		usleep(20000);
	}
}

/* Start forkd with bench.so:size_mb=mb (pool on, or --pool 0);
 * h_forkd_ready() connects once it is up. */
static void
h_forkd_launch(struct h_forkd *d, const struct h_config *c,
    unsigned long mb, int pool, const char *keyfile, const char *conffile)
{
	const char	*tag = pool ? "pool" : "nopool";
	char		 mod[4200];
	int		 fd;

	memset(d, 0, sizeof *d);
	d->d_mb = mb;
	d->d_pool = pool;
	if ((size_t)snprintf(d->d_sock, sizeof d->d_sock,
	    "%s/forkd-%lu-%s.sock", c->c_tmpdir, mb, tag) >= sizeof d->d_sock)
		util_die("temporary directory %s: socket path longer than "
		    "sun_path (108 bytes)", c->c_tmpdir);
	snprintf(d->d_log, sizeof d->d_log, "%s/forkd-%lu-%s.log",
	    c->c_tmpdir, mb, tag);
	snprintf(mod, sizeof mod, "%s:size_mb=%lu%s%s", c->c_bench_so, mb,
	    c->c_bench_opts ? "," : "", c->c_bench_opts ? c->c_bench_opts : "");
	fflush(NULL);
	d->d_pid = fork();
	if (d->d_pid < 0)
		util_die("fork: %s", strerror(errno));
	if (d->d_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() == 1)
			_exit(1);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		fd = open(d->d_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(127);
		if (pool)
			execl(c->c_forkd, "forkd", "-c", conffile, "-s",
			    d->d_sock, "-k", keyfile, "-m", mod, "-q",
			    (char *)NULL);
		else
			execl(c->c_forkd, "forkd", "-c", conffile, "-s",
			    d->d_sock, "-k", keyfile, "-m", mod, "--pool", "0",
			    "-q", (char *)NULL);
		_exit(127);
	}
	util_track(d->d_pid);
}

/* Wait for a launched forkd and open its main and client connections.
 * The main connection is also the first client (the phases that use them
 * never overlap), so 32 clients stay within forkd's default
 * max_connections_per_uid (32). */
static void
h_forkd_ready(struct h_forkd *d, size_t nclients)
{
	d->d_main = h_connect(d, H_START_MS);
	d->d_clients[0] = d->d_main;
	for (d->d_nclients = 1; d->d_nclients < nclients; d->d_nclients++)
		d->d_clients[d->d_nclients] = h_connect(d, 10000);
}

/* Close the connections, stop forkd, remove its files. */
static void
h_forkd_stop(struct h_forkd *d)
{
	for (size_t i = 1; i < d->d_nclients; i++)
		forkd_close(d->d_clients[i]);
	d->d_nclients = 0;
	forkd_close(d->d_main);
	d->d_main = NULL;
	if (d->d_pid > 0) {
		kill(d->d_pid, SIGTERM);
		util_reap(d->d_pid, 10000, NULL);
		d->d_pid = 0;
	}
	unlink(d->d_sock);
	unlink(d->d_log);
}

/* Run one latency job: index < H_LAT_MAX * ntargets is (state, method),
 * the rest are the state-free anchors. keep: record the figure. */
static void
h_lat_job(struct h_results *res, unsigned job, int keep)
{
	static const char *const echo_argv[] = { "/bin/echo", "-n", "x", NULL };
	unsigned	 t = job / H_LAT_MAX, m = job % H_LAT_MAX;
	struct h_target	*tg;
	uint64_t	 ns;

	if (t >= h_ntargets) {
		unsigned g = job - (unsigned)h_ntargets * H_LAT_MAX;

		ns = g == H_SPAWN_CYCLE ? h_spawn_cycle() :
		    g == H_SPAWN_TTFI ? h_spawn_ttfi() :
		    anchor_echo_rtt(&h_echo);
		if (keep)
			stats_add(&res->r_glob[g], ns);
		return;
	}
	tg = &h_targets[t];
	switch (m) {
	case H_FORKD_TTFI:
		ns = h_forkd_ttfi(tg->t_forkd.d_main, "bench:byte", NULL);
		break;
	case H_FORKD_NP_TTFI:
		ns = h_forkd_ttfi(tg->t_forkd_np.d_main, "bench:byte", NULL);
		break;
	case H_FORK_TTFI:
		ns = anchor_ttfi(&tg->t_anchor);
		break;
	case H_PY_TTFI:
		ns = pyfs_measure(&tg->t_py, "ttfi");
		break;
	case H_FORKD_CYCLE:
		ns = h_forkd_cycle(tg->t_forkd.d_main, "bench:noop", NULL);
		break;
	case H_FORKD_NP_CYCLE:
		ns = h_forkd_cycle(tg->t_forkd_np.d_main, "bench:noop", NULL);
		break;
	case H_FORK_CYCLE:
		ns = anchor_cycle(&tg->t_anchor);
		break;
	case H_PY_CYCLE:
		ns = pyfs_measure(&tg->t_py, "cycle");
		break;
	case H_FORKD_EXEC_CYCLE:
		ns = h_forkd_cycle(tg->t_forkd.d_main, "/bin/true", NULL);
		break;
	case H_FORKD_NP_EXEC_CYCLE:
		ns = h_forkd_cycle(tg->t_forkd_np.d_main, "/bin/true", NULL);
		break;
	case H_FORKD_EXEC_TTFI:
		ns = h_forkd_ttfi(tg->t_forkd.d_main, "/bin/echo", echo_argv);
		break;
	case H_FORKD_NP_EXEC_TTFI:
		ns = h_forkd_ttfi(tg->t_forkd_np.d_main, "/bin/echo",
		    echo_argv);
		break;
	case H_FORKD_PING:
	default:
		ns = h_forkd_ping(tg->t_forkd.d_main);
		break;
	}
	if (keep)
		stats_add(&tg->t_state->s_lat[m], ns);
}

/* The latency phase: warm-up rounds, then rounds until the count or the
 * time budget is reached. */
static void
h_latency_phase(struct h_results *res, const struct h_config *c)
{
	unsigned	jobs[H_STATES_MAX * H_LAT_MAX + H_GLOB_MAX];
	size_t		njobs = 0;
	uint64_t	start = 0, warm_end;
	unsigned	round;

	for (unsigned t = 0; t < h_ntargets; t++)
		for (unsigned m = 0; m < H_LAT_MAX; m++) {
			if (!h_python_ok && (m == H_PY_TTFI || m == H_PY_CYCLE))
				continue;
			jobs[njobs++] = t * H_LAT_MAX + m;
		}
	for (unsigned g = 0; g < H_GLOB_MAX; g++)
		jobs[njobs++] = (unsigned)h_ntargets * H_LAT_MAX + g;

	h_progress("latency: %zu methods per round, %u warm-up + up to "
	    "%u rounds, budget %u s", njobs, c->c_warmup, c->c_rounds,
	    c->c_budget_s);
	warm_end = util_now_ns() + (uint64_t)(c->c_quick ? H_WARMUP_MAX_S / 4 :
	    H_WARMUP_MAX_S) * 1000000000ULL;
	for (round = 0; round < c->c_warmup + c->c_rounds; round++) {
		int keep;

		/* Warm-up is bounded in time too, on a loaded machine. */
		if (round > 0 && round < c->c_warmup && util_now_ns() > warm_end)
			round = c->c_warmup;
		keep = round >= c->c_warmup;
		if (round == c->c_warmup)
			start = util_now_ns();
		h_shuffle(jobs, njobs);
		for (size_t j = 0; j < njobs; j++)
			h_lat_job(res, jobs[j], keep);
		if (keep)
			res->r_rounds++;
		if (keep && res->r_rounds % 50 == 0)
			h_progress("  round %u", res->r_rounds);
		if (keep && res->r_rounds >= c->c_min_rounds &&
		    util_now_ns() - start >= (uint64_t)c->c_budget_s *
		    1000000000ULL) {
			res->r_budget_hit = res->r_rounds < c->c_rounds;
			break;
		}
	}
}

/* The caller's own work between two of its spawns in the interleaved
 * mode: us microseconds of CPU, touching a small buffer as real work
 * would. */
static void
h_caller_work(unsigned us)
{
	static volatile unsigned char	buf[64 * 1024];
	uint64_t			end = util_now_ns() +
					    (uint64_t)us * 1000;
	size_t				i = 0;

	while (util_now_ns() < end)
		for (unsigned k = 0; k < 256; k++, i = (i + 64) % sizeof buf)
			buf[i]++;
}

/* The interleaved ("probe") mode: rounds of a forkd first byte and an
 * in-process fork() first byte against every state, shuffled, back to
 * back with only the caller's own work between them (c_probe_work_us).
 * Unlike the latency rounds, which run some forty other methods between
 * two spawns of one forkd, a spawn here comes about a millisecond after
 * the last: the pool's refill lands beside it, as it does for a caller
 * that spawns in a loop. */
static void
h_probe_phase(struct h_results *res, const struct h_config *c)
{
	unsigned	jobs[H_STATES_MAX * H_PROBE_MAX];
	size_t		njobs = 0;
	unsigned	warm = c->c_quick ? 5 : 20;

	if (c->c_probe_rounds == 0)
		return;
	for (unsigned t = 0; t < h_ntargets; t++)
		for (unsigned m = 0; m < H_PROBE_MAX; m++)
			jobs[njobs++] = t * H_PROBE_MAX + m;
	h_progress("interleaved mode: %u rounds of %zu first bytes, %u us of "
	    "caller work between them", c->c_probe_rounds, njobs,
	    c->c_probe_work_us);
	for (unsigned round = 0; round < warm + c->c_probe_rounds; round++) {
		h_shuffle(jobs, njobs);
		for (size_t j = 0; j < njobs; j++) {
			struct h_target	*tg = &h_targets[jobs[j] / H_PROBE_MAX];
			unsigned	 m = jobs[j] % H_PROBE_MAX;
			uint64_t	 ns;

			ns = m == H_PROBE_FORKD_TTFI ?
			    h_forkd_ttfi(tg->t_forkd.d_main, "bench:byte",
			    NULL) : anchor_ttfi(&tg->t_anchor);
			if (round >= warm)
				stats_add(&tg->t_state->s_probe[m], ns);
			h_caller_work(c->c_probe_work_us);
		}
		if (round >= warm)
			res->r_probe_rounds++;
	}
	report_loadavg(res->r_load_probe, sizeof res->r_load_probe);
}

/* One forkd client of a throughput trial. */
struct h_tput_client {
	pthread_t		 tc_thread;
	struct forkd		*tc_h;
	pthread_barrier_t	*tc_barrier;
	const uint64_t		*tc_deadline;
	unsigned		 tc_depth;
	uint64_t		 tc_cycles;
	uint64_t		 tc_done_ns;
	struct stats		 tc_lat;
};

/* Client thread: spawn/wait cycles until the deadline. */
static void *
h_tput_client_run(void *arg)
{
	struct h_tput_client *tc = arg;

	pthread_barrier_wait(tc->tc_barrier);
	while (util_now_ns() < *tc->tc_deadline) {
		h_forkd_cycle(tc->tc_h, "bench:noop", &tc->tc_lat);
		tc->tc_cycles++;
	}
	tc->tc_done_ns = util_now_ns();
	return NULL;
}

/* One spawn in flight of a pipelined client. */
struct h_flight {
	uint32_t	f_id;
	pid_t		f_pid;		/* 0 until the reply came */
	uint64_t	f_t0;
	int		f_replied;
	int		f_exited;
};

/* A pipelined cycle is done once both its reply and its exit event came:
 * count it and free the slot. */
static void
h_flight_check(struct h_tput_client *tc, struct h_flight *f, size_t *n,
    size_t i)
{
	if (!f[i].f_replied || !f[i].f_exited)
		return;
	stats_add(&tc->tc_lat, util_now_ns() - f[i].f_t0);
	tc->tc_cycles++;
	f[i] = f[--*n];
}

/* Pipelined client thread: keeps tc_depth spawns of bench:noop in flight
 * with forkd_spawn_start() and collects replies (forkd_next_reply()) and
 * exit events (forkd_next_exit()) as they come; a cycle's latency runs
 * from its request to the later of its reply and its exit event. */
static void *
h_tput_client_pipe_run(void *arg)
{
	struct h_tput_client	*tc = arg;
	struct forkd_spawn_opts	 o;
	struct h_flight		 f[64];
	pid_t			 early[64];	/* exits before their reply */
	size_t			 n = 0, nearly = 0;
	int			 r;

	forkd_spawn_opts_init(&o);
	o.target = "bench:noop";
	pthread_barrier_wait(tc->tc_barrier);
	for (;;) {
		struct forkd_reply	rep;
		struct forkd_exit	ex;
		struct pollfd		pfd;
		int			more = util_now_ns() < *tc->tc_deadline;
		int			got;

		if (!more && n == 0)
			break;
		while (more && n < tc->tc_depth) {
			f[n].f_t0 = util_now_ns();
			if ((r = forkd_spawn_start(tc->tc_h, &o,
			    &f[n].f_id)) < 0)
				util_die("spawn_start: %s (%s)",
				    forkd_strerror(r), forkd_errmsg(tc->tc_h));
			f[n].f_pid = 0;
			f[n].f_replied = f[n].f_exited = 0;
			n++;
		}
		got = 0;
		while (forkd_next_reply(tc->tc_h, &rep) == 0) {
			size_t i;

			if (rep.kind != FORKD_REPLY_SPAWN || rep.error != 0)
				util_die("pipelined spawn: %s (%s)",
				    forkd_strerror(rep.error), rep.errmsg);
			for (i = 0; i < n && f[i].f_id != rep.id; i++)
				;
			if (i == n)
				util_die("reply to unknown request %u", rep.id);
			got = 1;
			f[i].f_pid = rep.spawned.pid;
			f[i].f_replied = 1;
			for (size_t e = 0; e < nearly; e++)
				if (early[e] == f[i].f_pid) {
					early[e] = early[--nearly];
					f[i].f_exited = 1;
					break;
				}
			h_flight_check(tc, f, &n, i);
		}
		while (forkd_next_exit(tc->tc_h, &ex) == 0) {
			size_t i;

			if (ex.exitcode != 0)
				util_die("bench:noop child %d ended with %d",
				    (int)ex.pid, ex.exitcode);
			for (i = 0; i < n && !(f[i].f_replied &&
			    f[i].f_pid == ex.pid); i++)
				;
			if (i == n) {
				if (nearly == sizeof early / sizeof early[0])
					util_die("too many early exit events");
				early[nearly++] = ex.pid;
				continue;
			}
			got = 1;
			f[i].f_exited = 1;
			h_flight_check(tc, f, &n, i);
		}
		/* Anything taken: refill before waiting. */
		if (got)
			continue;
		pfd.fd = forkd_fd(tc->tc_h);
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, H_EVENT_MS)) < 0 && errno != EINTR)
			util_die("poll: %s", strerror(errno));
		if (r == 0)
			util_die("pipelined client: nothing from forkd in %d s",
			    H_EVENT_MS / 1000);
		if ((r = forkd_process(tc->tc_h)) < 0)
			util_die("forkd_process: %s", forkd_strerror(r));
	}
	tc->tc_done_ns = util_now_ns();
	return NULL;
}

/* A forkd throughput trial with k clients, one connection each, each
 * with depth spawns in flight (1: blocking forkd_spawn()). */
static void
h_tput_forkd(struct h_forkd *d, struct h_tput *tp, unsigned k, unsigned ms,
    unsigned depth)
{
	struct h_tput_client	tc[64];
	pthread_barrier_t	barrier;
	uint64_t		deadline = UINT64_MAX, start, done = 0;
	uint64_t		cycles = 0;

	pthread_barrier_init(&barrier, NULL, k + 1);
	memset(tc, 0, sizeof tc);
	for (unsigned i = 0; i < k; i++) {
		tc[i].tc_h = d->d_clients[i];
		tc[i].tc_barrier = &barrier;
		tc[i].tc_deadline = &deadline;
		tc[i].tc_depth = depth;
		int r = pthread_create(&tc[i].tc_thread, NULL, depth > 1 ?
		    h_tput_client_pipe_run : h_tput_client_run, &tc[i]);

		if (r != 0)
			util_die("pthread_create: %s", strerror(r));
	}
	start = util_now_ns();
	deadline = start + (uint64_t)ms * 1000000ULL;
	pthread_barrier_wait(&barrier);
	for (unsigned i = 0; i < k; i++) {
		pthread_join(tc[i].tc_thread, NULL);
		cycles += tc[i].tc_cycles;
		if (tc[i].tc_done_ns > done)
			done = tc[i].tc_done_ns;
		stats_merge(&tp->t_lat, &tc[i].tc_lat);
		stats_free(&tc[i].tc_lat);
	}
	pthread_barrier_destroy(&barrier);
	tp->t_cycles += cycles;
	tp->t_rate[tp->t_ntrials++] = (double)cycles * 1e9 /
	    (double)(done - start);
}

/* The throughput phase: every configuration once per round, shuffled. */
static void
h_tput_phase(struct h_results *res, const struct h_config *c)
{
	unsigned	jobs[H_STATES_MAX * (3 * H_CLIENTS_MAX + 1)];
	size_t		nc = c->c_nclients, npipe = c->c_depth > 1 ? nc : 0;
	size_t		njobs = 0, per = 2 * nc + npipe + 1;

	/* Per state: forkd pool on with each client count, the same with
	 * --pool 0, then pool on with c_depth spawns in flight per client,
	 * then the fork loop. */
	for (unsigned t = 0; t < h_ntargets; t++) {
		struct h_state *s = h_targets[t].t_state;

		s->s_ntput = per;
		for (size_t k = 0; k < per; k++) {
			struct h_tput *tp = &s->s_tput[k];

			tp->t_fork_loop = k == per - 1;
			tp->t_pool = k < nc || k >= 2 * nc;
			tp->t_depth = k >= 2 * nc && !tp->t_fork_loop ?
			    c->c_depth : 1;
			tp->t_clients = tp->t_fork_loop ? c->c_loop_workers :
			    c->c_clients[k % nc];
			jobs[njobs++] = t * (unsigned)per + (unsigned)k;
		}
	}
	h_progress("throughput: %zu configurations x %u trials of %u ms",
	    njobs, c->c_trials, c->c_trial_ms);
	for (unsigned round = 0; round < c->c_trials; round++) {
		h_shuffle(jobs, njobs);
		for (size_t j = 0; j < njobs; j++) {
			struct h_target	*tg = &h_targets[jobs[j] / per];
			struct h_tput	*tp = &tg->t_state->s_tput[jobs[j] % per];

			if (tp->t_fork_loop) {
				uint64_t cyc, el;

				anchor_loop(&tg->t_anchor, tp->t_clients,
				    c->c_trial_ms, &cyc, &el, &tp->t_lat);
				tp->t_cycles += cyc;
				tp->t_rate[tp->t_ntrials++] = el ?
				    (double)cyc * 1e9 / (double)el : 0;
			} else
				h_tput_forkd(tp->t_pool ? &tg->t_forkd :
				    &tg->t_forkd_np, tp, tp->t_clients,
				    c->c_trial_ms, tp->t_depth);
		}
	}
	(void)res;
}

/* Record how many spawns each forkd of a state served from its pool, so
 * far (phase 0: after the latency rounds, 1: after the trials). */
static void
h_pool_status(struct h_target *tg, int phase)
{
	struct h_forkd	*d[2] = { &tg->t_forkd, &tg->t_forkd_np };
	struct forkd_status *st;
	int		 r;

	for (int i = 0; i < 2; i++) {
		if ((r = forkd_status(d[i]->d_main, &st)) < 0)
			util_die("status: %s", forkd_strerror(r));
		tg->t_state->s_spawned[phase][i] = st->spawned_total;
		tg->t_state->s_pool_spawns[phase][i] = st->pool_spawns;
		forkd_status_free(st);
	}
}

/* Sum "Key:  N kB" lines of a /proc file into *acc; 0 or -1. */
static int
h_proc_kb(pid_t pid, const char *file, const char *key, uint64_t *acc)
{
	char	path[64], line[256];
	size_t	klen = strlen(key);
	FILE	*f;
	int	found = -1;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			*acc += strtoull(line + klen + 1, NULL, 10);
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

/* The memory phase for one state: n live bench:sleep children. */
static void
h_mem_phase(struct h_target *tg, unsigned n)
{
	static const char *const argv[] = { "sleep", H_SLEEP_SECONDS, NULL };
	struct h_mem		*m = &tg->t_state->s_mem;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ex;
	struct forkd		*h = tg->t_forkd.d_main;
	pid_t			 pids[H_CHILDREN_MAX];
	unsigned		 i;
	int			 r;

	forkd_spawn_opts_init(&o);
	o.target = "bench:sleep";
	o.argv = argv;
	o.daemon = 1;		/* forkd kills them if we go away */
	for (i = 0; i < n; i++)
		if ((r = forkd_spawn(h, &o, &pids[i], NULL, 0)) < 0)
			util_die("spawn bench:sleep: %s (%s)",
			    forkd_strerror(r), forkd_errmsg(h));
	usleep(200000);
	m->m_pss_kb = m->m_rss_kb = m->m_pte_kb = m->m_daemon_pss_kb = 0;
	for (i = 0; i < n; i++) {
		if (h_proc_kb(pids[i], "smaps_rollup", "Pss", &m->m_pss_kb) ||
		    h_proc_kb(pids[i], "smaps_rollup", "Rss", &m->m_rss_kb) ||
		    h_proc_kb(pids[i], "status", "VmPTE", &m->m_pte_kb))
			util_die("cannot read the memory of child %d: %s",
			    (int)pids[i], strerror(errno));
	}
	(void)h_proc_kb(tg->t_forkd.d_pid, "smaps_rollup", "Pss",
	    &m->m_daemon_pss_kb);
	m->m_children = n;
	m->m_valid = 1;
	for (i = 0; i < n; i++)
		if ((r = forkd_kill(h, pids[i])) < 0)
			util_die("kill child %d: %s", (int)pids[i],
			    forkd_strerror(r));
	for (i = 0; i < n; i++)
		if ((r = forkd_wait_exit_event(h, H_EVENT_MS, &ex)) < 0)
			util_die("bench:sleep exit events: %s",
			    forkd_strerror(r));
}

/* forkd's config: everything as shipped (max_spawn_rate is off by
 * default since issue 17), unless --spawn-cpu asks for that (non-default)
 * setting. */
static void
h_write_conf(const char *path, int spawn_cpu)
{
	char	conf[256];
	int	fd, n;

	if (spawn_cpu >= 0)
		n = snprintf(conf, sizeof conf, "# forkd-bench\n[forkd]\n"
		    "spawn_cpu = %d\n", spawn_cpu);
	else
		n = snprintf(conf, sizeof conf, "# forkd-bench: defaults\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || util_write_full(fd, conf, (size_t)n) != 0 ||
	    close(fd) != 0)
		util_die("%s: %s", path, strerror(errno));
}

/* Write the authkey file (32 random bytes, mode 0600). */
static void
h_write_key(const char *path)
{
	int	fd;

	if (getrandom(h_key, sizeof h_key, 0) != (ssize_t)sizeof h_key)
		util_die("getrandom: %s", strerror(errno));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || util_write_full(fd, h_key, sizeof h_key) != 0 ||
	    close(fd) != 0)
		util_die("%s: %s", path, strerror(errno));
}

/* Parse "a,b,c" into up to max unsigned longs. */
static size_t
h_parse_list(const char *s, unsigned long *v, size_t max, const char *what)
{
	size_t	n = 0;
	char	*end;

	while (*s != '\0') {
		if (n == max)
			util_die("--%s: at most %zu values", what, max);
		errno = 0;
		v[n++] = strtoul(s, &end, 10);
		if (errno != 0 || end == s || (*end != ',' && *end != '\0'))
			util_die("--%s: bad list '%s'", what, s);
		s = *end ? end + 1 : end;
	}
	if (n == 0)
		util_die("--%s: empty list", what);
	return n;
}

/* Parse a non-negative option value. */
static unsigned
h_parse_uint(const char *s, const char *what)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 1000000000UL)
		util_die("--%s: bad number '%s'", what, s);
	return (unsigned)v;
}

/* Print the usage. */
static void
h_usage(FILE *f)
{
	fputs(
"usage: forkd-bench --forkd PATH --bench-so PATH --tmpdir DIR --out FILE\n"
"                   [--bench-opts OPTS]\n"
"                   [--python PATH --pyscript PATH] [--quick] [--label TEXT]\n"
"                   [--sizes MB,...] [--clients N,...] [--rounds N]\n"
"                   [--budget SECONDS] [--trials N] [--trial-ms MS]\n"
"                   [--children N] [--spawn-cpu CPU]\n"
"                   [--probe-rounds N] [--probe-work-us US] [--depth N]\n"
"--probe-rounds: rounds of the interleaved mode (0: skip it; default 400,\n"
"  quick 100); --probe-work-us: the caller's work between its spawns there\n"
"  (default 100); --depth: spawns in flight per client of the pipelined\n"
"  throughput trials (default 4; 0 or 1: no pipelined trials).\n"
"Normally run through bench/harness/run.sh, which builds and passes paths.\n",
	    f);
}

/* Start everything, measure, report. */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "forkd", required_argument, NULL, 'f' },
		{ "bench-so", required_argument, NULL, 'b' },
		{ "bench-opts", required_argument, NULL, 'O' },
		{ "python", required_argument, NULL, 'p' },
		{ "pyscript", required_argument, NULL, 'P' },
		{ "tmpdir", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "label", required_argument, NULL, 'l' },
		{ "quick", no_argument, NULL, 'q' },
		{ "sizes", required_argument, NULL, 's' },
		{ "clients", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "budget", required_argument, NULL, 'B' },
		{ "trials", required_argument, NULL, 'T' },
		{ "trial-ms", required_argument, NULL, 'M' },
		{ "children", required_argument, NULL, 'n' },
		{ "spawn-cpu", required_argument, NULL, 'S' },
		{ "probe-rounds", required_argument, NULL, 'I' },
		{ "probe-work-us", required_argument, NULL, 'W' },
		{ "depth", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct h_results	 res;
	struct h_config		 c;
	unsigned long		 tmp[H_CLIENTS_MAX];
	const char		*sizes = "0,256,1024", *clients = "1,2,8,32";
	long			 rounds = -1, budget = -1, trials = -1;
	long			 trial_ms = -1, probe_rounds = -1;
	char			 keyfile[4096], conffile[4096], err[256];
	size_t			 maxc = 0;
	pthread_t		 reader;
	uint64_t		 t_start;
	struct tm		 tm;
	time_t			 now;
	int			 ch, p[2], r;

	memset(&c, 0, sizeof c);
	c.c_children = 50;
	c.c_pss_mb = 1024;
	c.c_loop_workers = 2;
	c.c_spawn_cpu = -1;
	c.c_probe_work_us = 100;
	c.c_depth = 4;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': c.c_forkd = optarg; break;
		case 'b': c.c_bench_so = optarg; break;
		case 'O': c.c_bench_opts = optarg; break;
		case 'p': c.c_python = optarg; break;
		case 'P': c.c_pyscript = optarg; break;
		case 't': c.c_tmpdir = optarg; break;
		case 'o': c.c_out = optarg; break;
		case 'l': c.c_label = optarg; break;
		case 'q': c.c_quick = 1; break;
		case 's': sizes = optarg; break;
		case 'c': clients = optarg; break;
		case 'r': rounds = h_parse_uint(optarg, "rounds"); break;
		case 'B': budget = h_parse_uint(optarg, "budget"); break;
		case 'T': trials = h_parse_uint(optarg, "trials"); break;
		case 'M': trial_ms = h_parse_uint(optarg, "trial-ms"); break;
		case 'n': c.c_children = h_parse_uint(optarg, "children");
			break;
		case 'S': c.c_spawn_cpu = (int)h_parse_uint(optarg,
			    "spawn-cpu");
			break;
		case 'I': probe_rounds = h_parse_uint(optarg,
			    "probe-rounds");
			break;
		case 'W': c.c_probe_work_us = h_parse_uint(optarg,
			    "probe-work-us");
			break;
		case 'D': c.c_depth = h_parse_uint(optarg, "depth"); break;
		case 'h': h_usage(stdout); return 0;
		default: h_usage(stderr); return 2;
		}
	}
	if (optind < argc || c.c_forkd == NULL || c.c_bench_so == NULL ||
	    c.c_tmpdir == NULL || c.c_out == NULL ||
	    (c.c_python != NULL && c.c_pyscript == NULL)) {
		h_usage(stderr);
		return 2;
	}
	c.c_nsizes = h_parse_list(sizes, c.c_sizes, H_STATES_MAX, "sizes");
	c.c_nclients = h_parse_list(clients, tmp, H_CLIENTS_MAX, "clients");
	for (size_t i = 0; i < c.c_nclients; i++) {
		if (tmp[i] < 1 || tmp[i] > 32)
			util_die("--clients: 1 to 32 each (forkd's default "
			    "max_connections_per_uid)");
		c.c_clients[i] = (unsigned)tmp[i];
		if (tmp[i] > maxc)
			maxc = tmp[i];
	}
	if (c.c_children < 1 || c.c_children > H_CHILDREN_MAX)
		util_die("--children: 1 to %d", H_CHILDREN_MAX);
	/* Full: 4.5 min of rounds and about 2 min of trials; quick: well
	 * under a minute of both. */
	c.c_rounds = rounds >= 0 ? (unsigned)rounds : c.c_quick ? 150 : 2000;
	c.c_budget_s = budget >= 0 ? (unsigned)budget : c.c_quick ? 20 : 270;
	c.c_trials = trials >= 0 ? (unsigned)trials : c.c_quick ? 3 : 5;
	c.c_trial_ms = trial_ms >= 0 ? (unsigned)trial_ms :
	    c.c_quick ? 200 : 800;
	c.c_probe_rounds = probe_rounds >= 0 ? (unsigned)probe_rounds :
	    c.c_quick ? 100 : 400;
	if (c.c_depth > 64 || c.c_probe_work_us > 1000000)
		util_die("--depth: at most 64; --probe-work-us: at most "
		    "1000000");
	/* Every spawn in flight is a live child of this uid for a moment. */
	if (c.c_depth > 1 && c.c_depth * maxc > 256)
		util_die("--depth %u x %zu clients: more spawns in flight than "
		    "forkd's default max_children_per_uid (256)", c.c_depth,
		    maxc);
	c.c_warmup = c.c_quick ? 2 : 10;
	c.c_min_rounds = c.c_quick ? 10 : 30;
	if (c.c_trials < 1 || c.c_trials > H_TRIALS_MAX || c.c_trial_ms < 10)
		util_die("--trials 1 to %d, --trial-ms at least 10",
		    H_TRIALS_MAX);

	util_install_signals();
	res.r_cfg = &c;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(res.r_started, sizeof res.r_started, "%Y-%m-%dT%H:%M:%SZ",
	    &tm);
	report_machine(&res);
	report_header(stdout, &res);
	fflush(stdout);
	t_start = util_now_ns();
	h_t0 = t_start;
	h_progress("starting the anchors");

	/* Helpers first, while this process is single-threaded. */
	anchor_echo_start(&h_echo);
	res.r_nstates = c.c_nsizes;
	h_ntargets = c.c_nsizes;
	for (size_t i = 0; i < c.c_nsizes; i++) {
		h_targets[i].t_state = &res.r_states[i];
		res.r_states[i].s_mb = c.c_sizes[i];
		anchor_launch(&h_targets[i].t_anchor, c.c_sizes[i]);
	}
	h_python_ok = c.c_python != NULL;
	if (!h_python_ok)
		snprintf(res.r_python_err, sizeof res.r_python_err,
		    "no python3 given");
	for (size_t i = 0; h_python_ok && i < c.c_nsizes; i++)
		pyfs_launch(&h_targets[i].t_py, c.c_python, c.c_pyscript,
		    c.c_sizes[i]);
	snprintf(keyfile, sizeof keyfile, "%s/authkey", c.c_tmpdir);
	h_write_key(keyfile);
	snprintf(conffile, sizeof conffile, "%s/forkd.conf", c.c_tmpdir);
	h_write_conf(conffile, c.c_spawn_cpu);
	for (size_t i = 0; i < c.c_nsizes; i++) {
		h_forkd_launch(&h_targets[i].t_forkd, &c, c.c_sizes[i], 1,
		    keyfile, conffile);
		h_forkd_launch(&h_targets[i].t_forkd_np, &c, c.c_sizes[i], 0,
		    keyfile, conffile);
	}

	/* Everything loads its state side by side; now wait for each. */
	for (size_t i = 0; i < c.c_nsizes; i++)
		anchor_ready(&h_targets[i].t_anchor);
	h_progress("anchors ready; waiting for the Python forkservers");
	for (size_t i = 0; h_python_ok && i < c.c_nsizes; i++) {
		if (pyfs_ready(&h_targets[i].t_py, err, sizeof err) == 0)
			continue;
		fprintf(stderr, "forkd-bench: Python forkserver anchor "
		    "unavailable: %s\n", err);
		snprintf(res.r_python_err, sizeof res.r_python_err, "%s", err);
		for (size_t j = 0; j < c.c_nsizes; j++)
			pyfs_stop(&h_targets[j].t_py);
		h_python_ok = 0;
	}
	res.r_python_ok = h_python_ok;
	if (h_python_ok)
		snprintf(res.r_python_version, sizeof res.r_python_version,
		    "%s", h_targets[0].t_py.py_version);
	h_progress("waiting for forkd (bench.so:size_mb=N%s%s, pool on and "
	    "off)", c.c_bench_opts ? "," : "",
	    c.c_bench_opts ? c.c_bench_opts : "");
	for (size_t i = 0; i < c.c_nsizes; i++) {
		struct h_mem *m = &res.r_states[i].s_mem;

		h_forkd_ready(&h_targets[i].t_forkd, maxc);
		h_forkd_ready(&h_targets[i].t_forkd_np, maxc);
		(void)h_proc_kb(h_targets[i].t_forkd.d_pid, "smaps_rollup",
		    "AnonHugePages", &m->m_start_huge_kb[0]);
		(void)h_proc_kb(h_targets[i].t_forkd.d_pid, "smaps_rollup",
		    "Anonymous", &m->m_start_anon_kb[0]);
		(void)h_proc_kb(h_targets[i].t_forkd_np.d_pid, "smaps_rollup",
		    "AnonHugePages", &m->m_start_huge_kb[1]);
		(void)h_proc_kb(h_targets[i].t_forkd_np.d_pid, "smaps_rollup",
		    "Anonymous", &m->m_start_anon_kb[1]);
	}

	if (pipe2(p, O_CLOEXEC) != 0)
		util_die("pipe: %s", strerror(errno));
	h_byte_rfd = p[0];
	h_byte_wfd = p[1];
	if (pipe2(p, O_CLOEXEC) != 0)
		util_die("pipe: %s", strerror(errno));
	h_spawn_rfd = p[0];
	h_spawn_wfd = p[1];
	posix_spawn_file_actions_init(&h_spawn_fa);
	posix_spawn_file_actions_adddup2(&h_spawn_fa, h_spawn_wfd, 1);
	sem_init(&h_byte_sem, 0, 0);
	if ((r = pthread_create(&reader, NULL, h_byte_reader, NULL)) != 0)
		util_die("pthread_create: %s", strerror(r));
	pthread_detach(reader);

	h_latency_phase(&res, &c);
	h_probe_phase(&res, &c);
	for (size_t i = 0; i < h_ntargets; i++)
		h_pool_status(&h_targets[i], 0);
	h_tput_phase(&res, &c);
	for (size_t i = 0; i < h_ntargets; i++)
		h_pool_status(&h_targets[i], 1);
	h_progress("memory: %u live children per state", c.c_children);
	for (size_t i = 0; i < h_ntargets; i++)
		h_mem_phase(&h_targets[i], c.c_children);

	h_progress("stopping");
	for (size_t i = 0; i < h_ntargets; i++) {
		h_forkd_stop(&h_targets[i].t_forkd);
		h_forkd_stop(&h_targets[i].t_forkd_np);
		anchor_stop(&h_targets[i].t_anchor);
		if (h_python_ok)
			pyfs_stop(&h_targets[i].t_py);
	}
	anchor_echo_stop(&h_echo);
	unlink(keyfile);
	unlink(conffile);
	res.r_elapsed_s = (double)(util_now_ns() - t_start) / 1e9;
	report_loadavg(res.r_load_end, sizeof res.r_load_end);

	report_print(stdout, &res);
	if ((r = report_json(c.c_out, &res)) != 0)
		util_die("%s: %s", c.c_out, strerror(-r));
	printf("\nJSON: %s (%.0f s)\n", c.c_out, res.r_elapsed_s);
	return 0;
}
