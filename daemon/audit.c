/* audit.c: the audit line of every started child (issue 16 item 16):
 * who asked, what runs and which policy rule allowed it, at info, and
 * under journald as structured fields. Client strings are escaped. */
#include <string.h>
#include <sys/types.h>

#include <systemd/sd-journal.h>

#include "audit.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "session.h"

/* The audit line of a started child, at info: who asked (client uid and
 * pid), what runs (child pid and name, target) and which policy rule let
 * it. Under journald also as fields FORKD_TARGET=, FORKD_CLIENT_UID=,
 * FORKD_CLIENT_PID=, FORKD_CHILD_PID=, FORKD_CHILD_NAME=, FORKD_RULE=. */
void
audit_spawn(const struct session *s, pid_t pid, const char *name,
    const char *target, const char *exec_path)
{
	char	etarget[256], erule[320];

	if (LOG_LVL_INFO > log_get_level())
		return;
	log_escape(etarget, sizeof etarget, target, strlen(target));
	policy_allowed_by(&server_config_get()->policy, target, exec_path,
	    erule, sizeof erule);
	if (log_is_journald() && sd_journal_send("MESSAGE=session %llu (uid "
	    "%u pid %d): spawned child %d (%s): %s, allowed by %s",
	    (unsigned long long)s->s_id, (unsigned)s->s_uid, (int)s->s_pid,
	    (int)pid, name, etarget, erule, "PRIORITY=%d", LOG_LVL_INFO,
	    "SYSLOG_IDENTIFIER=forkd", "FORKD_TARGET=%s", etarget,
	    "FORKD_CLIENT_UID=%u", (unsigned)s->s_uid, "FORKD_CLIENT_PID=%d",
	    (int)s->s_pid, "FORKD_CHILD_PID=%d", (int)pid,
	    "FORKD_CHILD_NAME=%s", name, "FORKD_RULE=%s", erule, NULL) >= 0)
		return;
	session_log(s, LOG_LVL_INFO, "spawned child %d (%s): %s, allowed by "
	    "%s", (int)pid, name, etarget, erule);
}
