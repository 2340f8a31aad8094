/* admit.c: connections per client uid (handshakes in progress and
 * authenticated ones), for the per-uid limits and for choosing whom to
 * evict when a new connection needs room. session.c counts its sessions
 * in and out here; it owns the sessions and closes the one evicted. */
#include <errno.h>

#include "admit.h"
#include "config.h"
#include "uidtab.h"

struct admit_uid {
	uid_t		au_uid;
	unsigned int	au_hs;		/* in their handshake */
	unsigned int	au_authed;	/* authenticated */
};
static struct uidtab	admit_uids = UIDTAB_INIT(struct admit_uid);
static unsigned int	admit_total;	/* connections counted in */

/* Count a connection of uid in or out; a uid left with none goes. */
void
admit_count(uid_t uid, int authed, int add)
{
	struct admit_uid	*u;
	unsigned int		*n;

	if (add > 0)
		admit_total++;
	else if (admit_total > 0)
		admit_total--;
	if ((u = uidtab_find(&admit_uids, uid)) == NULL) {
		if (add <= 0 || (u = uidtab_add(&admit_uids, uid)) == NULL)
			return;
	}
	n = authed ? &u->au_authed : &u->au_hs;
	if (add > 0)
		(*n)++;
	else if (*n > 0)
		(*n)--;
	if (u->au_hs == 0 && u->au_authed == 0)
		uidtab_del(&admit_uids, u);
}

/* Connections of uid in their handshake. */
unsigned int
admit_handshakes(uid_t uid)
{
	struct admit_uid *u = uidtab_find(&admit_uids, uid);

	return u != NULL ? u->au_hs : 0;
}

/* Authenticated connections of uid. */
unsigned int
admit_authed(uid_t uid)
{
	struct admit_uid *u = uidtab_find(&admit_uids, uid);

	return u != NULL ? u->au_authed : 0;
}

/* The uid holding the most handshakes (the lowest such uid on a tie);
 * 0 if no uid holds one. */
static int
admit_most_handshakes(uid_t *ret_uid)
{
	struct admit_uid	*u, *most = NULL;

	for (size_t i = 0; i < uidtab_len(&admit_uids); i++) {
		u = uidtab_at(&admit_uids, i);
		if (u->au_hs > 0 && (most == NULL || u->au_hs > most->au_hs ||
		    (u->au_hs == most->au_hs && u->au_uid < most->au_uid)))
			most = u;
	}
	if (most == NULL)
		return 0;
	*ret_uid = most->au_uid;
	return 1;
}

/* A connection from uid was accepted: make room for it. Handshakes in
 * progress are what a client without the key can hold, so:
 * - a uid at max_handshakes_per_uid loses its own oldest handshake;
 * - when all max_connections slots are taken, the oldest handshake of the
 *   uid holding the most handshakes goes, never that of a uid with fewer
 *   (so one uid's flood cannot evict another uid's clients; a key
 *   holder's handshake takes one round trip).
 * 0 if the connection may have a session, -EUSERS if not (every slot is
 * taken by authenticated connections). */
int
admit_connection(uid_t uid, const struct config_limits *lim,
    admit_evict_fn *evict)
{
	uid_t	most;

	if (admit_handshakes(uid) >= lim->max_handshakes_per_uid)
		(void)evict(uid, "its uid had max_handshakes_per_uid in "
		    "progress");
	if (admit_total < lim->max_connections)
		return 0;
	if (!admit_most_handshakes(&most) || evict(most, "the connection "
	    "slots ran out (max_connections)") != 0)
		return -EUSERS;
	return 0;
}

/* Forget every record. */
void
admit_free_all(void)
{
	uidtab_free(&admit_uids);
	admit_total = 0;
}
