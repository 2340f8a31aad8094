/* uidtab.c: a small table of records, one per client uid (uidtab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uidtab.h"

/* Records in use. */
size_t
uidtab_len(const struct uidtab *t)
{
	return t->ut_n;
}

/* The i-th record. */
void *
uidtab_at(const struct uidtab *t, size_t i)
{
	return t->ut_rec + i * t->ut_size;
}

/* The uid a record starts with. */
static uid_t
uidtab_uid(const void *rec)
{
	uid_t uid;

	memcpy(&uid, rec, sizeof uid);
	return uid;
}

/* The record of uid, or NULL. */
void *
uidtab_find(const struct uidtab *t, uid_t uid)
{
	for (size_t i = 0; i < t->ut_n; i++)
		if (uidtab_uid(uidtab_at(t, i)) == uid)
			return uidtab_at(t, i);
	return NULL;
}

/* Make room for one more record. */
int
uidtab_reserve(struct uidtab *t)
{
	unsigned char	*p;
	size_t		 cap;

	if (t->ut_n < t->ut_cap)
		return 0;
	cap = t->ut_cap > 0 ? t->ut_cap * 2 : 8;
	if ((p = reallocarray(t->ut_rec, cap, t->ut_size)) == NULL)
		return -ENOMEM;
	t->ut_rec = p;
	t->ut_cap = cap;
	return 0;
}

/* A new zeroed record for uid, or NULL when out of memory. */
void *
uidtab_add(struct uidtab *t, uid_t uid)
{
	void *rec;

	if (uidtab_reserve(t) != 0)
		return NULL;
	rec = uidtab_at(t, t->ut_n++);
	memset(rec, 0, t->ut_size);
	memcpy(rec, &uid, sizeof uid);
	return rec;
}

/* Remove rec: the last record moves into its place. */
void
uidtab_del(struct uidtab *t, void *rec)
{
	void *last = uidtab_at(t, t->ut_n - 1);

	if (rec != last)
		memcpy(rec, last, t->ut_size);
	t->ut_n--;
}

/* Forget every record. */
void
uidtab_free(struct uidtab *t)
{
	free(t->ut_rec);
	t->ut_rec = NULL;
	t->ut_n = t->ut_cap = 0;
}
