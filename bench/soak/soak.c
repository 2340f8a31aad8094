/* soak.c: forkd-soak, load/soak and restart-under-load runs against a real
 * forkd, through libforkd only.
 *
 * forkd-soak cycles: C clients (one thread and one libforkd handle each)
 * share N spawn -> exit event cycles of one target (bench:noop). Each
 * client has one child at a time, so the event that ends a cycle must name
 * the pid and name its spawn returned, and no event may be left over at the
 * end: that is "every exit event exactly once", exact even though pids are
 * reused (pid_max may be 32768). Meanwhile forkd's VmRSS, open fds and
 * zombie children are sampled from /proc.
 *
 * forkd-soak restart: C clients cycle bench:noop, bench:sleep 0.2 and
 * bench:sleep 0.2 with the daemon flag, and reconnect with backoff after any
 * error, while this program SIGKILLs forkd (its pid read from the pid file a
 * supervisor writes) a few times. It reports the failed cycles and the
 * recovery time of each restart, and follows the children that were running
 * at each kill: do they keep running, who becomes their parent, do they turn
 * into zombies, does the new forkd know them.
 *
 * forkd-soak forkbase: fork + exit + waitpid of a process of the same size,
 * without forkd: the floor under the cycle numbers on this machine.
 *
 * A benchmark: it reports numbers, it does not judge speed. Exit status:
 * 0 every correctness check held; 1 a check failed (lost or duplicated
 * event, zombie, growth, a libforkd call that did not return in time);
 * 2 usage or set-up error; 3 stopped by its own time limit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/wait.h>

#include <forkd.h>

#define SOAK_MAX_CLIENTS	64
#define SOAK_MAX_SAMPLES	2048
/* An exit event of bench:noop must come long before this. */
#define SOAK_EVENT_TIMEOUT_MS	10000
/* After the last cycle: how long to listen for events that should not be. */
#define SOAK_DRAIN_MS		500
/* A zombie child is looked at again after the first delay (still there:
 * reaped slowly) and after the second (still there: not reaped, a leak). */
#define SOAK_ZOMBIE_RECHECK_MS	100
#define SOAK_ZOMBIE_LEAK_MS	1000
/* Flat RSS: growth at most max(this, 10 %) over the post-warm-up value. */
#define SOAK_RSS_SLACK_KB	2048
/* Past the time limit, stuck workers get this long before we give up. */
#define SOAK_JOIN_GRACE_S	60

#define SOAK_MAX_KILLS		16
#define SOAK_MAX_ORPHANS	1024
#define SOAK_BACKOFF_MIN_MS	20
#define SOAK_BACKOFF_MAX_MS	1000
/* Exit event of a 0.2 s sleep: generous. */
#define SOAK_R_EVENT_TIMEOUT_MS	5000
/* libforkd's own bounds: connect+handshake 10 s, requests 30 s. A call
 * longer than this counts as a hang. */
#define SOAK_HANG_NS		(11LL * 1000000000)
/* How long the run follows orphans after the last kill. */
#define SOAK_ORPHAN_FOLLOW_S	20

static int64_t	soak_t0;

/* Monotonic nanoseconds. */
static int64_t
soak_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Seconds since the run started. */
static double
soak_secs(int64_t t)
{
	return (double)(t - soak_t0) / 1e9;
}

static double
soak_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static void
soak_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Short name of a negative errno-style code. */
static const char *
soak_errname(int err)
{
	static const struct { int e; const char *n; } names[] = {
		{ ECONNRESET, "ECONNRESET" }, { ECONNREFUSED, "ECONNREFUSED" },
		{ ENOENT, "ENOENT" }, { ETIMEDOUT, "ETIMEDOUT" },
		{ EPIPE, "EPIPE" }, { ESRCH, "ESRCH" }, { EAGAIN, "EAGAIN" },
		{ ESHUTDOWN, "ESHUTDOWN" }, { EKEYREJECTED, "EKEYREJECTED" },
		{ EPROTO, "EPROTO" }, { EBADMSG, "EBADMSG" }, { EIO, "EIO" },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (-err == names[i].e)
			return names[i].n;
	return "other";
}

/* --- /proc ------------------------------------------------------------ */

struct soak_proc {
	char			p_state;
	pid_t			p_ppid;
	unsigned long long	p_start;	/* clock ticks after boot */
	unsigned long long	p_cpu;		/* utime + stime, ticks */
	char			p_comm[32];
};

/* Read /proc/PID/stat: 0, or -errno (-ENOENT: no such process). */
static int
soak_proc_stat(pid_t pid, struct soak_proc *ret)
{
	char			 path[64], buf[1024], *lp, *rp;
	unsigned long long	 utime, stime;
	size_t			 len;
	ssize_t	 n;
	int	 fd, err;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof buf - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return err == ESRCH ? -ENOENT : -err;
	if (n == 0)
		return -ENOENT;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: it ends at the last ')'. */
	if ((lp = strchr(buf, '(')) == NULL || (rp = strrchr(buf, ')')) == NULL ||
	    rp < lp)
		return -EINVAL;
	len = (size_t)(rp - lp - 1);
	if (len >= sizeof ret->p_comm)
		len = sizeof ret->p_comm - 1;
	memcpy(ret->p_comm, lp + 1, len);
	ret->p_comm[len] = '\0';
	/* Fields 3 state, 4 ppid, 14 utime, 15 stime, 22 starttime. */
	if (sscanf(rp + 2, "%c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu "
	    "%llu %*s %*s %*s %*s %*s %*s %llu", &ret->p_state, &ret->p_ppid,
	    &utime, &stime, &ret->p_start) != 5)
		return -EINVAL;
	ret->p_cpu = utime + stime;
	return 0;
}

/* A zombie's wait status (/proc/PID/stat field 52, Linux >= 3.5), or -1. */
static int
soak_proc_exit_status(pid_t pid)
{
	char	 path[64], buf[1024], *rp, *tok, *save;
	ssize_t	 n;
	int	 fd, field = 2;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((rp = strrchr(buf, ')')) == NULL)
		return -1;
	for (tok = strtok_r(rp + 1, " \n", &save); tok != NULL;
	    tok = strtok_r(NULL, " \n", &save))
		if (++field == 52)
			return atoi(tok);
	return -1;
}

/* VmRSS of pid in KiB, or -1. */
static long
soak_proc_rss_kb(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Number of open fds of pid, or -1. */
static int
soak_proc_nfds(pid_t pid)
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
	return n;
}

#define SOAK_ZLIST	64

struct soak_kids {
	int			k_total;	/* children of the parent */
	int			k_zombies;	/* of which state Z */
	pid_t			k_zpid[SOAK_ZLIST];
	unsigned long long	k_zstart[SOAK_ZLIST];
};

/* Scan /proc for the children of parent. */
static void
soak_proc_children(pid_t parent, struct soak_kids *ret)
{
	DIR		*d;
	struct dirent	*de;
	struct soak_proc p;
	char		*end;
	long		 pid;

	memset(ret, 0, sizeof *ret);
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || soak_proc_stat((pid_t)pid, &p) != 0 ||
		    p.p_ppid != parent)
			continue;
		ret->k_total++;
		if (p.p_state == 'Z') {
			if (ret->k_zombies < SOAK_ZLIST) {
				ret->k_zpid[ret->k_zombies] = (pid_t)pid;
				ret->k_zstart[ret->k_zombies] = p.p_start;
			}
			ret->k_zombies++;
		}
	}
	closedir(d);
}

/* Drop from k the zombies that are gone (reaped) after ms. */
static void
soak_zombies_recheck(pid_t parent, struct soak_kids *k, int ms)
{
	struct soak_proc	p;
	int			n = 0;

	if (k->k_zombies == 0)
		return;
	soak_sleep_ms(ms);
	for (int i = 0; i < k->k_zombies && i < SOAK_ZLIST; i++)
		if (soak_proc_stat(k->k_zpid[i], &p) == 0 &&
		    p.p_state == 'Z' && p.p_ppid == parent &&
		    p.p_start == k->k_zstart[i]) {
			k->k_zpid[n] = k->k_zpid[i];
			k->k_zstart[n] = k->k_zstart[i];
			n++;
		}
	k->k_zombies = n;
}

/* Zombie children of parent now; of those, how many are still zombies
 * SOAK_ZOMBIE_RECHECK_MS later (slow), and SOAK_ZOMBIE_LEAK_MS after that
 * (never reaped: a leak). A child between its exit and forkd's SIGCHLD
 * handling is a zombie for a moment, which is not a leak. */
static void
soak_zombies(pid_t parent, int *ret_children, int *ret_seen, int *ret_slow,
    int *ret_leaked)
{
	struct soak_kids k;

	soak_proc_children(parent, &k);
	*ret_children = k.k_total;
	*ret_seen = k.k_zombies;
	soak_zombies_recheck(parent, &k, SOAK_ZOMBIE_RECHECK_MS);
	*ret_slow = k.k_zombies;
	soak_zombies_recheck(parent, &k, SOAK_ZOMBIE_LEAK_MS);
	*ret_leaked = k.k_zombies;
}

/* The three load averages, as text. */
static void
soak_loadavg(char *buf, size_t len)
{
	FILE	*f;
	double	 a, b, c;

	snprintf(buf, len, "?");
	if ((f = fopen("/proc/loadavg", "re")) == NULL)
		return;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	fclose(f);
}

/* --- percentiles ------------------------------------------------------ */

static int
soak_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile q (0..1) of n sorted values. */
static uint32_t
soak_pct(const uint32_t *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)n + 0.999999);
	if (i == 0)
		i = 1;
	if (i > n)
		i = n;
	return v[i - 1];
}

/* --- cycles: the soak ------------------------------------------------- */

struct soak_sample {
	const char	*s_label;
	double		 s_t;
	uint64_t	 s_cycles;
	long		 s_rss_kb;
	int		 s_fds;
	int		 s_children;
	int		 s_zombies;	/* seen */
	int		 s_zslow;	/* still there 100 ms later */
	int		 s_zpersist;	/* and 1.1 s later: leaked */
	int		 s_connected;	/* the clients' connections are open */
};

struct soak_worker {
	pthread_t	 w_thread;
	int		 w_id;
	struct forkd	*w_h;
	uint64_t	 w_cycles;
	uint64_t	 w_mismatch;	/* event for another pid or name */
	uint64_t	 w_badexit;	/* exit code not 0 */
	uint64_t	 w_lost;	/* no event within the timeout */
	uint64_t	 w_extra;	/* events left over after the last cycle */
	int64_t		 w_last;	/* end of its last cycle */
	int		 w_err;		/* first error, 0 if none */
	char		 w_errmsg[320];
	atomic_int	 w_finished;
};

static struct {
	const char		*target;
	uint64_t		 total;
	atomic_uint_fast64_t	 next;		/* next cycle to claim */
	atomic_uint_fast64_t	 done;
	atomic_int		 stop;
	atomic_int		 timed_out;
	int64_t			 deadline;
	pid_t			*spawned;	/* per cycle: pid of the reply */
	pid_t			*event;		/* per cycle: pid of its event */
	uint32_t		*lat_us;	/* per cycle: spawn to event */
	uint32_t		*spawn_us;	/* per cycle: spawn to reply */
} soak_c;

static struct soak_sample soak_samples[SOAK_MAX_SAMPLES];
static size_t		  soak_nsamples;

/* Remember a worker's first error and stop the run. */
static void
soak_worker_fail(struct soak_worker *w, const char *what, int r)
{
	if (w->w_err == 0) {
		w->w_err = r;
		snprintf(w->w_errmsg, sizeof w->w_errmsg, "%s: %s%s%s", what,
		    forkd_strerror(r), forkd_errmsg(w->w_h)[0] ? ": " : "",
		    forkd_errmsg(w->w_h));
	}
	atomic_store(&soak_c.stop, 1);
}

/* One client: claim cycles until none are left; then listen for strays. */
static void *
soak_cycles_worker(void *arg)
{
	struct soak_worker	*w = arg;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ex;
	char			 name[FORKD_NAME_MAX + 1];
	int64_t			 t0, t1, t2;
	uint64_t		 i;
	pid_t			 pid;
	int			 r;

	forkd_spawn_opts_init(&o);
	o.target = soak_c.target;
	for (;;) {
		if (atomic_load(&soak_c.stop))
			break;
		if (soak_now() >= soak_c.deadline) {
			atomic_store(&soak_c.timed_out, 1);
			atomic_store(&soak_c.stop, 1);
			break;
		}
		i = atomic_fetch_add(&soak_c.next, 1);
		if (i >= soak_c.total)
			break;
		t0 = soak_now();
		r = forkd_spawn(w->w_h, &o, &pid, name, sizeof name);
		t1 = soak_now();
		if (r < 0) {
			soak_worker_fail(w, "spawn", r);
			break;
		}
		soak_c.spawned[i] = pid;
		r = forkd_wait_exit_event(w->w_h, SOAK_EVENT_TIMEOUT_MS, &ex);
		t2 = soak_now();
		if (r < 0) {
			if (r == -ETIMEDOUT)
				w->w_lost++;
			soak_worker_fail(w, "wait for the exit event", r);
			break;
		}
		soak_c.event[i] = ex.pid;
		if (ex.pid != pid || strcmp(ex.name, name) != 0)
			w->w_mismatch++;
		if (ex.exitcode != 0)
			w->w_badexit++;
		soak_c.spawn_us[i] = (uint32_t)((t1 - t0) / 1000);
		soak_c.lat_us[i] = (uint32_t)((t2 - t0) / 1000);
		w->w_last = t2;
		w->w_cycles++;
		atomic_fetch_add(&soak_c.done, 1);
	}
	/* Every child of this connection has been reported: any further
	 * event is a duplicate. */
	while ((r = forkd_wait_exit_event(w->w_h, SOAK_DRAIN_MS, &ex)) == 0)
		w->w_extra++;
	if (r != -ETIMEDOUT && w->w_err == 0)
		soak_worker_fail(w, "drain", r);
	atomic_store(&w->w_finished, 1);
	return NULL;
}

/* Take one sample of forkd. */
static void
soak_sample(pid_t forkd_pid, const char *label, int connected)
{
	struct soak_sample *s;

	if (soak_nsamples == SOAK_MAX_SAMPLES)
		return;
	s = &soak_samples[soak_nsamples++];
	s->s_label = label;
	s->s_t = soak_secs(soak_now());
	s->s_cycles = atomic_load(&soak_c.done);
	s->s_rss_kb = soak_proc_rss_kb(forkd_pid);
	s->s_fds = soak_proc_nfds(forkd_pid);
	s->s_connected = connected;
	soak_zombies(forkd_pid, &s->s_children, &s->s_zombies, &s->s_zslow,
	    &s->s_zpersist);
	printf("  [%7.1f s] %-12s cycles %8" PRIu64 "  VmRSS %7ld KiB  fds %4d"
	    "  children %3d  zombies %d/%d/%d\n", s->s_t, label, s->s_cycles,
	    s->s_rss_kb, s->s_fds, s->s_children, s->s_zombies, s->s_zslow,
	    s->s_zpersist);
	fflush(stdout);
}

/* Daemon counters, or -1s when the call failed. */
struct soak_counters {
	int64_t	spawned, failures, exited, children;
};

static void
soak_counters(struct forkd *h, struct soak_counters *ret)
{
	struct forkd_status *st;

	ret->spawned = ret->failures = ret->exited = ret->children = -1;
	if (h == NULL || forkd_status(h, &st) != 0)
		return;
	ret->spawned = (int64_t)st->spawned_total;
	ret->failures = (int64_t)st->spawn_failures;
	ret->exited = (int64_t)st->exited_total;
	ret->children = st->children;
	forkd_status_free(st);
}

static void
soak_cycles_usage(FILE *f)
{
	fprintf(f,
"usage: forkd-soak cycles -s SOCKET -k KEYFILE -p FORKD_PID [-c CLIENTS]\n"
"           [-n CYCLES] [-t TIME_LIMIT_S] [-i SAMPLE_INTERVAL_S]\n"
"           [-w WARMUP_CYCLES] [-T TARGET]\n"
"  defaults: 16 clients, 50000 cycles, 900 s, a sample every 5 s,\n"
"  warm-up 2000 cycles, target bench:noop\n");
}

static int
soak_cycles(int argc, char **argv)
{
	struct soak_worker	*w;
	struct soak_counters	 c0, c1;
	struct forkd		*ctl = NULL;
	const char		*sock = NULL, *key = NULL;
	const struct soak_sample *s_start, *s_conn, *s_warm = NULL, *s_end,
				*s_closed;
	struct soak_proc	 p0, p1;
	char			 load0[64], load1[64];
	long			 ticks = sysconf(_SC_CLK_TCK);
	double			 wall;
	uint64_t		 total = 50000, warmup = 2000, completed = 0;
	uint64_t		 lost = 0, extra = 0, mismatch = 0, badexit = 0;
	uint64_t		 unmatched = 0;
	uint32_t		*lat, *spl;
	size_t			 nlat = 0;
	int64_t			 t_start, t_last = 0, next_sample;
	pid_t			 forkd_pid = 0;
	long			 rss_limit, growth;
	int			 clients = 16, limit_s = 900, interval_s = 5;
	int			 ch, r, nerr = 0, zpersist = 0, zseen = 0;
	int			 zslow = 0, fds_min = -1, fds_max = 0;
	int			 fds_flat, rss_flat, ok, warm_taken = 0;
	int			 said_limit = 0;

	soak_c.target = "bench:noop";
	while ((ch = getopt(argc, argv, "s:k:p:c:n:t:i:w:T:h")) != -1) {
		switch (ch) {
		case 's': sock = optarg; break;
		case 'k': key = optarg; break;
		case 'p': forkd_pid = (pid_t)atoi(optarg); break;
		case 'c': clients = atoi(optarg); break;
		case 'n': total = strtoull(optarg, NULL, 10); break;
		case 't': limit_s = atoi(optarg); break;
		case 'i': interval_s = atoi(optarg); break;
		case 'w': warmup = strtoull(optarg, NULL, 10); break;
		case 'T': soak_c.target = optarg; break;
		case 'h': soak_cycles_usage(stdout); return 0;
		default: soak_cycles_usage(stderr); return 2;
		}
	}
	if (sock == NULL || key == NULL || forkd_pid <= 0 || clients < 1 ||
	    clients > SOAK_MAX_CLIENTS || total < 1 || limit_s < 1 ||
	    interval_s < 1 || optind != argc) {
		soak_cycles_usage(stderr);
		return 2;
	}
	if (warmup >= total)
		warmup = total / 10;
	if (soak_proc_rss_kb(forkd_pid) < 0) {
		fprintf(stderr, "forkd-soak: no process %d to watch\n",
		    (int)forkd_pid);
		return 2;
	}
	soak_c.total = total;
	soak_c.spawned = calloc(total, sizeof *soak_c.spawned);
	soak_c.event = calloc(total, sizeof *soak_c.event);
	soak_c.lat_us = calloc(total, sizeof *soak_c.lat_us);
	soak_c.spawn_us = calloc(total, sizeof *soak_c.spawn_us);
	lat = calloc(total, sizeof *lat);
	spl = calloc(total, sizeof *spl);
	w = calloc((size_t)clients, sizeof *w);
	if (soak_c.spawned == NULL || soak_c.event == NULL ||
	    soak_c.lat_us == NULL || soak_c.spawn_us == NULL || lat == NULL ||
	    spl == NULL || w == NULL) {
		fprintf(stderr, "forkd-soak: out of memory\n");
		return 2;
	}

	soak_t0 = soak_now();
	printf("forkd soak: %d clients, %" PRIu64 " cycles of %s, forkd pid %d,"
	    " time limit %d s\n", clients, total, soak_c.target,
	    (int)forkd_pid, limit_s);
	printf("  samples: zombies seen / still there after %d ms / after "
	    "%d ms more (leaked)\n", SOAK_ZOMBIE_RECHECK_MS,
	    SOAK_ZOMBIE_LEAK_MS);
	soak_loadavg(load0, sizeof load0);
	soak_sample(forkd_pid, "start", 0);
	s_start = &soak_samples[soak_nsamples - 1];

	if ((r = forkd_connect(&ctl, sock, key)) < 0) {
		fprintf(stderr, "forkd-soak: connect %s: %s\n", sock,
		    forkd_strerror(r));
		return 2;
	}
	soak_counters(ctl, &c0);
	for (int i = 0; i < clients; i++) {
		w[i].w_id = i;
		if ((r = forkd_connect(&w[i].w_h, sock, key)) < 0) {
			fprintf(stderr, "forkd-soak: client %d: connect: %s\n",
			    i, forkd_strerror(r));
			return 2;
		}
	}
	soak_sample(forkd_pid, "connected", 1);
	s_conn = &soak_samples[soak_nsamples - 1];

	if (soak_proc_stat(forkd_pid, &p0) != 0)
		p0.p_cpu = 0;
	t_start = soak_now();
	soak_c.deadline = t_start + (int64_t)limit_s * 1000000000;
	for (int i = 0; i < clients; i++)
		if (pthread_create(&w[i].w_thread, NULL, soak_cycles_worker,
		    &w[i]) != 0) {
			fprintf(stderr, "forkd-soak: pthread_create failed\n");
			return 2;
		}

	/* Sample until every worker is done. */
	next_sample = t_start + (int64_t)interval_s * 1000000000;
	for (;;) {
		int finished = 0;
		int64_t now;

		soak_sleep_ms(50);
		now = soak_now();
		for (int i = 0; i < clients; i++)
			finished += atomic_load(&w[i].w_finished);
		if (finished == clients)
			break;
		if (atomic_load(&soak_c.timed_out) && !said_limit) {
			printf("forkd-soak: time limit of %d s reached after %"
			    PRIu64 " of %" PRIu64 " cycles; stopping\n",
			    limit_s, (uint64_t)atomic_load(&soak_c.done),
			    total);
			said_limit = 1;
		}
		if (!warm_taken && atomic_load(&soak_c.done) >= warmup) {
			soak_sample(forkd_pid, "post-warm-up", 1);
			s_warm = &soak_samples[soak_nsamples - 1];
			warm_taken = 1;
			next_sample = now + (int64_t)interval_s * 1000000000;
		} else if (now >= next_sample) {
			soak_sample(forkd_pid, "during", 1);
			next_sample = now + (int64_t)interval_s * 1000000000;
		}
		if (now > soak_c.deadline + (int64_t)SOAK_JOIN_GRACE_S *
		    1000000000) {
			printf("forkd-soak: ABORTED: a client is still inside a "
			    "libforkd call %d s after the time limit\n",
			    SOAK_JOIN_GRACE_S);
			fflush(stdout);
			_exit(1);
		}
	}
	for (int i = 0; i < clients; i++)
		pthread_join(w[i].w_thread, NULL);
	for (int i = 0; i < clients; i++)
		if (w[i].w_last > t_last)
			t_last = w[i].w_last;
	if (t_last == 0)
		t_last = soak_now();
	if (soak_proc_stat(forkd_pid, &p1) != 0)
		p1.p_cpu = p0.p_cpu;
	soak_loadavg(load1, sizeof load1);

	/* Quiescent again (no child in flight; a pool refilled): the fds
	 * must come back to the connected value (allow 3 s). */
	for (int i = 0; i < 60 && soak_proc_nfds(forkd_pid) != s_conn->s_fds;
	    i++)
		soak_sleep_ms(50);
	soak_sample(forkd_pid, "end", 1);
	s_end = &soak_samples[soak_nsamples - 1];
	if (s_warm == NULL)
		s_warm = s_end;
	soak_counters(ctl, &c1);
	for (int i = 0; i < clients; i++)
		forkd_close(w[i].w_h);
	forkd_close(ctl);
	/* Let forkd notice the closed connections (allow 3 s). */
	for (int i = 0; i < 60 && soak_proc_nfds(forkd_pid) != s_start->s_fds;
	    i++)
		soak_sleep_ms(50);
	soak_sample(forkd_pid, "end, closed", 0);
	s_closed = &soak_samples[soak_nsamples - 1];

	/* Tally. */
	for (uint64_t i = 0; i < total; i++) {
		if (soak_c.event[i] != 0) {
			lat[nlat] = soak_c.lat_us[i];
			spl[nlat] = soak_c.spawn_us[i];
			nlat++;
		} else if (soak_c.spawned[i] != 0)
			unmatched++;	/* spawned, no event */
	}
	for (int i = 0; i < clients; i++) {
		completed += w[i].w_cycles;
		lost += w[i].w_lost;
		extra += w[i].w_extra;
		mismatch += w[i].w_mismatch;
		badexit += w[i].w_badexit;
		if (w[i].w_err != 0)
			nerr++;
	}
	if (unmatched > lost)
		lost = unmatched;
	qsort(lat, nlat, sizeof *lat, soak_cmp_u32);
	qsort(spl, nlat, sizeof *spl, soak_cmp_u32);
	for (size_t i = 0; i < soak_nsamples; i++) {
		const struct soak_sample *s = &soak_samples[i];

		zseen += s->s_zombies;
		zslow += s->s_zslow;
		zpersist += s->s_zpersist;
		if (s > s_conn && s < s_end) {
			if (fds_min < 0 || s->s_fds < fds_min)
				fds_min = s->s_fds;
			if (s->s_fds > fds_max)
				fds_max = s->s_fds;
		}
	}
	rss_limit = s_warm->s_rss_kb / 10;
	if (rss_limit < SOAK_RSS_SLACK_KB)
		rss_limit = SOAK_RSS_SLACK_KB;
	growth = s_end->s_rss_kb - s_warm->s_rss_kb;
	rss_flat = growth <= rss_limit;
	fds_flat = s_end->s_fds == s_conn->s_fds &&
	    s_closed->s_fds == s_start->s_fds;

	/* The table. */
	printf("\nforkd (pid %d) over the run:\n\n", (int)forkd_pid);
	printf("| sample | t (s) | cycles | VmRSS (KiB) | fds | children |"
	    " zombies: seen / >%d ms / >%d ms |\n", SOAK_ZOMBIE_RECHECK_MS,
	    SOAK_ZOMBIE_RECHECK_MS + SOAK_ZOMBIE_LEAK_MS);
	printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
	for (size_t i = 0; i < soak_nsamples; i++) {
		const struct soak_sample *s = &soak_samples[i];

		printf("| %s | %.1f | %" PRIu64 " | %ld | %d | %d | %d / %d / %d"
		    " |\n", s->s_label, s->s_t, s->s_cycles, s->s_rss_kb,
		    s->s_fds, s->s_children, s->s_zombies, s->s_zslow,
		    s->s_zpersist);
	}

	ok = nerr == 0 && completed == total && lost == 0 && extra == 0 &&
	    mismatch == 0 && badexit == 0 && zpersist == 0 && rss_flat &&
	    fds_flat && c1.spawned - c0.spawned == (int64_t)completed &&
	    c1.exited - c0.exited == (int64_t)completed &&
	    c1.failures == c0.failures;
	wall = (double)(t_last - t_start) / 1e9;

	printf("\n==== forkd soak: summary ====\n");
	printf("cycles:          %" PRIu64 " of %" PRIu64 " completed (%d "
	    "clients, %s)%s\n", completed, total, clients, soak_c.target,
	    atomic_load(&soak_c.timed_out) ? " -- STOPPED BY THE TIME LIMIT" :
	    "");
	printf("wall time:       %.1f s\n", wall);
	printf("throughput:      %.0f cycles/s\n", (double)completed / wall);
	printf("cycle latency:   p50 %.3f ms, p99 %.3f ms, max %.3f ms "
	    "(spawn request to exit event, per client)\n",
	    soak_pct(lat, nlat, .5) / 1e3, soak_pct(lat, nlat, .99) / 1e3,
	    nlat ? lat[nlat - 1] / 1e3 : 0.);
	printf("spawn reply:     p50 %.3f ms, p99 %.3f ms\n",
	    soak_pct(spl, nlat, .5) / 1e3, soak_pct(spl, nlat, .99) / 1e3);
	printf("forkd CPU:       %.1f s user+sys over the run = %.0f us per "
	    "cycle\n", (double)(p1.p_cpu - p0.p_cpu) / (double)ticks,
	    completed ? (double)(p1.p_cpu - p0.p_cpu) / (double)ticks * 1e6 /
	    (double)completed : 0.0);
	printf("load average:    %s at the start, %s at the end (other work on "
	    "this machine skews the times)\n", load0, load1);
	printf("exit events:     %zu received for %" PRIu64 " spawns: %" PRIu64
	    " lost, %" PRIu64 " duplicated (left over), %" PRIu64 " for the "
	    "wrong pid/name, %" PRIu64 " with a nonzero exit code\n", nlat,
	    completed + unmatched, lost, extra, mismatch, badexit);
	printf("daemon counters: spawned +%" PRId64 ", exited +%" PRId64
	    ", spawn failures +%" PRId64 ", children at the end %" PRId64 "\n",
	    c1.spawned - c0.spawned, c1.exited - c0.exited,
	    c1.failures - c0.failures, c1.children);
	printf("zombies:         %d leaked (still there %d ms after being seen) "
	    "over %zu samples; %d seen in passing, %d of them reaped only "
	    "after %d ms; at the end %d, after close %d\n", zpersist,
	    SOAK_ZOMBIE_RECHECK_MS + SOAK_ZOMBIE_LEAK_MS, soak_nsamples,
	    zseen, zslow, SOAK_ZOMBIE_RECHECK_MS, s_end->s_zombies,
	    s_closed->s_zombies);
	printf("VmRSS (KiB):     start %ld, post-warm-up %ld, end %ld, after "
	    "close %ld: %+ld KiB (%+.1f %%) since warm-up = %.1f bytes/cycle: "
	    "%s (flat = growth <= max(2 MiB, 10 %%) = %ld KiB)\n",
	    s_start->s_rss_kb, s_warm->s_rss_kb, s_end->s_rss_kb,
	    s_closed->s_rss_kb, growth, s_warm->s_rss_kb ? 100.0 *
	    (double)growth / (double)s_warm->s_rss_kb : 0.0,
	    completed > s_warm->s_cycles ? (double)growth * 1024 /
	    (double)(completed - s_warm->s_cycles) : 0.0,
	    rss_flat ? "FLAT" : "GREW", rss_limit);
	printf("fds:             start %d, connected %d, during %d..%d, end %d,"
	    " after close %d: %s (flat = end equal to connected, after close "
	    "equal to start)\n", s_start->s_fds, s_conn->s_fds, fds_min,
	    fds_max, s_end->s_fds, s_closed->s_fds, fds_flat ? "FLAT" :
	    "CHANGED");
	for (int i = 0; i < clients; i++)
		if (w[i].w_err != 0)
			printf("client %d error: %s\n", i, w[i].w_errmsg);
	printf("result:          %s\n", ok ? "PASS" : "FAIL");
	fflush(stdout);
	if (atomic_load(&soak_c.timed_out))
		return 3;
	return ok ? 0 : 1;
}

/* --- restart: SIGKILL forkd under load --------------------------------- */

enum soak_kind {
	SOAK_NOOP,
	SOAK_SLEEP,
	SOAK_SLEEP_DAEMON,
	SOAK_PROBE,
	SOAK_PROBE_DAEMON,
	SOAK_PROBE_PDEATH,
	SOAK_KIND_MAX
};

static const char *const soak_kind_names[SOAK_KIND_MAX] = {
	[SOAK_NOOP] = "bench:noop",
	[SOAK_SLEEP] = "bench:sleep 0.2",
	[SOAK_SLEEP_DAEMON] = "bench:sleep 0.2, daemon flag",
	[SOAK_PROBE] = "probe bench:sleep 3",
	[SOAK_PROBE_DAEMON] = "probe bench:sleep 3, daemon flag",
	[SOAK_PROBE_PDEATH] = "probe setpriv --pdeathsig KILL sleep 3, daemon",
};

/* The libforkd calls a restart client makes. */
enum { SOAK_OP_CONNECT, SOAK_OP_SPAWN, SOAK_OP_WAIT, SOAK_OP_MAX };

/* Error codes we count one by one; the last slot is "any other". */
static const int soak_errs[] = { ECONNRESET, ECONNREFUSED, ENOENT, ETIMEDOUT,
	EPIPE, 0 };
#define SOAK_NERRS	(sizeof soak_errs / sizeof soak_errs[0])

static int
soak_err_slot(int err)
{
	for (size_t i = 0; i < SOAK_NERRS - 1; i++)
		if (-err == soak_errs[i])
			return (int)i;
	return (int)SOAK_NERRS - 1;
}

struct soak_kill {
	int64_t		 k_t;		/* when SIGKILL was sent */
	pid_t		 k_old, k_new;
	int64_t		 k_started;	/* supervisor's new forkd in the pid file */
	int64_t		 k_back;	/* first successful connect after it */
	int64_t		 k_first_ok;	/* first cycle begun after it done */
	int64_t		 k_all_ok;	/* every client has done such a cycle */
	int		 k_nok;		/* clients that have */
	uint8_t		 k_client_ok[SOAK_MAX_CLIENTS];
	unsigned	 k_fail[SOAK_OP_MAX][SOAK_NERRS];
	unsigned	 k_fail_cycles;	/* cycles (spawn or wait) that failed */
	int		 k_probe_err;	/* probe handle's call after the kill */
	int64_t		 k_probe_ns;
	int		 k_verified;	/* new forkd asked about the orphans */
	int		 k_unknown;	/* of those, how many it did not know */
	int		 k_known;
	int		 k_listed;
};

struct soak_orphan {
	pid_t			 o_pid;
	enum soak_kind		 o_kind;
	int			 o_kill;	/* index of the kill */
	int			 o_checked;	/* first look after the kill */
	int			 o_alive;	/* running (not Z) at that look */
	pid_t			 o_ppid;	/* its parent then */
	char			 o_pcomm[32];
	unsigned long long	 o_start;
	int64_t			 o_zombie_t;	/* first seen Z (0: never) */
	pid_t			 o_zombie_ppid;
	int			 o_exit;	/* wait status read as zombie */
	int64_t			 o_gone_t;	/* /proc entry gone (0: not yet) */
	int			 o_known;	/* -1 unasked, else wait's answer */
	int			 o_listed;
	int			 o_cleaned;	/* we killed it at the end */
};

struct soak_rclient {
	pthread_t	 c_thread;
	int		 c_id;
	uint64_t	 c_ok, c_fail, c_mismatch, c_conn_ok, c_conn_fail;
	int64_t		 c_max_ns[SOAK_OP_MAX];
	atomic_int	 c_finished;
};

static struct {
	const char		*sock, *key;
	int			 clients;
	atomic_int		 stop;
	pthread_mutex_t		 lock;	/* everything below */
	struct soak_kill	 kills[SOAK_MAX_KILLS];
	int			 nkills;
	unsigned		 pre_fail[SOAK_OP_MAX][SOAK_NERRS];
	struct soak_orphan	 orphans[SOAK_MAX_ORPHANS];
	int			 norphans;
	int			 orphans_dropped;
} soak_r = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* The kill in force at time t (lock held): index, or -1 before the first. */
static int
soak_kill_at(int64_t t)
{
	for (int k = soak_r.nkills - 1; k >= 0; k--)
		if (soak_r.kills[k].k_t <= t)
			return k;
	return -1;
}

/* Register a child that a kill cut off from its owner (lock held). */
static void
soak_orphan_add(pid_t pid, enum soak_kind kind, int k)
{
	struct soak_orphan *o;

	if (soak_r.norphans == SOAK_MAX_ORPHANS) {
		soak_r.orphans_dropped++;
		return;
	}
	o = &soak_r.orphans[soak_r.norphans++];
	memset(o, 0, sizeof *o);
	o->o_pid = pid;
	o->o_kind = kind;
	o->o_kill = k;
	o->o_known = -1;
	o->o_exit = -1;
}

static void
soak_note_fail(struct soak_rclient *c, int op, int err, pid_t pid,
    enum soak_kind kind)
{
	int64_t	now = soak_now();
	int	k;

	pthread_mutex_lock(&soak_r.lock);
	k = soak_kill_at(now);
	if (k < 0)
		soak_r.pre_fail[op][soak_err_slot(err)]++;
	else {
		soak_r.kills[k].k_fail[op][soak_err_slot(err)]++;
		if (op != SOAK_OP_CONNECT)
			soak_r.kills[k].k_fail_cycles++;
	}
	if (pid > 0 && k >= 0)
		soak_orphan_add(pid, kind, k);
	pthread_mutex_unlock(&soak_r.lock);
	if (op == SOAK_OP_CONNECT)
		c->c_conn_fail++;
	else
		c->c_fail++;
}

static void
soak_note_connected(struct soak_rclient *c)
{
	int64_t	now = soak_now();
	int	k;

	pthread_mutex_lock(&soak_r.lock);
	k = soak_kill_at(now);
	if (k >= 0 && soak_r.kills[k].k_back == 0)
		soak_r.kills[k].k_back = now;
	pthread_mutex_unlock(&soak_r.lock);
	c->c_conn_ok++;
}

static void
soak_note_ok(struct soak_rclient *c, int64_t t_begin)
{
	int64_t		 now = soak_now();
	struct soak_kill *kl;
	int		 k;

	pthread_mutex_lock(&soak_r.lock);
	k = soak_kill_at(t_begin);
	if (k >= 0) {
		kl = &soak_r.kills[k];
		if (kl->k_first_ok == 0)
			kl->k_first_ok = now;
		if (!kl->k_client_ok[c->c_id]) {
			kl->k_client_ok[c->c_id] = 1;
			if (++kl->k_nok == soak_r.clients)
				kl->k_all_ok = now;
		}
	}
	pthread_mutex_unlock(&soak_r.lock);
	c->c_ok++;
}

static void
soak_max_ns(struct soak_rclient *c, int op, int64_t t0)
{
	int64_t d = soak_now() - t0;

	if (d > c->c_max_ns[op])
		c->c_max_ns[op] = d;
}

/* One client: cycles, and reconnects with exponential backoff. */
static void *
soak_rclient_run(void *arg)
{
	static const char *const sleep_argv[] = { "sleep", "0.2", NULL };
	struct soak_rclient	*c = arg;
	struct forkd_spawn_opts	 o;
	struct forkd_exit	 ex;
	struct forkd		*h = NULL;
	enum soak_kind		 kind;
	unsigned		 seed = (unsigned)c->c_id * 7919u + 1;
	uint64_t		 j = 0;
	int64_t			 t0;
	pid_t			 pid;
	int			 r, backoff = SOAK_BACKOFF_MIN_MS;

	while (!atomic_load(&soak_r.stop)) {
		if (h == NULL) {
			t0 = soak_now();
			r = forkd_connect(&h, soak_r.sock, soak_r.key);
			soak_max_ns(c, SOAK_OP_CONNECT, t0);
			if (r < 0) {
				h = NULL;
				soak_note_fail(c, SOAK_OP_CONNECT, r, 0,
				    SOAK_NOOP);
				/* Backoff with jitter: clients do not
				 * reconnect in lockstep. */
				soak_sleep_ms(backoff / 2 + (int)(rand_r(&seed) %
				    (unsigned)(backoff / 2 + 1)));
				backoff *= 2;
				if (backoff > SOAK_BACKOFF_MAX_MS)
					backoff = SOAK_BACKOFF_MAX_MS;
				continue;
			}
			backoff = SOAK_BACKOFF_MIN_MS;
			soak_note_connected(c);
		}
		kind = (enum soak_kind)((uint64_t)c->c_id + j++) % 3;
		forkd_spawn_opts_init(&o);
		o.target = kind == SOAK_NOOP ? "bench:noop" : "bench:sleep";
		o.argv = kind == SOAK_NOOP ? NULL : sleep_argv;
		o.daemon = kind == SOAK_SLEEP_DAEMON;
		t0 = soak_now();
		r = forkd_spawn(h, &o, &pid, NULL, 0);
		soak_max_ns(c, SOAK_OP_SPAWN, t0);
		if (r < 0) {
			soak_note_fail(c, SOAK_OP_SPAWN, r, 0, kind);
			forkd_close(h);
			h = NULL;
			continue;
		}
		{
			int64_t tw = soak_now();

			r = forkd_wait_exit_event(h, SOAK_R_EVENT_TIMEOUT_MS,
			    &ex);
			soak_max_ns(c, SOAK_OP_WAIT, tw);
		}
		if (r < 0) {
			/* The child was running when its forkd went away. */
			soak_note_fail(c, SOAK_OP_WAIT, r, pid, kind);
			forkd_close(h);
			h = NULL;
			continue;
		}
		if (ex.pid != pid)
			c->c_mismatch++;
		soak_note_ok(c, t0);
	}
	forkd_close(h);
	atomic_store(&c->c_finished, 1);
	return NULL;
}

/* forkd's pid from the supervisor's pid file, if that process is a live
 * forkd; else 0. */
static pid_t
soak_read_pidfile(const char *path)
{
	struct soak_proc p;
	FILE		*f;
	int		 pid = 0;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || soak_proc_stat(pid, &p) != 0 || p.p_state == 'Z' ||
	    strcmp(p.p_comm, "forkd") != 0)
		return 0;
	return (pid_t)pid;
}

/* Connect, retrying with backoff for up to ms. */
static struct forkd *
soak_connect_retry(int ms)
{
	struct forkd	*h;
	int64_t		 end = soak_now() + (int64_t)ms * 1000000;
	int		 backoff = SOAK_BACKOFF_MIN_MS;

	while (forkd_connect(&h, soak_r.sock, soak_r.key) < 0) {
		if (soak_now() >= end)
			return NULL;
		soak_sleep_ms(backoff);
		if ((backoff *= 2) > SOAK_BACKOFF_MAX_MS)
			backoff = SOAK_BACKOFF_MAX_MS;
	}
	return h;
}

/* Follow the orphans: first look after the kill, zombie, gone. */
static void
soak_follow_orphans(void)
{
	struct soak_proc p;
	int64_t		 now = soak_now();

	pthread_mutex_lock(&soak_r.lock);
	for (int i = 0; i < soak_r.norphans; i++) {
		struct soak_orphan	*o = &soak_r.orphans[i];
		struct soak_kill	*kl = &soak_r.kills[o->o_kill];
		int			 r;

		if (o->o_gone_t != 0)
			continue;
		/* Look only once the old forkd has finished dying, so that
		 * the parent we see is the new one. */
		if (!o->o_checked && (now < kl->k_t + 100000000 ||
		    (soak_proc_stat(kl->k_old, &p) == 0 && p.p_state != 'Z')))
			continue;
		r = soak_proc_stat(o->o_pid, &p);
		if (r == 0 && o->o_checked && p.p_start != o->o_start)
			r = -ENOENT;		/* pid reused: ours is gone */
		if (r != 0) {
			o->o_checked = 1;
			o->o_gone_t = now;
			continue;
		}
		if (!o->o_checked) {
			struct soak_proc pp;

			o->o_checked = 1;
			o->o_start = p.p_start;
			o->o_alive = p.p_state != 'Z';
			o->o_ppid = p.p_ppid;
			if (soak_proc_stat(p.p_ppid, &pp) == 0)
				memcpy(o->o_pcomm, pp.p_comm, sizeof o->o_pcomm);
		}
		if (p.p_state == 'Z' && o->o_zombie_t == 0) {
			o->o_zombie_t = now;
			o->o_zombie_ppid = p.p_ppid;
			o->o_exit = soak_proc_exit_status(o->o_pid);
		}
	}
	pthread_mutex_unlock(&soak_r.lock);
}

/* Once forkd is back after kill k: does it know the children of the old
 * one? Asks with a fresh connection h (a wait with timeout 0, and a list). */
static void
soak_verify_kill(struct forkd *h, int k, const char *pidfile)
{
	struct forkd_child	*list = NULL;
	struct forkd_exit	 ex;
	size_t			 n = 0;
	int			 nlist;

	nlist = forkd_list(h, &list, &n) == 0;
	pthread_mutex_lock(&soak_r.lock);
	soak_r.kills[k].k_new = soak_read_pidfile(pidfile);
	for (int i = 0; i < soak_r.norphans; i++) {
		struct soak_orphan *o = &soak_r.orphans[i];

		if (o->o_kill != k)
			continue;
		o->o_known = forkd_wait(h, o->o_pid, NULL, 0, &ex);
		if (o->o_known == -ESRCH)
			soak_r.kills[k].k_unknown++;
		else
			soak_r.kills[k].k_known++;
		for (size_t j = 0; nlist && j < n; j++)
			if (list[j].pid == o->o_pid) {
				o->o_listed = 1;
				soak_r.kills[k].k_listed++;
			}
	}
	soak_r.kills[k].k_verified = 1;
	pthread_mutex_unlock(&soak_r.lock);
	free(list);
}

/* Start the probes on h: children that outlive the kill by seconds. */
static int
soak_spawn_probes(struct forkd *h, const char *pdeath_exec, pid_t *ret,
    enum soak_kind *ret_kind)
{
	static const char *const sleep3[] = { "sleep", "3", NULL };
	struct forkd_spawn_opts	 o;
	int			 n = 0;

	for (int p = 0; p < 3; p++) {
		const char *pd[] = { "setpriv", "--pdeathsig", "KILL", "--",
		    "/bin/sleep", "3", NULL };

		forkd_spawn_opts_init(&o);
		if (p < 2) {
			o.target = "bench:sleep";
			o.argv = sleep3;
			o.daemon = p == 1;
		} else {
			if (pdeath_exec == NULL)
				break;
			o.target = pdeath_exec;
			o.argv = pd;
			o.daemon = 1;
		}
		if (forkd_spawn(h, &o, &ret[n], NULL, 0) < 0)
			continue;
		ret_kind[n++] = (enum soak_kind)(SOAK_PROBE + p);
	}
	return n;
}

/* Start the probes, then SIGKILL the forkd of the pid file. The probes'
 * connection must fail at once: record how. 0, or -1 if there was no live
 * forkd to kill (try again later). */
static int
soak_kill_forkd(struct forkd **probe, const char *pidfile, const char *pdeath,
    int kills)
{
	struct forkd_exit	 ex;
	struct soak_kill	*kl;
	enum soak_kind		 pkinds[3];
	pid_t			 ppids[3], old;
	int64_t			 t;
	int			 np = 0, r = 0;

	if ((old = soak_read_pidfile(pidfile)) == 0)
		return -1;
	if (*probe == NULL)
		*probe = soak_connect_retry(2000);
	if (*probe != NULL)
		np = soak_spawn_probes(*probe, pdeath, ppids, pkinds);
	soak_sleep_ms(50);	/* let them get going */
	pthread_mutex_lock(&soak_r.lock);
	kl = &soak_r.kills[soak_r.nkills];
	kl->k_t = soak_now();
	kl->k_old = old;
	soak_r.nkills++;
	for (int p = 0; p < np; p++)
		soak_orphan_add(ppids[p], pkinds[p], soak_r.nkills - 1);
	pthread_mutex_unlock(&soak_r.lock);
	kill(old, SIGKILL);
	printf("  [%6.1f s] SIGKILL forkd pid %d (kill %d of %d, %d probes "
	    "running)\n", soak_secs(kl->k_t), (int)old, soak_r.nkills, kills,
	    np);
	fflush(stdout);
	t = soak_now();
	if (*probe != NULL)
		r = forkd_wait_exit_event(*probe, 5000, &ex);
	pthread_mutex_lock(&soak_r.lock);
	kl->k_probe_err = r;
	kl->k_probe_ns = soak_now() - t;
	pthread_mutex_unlock(&soak_r.lock);
	forkd_close(*probe);
	*probe = NULL;
	return 0;
}

/* Sum of the per-error counts. */
static unsigned
soak_sum(const unsigned *v)
{
	unsigned n = 0;

	for (size_t i = 0; i < SOAK_NERRS; i++)
		n += v[i];
	return n;
}

/* Print one count per error code, "-" when none. */
static void
soak_print_errs(const unsigned *v)
{
	int any = 0;

	for (size_t i = 0; i < SOAK_NERRS; i++) {
		if (v[i] == 0)
			continue;
		printf("%s%u %s", any ? ", " : "", v[i], soak_errs[i] ?
		    soak_errname(-soak_errs[i]) : "other");
		any = 1;
	}
	if (!any)
		printf("-");
}

/* One row per kill: failures, errors and recovery times. */
static void
soak_kill_table(void)
{
	printf("\nper restart (times from the SIGKILL):\n\n");
	printf("| # | t (s) | forkd pid old -> new | cycles failed |"
	    " errors of the failed cycles | failed connects (errors) |"
	    " new forkd started (ms) | first connect ok (ms) |"
	    " first cycle ok (ms) | all %d clients ok (ms) |"
	    " probe connection's error (ms) |\n", soak_r.clients);
	printf("| ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: |"
	    " ---: | --- |\n");
	for (int k = 0; k < soak_r.nkills; k++) {
		struct soak_kill	*kl = &soak_r.kills[k];
		unsigned		 cyc[SOAK_NERRS], nconn = 0;

		for (size_t e = 0; e < SOAK_NERRS; e++) {
			cyc[e] = kl->k_fail[SOAK_OP_SPAWN][e] +
			    kl->k_fail[SOAK_OP_WAIT][e];
			nconn += kl->k_fail[SOAK_OP_CONNECT][e];
		}
		printf("| %d | %.2f | %d -> %d | %u (spawn %u, wait %u) | ",
		    k + 1, soak_secs(kl->k_t), (int)kl->k_old, (int)kl->k_new,
		    kl->k_fail_cycles, soak_sum(kl->k_fail[SOAK_OP_SPAWN]),
		    soak_sum(kl->k_fail[SOAK_OP_WAIT]));
		soak_print_errs(cyc);
		printf(" | %u (", nconn);
		soak_print_errs(kl->k_fail[SOAK_OP_CONNECT]);
		printf(") | %.0f | %.0f | %.0f | %.0f | %s (%.1f) |\n",
		    kl->k_started ? soak_ms(kl->k_started - kl->k_t) : -1,
		    kl->k_back ? soak_ms(kl->k_back - kl->k_t) : -1,
		    kl->k_first_ok ? soak_ms(kl->k_first_ok - kl->k_t) : -1,
		    kl->k_all_ok ? soak_ms(kl->k_all_ok - kl->k_t) : -1,
		    kl->k_probe_err ? soak_errname(kl->k_probe_err) : "none",
		    soak_ms(kl->k_probe_ns));
	}
}

/* The children running at the kills, by kind, and what became of them. */
static void
soak_orphan_table(void)
{
	printf("\nchildren that were running when forkd was killed (followed "
	    "in /proc every 20 ms; first look once the old forkd is dead, "
	    ">= 100 ms after the kill):\n\n");
	printf("| kind | n | running at the first look | their parent then |"
	    " ended before the first look | those running: lived on after the"
	    " kill, max (s) |"
	    " exit status read as zombie | zombie of pid / longest (ms) |"
	    " known to the new forkd (wait/list) |\n");
	printf("| --- | ---: | ---: | --- | ---: | ---: | --- | ---: | --- |\n");
	for (int kind = 0; kind < SOAK_KIND_MAX; kind++) {
		int	n = 0, alive = 0, known = 0, listed = 0, asked = 0;
		int	dead_at_check = 0, nst = 0, st_v[8], st_n[8];
		double	zmax = 0, lived = 0;
		char	parents[128] = "", sts[160] = "", lived_s[16];
		char	zpar[64] = "";

		for (int i = 0; i < soak_r.norphans; i++) {
			struct soak_orphan	*o = &soak_r.orphans[i];
			int64_t			 end_t;

			if ((int)o->o_kind != kind)
				continue;
			n++;
			alive += o->o_alive;
			dead_at_check += o->o_checked && !o->o_alive;
			if (o->o_alive && o->o_ppid > 0) {
				char one[48];

				snprintf(one, sizeof one, "%d (%s)",
				    (int)o->o_ppid, o->o_pcomm);
				if (strstr(parents, one) == NULL &&
				    strlen(parents) + strlen(one) + 3 <
				    sizeof parents) {
					if (parents[0])
						strcat(parents, ", ");
					strcat(parents, one);
				}
			}
			end_t = o->o_zombie_t ? o->o_zombie_t : o->o_gone_t;
			if (o->o_alive && end_t != 0 && soak_ms(end_t -
			    soak_r.kills[o->o_kill].k_t) / 1e3 > lived)
				lived = soak_ms(end_t -
				    soak_r.kills[o->o_kill].k_t) / 1e3;
			if (o->o_zombie_t) {
				double zd = soak_ms((o->o_gone_t ? o->o_gone_t :
				    soak_now()) - o->o_zombie_t);
				char one[16];

				if (zd > zmax)
					zmax = zd;
				snprintf(one, sizeof one, "%d",
				    (int)o->o_zombie_ppid);
				if (strstr(zpar, one) == NULL &&
				    strlen(zpar) + strlen(one) + 3 < sizeof zpar) {
					if (zpar[0])
						strcat(zpar, ", ");
					strcat(zpar, one);
				}
			}
			if (o->o_zombie_t && o->o_exit >= 0) {
				int j;

				for (j = 0; j < nst && st_v[j] != o->o_exit; j++)
					;
				if (j == nst && nst < 8) {
					st_v[nst] = o->o_exit;
					st_n[nst++] = 0;
				}
				if (j < nst)
					st_n[j]++;
			}
			if (o->o_known != -1) {
				asked++;
				known += o->o_known != -ESRCH;
			}
			listed += o->o_listed;
		}
		if (n == 0)
			continue;
		for (int j = 0; j < nst; j++) {
			char one[48];

			if (WIFSIGNALED(st_v[j]))
				snprintf(one, sizeof one, "%ssignal %d x%d",
				    j ? ", " : "", WTERMSIG(st_v[j]), st_n[j]);
			else
				snprintf(one, sizeof one, "%sexit %d x%d",
				    j ? ", " : "", WEXITSTATUS(st_v[j]),
				    st_n[j]);
			if (strlen(sts) + strlen(one) < sizeof sts)
				strcat(sts, one);
		}
		if (alive > 0)
			snprintf(lived_s, sizeof lived_s, "%.2f", lived);
		else
			snprintf(lived_s, sizeof lived_s, "-");
		printf("| %s | %d | %d | %s | %d | %s | %s | %s / %.0f | %d of "
		    "%d asked / %d listed |\n", soak_kind_names[kind], n, alive,
		    parents[0] ? parents : "-", dead_at_check, lived_s,
		    sts[0] ? sts : "-", zpar[0] ? zpar : "-", zmax, known, asked,
		    listed);
	}
	if (soak_r.orphans_dropped)
		printf("(%d more children not followed: table full)\n",
		    soak_r.orphans_dropped);
}

static void
soak_restart_usage(FILE *f)
{
	fprintf(f,
"usage: forkd-soak restart -s SOCKET -k KEYFILE -P PIDFILE [-c CLIENTS]\n"
"           [-K KILLS] [-f FIRST_KILL_S] [-I KILL_INTERVAL_S]\n"
"           [-t TIME_LIMIT_S] [-x SETPRIV_PATH]\n"
"  PIDFILE holds the pid of the forkd now running (a supervisor rewrites it\n"
"  on every restart). Defaults: 6 clients, 4 kills, the first at 4 s, then\n"
"  one every 8 s once every client has recovered, time limit 300 s.\n"
"  -x: also start a probe through setpriv --pdeathsig KILL (the mitigation).\n");
}

static int
soak_restart(int argc, char **argv)
{
	struct soak_rclient	*cl;
	struct forkd		*probe = NULL;
	const char		*pidfile = NULL, *pdeath = NULL;
	double			 first_s = 4, interval_s = 8;
	int64_t			 t_start, t_next, hard_end, max_ns[SOAK_OP_MAX];
	uint64_t		 ok = 0, fail = 0, mismatch = 0, conn_fail = 0;
	unsigned		 pre_total = 0;
	int			 kills = 4, limit_s = 300, ch, timed_out = 0;
	int			 hung = 0, good, orphan_zombies_left = 0;
	int			 recovered = 0, cleaned = 0;

	while ((ch = getopt(argc, argv, "s:k:P:c:K:f:I:t:x:h")) != -1) {
		switch (ch) {
		case 's': soak_r.sock = optarg; break;
		case 'k': soak_r.key = optarg; break;
		case 'P': pidfile = optarg; break;
		case 'c': soak_r.clients = atoi(optarg); break;
		case 'K': kills = atoi(optarg); break;
		case 'f': first_s = atof(optarg); break;
		case 'I': interval_s = atof(optarg); break;
		case 't': limit_s = atoi(optarg); break;
		case 'x': pdeath = optarg; break;
		case 'h': soak_restart_usage(stdout); return 0;
		default: soak_restart_usage(stderr); return 2;
		}
	}
	if (soak_r.clients == 0)
		soak_r.clients = 6;
	if (soak_r.sock == NULL || soak_r.key == NULL || pidfile == NULL ||
	    soak_r.clients < 1 || soak_r.clients > SOAK_MAX_CLIENTS ||
	    kills < 1 || kills > SOAK_MAX_KILLS || limit_s < 1 ||
	    optind != argc) {
		soak_restart_usage(stderr);
		return 2;
	}
	if ((cl = calloc((size_t)soak_r.clients, sizeof *cl)) == NULL)
		return 2;

	soak_t0 = soak_now();
	if ((probe = soak_connect_retry(10000)) == NULL ||
	    soak_read_pidfile(pidfile) == 0) {
		fprintf(stderr, "forkd-soak: no forkd at %s (pid file %s)\n",
		    soak_r.sock, pidfile);
		return 2;
	}
	printf("forkd restart under load: %d clients, %d SIGKILLs, forkd pid "
	    "%d\n", soak_r.clients, kills, (int)soak_read_pidfile(pidfile));
	fflush(stdout);
	t_start = soak_now();
	hard_end = t_start + (int64_t)limit_s * 1000000000;
	t_next = t_start + (int64_t)(first_s * 1e9);
	for (int i = 0; i < soak_r.clients; i++) {
		cl[i].c_id = i;
		if (pthread_create(&cl[i].c_thread, NULL, soak_rclient_run,
		    &cl[i]) != 0)
			return 2;
	}

	for (;;) {
		int64_t now = soak_now();
		int nk, all_back, back, verified;

		soak_follow_orphans();
		if (now >= hard_end) {
			printf("forkd-soak: time limit of %d s reached; "
			    "stopping\n", limit_s);
			timed_out = 1;
			break;
		}
		pthread_mutex_lock(&soak_r.lock);
		nk = soak_r.nkills;
		all_back = nk == 0 || soak_r.kills[nk - 1].k_all_ok != 0;
		back = nk > 0 && soak_r.kills[nk - 1].k_back != 0;
		verified = nk == 0 || soak_r.kills[nk - 1].k_verified;
		if (nk > 0 && soak_r.kills[nk - 1].k_started == 0) {
			pid_t np = soak_read_pidfile(pidfile);

			if (np != 0 && np != soak_r.kills[nk - 1].k_old)
				soak_r.kills[nk - 1].k_started = soak_now();
		}
		pthread_mutex_unlock(&soak_r.lock);

		/* Forkd is back after the last kill: ask it about the
		 * orphans, and keep that connection for the next probes. */
		if (!verified && back) {
			if (probe == NULL)
				probe = soak_connect_retry(2000);
			if (probe != NULL)
				soak_verify_kill(probe, nk - 1, pidfile);
		}

		if (nk < kills && now >= t_next && all_back && verified &&
		    soak_kill_forkd(&probe, pidfile, pdeath, kills) == 0)
			t_next = soak_now() + (int64_t)(interval_s * 1e9);

		if (nk == kills && now >= t_next && all_back && verified) {
			int following = 0;

			pthread_mutex_lock(&soak_r.lock);
			for (int i = 0; i < soak_r.norphans; i++)
				if (soak_r.orphans[i].o_gone_t == 0)
					following++;
			pthread_mutex_unlock(&soak_r.lock);
			if (following == 0 || now >= soak_r.kills[nk - 1].k_t +
			    (int64_t)SOAK_ORPHAN_FOLLOW_S * 1000000000)
				break;
		}
		soak_sleep_ms(20);
	}

	atomic_store(&soak_r.stop, 1);
	{
		/* Bounded join: every libforkd call is bounded (30 s). */
		int64_t end = soak_now() + 45LL * 1000000000;

		for (int i = 0; i < soak_r.clients; i++) {
			while (!atomic_load(&cl[i].c_finished) &&
			    soak_now() < end)
				soak_sleep_ms(20);
			if (!atomic_load(&cl[i].c_finished)) {
				printf("forkd-soak: ABORTED: client %d is stuck "
				    "in a libforkd call\n", i);
				fflush(stdout);
				_exit(1);
			}
			pthread_join(cl[i].c_thread, NULL);
		}
	}
	forkd_close(probe);
	soak_follow_orphans();

	/* Orphans still running (only if the run was cut short): ours to
	 * clean up, after checking the pid is still the same process. */
	for (int i = 0; i < soak_r.norphans; i++) {
		struct soak_orphan	*o = &soak_r.orphans[i];
		struct soak_proc	 p;

		if (o->o_gone_t == 0 && soak_proc_stat(o->o_pid, &p) == 0 &&
		    p.p_start == o->o_start) {
			if (p.p_state == 'Z')
				orphan_zombies_left++;
			else {
				kill(o->o_pid, SIGKILL);
				o->o_cleaned = 1;
			}
		}
	}

	/* Tally. */
	memset(max_ns, 0, sizeof max_ns);
	for (int i = 0; i < soak_r.clients; i++) {
		ok += cl[i].c_ok;
		fail += cl[i].c_fail;
		conn_fail += cl[i].c_conn_fail;
		mismatch += cl[i].c_mismatch;
		for (int op = 0; op < SOAK_OP_MAX; op++)
			if (cl[i].c_max_ns[op] > max_ns[op])
				max_ns[op] = cl[i].c_max_ns[op];
	}
	for (int op = 0; op < SOAK_OP_MAX; op++) {
		for (size_t e = 0; e < SOAK_NERRS; e++)
			pre_total += soak_r.pre_fail[op][e];
		if (max_ns[op] > SOAK_HANG_NS)
			hung = 1;
	}

	soak_kill_table();
	soak_orphan_table();

	for (int k = 0; k < soak_r.nkills; k++)
		recovered += soak_r.kills[k].k_all_ok != 0;
	for (int i = 0; i < soak_r.norphans; i++)
		cleaned += soak_r.orphans[i].o_cleaned;
	good = !hung && mismatch == 0 && pre_total == 0 && !timed_out &&
	    soak_r.nkills == kills && orphan_zombies_left == 0;
	for (int k = 0; k < soak_r.nkills; k++) {
		struct soak_kill *kl = &soak_r.kills[k];

		if (kl->k_all_ok == 0 || kl->k_probe_err != -ECONNRESET ||
		    kl->k_known != 0 || kl->k_listed != 0)
			good = 0;
		/* Failed cycles: ECONNRESET only; failed connects:
		 * ECONNREFUSED / ENOENT (or ECONNRESET mid-handshake). */
		for (size_t e = 0; e < SOAK_NERRS; e++) {
			unsigned cyc = kl->k_fail[SOAK_OP_SPAWN][e] +
			    kl->k_fail[SOAK_OP_WAIT][e];

			if (cyc && soak_errs[e] != ECONNRESET &&
			    soak_errs[e] != EPIPE)
				good = 0;
			if (kl->k_fail[SOAK_OP_CONNECT][e] &&
			    soak_errs[e] != ECONNREFUSED &&
			    soak_errs[e] != ENOENT &&
			    soak_errs[e] != ECONNRESET)
				good = 0;
		}
	}

	printf("\n==== forkd restart under load: summary ====\n");
	printf("run:             %.1f s, %d clients (each cycling bench:noop, "
	    "bench:sleep 0.2, bench:sleep 0.2 with the daemon flag)\n",
	    soak_secs(soak_now()), soak_r.clients);
	printf("kills:           %d SIGKILLs of forkd, %d recovered (every "
	    "client completed a cycle afterwards)\n", soak_r.nkills,
	    recovered);
	printf("cycles:          %" PRIu64 " ok, %" PRIu64 " failed (all at "
	    "kills; %u before the first kill), %" PRIu64 " events for a wrong "
	    "pid\n", ok, fail, pre_total, mismatch);
	printf("connects:        %" PRIu64 " failed while forkd was down\n",
	    conn_fail);
	printf("longest call:    connect %.1f ms, spawn %.1f ms, wait for "
	    "event %.1f ms (hang = over %lld s): %s\n",
	    soak_ms(max_ns[SOAK_OP_CONNECT]), soak_ms(max_ns[SOAK_OP_SPAWN]),
	    soak_ms(max_ns[SOAK_OP_WAIT]), SOAK_HANG_NS / 1000000000,
	    hung ? "HANG" : "no hang");
	printf("orphans:         %d followed; %d zombies left at the end; %d "
	    "still running at the end (killed by us)\n", soak_r.norphans,
	    orphan_zombies_left, cleaned);
	printf("result:          %s\n", good ? "PASS" : "FAIL");
	fflush(stdout);
	if (timed_out)
		return 3;
	return good ? 0 : 1;
}

/* --- forkbase: what fork costs on this machine, without forkd --------- */

/* fork() + _exit(0) + waitpid() n times from a process holding mb MiB of
 * touched memory: the floor under any forkserver's cycle on this machine. */
static int
soak_forkbase(int argc, char **argv)
{
	struct rusage	 ru;
	unsigned char	*mem = NULL;
	size_t		 mb = 8, size;
	int64_t		 t0, t1;
	int		 n = 1000, ch;
	double		 cpu;

	while ((ch = getopt(argc, argv, "m:n:h")) != -1) {
		switch (ch) {
		case 'm': mb = strtoul(optarg, NULL, 10); break;
		case 'n': n = atoi(optarg); break;
		default:
			fprintf(ch == 'h' ? stdout : stderr, "usage: forkd-soak "
			    "forkbase [-m MIB] [-n FORKS]\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (n < 1)
		return 2;
	size = mb << 20;
	if (size > 0) {
		if ((mem = malloc(size)) == NULL)
			return 2;
		memset(mem, 1, size);
	}
	t0 = soak_now();
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
			perror("forkd-soak: fork/waitpid");
			return 2;
		}
	}
	t1 = soak_now();
	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	printf("fork baseline:   fork+exit+waitpid of a process with %zu MiB "
	    "touched: %.0f us wall, %.0f us parent CPU per fork (%d forks, "
	    "no forkd)\n", mb, (double)(t1 - t0) / 1e3 / n, cpu / n, n);
	free(mem);
	return 0;
}

static void
soak_usage(FILE *f)
{
	fprintf(f, "usage: forkd-soak cycles|restart|forkbase [OPTIONS] "
	    "(-h for each)\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		soak_usage(stderr);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "cycles") == 0)
		return soak_cycles(argc - 1, argv + 1);
	if (strcmp(argv[1], "restart") == 0)
		return soak_restart(argc - 1, argv + 1);
	if (strcmp(argv[1], "forkbase") == 0)
		return soak_forkbase(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		soak_usage(stdout);
		return 0;
	}
	soak_usage(stderr);
	return 2;
}
