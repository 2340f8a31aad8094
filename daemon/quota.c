/* quota.c: what each client uid may still start. Its live children, for
 * max_children_per_uid, and its spawn-rate bucket, for max_spawn_rate. */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "quota.h"
#include "uidtab.h"

/*
 * Per client uid: its live children, for max_children_per_uid, and its
 * spawn-rate bucket, for max_spawn_rate. The bucket is the uid's, shared
 * by all its connections, so a client cannot refill it by reconnecting.
 * A record stays while the uid has live children or its bucket is not
 * full again (a second after its last spawn at most); swept before each
 * spawn.
 */
struct quota_uid {
	uid_t		u_uid;
	unsigned int	u_live;
	uint64_t	u_tokens;	/* spawn tokens, in 1/1000 */
	uint64_t	u_tokens_ms;	/* last refill */
};
static struct uidtab	quota_uids = UIDTAB_INIT(struct quota_uid);

/* Live children of uid. */
unsigned int
quota_uid_live(uid_t uid)
{
	struct quota_uid *u = uidtab_find(&quota_uids, uid);

	return u != NULL ? u->u_live : 0;
}

/* Refill u's bucket for the time since its last refill: max_spawn_rate
 * tokens a second, at most max_spawn_rate (the burst). 1 when full. */
static int
quota_refill(struct quota_uid *u, uint64_t now, uint64_t rate)
{
	uint64_t	cap = rate * 1000, add;

	add = (now - u->u_tokens_ms) * rate;
	u->u_tokens_ms = now;
	if (u->u_tokens >= cap || add >= cap - u->u_tokens)
		u->u_tokens = cap;
	else
		u->u_tokens += add;
	return u->u_tokens == cap;
}

/* Drop the records that hold nothing (no live child, a full bucket), then
 * make room for one more uid, so that quota_get() cannot fail after
 * the fork. */
int
quota_reserve(unsigned int rate)
{
	struct quota_uid	*u;
	uint64_t		 now = clock_mono_ms();

	for (size_t i = 0; i < uidtab_len(&quota_uids); ) {
		u = uidtab_at(&quota_uids, i);
		if (u->u_live == 0 && quota_refill(u, now, rate))
			uidtab_del(&quota_uids, u);
		else
			i++;
	}
	return uidtab_reserve(&quota_uids);
}

/* Record of uid, made (no child, a full bucket) if there is none; room
 * was reserved by quota_reserve(). */
static struct quota_uid *
quota_get(uid_t uid)
{
	struct quota_uid *u;

	if ((u = uidtab_find(&quota_uids, uid)) != NULL)
		return u;
	if ((u = uidtab_add(&quota_uids, uid)) == NULL)
		return NULL;
	u->u_tokens = UINT64_MAX;	/* full: capped at the refill */
	u->u_tokens_ms = clock_mono_ms();
	return u;
}

/* Take one of uid's spawn tokens: 0, or -EAGAIN when its bucket is empty.
 * After quota_reserve(). */
int
quota_take_token(uid_t uid, unsigned int rate)
{
	struct quota_uid *u;

	if (rate == 0)
		return 0;
	if ((u = quota_get(uid)) == NULL)
		return -ENOMEM;
	quota_refill(u, clock_mono_ms(), rate);
	if (u->u_tokens < 1000)
		return -EAGAIN;
	u->u_tokens -= 1000;
	return 0;
}

/* Count a child of uid in (delta > 0) or out (delta < 0). */
void
quota_add(uid_t uid, int delta)
{
	struct quota_uid *u;

	if (delta > 0) {
		/* Room was reserved before the fork. */
		if ((u = quota_get(uid)) != NULL)
			u->u_live++;
	} else if ((u = uidtab_find(&quota_uids, uid)) != NULL &&
	    u->u_live > 0)
		u->u_live--;
}

/* Forget every record (shutdown). */
void
quota_free_all(void)
{
	uidtab_free(&quota_uids);
}
