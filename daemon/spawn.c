/* spawn.c: a spawn request from admission to the child record
 * (spawn_request(): admit -> plan -> pool or clone -> register), the child
 * registry and names, reaping, the error pipe and set-up deadline, life
 * timers and termination. */
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>	/* struct clone_args, CLONE_PIDFD, CLONE_INTO_CGROUP */

#include <event2/event.h>
#include <sodium.h>

#include "audit.h"
#include "cgroup.h"
#include "child.h"
#include "clock.h"
#include "clone.h"
#include "forkd.pb-c.h"
#include "history.h"
#include "life.h"
#include "log.h"
#include "module.h"
#include "plan.h"
#include "policy.h"
#include "pool.h"
#include "quota.h"
#include "reply.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "validate.h"
#include "waiter.h"

struct spawn_child_list	spawn_children = TAILQ_HEAD_INITIALIZER(spawn_children);
struct spawn_counters	spawn_stats;
static uint64_t		spawn_name_counter;

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
int
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
	if (c->c_session != NULL)
		session_count_child(c->c_session, -1);
	if (spawn_stats.live > 0)
		spawn_stats.live--;
	quota_add(c->c_uid, -1);
	free(c->c_target);
	free(c->c_cwd);
	free(c);
	server_status_changed();
	server_check_shutdown();
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
	history_add(&e);
	log_debug("child %d (%s) ended: exitcode %d%s%s", (int)c->c_pid,
	    c->c_name, e.e_exitcode, e.e_timed_out ? ", timed out" : "",
	    e.e_oom_killed ? ", OOM-killed" : "");
	if (c->c_session != NULL)
		reply_exit_event(c->c_session, &e);
	waiter_notify(c->c_pid, &e);
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
		reply_error(c->c_session, c->c_req_id, err, step, "%s",
		    msg);
	}
	waiter_notify(c->c_pid, NULL);
	if (c->c_reaped)
		spawn_child_free(c);
}

/* State letter of a process from /proc/PID/stat ('T' stopped), or 0. */
char
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
		reply_spawn(c->c_session, c->c_req_id, c->c_pid,
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
				log_debug("reaped %d, not a child forkd "
				    "spawned", (int)pid);
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
		    server_config_get()->limits.kill_grace_ms);
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
		c->c_killev = evtimer_new(server_evbase(), spawn_kill_cb, c);
	if (c->c_killev == NULL) {
		spawn_signal_group(c, SIGKILL);
		return;
	}
	tv = clock_tv(server_config_get()->limits.kill_grace_ms);
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
	waiter_session_gone(s);
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

/* Free everything at exit (children keep running). */
void
spawn_free_all(void)
{
	struct spawn_child	*c;

	waiter_free_all();
	while ((c = TAILQ_FIRST(&spawn_children)) != NULL) {
		c->c_session = NULL;
		spawn_child_free(c);
	}
	quota_free_all();
	history_free_all();
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
		tv = clock_tv(c->c_grace_ms);
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
    struct life *l)
{
	struct timeval tv;

	life_take(l, &c->c_pidfd, &c->c_cgroup);
	if (r->timeout_ms == 0)
		return 0;
	c->c_grace_ms = r->kill_grace_ms > 0 ? r->kill_grace_ms : 2000;
	if ((c->c_timeoutev = evtimer_new(server_evbase(), spawn_timeout_cb,
	    c)) == NULL)
		return -ENOMEM;
	tv = clock_tv(r->timeout_ms);
	return evtimer_add(c->c_timeoutev, &tv) == 0 ? 0 : -ENOMEM;
}

/* Refusals by limit or policy are logged too, within a budget of lines
 * so that a flood of them cannot flood the journal. */
static struct log_ratelimit spawn_refuse_rl;

/* Log a refused spawn, rate-limited. */
static void
spawn_log_refusal(struct session *s, const char *msg)
{
	session_log_limited(s, &spawn_refuse_rl, "spawn refused: %s", msg);
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

/* What spawn_admit() learned about an accepted request. */
struct spawn_admit {
	char		 a_name[LIMIT_NAME_MAX + 1];
	const char	*a_base;	/* entry or file name: for a_name */
	const char	*a_exec_path;	/* NULL: a module entry */
	const struct forkd_module_entry *a_entry; /* when not a_exec_path */
};

/* Target: MODULE:ENTRY or an absolute path; the policy first, so that a
 * refused client learns nothing about what exists. An exec target runs as
 * resolved here (../ and symlinks cannot escape allow_exec_paths). */
static int
spawn_admit_target(const Forkd__SpawnRequest *r, struct spawn_admit *a,
    char *msg, size_t msglen, int *ret_refused)
{
	const char	*colon;
	char		 esc[128];
	int		 err;

	if (r->target[0] == '/') {
		a->a_base = strrchr(r->target, '/') + 1;
		if ((err = policy_exec_check(&server_config_get()->policy,
		    r->target, msg, msglen)) != 0) {
			*ret_refused = err == -EPERM;
			return err;
		}
		a->a_exec_path = r->target;
		return 0;
	}
	colon = strchr(r->target, ':');	/* validate_spawn() saw it */
	if (!policy_target_allowed(&server_config_get()->policy, r->target)) {
		snprintf(msg, msglen, "target %s is not in policy allow_targets",
		    log_escape(esc, sizeof esc, r->target, strlen(r->target)));
		*ret_refused = 1;
		return -EPERM;
	}
	if ((a->a_entry = module_find_entry(r->target,
	    (size_t)(colon - r->target), colon + 1)) == NULL) {
		snprintf(msg, msglen, "no module entry '%s' (see 'forkctl "
		    "status' for the loaded modules)", log_escape(esc,
		    sizeof esc, r->target, strlen(r->target)));
		return -ENOENT;
	}
	a->a_base = colon + 1;
	return 0;
}

/* The child's name: the client's, if valid and free, or "<base>-N". */
static int
spawn_admit_name(const struct session *s, const Forkd__SpawnRequest *r,
    struct spawn_admit *a, char *msg, size_t msglen)
{
	if (r->name == NULL || r->name[0] == '\0') {
		spawn_name_generate(a->a_base, s->s_uid, a->a_name,
		    sizeof a->a_name);
		return 0;
	}
	if (!spawn_name_valid(r->name)) {
		snprintf(msg, msglen, "invalid name: 1 to %d printable bytes "
		    "without spaces or '/', not all digits, not starting with "
		    "'-'", LIMIT_NAME_MAX);
		return -EINVAL;
	}
	if (spawn_find(0, r->name, s->s_uid) != NULL) {
		snprintf(msg, msglen, "a child of uid %u named '%s' is running",
		    (unsigned)s->s_uid, r->name);
		return -EEXIST;
	}
	snprintf(a->a_name, sizeof a->a_name, "%s", r->name);
	return 0;
}

/* forkd's effective uid: it never changes (forkd drops nothing after
 * start-up; children change theirs), so one geteuid() serves every spawn
 * (it was two system calls per spawn). */
static uid_t
spawn_euid(void)
{
	static uid_t	euid;
	static int	known;

	if (!known) {
		euid = geteuid();
		known = 1;
	}
	return euid;
}

/* Every check before a spawn uses anything: validate_spawn(), the child
 * limits, the policy (target, exec path, environment), the name, what the
 * life options need of this host, and last, as it takes a token, the
 * spawn rate. 0, or -errno with the client's message in msg;
 * *ret_refused is 1 for a refusal by limit or policy (to be logged). */
static int
spawn_admit(const struct session *s, const Forkd__SpawnRequest *r,
    size_t nfds, struct spawn_admit *a, char *msg, size_t msglen,
    int *ret_refused)
{
	const struct config_limits	*lim = &server_config_get()->limits;
	struct validate_ctx		 vctx = {
		.vc_limits = lim, .vc_policy = &server_config_get()->policy,
		.vc_uid = s->s_uid, .vc_root = spawn_euid() == 0,
		.vc_nfds = nfds };
	int				 err;

	*ret_refused = 0;
	a->a_exec_path = NULL;
	a->a_entry = NULL;
	if (server_stopping()) {
		snprintf(msg, msglen, "forkd is stopping");
		return -ESHUTDOWN;
	}
	if ((err = validate_spawn(r, &vctx, msg, msglen, ret_refused)) != 0)
		return err;
	*ret_refused = 1;
	if (spawn_stats.live >= lim->max_children) {
		snprintf(msg, msglen, "too many children (limit %u)",
		    lim->max_children);
		return -EAGAIN;
	}
	if (quota_uid_live(s->s_uid) >= lim->max_children_per_uid) {
		snprintf(msg, msglen, "too many children for uid %u (limit %u, "
		    "max_children_per_uid)", (unsigned)s->s_uid,
		    lim->max_children_per_uid);
		return -EAGAIN;
	}
	*ret_refused = 0;
	if ((err = spawn_admit_target(r, a, msg, msglen, ret_refused)) != 0)
		return err;
	/* The environment is part of what runs: an allowed program with
	 * the client's LD_PRELOAD is not an allowed program. */
	if ((err = policy_env_check(&server_config_get()->policy, r->env,
	    r->n_env, msg, msglen)) != 0) {
		*ret_refused = 1;
		return err;
	}
	if ((err = spawn_admit_name(s, r, a, msg, msglen)) != 0 ||
	    (err = life_check(s->s_pid, r, msg, msglen)) != 0)
		return err;
	if (quota_reserve(lim->max_spawn_rate) != 0 ||
	    (err = quota_take_token(s->s_uid, lim->max_spawn_rate)) == -ENOMEM) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	if (err == -EAGAIN) {
		snprintf(msg, msglen, "spawn rate limit %u/s exceeded for uid "
		    "%u (max_spawn_rate)", lim->max_spawn_rate,
		    (unsigned)s->s_uid);
		*ret_refused = 1;
		return -EAGAIN;
	}
	return 0;
}

/* A started child c (pid, its error pipe ctlfd) joins the registry: its
 * set-up deadline and error pipe armed, its life attached, the audit line
 * logged. ctlev: a pool child's event for ctlfd, made when it joined the
 * pool (ctlfd non-blocking already), taken over; NULL: made here. Past
 * the point of no return: on failure the child is killed and the client
 * told. */
static void
spawn_register(struct session *s, uint32_t id, const Forkd__SpawnRequest *r,
    struct spawn_child *c, const struct spawn_admit *a,
    struct life *life, pid_t pid, int ctlfd, struct event *ctlev)
{
	struct timeval	setup_tv = {
		SPAWN_SETUP_DEADLINE_MS / 1000,
		(SPAWN_SETUP_DEADLINE_MS % 1000) * 1000 };

	c->c_pid = pid;
	memcpy(c->c_name, a->a_name, sizeof c->c_name);
	c->c_daemon = r->daemon;
	c->c_uid = s->s_uid;
	c->c_run_uid = r->identity != NULL ? r->identity->uid : spawn_euid();
	c->c_started_ms = clock_wall_ms();
	c->c_state = SPAWN_STARTING;
	c->c_session = s;
	c->c_req_id = id;
	c->c_errfd = ctlfd;
	c->c_is_entry = a->a_exec_path == NULL;
	if (ctlev != NULL && event_assign(ctlev, server_evbase(), c->c_errfd,
	    EV_READ | EV_PERSIST, spawn_errpipe_cb, c) == 0)
		c->c_errev = ctlev;
	else {
		if (ctlev != NULL)
			event_free(ctlev);
		fcntl(c->c_errfd, F_SETFL, O_NONBLOCK);
		c->c_errev = event_new(server_evbase(), c->c_errfd,
		    EV_READ | EV_PERSIST, spawn_errpipe_cb, c);
	}
	c->c_setupev = evtimer_new(server_evbase(), spawn_setup_deadline_cb, c);
	TAILQ_INSERT_TAIL(&spawn_children, c, c_entry);
	session_count_child(s, 1);
	spawn_stats.live++;
	quota_add(c->c_uid, 1);
	if (spawn_life_attach(c, r, life) != 0 || c->c_errev == NULL ||
	    event_add(c->c_errev, NULL) != 0 || c->c_setupev == NULL ||
	    event_add(c->c_setupev, &setup_tv) != 0) {
		/* Cannot learn the outcome: kill it; the reaper frees it. */
		kill(pid, SIGKILL);
		if (c->c_errev != NULL)
			event_free(c->c_errev);
		c->c_errev = NULL;
		c->c_state = SPAWN_FAILED;
		spawn_stats.failed++;
		reply_error(s, id, -ENOMEM, 0, "out of memory");
	}
	audit_spawn(s, pid, a->a_name, r->target, a->a_exec_path);
	server_status_changed();
}

/* A spawn request: admit -> plan -> pool or clone -> register. The reply
 * comes later, from the child's error pipe, unless it fails here. */
void
spawn_request(struct session *s, uint32_t id, const Forkd__SpawnRequest *r,
    int *fds, size_t nfds)
{
	struct spawn_admit	 a;
	struct child_plan	 plan;
	struct spawn_child	*c = NULL;
	struct life	 life = {
		.l_create = { .sc_cgroup_fd = -1, .sc_procs_fd = -1 },
		.l_pidfd = -1,
	};
	struct event		*ctlev = NULL;
	char			 msg[512];
	int			 ctlfd = -1, err, refused = 0;
	pid_t			 pid;

	memset(&plan, 0, sizeof plan);
	if ((err = spawn_admit(s, r, nfds, &a, msg, sizeof msg, &refused)) != 0)
		goto fail;
	if ((err = plan_build(r, fds, nfds, a.a_name, a.a_exec_path,
	    a.a_entry, &plan)) != 0) {
		snprintf(msg, sizeof msg, "cannot prepare the child: %s",
		    strerror(-err));
		goto fail;
	}
	/* allow_exec_paths: the child resolves and checks the path (a path
	 * on a hung mount must not block the loop); forkd's own children
	 * only, which see the policy as it is now. */
	if (a.a_exec_path != NULL && server_config_get()->policy.exec_paths_set)
		plan.cp_exec_policy = &server_config_get()->policy;
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->c_target = strdup(r->target)) == NULL ||
	    (c->c_cwd = strdup(plan.cp_cwd)) == NULL) {
		err = -ENOMEM;
		snprintf(msg, sizeof msg, "out of memory");
		goto fail;
	}
	c->c_errfd = -1;
	c->c_pidfd = -1;
	if ((err = life_prepare(r, &life, msg, sizeof msg)) != 0)
		goto fail;
	/* Module entries: an idle pre-forked child if there is one, else a
	 * fork. Exec targets skip the pool: clone_start_ex()'s CLONE_VM
	 * child copies no page tables, and measured faster than a pool
	 * hand-over (and, without CLONE_VFORK, holds nothing up, issue 13).
	 * A cgroup or a PID namespace is had at creation only (life.c). */
	if (a.a_exec_path == NULL && !life.l_bypass_pool && pool_launch(&plan,
	    fds, nfds, &pid, &ctlfd, &ctlev) == 0) {
		/* A pidfd of the pool child (unreaped: its pid is its own);
		 * without one the reply has none, as from a forkd that
		 * passes no pidfds. */
		if (life.l_create.sc_want_pidfd &&
		    (life.l_pidfd = clone_pidfd_of_child(pid)) < 0) {
			log_warnx("child %d: pidfd_open: %s", (int)pid,
			    strerror(-life.l_pidfd));
			life.l_pidfd = -1;
		}
	} else if ((err = clone_start_ex(&plan, &life.l_create, &pid, &ctlfd,
	    &life.l_pidfd, &c->c_vm)) != 0) {
		log_warnx("cannot start a child: %s", strerror(-err));
		snprintf(msg, sizeof msg, "fork: %s", strerror(-err));
		goto fail;
	}
	life_created(&life);
	spawn_register(s, id, r, c, &a, &life, pid, ctlfd, ctlev);
	c = NULL;
	goto out;
fail:
	if (refused)
		spawn_log_refusal(s, msg);
	spawn_stats.failed++;
	reply_error(s, id, err, 0, "%s", msg);
out:
	if (c != NULL) {
		free(c->c_target);
		free(c->c_cwd);
		free(c);
	}
	life_free(&life);
	plan_free(&plan);
	wire_close_fds(fds, nfds);
	spawn_request_wipe(r);
}
