/* request.c: the request dispatcher of an authenticated session. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "forkd.pb-c.h"
#include "forkd_limits.h"
#include "history.h"
#include "log.h"
#include "module.h"
#include "pool.h"
#include "policy.h"
#include "reply.h"
#include "request.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "waiter.h"

/* May session s act on a child of uid? Root may act on any. */
static int
request_may(const struct session *s, uid_t uid)
{
	return s->s_uid == 0 || s->s_uid == uid;
}

/*
 * A name is looked up among the caller's own children (names are per
 * uid), live first, then its ended ones in the history. Root, having
 * none of that name, gets another uid's: the live child if just one uid
 * has one, else the newest ended one. Returns 0, or how many live
 * children of other uids have the name when there are several to choose
 * from (nothing found: the caller says which by pid).
 */
static unsigned int
request_resolve_name(const struct session *s, const char *name,
    struct spawn_child **ret_live, const struct exit_record **ret_done)
{
	unsigned int n;

	if ((*ret_live = spawn_find(0, name, s->s_uid)) != NULL ||
	    (*ret_done = history_find(0, name, s->s_uid)) != NULL ||
	    s->s_uid != 0)
		return 0;
	if ((n = spawn_count_named(name)) == 1)
		*ret_live = spawn_find(0, name, SPAWN_ANY_UID);
	else if (n == 0)
		*ret_done = history_find(0, name, SPAWN_ANY_UID);
	return n > 1 ? n : 0;
}

/* Resolve a ChildRef to a live child or a history record. */
static int
request_resolve(struct session *s, uint32_t id, const Forkd__ChildRef *ref,
    struct spawn_child **ret_live, const struct exit_record **ret_done)
{
	const char	*name = NULL;
	unsigned int	 several;

	*ret_live = NULL;
	*ret_done = NULL;
	if (ref == NULL || (ref->pid == 0 && (ref->name == NULL ||
	    ref->name[0] == '\0')) || ref->pid < 0) {
		reply_error(s, id, -EINVAL, 0, "no child given");
		return -EINVAL;
	}
	if (ref->pid == 0) {
		name = ref->name;
		if (strlen(name) > LIMIT_NAME_MAX) {
			reply_error(s, id, -EINVAL, 0, "name too long");
			return -EINVAL;
		}
	}
	if (name == NULL) {
		*ret_live = spawn_find(ref->pid, NULL, 0);
		if (*ret_live == NULL)
			*ret_done = history_find(ref->pid, NULL, 0);
	} else if ((several = request_resolve_name(s, name, ret_live,
	    ret_done)) > 0) {
		char esc[LIMIT_NAME_MAX * 4 + 1];

		reply_error(s, id, -EINVAL, 0, "%u children of "
		    "other uids are named '%s': give the pid", several,
		    log_escape(esc, sizeof esc, name, strlen(name)));
		return -EINVAL;
	}
	if (*ret_live == NULL && *ret_done == NULL) {
		char esc[LIMIT_NAME_MAX * 4 + 1];

		if (name != NULL)
			reply_error(s, id, -ESRCH, 0, "no child named "
			    "'%s'", log_escape(esc, sizeof esc, name,
			    strlen(name)));
		else
			reply_error(s, id, -ESRCH, 0, "no child with "
			    "pid %d", (int)ref->pid);
		return -ESRCH;
	}
	if (!request_may(s, *ret_live ? (*ret_live)->c_uid :
	    (*ret_done)->e_uid)) {
		reply_error(s, id, -EPERM, 0, "child belongs to "
		    "another user");
		return -EPERM;
	}
	return 0;
}

static void
request_signal(struct session *s, uint32_t id, const Forkd__SignalRequest *r)
{
	struct spawn_child		*c;
	const struct exit_record	*done;

	if (r->signal < 0 || r->signal >= NSIG) {
		reply_error(s, id, -EINVAL, 0, "invalid signal %d",
		    r->signal);
		return;
	}
	if (request_resolve(s, id, r->child, &c, &done) != 0)
		return;
	if (c == NULL || c->c_reaped || c->c_state == SPAWN_FAILED) {
		reply_error(s, id, -ESRCH, 0, "child has ended");
		return;
	}
	if (kill(c->c_pid, r->signal) != 0) {
		reply_error(s, id, -errno, 0, "kill: %s",
		    strerror(errno));
		return;
	}
	session_log(s, LOG_LVL_DEBUG, "signal %d to %d (%s)", r->signal,
	    (int)c->c_pid, c->c_name);
	{
		Forkd__Response resp = FORKD__RESPONSE__INIT;

		resp.id = id;
		session_reply(s, &resp);
	}
}

static void
request_wait(struct session *s, uint32_t id, const Forkd__WaitRequest *r)
{
	pid_t				 pids[LIMIT_WAIT_MAX];
	struct spawn_child		*c;
	const struct exit_record	*done;
	int				 err;

	if (r->n_children == 0 || r->n_children > LIMIT_WAIT_MAX) {
		reply_error(s, id, -EINVAL, 0, "a wait names 1 to %d "
		    "children", LIMIT_WAIT_MAX);
		return;
	}
	for (size_t i = 0; i < r->n_children; i++) {
		if (request_resolve(s, id, r->children[i], &c, &done) != 0)
			return;
		if (done != NULL) {
			reply_wait(s, id, done);
			return;
		}
		pids[i] = c->c_pid;
	}
	if (r->timeout_ms == 0) {
		reply_error(s, id, -ETIMEDOUT, 0, "still running");
		return;
	}
	/* Each pending wait holds memory and a timer: bounded per
	 * connection like everything else a client can pile up. */
	if (session_waits(s) >= LIMIT_WAITS_PENDING_MAX) {
		reply_error(s, id, -EAGAIN, 0, "%d waits already "
		    "pending on this connection", LIMIT_WAITS_PENDING_MAX);
		return;
	}
	if ((err = waiter_add(s, id, pids, r->n_children,
	    r->timeout_ms < 0 ? -1 : r->timeout_ms)) != 0)
		reply_error(s, id, err, 0, "cannot wait: %s",
		    strerror(-err));
}

/* List the caller's live children (root: every uid's) and, with all,
 * the ended ones of the exit history, newest first, as many as fit in one
 * reply (the oldest are left out). */
static void
request_list(struct session *s, uint32_t id, const Forkd__ListRequest *r)
{
	Forkd__Response		 resp = FORKD__RESPONSE__INIT;
	Forkd__ListReply	 lr = FORKD__LIST_REPLY__INIT;
	Forkd__ChildInfo	*infos = NULL, **ptrs = NULL;
	struct spawn_child	*c;
	const struct exit_record *e, **hist = NULL;
	size_t			 n = 0, k = 0, nh = 0, size, budget;
	int			 all = r != NULL && r->all;
	Forkd__ServerMessage	 m = FORKD__SERVER_MESSAGE__INIT;

	TAILQ_FOREACH(c, &spawn_children, c_entry)
		n++;
	if (all)
		n += SPAWN_HISTORY;
	if (n > 0 && ((infos = calloc(n, sizeof *infos)) == NULL ||
	    (ptrs = calloc(n, sizeof *ptrs)) == NULL ||
	    (all && (hist = calloc(SPAWN_HISTORY, sizeof *hist)) == NULL))) {
		free(infos);
		free(ptrs);
		free(hist);
		reply_error(s, id, -ENOMEM, 0, "out of memory");
		return;
	}
	TAILQ_FOREACH(c, &spawn_children, c_entry) {
		Forkd__ChildInfo *ci = &infos[k];

		if (c->c_state != SPAWN_RUNNING || c->c_reaped ||
		    !request_may(s, c->c_uid))
			continue;
		forkd__child_info__init(ci);
		ci->pid = c->c_pid;
		ci->name = c->c_name;
		ci->target = c->c_target;
		ci->daemon = c->c_daemon;
		ci->owner_uid = c->c_uid;
		ci->run_uid = c->c_run_uid;
		ci->started_unix_ms = c->c_started_ms;
		ci->owned_by_me = c->c_session == s;
		ptrs[k++] = ci;
	}
	lr.n_children = k;
	lr.children = ptrs;
	resp.id = id;
	resp.body_case = FORKD__RESPONSE__BODY_LIST;
	resp.list = &lr;
	m.body_case = FORKD__SERVER_MESSAGE__BODY_RESPONSE;
	m.response = &resp;
	size = forkd__server_message__get_packed_size(&m) + WIRE_OVERHEAD;
	/* History records while they fit: each adds its own size plus at
	 * most 4 bytes of tag and length, and the nested lengths grow by at
	 * most 2 bytes each; 16 bytes of slack cover both. */
	budget = s->s_max_send > 16 ? s->s_max_send - 16 : 0;
	/* The caller's uid's records (root: every uid's), newest first. */
	if (all)
		nh = history_newest(s->s_uid == 0 ? SPAWN_ANY_UID :
		    s->s_uid, hist, SPAWN_HISTORY);
	for (size_t h = 0; h < nh && size <= budget; h++) {
		Forkd__ChildInfo *ci = &infos[k];
		size_t one;

		e = hist[h];
		if (!request_may(s, e->e_uid))
			continue;
		forkd__child_info__init(ci);
		ci->pid = e->e_pid;
		ci->name = (char *)e->e_name;
		ci->target = "";
		ci->owner_uid = e->e_uid;
		ci->run_uid = e->e_run_uid;
		ci->started_unix_ms = e->e_started_ms;
		ci->ended = 1;
		ci->exitcode = e->e_exitcode;
		ci->ended_unix_ms = e->e_ended_ms;
		ci->timed_out = e->e_timed_out;
		ci->oom_killed = e->e_oom_killed;
		one = forkd__child_info__get_packed_size(ci) + 4;
		if (size + one > budget)
			break;
		size += one;
		ptrs[k++] = ci;
	}
	lr.n_children = k;
	/* A reply larger than one datagram of this socket cannot be sent:
	 * say so instead (sending it would fail and close the connection). */
	if (forkd__server_message__get_packed_size(&m) + WIRE_OVERHEAD >
	    s->s_max_send)
		reply_error(s, id, -E2BIG, 0, "too many children to "
		    "list in one reply");
	else
		session_reply(s, &resp);
	free(infos);
	free(ptrs);
	free(hist);
}

static void
request_status(struct session *s, uint32_t id)
{
	Forkd__Response		  resp = FORKD__RESPONSE__INIT;
	Forkd__StatusReply	  st = FORKD__STATUS_REPLY__INIT;
	Forkd__ModuleInfo	 *mi = NULL, **mp = NULL;
	char			**ents = NULL, **helps = NULL;
	size_t			  nm = module_count(), ne = 0, k = 0;

	for (size_t i = 0; i < nm; i++)
		for (const struct forkd_module_entry *e =
		    module_get(i)->m_info->entries; e->name != NULL; e++)
			ne++;
	if ((nm > 0 && ((mi = calloc(nm, sizeof *mi)) == NULL ||
	    (mp = calloc(nm, sizeof *mp)) == NULL)) ||
	    (ne > 0 && ((ents = calloc(ne, sizeof *ents)) == NULL ||
	    (helps = calloc(ne, sizeof *helps)) == NULL))) {
		free(mi);
		free(mp);
		free(ents);
		reply_error(s, id, -ENOMEM, 0, "out of memory");
		return;
	}
	for (size_t i = 0; i < nm; i++) {
		const struct module *m = module_get(i);

		forkd__module_info__init(&mi[i]);
		mi[i].name = (char *)m->m_info->name;
		mi[i].path = m->m_realpath != NULL ? m->m_realpath :
		    m->m_path;
		mi[i].description = (char *)(m->m_info->description ?
		    m->m_info->description : "");
		mi[i].entries = &ents[k];
		mi[i].entry_help = &helps[k];
		for (const struct forkd_module_entry *e = m->m_info->entries;
		    e->name != NULL; e++) {
			helps[k] = (char *)(e->help != NULL ? e->help : "");
			ents[k++] = (char *)e->name;
			mi[i].n_entries++;
			mi[i].n_entry_help++;
		}
		mp[i] = &mi[i];
	}
	st.version = FORKD_VERSION_STRING;
	st.pid = getpid();
	st.uptime_ms = server_uptime_ms();
	st.modules = mp;
	st.n_modules = nm;
	st.children = spawn_stats.live;
	st.connections = session_count();
	st.spawned_total = spawn_stats.spawned;
	st.spawn_failures = spawn_stats.failed;
	st.exited_total = spawn_stats.exited;
	st.auth_failures = server_stats_get()->auth_failures;
	st.protocol_errors = server_stats_get()->protocol_errors;
	st.pool_idle = pool_stats.idle;
	st.pool_spawns = pool_stats.launched;
	resp.id = id;
	resp.body_case = FORKD__RESPONSE__BODY_STATUS;
	resp.status = &st;
	session_reply(s, &resp);
	free(mi);
	free(mp);
	free(ents);
	free(helps);
}

static void
request_ping(struct session *s, uint32_t id, const Forkd__PingRequest *r)
{
	Forkd__Response		resp = FORKD__RESPONSE__INIT;
	Forkd__PingReply	pr = FORKD__PING_REPLY__INIT;

	if (r->data.len > LIMIT_PING_MAX) {
		reply_error(s, id, -EMSGSIZE, 0, "ping data over %d "
		    "bytes", LIMIT_PING_MAX);
		return;
	}
	pr.data = r->data;
	resp.id = id;
	resp.body_case = FORKD__RESPONSE__BODY_PING;
	resp.ping = &pr;
	session_reply(s, &resp);
}

/* allow_uids: a uid not listed gets -EPERM for every request; the
 * connection stays open, so a SIGHUP that lists it takes effect at once. */
static int
request_uid_refused(struct session *s, uint32_t id, int *fds, size_t nfds)
{
	static struct log_ratelimit rl;

	if (policy_uid_allowed(&server_config_get()->policy, s->s_uid))
		return 0;
	wire_close_fds(fds, nfds);
	if (!s->s_uid_refused && session_log_limited(s, &rl, "uid %u is not "
	    "in policy allow_uids: refusing its requests", (unsigned)s->s_uid))
		s->s_uid_refused = 1;
	reply_error(s, id, -EPERM, 0, "uid %u may not use forkd "
	    "(policy allow_uids)", (unsigned)s->s_uid);
	return -EPERM;
}

/* Answer a request with an error without handling it; close its fds. */
void
request_refuse(struct session *s, uint32_t id, int *fds, size_t nfds,
    int err, const char *why)
{
	wire_close_fds(fds, nfds);
	reply_error(s, id, err, 0, "%s", why);
}

/* Handle one decoded request. */
void
request_dispatch(struct session *s, const Forkd__Request *r, int *fds,
    size_t nfds)
{
	if (request_uid_refused(s, r->id, fds, nfds) != 0)
		return;
	if (r->body_case != FORKD__REQUEST__BODY_SPAWN && nfds > 0) {
		wire_close_fds(fds, nfds);
		reply_error(s, r->id, -EINVAL, 0, "fds are only "
		    "accepted with a spawn request");
		return;
	}
	switch (r->body_case) {
	case FORKD__REQUEST__BODY_SPAWN:
		spawn_request(s, r->id, r->spawn, fds, nfds);
		break;
	case FORKD__REQUEST__BODY_SIGNAL:
		request_signal(s, r->id, r->signal);
		break;
	case FORKD__REQUEST__BODY_WAIT:
		request_wait(s, r->id, r->wait);
		break;
	case FORKD__REQUEST__BODY_LIST:
		request_list(s, r->id, r->list);
		break;
	case FORKD__REQUEST__BODY_STATUS:
		request_status(s, r->id);
		break;
	case FORKD__REQUEST__BODY_PING:
		request_ping(s, r->id, r->ping);
		break;
	default:
		reply_error(s, r->id, -EINVAL, 0, "unknown or empty "
		    "request");
		break;
	}
}
