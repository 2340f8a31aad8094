/* cmd-wait.c: forkctl wait: wait for children to end. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forkctl.h"
#include "parse.h"

/* forkd_wait_any() takes at most this many children (LIMIT_WAIT_MAX). */
#define CMD_WAIT_ANY_MAX	64

static const struct option cmd_wait_longopts[] = {
	{ "timeout",	required_argument,	NULL,	't' },
	{ "any",	no_argument,		NULL,	'a' },
	{ NULL,		0,			NULL,	0 }
};

/* Report one ended child. */
static void
cmd_wait_report(struct forkctl *fc, struct json *j,
    const struct forkd_exit *ex)
{
	if (fc->fc_json) {
		json_exit(j, ex);
		return;
	}
	printf("%ld ", (long)ex->pid);
	forkctl_puts_safe(ex->name, stdout);
	printf(" %d%s\n", ex->exitcode, forkctl_exit_note(ex));
	fflush(stdout);
}

/* Milliseconds left until deadline (-1: none). */
static int
cmd_wait_left(int64_t deadline)
{
	int64_t	left;

	if (deadline < 0)
		return FORKD_INFINITE;
	left = deadline - forkctl_now_ms(0);
	return left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait for every child in turn. */
static int
cmd_wait_all(struct forkctl *fc, struct args *a, struct json *j,
    int64_t deadline)
{
	struct forkd_exit	 ex;
	const char		*name;
	pid_t			 pid;
	int			 r, status = FORKCTL_EXIT_OK;

	for (int i = 0; i < a->a_argc; i++) {
		forkctl_parse_child(a->a_argv[i], &pid, &name);
		r = forkd_wait(fc->fc_conn, pid, name, cmd_wait_left(deadline),
		    &ex);
		if (r == 0) {
			cmd_wait_report(fc, j, &ex);
			continue;
		}
		forkctl_error(fc, r, "wait %s", a->a_argv[i]);
		if (r == -ETIMEDOUT)
			return FORKCTL_EXIT_TIMEOUT;
		status = FORKCTL_EXIT_ERROR;
		if (r == -ECONNRESET)
			break;
	}
	return status;
}

/* Wait for the first of the children to end. Names go to forkd as
 * names, so that it resolves them as for any other request (the caller's
 * own child first; for root, several other uids' is an error). */
static int
cmd_wait_any(struct forkctl *fc, struct args *a, struct json *j,
    int64_t deadline)
{
	struct forkd_exit	 ex;
	const char		*names[CMD_WAIT_ANY_MAX];
	pid_t			 pids[CMD_WAIT_ANY_MAX];
	int			 r;

	for (int i = 0; i < a->a_argc; i++)
		forkctl_parse_child(a->a_argv[i], &pids[i], &names[i]);
	r = forkd_wait_refs(fc->fc_conn, pids, names, (size_t)a->a_argc,
	    cmd_wait_left(deadline), &ex);
	if (r == 0) {
		cmd_wait_report(fc, j, &ex);
		return FORKCTL_EXIT_OK;
	}
	forkctl_error(fc, r, "wait");
	return r == -ETIMEDOUT ? FORKCTL_EXIT_TIMEOUT : FORKCTL_EXIT_ERROR;
}

/* No names: wait for the first of the caller's own running children to
 * end (bash's wait -n), the oldest CMD_WAIT_ANY_MAX of them. A child that
 * ends between the list and the wait is reported from forkd's history. */
static int
cmd_wait_mine(struct forkctl *fc, struct json *j, int64_t deadline)
{
	struct forkd_child	*v = NULL;
	struct forkd_exit	 ex;
	pid_t			 pids[CMD_WAIT_ANY_MAX];
	size_t			 n = 0, k = 0;
	uid_t			 me = getuid();
	int			 r;

	r = forkd_list(fc->fc_conn, &v, &n);
	if (r < 0)
		return forkctl_error(fc, r, "wait: list the children");
	for (size_t i = 0; i < n && k < CMD_WAIT_ANY_MAX; i++) {
		if (v[i].owner_uid == me)
			pids[k++] = v[i].pid;
	}
	free(v);
	if (k == 0)
		return forkctl_fail(FORKCTL_EXIT_ERROR, -ECHILD, "wait: uid "
		    "%u has no running children to wait for", (unsigned)me);
	r = forkd_wait_any(fc->fc_conn, pids, k, cmd_wait_left(deadline), &ex);
	if (r == 0) {
		cmd_wait_report(fc, j, &ex);
		return FORKCTL_EXIT_OK;
	}
	forkctl_error(fc, r, "wait");
	return r == -ETIMEDOUT ? FORKCTL_EXIT_TIMEOUT : FORKCTL_EXIT_ERROR;
}

/* forkctl wait [--timeout DURATION] [--any] PID|NAME... */
static int
cmd_wait_exec(struct forkctl *fc, struct args *a)
{
	const char	*tspec = args_get(a, 't'), *name;
	struct json	 j;
	int64_t		 deadline = -1;
	uint64_t	 ms;
	char		 err[PARSE_ERR_MAX];
	pid_t		 pid;
	int		 status;

	/* The same durations as spawn --timeout (a bare number is seconds),
	 * 0 included: it only checks. */
	if (tspec != NULL) {
		if (parse_duration_ms(tspec, INT_MAX, &ms, err,
		    sizeof err) < 0)
			return forkctl_usage_error(fc->fc_cmd, "--timeout: %s",
			    err);
		deadline = forkctl_now_ms(0) + (int64_t)ms;
	}
	for (int i = 0; i < a->a_argc; i++) {
		if (forkctl_parse_child(a->a_argv[i], &pid, &name) < 0)
			return forkctl_usage_error(fc->fc_cmd,
			    "'%s' is neither a pid nor a child name",
			    a->a_argv[i]);
	}
	if (args_has(a, 'a') && a->a_argc > CMD_WAIT_ANY_MAX)
		return forkctl_usage_error(fc->fc_cmd, "--any takes at most "
		    "%d children", CMD_WAIT_ANY_MAX);

	if ((status = forkctl_connect(fc)) != 0)
		return status;
	if (fc->fc_json) {
		forkctl_json_error_defer();
		json_init(&j, stdout);
		json_arr_begin(&j);
	}
	if (a->a_argc == 0)
		status = cmd_wait_mine(fc, &j, deadline);
	else if (args_has(a, 'a'))
		status = cmd_wait_any(fc, a, &j, deadline);
	else
		status = cmd_wait_all(fc, a, &j, deadline);
	if (fc->fc_json) {
		json_arr_end(&j);
		json_finish(&j);
		/* An error record follows the array, on a line of its own. */
		forkctl_json_error_flush();
	}
	return status;
}

const struct forkctl_cmd cmd_wait_entry = {
	.name = "wait",
	.usage = "[-t|--timeout DURATION] [-a|--any] [PID|NAME...]",
	.lower = 0,
	.upper = -1,
	.shortopts = "t:a",
	.longopts = cmd_wait_longopts,
	.summary = "Wait for children to end",
	.help =
"Wait until each child, given by pid (all digits) or by name, has ended,\n"
"and print \"PID NAME EXITCODE\" for each as it ends. EXITCODE is the\n"
"child's exit status, or -N if signal N killed it; \" (timed out)\" follows\n"
"when forkd killed it at its spawn --timeout, \" (OOM-killed)\" when its\n"
"cgroup's memory limit did. A child that ended\n"
"before the wait started is still reported while forkd remembers it (its\n"
"last 1024 exits). Any child may be waited for, not only those this\n"
"forkctl spawned; a user other than root only for its own uid's.\n"
"\n"
"Without PID|NAME, wait for the first of the caller's own running\n"
"children (those of forkctl's uid, whoever spawned them; at most the 64\n"
"oldest) to end and report that one, like bash's 'wait -n'. With no\n"
"running child that is an error (exit status 125).\n"
"\n"
"The exit status is 0 when every child was reported (whatever their exit\n"
"codes), 124 when the timeout ran out first, and 125 if a child is\n"
"unknown or another error happened.\n"
"\n"
"Options:\n"
"  -t, --timeout DURATION\n"
"                         Give up after DURATION in all: 500ms, 2.5s, 1m,\n"
"                         1h; a bare number is seconds, fractions allowed;\n"
"                         0 only checks. Default: no limit.\n"
"  -a, --any              Return when the first of the children ends and\n"
"                         report only that one (at most 64 children).\n"
"\n"
"With --json: an array of {pid, name, exitcode, signal, utime_us,\n"
"stime_us, maxrss_kb, timed_out, oom_killed} objects, one per child that\n"
"ended.\n"
"\n"
"Examples:\n"
"  forkctl wait worker-1 worker-2\n"
"  forkctl wait --timeout 2.5 12345 || echo \"still running\"\n"
"  forkctl wait --any job-a job-b job-c\n"
"  forkctl wait            # the first of my children to end\n",
	.exec = cmd_wait_exec,
};
