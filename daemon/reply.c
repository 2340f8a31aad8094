/* reply.c: the answers forkd builds from its records: error, spawn and
 * wait Responses and ExitEvents. session.c seals and sends them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "forkd.pb-c.h"
#include "log.h"
#include "reply.h"
#include "session.h"
#include "spawn.h"

/* An error Response; logged at debug with the session prefix. */
void
reply_error(struct session *s, uint32_t id, int err, int step,
    const char *fmt, ...)
{
	Forkd__Response	resp = FORKD__RESPONSE__INIT;
	char		msg[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	resp.id = id;
	resp.error = err < 0 ? err : -EIO;
	resp.message = msg;
	resp.spawn_step = step;
	if (s != NULL)
		session_log(s, LOG_LVL_DEBUG, "request %u: error %d: %s", id,
		    resp.error, msg);
	session_reply(s, &resp);
}

/* A SpawnReply, with the child's pidfd when there is one. */
void
reply_spawn(struct session *s, uint32_t id, pid_t pid, const char *name,
    int pidfd, const char *cgroup)
{
	Forkd__Response		resp = FORKD__RESPONSE__INIT;
	Forkd__SpawnReply	sr = FORKD__SPAWN_REPLY__INIT;

	sr.pid = pid;
	sr.name = (char *)name;
	sr.pidfd = pidfd >= 0;
	if (cgroup != NULL)
		sr.cgroup = (char *)cgroup;
	resp.id = id;
	resp.body_case = FORKD__RESPONSE__BODY_SPAWN;
	resp.spawn = &sr;
	session_reply_fd(s, &resp, pidfd);
}

/* Fill an ExitInfo from a record; the strings stay owned by e. */
static void
reply_exit_info(const struct exit_record *e, Forkd__ExitInfo *xi,
    Forkd__Rusage *ru)
{
	xi->pid = e->e_pid;
	xi->name = (char *)e->e_name;
	xi->exitcode = e->e_exitcode;
	xi->timed_out = e->e_timed_out != 0;
	xi->oom_killed = e->e_oom_killed != 0;
	ru->utime_us = e->e_utime_us;
	ru->stime_us = e->e_stime_us;
	ru->maxrss_kb = e->e_maxrss_kb;
	xi->rusage = ru;
}

/* A WaitReply with the exit of e. */
void
reply_wait(struct session *s, uint32_t id, const struct exit_record *e)
{
	Forkd__Response	resp = FORKD__RESPONSE__INIT;
	Forkd__WaitReply wr = FORKD__WAIT_REPLY__INIT;
	Forkd__ExitInfo	xi = FORKD__EXIT_INFO__INIT;
	Forkd__Rusage	ru = FORKD__RUSAGE__INIT;

	reply_exit_info(e, &xi, &ru);
	wr.exit = &xi;
	resp.id = id;
	resp.body_case = FORKD__RESPONSE__BODY_WAIT;
	resp.wait = &wr;
	session_reply(s, &resp);
}

/* An ExitEvent for e. */
void
reply_exit_event(struct session *s, const struct exit_record *e)
{
	Forkd__ExitEvent	ev = FORKD__EXIT_EVENT__INIT;
	Forkd__ExitInfo		xi = FORKD__EXIT_INFO__INIT;
	Forkd__Rusage		ru = FORKD__RUSAGE__INIT;

	reply_exit_info(e, &xi, &ru);
	ev.exit = &xi;
	session_push_exit(s, &ev);
}
