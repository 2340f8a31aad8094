/* waiter.h: pending wait requests. */
#ifndef FORKD_WAITER_H
#define FORKD_WAITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct exit_record;
struct session;

/* Reply to id on s when the first of pids ends, or after timeout_ms (< 0:
 * never). 0 or -errno. */
int	waiter_add(struct session *, uint32_t id, const pid_t *pids,
	    size_t n, int64_t timeout_ms);
/* pid ended (e) or failed to start (e NULL): answer every wait naming it. */
void	waiter_notify(pid_t pid, const struct exit_record *e);
/* The session is going away: drop its waits unanswered. */
void	waiter_session_gone(struct session *);
/* Free every pending wait (exit). */
void	waiter_free_all(void);

#endif /* FORKD_WAITER_H */
