/* life.h: what one spawn needs at creation: clone flags, cgroup, pidfd. */
#ifndef FORKD_LIFE_H
#define FORKD_LIFE_H

#include <stddef.h>
#include <sys/types.h>

#include "clone.h"

struct cgroup_unit;
struct Forkd__SpawnRequest;

/* Made by life_prepare(), released by life_free(). */
struct life {
	struct clone_create	 l_create;
	struct cgroup_unit	*l_cgroup;
	int			 l_pidfd;
	int			 l_bypass_pool;	/* creation-time flags */
};

/* What the request's life options need of this host and of the peer (pid
 * peer): cgroup support, forkd's PID namespace for a pidfd. 0, or -errno
 * with a message for the client. */
int	life_check(pid_t peer, const struct Forkd__SpawnRequest *, char *msg,
	    size_t msglen);
/* Before the child is created: its cgroup and creation flags. 0 or -errno
 * with a message. */
int	life_prepare(const struct Forkd__SpawnRequest *, struct life *,
	    char *msg, size_t msglen);
/* The child exists: drop what only its creation needed. */
void	life_created(struct life *);
/* Hand the pidfd and the cgroup to the child record. */
void	life_take(struct life *, int *ret_pidfd,
	    struct cgroup_unit **ret_cgroup);
/* Release what it still holds (after a failure, or what was not taken). */
void	life_free(struct life *);

#endif /* FORKD_LIFE_H */
