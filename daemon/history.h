/* history.h: the exit history, per client uid (SPAWN_HISTORY records of
 * each, SPAWN_HISTORY_TOTAL in all: spawn.h). */
#ifndef FORKD_HISTORY_H
#define FORKD_HISTORY_H

#include <stddef.h>
#include <sys/types.h>

struct exit_record;

/* Remember an exit in its uid's history (lost only when out of memory). */
void	history_add(const struct exit_record *);
/* Newest history record for pid (or name when pid is 0, of uid or with
 * SPAWN_ANY_UID of any uid), or NULL. */
const struct exit_record *history_find(pid_t pid, const char *name,
	    uid_t uid);
/* Up to max history records, newest first, into out: uid's, or with
 * SPAWN_ANY_UID every uid's. Returns how many. */
size_t	history_newest(uid_t uid, const struct exit_record **out, size_t max);
/* Forget every record (exit). */
void	history_free_all(void);

#endif /* FORKD_HISTORY_H */
