/* harness.h: the configuration and the results of one benchmark run,
 * shared by the measuring code (harness.c) and the report (report.c). */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define H_STATES_MAX	4
#define H_CLIENTS_MAX	8
#define H_TRIALS_MAX	64
#define H_CHILDREN_MAX	512	/* live children for the PSS figure */

/* Latency figures measured against each preloaded state. "forkd" is forkd
 * as configured by default (pool on); "NP" the same forkd with --pool 0. */
enum h_lat {
	H_FORKD_TTFI,		/* forkd bench:echo, first byte on a pipe */
	H_FORKD_NP_TTFI,
	H_FORK_TTFI,		/* in-process fork(), child writes a byte */
	H_PY_TTFI,		/* Python forkserver, child writes a byte */
	H_FORKD_CYCLE,		/* forkd bench:noop spawn -> exit event */
	H_FORKD_NP_CYCLE,
	H_FORK_CYCLE,		/* in-process fork/_exit/waitpid */
	H_PY_CYCLE,		/* Python forkserver start()+join() */
	H_FORKD_EXEC_CYCLE,	/* forkd /bin/true spawn -> exit event */
	H_FORKD_NP_EXEC_CYCLE,
	H_FORKD_EXEC_TTFI,	/* forkd /bin/echo -n x, first byte */
	H_FORKD_NP_EXEC_TTFI,
	H_FORKD_PING,		/* forkd_ping() round trip */
	H_LAT_MAX
};

/* Latency figures that do not depend on a preloaded state. */
enum h_glob {
	H_SPAWN_CYCLE,		/* posix_spawn /bin/true + waitpid */
	H_SPAWN_TTFI,		/* posix_spawn /bin/echo -n x, first byte */
	H_SEQPACKET_RTT,	/* 1-byte SOCK_SEQPACKET ping-pong */
	H_GLOB_MAX
};

/* Latency figures of the interleaved ("probe") mode, per state: spawns
 * back to back with the caller's own work between them, as a caller that
 * does something with each child does, so the pool's refill from the
 * zygote lands beside the next spawn instead of in a quiet gap. */
enum h_probe {
	H_PROBE_FORKD_TTFI,	/* forkd bench:byte, first byte (pool on) */
	H_PROBE_FORK_TTFI,	/* in-process fork(), child writes a byte */
	H_PROBE_MAX
};

struct h_method {
	const char	*m_id;		/* JSON name */
	const char	*m_label;	/* table row */
};

extern const struct h_method h_lat_methods[H_LAT_MAX];
extern const struct h_method h_glob_methods[H_GLOB_MAX];
extern const struct h_method h_probe_methods[H_PROBE_MAX];

struct h_config {
	const char	*c_forkd;	/* forkd binary */
	const char	*c_bench_so;	/* bench.so */
	const char	*c_bench_opts;	/* more bench init options, or NULL */
	const char	*c_python;	/* NULL: no Python anchor */
	const char	*c_pyscript;	/* pyfs_worker.py */
	const char	*c_tmpdir;	/* sockets, key, logs */
	const char	*c_out;		/* JSON file */
	const char	*c_label;	/* free text, e.g. the git revision */
	int		 c_quick;
	size_t		 c_nsizes;
	unsigned long	 c_sizes[H_STATES_MAX];
	size_t		 c_nclients;
	unsigned	 c_clients[H_CLIENTS_MAX];
	unsigned	 c_rounds;	/* latency rounds (each method once) */
	unsigned	 c_warmup;	/* rounds run first and discarded */
	unsigned	 c_min_rounds;	/* kept even past the time budget */
	unsigned	 c_budget_s;	/* latency phase time budget */
	unsigned	 c_trials;	/* throughput trials per configuration */
	unsigned	 c_trial_ms;
	unsigned	 c_loop_workers; /* fork-loop anchor processes */
	unsigned	 c_children;	/* live children for PSS */
	unsigned long	 c_pss_mb;	/* the state the PSS target names */
	int		 c_spawn_cpu;	/* forkd's spawn_cpu, or -1: none */
	unsigned	 c_probe_rounds; /* interleaved-mode rounds, 0: none */
	unsigned	 c_probe_work_us; /* caller work between its spawns */
	unsigned	 c_depth;	/* spawns in flight per pipelined client,
					 * 0 or 1: no pipelined trials */
};

struct h_tput {
	unsigned	t_clients;	/* forkd clients or fork-loop workers */
	int		t_fork_loop;	/* 1: the in-process fork loop anchor */
	int		t_pool;		/* forkd: 1 pool on, 0 --pool 0 */
	unsigned	t_depth;	/* forkd: spawns in flight per client
					 * (1: blocking forkd_spawn()) */
	size_t		t_ntrials;
	double		t_rate[H_TRIALS_MAX];	/* cycles/s of each trial */
	uint64_t	t_cycles;
	struct stats	t_lat;		/* every cycle's latency under load */
};

struct h_mem {
	int		m_valid;
	unsigned	m_children;
	uint64_t	m_pss_kb;	/* summed over the children */
	uint64_t	m_rss_kb;
	uint64_t	m_pte_kb;	/* page tables, not part of PSS */
	uint64_t	m_daemon_pss_kb;
	/* forkd's anonymous memory in transparent huge pages, and all of
	 * it, once it was up: [0] pool on, [1] --pool 0. The bench module's
	 * default state=huge falls back to 4 KiB pages when the kernel has no
	 * huge page to give, and then forking the state costs what a plain
	 * fork() does. */
	uint64_t	m_start_huge_kb[2];
	uint64_t	m_start_anon_kb[2];
};

struct h_state {
	unsigned long	 s_mb;
	struct stats	 s_lat[H_LAT_MAX];
	size_t		 s_ntput;
	struct h_tput	 s_tput[3 * H_CLIENTS_MAX + 1];
	struct stats	 s_probe[H_PROBE_MAX];
	struct h_mem	 s_mem;
	/* forkd_status() counters after [0] the latency rounds, [1] the
	 * throughput trials; of [.][0] pool on, [.][1] --pool 0 */
	uint64_t	 s_spawned[2][2];
	uint64_t	 s_pool_spawns[2][2];
};

struct h_results {
	const struct h_config *r_cfg;
	char		 r_started[32];		/* UTC, ISO 8601 */
	double		 r_elapsed_s;
	unsigned	 r_rounds;		/* latency rounds kept */
	int		 r_budget_hit;
	unsigned	 r_probe_rounds;	/* interleaved rounds kept */
	char		 r_load_probe[64];	/* /proc/loadavg after them */
	/* machine */
	long		 r_ncpu;
	char		 r_cpu[128];
	char		 r_kernel[256];
	uint64_t	 r_mem_kb;
	char		 r_thp[32];
	char		 r_load_start[64];	/* /proc/loadavg, 3 figures */
	char		 r_load_end[64];
	/* peers */
	int		 r_python_ok;
	char		 r_python_version[32];
	char		 r_python_err[256];
	size_t		 r_nstates;
	struct h_state	 r_states[H_STATES_MAX];
	struct stats	 r_glob[H_GLOB_MAX];
};

#endif
