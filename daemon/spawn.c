/* spawn.c: starting children, the child registry, reaping and waits. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>	/* struct clone_args, CLONE_PIDFD, CLONE_INTO_CGROUP */

#include <linux/capability.h>

#include <event2/event.h>
#include <sodium.h>
#include <systemd/sd-journal.h>

#include "cgroup.h"
#include "child.h"
#include "clone.h"
#include "clock.h"
#include "forkd.pb-c.h"
#include "log.h"
#include "module.h"
#include "plan.h"
#include "policy.h"
#include "pool.h"
#include "quota.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "validate.h"

extern char **environ;

struct spawn_child_list	spawn_children = TAILQ_HEAD_INITIALIZER(spawn_children);
struct spawn_counters	spawn_stats;

/*
 * The exit history, per client uid: the newest SPAWN_HISTORY records of
 * each uid in a ring of its own (grown as needed), at most
 * SPAWN_HISTORY_TOTAL in all; past that the uid holding the most loses
 * its oldest. So no uid can flush another's (a shared ring of 1,024 let
 * one uid's short-lived children push out everyone's exits). Records
 * carry a sequence number: a lookup by pid over all uids takes the newest.
 */
struct spawn_hist_rec {
	uint64_t		hr_seq;
	struct exit_record	hr_e;
};
struct spawn_hist_uid {
	uid_t			 hu_uid;
	struct spawn_hist_rec	*hu_ring;
	size_t			 hu_cap;	/* slots allocated */
	size_t			 hu_len;	/* records in use */
	size_t			 hu_next;	/* next slot to write */
};
static struct spawn_hist_uid	*spawn_hist;
static size_t			 spawn_hist_n, spawn_hist_cap;
static size_t			 spawn_hist_total;
static uint64_t			 spawn_hist_seq;
static uint64_t		 spawn_name_counter;

/*
 * Pending waits. Each waiter has one link per pid it names, on the list of
 * that pid's record in a hash table keyed by pid, so that a child's exit
 * touches only the waits that name it: scanning every wait on every exit
 * cost 2 ms of forkd's CPU per exit with 61,440 waits pending.
 */
struct spawn_waiter;
struct spawn_wait_pid;
struct spawn_wait_link {
	TAILQ_ENTRY(spawn_wait_link) l_entry;	/* on l_wp's list */
	struct spawn_wait_pid	*l_wp;		/* NULL once detached */
	struct spawn_waiter	*l_w;
};
struct spawn_wait_pid {
	LIST_ENTRY(spawn_wait_pid) wp_entry;	/* in its hash bucket */
	pid_t			 wp_pid;
	TAILQ_HEAD(, spawn_wait_link) wp_links;	/* in order of the waits */
};
#define SPAWN_WAIT_BUCKETS	1024	/* power of two; live pids <= 1024 */
static LIST_HEAD(, spawn_wait_pid) spawn_wait_hash[SPAWN_WAIT_BUCKETS];

/* A pending wait request. */
struct spawn_waiter {
	TAILQ_ENTRY(spawn_waiter) w_entry;
	struct session		*w_session;
	uint32_t		 w_id;
	struct event		*w_timer;
	size_t			 w_n;
	struct spawn_wait_link	 w_links[];
};
static TAILQ_HEAD(, spawn_waiter) spawn_waiters =
    TAILQ_HEAD_INITIALIZER(spawn_waiters);

static const char *const spawn_state_names[SPAWN_STATE_MAX] = {
	[SPAWN_STARTING] = "starting",
	[SPAWN_RUNNING] = "running",
	[SPAWN_FAILED] = "failed",
};

const char *
spawn_state_name(enum spawn_child_state st)
{
	return st < SPAWN_STATE_MAX ? spawn_state_names[st] : "?";
}

/* Python's convention: status, or -N when killed by signal N. */
int
spawn_exitcode(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return -WTERMSIG(wstatus);
	return -1;
}

/* Is name acceptable for a child? */
int
spawn_name_valid(const char *name)
{
	size_t	n = 0;
	int	digits = 1;

	/* A leading '-' would read as an option in "forkctl kill NAME". */
	if (name == NULL || name[0] == '\0' || name[0] == '-')
		return 0;
	for (; name[n] != '\0'; n++) {
		unsigned char c = (unsigned char)name[n];

		if (n >= LIMIT_NAME_MAX || c <= 0x20 || c >= 0x7f || c == '/')
			return 0;
		if (c < '0' || c > '9')
			digits = 0;
	}
	return !digits;
}

/* Next unique "<base>-N". */
void
spawn_name_generate(const char *base, uid_t uid, char *out, size_t outlen)
{
	char	clean[LIMIT_NAME_MAX - 20];
	size_t	i;

	for (i = 0; base[i] != '\0' && i < sizeof clean - 1; i++) {
		unsigned char c = (unsigned char)base[i];

		clean[i] = (c <= 0x20 || c >= 0x7f || c == '/' ||
		    (i == 0 && c == '-')) ? '_' : (char)c;
	}
	clean[i] = '\0';
	if (i == 0)
		strcpy(clean, "child");
	do {
		snprintf(out, outlen, "%s-%llu", clean,
		    (unsigned long long)++spawn_name_counter);
	} while (spawn_find(0, out, uid) != NULL);
}

/* Does a child of uid cu named cn match a lookup by name of uid? */
static int
spawn_name_match(const char *cn, uid_t cu, const char *name, uid_t uid)
{
	return name != NULL && (uid == SPAWN_ANY_UID || cu == uid) &&
	    strcmp(cn, name) == 0;
}

struct spawn_child *
spawn_find(pid_t pid, const char *name, uid_t uid)
{
	struct spawn_child *c;

	TAILQ_FOREACH(c, &spawn_children, c_entry) {
		if (c->c_state == SPAWN_FAILED)
			continue;
		if (pid != 0 ? c->c_pid == pid :
		    spawn_name_match(c->c_name, c->c_uid, name, uid))
			return c;
	}
	return NULL;
}

unsigned int
spawn_count_named(const char *name)
{
	struct spawn_child	*c;
	unsigned int		 n = 0;

	TAILQ_FOREACH(c, &spawn_children, c_entry)
		if (c->c_state != SPAWN_FAILED && strcmp(c->c_name, name) == 0)
			n++;
	return n;
}

/* The k-th newest record of u (k < hu_len). */
static struct spawn_hist_rec *
spawn_hist_at(const struct spawn_hist_uid *u, size_t k)
{
	return &u->hu_ring[(u->hu_next + u->hu_cap - 1 - k) % u->hu_cap];
}

/* Newest match in u, or NULL. */
static struct spawn_hist_rec *
spawn_hist_find_in(const struct spawn_hist_uid *u, pid_t pid,
    const char *name, uid_t uid)
{
	for (size_t k = 0; k < u->hu_len; k++) {
		struct spawn_hist_rec *r = spawn_hist_at(u, k);

		if (pid != 0 ? r->hr_e.e_pid == pid :
		    spawn_name_match(r->hr_e.e_name, r->hr_e.e_uid, name, uid))
			return r;
	}
	return NULL;
}

const struct exit_record *
spawn_history_find(pid_t pid, const char *name, uid_t uid)
{
	struct spawn_hist_rec *best = NULL, *r;

	for (size_t i = 0; i < spawn_hist_n; i++) {
		/* By name for one uid: only its own ring can match. */
		if (pid == 0 && uid != SPAWN_ANY_UID &&
		    spawn_hist[i].hu_uid != uid)
			continue;
		r = spawn_hist_find_in(&spawn_hist[i], pid, name, uid);
		if (r != NULL && (best == NULL || r->hr_seq > best->hr_seq))
			best = r;
	}
	return best != NULL ? &best->hr_e : NULL;
}

/* Sift the heap of uid cursors (by their next record's sequence, newest
 * on top) down from i. */
static void
spawn_hist_sift(const struct spawn_hist_uid **h, size_t *pos, size_t n,
    size_t i)
{
	for (;;) {
		size_t	l = 2 * i + 1, r = l + 1, top = i;

		if (l < n && spawn_hist_at(h[l], pos[l])->hr_seq >
		    spawn_hist_at(h[top], pos[top])->hr_seq)
			top = l;
		if (r < n && spawn_hist_at(h[r], pos[r])->hr_seq >
		    spawn_hist_at(h[top], pos[top])->hr_seq)
			top = r;
		if (top == i)
			return;
		{
			const struct spawn_hist_uid	*t = h[i];
			size_t				 tp = pos[i];

			h[i] = h[top];
			pos[i] = pos[top];
			h[top] = t;
			pos[top] = tp;
		}
		i = top;
	}
}

/* Up to max records, newest first, of uid (SPAWN_ANY_UID: of all uids,
 * merged by a heap over the uids' rings); how many. */
size_t
spawn_history_newest(uid_t uid, const struct exit_record **out, size_t max)
{
	const struct spawn_hist_uid	**h;
	size_t				 *pos, n = 0, k = 0;

	if (uid != SPAWN_ANY_UID) {
		for (size_t i = 0; i < spawn_hist_n; i++)
			if (spawn_hist[i].hu_uid == uid)
				for (; k < max && k < spawn_hist[i].hu_len; k++)
					out[k] = &spawn_hist_at(&spawn_hist[i],
					    k)->hr_e;
		return k;
	}
	if (spawn_hist_n == 0)
		return 0;
	h = calloc(spawn_hist_n, sizeof *h);
	pos = calloc(spawn_hist_n, sizeof *pos);
	if (h == NULL || pos == NULL)
		goto out;
	for (size_t i = 0; i < spawn_hist_n; i++)
		if (spawn_hist[i].hu_len > 0)
			h[n++] = &spawn_hist[i];
	for (size_t i = n / 2; i-- > 0;)
		spawn_hist_sift(h, pos, n, i);
	while (k < max && n > 0) {
		out[k++] = &spawn_hist_at(h[0], pos[0])->hr_e;
		if (++pos[0] == h[0]->hu_len) {
			h[0] = h[--n];
			pos[0] = pos[n];
		}
		spawn_hist_sift(h, pos, n, 0);
	}
out:
	free(h);
	free(pos);
	return k;
}

/* Drop the oldest record of the uid holding the most (for the total cap);
 * a uid left with none is removed. */
static void
spawn_hist_evict(void)
{
	size_t	most = 0;

	for (size_t i = 1; i < spawn_hist_n; i++)
		if (spawn_hist[i].hu_len > spawn_hist[most].hu_len)
			most = i;
	if (spawn_hist_n == 0)
		return;
	spawn_hist[most].hu_len--;
	spawn_hist_total--;
	if (spawn_hist[most].hu_len == 0) {
		free(spawn_hist[most].hu_ring);
		spawn_hist[most] = spawn_hist[--spawn_hist_n];
	}
}

/* The history of uid, created empty if needed; NULL when out of memory. */
static struct spawn_hist_uid *
spawn_hist_uid(uid_t uid)
{
	struct spawn_hist_uid	*u;

	for (size_t i = 0; i < spawn_hist_n; i++)
		if (spawn_hist[i].hu_uid == uid)
			return &spawn_hist[i];
	if (spawn_hist_n == spawn_hist_cap) {
		size_t ncap = spawn_hist_cap ? spawn_hist_cap * 2 : 8;

		if ((u = reallocarray(spawn_hist, ncap, sizeof *u)) == NULL)
			return NULL;
		spawn_hist = u;
		spawn_hist_cap = ncap;
	}
	u = &spawn_hist[spawn_hist_n++];
	memset(u, 0, sizeof *u);
	u->hu_uid = uid;
	return u;
}

/* Grow u's ring (oldest first in the new one); -ENOMEM leaves it. */
static int
spawn_hist_grow(struct spawn_hist_uid *u)
{
	size_t			 ncap = u->hu_cap ? u->hu_cap * 2 : 16;
	struct spawn_hist_rec	*ring;

	if (ncap > SPAWN_HISTORY)
		ncap = SPAWN_HISTORY;
	if ((ring = calloc(ncap, sizeof *ring)) == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < u->hu_len; k++)
		ring[k] = *spawn_hist_at(u, u->hu_len - 1 - k);
	free(u->hu_ring);
	u->hu_ring = ring;
	u->hu_cap = ncap;
	u->hu_next = u->hu_len % ncap;
	return 0;
}

/* Remember an exit in its uid's history (lost only when out of memory). */
static void
spawn_history_add(const struct exit_record *e)
{
	struct spawn_hist_uid	*u;
	struct spawn_hist_rec	*r;

	/* Make room first: evicting may move the uids' array entries. */
	while (spawn_hist_total >= SPAWN_HISTORY_TOTAL)
		spawn_hist_evict();
	if ((u = spawn_hist_uid(e->e_uid)) == NULL)
		return;
	if (u->hu_len == u->hu_cap && u->hu_cap < SPAWN_HISTORY &&
	    spawn_hist_grow(u) != 0 && u->hu_cap == 0) {
		spawn_hist_n--;		/* just made (last), holds nothing */
		return;
	}
	r = &u->hu_ring[u->hu_next];
	r->hr_seq = ++spawn_hist_seq;
	r->hr_e = *e;
	u->hu_next = (u->hu_next + 1) % u->hu_cap;
	if (u->hu_len < u->hu_cap) {
		u->hu_len++;
		spawn_hist_total++;
	}
}

/* Free a child record and its events. */
static void
spawn_child_free(struct spawn_child *c)
{
	TAILQ_REMOVE(&spawn_children, c, c_entry);
	if (c->c_errev != NULL)
		event_free(c->c_errev);
	if (c->c_setupev != NULL)
		event_free(c->c_setupev);
	if (c->c_errfd >= 0)
		close(c->c_errfd);
	if (c->c_killev != NULL)
		event_free(c->c_killev);
	if (c->c_timeoutev != NULL)
		event_free(c->c_timeoutev);
	if (c->c_pidfd >= 0)
		close(c->c_pidfd);
	cgroup_release(c->c_cgroup);
	clone_vm_free(c->c_vm);
	if (c->c_session != NULL && c->c_session->s_children > 0)
		c->c_session->s_children--;
	if (spawn_stats.live > 0)
		spawn_stats.live--;
	quota_add(c->c_uid, -1);
	free(c->c_target);
	free(c->c_cwd);
	free(c);
	server_status_changed();
	server_check_shutdown();
}

/* The record of the waits on pid, or NULL. */
static struct spawn_wait_pid *
spawn_wait_pid_find(pid_t pid)
{
	struct spawn_wait_pid *wp;

	LIST_FOREACH(wp, &spawn_wait_hash[(unsigned)pid &
	    (SPAWN_WAIT_BUCKETS - 1)], wp_entry)
		if (wp->wp_pid == pid)
			return wp;
	return NULL;
}

/* Take a waiter's links off their pids' lists, freeing emptied records. */
static void
spawn_waiter_detach(struct spawn_waiter *w)
{
	for (size_t i = 0; i < w->w_n; i++) {
		struct spawn_wait_link	*l = &w->w_links[i];
		struct spawn_wait_pid	*wp = l->l_wp;

		if (wp == NULL)
			continue;
		TAILQ_REMOVE(&wp->wp_links, l, l_entry);
		l->l_wp = NULL;
		if (TAILQ_EMPTY(&wp->wp_links)) {
			LIST_REMOVE(wp, wp_entry);
			free(wp);
		}
	}
}

/* Put each link of w on its pid's list: 0, or -ENOMEM (none stays). */
static int
spawn_waiter_attach(struct spawn_waiter *w, const pid_t *pids)
{
	for (size_t i = 0; i < w->w_n; i++) {
		struct spawn_wait_link	*l = &w->w_links[i];
		struct spawn_wait_pid	*wp = spawn_wait_pid_find(pids[i]);

		if (wp == NULL) {
			if ((wp = calloc(1, sizeof *wp)) == NULL) {
				spawn_waiter_detach(w);
				return -ENOMEM;
			}
			wp->wp_pid = pids[i];
			TAILQ_INIT(&wp->wp_links);
			LIST_INSERT_HEAD(&spawn_wait_hash[(unsigned)pids[i] &
			    (SPAWN_WAIT_BUCKETS - 1)], wp, wp_entry);
		}
		l->l_w = w;
		l->l_wp = wp;
		TAILQ_INSERT_TAIL(&wp->wp_links, l, l_entry);
	}
	return 0;
}

/* A waiter left the list: off the pid index; its session has one wait
 * fewer. */
static void
spawn_waiter_unlink(struct spawn_waiter *w)
{
	spawn_waiter_detach(w);
	if (w->w_session != NULL && w->w_session->s_waits > 0)
		w->w_session->s_waits--;
}

/* Answer waits that name pid. e NULL: the child vanished (failed spawn). */
static void
spawn_wait_notify(pid_t pid, const struct exit_record *e)
{
	TAILQ_HEAD(, spawn_waiter)	 hit = TAILQ_HEAD_INITIALIZER(hit);
	struct spawn_wait_pid		*wp;
	struct spawn_waiter		*w;

	/* Looked up again each time: detaching the last waiter on pid
	 * frees its record. A waiter naming pid twice goes once. */
	while ((wp = spawn_wait_pid_find(pid)) != NULL) {
		w = TAILQ_FIRST(&wp->wp_links)->l_w;
		TAILQ_REMOVE(&spawn_waiters, w, w_entry);
		spawn_waiter_unlink(w);
		TAILQ_INSERT_TAIL(&hit, w, w_entry);
	}
	/* Reply only now: a reply may close its session (client not
	 * reading), which frees that session's waits still on spawn_waiters,
	 * so walking that list while replying would touch freed waits. A
	 * closed session is still allocated here and ignores replies. */
	while ((w = TAILQ_FIRST(&hit)) != NULL) {
		TAILQ_REMOVE(&hit, w, w_entry);
		if (e != NULL)
			session_reply_wait(w->w_session, w->w_id, e);
		else
			session_reply_error(w->w_session, w->w_id, -ESRCH, 0,
			    "child %d failed to start", (int)pid);
		event_free(w->w_timer);
		free(w);
	}
}

/* A started child has ended: report once, remember, free. */
static void
spawn_child_ended(struct spawn_child *c)
{
	struct exit_record e = { 0 };

	e.e_pid = c->c_pid;
	memcpy(e.e_name, c->c_name, sizeof e.e_name);
	e.e_exitcode = spawn_exitcode(c->c_wstatus);
	e.e_uid = c->c_uid;
	e.e_utime_us = (uint64_t)c->c_rusage.ru_utime.tv_sec * 1000000 +
	    (uint64_t)c->c_rusage.ru_utime.tv_usec;
	e.e_stime_us = (uint64_t)c->c_rusage.ru_stime.tv_sec * 1000000 +
	    (uint64_t)c->c_rusage.ru_stime.tv_usec;
	e.e_maxrss_kb = (uint64_t)c->c_rusage.ru_maxrss;
	e.e_timed_out = c->c_timed_out;
	e.e_oom_killed = cgroup_oom_killed(c->c_cgroup);
	e.e_run_uid = c->c_run_uid;
	e.e_started_ms = c->c_started_ms;
	e.e_ended_ms = clock_wall_ms();
	spawn_stats.exited++;
	spawn_history_add(&e);
	log_debug("child %d (%s) ended: exitcode %d%s%s", (int)c->c_pid,
	    c->c_name, e.e_exitcode, e.e_timed_out ? ", timed out" : "",
	    e.e_oom_killed ? ", OOM-killed" : "");
	if (c->c_session != NULL)
		session_push_exit(c->c_session, &e);
	spawn_wait_notify(c->c_pid, &e);
	spawn_child_free(c);
}

#define SPAWN_SETUP_DEADLINE_MS	10000

/* A starting child will not run its target: its set-up failed, it died
 * first, or it hung. Error reply, waits told, freed once reaped; kill_it
 * when it may still be alive. */
static void __attribute__((format(printf, 5, 6)))
spawn_child_failed(struct spawn_child *c, int kill_it, int err, int step,
    const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;

	if (kill_it && !c->c_reaped)
		kill(c->c_pid, SIGKILL);
	c->c_state = SPAWN_FAILED;
	spawn_stats.failed++;
	if (c->c_session != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		session_reply_error(c->c_session, c->c_req_id, err, step, "%s",
		    msg);
	}
	spawn_wait_notify(c->c_pid, NULL);
	if (c->c_reaped)
		spawn_child_free(c);
}


/* State letter of a process from /proc/PID/stat ('T' stopped), or 0. */
static char
spawn_proc_state(pid_t pid)
{
	char	path[64], buf[512], *p;
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2];
}

/* The child's set-up (steps between fork and its target) did not finish in
 * time: it is stopped or hung (a pool child SIGSTOPped from outside, a
 * chdir into a dead NFS mount). Kill it and fail the spawn, rather than
 * leave the client waiting forever. */
static void
spawn_setup_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_child *c = arg;

	if (c->c_state != SPAWN_STARTING)
		return;
	log_warnx("child %d (%s): set-up not finished after %u ms; killed",
	    (int)c->c_pid, c->c_name, SPAWN_SETUP_DEADLINE_MS);
	/* A child stopped from outside: if it was a pool child, its idle
	 * siblings may be stopped too; start the pool afresh. (Not for one
	 * merely slow, e.g. in a chdir to a hung mount: a client could make
	 * that happen at will.) */
	if (!c->c_reaped && spawn_proc_state(c->c_pid) == 'T')
		pool_flush_idle();
	if (c->c_errev != NULL)
		event_free(c->c_errev);
	c->c_errev = NULL;
	if (c->c_errfd >= 0)
		close(c->c_errfd);
	c->c_errfd = -1;
	spawn_child_failed(c, 1, -ETIMEDOUT, 0, "set-up of %s did not finish "
	    "in %u ms (stopped or hung; killed)", c->c_name,
	    SPAWN_SETUP_DEADLINE_MS);
}

static void	spawn_log_refusal(struct session *, const char *);

/* Error pipe readable: set-up result of a starting child. */
static void
spawn_errpipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_child	*c = arg;
	struct child_error	 ce;
	ssize_t			 n;

	do {
		n = read(fd, &ce, sizeof ce);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	event_free(c->c_errev);
	c->c_errev = NULL;
	close(c->c_errfd);
	c->c_errfd = -1;
	if (c->c_setupev != NULL)
		event_del(c->c_setupev);

	/* A module entry says "started" ({NONE, 0}) before its target runs;
	 * an exec target says it by the pipe closing at execve. */
	if (n == (ssize_t)sizeof ce && ce.ce_step == CHILD_STEP_NONE &&
	    ce.ce_errno == 0)
		n = 0;
	else if (n == 0 && c->c_is_entry) {
		/* Closed without a word: it died before its target ran
		 * (e.g. an idle pool child killed from outside). That is a
		 * failed spawn, not a child that ran and was killed. */
		spawn_child_failed(c, 1, -ECHILD, 0, "%s died before its "
		    "target started (killed from outside?)", c->c_name);
		return;
	}
	if (n == (ssize_t)sizeof ce && ce.ce_step == CHILD_STEP_POLICY) {
		/* The refusal forkd gives itself: same errno, step, text. */
		char esc[256], msg[512];

		log_escape(esc, sizeof esc, c->c_target, strlen(c->c_target));
		policy_exec_refusal(esc, msg, sizeof msg);
		if (c->c_session != NULL)
			spawn_log_refusal(c->c_session, msg);
		spawn_child_failed(c, 0, -EPERM, 0, "%s", msg);
		return;
	}
	if (n == (ssize_t)sizeof ce) {
		const char	*failed_at = ce.ce_step == CHILD_STEP_CHDIR ?
		    c->c_cwd : c->c_target;
		char		 esc[256];

		if (c->c_session != NULL)
			session_log(c->c_session, LOG_LVL_INFO,
			    "spawn %s failed at %s: %s", c->c_name,
			    child_step_name(ce.ce_step), strerror(ce.ce_errno));
		/* The message is logged too: the client's bytes escaped. */
		spawn_child_failed(c, 0, -ce.ce_errno, ce.ce_step, "%s %s: %s",
		    child_step_name(ce.ce_step), log_escape(esc, sizeof esc,
		    failed_at, strlen(failed_at)), strerror(ce.ce_errno));
		return;
	}
	if (n == 0 && !c->c_is_entry) {
		/* The pipe closed: the child exec'd (or exited); either way it
		 * no longer runs on its CLONE_VM area. */
		clone_vm_free(c->c_vm);
		c->c_vm = NULL;
	}
	if (n != 0) {
		/* A short read cannot come from child_fail(): treat the child
		 * as broken, kill it and report. */
		spawn_child_failed(c, 1, -EIO, 0, "child set-up reported "
		    "garbage");
		return;
	}
	c->c_state = SPAWN_RUNNING;
	spawn_stats.spawned++;
	if (c->c_session != NULL) {
		/* The reply takes the pidfd (sent, or closed if dropped). */
		session_reply_spawn(c->c_session, c->c_req_id, c->c_pid,
		    c->c_name, c->c_pidfd, c->c_cgroup != NULL ?
		    c->c_cgroup->cu_rel : NULL);
		c->c_pidfd = -1;
	}
	if (c->c_reaped)
		spawn_child_ended(c);
}

/* Reap every ended child. */
void
spawn_reap(void)
{
	struct spawn_child	*c;
	struct rusage		 ru;
	pid_t			 pid;
	int			 st;

	for (;;) {
		pid = wait4(-1, &st, WNOHANG, &ru);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		TAILQ_FOREACH(c, &spawn_children, c_entry)
			if (c->c_pid == pid)
				break;
		if (c == NULL) {
			if (!pool_reaped(pid, st))
				log_debug("reaped unknown child %d", (int)pid);
			continue;
		}
		c->c_reaped = 1;
		c->c_wstatus = st;
		c->c_rusage = ru;
		if (c->c_killev != NULL)
			event_del(c->c_killev);
		/* No signal may reach a reused pid. */
		if (c->c_timeoutev != NULL)
			event_del(c->c_timeoutev);
		switch (c->c_state) {
		case SPAWN_STARTING:
			/* The error pipe is at EOF or holds the failure; its
			 * callback finishes the job. */
			break;
		case SPAWN_RUNNING:
			spawn_child_ended(c);
			break;
		case SPAWN_FAILED:
			if (c->c_errev == NULL)
				spawn_child_free(c);
			break;
		default:
			break;
		}
	}
}

/* Signal a child that forkd ends (timeout, daemon child of a closed
 * connection) and its process group, which it leads (setsid or setpgid
 * in set-up): what it started goes with it. Unreaped, its pid (and so the
 * group's id) cannot have been reused. */
static void
spawn_signal_group(const struct spawn_child *c, int sig)
{
	(void)kill(-c->c_pid, sig);
	(void)kill(c->c_pid, sig);
}

/* Grace period over: SIGKILL a daemon child that ignored SIGTERM. */
static void
spawn_kill_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_child *c = arg;

	if (!c->c_reaped) {
		log_info("child %d (%s) still alive after %u ms, sending "
		    "SIGKILL", (int)c->c_pid, c->c_name,
		    server_config.limits.kill_grace_ms);
		spawn_signal_group(c, SIGKILL);
	}
}

/* SIGTERM a child and its process group now, SIGKILL after the grace
 * period. */
static void
spawn_terminate(struct spawn_child *c)
{
	struct timeval tv;

	if (c->c_reaped)
		return;
	spawn_signal_group(c, SIGTERM);
	if (c->c_killev == NULL)
		c->c_killev = evtimer_new(server_base, spawn_kill_cb, c);
	if (c->c_killev == NULL) {
		spawn_signal_group(c, SIGKILL);
		return;
	}
	tv.tv_sec = server_config.limits.kill_grace_ms / 1000;
	tv.tv_usec = (server_config.limits.kill_grace_ms % 1000) * 1000;
	evtimer_add(c->c_killev, &tv);
}

/* Disown a closing session's children; terminate its daemon children. */
void
spawn_session_gone(struct session *s)
{
	struct spawn_child *c;

	TAILQ_FOREACH(c, &spawn_children, c_entry) {
		if (c->c_session != s)
			continue;
		c->c_session = NULL;
		if (c->c_daemon && c->c_state != SPAWN_FAILED) {
			log_debug("child %d (%s): daemon child of closed "
			    "session %llu, terminating", (int)c->c_pid,
			    c->c_name, (unsigned long long)s->s_id);
			spawn_terminate(c);
		}
	}
	s->s_children = 0;
	spawn_wait_session_gone(s);
}

/* Shutdown: terminate every daemon-flag child. */
unsigned int
spawn_terminate_daemon_children(void)
{
	struct spawn_child *c;

	TAILQ_FOREACH(c, &spawn_children, c_entry)
		if (c->c_daemon && c->c_state != SPAWN_FAILED)
			spawn_terminate(c);
	return spawn_daemon_children_alive();
}

unsigned int
spawn_daemon_children_alive(void)
{
	struct spawn_child	*c;
	unsigned int		 n = 0;

	TAILQ_FOREACH(c, &spawn_children, c_entry)
		if (c->c_daemon && !c->c_reaped)
			n++;
	return n;
}

/* Wait timed out. */
static void
spawn_wait_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_waiter *w = arg;

	/* Off the list first: the reply may close the session, which frees
	 * the session's waits on the list (this one would be freed twice). */
	TAILQ_REMOVE(&spawn_waiters, w, w_entry);
	spawn_waiter_unlink(w);
	session_reply_error(w->w_session, w->w_id, -ETIMEDOUT, 0,
	    "no listed child ended in time");
	event_free(w->w_timer);
	free(w);
}

/* Register a wait for the first of pids (all live) to end. */
int
spawn_wait_add(struct session *s, uint32_t id, const pid_t *pids, size_t n,
    int64_t timeout_ms)
{
	struct spawn_waiter *w;

	w = calloc(1, sizeof *w + n * sizeof(struct spawn_wait_link));
	if (w == NULL)
		return -ENOMEM;
	w->w_session = s;
	w->w_id = id;
	w->w_n = n;
	w->w_timer = evtimer_new(server_base, spawn_wait_timeout_cb, w);
	if (w->w_timer == NULL || spawn_waiter_attach(w, pids) != 0) {
		if (w->w_timer != NULL)
			event_free(w->w_timer);
		free(w);
		return -ENOMEM;
	}
	if (timeout_ms >= 0) {
		struct timeval tv = {
			.tv_sec = timeout_ms / 1000,
			.tv_usec = (timeout_ms % 1000) * 1000,
		};
		evtimer_add(w->w_timer, &tv);
	}
	TAILQ_INSERT_TAIL(&spawn_waiters, w, w_entry);
	s->s_waits++;
	return 0;
}

/* Pending waits of a session (for the idle timeout). */
unsigned int
spawn_wait_count(const struct session *s)
{
	return s->s_waits;
}

/* Drop the waits of a closing session. */
void
spawn_wait_session_gone(struct session *s)
{
	struct spawn_waiter *w, *tw;

	TAILQ_FOREACH_SAFE(w, &spawn_waiters, w_entry, tw) {
		if (w->w_session != s)
			continue;
		TAILQ_REMOVE(&spawn_waiters, w, w_entry);
		spawn_waiter_unlink(w);
		event_free(w->w_timer);
		free(w);
	}
}

/* Free everything at exit (children keep running). */
void
spawn_free_all(void)
{
	struct spawn_child	*c;
	struct spawn_waiter	*w;

	while ((w = TAILQ_FIRST(&spawn_waiters)) != NULL) {
		TAILQ_REMOVE(&spawn_waiters, w, w_entry);
		spawn_waiter_detach(w);
		event_free(w->w_timer);
		free(w);
	}
	while ((c = TAILQ_FIRST(&spawn_children)) != NULL) {
		c->c_session = NULL;
		spawn_child_free(c);
	}
	quota_free_all();
	for (size_t i = 0; i < spawn_hist_n; i++)
		free(spawn_hist[i].hu_ring);
	free(spawn_hist);
	spawn_hist = NULL;
	spawn_hist_n = spawn_hist_cap = spawn_hist_total = 0;
}

/* Variables of the daemon's own that children must not inherit. */
static int
spawn_env_private(const char *s)
{
	static const char *const names[] = {
		"NOTIFY_SOCKET=", "LISTEN_FDS=", "LISTEN_PID=",
		"LISTEN_FDNAMES=", "WATCHDOG_USEC=", "WATCHDOG_PID=",
		"INVOCATION_ID=", "CREDENTIALS_DIRECTORY=",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(s, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* A set of variable names (the bytes before '='), open addressing over
 * a power-of-two table at most half full: the environment is built in
 * time linear in its size (it was quadratic: 2 ms of forkd's CPU per
 * spawn with 1,024 entries). */
struct spawn_envset {
	const char	**es_slots;
	size_t		  es_mask;
};

/* FNV-1a of the name of "NAME=VALUE". */
static size_t
spawn_env_hash(const char *e, size_t *ret_len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; e[i] != '\0' && e[i] != '='; i++)
		h = (h ^ (unsigned char)e[i]) * 0x100000001b3ULL;
	*ret_len = i;
	return (size_t)h;
}

/* Add e's name to the set: 1 if it was new, 0 if already there. */
static int
spawn_envset_add(struct spawn_envset *set, const char *e)
{
	size_t		 len, i = spawn_env_hash(e, &len) & set->es_mask;
	const char	*o;

	while ((o = set->es_slots[i]) != NULL) {
		if (strncmp(o, e, len) == 0 && (o[len] == '=' ||
		    o[len] == '\0'))
			return 0;
		i = (i + 1) & set->es_mask;
	}
	set->es_slots[i] = e;
	return 1;
}

/* Is e's name in the set? */
static int
spawn_envset_has(const struct spawn_envset *set, const char *e)
{
	size_t		 len, i = spawn_env_hash(e, &len) & set->es_mask;
	const char	*o;

	while ((o = set->es_slots[i]) != NULL) {
		if (strncmp(o, e, len) == 0 && (o[len] == '=' ||
		    o[len] == '\0'))
			return 1;
		i = (i + 1) & set->es_mask;
	}
	return 0;
}

/* Build the child's environment: the daemon's (minus private variables)
 * overridden by the request's, or the request's alone. With duplicate
 * keys in the request the last one wins, in the place of its last
 * occurrence. */
static char **
spawn_build_env(const Forkd__SpawnRequest *r)
{
	struct spawn_envset	 set = { NULL, 0 };
	size_t			 n = 0, k = 0, cap, size = 16;
	char			**envp;

	if (!r->env_replace)
		for (char **e = environ; *e != NULL; e++)
			n++;
	cap = n + r->n_env + 1;
	while (size < 2 * (r->n_env + 1))
		size *= 2;
	if ((envp = calloc(cap, sizeof *envp)) == NULL ||
	    (set.es_slots = calloc(size, sizeof *set.es_slots)) == NULL) {
		free(envp);
		return NULL;
	}
	set.es_mask = size - 1;
	/* The request's, last occurrence first, at the end of envp. */
	k = cap - 1;
	for (size_t j = r->n_env; j-- > 0;)
		if (spawn_envset_add(&set, r->env[j]))
			envp[--k] = r->env[j];
	if (!r->env_replace) {
		size_t	m = 0;

		for (char **e = environ; *e != NULL; e++)
			if (!spawn_env_private(*e) &&
			    !spawn_envset_has(&set, *e))
				envp[m++] = *e;
		memmove(envp + m, envp + k, (cap - 1 - k) * sizeof *envp);
		k = m + (cap - 1 - k);
	} else {
		memmove(envp, envp + k, (cap - 1 - k) * sizeof *envp);
		k = cap - 1 - k;
	}
	envp[k] = NULL;
	free(set.es_slots);
	return envp;
}

/* Highest capability of the running kernel (for drop_caps), read once;
 * CAP_LAST_CAP of the headers when /proc does not say. */
static int
spawn_cap_last(void)
{
	static int	cap_last = -1;
	char		buf[16];
	ssize_t		n;
	int		fd, v;

	if (cap_last >= 0)
		return cap_last;
	cap_last = CAP_LAST_CAP;
	if ((fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY |
	    O_CLOEXEC)) < 0)
		return cap_last;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		v = atoi(buf);
		if (v > 0 && v < 64)
			cap_last = v;
	}
	return cap_last;
}

/* Translate a validated request's set-up fields into the plan (cgroup,
 * pidfd, timeout and NS_PID are the daemon's, at clone time and after). */
static void
spawn_plan_setup(const Forkd__SpawnRequest *r, struct child_plan *plan)
{
	uint32_t ns = r->namespaces;

	for (size_t i = 0; i < r->n_rlimits && i < CHILD_RLIMIT_MAX; i++) {
		const Forkd__Rlimit *rl = r->rlimits[i];

		plan->cp_rlimits[i].resource = (int)rl->resource;
		plan->cp_rlimits[i].soft = rl->soft == UINT64_MAX ?
		    RLIM_INFINITY : (rlim_t)rl->soft;
		plan->cp_rlimits[i].hard = rl->hard == UINT64_MAX ?
		    RLIM_INFINITY : (rlim_t)rl->hard;
		plan->cp_nrlimits++;
	}
	plan->cp_umask = r->umask != NULL ? (int)(r->umask->value & 0777) : -1;
	if (r->nice != NULL) {
		plan->cp_nice_set = 1;
		plan->cp_nice = r->nice->value;
	}
	CPU_ZERO(&plan->cp_cpus);
	for (size_t i = 0; i < r->n_cpus && i < LIMIT_CPUS_MAX; i++)
		if (r->cpus[i] < CPU_SETSIZE)
			CPU_SET(r->cpus[i], &plan->cp_cpus);
	plan->cp_ncpus = CPU_COUNT(&plan->cp_cpus);
	plan->cp_pgroup_only = r->pgroup == FORKD__PROCESS_GROUP__PGROUP_GROUP;
	if (r->identity != NULL) {
		const Forkd__Identity *id = r->identity;

		plan->cp_identity = 1;
		plan->cp_uid = (uid_t)id->uid;
		plan->cp_gid = (gid_t)id->gid;
		for (size_t i = 0; i < id->n_groups && i < CHILD_GROUPS_MAX; i++)
			plan->cp_groups[plan->cp_ngroups++] =
			    (gid_t)id->groups[i];
	}
	plan->cp_no_new_privs = r->no_new_privs;
	plan->cp_drop_caps = r->drop_caps;
	if (plan->cp_drop_caps)
		plan->cp_cap_last = spawn_cap_last();
	if (ns & FORKD__NAMESPACE__NS_MOUNT)
		plan->cp_unshare |= CLONE_NEWNS;
	if (ns & FORKD__NAMESPACE__NS_NET)
		plan->cp_unshare |= CLONE_NEWNET;
	if (ns & FORKD__NAMESPACE__NS_IPC)
		plan->cp_unshare |= CLONE_NEWIPC;
	if (ns & FORKD__NAMESPACE__NS_UTS)
		plan->cp_unshare |= CLONE_NEWUTS;
	if (ns & FORKD__NAMESPACE__NS_USER)
		plan->cp_unshare |= CLONE_NEWUSER;
}

/* Build a child's plan from a validated request: the entry (or exec_path),
 * the fd map, argv and environment. Used by the daemon before fork() and by
 * a pool child after it received the request. Free with spawn_plan_free(). */
int
spawn_plan_build(const Forkd__SpawnRequest *r, const int *fds, size_t nfds,
    const char *name, const char *exec_path, struct child_plan *plan)
{
	const char	*colon;
	char		**av;

	memset(plan, 0, sizeof *plan);
	plan->cp_errfd = -1;
	plan->cp_umask = -1;
	plan->cp_cgroup_procs_fd = -1;
	if (exec_path != NULL)
		plan->cp_path = exec_path;
	else {
		colon = strchr(r->target, ':');
		if (colon == NULL || (plan->cp_entry = module_find_entry(
		    r->target, (size_t)(colon - r->target), colon + 1)) == NULL)
			return -ENOENT;
	}
	/* The fd map: 0-2 default to /dev/null, others closed unless given. */
	plan->cp_nfds = 3;
	for (int t = 0; t <= LIMIT_FD_TARGET_MAX; t++)
		plan->cp_fds[t] = t < 3 ? server_devnull : -1;
	for (size_t i = 0; i < nfds; i++) {
		uint32_t t = r->fd_targets[i];

		if (t > LIMIT_FD_TARGET_MAX)
			return -EBADF;
		plan->cp_fds[t] = fds[i];
		if ((int)t + 1 > plan->cp_nfds)
			plan->cp_nfds = (int)t + 1;
	}
	/* protobuf-c gives a counted argv; execve wants it NULL-terminated. */
	plan->cp_argc = r->n_argv > 0 ? (int)r->n_argv : 1;
	if ((av = calloc((size_t)plan->cp_argc + 1, sizeof *av)) == NULL)
		return -ENOMEM;
	if (r->n_argv > 0)
		memcpy(av, r->argv, r->n_argv * sizeof *av);
	else
		av[0] = r->target;
	plan->cp_argv = av;
	if ((plan->cp_envp = spawn_build_env(r)) == NULL) {
		spawn_plan_free(plan);
		return -ENOMEM;
	}
	plan->cp_cwd = (r->cwd != NULL && r->cwd[0] != '\0') ? r->cwd : "/";
	plan->cp_name = name;
	plan->cp_daemon = r->daemon;
	plan->cp_parent = server_pid;
	spawn_plan_setup(r, plan);
	return 0;
}

/* Free what spawn_plan_build() allocated; a zeroed plan is fine. */
void
spawn_plan_free(struct child_plan *plan)
{
	free(plan->cp_argv);
	free(plan->cp_envp);
	plan->cp_argv = NULL;
	plan->cp_envp = NULL;
}

/* Issue 5, the child's life as forkd decides it: creation flags, the
 * cgroup, the pidfd and the timeout of one spawn. */
struct spawn_life {
	struct clone_create	 l_create;
	struct cgroup_unit	*l_cgroup;
	int			 l_pidfd;
	int			 l_bypass_pool;	/* creation-time flags */
};

/* Is the peer in forkd's PID namespace? A pidfd and the pid in the reply
 * mean the same process only there. Unknown (no /proc access): yes. */
static int
spawn_peer_same_pidns(pid_t peer)
{
	struct stat	a, b;
	char		path[64];

	if (peer <= 0)
		return 0;	/* SO_PEERCRED: a peer in an outer namespace */
	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)peer);
	if (stat("/proc/self/ns/pid", &a) != 0 || stat(path, &b) != 0)
		return 1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The request's cgroup limits. */
static void
spawn_cgroup_limits(const Forkd__CgroupSpec *cs, struct cgroup_limits *l)
{
	memset(l, 0, sizeof *l);
	l->cl_memory_max = cs->memory_max;
	l->cl_pids_max = cs->pids_max;
	l->cl_cpu_quota_us = cs->cpu_quota_us;
	l->cl_cpu_period_us = cs->cpu_period_us;
}

/* Check what the request's life options need of this host and this peer
 * (cgroup support, the PID namespace for a pidfd; validate_spawn() checked
 * their values): 0, or -errno with a message for the client. */
static int
spawn_check_life(const struct session *s, const Forkd__SpawnRequest *r,
    char *msg, size_t msglen)
{
	if (r->cgroup != NULL) {
		struct cgroup_limits l;

		spawn_cgroup_limits(r->cgroup, &l);
		if (cgroup_check(&l, msg, msglen) != 0)
			return -EOPNOTSUPP;
	}
	if (r->want_pidfd && !spawn_peer_same_pidns(s->s_pid)) {
		snprintf(msg, msglen, "pidfd: the client is not in forkd's "
		    "PID namespace");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Before the child is created: its cgroup and creation flags. */
static int
spawn_life_prepare(const Forkd__SpawnRequest *r, struct spawn_life *l,
    char *msg, size_t msglen)
{
	struct cgroup_limits	lim;
	int			err, fd;

	l->l_create.sc_want_pidfd = r->want_pidfd;
	l->l_create.sc_newpid = (r->namespaces & FORKD__NAMESPACE__NS_PID) != 0;
	l->l_create.sc_newuser = (r->namespaces & FORKD__NAMESPACE__NS_USER) != 0;
	if (r->cgroup != NULL) {
		spawn_cgroup_limits(r->cgroup, &lim);
		if ((err = cgroup_create(&lim, &l->l_cgroup, msg, msglen)) != 0)
			return err;
		l->l_create.sc_cgroup_fd = l->l_cgroup->cu_dirfd;
		/* Only needed where CLONE_INTO_CGROUP is not: cheap anyway. */
		if ((fd = cgroup_procs_open(l->l_cgroup)) < 0) {
			snprintf(msg, msglen, "cannot open %s/cgroup.procs: %s",
			    l->l_cgroup->cu_path, strerror(-fd));
			return fd;
		}
		l->l_create.sc_procs_fd = fd;
	}
	l->l_bypass_pool = r->want_pidfd || r->cgroup != NULL ||
	    l->l_create.sc_newpid;
	return 0;
}

/* Release what a spawn_life still holds (after a failure, or what the
 * child record did not take). */
static void
spawn_life_free(struct spawn_life *l)
{
	if (l->l_create.sc_procs_fd >= 0)
		close(l->l_create.sc_procs_fd);
	l->l_create.sc_procs_fd = -1;
	l->l_create.sc_cgroup_fd = -1;
	if (l->l_pidfd >= 0)
		close(l->l_pidfd);
	l->l_pidfd = -1;
	cgroup_release(l->l_cgroup);
	l->l_cgroup = NULL;
}

/* timeout_ms passed: SIGTERM to the child's process group and the child;
 * the grace later, SIGKILL likewise. */
static void
spawn_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spawn_child	*c = arg;
	struct timeval		 tv;

	if (c->c_reaped)
		return;
	if (c->c_timeout_stage == 0) {
		c->c_timeout_stage = 1;
		c->c_timed_out = 1;
		log_info("child %d (%s): timeout, sending SIGTERM (SIGKILL in "
		    "%u ms)", (int)c->c_pid, c->c_name, c->c_grace_ms);
		spawn_signal_group(c, SIGTERM);
		tv.tv_sec = c->c_grace_ms / 1000;
		tv.tv_usec = (c->c_grace_ms % 1000) * 1000;
		evtimer_add(c->c_timeoutev, &tv);
		return;
	}
	c->c_timeout_stage = 2;
	log_info("child %d (%s): still alive %u ms after the timeout's "
	    "SIGTERM, sending SIGKILL", (int)c->c_pid, c->c_name,
	    c->c_grace_ms);
	spawn_signal_group(c, SIGKILL);
}

/* The child exists: hand it the pidfd and cgroup, arm its timeout. */
static int
spawn_life_attach(struct spawn_child *c, const Forkd__SpawnRequest *r,
    struct spawn_life *l)
{
	struct timeval tv;

	c->c_pidfd = l->l_pidfd;
	l->l_pidfd = -1;
	c->c_cgroup = l->l_cgroup;
	l->l_cgroup = NULL;
	if (r->timeout_ms == 0)
		return 0;
	c->c_grace_ms = r->kill_grace_ms > 0 ? r->kill_grace_ms : 2000;
	if ((c->c_timeoutev = evtimer_new(server_base, spawn_timeout_cb,
	    c)) == NULL)
		return -ENOMEM;
	tv.tv_sec = r->timeout_ms / 1000;
	tv.tv_usec = (r->timeout_ms % 1000) * 1000;
	return evtimer_add(c->c_timeoutev, &tv) == 0 ? 0 : -ENOMEM;
}

/* Reply with an early error and count it. */
#define SPAWN_FAIL(err, ...) do {					\
	spawn_stats.failed++;						\
	session_reply_error(s, id, err, 0, __VA_ARGS__);		\
	goto out;							\
} while (0)

/* Refusals by limit or policy are logged too, within a budget of lines
 * so that a flood of them cannot flood the journal. */
static struct log_ratelimit spawn_refuse_rl;

/* Log a refused spawn, rate-limited. */
static void
spawn_log_refusal(struct session *s, const char *msg)
{
	session_log_limited(s, &spawn_refuse_rl, "spawn refused: %s", msg);
}

/* Refuse by limit or policy: reply, log, count. */
#define SPAWN_REFUSE(err, ...) do {					\
	snprintf(refusal, sizeof refusal, __VA_ARGS__);			\
	spawn_log_refusal(s, refusal);					\
	SPAWN_FAIL(err, "%s", refusal);					\
} while (0)

/* The audit line of a started child, at info: who asked (client uid and
 * pid), what runs (child pid and name, target) and which policy rule let
 * it. Under journald also as fields FORKD_TARGET=, FORKD_CLIENT_UID=,
 * FORKD_CLIENT_PID=, FORKD_CHILD_PID=, FORKD_CHILD_NAME=, FORKD_RULE=. */
static void
spawn_log_audit(const struct session *s, pid_t pid, const char *name,
    const char *target, const char *exec_path)
{
	const struct config_policy	*p = &server_config.policy;
	const char			*rule;
	char				 etarget[256], erule[320];

	if (LOG_LVL_INFO > log_get_level())
		return;
	log_escape(etarget, sizeof etarget, target, strlen(target));
	if (exec_path != NULL) {
		/* The child resolves the path and checks it again: the entry
		 * named here is the one the path matches as written. */
		rule = policy_path_rule(p, exec_path);
		if (rule != NULL)
			snprintf(erule, sizeof erule, "allow_exec_paths %s",
			    rule);
		else if (p->exec_paths_set)
			snprintf(erule, sizeof erule, "allow_exec_paths (as "
			    "resolved by the child)");
		else
			snprintf(erule, sizeof erule, "allow_exec = yes, "
			    "allow_exec_paths unset");
	} else if ((rule = policy_target_rule(p, target)) != NULL)
		snprintf(erule, sizeof erule, "allow_targets %s", rule);
	else
		snprintf(erule, sizeof erule, "allow_targets unset");
	if (log_is_journald() && sd_journal_send("MESSAGE=session %llu (uid "
	    "%u pid %d): spawned child %d (%s): %s, allowed by %s",
	    (unsigned long long)s->s_id, (unsigned)s->s_uid, (int)s->s_pid,
	    (int)pid, name, etarget, erule, "PRIORITY=%d", LOG_LVL_INFO,
	    "SYSLOG_IDENTIFIER=forkd", "FORKD_TARGET=%s", etarget,
	    "FORKD_CLIENT_UID=%u", (unsigned)s->s_uid, "FORKD_CLIENT_PID=%d",
	    (int)s->s_pid, "FORKD_CHILD_PID=%d", (int)pid,
	    "FORKD_CHILD_NAME=%s", name, "FORKD_RULE=%s", erule, NULL) >= 0)
		return;
	session_log(s, LOG_LVL_INFO, "spawned child %d (%s): %s, allowed by "
	    "%s", (int)pid, name, etarget, erule);
}

/* Wipe the strings of a handled request (environment, argv, cwd) before
 * protobuf-c frees them: freed heap is still in every child forkd forks
 * later, and an --env secret of one client must not reach another
 * client's child. */
static void
spawn_request_wipe(const Forkd__SpawnRequest *r)
{
	for (size_t i = 0; i < r->n_env; i++)
		sodium_memzero(r->env[i], strlen(r->env[i]));
	for (size_t i = 0; i < r->n_argv; i++)
		sodium_memzero(r->argv[i], strlen(r->argv[i]));
	if (r->cwd != NULL)
		sodium_memzero(r->cwd, strlen(r->cwd));
}

/* Validate a spawn request, fork, and hand the child its plan. */
void
spawn_request(struct session *s, uint32_t id, const Forkd__SpawnRequest *r,
    int *fds, size_t nfds)
{
	struct timeval			 setup_tv = {
		SPAWN_SETUP_DEADLINE_MS / 1000,
		(SPAWN_SETUP_DEADLINE_MS % 1000) * 1000 };
	const struct config_limits	*lim = &server_config.limits;
	struct child_plan		 plan;
	struct spawn_child		*c = NULL;
	struct spawn_life		 life = {
		.l_create = { .sc_cgroup_fd = -1, .sc_procs_fd = -1 },
		.l_pidfd = -1,
	};
	char				 name[LIMIT_NAME_MAX + 1];
	struct validate_ctx		 vctx = {
		.vc_limits = lim, .vc_policy = &server_config.policy,
		.vc_root = geteuid() == 0 };
	char				 esc[128], refusal[512];
	const char			*colon, *base, *exec_path = NULL;
	int				 ctlfd = -1, err, refused;
	pid_t				 pid;

	memset(&plan, 0, sizeof plan);
	if (server_shutting_down)
		SPAWN_FAIL(-ESHUTDOWN, "forkd is stopping");
	vctx.vc_uid = s->s_uid;
	vctx.vc_nfds = nfds;
	if ((err = validate_spawn(r, &vctx, refusal, sizeof refusal,
	    &refused)) != 0) {
		if (refused)
			spawn_log_refusal(s, refusal);
		SPAWN_FAIL(err, "%s", refusal);
	}
	if (spawn_stats.live >= lim->max_children)
		SPAWN_REFUSE(-EAGAIN, "too many children (limit %u)",
		    lim->max_children);
	if (quota_uid_live(s->s_uid) >= lim->max_children_per_uid)
		SPAWN_REFUSE(-EAGAIN, "too many children for uid %u (limit %u, "
		    "max_children_per_uid)", (unsigned)s->s_uid,
		    lim->max_children_per_uid);

	/* Target: MODULE:ENTRY or an absolute path; the policy first, so
	 * that a refused client learns nothing about what exists. An exec
	 * target runs as resolved here (../ and symlinks cannot escape
	 * allow_exec_paths). */
	if (r->target[0] == '/') {
		base = strrchr(r->target, '/') + 1;
		if ((err = policy_exec_check(&server_config.policy, r->target,
		    refusal, sizeof refusal)) != 0) {
			if (err == -EPERM)
				spawn_log_refusal(s, refusal);
			SPAWN_FAIL(err, "%s", refusal);
		}
		exec_path = r->target;
	} else {
		colon = strchr(r->target, ':');	/* validate_spawn() saw it */
		if (!policy_target_allowed(&server_config.policy, r->target))
			SPAWN_REFUSE(-EPERM, "target %s is not in policy "
			    "allow_targets", log_escape(esc, sizeof esc,
			    r->target, strlen(r->target)));
		if (module_find_entry(r->target, (size_t)(colon - r->target),
		    colon + 1) == NULL)
			SPAWN_FAIL(-ENOENT, "no module entry '%s' (see 'forkctl "
			    "status' for the loaded modules)", log_escape(esc,
			    sizeof esc, r->target, strlen(r->target)));
		base = colon + 1;
	}

	/* The environment is part of what runs: an allowed program with
	 * the client's LD_PRELOAD is not an allowed program. */
	if ((err = policy_env_check(&server_config.policy, r->env, r->n_env,
	    refusal, sizeof refusal)) != 0) {
		spawn_log_refusal(s, refusal);
		SPAWN_FAIL(err, "%s", refusal);
	}

	if (r->name != NULL && r->name[0] != '\0') {
		if (!spawn_name_valid(r->name))
			SPAWN_FAIL(-EINVAL, "invalid name: 1 to %d printable "
			    "bytes without spaces or '/', not all digits, not "
			    "starting with '-'", LIMIT_NAME_MAX);
		if (spawn_find(0, r->name, s->s_uid) != NULL)
			SPAWN_FAIL(-EEXIST, "a child of uid %u named '%s' is "
			    "running", (unsigned)s->s_uid, r->name);
		snprintf(name, sizeof name, "%s", r->name);
	} else
		spawn_name_generate(base, s->s_uid, name, sizeof name);

	if ((err = spawn_check_life(s, r, refusal, sizeof refusal)) != 0)
		SPAWN_FAIL(err, "%s", refusal);

	/* Last check, as it uses up a token: the spawn rate. */
	if (quota_reserve(lim->max_spawn_rate) != 0)
		SPAWN_FAIL(-ENOMEM, "out of memory");
	if ((err = quota_take_token(s->s_uid,
	    lim->max_spawn_rate)) == -EAGAIN)
		SPAWN_REFUSE(-EAGAIN, "spawn rate limit %u/s exceeded for "
		    "uid %u (max_spawn_rate)", lim->max_spawn_rate,
		    (unsigned)s->s_uid);
	else if (err != 0)
		SPAWN_FAIL(-ENOMEM, "out of memory");

	if ((err = spawn_plan_build(r, fds, nfds, name, exec_path,
	    &plan)) != 0)
		SPAWN_FAIL(err, "cannot prepare the child: %s", strerror(-err));
	/* allow_exec_paths: the child resolves and checks the path (a path
	 * on a hung mount must not block the loop); forkd's own children
	 * only, which see the policy as it is now. */
	if (exec_path != NULL && server_config.policy.exec_paths_set)
		plan.cp_exec_policy = &server_config.policy;
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->c_target = strdup(r->target)) == NULL ||
	    (c->c_cwd = strdup(plan.cp_cwd)) == NULL)
		SPAWN_FAIL(-ENOMEM, "out of memory");
	c->c_errfd = -1;
	c->c_pidfd = -1;
	if ((err = spawn_life_prepare(r, &life, refusal, sizeof refusal)) != 0)
		SPAWN_FAIL(err, "%s", refusal);

	/* Module entries: an idle pre-forked child if there is one, else a
	 * fork. Exec targets skip the pool: clone_start_ex()'s CLONE_VM
	 * child copies no page tables, and measured faster than a pool
	 * hand-over (and, without CLONE_VFORK, holds nothing up, issue 13).
	 * A pidfd, a cgroup or a PID namespace is had at creation only. */
	if ((exec_path != NULL || life.l_bypass_pool || pool_launch(&plan,
	    fds, nfds, &pid, &ctlfd) != 0) &&
	    (err = clone_start_ex(&plan, &life.l_create, &pid, &ctlfd,
	    &life.l_pidfd, &c->c_vm)) != 0) {
		log_warnx("cannot start a child: %s", strerror(-err));
		SPAWN_FAIL(err, "fork: %s", strerror(-err));
	}
	/* The cgroup's directory fd was for clone3() only: not one fd per
	 * live child. */
	if (life.l_cgroup != NULL && life.l_cgroup->cu_dirfd >= 0) {
		close(life.l_cgroup->cu_dirfd);
		life.l_cgroup->cu_dirfd = -1;
	}

	c->c_pid = pid;
	memcpy(c->c_name, name, sizeof c->c_name);
	c->c_daemon = r->daemon;
	c->c_uid = s->s_uid;
	c->c_run_uid = r->identity != NULL ? r->identity->uid : geteuid();
	c->c_started_ms = clock_wall_ms();
	c->c_state = SPAWN_STARTING;
	c->c_session = s;
	c->c_req_id = id;
	c->c_errfd = ctlfd;
	c->c_is_entry = exec_path == NULL;
	fcntl(c->c_errfd, F_SETFL, O_NONBLOCK);
	c->c_errev = event_new(server_base, c->c_errfd, EV_READ | EV_PERSIST,
	    spawn_errpipe_cb, c);
	c->c_setupev = evtimer_new(server_base, spawn_setup_deadline_cb, c);
	TAILQ_INSERT_TAIL(&spawn_children, c, c_entry);
	s->s_children++;
	spawn_stats.live++;
	quota_add(c->c_uid, 1);
	if (spawn_life_attach(c, r, &life) != 0 || c->c_errev == NULL ||
	    event_add(c->c_errev, NULL) != 0 || c->c_setupev == NULL ||
	    event_add(c->c_setupev, &setup_tv) != 0) {
		/* Cannot learn the outcome: kill it; the reaper frees it. */
		kill(pid, SIGKILL);
		if (c->c_errev != NULL)
			event_free(c->c_errev);
		c->c_errev = NULL;
		c->c_state = SPAWN_FAILED;
		spawn_stats.failed++;
		session_reply_error(s, id, -ENOMEM, 0, "out of memory");
	}
	spawn_log_audit(s, pid, name, r->target, exec_path);
	c = NULL;
	server_status_changed();
out:
	if (c != NULL) {
		free(c->c_target);
		free(c->c_cwd);
		free(c);
	}
	spawn_life_free(&life);
	spawn_plan_free(&plan);
	wire_close_fds(fds, nfds);
	spawn_request_wipe(r);
}
