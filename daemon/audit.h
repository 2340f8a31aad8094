/* audit.h: the audit line of a started child. */
#ifndef FORKD_AUDIT_H
#define FORKD_AUDIT_H

#include <sys/types.h>

struct session;

/* Log that s's request started child pid (name) running target (exec_path
 * when it is an executable, else NULL), and the policy rule that allowed
 * it: at info, and under journald with FORKD_* fields. */
void	audit_spawn(const struct session *s, pid_t pid, const char *name,
	    const char *target, const char *exec_path);

#endif /* FORKD_AUDIT_H */
