/* spawn.h: starting children, tracking them, reaping them, waiting. */
#ifndef FORKD_SPAWN_H
#define FORKD_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "forkd_limits.h"

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);				\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

struct cgroup_unit;
struct event;
struct session;
struct Forkd__SpawnRequest;

enum spawn_child_state {
	SPAWN_STARTING,		/* forked; set-up not yet confirmed */
	SPAWN_RUNNING,		/* target runs; reply sent */
	SPAWN_FAILED,		/* set-up failed; error reply sent */
	SPAWN_STATE_MAX
};

struct spawn_child {
	TAILQ_ENTRY(spawn_child) c_entry;
	pid_t			 c_pid;
	char			 c_name[LIMIT_NAME_MAX + 1];
	char			*c_target;
	char			*c_cwd;		/* for error messages */
	int			 c_daemon;
	uid_t			 c_uid;
	uint64_t		 c_started_ms;
	enum spawn_child_state	 c_state;
	struct session		*c_session;	/* owner, NULL once it left */
	uint32_t		 c_req_id;	/* spawn request to answer */
	int			 c_errfd;	/* error pipe read end */
	struct event		*c_errev;
	struct event		*c_setupev;	/* set-up deadline */
	int			 c_is_entry;	/* a module entry: says "started" */
	struct event		*c_killev;	/* SIGKILL after grace */
	/* Issue 5 life: timeout_ms timer (SIGTERM, then SIGKILL after
	 * c_grace_ms), the pidfd until the reply takes it, the cgroup. */
	struct event		*c_timeoutev;
	uint32_t		 c_grace_ms;
	int			 c_timeout_stage; /* 0 armed, 1 TERM sent, 2 KILL */
	int			 c_timed_out;
	int			 c_pidfd;
	struct cgroup_unit	*c_cgroup;
	/* A CLONE_VM exec child's stack, thread area and plan copy, until
	 * it has exec'd or exited (clone_vm_free()). */
	void			*c_vm;
	int			 c_reaped;
	int			 c_wstatus;
	struct rusage		 c_rusage;
	uid_t			 c_run_uid;	/* uid the child runs as */
};

/* An ended child, as reported to clients and kept in the history. */
struct exit_record {
	pid_t		e_pid;
	char		e_name[LIMIT_NAME_MAX + 1];
	int		e_exitcode;	/* status, or -N for signal N */
	uid_t		e_uid;
	uint64_t	e_utime_us;
	uint64_t	e_stime_us;
	uint64_t	e_maxrss_kb;
	int		e_timed_out;	/* killed by forkd for timeout_ms */
	int		e_oom_killed;	/* its cgroup counted an OOM kill */
	uid_t		e_run_uid;	/* uid the child ran as */
	uint64_t	e_started_ms;	/* wall clock, unix ms */
	uint64_t	e_ended_ms;
};

TAILQ_HEAD(spawn_child_list, spawn_child);
extern struct spawn_child_list spawn_children;

struct spawn_counters {
	uint64_t	spawned;
	uint64_t	failed;
	uint64_t	exited;
	unsigned int	live;
};
extern struct spawn_counters spawn_stats;

/* Exit records kept: the newest SPAWN_HISTORY of each client uid, at most
 * SPAWN_HISTORY_TOTAL in all (then the uid holding the most loses its
 * oldest). */
#define SPAWN_HISTORY		1024
#define SPAWN_HISTORY_TOTAL	16384

const char *spawn_state_name(enum spawn_child_state);

/* Start a child for a session's SpawnRequest; fds are consumed (closed)
 * whatever happens. The reply is sent later, when the child's set-up
 * succeeded or failed; an early failure is replied to here. */
void	spawn_request(struct session *, uint32_t id,
	    const struct Forkd__SpawnRequest *, int *fds, size_t nfds);

/* A name is 1..LIMIT_NAME_MAX printable bytes, no '/', not all digits. */
int	spawn_name_valid(const char *name);
/* Write "<base>-N" to out for the next N (one counter for all uids, so no
 * N twice) that names no live child of uid. */
void	spawn_name_generate(const char *base, uid_t uid, char *out,
	    size_t outlen);

/* Names are per client uid: two uids may each have a child "web". */
#define SPAWN_ANY_UID	((uid_t)-1)
/* Find a live child by pid (any uid's), or by name when pid is 0: uid's
 * child of that name, or any uid's with SPAWN_ANY_UID. */
struct spawn_child *spawn_find(pid_t pid, const char *name, uid_t uid);
/* Live children named name, of every uid (for root's lookups). */
unsigned int spawn_count_named(const char *name);
/* Does a child of uid cu named cn match a lookup of name by uid (or by
 * SPAWN_ANY_UID)? */
int	spawn_name_match(const char *cn, uid_t cu, const char *name, uid_t uid);

/* Reap every ended child (SIGCHLD callback). */
void	spawn_reap(void);
/* The session is going away: disown its children, terminate daemon ones. */
void	spawn_session_gone(struct session *);
/* Send SIGTERM to every daemon-flag child and SIGKILL after the grace
 * period; returns how many are still alive. */
unsigned int spawn_terminate_daemon_children(void);
unsigned int spawn_daemon_children_alive(void);

/* Python's exitcode from a wait status. */
int	spawn_exitcode(int wstatus);
void	spawn_free_all(void);

/* State letter of a process from /proc/PID/stat ('T' stopped, 'Z'
 * zombie), or 0 when it cannot be read. */
char	spawn_proc_state(pid_t pid);

#endif
