/* quota.h: per client uid, its live children and its spawn-rate bucket. */
#ifndef FORKD_QUOTA_H
#define FORKD_QUOTA_H

#include <sys/types.h>

/* Live children of uid (what max_children_per_uid limits). */
unsigned int quota_uid_live(uid_t uid);
/* Drop the records that hold nothing and make room for one more uid, so
 * that quota_add() cannot fail after the fork; rate is max_spawn_rate.
 * 0 or -ENOMEM. */
int	quota_reserve(unsigned int rate);
/* Take one of uid's spawn tokens at rate a second (0: no limit): 0, or
 * -EAGAIN when its bucket is empty. After quota_reserve(). */
int	quota_take_token(uid_t uid, unsigned int rate);
/* Count a child of uid in (delta > 0) or out (delta < 0). */
void	quota_add(uid_t uid, int delta);
/* Forget every record (shutdown). */
void	quota_free_all(void);

#endif /* FORKD_QUOTA_H */
