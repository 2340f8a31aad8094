/* waiter.c: wait requests. A pending wait is answered when the first of
 * the children it names ends, or when its timeout passes; it owns the
 * pid-indexed table of waits and each session's count of pending ones. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>

#include "clock.h"
#include "reply.h"
#include "server.h"
#include "session.h"
#include "spawn.h"
#include "waiter.h"

/*
 * Pending waits. Each waiter has one link per pid it names, on the list of
 * that pid's record in a hash table keyed by pid, so that a child's exit
 * touches only the waits that name it: scanning every wait on every exit
 * cost 2 ms of forkd's CPU per exit with 61,440 waits pending.
 */
struct waiter;
struct waiter_pid;
struct waiter_link {
	TAILQ_ENTRY(waiter_link) l_entry;	/* on l_wp's list */
	struct waiter_pid	*l_wp;		/* NULL once detached */
	struct waiter		*l_w;
};
struct waiter_pid {
	LIST_ENTRY(waiter_pid) wp_entry;	/* in its hash bucket */
	pid_t			 wp_pid;
	TAILQ_HEAD(, waiter_link) wp_links;	/* in order of the waits */
};
#define WAITER_BUCKETS	1024	/* power of two; live pids <= 1024 */
static LIST_HEAD(, waiter_pid) waiter_hash[WAITER_BUCKETS];

/* A pending wait request. */
struct waiter {
	TAILQ_ENTRY(waiter) w_entry;
	struct session		*w_session;
	uint32_t		 w_id;
	struct event		*w_timer;
	size_t			 w_n;
	struct waiter_link	 w_links[];
};
static TAILQ_HEAD(, waiter) waiters =
    TAILQ_HEAD_INITIALIZER(waiters);

/* The record of the waits on pid, or NULL. */
static struct waiter_pid *
waiter_pid_find(pid_t pid)
{
	struct waiter_pid *wp;

	LIST_FOREACH(wp, &waiter_hash[(unsigned)pid &
	    (WAITER_BUCKETS - 1)], wp_entry)
		if (wp->wp_pid == pid)
			return wp;
	return NULL;
}

/* Take a waiter's links off their pids' lists, freeing emptied records. */
static void
waiter_detach(struct waiter *w)
{
	for (size_t i = 0; i < w->w_n; i++) {
		struct waiter_link	*l = &w->w_links[i];
		struct waiter_pid	*wp = l->l_wp;

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
waiter_attach(struct waiter *w, const pid_t *pids)
{
	for (size_t i = 0; i < w->w_n; i++) {
		struct waiter_link	*l = &w->w_links[i];
		struct waiter_pid	*wp = waiter_pid_find(pids[i]);

		if (wp == NULL) {
			if ((wp = calloc(1, sizeof *wp)) == NULL) {
				waiter_detach(w);
				return -ENOMEM;
			}
			wp->wp_pid = pids[i];
			TAILQ_INIT(&wp->wp_links);
			LIST_INSERT_HEAD(&waiter_hash[(unsigned)pids[i] &
			    (WAITER_BUCKETS - 1)], wp, wp_entry);
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
waiter_unlink(struct waiter *w)
{
	waiter_detach(w);
	if (w->w_session != NULL)
		session_count_wait(w->w_session, -1);
}

/* Answer waits that name pid. e NULL: the child vanished (failed spawn). */
void
waiter_notify(pid_t pid, const struct exit_record *e)
{
	TAILQ_HEAD(, waiter)	 hit = TAILQ_HEAD_INITIALIZER(hit);
	struct waiter_pid		*wp;
	struct waiter		*w;

	/* Looked up again each time: detaching the last waiter on pid
	 * frees its record. A waiter naming pid twice goes once. */
	while ((wp = waiter_pid_find(pid)) != NULL) {
		w = TAILQ_FIRST(&wp->wp_links)->l_w;
		TAILQ_REMOVE(&waiters, w, w_entry);
		waiter_unlink(w);
		TAILQ_INSERT_TAIL(&hit, w, w_entry);
	}
	/* Reply only now: a reply may close its session (client not
	 * reading), which frees that session's waits still on waiters,
	 * so walking that list while replying would touch freed waits. A
	 * closed session is still allocated here and ignores replies. */
	while ((w = TAILQ_FIRST(&hit)) != NULL) {
		TAILQ_REMOVE(&hit, w, w_entry);
		if (e != NULL)
			reply_wait(w->w_session, w->w_id, e);
		else
			reply_error(w->w_session, w->w_id, -ESRCH, 0,
			    "child %d failed to start", (int)pid);
		event_free(w->w_timer);
		free(w);
	}
}

/* Wait timed out. */
static void
waiter_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	/* Off the list first: the reply may close the session, which frees
	 * the session's waits on the list (this one would be freed twice). */
	TAILQ_REMOVE(&waiters, w, w_entry);
	waiter_unlink(w);
	reply_error(w->w_session, w->w_id, -ETIMEDOUT, 0,
	    "no listed child ended in time");
	event_free(w->w_timer);
	free(w);
}

/* Register a wait for the first of pids (all live) to end. */
int
waiter_add(struct session *s, uint32_t id, const pid_t *pids, size_t n,
    int64_t timeout_ms)
{
	struct waiter *w;

	w = calloc(1, sizeof *w + n * sizeof(struct waiter_link));
	if (w == NULL)
		return -ENOMEM;
	w->w_session = s;
	w->w_id = id;
	w->w_n = n;
	w->w_timer = evtimer_new(server_evbase(), waiter_timeout_cb, w);
	if (w->w_timer == NULL || waiter_attach(w, pids) != 0) {
		if (w->w_timer != NULL)
			event_free(w->w_timer);
		free(w);
		return -ENOMEM;
	}
	if (timeout_ms >= 0) {
		struct timeval tv = clock_tv((uint64_t)timeout_ms);

		evtimer_add(w->w_timer, &tv);
	}
	TAILQ_INSERT_TAIL(&waiters, w, w_entry);
	session_count_wait(s, 1);
	return 0;
}

/* Drop the waits of a closing session. */
void
waiter_session_gone(struct session *s)
{
	struct waiter *w, *tw;

	TAILQ_FOREACH_SAFE(w, &waiters, w_entry, tw) {
		if (w->w_session != s)
			continue;
		TAILQ_REMOVE(&waiters, w, w_entry);
		waiter_unlink(w);
		event_free(w->w_timer);
		free(w);
	}
}

/* Free every pending wait (exit). */
void
waiter_free_all(void)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&waiters)) != NULL) {
		TAILQ_REMOVE(&waiters, w, w_entry);
		waiter_detach(w);
		event_free(w->w_timer);
		free(w);
	}
}
