/* admit.h: connections per client uid, and room for a new connection. */
#ifndef FORKD_ADMIT_H
#define FORKD_ADMIT_H

#include <sys/types.h>

struct config_limits;

/* Count a connection of uid in (add > 0) or out (add < 0): in its
 * handshake (authed 0) or authenticated (authed 1). */
void	admit_count(uid_t uid, int authed, int add);
/* Connections of uid in their handshake, and authenticated. */
unsigned int admit_handshakes(uid_t uid);
unsigned int admit_authed(uid_t uid);
/* Closes the oldest connection of uid still in its handshake, saying why
 * in its log line; 0, or -ENOENT if it has none. */
typedef int admit_evict_fn(uid_t uid, const char *why);
/* A connection from uid was accepted: make room for it within lim (the
 * connections counted in, evicting handshakes with evict). 0 if it may
 * have a session, -EUSERS if not. */
int	admit_connection(uid_t uid, const struct config_limits *lim,
	    admit_evict_fn *evict);
/* Forget every record (shutdown). */
void	admit_free_all(void);

#endif /* FORKD_ADMIT_H */
