/* report.c: tables, targets and JSON of a benchmark run. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "forkd.h"
#include "report.h"

const struct h_method h_lat_methods[H_LAT_MAX] = {
	[H_FORKD_TTFI] = { "forkd.ttfi", "forkd bench:byte" },
	[H_FORKD_NP_TTFI] = { "forkd_nopool.ttfi", "forkd bench:byte, --pool 0" },
	[H_FORK_TTFI] = { "fork.ttfi", "in-process fork()" },
	[H_PY_TTFI] = { "python_forkserver.ttfi", "Python forkserver" },
	[H_FORKD_CYCLE] = { "forkd.cycle", "forkd bench:noop" },
	[H_FORKD_NP_CYCLE] = { "forkd_nopool.cycle",
	    "forkd bench:noop, --pool 0" },
	[H_FORK_CYCLE] = { "fork.cycle", "in-process fork()+waitpid" },
	[H_PY_CYCLE] = { "python_forkserver.cycle",
	    "Python forkserver start+join" },
	[H_FORKD_EXEC_CYCLE] = { "forkd.exec_true.cycle",
	    "forkd /bin/true cycle" },
	[H_FORKD_NP_EXEC_CYCLE] = { "forkd_nopool.exec_true.cycle",
	    "forkd /bin/true cycle, --pool 0" },
	[H_FORKD_EXEC_TTFI] = { "forkd.exec_echo.ttfi",
	    "forkd /bin/echo ttfi" },
	[H_FORKD_NP_EXEC_TTFI] = { "forkd_nopool.exec_echo.ttfi",
	    "forkd /bin/echo ttfi, --pool 0" },
	[H_FORKD_PING] = { "forkd.ping", "forkd_ping() round trip" },
};

const struct h_method h_glob_methods[H_GLOB_MAX] = {
	[H_SPAWN_CYCLE] = { "posix_spawn.true.cycle",
	    "posix_spawn /bin/true + waitpid" },
	[H_SPAWN_TTFI] = { "posix_spawn.echo.ttfi",
	    "posix_spawn /bin/echo ttfi" },
	[H_SEQPACKET_RTT] = { "seqpacket.rtt",
	    "SOCK_SEQPACKET round trip" },
};

const struct h_method h_probe_methods[H_PROBE_MAX] = {
	[H_PROBE_FORKD_TTFI] = { "probe.forkd.ttfi",
	    "forkd bench:byte (interleaved)" },
	[H_PROBE_FORK_TTFI] = { "probe.fork.ttfi",
	    "in-process fork() (interleaved)" },
};

/* One goal of issue 17 (or a kept one of issue 4) and how this run did
 * against it. */
struct report_target {
	char		 t_name[96];
	int		 t_avail;
	double		 t_value;
	int		 t_le;		/* 1: value <= target; 0: >= */
	double		 t_target;
	const char	*t_unit;	/* "x" or " GiB" */
	const char	*t_note;
};

#define REPORT_TARGETS_MAX	32

/* Copy the first line of a file that starts with key, after the key. */
static int
report_grep(const char *path, const char *key, char *out, size_t outlen)
{
	FILE	*f = fopen(path, "r");
	char	 line[512];
	size_t	 klen = strlen(key);
	int	 found = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, key, klen) == 0) {
			char *v = line + klen;

			while (*v == ' ' || *v == '\t' || *v == ':')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, outlen, "%s", v);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Read /proc/loadavg. */
void
report_loadavg(char *buf, size_t len)
{
	double	a = 0, b = 0, c = 0;
	FILE	*f = fopen("/proc/loadavg", "r");

	if (f == NULL || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	if (f != NULL)
		fclose(f);
}

/* CPU, kernel, memory and THP mode of this machine. */
void
report_machine(struct h_results *res)
{
	struct utsname	u;
	char		buf[256];
	FILE		*f;

	res->r_ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	report_loadavg(res->r_load_start, sizeof res->r_load_start);
	if (!report_grep("/proc/cpuinfo", "model name", res->r_cpu,
	    sizeof res->r_cpu))
		snprintf(res->r_cpu, sizeof res->r_cpu, "unknown");
	if (uname(&u) == 0)
		snprintf(res->r_kernel, sizeof res->r_kernel, "%.64s %.64s %.64s",
		    u.sysname, u.release, u.machine);
	if (report_grep("/proc/meminfo", "MemTotal", buf, sizeof buf))
		res->r_mem_kb = strtoull(buf, NULL, 10);
	snprintf(res->r_thp, sizeof res->r_thp, "unknown");
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f != NULL) {
		if (fgets(buf, sizeof buf, f) != NULL) {
			char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;

			if (a != NULL && b != NULL)
				snprintf(res->r_thp, sizeof res->r_thp, "%.*s",
				    (int)(b - a - 1), a + 1);
		}
		fclose(f);
	}
}

/* Print the run and machine lines. */
void
report_header(FILE *out, const struct h_results *res)
{
	const struct h_config *c = res->r_cfg;

	fprintf(out, "forkd benchmark (%s mode), %s%s%s\n",
	    c->c_quick ? "quick" : "full", res->r_started,
	    c->c_label ? ", " : "", c->c_label ? c->c_label : "");
	fprintf(out, "machine: %ld CPUs (%s), %s, %.1f GiB RAM, THP %s\n",
	    res->r_ncpu, res->r_cpu, res->r_kernel,
	    (double)res->r_mem_kb / (1024.0 * 1024.0), res->r_thp);
	fprintf(out, "load average at start: %s\n", res->r_load_start);
	fprintf(out, "forkd: bench.so:size_mb=N%s%s; \"forkd\" rows: pool on (the "
	    "default), \"--pool 0\": pool off; other settings as shipped",
	    c->c_bench_opts ? "," : "", c->c_bench_opts ? c->c_bench_opts :
	    " (module default state kind)");
	if (c->c_spawn_cpu >= 0)
		fprintf(out, "; spawn_cpu = %d (not the default)",
		    c->c_spawn_cpu);
	fputc('\n', out);
}

/* Format nanoseconds as microseconds in at most 8 columns. */
static const char *
report_us(char *buf, size_t len, double ns)
{
	double us = ns / 1000.0;

	if (ns <= 0)
		snprintf(buf, len, "-");
	else if (us < 10)
		snprintf(buf, len, "%.2f", us);
	else if (us < 1000)
		snprintf(buf, len, "%.1f", us);
	else
		snprintf(buf, len, "%.0f", us);
	return buf;
}

/* Format a state size as MiB or GiB. */
static const char *
report_size(char *buf, size_t len, unsigned long mb)
{
	if (mb >= 1024 && mb % 1024 == 0)
		snprintf(buf, len, "%lu GiB", mb / 1024);
	else
		snprintf(buf, len, "%lu MiB", mb);
	return buf;
}

/* The state with mb MiB, or NULL. */
static struct h_state *
report_state(struct h_results *res, unsigned long mb)
{
	for (size_t i = 0; i < res->r_nstates; i++)
		if (res->r_states[i].s_mb == mb)
			return &res->r_states[i];
	return NULL;
}

/* Median of a few doubles. */
static double
report_median_d(const double *v, size_t n)
{
	double	tmp[H_TRIALS_MAX];

	if (n == 0)
		return 0;
	memcpy(tmp, v, n * sizeof *v);
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && tmp[j - 1] > tmp[j]; j--) {
			double t = tmp[j];

			tmp[j] = tmp[j - 1];
			tmp[j - 1] = t;
		}
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* A forkd throughput entry with k clients (pool on or off, depth spawns
 * in flight per client), or the fork loop (k 0). */
static struct h_tput *
report_tput(struct h_state *s, unsigned k, int pool, unsigned depth)
{
	for (size_t i = 0; s != NULL && i < s->s_ntput; i++) {
		struct h_tput *tp = &s->s_tput[i];

		if (k == 0 ? tp->t_fork_loop : (!tp->t_fork_loop &&
		    tp->t_clients == k && tp->t_pool == pool &&
		    tp->t_depth == depth))
			return tp;
	}
	return NULL;
}

/* Median throughput of a forkd entry over the fork loop's, or NAN. */
static double
report_tput_ratio(struct h_state *s, unsigned k, unsigned depth)
{
	struct h_tput	*t = report_tput(s, k, 1, depth);
	struct h_tput	*l = report_tput(s, 0, 0, 1);

	if (t == NULL || l == NULL || t->t_ntrials == 0 || l->t_ntrials == 0)
		return NAN;
	return report_median_d(t->t_rate, t->t_ntrials) /
	    report_median_d(l->t_rate, l->t_ntrials);
}

/* Ratio of two p50s, or NAN when either is missing. */
static double
report_ratio(struct stats *a, struct stats *b)
{
	double x = stats_pct(a, 50), y = stats_pct(b, 50);

	return x > 0 && y > 0 ? x / y : NAN;
}

/* Append a target to the list. */
static void
report_add(struct report_target *t, size_t *n, double value, int le,
    double target, const char *unit, const char *note, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static void
report_add(struct report_target *t, size_t *n, double value, int le,
    double target, const char *unit, const char *note, const char *fmt, ...)
{
	struct report_target *x;
	va_list ap;

	if (*n >= REPORT_TARGETS_MAX)
		return;
	x = &t[(*n)++];
	memset(x, 0, sizeof *x);
	va_start(ap, fmt);
	vsnprintf(x->t_name, sizeof x->t_name, fmt, ap);
	va_end(ap);
	x->t_avail = !isnan(value);
	x->t_value = value;
	x->t_le = le;
	x->t_target = target;
	x->t_unit = unit;
	x->t_note = note;
}

/* The goals of issue 17 computed from this run, then the memory target
 * of issue 4, which still holds. Every ratio is of two figures measured
 * side by side in this run. */
static size_t
report_targets(struct h_results *res, struct report_target *t)
{
	const struct h_config *c = res->r_cfg;
	struct h_state	*s0 = report_state(res, 0);
	struct h_state	*s256 = report_state(res, 256);
	struct h_state	*s1g = report_state(res, 1024);
	struct h_state	*spss = report_state(res, c->c_pss_mb);
	struct h_tput	*t32;
	size_t		 n = 0;
	char		 sz[32];

	report_add(t, &n, s0 ? report_ratio(&s0->s_lat[H_FORKD_TTFI],
	    &s0->s_lat[H_FORK_TTFI]) : NAN, 1, 0.8, "x", NULL,
	    "first byte p50, 0 MiB: forkd / in-process fork()");
	report_add(t, &n, s0 ? report_ratio(&s0->s_lat[H_FORKD_CYCLE],
	    &s0->s_lat[H_FORK_CYCLE]) : NAN, 1, 1.0, "x", NULL,
	    "spawn->exit p50, 0 MiB: forkd / fork()+waitpid");
	report_add(t, &n, s0 && s1g ? report_ratio(&s1g->s_lat[H_FORKD_TTFI],
	    &s0->s_lat[H_FORKD_TTFI]) : NAN, 1, 1.3, "x", NULL,
	    "first byte p50: forkd 1 GiB / forkd 0 MiB, rounds");
	report_add(t, &n, s0 && s1g && res->r_probe_rounds ?
	    report_ratio(&s1g->s_probe[H_PROBE_FORKD_TTFI],
	    &s0->s_probe[H_PROBE_FORKD_TTFI]) : NAN, 1, 1.3, "x", NULL,
	    "first byte p50: forkd 1 GiB / forkd 0 MiB, interleaved");
	report_add(t, &n, s0 && res->r_probe_rounds ?
	    report_ratio(&s0->s_probe[H_PROBE_FORKD_TTFI],
	    &s0->s_probe[H_PROBE_FORK_TTFI]) : NAN, 1, 0.8, "x", NULL,
	    "first byte p50, 0 MiB, interleaved: forkd / fork()");
	report_add(t, &n, report_tput_ratio(s0, 8, 1), 0, 0.8, "x", NULL,
	    "throughput, 0 MiB: forkd 8 clients / fork loop x%u",
	    c->c_loop_workers);
	report_add(t, &n, c->c_depth > 1 ? report_tput_ratio(s0, 8,
	    c->c_depth) : NAN, 0, 0.8, "x", NULL,
	    "throughput, 0 MiB: forkd 8 clients x%u in flight / fork loop",
	    c->c_depth);
	t32 = report_tput(s0, 32, 1, 1);
	report_add(t, &n, t32 && t32->t_lat.st_n ?
	    stats_pct(&t32->t_lat, 99) / 1e6 : NAN, 1, 9.7, " ms", NULL,
	    "p99 cycle latency, 0 MiB, 32 clients");
	report_add(t, &n, res->r_python_ok && s0 ?
	    report_ratio(&s0->s_lat[H_PY_CYCLE], &s0->s_lat[H_FORKD_CYCLE]) :
	    NAN, 0, 40, "x", NULL,
	    "start+join p50, 0 MiB: Python forkserver / forkd");
	report_add(t, &n, res->r_python_ok && s256 ?
	    report_ratio(&s256->s_lat[H_PY_CYCLE],
	    &s256->s_lat[H_FORKD_CYCLE]) : NAN, 0, 40, "x", NULL,
	    "start+join p50, 256 MiB: Python forkserver / forkd");
	for (int pool = 1; pool >= 0; pool--)
		for (size_t i = 0; i < res->r_nstates; i++) {
			struct h_state *s = &res->r_states[i];

			report_add(t, &n, report_ratio(&s->s_lat[pool ?
			    H_FORKD_EXEC_CYCLE : H_FORKD_NP_EXEC_CYCLE],
			    &res->r_glob[H_SPAWN_CYCLE]), 1, 1.1, "x", NULL,
			    "exec /bin/true cycle p50, %s%s: forkd / "
			    "posix_spawn", report_size(sz, sizeof sz, s->s_mb),
			    pool ? "" : ", --pool 0");
		}
	report_add(t, &n, s0 && s1g ?
	    report_ratio(&s1g->s_lat[H_FORKD_NP_TTFI],
	    &s0->s_lat[H_FORKD_NP_TTFI]) : NAN, 1, 1.5, "x", "issue 4",
	    "first byte p50, --pool 0: forkd 1 GiB / forkd 0 MiB");
	report_add(t, &n, spss && spss->s_mem.m_valid ?
	    (double)spss->s_mem.m_pss_kb / (1024.0 * 1024.0) : NAN, 1, 1.3,
	    " GiB", "issue 4", "summed PSS of %u live children, %s state",
	    c->c_children, report_size(sz, sizeof sz, c->c_pss_mb));
	return n;
}

/* Did the target hold? */
static int
report_pass(const struct report_target *t)
{
	return t->t_le ? t->t_value <= t->t_target : t->t_value >= t->t_target;
}

/* Print every table and the targets. */
void
report_print(FILE *out, struct h_results *res)
{
	struct report_target	 tg[REPORT_TARGETS_MAX];
	char			 a[32], b[32], sz[32];
	size_t			 ntg;
	static const struct {
		const char	*title;
		enum h_lat	 m[4];
		size_t		 n;
	} groups[] = {
		{ "time to first instruction (spawn request -> first byte "
		    "on a pipe)", { H_FORKD_TTFI, H_FORKD_NP_TTFI, H_FORK_TTFI,
		    H_PY_TTFI }, 4 },
		{ "cycle (spawn -> child exits -> status known)",
		    { H_FORKD_CYCLE, H_FORKD_NP_CYCLE, H_FORK_CYCLE,
		    H_PY_CYCLE }, 4 },
		{ "exec targets", { H_FORKD_EXEC_CYCLE, H_FORKD_NP_EXEC_CYCLE,
		    H_FORKD_EXEC_TTFI, H_FORKD_NP_EXEC_TTFI }, 4 },
		{ "request floor", { H_FORKD_PING }, 1 },
	};

	fprintf(out, "\nload average at end: %s (start: %s); %.0f s\n",
	    res->r_load_end, res->r_load_start, res->r_elapsed_s);
	fprintf(out, "\nLatency in microseconds, p50 / p99 over %u interleaved "
	    "rounds%s%s\n", res->r_rounds, res->r_budget_hit ?
	    " (stopped by the time budget)" : "", res->r_rounds < 100 ?
	    ";\nwith fewer than 100 rounds, p99 is the largest sample" : "");
	fprintf(out, "%-40s", "preloaded state:");
	for (size_t i = 0; i < res->r_nstates; i++)
		fprintf(out, " %18s", report_size(sz, sizeof sz,
		    res->r_states[i].s_mb));
	fprintf(out, "\n%-40s", "");
	for (size_t i = 0; i < res->r_nstates; i++)
		fprintf(out, " %9s%9s", "p50", "p99");
	fputc('\n', out);
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		fprintf(out, "%s\n", groups[g].title);
		for (size_t k = 0; k < groups[g].n; k++) {
			enum h_lat m = groups[g].m[k];

			if ((m == H_PY_TTFI || m == H_PY_CYCLE) &&
			    !res->r_python_ok)
				continue;
			fprintf(out, "  %-38s", h_lat_methods[m].m_label);
			for (size_t i = 0; i < res->r_nstates; i++) {
				struct stats *st = &res->r_states[i].s_lat[m];

				fprintf(out, " %9s%9s",
				    report_us(a, sizeof a, stats_pct(st, 50)),
				    report_us(b, sizeof b, stats_pct(st, 99)));
			}
			fputc('\n', out);
		}
	}
	if (res->r_probe_rounds > 0) {
		fprintf(out, "interleaved mode (%u rounds, %u us of caller work "
		    "between spawns; load after: %s)\n", res->r_probe_rounds,
		    res->r_cfg->c_probe_work_us, res->r_load_probe);
		for (int m = 0; m < H_PROBE_MAX; m++) {
			fprintf(out, "  %-38s", h_probe_methods[m].m_label);
			for (size_t i = 0; i < res->r_nstates; i++) {
				struct stats *st = &res->r_states[i].s_probe[m];

				fprintf(out, " %9s%9s",
				    report_us(a, sizeof a, stats_pct(st, 50)),
				    report_us(b, sizeof b, stats_pct(st, 99)));
			}
			fputc('\n', out);
		}
	}
	fprintf(out, "no preloaded state (in-process anchors)\n");
	for (int m = 0; m < H_GLOB_MAX; m++)
		fprintf(out, "  %-38s %9s%9s\n", h_glob_methods[m].m_label,
		    report_us(a, sizeof a, stats_pct(&res->r_glob[m], 50)),
		    report_us(b, sizeof b, stats_pct(&res->r_glob[m], 99)));

	for (int ph = 0; ph < 2; ph++)
		for (int pool = 0; pool < 2; pool++) {
			fprintf(out, "  %-38s", ph == 0 ? (pool == 0 ?
			    "spawns from the pool, latency rounds" :
			    "  the same, --pool 0") : (pool == 0 ?
			    "spawns from the pool, trials" :
			    "  the same, --pool 0"));
			for (size_t i = 0; i < res->r_nstates; i++) {
				struct h_state *s = &res->r_states[i];
				uint64_t sp = s->s_spawned[ph][pool] -
				    (ph ? s->s_spawned[0][pool] : 0);
				uint64_t pl = s->s_pool_spawns[ph][pool] -
				    (ph ? s->s_pool_spawns[0][pool] : 0);
				char v[48];

				snprintf(v, sizeof v, "%llu/%llu",
				    (unsigned long long)pl,
				    (unsigned long long)sp);
				fprintf(out, " %18s", v);
			}
			fputc('\n', out);
		}

	fprintf(out, "\nThroughput in cycles/s (median of %u trials of %u ms) "
	    "and p99 cycle latency under load (us)\n",
	    res->r_cfg->c_trials, res->r_cfg->c_trial_ms);
	fprintf(out, "%-40s", "preloaded state:");
	for (size_t i = 0; i < res->r_nstates; i++)
		fprintf(out, " %18s", report_size(sz, sizeof sz,
		    res->r_states[i].s_mb));
	fprintf(out, "\n%-40s", "");
	for (size_t i = 0; i < res->r_nstates; i++)
		fprintf(out, " %9s%9s", "cycles/s", "p99");
	fputc('\n', out);
	for (size_t k = 0; k <= 3 * res->r_cfg->c_nclients; k++) {
		size_t nc = res->r_cfg->c_nclients;
		int pool = k < nc || k >= 2 * nc;
		unsigned depth = k >= 2 * nc && k < 3 * nc ?
		    res->r_cfg->c_depth : 1;
		unsigned cl = k < 3 * nc ? res->r_cfg->c_clients[k % nc] : 0;
		char label[64];

		if (depth > 1 || (k >= 2 * nc && k < 3 * nc)) {
			if (res->r_cfg->c_depth <= 1)
				continue;
			snprintf(label, sizeof label, "forkd bench:noop, %u "
			    "client%s x%u in flight", cl, cl == 1 ? "" : "s",
			    depth);
		} else if (cl == 0)
			snprintf(label, sizeof label, "in-process fork loop x%u",
			    res->r_cfg->c_loop_workers);
		else
			snprintf(label, sizeof label, "forkd bench:noop, %u "
			    "client%s%s", cl, cl == 1 ? "" : "s",
			    pool ? "" : ", --pool 0");
		fprintf(out, "  %-38s", label);
		for (size_t i = 0; i < res->r_nstates; i++) {
			struct h_tput *tp = report_tput(&res->r_states[i], cl,
			    pool, depth);

			if (tp == NULL || tp->t_ntrials == 0) {
				fprintf(out, " %9s%9s", "-", "-");
				continue;
			}
			fprintf(out, " %9.0f%9s",
			    report_median_d(tp->t_rate, tp->t_ntrials),
			    report_us(b, sizeof b, stats_pct(&tp->t_lat, 99)));
		}
		fputc('\n', out);
	}

	fprintf(out, "\nMemory: %u live bench:sleep children of forkd (pool "
	    "on)\n", res->r_cfg->c_children);
	fprintf(out, "%-40s", "preloaded state:");
	for (size_t i = 0; i < res->r_nstates; i++)
		fprintf(out, " %18s", report_size(sz, sizeof sz,
		    res->r_states[i].s_mb));
	fputc('\n', out);
	{
		static const char *const rows[] = {
			"children's summed PSS (MiB)",
			"children's summed RSS (MiB)",
			"children's page tables (MiB)",
			"forkd's own PSS (MiB)",
		};

		for (int r = 0; r < 4; r++) {
			fprintf(out, "  %-38s", rows[r]);
			for (size_t i = 0; i < res->r_nstates; i++) {
				struct h_mem *m = &res->r_states[i].s_mem;
				uint64_t v = r == 0 ? m->m_pss_kb : r == 1 ?
				    m->m_rss_kb : r == 2 ? m->m_pte_kb :
				    m->m_daemon_pss_kb;

				if (!m->m_valid)
					fprintf(out, " %18s", "-");
				else
					fprintf(out, " %18.1f",
					    (double)v / 1024.0);
			}
			fputc('\n', out);
		}
	}

	fprintf(out, "  %-38s", "forkd's huge pages at start (MiB)");
	for (size_t i = 0; i < res->r_nstates; i++) {
		struct h_mem *m = &res->r_states[i].s_mem;
		char v[48];

		snprintf(v, sizeof v, "%.0f/%.0f of %.0f",
		    (double)m->m_start_huge_kb[0] / 1024.0,
		    (double)m->m_start_huge_kb[1] / 1024.0,
		    (double)m->m_start_anon_kb[0] / 1024.0);
		fprintf(out, " %18s", v);
	}
	fprintf(out, "\n  (pool on/--pool 0, of forkd's anonymous memory: a "
	    "state short of huge pages forks like a plain one)\n");

	ntg = report_targets(res, tg);
	fprintf(out, "\nGoals of issue 17 (forkd as configured by default, "
	    "and --pool 0 where named;\nratios of figures measured side by "
	    "side in this run)\n");
	fprintf(out, "  %-66s %9s %9s  %s\n", "", "measured", "target",
	    "result");
	for (size_t i = 0; i < ntg; i++) {
		char v[32], tv[32], r[64];

		if (!tg[i].t_avail) {
			snprintf(v, sizeof v, "n/a");
			snprintf(r, sizeof r, "n/a");
		} else {
			snprintf(v, sizeof v, "%.2f%s", tg[i].t_value,
			    tg[i].t_unit);
			if (report_pass(&tg[i]))
				snprintf(r, sizeof r, "PASS");
			else
				snprintf(r, sizeof r, "MISS (%.2fx off)",
				    tg[i].t_le ? tg[i].t_value / tg[i].t_target
				    : tg[i].t_target / tg[i].t_value);
		}
		snprintf(tv, sizeof tv, "%s %.2g%s", tg[i].t_le ? "<=" : ">=",
		    tg[i].t_target, tg[i].t_unit);
		fprintf(out, "  %-66s %9s %9s  %s%s%s\n", tg[i].t_name, v, tv,
		    r, tg[i].t_note ? "; " : "", tg[i].t_note ? tg[i].t_note :
		    "");
	}
}

/* Print s as a JSON string. */
static void
report_jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Print a sample set's summary in microseconds. */
static void
report_jstats(FILE *f, struct stats *st)
{
	fprintf(f, "\"n\": %zu, \"p50_us\": %.3f, \"p99_us\": %.3f, "
	    "\"mean_us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f",
	    st->st_n, stats_pct(st, 50) / 1e3, stats_pct(st, 99) / 1e3,
	    stats_mean(st) / 1e3, stats_min(st) / 1e3, stats_max(st) / 1e3);
}

/* Write the run as JSON. */
int
report_json(const char *path, struct h_results *res)
{
	const struct h_config	*c = res->r_cfg;
	struct report_target	 tg[REPORT_TARGETS_MAX];
	size_t			 ntg;
	int			 first = 1;
	FILE			*f;

	if ((f = fopen(path, "w")) == NULL)
		return -errno;
	fprintf(f, "{\n  \"format\": 1,\n  \"started\": ");
	report_jstr(f, res->r_started);
	fprintf(f, ",\n  \"mode\": \"%s\",\n  \"label\": ",
	    c->c_quick ? "quick" : "full");
	report_jstr(f, c->c_label ? c->c_label : "");
	fprintf(f, ",\n  \"elapsed_s\": %.1f,\n  \"bench_opts\": ",
	    res->r_elapsed_s);
	report_jstr(f, c->c_bench_opts ? c->c_bench_opts : "");
	fprintf(f, ",\n  \"spawn_cpu\": %d,\n", c->c_spawn_cpu);
	fprintf(f, "  \"machine\": {\"ncpu\": %ld, \"cpu\": ", res->r_ncpu);
	report_jstr(f, res->r_cpu);
	fprintf(f, ", \"kernel\": ");
	report_jstr(f, res->r_kernel);
	fprintf(f, ", \"mem_kib\": %llu, \"thp\": ",
	    (unsigned long long)res->r_mem_kb);
	report_jstr(f, res->r_thp);
	fprintf(f, ", \"loadavg_start\": ");
	report_jstr(f, res->r_load_start);
	fprintf(f, ", \"loadavg_end\": ");
	report_jstr(f, res->r_load_end);
	fprintf(f, ", \"loadavg_after_interleaved\": ");
	report_jstr(f, res->r_load_probe);
	fprintf(f, "},\n  \"versions\": {\"libforkd\": \"%s\", \"python\": ",
	    FORKD_LIB_VERSION);
	report_jstr(f, res->r_python_ok ? res->r_python_version : "");
	fprintf(f, "},\n  \"config\": {\"rounds_requested\": %u, "
	    "\"rounds\": %u, \"warmup\": %u, \"budget_s\": %u, "
	    "\"budget_hit\": %s, \"trials\": %u, \"trial_ms\": %u, "
	    "\"loop_workers\": %u, \"children\": %u, "
	    "\"probe_rounds\": %u, \"probe_work_us\": %u, "
	    "\"depth\": %u},\n",
	    c->c_rounds, res->r_rounds, c->c_warmup, c->c_budget_s,
	    res->r_budget_hit ? "true" : "false", c->c_trials, c->c_trial_ms,
	    c->c_loop_workers, c->c_children, res->r_probe_rounds,
	    c->c_probe_work_us, c->c_depth);

	fprintf(f, "  \"latency\": [");
	for (size_t i = 0; i < res->r_nstates; i++) {
		struct h_state *s = &res->r_states[i];

		for (int m = 0; m < H_LAT_MAX; m++) {
			if (s->s_lat[m].st_n == 0)
				continue;
			fprintf(f, "%s\n    {\"method\": \"%s\", "
			    "\"state_mb\": %lu, ", first ? "" : ",",
			    h_lat_methods[m].m_id, s->s_mb);
			report_jstats(f, &s->s_lat[m]);
			fputc('}', f);
			first = 0;
		}
	}
	for (size_t i = 0; i < res->r_nstates; i++) {
		struct h_state *s = &res->r_states[i];

		for (int m = 0; m < H_PROBE_MAX; m++) {
			if (s->s_probe[m].st_n == 0)
				continue;
			fprintf(f, "%s\n    {\"method\": \"%s\", "
			    "\"state_mb\": %lu, ", first ? "" : ",",
			    h_probe_methods[m].m_id, s->s_mb);
			report_jstats(f, &s->s_probe[m]);
			fputc('}', f);
			first = 0;
		}
	}
	for (int m = 0; m < H_GLOB_MAX; m++) {
		fprintf(f, "%s\n    {\"method\": \"%s\", \"state_mb\": null, ",
		    first ? "" : ",", h_glob_methods[m].m_id);
		report_jstats(f, &res->r_glob[m]);
		fputc('}', f);
		first = 0;
	}
	fprintf(f, "\n  ],\n  \"throughput\": [");
	first = 1;
	for (size_t i = 0; i < res->r_nstates; i++) {
		struct h_state *s = &res->r_states[i];

		for (size_t k = 0; k < s->s_ntput; k++) {
			struct h_tput *tp = &s->s_tput[k];

			fprintf(f, "%s\n    {\"method\": \"%s\", "
			    "\"state_mb\": %lu, \"depth\": %u, \"%s\": %u, "
			    "\"median_cycles_per_s\": %.1f, \"trials\": [",
			    first ? "" : ",", tp->t_fork_loop ? "fork_loop" :
			    tp->t_depth > 1 ? "forkd.noop.pipelined" :
			    tp->t_pool ? "forkd.noop" : "forkd_nopool.noop",
			    s->s_mb, tp->t_fork_loop ? 1 : tp->t_depth,
			    tp->t_fork_loop ? "workers" : "clients",
			    tp->t_clients,
			    report_median_d(tp->t_rate, tp->t_ntrials));
			for (size_t j = 0; j < tp->t_ntrials; j++)
				fprintf(f, "%s%.1f", j ? ", " : "",
				    tp->t_rate[j]);
			fprintf(f, "], \"cycles\": %llu, \"latency\": {",
			    (unsigned long long)tp->t_cycles);
			report_jstats(f, &tp->t_lat);
			fprintf(f, "}}");
			first = 0;
		}
	}
	fprintf(f, "\n  ],\n  \"pool_spawns\": [");
	for (size_t i = 0; i < res->r_nstates; i++) {
		struct h_state *s = &res->r_states[i];

		fprintf(f, "%s\n    {\"state_mb\": %lu", i ? "," : "", s->s_mb);
		for (int ph = 0; ph < 2; ph++)
			for (int pool = 0; pool < 2; pool++)
				fprintf(f, ", \"%s_%s\": {\"spawned\": %llu, "
				    "\"from_pool\": %llu}",
				    ph ? "trials" : "latency",
				    pool ? "pool_off" : "pool_on",
				    (unsigned long long)(s->s_spawned[ph][pool] -
				    (ph ? s->s_spawned[0][pool] : 0)),
				    (unsigned long long)
				    (s->s_pool_spawns[ph][pool] -
				    (ph ? s->s_pool_spawns[0][pool] : 0)));
		fputc('}', f);
	}
	fprintf(f, "\n  ],\n  \"memory\": [");
	first = 1;
	for (size_t i = 0; i < res->r_nstates; i++) {
		struct h_mem *m = &res->r_states[i].s_mem;

		if (!m->m_valid)
			continue;
		fprintf(f, "%s\n    {\"state_mb\": %lu, \"children\": %u, "
		    "\"children_pss_kib\": %llu, \"children_rss_kib\": %llu, "
		    "\"children_pagetables_kib\": %llu, "
		    "\"daemon_pss_kib\": %llu, "
		    "\"daemon_start_anon_huge_kib\": [%llu, %llu], "
		    "\"daemon_start_anon_kib\": [%llu, %llu]}",
		    first ? "" : ",",
		    res->r_states[i].s_mb, m->m_children,
		    (unsigned long long)m->m_pss_kb,
		    (unsigned long long)m->m_rss_kb,
		    (unsigned long long)m->m_pte_kb,
		    (unsigned long long)m->m_daemon_pss_kb,
		    (unsigned long long)m->m_start_huge_kb[0],
		    (unsigned long long)m->m_start_huge_kb[1],
		    (unsigned long long)m->m_start_anon_kb[0],
		    (unsigned long long)m->m_start_anon_kb[1]);
		first = 0;
	}
	fprintf(f, "\n  ],\n  \"targets\": [");
	ntg = report_targets(res, tg);
	for (size_t i = 0; i < ntg; i++) {
		fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
		report_jstr(f, tg[i].t_name);
		if (tg[i].t_avail)
			fprintf(f, ", \"value\": %.4f", tg[i].t_value);
		else
			fprintf(f, ", \"value\": null");
		fprintf(f, ", \"op\": \"%s\", \"target\": %g, \"unit\": ",
		    tg[i].t_le ? "<=" : ">=", tg[i].t_target);
		report_jstr(f, tg[i].t_unit[0] == ' ' ? tg[i].t_unit + 1 :
		    tg[i].t_unit);
		fprintf(f, ", \"result\": \"%s\", \"note\": ",
		    !tg[i].t_avail ? "n/a" : report_pass(&tg[i]) ? "PASS" :
		    "MISS");
		report_jstr(f, tg[i].t_note ? tg[i].t_note : "");
		fputc('}', f);
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f) != 0)
		return -errno;
	return 0;
}
