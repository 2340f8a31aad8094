/* history.c: the exit history, what list and wait answer about children
 * that have ended (see spawn.h for struct exit_record and its caps). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "history.h"
#include "spawn.h"
#include "uidtab.h"

/*
 * The exit history, per client uid: the newest SPAWN_HISTORY records of
 * each uid in a ring of its own (grown as needed), at most
 * SPAWN_HISTORY_TOTAL in all; past that the uid holding the most loses
 * its oldest. So no uid can flush another's (a shared ring of 1,024 let
 * one uid's short-lived children push out everyone's exits). Records
 * carry a sequence number: a lookup by pid over all uids takes the newest.
 */
struct hist_rec {
	uint64_t		hr_seq;
	struct exit_record	hr_e;
};
struct hist_uid {
	uid_t			 hu_uid;
	struct hist_rec		*hu_ring;
	size_t			 hu_cap;	/* slots allocated */
	size_t			 hu_len;	/* records in use */
	size_t			 hu_next;	/* next slot to write */
};
static struct uidtab		 hist = UIDTAB_INIT(struct hist_uid);
static size_t			 hist_total;
static uint64_t			 hist_seq;

/* The k-th newest record of u (k < hu_len). */
static struct hist_rec *
hist_at(const struct hist_uid *u, size_t k)
{
	return &u->hu_ring[(u->hu_next + u->hu_cap - 1 - k) % u->hu_cap];
}

/* Newest match in u, or NULL. */
static struct hist_rec *
hist_find_in(const struct hist_uid *u, pid_t pid,
    const char *name, uid_t uid)
{
	for (size_t k = 0; k < u->hu_len; k++) {
		struct hist_rec *r = hist_at(u, k);

		if (pid != 0 ? r->hr_e.e_pid == pid :
		    spawn_name_match(r->hr_e.e_name, r->hr_e.e_uid, name, uid))
			return r;
	}
	return NULL;
}

const struct exit_record *
history_find(pid_t pid, const char *name, uid_t uid)
{
	struct hist_rec *best = NULL, *r;
	struct hist_uid	*u;

	for (size_t i = 0; i < uidtab_len(&hist); i++) {
		u = uidtab_at(&hist, i);
		/* By name for one uid: only its own ring can match. */
		if (pid == 0 && uid != SPAWN_ANY_UID && u->hu_uid != uid)
			continue;
		r = hist_find_in(u, pid, name, uid);
		if (r != NULL && (best == NULL || r->hr_seq > best->hr_seq))
			best = r;
	}
	return best != NULL ? &best->hr_e : NULL;
}

/* Sift the heap of uid cursors (by their next record's sequence, newest
 * on top) down from i. */
static void
hist_sift(const struct hist_uid **h, size_t *pos, size_t n,
    size_t i)
{
	for (;;) {
		size_t	l = 2 * i + 1, r = l + 1, top = i;

		if (l < n && hist_at(h[l], pos[l])->hr_seq >
		    hist_at(h[top], pos[top])->hr_seq)
			top = l;
		if (r < n && hist_at(h[r], pos[r])->hr_seq >
		    hist_at(h[top], pos[top])->hr_seq)
			top = r;
		if (top == i)
			return;
		{
			const struct hist_uid	*t = h[i];
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
history_newest(uid_t uid, const struct exit_record **out, size_t max)
{
	const struct hist_uid	**h, *u;
	size_t				 *pos, n = 0, k = 0;
	size_t				 nuids = uidtab_len(&hist);

	if (uid != SPAWN_ANY_UID) {
		if ((u = uidtab_find(&hist, uid)) != NULL)
			for (; k < max && k < u->hu_len; k++)
				out[k] = &hist_at(u, k)->hr_e;
		return k;
	}
	if (nuids == 0)
		return 0;
	h = calloc(nuids, sizeof *h);
	pos = calloc(nuids, sizeof *pos);
	if (h == NULL || pos == NULL)
		goto out;
	for (size_t i = 0; i < nuids; i++)
		if ((u = uidtab_at(&hist, i))->hu_len > 0)
			h[n++] = u;
	for (size_t i = n / 2; i-- > 0;)
		hist_sift(h, pos, n, i);
	while (k < max && n > 0) {
		out[k++] = &hist_at(h[0], pos[0])->hr_e;
		if (++pos[0] == h[0]->hu_len) {
			h[0] = h[--n];
			pos[0] = pos[n];
		}
		hist_sift(h, pos, n, 0);
	}
out:
	free(h);
	free(pos);
	return k;
}

/* Drop the oldest record of the uid holding the most (for the total cap);
 * a uid left with none is removed. */
static void
hist_evict(void)
{
	struct hist_uid	*u, *most = NULL;

	for (size_t i = 0; i < uidtab_len(&hist); i++) {
		u = uidtab_at(&hist, i);
		if (most == NULL || u->hu_len > most->hu_len)
			most = u;
	}
	if (most == NULL)
		return;
	most->hu_len--;
	hist_total--;
	if (most->hu_len == 0) {
		free(most->hu_ring);
		uidtab_del(&hist, most);
	}
}

/* The history of uid, created empty if needed; NULL when out of memory. */
static struct hist_uid *
hist_uid(uid_t uid)
{
	struct hist_uid	*u;

	if ((u = uidtab_find(&hist, uid)) != NULL)
		return u;
	return uidtab_add(&hist, uid);
}

/* Grow u's ring (oldest first in the new one); -ENOMEM leaves it. */
static int
hist_grow(struct hist_uid *u)
{
	size_t			 ncap = u->hu_cap ? u->hu_cap * 2 : 16;
	struct hist_rec	*ring;

	if (ncap > SPAWN_HISTORY)
		ncap = SPAWN_HISTORY;
	if ((ring = calloc(ncap, sizeof *ring)) == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < u->hu_len; k++)
		ring[k] = *hist_at(u, u->hu_len - 1 - k);
	free(u->hu_ring);
	u->hu_ring = ring;
	u->hu_cap = ncap;
	u->hu_next = u->hu_len % ncap;
	return 0;
}

/* Remember an exit in its uid's history (lost only when out of memory). */
void
history_add(const struct exit_record *e)
{
	struct hist_uid	*u;
	struct hist_rec	*r;

	/* Make room first: evicting may move the uids' array entries. */
	while (hist_total >= SPAWN_HISTORY_TOTAL)
		hist_evict();
	if ((u = hist_uid(e->e_uid)) == NULL)
		return;
	if (u->hu_len == u->hu_cap && u->hu_cap < SPAWN_HISTORY &&
	    hist_grow(u) != 0 && u->hu_cap == 0) {
		uidtab_del(&hist, u);	/* just made, holds nothing */
		return;
	}
	r = &u->hu_ring[u->hu_next];
	r->hr_seq = ++hist_seq;
	r->hr_e = *e;
	u->hu_next = (u->hu_next + 1) % u->hu_cap;
	if (u->hu_len < u->hu_cap) {
		u->hu_len++;
		hist_total++;
	}
}

/* Forget every record (exit). */
void
history_free_all(void)
{
	for (size_t i = 0; i < uidtab_len(&hist); i++)
		free(((struct hist_uid *)uidtab_at(&hist, i))->hu_ring);
	uidtab_free(&hist);
	hist_total = 0;
}
