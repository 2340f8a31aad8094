/* reply.h: the answers forkd builds from its records: error, spawn and
 * wait Responses and ExitEvents, sent with session_reply*(). */
#ifndef FORKD_REPLY_H
#define FORKD_REPLY_H

#include <stdint.h>
#include <sys/types.h>

struct session;
struct exit_record;

/* An error Response (err: -errno; anything else is sent as -EIO) with
 * the spawn step that failed (0: none); errmsg is printf-style. */
void	reply_error(struct session *, uint32_t id, int err, int step,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A SpawnReply. pidfd (>= 0) goes with it and is consumed either way;
 * cgroup is the child's cgroup path or NULL. */
void	reply_spawn(struct session *, uint32_t id, pid_t pid,
	    const char *name, int pidfd, const char *cgroup);
/* A WaitReply with the exit of e. */
void	reply_wait(struct session *, uint32_t id, const struct exit_record *);
/* An ExitEvent for e, pushed to the session that owned the child. */
void	reply_exit_event(struct session *, const struct exit_record *);

#endif /* FORKD_REPLY_H */
