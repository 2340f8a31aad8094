/* validate.h: every check of a SpawnRequest that needs nothing but the
 * request, the configuration and who asks (no registry, no kernel, no
 * clock), as one pure function. What depends on the daemon's state (child
 * counts, names in use, the policy's target and environment rules, the
 * spawn rate, cgroup support, the peer's PID namespace) stays in spawn.c. */
#ifndef FORKD_VALIDATE_H
#define FORKD_VALIDATE_H

#include <stddef.h>
#include <sys/types.h>

#include "forkd.pb-c.h"

struct config_limits;
struct config_policy;

/* Who asks, and under which configuration. */
struct validate_ctx {
	const struct config_limits	*vc_limits;
	const struct config_policy	*vc_policy;
	uid_t				 vc_uid;	/* the client's */
	int				 vc_root;	/* forkd runs as root */
	size_t				 vc_nfds;	/* fds that came with it */
};

/* Check r: 0, or -errno with a message for the client in msg (msglen
 * bytes, client strings escaped). *ret_refusal is set to 1 when the policy
 * refused (the caller logs it, rate-limited), to 0 otherwise. */
int	validate_spawn(const Forkd__SpawnRequest *r,
	    const struct validate_ctx *ctx, char *msg, size_t msglen,
	    int *ret_refusal);

#endif /* FORKD_VALIDATE_H */
