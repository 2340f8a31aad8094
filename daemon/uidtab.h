/* uidtab.h: a small table of records, one per client uid.
 *
 * The per-uid state of admit.c (connections), quota.c (live children,
 * spawn rate) and history.c (exit history) lives in one of these. A record
 * type starts with its uid_t. Few distinct uids share one forkd, so the
 * table is an array searched in order; uidtab_add() and uidtab_del() move
 * records, so a record pointer lasts until the next of either. */
#ifndef FORKD_UIDTAB_H
#define FORKD_UIDTAB_H

#include <stddef.h>
#include <sys/types.h>

struct uidtab {
	unsigned char	*ut_rec;
	size_t		 ut_size;	/* bytes per record */
	size_t		 ut_n;		/* records in use */
	size_t		 ut_cap;	/* records allocated */
};
/* An empty table of records of type (whose first member is a uid_t). */
#define UIDTAB_INIT(type)	{ NULL, sizeof(type), 0, 0 }

/* Records in use. */
size_t	uidtab_len(const struct uidtab *);
/* The i-th record (i < uidtab_len()). */
void	*uidtab_at(const struct uidtab *, size_t i);
/* The record of uid, or NULL. */
void	*uidtab_find(const struct uidtab *, uid_t uid);
/* Make room for one more record: 0 or -ENOMEM. */
int	uidtab_reserve(struct uidtab *);
/* A new zeroed record for uid (which has none), or NULL when out of
 * memory; never fails after uidtab_reserve(). */
void	*uidtab_add(struct uidtab *, uid_t uid);
/* Remove rec (the last record moves into its place). */
void	uidtab_del(struct uidtab *, void *rec);
/* Forget every record (the caller frees what they point to first). */
void	uidtab_free(struct uidtab *);

#endif /* FORKD_UIDTAB_H */
